// Presets, validate() and JSON round-trip of the feature configs.
#include <cmath>

#include "core/json_fields.h"
#include "musefm/features.h"

namespace musefm {
namespace {
using detail::JsonFields;
using nlohmann::json;

std::string mel_scale_name(MelScale s) { return s == MelScale::Htk ? "htk" : "slaney"; }
MelScale parse_mel_scale(const std::string& s) {
  if (s == "htk") return MelScale::Htk;
  if (s == "slaney") return MelScale::Slaney;
  MUSEFM_FAIL("MelConfig: key 'mel_scale' must be \"htk\" or \"slaney\", got \"", s, "\"");
}
std::string mel_norm_name(MelNorm n) { return n == MelNorm::None ? "none" : "slaney"; }
MelNorm parse_mel_norm(const std::string& s) {
  if (s == "none") return MelNorm::None;
  if (s == "slaney") return MelNorm::Slaney;
  MUSEFM_FAIL("MelConfig: key 'norm' must be \"none\" or \"slaney\", got \"", s, "\"");
}
}  // namespace

// ---- MelConfig --------------------------------------------------------------------------------
MelConfig MelConfig::musicfm() {
  MelConfig c;  // torchaudio MelSpectrogram(24000, n_fft=2048, hop_length=240, n_mels=128)
  c.drop_last_frame = true;  // MusicFM preprocessing: out[..., :-1]
  return c;
}

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
  MUSEFM_CHECK(pad_mode == "reflect" || pad_mode == "constant",
               "MelConfig.pad_mode must be \"reflect\" or \"constant\", got \"", pad_mode, "\"");
  MUSEFM_CHECK(amin > 0, "MelConfig.amin must be positive, got ", amin);
  MUSEFM_CHECK(top_db >= 0, "MelConfig.top_db must be >= 0 (0 = off), got ", top_db);
}

std::string MelConfig::to_json() const {
  json j{{"sample_rate", sample_rate},
         {"n_fft", n_fft},
         {"win_length", win_length},
         {"hop_length", hop_length},
         {"f_min", f_min},
         {"f_max", f_max},
         {"n_mels", n_mels},
         {"power", power},
         {"center", center},
         {"pad_mode", pad_mode},
         {"mel_scale", mel_scale_name(mel_scale)},
         {"norm", mel_norm_name(norm)},
         {"to_db", to_db},
         {"amin", amin},
         {"top_db", top_db},
         {"drop_last_frame", drop_last_frame}};
  return j.dump(2);
}

MelConfig MelConfig::from_json(const std::string& text) {
  JsonFields f(text, "MelConfig");
  MelConfig c;
  std::string scale = mel_scale_name(c.mel_scale), norm = mel_norm_name(c.norm);
  f.get("sample_rate", c.sample_rate);
  f.get("n_fft", c.n_fft);
  f.get("win_length", c.win_length);
  f.get("hop_length", c.hop_length);
  f.get("f_min", c.f_min);
  f.get("f_max", c.f_max);
  f.get("n_mels", c.n_mels);
  f.get("power", c.power);
  f.get("center", c.center);
  f.get("pad_mode", c.pad_mode);
  f.get("mel_scale", scale);
  f.get("norm", norm);
  f.get("to_db", c.to_db);
  f.get("amin", c.amin);
  f.get("top_db", c.top_db);
  f.get("drop_last_frame", c.drop_last_frame);
  f.reject_unknown();
  c.mel_scale = parse_mel_scale(scale);
  c.norm = parse_mel_norm(norm);
  c.validate();
  return c;
}

// ---- KaldiMfccConfig -------------------------------------------------------------------------
KaldiMfccConfig KaldiMfccConfig::hubert(int sample_rate) {
  KaldiMfccConfig c;  // fairseq examples/hubert/simple_kmeans/dump_mfcc_feature.py
  c.sample_rate = sample_rate;
  return c;
}

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
  MUSEFM_CHECK(window == "povey" || window == "hann" || window == "hamming" ||
                   window == "rectangular" || window == "blackman",
               "KaldiMfccConfig.window must be povey, hann, hamming, rectangular or blackman, "
               "got \"",
               window, "\"");
  MUSEFM_CHECK(delta_order >= 0 && delta_order <= 3,
               "KaldiMfccConfig.delta_order must be in [0, 3], got ", delta_order);
  MUSEFM_CHECK(delta_window >= 3 && delta_window % 2 == 1,
               "KaldiMfccConfig.delta_window must be odd and >= 3, got ", delta_window);
  MUSEFM_CHECK(energy_floor >= 0, "KaldiMfccConfig.energy_floor must be >= 0");
}

