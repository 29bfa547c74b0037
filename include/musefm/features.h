// Feature front-ends as libtorch ops (CPU or CUDA, batched), numerically matched to the
// reference implementations the published models were trained with:
//
//   MelSpectrogram   torchaudio MelSpectrogram + AmplitudeToDB (MusicFM: MelConfig::musicfm())
//   KaldiMfcc        torchaudio.compliance.kaldi.mfcc + compute_deltas x2 (HuBERT iteration 1)
//   NnAudioCqt       nnAudio CQT1992v2 (MERT's CQT target: NnAudioCqtConfig::mert()),
//                    computed in the frequency domain instead of a 65,536-tap convolution
//   LibrosaCqt       librosa.cqt defaults (multirate, tuning estimation), for chroma baselines
//   Chroma           librosa.feature.chroma_cqt defaults
//
//   at::Tensor wav = musefm::waveform_tensor(musefm::load_audio("a.flac"));  // [L] (or [B, L])
//   musefm::MelSpectrogram mel(musefm::MelConfig::musicfm());
//   at::Tensor m = mel(wav);                      // [n_mels, T] (or [B, n_mels, T])
//   musefm::NnAudioCqt cqt(musefm::NnAudioCqtConfig::mert());
//   at::Tensor c = cqt(wav);                      // [336, floor(L/320)+1], linear magnitude
//
// Every config is a plain struct with defaults, validate() (throws musefm::Error naming the
// field) and a JSON round-trip (to_json / from_json; unknown keys are rejected).
// Thread safety: a constructed transform is immutable and may be shared across threads;
// per-device tables are built lazily under a lock.
#pragma once

#include <ATen/core/Tensor.h>

#include <limits>
#include <memory>
#include <string>

#include <vector>
#include "musefm/enum_names.h"
#include "musefm/error.h"

namespace musefm {

struct Audio;

/// Decoded audio as a float32 CPU tensor: [frames] when mono, [channels, frames] otherwise
/// (a copy; the Audio may be discarded afterwards).
at::Tensor waveform_tensor(const Audio& audio);

/// Frequency-to-mel mapping.
enum class MelScale { Htk, Slaney };
MUSEFM_ENUM_NAMES(MelScale, {MelScale::Htk, "htk"}, {MelScale::Slaney, "slaney"});
/// Filter normalisation: none, or Slaney's area normalisation (librosa's default).
enum class MelNorm { None, Slaney };
MUSEFM_ENUM_NAMES(MelNorm, {MelNorm::None, "none"}, {MelNorm::Slaney, "slaney"});
/// How a signal is padded at its edges: mirrored (without the edge sample) or with zeros.
enum class PadMode { Reflect, Constant };
MUSEFM_ENUM_NAMES(PadMode, {PadMode::Reflect, "reflect"}, {PadMode::Constant, "constant"});
/// Analysis windows of the Kaldi MFCC front-end.
enum class KaldiWindow { Povey, Hann, Hamming, Rectangular, Blackman };
MUSEFM_ENUM_NAMES(KaldiWindow, {KaldiWindow::Povey, "povey"}, {KaldiWindow::Hann, "hann"},
                  {KaldiWindow::Hamming, "hamming"}, {KaldiWindow::Rectangular, "rectangular"},
                  {KaldiWindow::Blackman, "blackman"});

/// Generic (log-)mel spectrogram; defaults are torchaudio's MelSpectrogram at 24 kHz.
struct MelConfig {
  int sample_rate = 24000;              ///< Hz
  int n_fft = 2048;                     ///< FFT size (samples)
  int win_length = 0;                   ///< periodic Hann window length; 0 = n_fft
  int hop_length = 240;                 ///< samples between frames
  double f_min = 0.0;                   ///< Hz
  double f_max = 0.0;                   ///< Hz; 0 = sample_rate / 2
  int n_mels = 128;                     ///< mel bands
  double power = 2.0;                   ///< exponent of the magnitude (1 = amplitude, 2 = power)
  bool center = true;                   ///< pad n_fft/2 on both sides (frames = 1 + L / hop)
  PadMode pad_mode = PadMode::Reflect;  ///< reflect or constant (only with center)
  MelScale mel_scale = MelScale::Htk;   ///< torchaudio default HTK; librosa default Slaney
  MelNorm norm = MelNorm::None;         ///< torchaudio default none; librosa default Slaney
  bool to_db = true;    ///< AmplitudeToDB: 10 (power) or 20 (amplitude) * log10(max(x, amin))
  double amin = 1e-10;  ///< floor before the log
  double top_db = 0.0;  ///< clamp to max - top_db per spectrogram; 0 = off (torchaudio default)
  bool drop_last_frame = false;  ///< MusicFM drops the last frame ([..., :-1])

