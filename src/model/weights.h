// Internal: named model weights — expected shapes per architecture, weight-norm folding and a
// strict check that reports every missing, unexpected and mis-shaped tensor at once.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "musefm/config.h"

namespace musefm::model_detail {

using Weights = std::map<std::string, at::Tensor>;

/// Shapes of every parameter of a MERT (HF Hubert) model with this config; `optional` gets
/// names that may be absent (training-only tensors).
std::map<std::string, std::vector<int64_t>> mert_weight_shapes(const EncoderConfig& c,
                                                               std::set<std::string>& optional);

/// Replaces `<prefix>.weight_g/_v` or `<prefix>.parametrizations.weight.original0/1` by the
/// folded `<prefix>.weight` = g * v / ||v||, the norm taken over every dim except `dim`.
void fold_weight_norm(Weights& w, const std::string& prefix, int64_t dim,
                      const std::string& source);

/// Checks `w` against `shapes`; throws one musefm::Error listing all problems. Returns the
/// weights converted to float32 on `device` (optional tensors dropped if unused).
Weights checked_weights(const Weights& w, const std::map<std::string, std::vector<int64_t>>& shapes,
                        const std::set<std::string>& optional, const at::Device& device,
                        const std::string& source);

}  // namespace musefm::model_detail
