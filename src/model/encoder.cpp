// Encoder facade: loading a model directory, device placement, input checks.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/device.h"
#include "core/tensor_util.h"
#include "model/family.h"
#include "model/int8_linear.h"
#include "model/precision.h"
#include "model/weights.h"
#include "musefm/default_model.h"
#include "musefm/encoder.h"
#include "musefm/safetensors.h"

namespace musefm {

struct Encoder::Impl {
  EncoderConfig config;
  const model_detail::ModelFamily* family = nullptr;
  model_detail::Weights weights;
  at::Device device{at::kCPU};
  std::unique_ptr<const model_detail::FamilyForward> pass;  ///< front-end + encoder stack
  std::shared_ptr<const model_detail::Int8Linears> int8;    ///< Precision::Int8 only
  std::weak_ptr<const Impl> float_parent;  ///< int8: the encoder whose float weights it dropped
};

Encoder Encoder::from_weights(const EncoderConfig& config,
                              const std::map<std::string, at::Tensor>& weights,
                              const std::string& device, const std::string& source) {
  config.validate();
  const at::Device dev = detail::checked_device(device);
  const model_detail::ModelFamily& family = model_detail::family_for(config);
  model_detail::Weights w = weights;
  for (const auto& wn : family.weight_norms(config))
    model_detail::fold_weight_norm(w, wn.prefix, wn.dim, source);
  auto impl = std::make_shared<Impl>();
  impl->config = config;
  impl->family = &family;
  impl->device = dev;
  impl->weights = model_detail::checked_weights(w, family.weight_spec(config), dev, source);
  model_detail::fuse_projections(family.fused_projections(config), impl->weights);
  impl->pass = family.forward_pass(config);
  Encoder e;
  e.impl_ = std::move(impl);
  return e;
}

Encoder Encoder::load(const std::string& model_dir, const std::string& device) {
  const model_detail::ModelDirPaths files = model_detail::model_dir_paths(model_dir);
  verify_model_checksums(model_dir);
  return from_weights(EncoderConfig::load(files.config), model_detail::read_weights(files.weights),
                      device, files.weights);
}

std::string Encoder::device() const { return impl_->device.str(); }

Encoder Encoder::load_default(const std::string& device) {
  return load(default_model_dir(), device);
}

const EncoderConfig& Encoder::config() const { return impl_->config; }

int64_t Encoder::num_frames(int64_t n) const { return impl_->family->num_frames(impl_->config, n); }

namespace {
// The inference context: no dropout or taps; the int8 layers when the precision asks for them.
model_detail::ForwardContext inference(const Encoder::Impl& impl, Precision precision) {
  model_detail::ForwardContext ctx;
  if (precision == Precision::Int8) ctx.int8 = impl.int8.get();
  return ctx;
}

std::vector<at::Tensor> as_float(std::vector<at::Tensor> states) {
  for (auto& s : states)
    if (s.scalar_type() != at::kFloat) s = s.to(at::kFloat);
  return states;
}

at::Tensor prepared(const Encoder::Impl& impl, const at::Tensor& waveform) {
  bool unbatched = false;
  at::Tensor x = detail::as_batch(waveform, "Encoder", unbatched);
  const int64_t min_samples = impl.family->min_samples(impl.config);
  MUSEFM_CHECK(x.size(1) >= min_samples, "Encoder: input of ", x.size(1),
               " samples is shorter than one frame (", min_samples, " samples)");
  return x.to(impl.device, at::kFloat);
}
}  // namespace

Encoder Encoder::with_precision(Precision precision) const {
  MUSEFM_CHECK(precision != Precision::Fp16 || impl_->device.is_cuda(),
               "precision fp16 needs a CUDA device (the model is on ", impl_->device.str(),
               "); on CPU use fp32, bf16 or int8");
  MUSEFM_CHECK(precision != Precision::Int8 || impl_->device.is_cpu(),
               "precision int8 runs on the CPU only (the model is on ", impl_->device.str(),
               "); on CUDA use bf16 or fp16");
  Encoder e = *this;
  e.precision_ = precision;
  if (precision == Precision::Int8 && !impl_->int8) {
    // Weights shared, except the float copies of the layers now held as int8 (not kept, so
    // that int8 needs less memory than fp32 once the float encoder is gone).
    auto impl = std::make_shared<Impl>();
    impl->config = impl_->config;
    impl->family = impl_->family;
    impl->weights = impl_->weights;
    impl->device = impl_->device;
    impl->pass = impl->family->forward_pass(impl->config);
    auto int8 = std::make_shared<const model_detail::Int8Linears>(impl->weights);
    for (const std::string& p : int8->prefixes()) impl->weights.erase(p + ".weight");
    impl->int8 = std::move(int8);
    impl->float_parent = impl_;
    e.impl_ = std::move(impl);
  } else if (precision != Precision::Int8 && impl_->int8) {
    std::shared_ptr<const Impl> parent = impl_->float_parent.lock();
    MUSEFM_CHECK(parent != nullptr, "precision ", to_string(precision),
                 ": this int8 encoder keeps only int8 copies of its linear layers and the "
                 "encoder it came from is gone; load the model again for float arithmetic");
    e.impl_ = std::move(parent);
  }
  return e;
}

at::Tensor Encoder::extract_features(const at::Tensor& waveform) const {
  c10::InferenceMode inference_mode;
  const at::Tensor x = prepared(*impl_, waveform);
  model_detail::PrecisionScope scope(impl_->device, precision_);
  return impl_->pass->features(impl_->weights, x, inference(*impl_, precision_)).to(at::kFloat);
}

std::vector<at::Tensor> Encoder::forward(const at::Tensor& waveform, int num_states) const {
  c10::InferenceMode inference_mode;
  const at::Tensor x = prepared(*impl_, waveform);
  model_detail::PrecisionScope scope(impl_->device, precision_);
  return as_float(
      impl_->pass->forward(impl_->weights, x, inference(*impl_, precision_), num_states));
}

std::vector<std::vector<at::Tensor>> Encoder::forward_batch(
    const std::vector<at::Tensor>& waveforms, int num_states) const {
  c10::InferenceMode inference_mode;
  MUSEFM_CHECK(!waveforms.empty(), "Encoder::forward_batch: no waveforms");
  const int64_t B = int64_t(waveforms.size()), need = impl_->family->min_samples(impl_->config);
  std::vector<int64_t> frames;
  for (const auto& wav : waveforms) {
    MUSEFM_CHECK(wav.dim() == 1, "Encoder::forward_batch: each waveform must be 1-D [L], got ",
                 wav.dim(), " dims");
    MUSEFM_CHECK(wav.size(0) >= need, "Encoder::forward_batch: input of ", wav.size(0),
                 " samples is shorter than one frame (", need, " samples)");
    frames.push_back(num_frames(wav.size(0)));
  }
  model_detail::PrecisionScope scope(impl_->device, precision_);
  const std::vector<at::Tensor> states = as_float(impl_->pass->forward_padded(
      impl_->weights, waveforms, frames, impl_->device, inference(*impl_, precision_), num_states));
  std::vector<std::vector<at::Tensor>> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    for (const auto& s : states) out[size_t(b)].push_back(s[b].narrow(0, 0, frames[size_t(b)]));
  return out;
}

}  // namespace musefm
