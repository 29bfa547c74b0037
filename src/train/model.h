// Internal: the trainable masked-prediction model — encoder parameters (HF / MusicFM names,
// q/k/v trained fused, MERT's positional conv as weight norm g / v), prediction heads, the CQT
// head, and the loss of one micro-batch.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/family.h"
#include "model/weights.h"
#include "musefm/features.h"
#include "musefm/teachers.h"
#include "musefm/train.h"

namespace musefm::train_detail {

using Named = std::vector<std::pair<std::string, at::Tensor>>;

/// Global normalisers of one update (every rank computes the same values from the plan).
struct LossScale {
  double masked = 1;         ///< masked frames over all ranks and micro-batches of the update
  double feature_elems = 1;  ///< conv feature elements over the update (features_pen mean)
};

/// Sums of one micro-batch on one rank (all-reduced for logging).
struct LossSums {
  at::Tensor values;  ///< float64 [2 C + 2]: CE sum per codebook, correct per codebook,
                      ///< CQT squared error / bins, features_pen sum
};

class PretrainModel {
 public:
  PretrainModel(const PretrainConfig& c, std::vector<int64_t> codebook_sizes, at::Device device);
  /// HF-style initialisation from `seed` (drawn on the CPU, so equal on every device).
  void init(uint64_t seed);
  /// Trainable tensors, sorted by name (leaves with requires_grad).
  Named& params() { return params_; }
  /// BatchNorm running statistics (MusicFM).
  Named& buffers() { return buffers_; }
  /// Loss of this rank's share (already divided by the global normalisers) and its sums.
  std::pair<at::Tensor, LossSums> forward(const at::Tensor& audio, const at::Tensor& clean,
                                          const std::vector<at::Tensor>& targets,
                                          const at::Tensor& mask, const LossScale& scale,
                                          bool training) const;
  /// Encoder weights under the names Encoder::load expects (q/k/v split, weight_g / weight_v).
  model_detail::Weights encoder_weights() const;
  /// Names of the logged sums, in LossSums order.
  std::vector<std::string> sum_names() const;
  int64_t conv_channels() const;
  const std::vector<int64_t>& codebook_sizes() const { return k_; }

 private:
  model_detail::Weights current_weights() const;
  at::Tensor encode(const at::Tensor& audio, const at::Tensor& mask, int64_t frames,
                    const model_detail::ForwardContext& ctx, at::Tensor* features) const;

  const PretrainConfig& c_;
  std::vector<int64_t> k_;
  at::Device device_;
  Named params_, buffers_;
  std::map<std::string, at::Tensor> by_name_;
  const model_detail::ModelFamily& family_;
  std::shared_ptr<const model_detail::FamilyForward> pass_;  ///< front-end + encoder stack
  std::optional<CqtTarget> cqt_;
};

/// Trainable parameter shapes of the encoder (+ heads) for a config, and the buffers.
std::map<std::string, std::vector<int64_t>> trainable_shapes(
    const PretrainConfig& c, const std::vector<int64_t>& k,
    std::map<std::string, std::vector<int64_t>>* buffers);

}  // namespace musefm::train_detail
