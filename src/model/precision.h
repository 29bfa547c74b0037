// Internal: autocast scopes for Encoder's precision (musefm/encoder.h, Precision).
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>

#include "musefm/encoder.h"

namespace musefm::model_detail {

/// Autocast on `device` at `precision` for one forward pass (nothing for fp32); restores the
/// caller's autocast state.
class PrecisionScope {
 public:
  PrecisionScope(at::Device device, Precision precision)
      : PrecisionScope(device.type(), precision != Precision::Fp32,
                       precision == Precision::Fp16 ? at::kHalf : at::kBFloat16,
                       precision != Precision::Fp32) {}
  ~PrecisionScope() {
    if (!active_) return;
    if (nest_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
  }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

  /// float32 inside a lower-precision pass: the feature front-ends (mel, CQT) whose logs and
  /// spectra bf16 would round.
  static PrecisionScope float32(at::DeviceType type) {
    return PrecisionScope(type, false, at::kFloat, at::autocast::is_autocast_enabled(type));
  }

 private:
  PrecisionScope(at::DeviceType type, bool enable, at::ScalarType dtype, bool active)
      : type_(type), active_(active), nest_(enable) {
    if (!active_) return;
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    was_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_enabled(type_, enable);
    if (enable) {
      at::autocast::set_autocast_dtype(type_, dtype);
      at::autocast::increment_nesting();
    }
  }
  at::DeviceType type_;
  bool active_ = false, nest_ = false, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace musefm::model_detail
