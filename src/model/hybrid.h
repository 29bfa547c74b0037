// Internal: the hybrid front-end (config hybrid_features / hybrid_fusion) — CQT and/or log-mel
// frames, log-compressed, interpolated at the conv frames' centres and fused with the CNN
// features before the feature projection. Off in the published models; for pretraining.
//
//   concat:  [cnn | LN(cqt) | LN(mel)] -> feature_projection (its LayerNorm and Linear widen)
//   add:     cnn + Linear(LN(cqt)) + Linear(LN(mel)) -> feature_projection (unchanged widths)
//
// Weights: hybrid.{cqt,mel}.layer_norm.{weight,bias} and, with "add",
// hybrid.{cqt,mel}.projection.{weight,bias} (conv_dim.back() x feature dims).
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "model/weights.h"
#include "musefm/features.h"

namespace musefm::model_detail {

/// Per-frame extra features [B, T, dims] aligned to the conv frames (undefined when off).
struct HybridInputs {
  at::Tensor cqt, mel;
};

class HybridFrontEnd {
 public:
  explicit HybridFrontEnd(const EncoderConfig& c);
  bool enabled() const { return cqt_ || mel_; }
  /// Features of an unpadded batch [B, L] at the `frames` conv frame centres.
  HybridInputs operator()(const at::Tensor& x, int64_t frames) const;

 private:
  EncoderConfig config_;
  std::shared_ptr<NnAudioCqt> cqt_;
  std::shared_ptr<MelSpectrogram> mel_;
};

/// The encoder's log-mel front-end (torchaudio MelSpectrogram + dB at n_mels, mel_n_fft,
/// mel_hop_length); MusicFM drops the last frame, the hybrid branch keeps it.
MelConfig encoder_mel_config(const EncoderConfig& c, bool drop_last_frame);

/// Extra widths of the features entering the projection (concat: CQT bins + mels; add: 0).
int64_t hybrid_concat_width(const EncoderConfig& c);
/// Adds the hybrid weights to a MERT weight spec.
void add_hybrid_weights(const EncoderConfig& c, WeightSpec& spec);
/// Fuses CNN features [B, T, C] with the hybrid inputs (no-op when off).
at::Tensor fuse_hybrid(const EncoderConfig& c, const Weights& w, const at::Tensor& cnn,
                       const HybridInputs& in);

}  // namespace musefm::model_detail
