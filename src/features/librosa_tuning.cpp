// librosa.estimate_tuning (librosa 0.11): piptrack on a |STFT| followed by pitch_tuning's
// histogram of residuals. Arithmetic follows librosa's dtypes (the magnitudes and pitches are
// float32 for float32 audio) so that each pitch lands in the same 0.01-wide histogram bin.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "core/tensor_util.h"
#include "musefm/features.h"

namespace musefm {
namespace {
constexpr double kPi = 3.14159265358979323846;

// scipy.signal.get_window("hann", n, fftbins=True): general_cosine over
// np.linspace(-pi, pi, n + 1), last point dropped.
std::vector<double> scipy_hann_periodic(int64_t n) {
  std::vector<double> w(static_cast<size_t>(n));
  const double step = (kPi - -kPi) / double(n);
  for (int64_t k = 0; k < n; ++k) w[size_t(k)] = 0.5 + 0.5 * std::cos(double(k) * step + -kPi);
  return w;
}

// librosa.stft(y, n_fft, hop, window="hann", center=True, pad_mode="constant") magnitudes:
// the float64 FFT stored as complex64, then np.abs (hypotf). Returns [T, F] row-major float
// (time-major, so piptrack's scan over frequency reads contiguous memory).
std::vector<float> stft_magnitude(const at::Tensor& y, int64_t n_fft, int64_t hop, int64_t& n_freq,
                                  int64_t& n_frames) {
  const std::vector<double> w = scipy_hann_periodic(n_fft);
  const at::Tensor window =
      at::from_blob(const_cast<double*>(w.data()), {n_fft}, at::kDouble).clone();
  const at::Tensor spec =
      at::stft(y, n_fft, hop, n_fft, window, /*center=*/true, "constant", /*normalized=*/false,
               /*onesided=*/true, /*return_complex=*/true)
          .to(at::kComplexFloat)
          .t()
          .contiguous();
  n_frames = spec.size(0);
  n_freq = spec.size(1);
  const auto* c = spec.data_ptr<c10::complex<float>>();
  std::vector<float> mag(size_t(n_freq * n_frames));
  for (size_t i = 0; i < mag.size(); ++i) mag[i] = std::hypot(c[i].real(), c[i].imag());
  return mag;
}

// librosa.core.pitch._pi_stencil, as numba compiles it for float32 input: x[1] + x[-1] is a
// float32 sum, but `2 * x[0]` and `/ 2` promote to float64; the shift is stored as float32.
float parabolic_shift(float prev, float cur, float next) {
  const double a = double(next + prev) - 2.0 * double(cur);
  const double b = double(next - prev) / 2.0;
  if (std::abs(b) >= std::abs(a)) return 0.0f;
  return float(-b / a);
}

// librosa.pitch_tuning(frequencies, resolution=0.01, bins_per_octave) for float32 pitches.
double pitch_tuning(const std::vector<float>& frequencies, int bins_per_octave) {
  const double resolution = 0.01;
  const int n_bins = int(std::ceil(1.0 / resolution));
  // np.linspace(-0.5, 0.5, n_bins + 1): i * step + start, the last edge exactly 0.5.
  std::vector<double> edges(size_t(n_bins) + 1);
  const double step = 1.0 / double(n_bins);
  for (int i = 0; i <= n_bins; ++i) edges[size_t(i)] = double(i) * step + -0.5;
  edges.back() = 0.5;
  std::vector<int64_t> counts(size_t(n_bins), 0);
  bool any = false;
  for (float f : frequencies) {
    if (!(f > 0.0f)) continue;
    any = true;
    // hz_to_octs: log2(f / (440 / 16)) in float32; bins_per_octave * octs and np.mod in float32.
    const float octs = std::log2(f / 27.5f);
    float residual = std::fmod(float(bins_per_octave) * octs, 1.0f);
    if (residual < 0.0f) residual += 1.0f;
    if (residual >= 0.5f) residual -= 1.0f;
    // np.histogram with explicit edges: [e_i, e_{i+1}), the last bin closed.
    const double r = residual;
    if (r < edges.front() || r > edges.back()) continue;
    int64_t i = std::upper_bound(edges.begin(), edges.end(), r) - edges.begin() - 1;
    if (i == n_bins) i = n_bins - 1;
    ++counts[size_t(i)];
  }
  if (!any) return 0.0;  // librosa warns "Trying to estimate tuning from empty frequency set."
  const auto best = std::max_element(counts.begin(), counts.end()) - counts.begin();
  return edges[size_t(best)];  // left edge of the first fullest bin
}
}  // namespace

double estimate_tuning(const at::Tensor& waveform, int sample_rate, int bins_per_octave) {
  MUSEFM_CHECK(sample_rate > 0, "estimate_tuning: sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(bins_per_octave > 0, "estimate_tuning: bins_per_octave must be positive, got ",
               bins_per_octave);
  bool unbatched = false;
  at::Tensor x = detail::as_batch(waveform, "estimate_tuning", unbatched);
  MUSEFM_CHECK(unbatched, "estimate_tuning: waveform must be 1-D [samples], got ", waveform.dim(),
               " dims");
  // librosa frames float32 audio, multiplies by the float64 window and takes a float64 FFT.
  x = x.squeeze(0).to(at::kCPU).to(at::kFloat).to(at::kDouble).contiguous();

  // ---- librosa.piptrack(y, sr, n_fft=2048): hop 512, fmin 150, fmax 4000, threshold 0.1 ----
  const int64_t n_fft = 2048, hop = n_fft / 4;
  int64_t F = 0, T = 0;
  const std::vector<float> S = stft_magnitude(x, n_fft, hop, F, T);
  auto s = [&](int64_t k, int64_t t) { return S[size_t(t * F + k)]; };
  const double sr = sample_rate;
  const double fmin = 150.0, fmax = std::min(4000.0, sr / 2.0);
  const double bin_hz = 1.0 / (double(n_fft) * (1.0 / sr));  // np.fft.rfftfreq(n_fft, 1 / sr)

  std::vector<float> frame_max(size_t(T), 0.0f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < F; ++k) frame_max[size_t(t)] = std::max(frame_max[size_t(t)], s(k, t));

  std::vector<float> pitches, mags;  // at the (freq, time) peaks only; zero elsewhere
  for (int64_t t = 0; t < T; ++t) {
    const float ref = 0.1f * frame_max[size_t(t)];  // threshold * np.max(S), float32
    auto gated = [&](int64_t k) { return s(k, t) > ref ? s(k, t) : 0.0f; };
    for (int64_t k = 1; k < F; ++k) {
      const double hz = double(k) * bin_hz;
      if (!(fmin <= hz && hz < fmax)) continue;
      // util.localmax on S * (S > ref) with edge padding: x[k] > x[k-1] and x[k] >= x[k+1].
      const float here = gated(k);
      if (!(here > gated(k - 1) && (k + 1 == F || here >= gated(k + 1)))) continue;
      // _parabolic_interpolation (0 at both ends) and np.gradient (one-sided at the ends).
      const bool interior = k + 1 < F;
      const float shift = interior ? parabolic_shift(s(k - 1, t), s(k, t), s(k + 1, t)) : 0.0f;
      const float avg = interior ? (s(k + 1, t) - s(k - 1, t)) / 2.0f : s(k, t) - s(k - 1, t);
      const float dskew = (0.5f * avg) * shift;
      // (idx + shift) * float(sr) / n_fft is float64 (int64 + float32), stored as float32.
      pitches.push_back(float((double(k) + double(shift)) * sr / double(n_fft)));
      mags.push_back(s(k, t) + dskew);
    }
  }

  // ---- estimate_tuning: keep pitches whose magnitude reaches the median over pitch > 0 ----
  std::vector<float> voiced;
  for (size_t i = 0; i < pitches.size(); ++i)
    if (pitches[i] > 0.0f) voiced.push_back(mags[i]);
  float threshold = 0.0f;
  if (!voiced.empty()) {
    // np.median of float32: the middle value, or the float32 mean of the two middle values.
    const size_t mid = voiced.size() / 2;
    std::nth_element(voiced.begin(), voiced.begin() + int64_t(mid), voiced.end());
    threshold = voiced[mid];
    if (voiced.size() % 2 == 0) {
      const float lower = *std::max_element(voiced.begin(), voiced.begin() + int64_t(mid));
      threshold = (lower + threshold) / 2.0f;
    }
  }
  std::vector<float> selected;
  for (size_t i = 0; i < pitches.size(); ++i)
    if (pitches[i] > 0.0f && mags[i] >= threshold) selected.push_back(pitches[i]);
  return pitch_tuning(selected, bins_per_octave);
}

}  // namespace musefm
