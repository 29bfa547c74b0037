// Encoder: a loaded MERT-v1 (HuBERT architecture) or MusicFM (mel + conformer) model that maps
// waveforms to the hidden states of every layer.
//
//   auto enc = musefm::Encoder::load("models/mert-v1-95m");     // config.json + model.safetensors
//   at::Tensor wav = musefm::waveform_tensor(musefm::load_audio("song.flac"));  // 24 kHz mono
//   std::vector<at::Tensor> hs = enc.forward(wav.unsqueeze(0));  // 13 x [1, T, 768], 75 Hz
//
// MERT weights use the Hugging Face parameter names; the positional convolution's weight norm is
// folded on load from either `weight_g`/`weight_v` or `parametrizations.weight.original0/1`.
// Missing, unexpected or mis-shaped tensors are reported together, by name.
//
// Families: MERT (post-LN as MERT-v1-95M, pre-LN as MERT-v1-330M; matches transformers'
// HubertModel) and MusicFM 25 Hz (upstream minzwon/musicfm parameter names; its conformer
// matches transformers' Wav2Vec2ConformerEncoder as MusicFM uses it).
//
// Thread safety: an Encoder is immutable after load(); forward() may run concurrently from
// several threads (each call allocates its own activations). Inference runs without autograd.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musefm/encoder_config.h"
#include "musefm/enum_names.h"
#include "musefm/error.h"

namespace musefm {

/// Arithmetic of inference. fp32: everything in float32. bf16: matrix products (linear layers,
/// convolutions, attention) in bfloat16 with float32 accumulation, norms, softmax statistics and
/// the feature front-ends in float32 (libtorch autocast; AVX-512 BF16 / AMX through oneDNN on
/// CPU); fp16: the same in float16, CUDA only; int8 (CPU only): the linear layers of the
/// transformer stack with int8 weights (per output channel, symmetric) and dynamically quantised
/// uint8 activations (per call), int32 accumulation (libtorch's FBGEMM quantized linear), the
/// rest as bf16. Hidden states are returned as float32 always.
enum class Precision { Fp32, Bf16, Fp16, Int8 };
MUSEFM_ENUM_NAMES(Precision, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"},
                  {Precision::Fp16, "fp16"}, {Precision::Int8, "int8"});

class Encoder {
 public:
  /// Loads `model_dir`/config.json and `model_dir`/model.safetensors onto `device`; files listed
  /// in `model_dir`/checksums.json are verified first (musefm/default_model.h).
  static Encoder load(const std::string& model_dir, const std::string& device = "cpu");
  /// The model musefm ships (default_model_dir(): models/musefm-small), checksums verified.
  static Encoder load_default(const std::string& device = "cpu");
  /// Builds an encoder from a config and named weights (HF names); `source` names them in errors.
  static Encoder from_weights(const EncoderConfig& config,
                              const std::map<std::string, at::Tensor>& weights,
                              const std::string& device = "cpu",
                              const std::string& source = "weights");

  /// Hidden states for a [B, L] (or [L]) float waveform at config().sample_rate, unpadded:
  /// num_hidden_layers + 1 tensors of [B, T, hidden_size] (index 0 = transformer input as HF
  /// defines it, last = final layer).
  /// `num_states` > 0 returns only the first that many states and skips the layers above them
  /// (e.g. 8 for MusicFM's recommended layer 7).
  std::vector<at::Tensor> forward(const at::Tensor& waveform, int num_states = 0) const;
  /// Hidden states of waveforms of different lengths ([L_i] each) in one padded pass:
  /// result[i][s] is [T_i, hidden_size] and equals forward(waveforms[i])[s][0] up to float
  /// rounding — padding never leaks in (MERT's layer-0 GroupNorm counts each item's own frames,
  /// padded frames are zeroed before every convolution that could read them and masked out of
  /// attention; MusicFM's mel is computed per item).
  std::vector<std::vector<at::Tensor>> forward_batch(const std::vector<at::Tensor>& waveforms,
                                                     int num_states = 0) const;
  /// Output of the convolutional front-end: MERT [B, T, conv_dim.back()]; MusicFM the
  /// subsampled, projected mel [B, T, hidden_size].
  at::Tensor extract_features(const at::Tensor& waveform) const;
  /// Frames produced for `num_samples` input samples.
  int64_t num_frames(int64_t num_samples) const;
  const EncoderConfig& config() const;

  /// The same model (weights shared) running at `precision`. Throws musefm::Error naming the
  /// precision and what the model's device supports (fp16 needs CUDA, int8 the CPU and an
  /// x86 int8 engine in libtorch). int8 quantises and packs the linear weights here, once, and
  /// does not keep their float copies; going back to fp32 / bf16 from an int8 encoder returns
  /// the encoder it came from, which must still exist (else a clear error: load it again).
  Encoder with_precision(Precision precision) const;
  Precision precision() const { return precision_; }
  /// Where the weights live: "cpu", "cuda:0", ...
  std::string device() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
  Precision precision_ = Precision::Fp32;
};

}  // namespace musefm
