// Int8 linear layers through libtorch's quantized::linear_prepack / linear_dynamic, called
// through the dispatcher (the packed weights stay an opaque IValue).
#include "model/int8_linear.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>

#include "musefm/error.h"

namespace musefm::model_detail {
namespace {

c10::OperatorHandle op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

bool int8_supported(std::string* why) {
  const auto engines = at::globalContext().supportedQEngines();
  const bool ok = std::any_of(engines.begin(), engines.end(), [](at::QEngine e) {
    return e == at::QEngine::FBGEMM || e == at::QEngine::X86 || e == at::QEngine::ONEDNN;
  });
  if (!ok && why) *why = "this libtorch has no x86 int8 engine (FBGEMM / oneDNN)";
  if (ok && !c10::Dispatcher::singleton().findSchema({"quantized::linear_dynamic", ""})) {
    if (why) *why = "this libtorch has no quantized::linear_dynamic operator";
    return false;
  }
  return ok;
}

at::Tensor quantize_weight_int8(const at::Tensor& weight) {
  MUSEFM_CHECK(weight.dim() == 2, "int8: a linear weight must be 2-D, got ", weight.dim(), " dims");
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  const at::Tensor scale =
      (w.abs().amax(1).to(at::kDouble) / 127.5).clamp_min(1.1920928955078125e-07);
  const at::Tensor zero = at::zeros({w.size(0)}, at::kLong);
  return at::quantize_per_channel(w, scale, zero, 0, at::kQInt8);
}

Int8Linears::Int8Linears(const Weights& w) {
  std::string why;
  MUSEFM_CHECK(int8_supported(&why), "precision int8: ", why, "; use --precision bf16 or fp32");
  const c10::OperatorHandle prepack = op("quantized::linear_prepack");
  for (const auto& [name, t] : w) {
    if (!ends_with(name, ".weight") || t.dim() != 2) continue;
    const std::string p = name.substr(0, name.size() - 7);
    const auto bias = w.find(p + ".bias");
    if (bias == w.end() || p.find("layers.") == std::string::npos) continue;
    MUSEFM_CHECK(t.device().is_cpu(), "precision int8 runs on the CPU; '", p, "' is on ",
                 t.device().str(), " (use bf16 or fp16 on CUDA)");
    std::vector<c10::IValue> stack{quantize_weight_int8(t),
                                   std::optional<at::Tensor>(bias->second.to(at::kFloat))};
    prepack.callBoxed(&stack);
    packed_.emplace(p, std::move(stack.at(0)));
  }
}

const c10::IValue* Int8Linears::find(const std::string& prefix) const {
  const auto it = packed_.find(prefix);
  return it == packed_.end() ? nullptr : &it->second;
}

std::vector<std::string> Int8Linears::prefixes() const {
  std::vector<std::string> out;
  for (const auto& entry : packed_) out.push_back(entry.first);
  return out;
}

at::Tensor Int8Linears::apply(const c10::IValue& packed, const at::Tensor& x) {
  static const c10::OperatorHandle linear = op("quantized::linear_dynamic");
  std::vector<c10::IValue> stack{x.to(at::kFloat).contiguous(), packed, /*reduce_range=*/true};
  linear.callBoxed(&stack);
  return stack.at(0).toTensor();
}

}  // namespace musefm::model_detail
