// Internal: the MusicFM 25 Hz forward pass (minzwon/musicfm) as functional ATen ops (used
// through its ModelFamily, model/family.h).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/forward_context.h"
#include "model/weights.h"

namespace musefm::model_detail {

/// Every parameter and buffer of a MusicFM checkpoint with this config. Unused at inference
/// (checked, then dropped): mel buffers, BEST-RQ quantizer, prediction head, cls_token and the
/// positional conv that the conformer never applies.
WeightSpec musicfm_weight_spec(const EncoderConfig& c);

/// Conv subsampling: normalised log-mel [B, n_mels, T] -> [B, T', hidden] (after conv.linear).
/// `mel_frames` (per item, empty = all T) marks right-padded items whose padding is zero; their
/// real frames equal those of the unpadded item.
at::Tensor musicfm_subsample(const EncoderConfig& c, const Weights& w, const at::Tensor& mel,
                             const ForwardContext& ctx,
                             const std::vector<int64_t>& mel_frames = {});
/// Conformer: subsampled [B, T', H] -> num_hidden_layers + 1 hidden states (input of every
/// layer, then the final layer_norm output), as Wav2Vec2ConformerEncoder(output_hidden_states).
/// `frames` (per item, empty = all T') masks padded keys and the depthwise conv's input.
/// `num_states` > 0 stops after that many hidden states.
std::vector<at::Tensor> musicfm_conformer(const EncoderConfig& c, const Weights& w,
                                          const at::Tensor& x, const ForwardContext& ctx,
                                          const std::vector<int64_t>& frames = {},
                                          int num_states = 0);
/// Output frames for `n` samples: floor(n / hop) mel frames, halved (ceil) twice.
int64_t musicfm_num_frames(const EncoderConfig& c, int64_t n);
/// Shortest input that gives one frame (the centred STFT's reflect padding needs n > n_fft/2).
int64_t musicfm_min_samples(const EncoderConfig& c);

}  // namespace musefm::model_detail
