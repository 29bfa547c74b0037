#include "model/fft_conv.h"

#include <ATen/ATen.h>

#include "musefm/error.h"

namespace musefm::model_detail {

at::Tensor conv1d_fft(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                      int64_t padding, int64_t groups) {
  MUSEFM_CHECK(x.dim() == 3 && weight.dim() == 3 && groups > 0, "conv1d_fft: x [B, C, T] and ",
               "weight [C_out, C_in / groups, K] expected");
  const int64_t B = x.size(0), C_in = x.size(1), C_out = weight.size(0), K = weight.size(2);
  MUSEFM_CHECK(C_in % groups == 0 && C_out % groups == 0 && weight.size(1) == C_in / groups,
               "conv1d_fft: weight ", weight.sizes(), " does not fit ", C_in, " input channels in ",
               groups, " groups");
  const int64_t G = groups, ci = C_in / G, co = C_out / G;
  const int64_t T_out = x.size(2) + 2 * padding - K + 1;
  MUSEFM_CHECK(T_out > 0, "conv1d_fft: input of ", x.size(2), " frames is shorter than the kernel");
  // Overlap-save: blocks of N samples (N a power of two >= 2K) overlapping by K - 1; the last
  // N - K + 1 samples of each block's circular correlation are valid outputs.
  int64_t N = 1;
  while (N < 2 * K) N *= 2;
  const int64_t L = N - K + 1, blocks = (T_out + L - 1) / L, bins = N / 2 + 1;
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor padded =
      at::constant_pad_nd(xf, {padding, blocks * L + K - 1 - x.size(2) - padding});
  // [B, G, bins, blocks, ci] x [G, bins, ci, co]: one small complex GEMM per group and bin.
  const at::Tensor X = at::fft_rfft(padded.unfold(2, N, L), N)  // [B, C_in, blocks, bins]
                           .view({B, G, ci, blocks, bins})
                           .permute({0, 1, 4, 3, 2});
  // Cross-correlation = convolution with the reversed kernel.
  const at::Tensor Wf = at::fft_rfft(weight.to(at::kFloat).flip(-1), N)  // [C_out, ci, bins]
                            .view({G, co, ci, bins})
                            .permute({0, 3, 2, 1});
  const at::Tensor Y = at::matmul(X, Wf)              // [B, G, bins, blocks, co]
                           .permute({0, 1, 4, 3, 2})  // [B, G, co, blocks, bins]
                           .reshape({B, C_out, blocks, bins});
  at::Tensor y =
      at::fft_irfft(Y, N).narrow(3, K - 1, L).reshape({B, C_out, blocks * L}).narrow(2, 0, T_out);
  if (bias.defined()) y = y + bias.to(at::kFloat).view({1, C_out, 1});
  return y.to(x.scalar_type());
}

}  // namespace musefm::model_detail