  /// MusicFM's front-end: 24 kHz, n_fft 2048, hop 240, 128 HTK mels, power dB, last frame
  /// dropped (minzwon/musicfm modules/features.py).
  static MelConfig musicfm();
  void validate() const;
  std::string to_json() const;
  static MelConfig from_json(const std::string& json);
};

/// Log-mel spectrogram. Input [L] or [B, L] float waveform; output [n_mels, T] or [B, n_mels, T].
class MelSpectrogram {
 public:
  explicit MelSpectrogram(MelConfig config = {});
  at::Tensor operator()(const at::Tensor& waveform) const;
  /// Number of output frames for `num_samples` input samples.
  int64_t num_frames(int64_t num_samples) const;
  /// Filter bank [n_fft/2+1, n_mels] (float32, CPU), torchaudio's melscale_fbanks layout.
  const at::Tensor& filterbank() const { return fbank_; }
  const MelConfig& config() const { return config_; }

 private:
  MelConfig config_;
  at::Tensor fbank_, window_;
};

/// Kaldi-compatible MFCC (torchaudio.compliance.kaldi.mfcc defaults) plus deltas.
struct KaldiMfccConfig {
  int sample_rate = 16000;                  ///< Hz (HuBERT: 16 kHz; MERT-style music: 24 kHz)
  double frame_length_ms = 25.0;            ///< window length
  double frame_shift_ms = 10.0;             ///< hop
  int num_mel_bins = 23;                    ///< Kaldi default
  int num_ceps = 13;                        ///< cepstra kept
  double preemphasis = 0.97;                ///< pre-emphasis coefficient
  double cepstral_lifter = 22.0;            ///< lifter Q (0 = off)
  double low_freq = 20.0;                   ///< Hz
  double high_freq = 0.0;                   ///< Hz; <= 0 means Nyquist + high_freq
  bool remove_dc_offset = true;             ///< subtract each frame's mean
  bool round_to_power_of_two = true;        ///< FFT size = next power of two of the window
  bool snip_edges = true;                   ///< frames fully inside the signal only
  KaldiWindow window = KaldiWindow::Povey;  ///< povey, hann, hamming, rectangular, blackman
  bool use_energy = false;                  ///< replace C0 by log energy (HuBERT: false)
  double energy_floor = 1.0;                ///< floor of the log energy (only with use_energy)
  int delta_order = 2;   ///< append deltas up to this order (HuBERT: 2 -> 39 dims)
  int delta_window = 5;  ///< compute_deltas win_length

  /// HuBERT iteration-1 teacher features (fairseq dump_mfcc_feature.py) at `sample_rate`.
  static KaldiMfccConfig hubert(int sample_rate = 16000);
  void validate() const;
  std::string to_json() const;
  static KaldiMfccConfig from_json(const std::string& json);
};

/// MFCC + deltas. Input [L] or [B, L]; output [T, num_ceps*(1+delta_order)] (or [B, T, D]),
/// frame-major like fairseq's dumps.
class KaldiMfcc {
 public:
  explicit KaldiMfcc(KaldiMfccConfig config = {});
  at::Tensor operator()(const at::Tensor& waveform) const;
  int64_t num_frames(int64_t num_samples) const;
  int64_t dim() const;
  const KaldiMfccConfig& config() const { return config_; }

