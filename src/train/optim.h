// Internal: AdamW (torch.optim.AdamW's fused update, one pass per tensor), the learning-rate
// schedules of the fairseq recipes, and gradient-norm clipping.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <string>
#include <utility>
#include <vector>

#include "musefm/train.h"

namespace musefm::train_detail {

using Named = std::vector<std::pair<std::string, at::Tensor>>;

/// Learning rate of update number `update` (1-based): linear warmup to optim.lr over
/// warmup_steps, then polynomial (fairseq polynomial_decay) or cosine decay to end_lr at
/// max_steps, or constant.
double learning_rate(const PretrainOptimConfig& o, int64_t update);

class AdamW {
 public:
  AdamW(const PretrainOptimConfig& o, const Named& params);
  /// One update with the parameters' .grad() (float32, same device) at learning rate `lr`.
  void step(double lr);
  /// exp_avg / exp_avg_sq per parameter ("adam_m/<name>", "adam_v/<name>") and the step count.
  Named state() const;
  void load_state(const std::map<std::string, at::Tensor>& tensors, int64_t steps);
  int64_t steps() const { return steps_; }

 private:
  PretrainOptimConfig o_;
  Named params_;
  std::vector<at::Tensor> m_, v_, step_;  ///< step_: per-tensor step counts (fused kernel)
  int64_t steps_ = 0;
};

/// L2 norm of all gradients (per-tensor norms, combined in float64); NaN/Inf when any gradient
/// is not finite.
double gradient_norm(const Named& params);
/// Scales every gradient by `factor`.
void scale_gradients(const Named& params, double factor);

}  // namespace musefm::train_detail
