// Learning-rate schedules, and AdamW options from a recipe.
#include "train/optim.h"

#include <cmath>

namespace musefm::train_detail {

double learning_rate(const PretrainOptimConfig& o, int64_t update) {
  const double u = double(update);
  if (o.warmup_steps > 0 && update <= o.warmup_steps) return o.lr * u / double(o.warmup_steps);
  if (o.schedule == LrSchedule::Constant) return o.lr;
  const double span = double(o.max_steps - o.warmup_steps);
  const double progress = span > 0 ? std::min(1.0, (u - double(o.warmup_steps)) / span) : 1.0;
  if (o.schedule == LrSchedule::Cosine)
    return o.end_lr + 0.5 * (o.lr - o.end_lr) * (1.0 + std::cos(M_PI * progress));
  return o.end_lr + (o.lr - o.end_lr) * std::pow(1.0 - progress, o.power);  // polynomial
}

AdamWOptions adamw_options(const PretrainOptimConfig& o) {
  return {o.beta1, o.beta2, o.eps, o.weight_decay};
}

}  // namespace musefm::train_detail
