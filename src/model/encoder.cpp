// Encoder facade: loading a model directory, device placement, input checks.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <filesystem>

#include "features/tensor_util.h"
#include "model/mert.h"
#include "model/weights.h"
#include "musefm/encoder.h"
#include "musefm/safetensors.h"

namespace musefm {

struct Encoder::Impl {
  EncoderConfig config;
  model_detail::Weights weights;
  at::Device device{at::kCPU};
};

Encoder Encoder::from_weights(const EncoderConfig& config,
                              const std::map<std::string, at::Tensor>& weights,
                              const std::string& device, const std::string& source) {
  config.validate();
  MUSEFM_CHECK(config.model_type == "mert", source, ": model_type '", config.model_type,
               "' is not supported by this version of musefm (only \"mert\")");
  const at::Device dev(device);
  MUSEFM_CHECK(dev.is_cpu() || (dev.is_cuda() && at::hasCUDA()), "device '", device,
               "': ", dev.is_cuda() ? "no CUDA device is available" : "unsupported device type");
  model_detail::Weights w = weights;
  model_detail::fold_weight_norm(w, "encoder.pos_conv_embed.conv", /*dim=*/2, source);
  std::set<std::string> optional;
  const auto shapes = model_detail::mert_weight_shapes(config, optional);
  auto impl = std::make_shared<Impl>();
  impl->config = config;
  impl->device = dev;
  impl->weights = model_detail::checked_weights(w, shapes, optional, dev, source);
  Encoder e;
  e.impl_ = std::move(impl);
  return e;
}

Encoder Encoder::load(const std::string& model_dir, const std::string& device) {
  namespace fs = std::filesystem;
  MUSEFM_CHECK(fs::is_directory(model_dir), "model directory '", model_dir, "' does not exist");
  const EncoderConfig config = EncoderConfig::load((fs::path(model_dir) / "config.json").string());
  const std::string weights_path = (fs::path(model_dir) / "model.safetensors").string();
  const SafeTensorsFile file = SafeTensorsFile::open(weights_path);
  std::map<std::string, at::Tensor> weights;
  for (const auto& t : file.tensors()) weights[t.name] = file.get(t.name);
  return from_weights(config, weights, device, weights_path);
}

const EncoderConfig& Encoder::config() const { return impl_->config; }

int64_t Encoder::num_frames(int64_t n) const {
  return model_detail::mert_num_frames(impl_->config, n);
}

namespace {
// Receptive field of one output frame of the conv stack (MERT-v1: 400 samples).
int64_t min_samples(const EncoderConfig& c) {
  int64_t r = 1;
  for (size_t i = c.conv_kernel.size(); i-- > 0;) r = (r - 1) * c.conv_stride[i] + c.conv_kernel[i];
  return r;
}

at::Tensor prepared(const Encoder::Impl& impl, const at::Tensor& waveform, int64_t min_samples) {
  bool unbatched = false;
  at::Tensor x = features_detail::as_batch(waveform, "Encoder", unbatched);
  MUSEFM_CHECK(x.size(1) >= min_samples, "Encoder: input of ", x.size(1),
               " samples is shorter than one frame (", min_samples, " samples)");
  return x.to(impl.device, at::kFloat);
}
}  // namespace

at::Tensor Encoder::extract_features(const at::Tensor& waveform) const {
  c10::InferenceMode inference;
  return model_detail::mert_extract_features(
      impl_->config, impl_->weights, prepared(*impl_, waveform, min_samples(impl_->config)));
}

std::vector<at::Tensor> Encoder::forward(const at::Tensor& waveform) const {
  c10::InferenceMode inference;
  return model_detail::mert_forward(impl_->config, impl_->weights,
                                    prepared(*impl_, waveform, min_samples(impl_->config)));
}

}  // namespace musefm
