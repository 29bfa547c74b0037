// Presets, validate() and JSON round-trip of the feature configs.
#include <cmath>

#include "core/config_fields.h"
#include "musefm/features.h"

namespace musefm {

// ---- MelConfig --------------------------------------------------------------------------------
MelConfig MelConfig::musicfm() {
  MelConfig c;  // torchaudio MelSpectrogram(24000, n_fft=2048, hop_length=240, n_mels=128)
  c.drop_last_frame = true;  // MusicFM preprocessing: out[..., :-1]
  return c;
}

MUSEFM_CONFIG_FIELDS(MelConfig, "MelConfig", sample_rate, n_fft, win_length, hop_length, f_min,
                     f_max, n_mels, power, center, pad_mode, mel_scale, norm, to_db, amin, top_db,
                     drop_last_frame);

void MelConfig::validate() const {
  MUSEFM_CHECK(sample_rate > 0, "MelConfig.sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(n_fft >= 2, "MelConfig.n_fft must be >= 2, got ", n_fft);
  MUSEFM_CHECK(win_length >= 0 && win_length <= n_fft,
               "MelConfig.win_length must be in [0, n_fft], got ", win_length);
  MUSEFM_CHECK(hop_length > 0, "MelConfig.hop_length must be positive, got ", hop_length);
  MUSEFM_CHECK(n_mels > 0, "MelConfig.n_mels must be positive, got ", n_mels);
  const double fmax = f_max > 0 ? f_max : sample_rate / 2.0;
  MUSEFM_CHECK(f_min >= 0 && f_min < fmax && fmax <= sample_rate / 2.0,
               "MelConfig: need 0 <= f_min < f_max <= sample_rate/2, got f_min=", f_min,
               " f_max=", fmax);
  MUSEFM_CHECK(power > 0, "MelConfig.power must be positive, got ", power);
  MUSEFM_CHECK(amin > 0, "MelConfig.amin must be positive, got ", amin);
  MUSEFM_CHECK(top_db >= 0, "MelConfig.top_db must be >= 0 (0 = off), got ", top_db);
}

MUSEFM_CONFIG_JSON(MelConfig);

// ---- KaldiMfccConfig -------------------------------------------------------------------------
KaldiMfccConfig KaldiMfccConfig::hubert(int sample_rate) {
  KaldiMfccConfig c;  // fairseq examples/hubert/simple_kmeans/dump_mfcc_feature.py
  c.sample_rate = sample_rate;
  return c;
}

MUSEFM_CONFIG_FIELDS(KaldiMfccConfig, "KaldiMfccConfig", sample_rate, frame_length_ms,
                     frame_shift_ms, num_mel_bins, num_ceps, preemphasis, cepstral_lifter, low_freq,
                     high_freq, remove_dc_offset, round_to_power_of_two, snip_edges, window,
                     use_energy, energy_floor, delta_order, delta_window);

void KaldiMfccConfig::validate() const {
  MUSEFM_CHECK(sample_rate > 0, "KaldiMfccConfig.sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(frame_length_ms > 0 && frame_shift_ms > 0,
               "KaldiMfccConfig: frame_length_ms and frame_shift_ms must be positive");
  MUSEFM_CHECK(int(sample_rate * frame_shift_ms * 0.001) >= 1 &&
                   int(sample_rate * frame_length_ms * 0.001) >= 2,
               "KaldiMfccConfig: frames shorter than 2 samples at ", sample_rate, " Hz");
  MUSEFM_CHECK(num_mel_bins >= 3, "KaldiMfccConfig.num_mel_bins must be >= 3, got ", num_mel_bins);
  MUSEFM_CHECK(num_ceps >= 1 && num_ceps <= num_mel_bins,
               "KaldiMfccConfig.num_ceps must be in [1, num_mel_bins], got ", num_ceps);
  MUSEFM_CHECK(preemphasis >= 0 && preemphasis <= 1,
               "KaldiMfccConfig.preemphasis must be in [0, 1], got ", preemphasis);
  MUSEFM_CHECK(cepstral_lifter >= 0, "KaldiMfccConfig.cepstral_lifter must be >= 0");
  MUSEFM_CHECK(delta_order >= 0 && delta_order <= 3,
               "KaldiMfccConfig.delta_order must be in [0, 3], got ", delta_order);
  MUSEFM_CHECK(delta_window >= 3 && delta_window % 2 == 1,
               "KaldiMfccConfig.delta_window must be odd and >= 3, got ", delta_window);
  MUSEFM_CHECK(energy_floor >= 0, "KaldiMfccConfig.energy_floor must be >= 0");
}

MUSEFM_CONFIG_JSON(KaldiMfccConfig);

// ---- NnAudioCqtConfig ------------------------------------------------------------------------
NnAudioCqtConfig NnAudioCqtConfig::mert() { return NnAudioCqtConfig{}; }

MUSEFM_CONFIG_FIELDS(NnAudioCqtConfig, "NnAudioCqtConfig", sample_rate, hop_length, fmin, n_bins,
                     bins_per_octave, filter_scale, norm, center, pad_mode, spectral_cutoff,
                     chunk_frames);

void NnAudioCqtConfig::validate() const {
  MUSEFM_CHECK(sample_rate > 0, "NnAudioCqtConfig.sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(hop_length > 0, "NnAudioCqtConfig.hop_length must be positive, got ", hop_length);
  MUSEFM_CHECK(fmin > 0, "NnAudioCqtConfig.fmin must be positive, got ", fmin);
  MUSEFM_CHECK(n_bins > 0 && bins_per_octave > 0,
               "NnAudioCqtConfig: n_bins and bins_per_octave must be positive");
  const double top = fmin * std::pow(2.0, double(n_bins - 1) / bins_per_octave);
  MUSEFM_CHECK(top <= sample_rate / 2.0, "NnAudioCqtConfig: the top bin ", top,
               " Hz exceeds the Nyquist frequency ", sample_rate / 2.0, " Hz; reduce n_bins");
  MUSEFM_CHECK(filter_scale > 0, "NnAudioCqtConfig.filter_scale must be positive");
  MUSEFM_CHECK(norm == 0 || norm == 1, "NnAudioCqtConfig.norm must be 0 or 1, got ", norm);
  MUSEFM_CHECK(spectral_cutoff > 0 && spectral_cutoff < 0.1,
               "NnAudioCqtConfig.spectral_cutoff must be in (0, 0.1), got ", spectral_cutoff);
  MUSEFM_CHECK(chunk_frames >= 16 && chunk_frames <= (1 << 16),
               "NnAudioCqtConfig.chunk_frames must be in [16, 65536], got ", chunk_frames);
}

MUSEFM_CONFIG_JSON(NnAudioCqtConfig);

double frame_rate(const MelConfig& c) { return double(c.sample_rate) / c.hop_length; }
double frame_rate(const KaldiMfccConfig& c) {
  return double(c.sample_rate) / int(c.sample_rate * c.frame_shift_ms * 0.001);
}
double frame_rate(const NnAudioCqtConfig& c) { return double(c.sample_rate) / c.hop_length; }

}  // namespace musefm

namespace musefm {

FeatureKind parse_feature_kind(const std::string& name) {
  return parse_enum<FeatureKind>(name, "feature kind");
}

}  // namespace musefm
