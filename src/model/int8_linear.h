// Internal: the int8 linear layers of Precision::Int8 (musefm/encoder.h). Each transformer
// linear layer's weight is quantised once, per output channel and symmetrically to int8 (as
// PyTorch's default dynamic-quantisation weight observer), and packed for libtorch's
// quantized::linear_dynamic (FBGEMM on x86): activations are quantised per call to uint8 with
// their own range (reduce_range, as torch.ao's dynamic Linear), products accumulate in int32,
// the bias is added in float32 and the result is float32.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <map>
#include <string>
#include <vector>

#include "model/weights.h"

namespace musefm::model_detail {

class Int8Linears {
 public:
  /// Quantises and packs every linear layer of the encoder stack in `w`: a 2-D "<p>.weight"
  /// with a "<p>.bias" whose name contains "layers." (the front-ends and feature projections
  /// stay in floating point). Throws musefm::Error when this libtorch has no int8 CPU engine.
  explicit Int8Linears(const Weights& w);
  /// Packed layer `prefix`, or nullptr when it was not quantised.
  const c10::IValue* find(const std::string& prefix) const;
  /// y = x W^T + b through the packed layer: x float [..., in] on the CPU -> float [..., out].
  static at::Tensor apply(const c10::IValue& packed, const at::Tensor& x);
  size_t size() const { return packed_.size(); }
  /// Prefixes of the layers held as int8.
  std::vector<std::string> prefixes() const;

 private:
  std::map<std::string, c10::IValue> packed_;
};

/// Per-output-channel symmetric int8 quantisation of a float [out, in] weight (qint8, zero
/// point 0, scale max|w_row| / 127.5).
at::Tensor quantize_weight_int8(const at::Tensor& weight);

/// Whether this build of libtorch can run int8 linear layers on this CPU (an x86 / FBGEMM or
/// oneDNN quantisation engine); `why` receives the reason when not.
bool int8_supported(std::string* why = nullptr);

}  // namespace musefm::model_detail
