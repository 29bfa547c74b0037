// EnCodec RVQ codec teacher: discrete acoustic targets as MERT uses them (EnCodec 24 kHz,
// 6 kbps -> 8 codebooks x 1024 codes, 75 Hz; labels encodec_0..7).
//
//   auto codec = musefm::EncodecTeacher::load("models/encodec_24khz");  // config.json + weights
//   at::Tensor wav = musefm::waveform_tensor(musefm::load_audio("song.flac"));  // 24 kHz mono
//   at::Tensor codes = codec.codes(wav, 6.0);     // [1, 8, ceil(L / 320)] int64, 0..1023
//   at::Tensor emb = codec.encode(wav);           // [1, 128, ceil(L / 320)] float, pre-RVQ
//
// A model dir comes from `tools/convert_checkpoint.py encodec encodec_24khz-d7cc33bc.th DIR`
// (facebookresearch/encodec's released state dict, upstream parameter names). Only the encoder
// (SEANet: causal convolutions, residual blocks, 2-layer LSTM) and the residual vector
// quantiser's codebooks are read; `decoder.*` and the codebooks' training buffers are accepted
// and skipped. Weight norm is folded on load from `weight_g`/`weight_v` or
// `parametrizations.weight.original0/1`. Missing, unexpected or mis-shaped tensors are
// reported together, by name.
//
// Parity: encode() and codes() follow the PyPI `encodec` 0.1.1 package
// (EncodecModel.encoder(x) and EncodecModel.encode(x) after set_target_bandwidth(bw), without
// segmenting or normalisation, as encodec_model_24khz() is configured): the same causal
// padding (reflect, with the zero-extension fallback for inputs shorter than a pad), the same
// RVQ distance formula. tests/test_encodec.cpp holds the tolerances.
//
// Long audio: the encoder runs in chunks of `chunk_frames` output frames (default 750 = 10 s
// at 24 kHz), so memory stays bounded by the chunk, not the input. For causal models (all
// released 24 kHz ones) the result equals the one-pass encoder's up to float rounding: each
// chunk starts a few frames early (the convolutions' receptive field, 797 samples at 24 kHz)
// and drops them, the LSTM state is carried from chunk to chunk, and the last convolution
// gets the previous chunk's last frames. tests/test_encodec.cpp checks chunked vs one pass.
// Measured peak RSS of a process running codes() on the 24 kHz model (2 threads; libtorch and
// the weights are ~0.5 GB of it): one pass 1.1 GB for 30 s of audio, 2.1 GB for 2 min (~0.45
// KB per input sample); chunked (default) 1.0 GB for 30 s, 1.4 GB for 2 min, 1.7 GB for 4
// and for 8 min (the allocator's per-thread arenas settle at that).
//
// Thread safety: an EncodecTeacher is immutable after load(); encode() / codes() may run
// concurrently from several threads. Inference runs without autograd.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musefm/error.h"
#include "musefm/features.h"

namespace musefm {

/// Architecture of an EnCodec model (encodec's SEANetEncoder + ResidualVectorQuantizer
/// arguments). Defaults = EncodecModel.encodec_model_24khz() of encodec 0.1.1.
struct EncodecConfig {
  std::string model_type = "encodec";  ///< always "encodec" (tells model dirs apart)
  int sample_rate = 24000;             ///< Hz; input audio must be at this rate
  int channels = 1;                    ///< audio channels (only mono models are supported)
  int n_filters = 32;                  ///< width of the first conv; doubles at each stage
  /// Decoder-order up-sampling ratios; the encoder downsamples by them in reverse (2, 4, 5,
  /// 8): hop 320 samples = 75 Hz frames at 24 kHz.
  std::vector<int> ratios{8, 5, 4, 2};
  int dimension = 128;                  ///< encoder output = codebook dimension
  int n_residual_layers = 1;            ///< residual blocks per stage
  int lstm_layers = 2;                  ///< LSTM layers (with skip) before the last conv; 0 = none
  int kernel_size = 7;                  ///< first conv's kernel
  int last_kernel_size = 7;             ///< last conv's kernel
  int residual_kernel_size = 3;         ///< residual blocks' first conv kernel
  int dilation_base = 2;                ///< block j of a stage is dilated dilation_base^j
  int compress = 2;                     ///< residual blocks' hidden width = dim / compress
  bool causal = true;                   ///< causal padding (all on the left) vs centred
  PadMode pad_mode = PadMode::Reflect;  ///< reflect or constant (zeros)
  bool true_skip = false;               ///< identity shortcut instead of a 1x1 conv
  int n_q = 32;                         ///< codebooks in the checkpoint
  int bins = 1024;                      ///< codes per codebook (a power of 2: log2 = bits)
  /// Bandwidths (kbps) the model was trained for (informative; codes() accepts any > 0).
  std::vector<double> target_bandwidths{1.5, 3.0, 6.0, 12.0, 24.0};

