// Internal: how one forward pass of an encoder runs, passed explicitly down the MERT / MusicFM
// forward functions. Inference (what Encoder uses) is the default; pretraining fills in the
// training flag, its dropouts and the taps / hook it needs.
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace musefm::model_detail {

class Int8Linears;

struct ForwardContext {
  bool training = false;  ///< dropout active, BatchNorm on batch statistics (running stats updated)
  double dropout = 0, attention_dropout = 0, activation_dropout = 0, dropout_input = 0;
  double layerdrop = 0;                ///< chance a transformer layer is skipped (training)
  double feature_grad_mult = 1;        ///< gradient scale into MERT's conv front-end
  at::Tensor* features_out = nullptr;  ///< tap: receives MERT's conv features [B, T, C]
  /// Hook on the projected features before the encoder layers (MERT: the mask embedding).
  std::function<at::Tensor(const at::Tensor&)> after_projection;
  /// Precision::Int8: the packed int8 linear layers of the encoder stack (model/int8_linear.h).
  const Int8Linears* int8 = nullptr;

  /// The inference context: no dropout, BatchNorm on running statistics, no taps or hooks.
  static const ForwardContext& inference() {
    static const ForwardContext c;
    return c;
  }
};

}  // namespace musefm::model_detail
