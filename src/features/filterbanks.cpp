#include "features/filterbanks.h"

#include <cmath>

#include "musefm/error.h"

namespace musefm::features_detail {
namespace {
// Slaney's Auditory Toolbox constants, as in librosa.hz_to_mel / torchaudio.
constexpr double kSlaneyFSp = 200.0 / 3.0;
constexpr double kSlaneyMinLogHz = 1000.0;
constexpr double kSlaneyMinLogMel = kSlaneyMinLogHz / kSlaneyFSp;  // 15
const double kSlaneyLogStep = std::log(6.4) / 27.0;
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::Htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz < kSlaneyMinLogHz) return hz / kSlaneyFSp;
  return kSlaneyMinLogMel + std::log(hz / kSlaneyMinLogHz) / kSlaneyLogStep;
}

MatrixXdRow kaldi_mel_banks(int num_bins, int padded_window_size, double sample_freq,
                            double low_freq, double high_freq) {
  const int num_fft_bins = padded_window_size / 2;
  const double nyquist = 0.5 * sample_freq;
  if (high_freq <= 0.0) high_freq += nyquist;
  MUSEFM_CHECK(low_freq >= 0.0 && low_freq < nyquist && high_freq > 0.0 && high_freq <= nyquist &&
                   low_freq < high_freq,
               "kaldi mel banks: need 0 <= low_freq < high_freq <= Nyquist (", nyquist,
               " Hz), got low_freq=", low_freq, " high_freq=", high_freq);
  auto mel = [](double f) { return 1127.0 * std::log(1.0 + f / 700.0); };
  const double fft_bin_width = sample_freq / padded_window_size;
  const double mel_low = mel(low_freq), mel_high = mel(high_freq);
  const double delta = (mel_high - mel_low) / (num_bins + 1);
  MatrixXdRow banks = MatrixXdRow::Zero(num_bins, num_fft_bins + 1);
  for (int b = 0; b < num_bins; ++b) {
    const double left = mel_low + b * delta, center = mel_low + (b + 1.0) * delta,
                 right = mel_low + (b + 2.0) * delta;
    for (int i = 0; i < num_fft_bins; ++i) {
      const double m = mel(fft_bin_width * i);
      const double up = (m - left) / (center - left), down = (right - m) / (right - center);
      banks(b, i) = std::max(0.0, std::min(up, down));
    }
  }
  return banks;
}

Eigen::VectorXd make_window(const std::string& name, int length, bool periodic) {
  MUSEFM_CHECK(length > 0, "window '", name, "': length must be positive, got ", length);
  Eigen::VectorXd w(length);
  if (length == 1) {
    w[0] = 1.0;
    return w;
  }
  const double denom = periodic ? double(length) : double(length - 1);
  for (int n = 0; n < length; ++n) {
    const double a = 2.0 * kPi * n / denom;
    if (name == "hann" || name == "povey") {
      w[n] = 0.5 - 0.5 * std::cos(a);
      if (name == "povey") w[n] = std::pow(w[n], 0.85);
    } else if (name == "hamming") {
      w[n] = 0.54 - 0.46 * std::cos(a);
    } else if (name == "blackman") {
      w[n] = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2.0 * a);
    } else if (name == "rectangular") {
      w[n] = 1.0;
    } else {
      MUSEFM_FAIL("unknown window '", name,
                  "' (expected hann, hamming, povey, blackman, rectangular)");
    }
  }
  return w;
}

MatrixXdRow dct_ortho(int n_mfcc, int n_mels) {
  MatrixXdRow dct(n_mels, n_mfcc);
  for (int n = 0; n < n_mels; ++n) {
    for (int k = 0; k < n_mfcc; ++k) {
      double v = std::cos(kPi / n_mels * (n + 0.5) * k) * std::sqrt(2.0 / n_mels);
      if (k == 0) v *= 1.0 / std::sqrt(2.0);
      dct(n, k) = v;
    }
  }
  return dct;
}

}  // namespace musefm::features_detail