  /// Samples per frame: product of the ratios (320).
  int64_t hop_length() const;
  /// Frames per second as encodec counts it: ceil(sample_rate / hop_length) (75).
  int frame_rate() const;
  /// Codebooks used at `bandwidth_kbps`: floor(bw / (log2(bins) * frame_rate / 1000)), at
  /// least 1, at most n_q (24 kHz: 1.5 -> 2, 3 -> 4, 6 -> 8, 12 -> 16, 24 -> 32). Throws
  /// for a bandwidth that is not a positive finite number.
  int num_codebooks(double bandwidth_kbps) const;
  /// Frames for `num_samples` input samples: ceil(num_samples / hop_length).
  int64_t num_frames(int64_t num_samples) const;

  /// Throws musefm::Error naming the field and the reason.
  void validate() const;
  std::string to_json() const;
  /// Parses and validates; unknown keys are errors.
  static EncodecConfig from_json(const std::string& json);
  /// Reads a config.json file; errors name the file.
  static EncodecConfig load(const std::string& path);
};

/// A loaded EnCodec encoder + residual vector quantiser.
class EncodecTeacher {
 public:
  /// Loads `model_dir`/config.json and `model_dir`/model.safetensors onto `device`.
  static EncodecTeacher load(const std::string& model_dir, const std::string& device = "cpu");
  /// Builds the teacher from a config and named weights (upstream names); `source` names them
  /// in errors.
  static EncodecTeacher from_weights(const EncodecConfig& config,
                                     const std::map<std::string, at::Tensor>& weights,
                                     const std::string& device = "cpu",
                                     const std::string& source = "weights");

  /// Output frames per encoder chunk by default (10 s at 24 kHz).
  static constexpr int64_t kDefaultChunkFrames = 750;

  /// Continuous encoder output for a [B, L] (or [L], then B = 1) float waveform at
  /// config().sample_rate, L >= 1: [B, dimension, num_frames(L)] float32 on the model's device.
  /// Computed in chunks of `chunk_frames` frames (raised to the model's context if smaller);
  /// chunk_frames <= 0, or a non-causal model: one pass over the whole input.
  at::Tensor encode(const at::Tensor& wav, int64_t chunk_frames = kDefaultChunkFrames) const;
  /// RVQ codes at `bandwidth_kbps`: [B, num_codebooks(bw), num_frames(L)] int64 in [0, bins).
  at::Tensor codes(const at::Tensor& wav, double bandwidth_kbps = 6.0,
                   int64_t chunk_frames = kDefaultChunkFrames) const;
  /// Codes of an encode() output [B, dimension, T] (e.g. to get several bandwidths from one
  /// encoder pass: the first codebooks do not depend on how many follow).
  at::Tensor quantize(const at::Tensor& emb, double bandwidth_kbps = 6.0) const;

  /// Codebooks used at `bandwidth_kbps` (see EncodecConfig::num_codebooks).
  int num_codebooks(double bandwidth_kbps) const;
  /// Frames for `num_samples` input samples: ceil(num_samples / 320) at 24 kHz.
  int64_t num_frames(int64_t num_samples) const;
  const EncodecConfig& config() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace musefm