 private:
  KaldiMfccConfig config_;
  int window_size_ = 0, window_shift_ = 0, padded_size_ = 0;
  at::Tensor window_, mel_banks_, dct_, lifter_;
};

/// nnAudio CQT1992v2. Defaults are MERT's CQT target (mert_model.py, `model_cqt_pred`).
struct NnAudioCqtConfig {
  int sample_rate = 24000;               ///< Hz
  int hop_length = 320;                  ///< MERT: sr // label_rate (75 Hz)
  double fmin = 32.7;                    ///< Hz (MERT passes 32.7)
  int n_bins = 336;                      ///< 7 octaves
  int bins_per_octave = 48;              ///< 336 // 7
  double filter_scale = 1.0;             ///< Q = filter_scale / (2^(1/bpo) - 1)
  int norm = 1;                          ///< kernel normalisation: 1 (L1, MERT) or 0 (none)
  bool center = true;                    ///< pad kernel_width/2 on both sides
  PadMode pad_mode = PadMode::Constant;  ///< constant (MERT) or reflect
  /// Kernel spectra are truncated where the Hann envelope falls below this fraction of the
  /// peak: accuracy versus speed and table size (measured parity with nnAudio: 4e-5 relative
  /// at 1e-4, 6e-6 at 1e-5; 3x the work).
  double spectral_cutoff = 1e-4;
  int chunk_frames = 1024;  ///< frames per FFT block (incl. the kernel overlap); memory bound

  /// MERT-v1's CQT target: 24 kHz, hop 320, fmin 32.7, 336 bins, 48/octave, L1 norm, hann,
  /// centre with constant padding, magnitude (yizhilll/MERT mert_model.py).
  static NnAudioCqtConfig mert();
  void validate() const;
  std::string to_json() const;
  static NnAudioCqtConfig from_json(const std::string& json);
};

/// Fast nnAudio-equivalent CQT magnitude. Input [L] or [B, L]; output [n_bins, T] or
/// [B, n_bins, T] with T = floor(L / hop) + 1 (centre) — the same as nnAudio's conv1d, but
/// computed per block as FFT(x) * conj(FFT(kernel)) restricted to each kernel's band, folded
/// to the frame rate and inverse-transformed (O(N log N) instead of O(N * 65536)).
class NnAudioCqt {
 public:
  explicit NnAudioCqt(NnAudioCqtConfig config = {});
  ~NnAudioCqt();
  at::Tensor operator()(const at::Tensor& waveform) const;
  int64_t num_frames(int64_t num_samples) const;
  /// Centre frequency of each bin (Hz).
  const std::vector<double>& frequencies() const { return freqs_; }
  /// Kernel length of each bin (samples).
  const std::vector<double>& lengths() const { return lengths_; }
  /// Width of nnAudio's time-domain kernel (next power of two of the longest filter).
  int64_t kernel_width() const { return kernel_width_; }
  const NnAudioCqtConfig& config() const { return config_; }

  struct Tables;

 private:
  std::shared_ptr<Tables> build_tables() const;
  NnAudioCqtConfig config_;
  std::vector<double> freqs_, lengths_;
  int64_t kernel_width_ = 0;
  std::shared_ptr<Tables> tables_;
};

/// librosa.cqt (librosa 0.11): multirate VQT with gamma 0, sparsified filters, soxr_hq
/// resampling between octaves. Defaults are librosa's (sr 22050, hop 512, 84 bins from C1).
struct LibrosaCqtConfig {
  int sample_rate = 22050;          ///< Hz
  int hop_length = 512;             ///< samples; must be divisible by 2^(n_octaves - 1)
  double fmin = 32.70319566257483;  ///< Hz (C1); tuning shifts it by 2^(tuning / bpo)
  int n_bins = 84;                  ///< total bins
  int bins_per_octave = 12;         ///< bins per octave
  double tuning = 0.0;              ///< in fractions of a bin; NaN = estimate (librosa tuning=None)
  double filter_scale = 1.0;        ///< filter length scale
  double sparsity = 0.01;           ///< fraction of each filter's L1 mass dropped (librosa default)
  bool scale = true;                ///< divide by sqrt(filter length) (librosa scale=True)

