// bench_gpu_attention: the musefm CUDA flash kernels vs at::scaled_dot_product_attention on the
// GPU, B=1, H=12, D=64, T in {375, 750, 2250, 4500}, forward and backward, bf16 and fp16
// (CUDA events, median of 20 after 3 warm-ups). Run by benchmarks/gpu_attention.sh.
#include <cuda_runtime.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/ATen.h>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "cuda/flash_attention_cuda.h"

namespace {
double median_ms(const std::function<void()>& f) {
  for (int i = 0; i < 3; ++i) f();
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ms;
  for (int i = 0; i < 20; ++i) {
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
}  // namespace

int main() {
  using musefm::kernels::CudaDType;
  std::printf(
      "| dtype | T | fwd musefm ms | fwd sdpa ms | ratio | bwd musefm ms | fwd+bwd sdpa ms |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (auto [dtype, cuda, name] : {std::tuple{at::kBFloat16, CudaDType::BF16, "bf16"},
                                   std::tuple{at::kHalf, CudaDType::F16, "fp16"}}) {
    for (int64_t T : {375, 750, 2250, 4500}) {
      const int64_t B = 1, H = 12, D = 64;
      const auto make = [&] {
        return at::randn({B, H, T, D}, at::TensorOptions(at::kCUDA).dtype(dtype));
      };
      const at::Tensor q = make(), k = make(), v = make(), g = make();
      at::Tensor o = at::empty_like(q), lse = at::empty({B, H, T}, q.options().dtype(at::kFloat));
      at::Tensor delta = at::empty_like(lse), dq = at::empty_like(q), dk = at::empty_like(k),
                 dv = at::empty_like(v);
      musefm::kernels::cuda_tile::Params p;
      p.B = int(B), p.H = int(H), p.Tq = p.Tk = int(T);
      p.q = q.data_ptr(), p.k = k.data_ptr(), p.v = v.data_ptr(), p.o = o.data_ptr();
      p.lse = lse.data_ptr<float>();
      p.scale = 0.125f;
      p.dout = g.data_ptr(), p.delta = delta.data_ptr<float>();
      p.dq = dq.data_ptr(), p.dk = dk.data_ptr(), p.dv = dv.data_ptr();
      const double fwd =
          median_ms([&] { musefm::kernels::flash_attention_forward_cuda(p, cuda, 64, nullptr); });
      const double bwd =
          median_ms([&] { musefm::kernels::flash_attention_backward_cuda(p, cuda, 64, nullptr); });
      const double sdpa = median_ms([&] { (void)at::scaled_dot_product_attention(q, k, v); });
      std::vector<at::Tensor> in{q.clone().requires_grad_(), k.clone().requires_grad_(),
                                 v.clone().requires_grad_()};
      const double sdpa_fb = median_ms([&] {
        const at::Tensor out = at::scaled_dot_product_attention(in[0], in[1], in[2]);
        (void)torch::autograd::grad({out}, in, {g});
      });
      std::printf("| %s | %lld | %.3f | %.3f | %.2fx | %.3f | %.3f |\n", name, (long long)T, fwd,
                  sdpa, sdpa / fwd, bwd, sdpa_fb);
    }
  }
  return 0;
}
