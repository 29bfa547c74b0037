// Internal: the MERT-v1 / HF Hubert forward pass as functional ATen ops over named weights.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/weights.h"

namespace musefm::model_detail {

/// Conv feature extractor: [B, L] -> [B, T, C].
at::Tensor mert_extract_features(const EncoderConfig& c, const Weights& w, const at::Tensor& x);
/// All hidden states (num_hidden_layers + 1 of [B, T, H]) for a [B, L] waveform.
std::vector<at::Tensor> mert_forward(const EncoderConfig& c, const Weights& w, const at::Tensor& x);
/// Frames for `n` samples: the conv stack's valid-convolution length.
int64_t mert_num_frames(const EncoderConfig& c, int64_t n);

}  // namespace musefm::model_detail
