// Internal: the MERT-v1 / HF Hubert forward pass as functional ATen ops over named weights
// (used through its ModelFamily, model/family.h).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/forward_context.h"
#include "model/hybrid.h"
#include "model/weights.h"

namespace musefm::model_detail {

/// Conv feature extractor: [B, L] -> [B, T, C]. `lengths` (samples per item, empty = all L)
/// marks right-padded items; their real frames equal those of the unpadded item.
at::Tensor mert_extract_features(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                 const ForwardContext& ctx,
                                 const std::vector<int64_t>& lengths = {});
/// All hidden states (num_hidden_layers + 1 of [B, T, H]) for a [B, L] waveform; `lengths` as
/// above (padded frames are zeroed before the positional conv and masked out of attention).
/// `hybrid`: the hybrid front-end's features at the conv frames (config.hybrid_features).
/// `num_states` > 0 stops after that many hidden states (the layers above are not computed).
/// `ctx`: training flag and dropouts; its features_out tap receives the conv features (after
/// feature_grad_mult), its after_projection hook sees the projected features.
std::vector<at::Tensor> mert_forward(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                     const ForwardContext& ctx,
                                     const std::vector<int64_t>& lengths = {},
                                     const HybridInputs& hybrid = {}, int num_states = 0);
/// Frames for `n` samples: the conv stack's valid-convolution length.
int64_t mert_num_frames(const EncoderConfig& c, int64_t n);

}  // namespace musefm::model_detail
