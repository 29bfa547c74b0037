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

namespace detail {
template <>
struct ConfigFields<MelConfig> {
  static constexpr const char* name = "MelConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("sample_rate", c.sample_rate);
    v("n_fft", c.n_fft);
    v("win_length", c.win_length);
    v("hop_length", c.hop_length);
    v("f_min", c.f_min);
    v("f_max", c.f_max);
    v("n_mels", c.n_mels);
    v("power", c.power);
    v("center", c.center);
    v("pad_mode", c.pad_mode);
    v("mel_scale", c.mel_scale);
    v("norm", c.norm);
    v("to_db", c.to_db);
    v("amin", c.amin);
    v("top_db", c.top_db);
    v("drop_last_frame", c.drop_last_frame);
  }
};
}  // namespace detail

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

std::string MelConfig::to_json() const { return detail::config_to_json(*this); }

MelConfig MelConfig::from_json(const std::string& text) {
  return detail::config_from_json<MelConfig>(text);
}

// ---- KaldiMfccConfig -------------------------------------------------------------------------
KaldiMfccConfig KaldiMfccConfig::hubert(int sample_rate) {
  KaldiMfccConfig c;  // fairseq examples/hubert/simple_kmeans/dump_mfcc_feature.py
  c.sample_rate = sample_rate;
  return c;
}

namespace detail {
template <>
struct ConfigFields<KaldiMfccConfig> {
  static constexpr const char* name = "KaldiMfccConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("sample_rate", c.sample_rate);
    v("frame_length_ms", c.frame_length_ms);
    v("frame_shift_ms", c.frame_shift_ms);
    v("num_mel_bins", c.num_mel_bins);
    v("num_ceps", c.num_ceps);
    v("preemphasis", c.preemphasis);
    v("cepstral_lifter", c.cepstral_lifter);
    v("low_freq", c.low_freq);
    v("high_freq", c.high_freq);
    v("remove_dc_offset", c.remove_dc_offset);
    v("round_to_power_of_two", c.round_to_power_of_two);
    v("snip_edges", c.snip_edges);
    v("window", c.window);
    v("use_energy", c.use_energy);
    v("energy_floor", c.energy_floor);
    v("delta_order", c.delta_order);
    v("delta_window", c.delta_window);
  }
};
}  // namespace detail

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

std::string KaldiMfccConfig::to_json() const { return detail::config_to_json(*this); }

KaldiMfccConfig KaldiMfccConfig::from_json(const std::string& text) {
  return detail::config_from_json<KaldiMfccConfig>(text);
}

// ---- NnAudioCqtConfig ------------------------------------------------------------------------
NnAudioCqtConfig NnAudioCqtConfig::mert() { return NnAudioCqtConfig{}; }

namespace detail {
template <>
struct ConfigFields<NnAudioCqtConfig> {
  static constexpr const char* name = "NnAudioCqtConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("sample_rate", c.sample_rate);
    v("hop_length", c.hop_length);
    v("fmin", c.fmin);
    v("n_bins", c.n_bins);
    v("bins_per_octave", c.bins_per_octave);
    v("filter_scale", c.filter_scale);
    v("norm", c.norm);
    v("center", c.center);
    v("pad_mode", c.pad_mode);
    v("spectral_cutoff", c.spectral_cutoff);
    v("chunk_frames", c.chunk_frames);
  }
};
}  // namespace detail

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

std::string NnAudioCqtConfig::to_json() const { return detail::config_to_json(*this); }

NnAudioCqtConfig NnAudioCqtConfig::from_json(const std::string& text) {
  return detail::config_from_json<NnAudioCqtConfig>(text);
}

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
