// Internal: what differs between model families (MERT, MusicFM), behind the one interface that
// Encoder and the pretraining model use. A family lives in its own file and is registered by
// model_type in family.cpp; nothing else tests model_type.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "model/forward_context.h"
#include "model/weights.h"
#include "musefm/encoder_config.h"

namespace musefm::model_detail {

/// Projections the forward pass reads fused (one GEMM): `<prefix><part>.{weight,bias}` of every
/// part, concatenated along dim 0 as `<prefix><fused>.{weight,bias}`. Training keeps them fused.
struct FusedProjection {
  std::string prefix, fused;
  std::vector<std::string> parts;
};

/// A weight stored as weight norm (`<prefix>.weight_g` / `.weight_v`, the norm over every dim
/// but `dim`) in checkpoints and in training; the forward pass reads the folded `.weight`.
struct WeightNormed {
  std::string prefix;
  int64_t dim = 0;
};

/// One model's forward pass: the family's front-end (waveform -> features) and encoder stack.
/// Built once per model (it owns the front-end's transforms, e.g. a mel spectrogram); the
/// weights come with every call. Front-end transforms without weights run without autograd.
class FamilyForward {
 public:
  virtual ~FamilyForward() = default;
  /// Front-end features [B, T, C] of an unpadded waveform batch [B, L].
  virtual at::Tensor features(const Weights& w, const at::Tensor& x,
                              const ForwardContext& ctx) const = 0;
  /// num_hidden_layers + 1 hidden states [B, T, H] of an unpadded batch [B, L]; `num_states`
  /// > 0 stops after that many (the layers above are not computed).
  virtual std::vector<at::Tensor> forward(const Weights& w, const at::Tensor& x,
                                          const ForwardContext& ctx, int num_states = 0) const = 0;
  /// Hidden states of 1-D waveforms of different lengths, right-padded to the longest: item b's
  /// first `frames[b]` frames equal those of its own unpadded pass. Runs on `device`.
  virtual std::vector<at::Tensor> forward_padded(const Weights& w,
                                                 const std::vector<at::Tensor>& waveforms,
                                                 const std::vector<int64_t>& frames,
                                                 const at::Device& device,
                                                 const ForwardContext& ctx,
                                                 int num_states) const = 0;
};

/// A model family: its checkpoint layout, frame grid and forward pass. Stateless.
class ModelFamily {
 public:
  virtual ~ModelFamily() = default;
  /// Every tensor a checkpoint with this config holds.
  virtual WeightSpec weight_spec(const EncoderConfig& c) const = 0;
  /// Weights kept as weight norm in checkpoints and in training (folded on load).
  virtual std::vector<WeightNormed> weight_norms(const EncoderConfig&) const { return {}; }
  /// Projections read fused, one entry per layer.
  virtual std::vector<FusedProjection> fused_projections(const EncoderConfig& c) const = 0;
  /// Output frames per second.
  virtual double frame_rate(const EncoderConfig& c) const = 0;
  /// Checks of the config that only this family makes (after the generic ones).
  virtual void validate(const EncoderConfig&) const {}
  /// Output frames for `samples` input samples.
  virtual int64_t num_frames(const EncoderConfig& c, int64_t samples) const = 0;
  /// Shortest input that gives one frame.
  virtual int64_t min_samples(const EncoderConfig& c) const = 0;
  /// Width of the front-end features (FamilyForward::features).
  virtual int64_t feature_channels(const EncoderConfig& c) const = 0;
  /// Pretraining with a learned mask embedding: its weight's name, applied through
  /// ForwardContext::after_projection; "" when the family masks the waveform instead.
  virtual std::string mask_embedding() const { return ""; }
  /// Whether the forward pass fills ForwardContext::features_out (the features_pen term).
  virtual bool feature_tap() const { return false; }
  virtual std::unique_ptr<FamilyForward> forward_pass(const EncoderConfig& c) const = 0;
};

/// The family of `c.model_type`; throws musefm::Error for an unknown one.
const ModelFamily& family_for(const EncoderConfig& c);

/// Adds the fused projections to `w` (the parts stay).
void fuse_projections(const std::vector<FusedProjection>& fused, Weights& w);

}  // namespace musefm::model_detail
