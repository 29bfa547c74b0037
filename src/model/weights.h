// Internal: named model weights — expected shapes per architecture, weight-norm folding and a
// strict check that reports every missing, unexpected and mis-shaped tensor at once.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "musefm/encoder_config.h"

namespace musefm::model_detail {

using Weights = std::map<std::string, at::Tensor>;

/// What a checkpoint must hold: every tensor's shape (a dim of -1 matches any size), the names
/// that may be absent, and the names that are checked but not kept (training-only tensors,
/// buffers the forward pass does not read).
struct WeightSpec {
  std::map<std::string, std::vector<int64_t>> shapes;
  std::set<std::string> optional;
  std::set<std::string> unused;
};

/// Every parameter of a MERT (HF Hubert) model with this config.
WeightSpec mert_weight_spec(const EncoderConfig& c);

/// Replaces `<prefix>.weight_g/_v` or `<prefix>.parametrizations.weight.original0/1` by the
/// folded `<prefix>.weight` = g * v / ||v||, the norm taken over every dim except `dim`.
void fold_weight_norm(Weights& w, const std::string& prefix, int64_t dim,
                      const std::string& source);

/// Checks `w` against `spec`; throws one musefm::Error listing all problems. Returns the used
/// weights converted to float32 on `device`.
Weights checked_weights(const Weights& w, const WeightSpec& spec, const at::Device& device,
                        const std::string& source);

/// The files of a model directory: <dir>/config.json and <dir>/model.safetensors. Throws when
/// the directory does not exist.
struct ModelDirPaths {
  std::string config, weights;
};
ModelDirPaths model_dir_paths(const std::string& dir);

/// Every tensor of a safetensors file whose name `keep` accepts (all of them without `keep`).
Weights read_weights(const std::string& path,
                     const std::function<bool(const std::string&)>& keep = {});

}  // namespace musefm::model_detail
