// Encoder configuration: the one struct that describes a MERT- or MusicFM-style model. It is
// the `config.json` of a model directory (next to `model.safetensors`), stored in every
// checkpoint and embedding sidecar. Field names follow the Hugging Face Hubert /
// Wav2Vec2-Conformer configs where one exists, so converted checkpoints map one to one.
//
//   musefm::EncoderConfig c = musefm::EncoderConfig::mert_v1_95m();
//   c.validate();                                   // throws musefm::Error naming the field
//   std::string text = c.to_json();                 // round-trips through from_json()
//   auto same = musefm::EncoderConfig::from_json(text);   // unknown keys are rejected
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "musefm/enum_names.h"
#include "musefm/error.h"

namespace musefm {

/// The model family: HuBERT-style waveform CNN + transformer, or mel + Res2d + conformer.
enum class ModelType { Mert, MusicFm };
MUSEFM_ENUM_NAMES(ModelType, {ModelType::Mert, "mert"}, {ModelType::MusicFm, "musicfm"});
/// MERT conv front-end normalisation: GroupNorm on layer 0 only, or LayerNorm on every layer.
enum class FeatExtractNorm { Group, Layer };
MUSEFM_ENUM_NAMES(FeatExtractNorm, {FeatExtractNorm::Group, "group"},
                  {FeatExtractNorm::Layer, "layer"});
/// Feed-forward activation: GELU (erf form) or swish / SiLU.
enum class Activation { Gelu, Swish };
MUSEFM_ENUM_NAMES(Activation, {Activation::Gelu, "gelu"}, {Activation::Swish, "swish"});
/// Attention implementation (kernels/attention.h); all give the same result.
enum class AttentionImpl { Fused, Sdpa, Naive };
MUSEFM_ENUM_NAMES(AttentionImpl, {AttentionImpl::Fused, "fused"}, {AttentionImpl::Sdpa, "sdpa"},
                  {AttentionImpl::Naive, "naive"});
/// Spectral features fed to a MERT model beside its CNN features.
enum class HybridFeatures { None, Cqt, Mel, CqtMel };
MUSEFM_ENUM_NAMES(HybridFeatures, {HybridFeatures::None, "none"}, {HybridFeatures::Cqt, "cqt"},
                  {HybridFeatures::Mel, "mel"}, {HybridFeatures::CqtMel, "cqt+mel"});
/// How hybrid features join the CNN features.
enum class HybridFusion { Concat, Add };
MUSEFM_ENUM_NAMES(HybridFusion, {HybridFusion::Concat, "concat"}, {HybridFusion::Add, "add"});

struct EncoderConfig {
  /// "mert" (HuBERT-style waveform CNN + transformer) or "musicfm" (mel + Res2d conv
  /// subsampling + conformer).
  ModelType model_type = ModelType::Mert;
  int sample_rate = 24000;  ///< Hz; input audio is resampled to this (MERT-v1, MusicFM: 24 kHz)

  // ---- MERT conv feature extractor (HF HubertFeatureEncoder) --------------------------------
  std::vector<int> conv_dim{512, 512, 512, 512, 512, 512, 512};  ///< channels per conv layer
  std::vector<int> conv_kernel{10, 3, 3, 3, 3, 2, 2};            ///< kernel widths (samples)
  std::vector<int> conv_stride{5, 2, 2, 2, 2, 2, 2};             ///< strides: hop 320 = 75 Hz
  bool conv_bias = false;                                        ///< MERT-v1: false
  FeatExtractNorm feat_extract_norm = FeatExtractNorm::Group;    ///< group (layer 0) or layer
  bool feat_proj_layer_norm = true;        ///< LayerNorm before the feature projection
  int num_conv_pos_embeddings = 128;       ///< positional conv kernel (weight-normed, dim 2)
  int num_conv_pos_embedding_groups = 16;  ///< positional conv groups

  // ---- transformer / conformer ------------------------------------------------------------
  int hidden_size = 768;                     ///< model width (95M: 768, 330M / MusicFM: 1024)
  int num_hidden_layers = 12;                ///< layers (95M: 12, 330M: 24, MusicFM: 12)
  int num_attention_heads = 12;              ///< heads (head dim 64 in all published models)
  int intermediate_size = 3072;              ///< FFN width (4 x hidden)
  double layer_norm_eps = 1e-5;              ///< all LayerNorms
  bool do_stable_layer_norm = false;         ///< pre-LN (MERT-330M: true) vs post-LN (95M: false)
  Activation hidden_act = Activation::Gelu;  ///< gelu (MERT, erf form) or swish (MusicFM)
  /// "fused" (musefm's flash kernels, kernels/attention.h), "sdpa"
  /// (at::scaled_dot_product_attention) or "naive"; all give the same result.
  AttentionImpl attention = AttentionImpl::Fused;

  // ---- MusicFM front-end and conformer (minzwon/musicfm) ----------------------------------
  int n_mels = 128;                     ///< mel bands of the front-end
  int mel_n_fft = 2048;                 ///< mel FFT size
  int mel_hop_length = 240;             ///< 100 Hz mel frames
  double mel_mean = 0.0;                ///< global normalisation from the checkpoint's stats json
  double mel_std = 1.0;                 ///< (melspec_2048_mean / melspec_2048_std)
  int conv_subsampling_channels = 512;  ///< Res2d blocks' channels (two stride-2 blocks: 25 Hz)
  int conv_depthwise_kernel_size = 31;  ///< conformer convolution module kernel
  double rotary_embedding_base = 10000.0;  ///< RoPE base

  // ---- hybrid front-end (MERT family; off in the published models; for pretraining) --------
  // CQT (MERT's 336-bin nnAudio CQT, log magnitude) and/or log-mel frames (n_mels, mel_n_fft,
  // mel_hop_length), linearly interpolated at the centres of the conv frames, each through its
  // own LayerNorm, then fused with the CNN features before the feature projection:
  //   concat: [cnn | cqt | mel] -> feature_projection (its LayerNorm / Linear grow to match)
  //   add:    cnn + Linear(cqt) + Linear(mel)  (weights hybrid.{cqt,mel}.{layer_norm,projection})
  HybridFeatures hybrid_features = HybridFeatures::None;  ///< none, cqt, mel or cqt+mel
  HybridFusion hybrid_fusion = HybridFusion::Concat;      ///< concat or add

  /// m-a-p/MERT-v1-95M (HF config.json): post-LN, 12 x 768.
  static EncoderConfig mert_v1_95m();
  /// m-a-p/MERT-v1-330M: pre-LN, 24 x 1024, 16 heads.
  static EncoderConfig mert_v1_330m();
  /// minzwon/musicfm 25 Hz: 12-layer conformer, 1024 wide, rotary attention.
  static EncoderConfig musicfm_25hz();
  /// Small MERT-style model for tests and CPU demos (2 layers x 64, 4 heads).
  static EncoderConfig tiny_mert();
  /// Small MusicFM-style model for tests.
  static EncoderConfig tiny_musicfm();

  /// Output frames per second (MERT: sample_rate / prod(conv_stride); MusicFM: mel rate / 4).
  double frame_rate() const;
  /// Number of hidden states forward() returns (num_hidden_layers + 1).
  int num_hidden_states() const { return num_hidden_layers + 1; }

  void validate() const;
  std::string to_json() const;
  static EncoderConfig from_json(const std::string& json);
  /// Reads and parses a config file; errors name the file.
  static EncoderConfig load(const std::string& path);
};

}  // namespace musefm
