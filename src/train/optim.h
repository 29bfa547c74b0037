// Internal: the learning-rate schedules of the fairseq recipes, and AdamW (core/adamw.h) as a
// recipe configures it.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "core/adamw.h"
#include "musefm/train.h"

namespace musefm::train_detail {

using Named = detail::NamedTensors;
using detail::AdamW;
using detail::AdamWOptions;
using detail::gradient_norm;
using detail::scale_gradients;

/// Learning rate of update number `update` (1-based): linear warmup to optim.lr over
/// warmup_steps, then polynomial (fairseq polynomial_decay) or cosine decay to end_lr at
/// max_steps, or constant.
double learning_rate(const PretrainOptimConfig& o, int64_t update);

/// AdamW's hyper-parameters from the recipe (the learning rate is passed per step).
AdamWOptions adamw_options(const PretrainOptimConfig& o);

}  // namespace musefm::train_detail
