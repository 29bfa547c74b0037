// Internal: AdamW (torch.optim.AdamW's fused update, one pass per tensor) and gradient-norm
// clipping helpers, used by pretraining (train/) and the probes' MLP (probe/).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace musefm::detail {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// torch.optim.AdamW's hyper-parameters (the learning rate is given to each step).
struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

class AdamW {
 public:
  AdamW(const AdamWOptions& o, const NamedTensors& params);
  /// One update with the parameters' .grad() (float32, same device) at learning rate `lr`.
  void step(double lr);
  /// exp_avg / exp_avg_sq per parameter ("adam_m/<name>", "adam_v/<name>") and the step count.
  NamedTensors state() const;
  void load_state(const std::map<std::string, at::Tensor>& tensors, int64_t steps);
  int64_t steps() const { return steps_; }

 private:
  AdamWOptions o_;
  NamedTensors params_;
  std::vector<at::Tensor> m_, v_, step_;  ///< step_: per-tensor step counts (fused kernel)
  int64_t steps_ = 0;
};

/// L2 norm of all gradients (per-tensor norms, combined in float64); NaN/Inf when any gradient
/// is not finite.
double gradient_norm(const NamedTensors& params);
/// Scales every gradient by `factor`.
void scale_gradients(const NamedTensors& params, double factor);

}  // namespace musefm::detail