  /// The CQT inside librosa.feature.chroma_cqt: 252 bins, 36 per octave, tuning estimated.
  static LibrosaCqtConfig chroma();
  void validate() const;
  std::string to_json() const;
  static LibrosaCqtConfig from_json(const std::string& json);
};

/// librosa.estimate_tuning(y, sr, bins_per_octave) with its piptrack defaults (n_fft 2048).
/// Input [L] float waveform; returns the tuning offset in fractions of a bin, in [-0.5, 0.5).
double estimate_tuning(const at::Tensor& waveform, int sample_rate, int bins_per_octave);

/// |librosa.cqt|: input [L] or [B, L]; output [n_bins, T] or [B, n_bins, T], T = 1 + L / hop.
class LibrosaCqt {
 public:
  explicit LibrosaCqt(LibrosaCqtConfig config = {});
  ~LibrosaCqt();
  at::Tensor operator()(const at::Tensor& waveform) const;
  int64_t num_frames(int64_t num_samples) const;
  const LibrosaCqtConfig& config() const { return config_; }

 private:
  struct Impl;
  LibrosaCqtConfig config_;
  std::shared_ptr<Impl> impl_;  // filter banks (fixed tuning) or a cache keyed by tuning
};

/// librosa.feature.chroma_cqt defaults.
struct ChromaConfig {
  int sample_rate = 22050;                                   ///< Hz
  int hop_length = 512;                                      ///< samples
  int n_chroma = 12;                                         ///< pitch classes
  int n_octaves = 7;                                         ///< octaves of the underlying CQT
  int bins_per_octave = 36;                                  ///< CQT resolution
  double tuning = std::numeric_limits<double>::quiet_NaN();  ///< NaN = estimate (librosa default)
  bool normalize = true;  ///< divide each frame by its maximum (norm=inf)

  void validate() const;
  std::string to_json() const;
  static ChromaConfig from_json(const std::string& json);
};

/// Chromagram. Input [L] or [B, L]; output [n_chroma, T] or [B, n_chroma, T], C first.
class Chroma {
 public:
  explicit Chroma(ChromaConfig config = {});
  at::Tensor operator()(const at::Tensor& waveform) const;
  int64_t num_frames(int64_t num_samples) const;
  const ChromaConfig& config() const { return config_; }

 private:
  ChromaConfig config_;
  LibrosaCqt cqt_;           // the underlying librosa.cqt (n_octaves * bins_per_octave bins)
  at::Tensor cq_to_chroma_;  // [n_chroma, n_bins] float32 (librosa.filters.cq_to_chroma)
};

/// Parses "mel|mfcc|cqt|chroma" style names used by the CLI.
enum class FeatureKind { Mel, Mfcc, Cqt, Chroma };
MUSEFM_ENUM_NAMES(FeatureKind, {FeatureKind::Mel, "mel"}, {FeatureKind::Mfcc, "mfcc"},
                  {FeatureKind::Cqt, "cqt"}, {FeatureKind::Chroma, "chroma"});
/// The kind named `name` (mel, mfcc, cqt or chroma); throws naming the choices.
FeatureKind parse_feature_kind(const std::string& name);

/// Feature frame rate (frames per second) of a transform for its config.
double frame_rate(const MelConfig& c);
double frame_rate(const KaldiMfccConfig& c);
double frame_rate(const NnAudioCqtConfig& c);

}  // namespace musefm
