// librosa.audio.resample(..., res_type="soxr_hq", scale=True) via libsoxr (python-soxr's
// soxr.resample(x, in_rate=factor, out_rate=1, quality="soxr_hq")).
#include "features/soxr_resample.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>

#include "musefm/error.h"

namespace musefm::features_detail {

std::vector<float> soxr_downsample(const float* samples, int64_t n, int factor) {
  MUSEFM_CHECK(factor >= 1, "soxr_downsample: factor must be >= 1, got ", factor);
  MUSEFM_CHECK(n >= 0, "soxr_downsample: negative length ", n);
  const int64_t target = (n + factor - 1) / factor;      // librosa: int(np.ceil(n * ratio))
  std::vector<float> out(size_t(n / factor + 1), 0.0f);  // python-soxr: ilen * out / in + 1
  size_t done = 0;
  if (n > 0) {
    // python-soxr: io spec float32 (split channels == interleaved for mono), HQ recipe with
    // no flags, default runtime spec (one thread). A single oneshot call gives the same
    // samples as its chunked streaming loop.
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_error_t err = soxr_oneshot(double(factor), 1.0, 1, samples, size_t(n), nullptr,
                                          out.data(), out.size(), &done, &io, &quality, nullptr);
    MUSEFM_CHECK(err == nullptr, "soxr_downsample: libsoxr failed: ", err);
  }
  // util.fix_length(y_hat, size=target): truncate, or zero-pad at the end.
  std::fill(out.begin() + int64_t(std::min<size_t>(done, out.size())), out.end(), 0.0f);
  out.resize(size_t(target), 0.0f);
  // scale=True: y_hat /= np.sqrt(ratio) (a float64 scalar: computed in double, stored float32).
  const double root = std::sqrt(1.0 / double(factor));
  for (float& v : out) v = float(double(v) / root);
  return out;
}

at::Tensor soxr_downsample(const at::Tensor& batch, int factor) {
  MUSEFM_CHECK(batch.dim() == 2 && batch.scalar_type() == at::kFloat && batch.device().is_cpu(),
               "soxr_downsample: expected a [B, L] float32 CPU tensor");
  const at::Tensor x = batch.contiguous();
  const int64_t rows = x.size(0), n = x.size(1), target = (n + factor - 1) / factor;
  at::Tensor out = at::empty({rows, target}, x.options());
  const float* in = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const std::vector<float> y = soxr_downsample(in + b * n, n, factor);
      std::copy(y.begin(), y.end(), dst + b * target);
    }
  });
  return out;
}

}  // namespace musefm::features_detail
