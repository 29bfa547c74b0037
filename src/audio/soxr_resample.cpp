// librosa.audio.resample(..., res_type="soxr_hq", scale=True) via libsoxr (python-soxr's
// soxr.resample(x, in_rate=factor, out_rate=1, quality="soxr_hq")).
#include "audio/soxr_resample.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>

#include "musefm/error.h"

namespace musefm::features_detail {

namespace {
// python-soxr's soxr.resample(x, in_rate, out_rate, quality="soxr_hq") on a mono float32 signal,
// then librosa's util.fix_length(y_hat, size=target): cut, or zero-padded at the end.
std::vector<float> soxr_hq(const float* samples, int64_t n, double in_rate, double out_rate,
                           int64_t target) {
  MUSEFM_CHECK(n >= 0, "soxr resample: negative length ", n);
  MUSEFM_CHECK(in_rate > 0 && out_rate > 0, "soxr resample: rates must be positive, got ", in_rate,
               " -> ", out_rate);
  // python-soxr's output buffer: ilen * out_rate / in_rate + 1 samples.
  std::vector<float> out(size_t(double(n) * out_rate / in_rate + 1.0), 0.0f);
  size_t done = 0;
  if (n > 0) {
    // python-soxr: io spec float32 (split channels == interleaved for mono), HQ recipe with
    // no flags, default runtime spec (one thread). A single oneshot call gives the same
    // samples as its chunked streaming loop.
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, samples, size_t(n), nullptr,
                                          out.data(), out.size(), &done, &io, &quality, nullptr);
    MUSEFM_CHECK(err == nullptr, "soxr resample: libsoxr failed: ", err);
  }
  std::fill(out.begin() + int64_t(std::min<size_t>(done, out.size())), out.end(), 0.0f);
  out.resize(size_t(target), 0.0f);
  return out;
}
}  // namespace

std::vector<float> soxr_downsample(const float* samples, int64_t n, int factor) {
  MUSEFM_CHECK(factor >= 1, "soxr_downsample: factor must be >= 1, got ", factor);
  // librosa: int(np.ceil(n * ratio)).
  std::vector<float> out = soxr_hq(samples, n, double(factor), 1.0, (n + factor - 1) / factor);
  // scale=True: y_hat /= np.sqrt(ratio) (a float64 scalar: computed in double, stored float32).
  const double root = std::sqrt(1.0 / double(factor));
  for (float& v : out) v = float(double(v) / root);
  return out;
}

std::vector<float> soxr_resample(const float* samples, int64_t n, int from_rate, int to_rate) {
  MUSEFM_CHECK(from_rate > 0 && to_rate > 0, "soxr_resample: rates must be positive, got ",
               from_rate, " -> ", to_rate);
  if (from_rate == to_rate) return std::vector<float>(samples, samples + n);
  // librosa: ratio = float(target_sr) / orig_sr; n_samples = int(np.ceil(n * ratio)).
  const double ratio = double(to_rate) / double(from_rate);
  return soxr_hq(samples, n, double(from_rate), double(to_rate),
                 int64_t(std::ceil(double(n) * ratio)));
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
