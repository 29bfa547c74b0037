// Mel spectrogram matching torchaudio.transforms.MelSpectrogram (+ AmplitudeToDB).
#include <ATen/ATen.h>

#include <cmath>

#include "core/tensor_util.h"
#include "features/filterbanks.h"
#include "musefm/features.h"

namespace musefm {
using namespace features_detail;
using namespace detail;

namespace {
// torchaudio.functional.melscale_fbanks evaluated the way torchaudio does it: scalar mel
// conversions in double, everything else in float32 tensors. (The double-precision design in
// filterbanks.cpp differs by ~1e-7, which moves weak mel bands by up to 1e-5 relative.)
at::Tensor torchaudio_mel_filterbank(int n_freqs, double f_min, double f_max, int n_mels,
                                     int sample_rate, MelNorm norm, MelScale scale) {
  const at::Tensor all_freqs = at::linspace(0, sample_rate / 2, n_freqs, at::kFloat);
  const at::Tensor m_pts =
      at::linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2, at::kFloat);
  at::Tensor f_pts;
  if (scale == MelScale::Htk) {
    f_pts = 700.0 * (at::pow(10.0, m_pts / 2595.0) - 1.0);
  } else {  // Slaney: linear below 1 kHz (15 mel), logarithmic above
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = std::log(6.4) / 27.0;
    f_pts = at::where(m_pts >= min_log_mel, min_log_hz * at::exp(logstep * (m_pts - min_log_mel)),
                      f_sp * m_pts);
  }
  const at::Tensor f_diff = f_pts.narrow(0, 1, n_mels + 1) - f_pts.narrow(0, 0, n_mels + 1);
  const at::Tensor slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1);  // [n_freqs, n_mels+2]
  const at::Tensor down = (-1.0 * slopes.narrow(1, 0, n_mels)) / f_diff.narrow(0, 0, n_mels);
  const at::Tensor up = slopes.narrow(1, 2, n_mels) / f_diff.narrow(0, 1, n_mels);
  at::Tensor fb = at::clamp_min(at::min(down, up), 0.0);
  if (norm == MelNorm::Slaney)
    fb = fb * (2.0 / (f_pts.narrow(0, 2, n_mels) - f_pts.narrow(0, 0, n_mels))).unsqueeze(0);
  return fb.contiguous();
}
}  // namespace

MelSpectrogram::MelSpectrogram(MelConfig config) : config_(std::move(config)) {
  config_.validate();
  const double f_max = config_.f_max > 0 ? config_.f_max : config_.sample_rate / 2.0;
  fbank_ = torchaudio_mel_filterbank(config_.n_fft / 2 + 1, config_.f_min, f_max, config_.n_mels,
                                     config_.sample_rate, config_.norm, config_.mel_scale);
  const int win = config_.win_length > 0 ? config_.win_length : config_.n_fft;
  window_ = at::hann_window(win, /*periodic=*/true, at::kFloat);  // bit-identical to torchaudio
}

int64_t MelSpectrogram::num_frames(int64_t n) const {
  int64_t t = config_.center
                  ? n / config_.hop_length + 1
                  : (n >= config_.n_fft ? (n - config_.n_fft) / config_.hop_length + 1 : 0);
  if (config_.drop_last_frame) t = std::max<int64_t>(0, t - 1);
  return t;
}

at::Tensor MelSpectrogram::operator()(const at::Tensor& waveform) const {
  bool unbatched = false;
  at::Tensor x = as_batch(waveform, "MelSpectrogram", unbatched);
  const auto& c = config_;
  if (c.center && c.pad_mode == PadMode::Reflect) {
    MUSEFM_CHECK(x.size(1) > c.n_fft / 2, "MelSpectrogram: reflect padding needs more than ",
                 c.n_fft / 2, " samples, got ", x.size(1));
  } else if (!c.center) {
    MUSEFM_CHECK(x.size(1) >= c.n_fft, "MelSpectrogram: need at least n_fft=", c.n_fft,
                 " samples without centring, got ", x.size(1));
  }
  const int win = c.win_length > 0 ? c.win_length : c.n_fft;
  const auto opts = x.options();
  at::Tensor spec =
      at::stft(x, c.n_fft, c.hop_length, win, window_.to(opts), c.center, to_string(c.pad_mode),
               /*normalized=*/false, /*onesided=*/true,
               /*return_complex=*/true);
  if (c.power == 2.0) {
    spec = at::real(spec).square() + at::imag(spec).square();  // |z|^2 without a sqrt
  } else {
    spec = spec.abs();
    if (c.power != 1.0) spec = spec.pow(c.power);
  }
  // [B, F, T] -> [B, T, F] @ [F, M] -> [B, M, T]
  at::Tensor mel = at::matmul(spec.transpose(-1, -2), fbank_.to(opts)).transpose(-1, -2);
  if (c.to_db) {
    const double mult = c.power == 1.0 ? 20.0 : 10.0;
    mel = mel.clamp_min(c.amin).log10() * mult;
    if (c.top_db > 0) {
      at::Tensor peak = std::get<0>(mel.flatten(1).max(1)).view({-1, 1, 1});
      mel = at::max(mel, peak - c.top_db);
    }
  }
  if (c.drop_last_frame) mel = mel.narrow(-1, 0, std::max<int64_t>(0, mel.size(-1) - 1));
  mel = mel.contiguous();
  return unbatched ? mel.squeeze(0) : mel;
}

}  // namespace musefm