std::string KaldiMfccConfig::to_json() const {
  json j{{"sample_rate", sample_rate},
         {"frame_length_ms", frame_length_ms},
         {"frame_shift_ms", frame_shift_ms},
         {"num_mel_bins", num_mel_bins},
         {"num_ceps", num_ceps},
         {"preemphasis", preemphasis},
         {"cepstral_lifter", cepstral_lifter},
         {"low_freq", low_freq},
         {"high_freq", high_freq},
         {"remove_dc_offset", remove_dc_offset},
         {"round_to_power_of_two", round_to_power_of_two},
         {"snip_edges", snip_edges},
         {"window", window},
         {"use_energy", use_energy},
         {"energy_floor", energy_floor},
         {"delta_order", delta_order},
         {"delta_window", delta_window}};
  return j.dump(2);
}

KaldiMfccConfig KaldiMfccConfig::from_json(const std::string& text) {
  JsonFields f(text, "KaldiMfccConfig");
  KaldiMfccConfig c;
  f.get("sample_rate", c.sample_rate);
  f.get("frame_length_ms", c.frame_length_ms);
  f.get("frame_shift_ms", c.frame_shift_ms);
  f.get("num_mel_bins", c.num_mel_bins);
  f.get("num_ceps", c.num_ceps);
  f.get("preemphasis", c.preemphasis);
  f.get("cepstral_lifter", c.cepstral_lifter);
  f.get("low_freq", c.low_freq);
  f.get("high_freq", c.high_freq);
  f.get("remove_dc_offset", c.remove_dc_offset);
  f.get("round_to_power_of_two", c.round_to_power_of_two);
  f.get("snip_edges", c.snip_edges);
  f.get("window", c.window);
  f.get("use_energy", c.use_energy);
  f.get("energy_floor", c.energy_floor);
  f.get("delta_order", c.delta_order);
  f.get("delta_window", c.delta_window);
  f.reject_unknown();
  c.validate();
  return c;
}

// ---- NnAudioCqtConfig ------------------------------------------------------------------------
NnAudioCqtConfig NnAudioCqtConfig::mert() { return NnAudioCqtConfig{}; }

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
  MUSEFM_CHECK(pad_mode == "constant" || pad_mode == "reflect",
               "NnAudioCqtConfig.pad_mode must be \"constant\" or \"reflect\", got \"", pad_mode,
               "\"");
  MUSEFM_CHECK(spectral_cutoff > 0 && spectral_cutoff < 0.1,
               "NnAudioCqtConfig.spectral_cutoff must be in (0, 0.1), got ", spectral_cutoff);
  MUSEFM_CHECK(chunk_frames >= 16 && chunk_frames <= (1 << 16),
               "NnAudioCqtConfig.chunk_frames must be in [16, 65536], got ", chunk_frames);
}

std::string NnAudioCqtConfig::to_json() const {
  json j{{"sample_rate", sample_rate},
         {"hop_length", hop_length},
         {"fmin", fmin},
         {"n_bins", n_bins},
         {"bins_per_octave", bins_per_octave},
         {"filter_scale", filter_scale},
         {"norm", norm},
         {"center", center},
         {"pad_mode", pad_mode},
         {"spectral_cutoff", spectral_cutoff},
         {"chunk_frames", chunk_frames}};
  return j.dump(2);
}

NnAudioCqtConfig NnAudioCqtConfig::from_json(const std::string& text) {
  JsonFields f(text, "NnAudioCqtConfig");
  NnAudioCqtConfig c;
  f.get("sample_rate", c.sample_rate);
  f.get("hop_length", c.hop_length);
  f.get("fmin", c.fmin);
  f.get("n_bins", c.n_bins);
  f.get("bins_per_octave", c.bins_per_octave);
  f.get("filter_scale", c.filter_scale);
  f.get("norm", c.norm);
  f.get("center", c.center);
  f.get("pad_mode", c.pad_mode);
  f.get("spectral_cutoff", c.spectral_cutoff);
  f.get("chunk_frames", c.chunk_frames);
  f.reject_unknown();
  c.validate();
  return c;
}

double frame_rate(const MelConfig& c) { return double(c.sample_rate) / c.hop_length; }
double frame_rate(const KaldiMfccConfig& c) {
  return double(c.sample_rate) / int(c.sample_rate * c.frame_shift_ms * 0.001);
}
double frame_rate(const NnAudioCqtConfig& c) { return double(c.sample_rate) / c.hop_length; }

}  // namespace musefm

namespace musefm {

FeatureKind parse_feature_kind(const std::string& name) {
  if (name == "mel") return FeatureKind::Mel;
  if (name == "mfcc") return FeatureKind::Mfcc;
  if (name == "cqt") return FeatureKind::Cqt;
  if (name == "chroma") return FeatureKind::Chroma;
  MUSEFM_FAIL("unknown feature kind '", name, "' (expected mel, mfcc, cqt or chroma)");
}

std::string to_string(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::Mel:
      return "mel";
    case FeatureKind::Mfcc:
      return "mfcc";
    case FeatureKind::Cqt:
      return "cqt";
    case FeatureKind::Chroma:
      return "chroma";
  }
  return "mel";
}

}  // namespace musefm
