// Kaldi MFCC matching torchaudio.compliance.kaldi.mfcc, plus torchaudio compute_deltas.
#include <ATen/ATen.h>

#include <cmath>

#include "core/tensor_util.h"
#include "features/filterbanks.h"
#include "musefm/features.h"

namespace musefm {
using namespace features_detail;
using namespace detail;

namespace {
int next_power_of_two(int x) {
  int p = 1;
  while (p < x) p <<= 1;
  return p;
}

// torchaudio.functional.compute_deltas over the last dim, replicate padding.
at::Tensor compute_deltas(const at::Tensor& x, int win_length) {
  const int64_t n = (win_length - 1) / 2;
  const double denom = double(n * (n + 1) * (2 * n + 1)) / 3.0;
  at::Tensor padded = at::cat({x.narrow(-1, 0, 1).expand({x.size(0), x.size(1), n}), x,
                               x.narrow(-1, x.size(-1) - 1, 1).expand({x.size(0), x.size(1), n})},
                              -1);
  at::Tensor out = at::zeros_like(x);
  const int64_t t = x.size(-1);
  for (int64_t k = -n; k <= n; ++k) out.add_(padded.narrow(-1, n + k, t), double(k));
  return out / denom;
}
}  // namespace

KaldiMfcc::KaldiMfcc(KaldiMfccConfig config) : config_(std::move(config)) {
  config_.validate();
  const auto& c = config_;
  window_shift_ = int(c.sample_rate * c.frame_shift_ms * 0.001);
  window_size_ = int(c.sample_rate * c.frame_length_ms * 0.001);
  padded_size_ = c.round_to_power_of_two ? next_power_of_two(window_size_) : window_size_;
  window_ = to_tensor(make_window(to_string(c.window), window_size_, /*periodic=*/false));
  mel_banks_ = to_tensor(kaldi_mel_banks(c.num_mel_bins, padded_size_, c.sample_rate, c.low_freq,
                                         c.high_freq))
                   .t()
                   .contiguous();  // [F, num_bins]
  MatrixXdRow dct = dct_ortho(c.num_mel_bins, c.num_mel_bins);
  dct.col(0).setConstant(std::sqrt(1.0 / c.num_mel_bins));  // Kaldi's C0 scaling
  dct_ = to_tensor(MatrixXdRow(dct.leftCols(c.num_ceps)));
  Eigen::VectorXd lifter(c.num_ceps);
  for (int i = 0; i < c.num_ceps; ++i)
    lifter[i] = c.cepstral_lifter != 0.0
                    ? 1.0 + 0.5 * c.cepstral_lifter * std::sin(M_PI * i / c.cepstral_lifter)
                    : 1.0;
  lifter_ = to_tensor(lifter);
}

int64_t KaldiMfcc::num_frames(int64_t n) const {
  if (config_.snip_edges) return n < window_size_ ? 0 : 1 + (n - window_size_) / window_shift_;
  return (n + window_shift_ / 2) / window_shift_;
}

int64_t KaldiMfcc::dim() const { return int64_t(config_.num_ceps) * (1 + config_.delta_order); }

at::Tensor KaldiMfcc::operator()(const at::Tensor& waveform) const {
  bool unbatched = false;
  at::Tensor x = as_batch(waveform, "KaldiMfcc", unbatched);
  const auto& c = config_;
  const int64_t n = x.size(1), frames = num_frames(n);
  MUSEFM_CHECK(frames > 0, "KaldiMfcc: need at least ", window_size_, " samples (",
               c.frame_length_ms, " ms), got ", n);
  const auto opts = x.options();
  at::Tensor strided;
  if (c.snip_edges) {
    strided = x.unfold(1, window_size_, window_shift_);  // [B, T, W]
  } else {
    // Kaldi's non-snip framing: reflect the edges so frame i is centred on i * shift.
    const int64_t pad_left = window_size_ / 2 - window_shift_ / 2;
    const int64_t needed = (frames - 1) * window_shift_ + window_size_;
    at::Tensor xp = pad_left >= 0 ? at::cat({x.narrow(1, 0, pad_left).flip(1), x}, 1)
                                  : x.narrow(1, -pad_left, n + pad_left);
    const int64_t pad_right = needed - xp.size(1);
    if (pad_right > 0)
      xp = at::cat({xp, x.flip(1).narrow(1, 0, pad_right)}, 1);
    else
      xp = xp.narrow(1, 0, needed);
    strided = xp.unfold(1, window_size_, window_shift_);
  }
  strided = strided.narrow(1, 0, frames);
  if (c.remove_dc_offset) strided = strided - strided.mean(-1, /*keepdim=*/true);
  at::Tensor log_energy;
  if (c.use_energy) {
    const double eps = std::numeric_limits<float>::epsilon();
    log_energy = strided.pow(2).sum(-1).clamp_min(eps).log();
    if (c.energy_floor > 0) log_energy = log_energy.clamp_min(std::log(c.energy_floor));
  }
  if (c.preemphasis != 0.0) {
    at::Tensor prev =
        at::cat({strided.narrow(-1, 0, 1), strided.narrow(-1, 0, window_size_ - 1)}, -1);
    strided = strided - c.preemphasis * prev;
  }
  strided = strided * window_.to(opts);
  at::Tensor spectrum = at::fft_rfft(strided, padded_size_, -1).abs().pow(2);  // zero-padded
  at::Tensor mel = at::matmul(spectrum, mel_banks_.to(opts));
  mel = at::max(mel, at::full({}, std::numeric_limits<float>::epsilon(), opts)).log();
  at::Tensor feat = at::matmul(mel, dct_.to(opts));
  if (c.cepstral_lifter != 0.0) feat = feat * lifter_.to(opts);
  if (c.use_energy) feat.select(-1, 0).copy_(log_energy);
  if (c.delta_order > 0) {
    std::vector<at::Tensor> parts{feat};
    at::Tensor cur = feat.transpose(1, 2);  // [B, C, T]
    for (int o = 0; o < c.delta_order; ++o) {
      cur = compute_deltas(cur, c.delta_window);
      parts.push_back(cur.transpose(1, 2));
    }
    feat = at::cat(parts, -1);
  }
  feat = feat.contiguous();
  return unbatched ? feat.squeeze(0) : feat;
}

}  // namespace musefm
