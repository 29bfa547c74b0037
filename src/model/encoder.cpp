// Encoder facade: loading a model directory, device placement, input checks.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "features/tensor_util.h"
#include "model/mert.h"
#include "model/musicfm.h"
#include "model/weights.h"
#include "musefm/default_model.h"
#include "musefm/encoder.h"
#include "musefm/features.h"
#include "musefm/safetensors.h"

namespace musefm {

struct Encoder::Impl {
  EncoderConfig config;
  model_detail::Weights weights;
  at::Device device{at::kCPU};
  std::optional<MelSpectrogram> mel;                   ///< MusicFM front-end
  std::optional<model_detail::HybridFrontEnd> hybrid;  ///< MERT + CQT / mel frames

  bool musicfm() const { return config.model_type == "musicfm"; }
  /// MusicFM: normalised log-mel [B, n_mels, T] (last frame dropped, checkpoint mean/std).
  at::Tensor normalised_mel(const at::Tensor& x) const {
    return ((*mel)(x)-config.mel_mean) / config.mel_std;
  }
};

Encoder Encoder::from_weights(const EncoderConfig& config,
                              const std::map<std::string, at::Tensor>& weights,
                              const std::string& device, const std::string& source) {
  config.validate();
  const at::Device dev = model_detail::checked_device(device);
  model_detail::Weights w = weights;
  auto impl = std::make_shared<Impl>();
  impl->config = config;
  impl->device = dev;
  if (impl->musicfm()) {
    impl->weights =
        model_detail::checked_weights(w, model_detail::musicfm_weight_spec(config), dev, source);
    model_detail::musicfm_fuse_projections(config, impl->weights);
    impl->mel.emplace(model_detail::encoder_mel_config(config, true));
  } else {
    model_detail::fold_weight_norm(w, "encoder.pos_conv_embed.conv", /*dim=*/2, source);
    impl->weights =
        model_detail::checked_weights(w, model_detail::mert_weight_spec(config), dev, source);
    model_detail::mert_fuse_projections(config, impl->weights);
    if (config.hybrid_features != "none") impl->hybrid.emplace(config);
  }
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

Encoder Encoder::load_default(const std::string& device) {
  return load(default_model_dir(), device);
}

const EncoderConfig& Encoder::config() const { return impl_->config; }

int64_t Encoder::num_frames(int64_t n) const {
  return impl_->musicfm() ? model_detail::musicfm_num_frames(impl_->config, n)
                          : model_detail::mert_num_frames(impl_->config, n);
}

namespace {
const model_detail::ForwardContext& inference_context() {
  return model_detail::ForwardContext::inference();
}

// Shortest input giving one frame (MERT-v1: the conv stack's receptive field, 400 samples).
int64_t min_samples(const EncoderConfig& c) {
  if (c.model_type == "musicfm") return model_detail::musicfm_min_samples(c);
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
  const at::Tensor x = prepared(*impl_, waveform, min_samples(impl_->config));
  if (impl_->musicfm())
    return model_detail::musicfm_subsample(impl_->config, impl_->weights, impl_->normalised_mel(x),
                                           inference_context());
  return model_detail::mert_extract_features(impl_->config, impl_->weights, x, inference_context());
}

std::vector<at::Tensor> Encoder::forward(const at::Tensor& waveform, int num_states) const {
  c10::InferenceMode inference;
  const at::Tensor x = prepared(*impl_, waveform, min_samples(impl_->config));
  if (impl_->musicfm()) {
    const at::Tensor sub = model_detail::musicfm_subsample(
        impl_->config, impl_->weights, impl_->normalised_mel(x), inference_context());
    return model_detail::musicfm_conformer(impl_->config, impl_->weights, sub, inference_context(),
                                           {}, num_states);
  }
  model_detail::HybridInputs extra;
  if (impl_->hybrid) extra = (*impl_->hybrid)(x, num_frames(x.size(1)));
  return model_detail::mert_forward(impl_->config, impl_->weights, x, inference_context(), {},
                                    extra, num_states);
}

std::vector<std::vector<at::Tensor>> Encoder::forward_batch(
    const std::vector<at::Tensor>& waveforms, int num_states) const {
  c10::InferenceMode inference;
  const EncoderConfig& c = impl_->config;
  MUSEFM_CHECK(!waveforms.empty(), "Encoder::forward_batch: no waveforms");
  const int64_t B = int64_t(waveforms.size()), need = min_samples(c);
  std::vector<int64_t> lengths, frames;
  for (const auto& wav : waveforms) {
    MUSEFM_CHECK(wav.dim() == 1, "Encoder::forward_batch: each waveform must be 1-D [L], got ",
                 wav.dim(), " dims");
    MUSEFM_CHECK(wav.size(0) >= need, "Encoder::forward_batch: input of ", wav.size(0),
                 " samples is shorter than one frame (", need, " samples)");
    lengths.push_back(wav.size(0));
    frames.push_back(num_frames(wav.size(0)));
  }
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  const auto opts = at::TensorOptions(impl_->device).dtype(at::kFloat);
  std::vector<at::Tensor> states;
  if (impl_->musicfm()) {
    // The mel front-end runs per item (its centred STFT reflects at each item's own end).
    std::vector<at::Tensor> mels;
    std::vector<int64_t> mel_frames;
    for (const auto& wav : waveforms) {
      mels.push_back(impl_->normalised_mel(wav.to(impl_->device, at::kFloat).unsqueeze(0))[0]);
      mel_frames.push_back(mels.back().size(1));
    }
    const int64_t T = *std::max_element(mel_frames.begin(), mel_frames.end());
    at::Tensor mel = at::zeros({B, c.n_mels, T}, opts);
    for (int64_t b = 0; b < B; ++b)
      mel[b].narrow(1, 0, mel_frames[size_t(b)]).copy_(mels[size_t(b)]);
    const at::Tensor sub =
        model_detail::musicfm_subsample(c, impl_->weights, mel, inference_context(), mel_frames);
    states = model_detail::musicfm_conformer(c, impl_->weights, sub, inference_context(), frames,
                                             num_states);
  } else {
    at::Tensor x = at::zeros({B, longest}, opts);
    for (int64_t b = 0; b < B; ++b)
      x[b].narrow(0, 0, lengths[size_t(b)]).copy_(waveforms[size_t(b)]);
    model_detail::HybridInputs extra;
    if (impl_->hybrid) {  // per item (centred frames reflect at each item's end), then padded
      const int64_t T = *std::max_element(frames.begin(), frames.end());
      const auto pad = [&](at::Tensor& all, const at::Tensor& one, int64_t b) {
        if (!one.defined()) return;
        if (!all.defined()) all = at::zeros({B, T, one.size(2)}, opts);
        all[b].narrow(0, 0, one.size(1)).copy_(one[0]);
      };
      for (int64_t b = 0; b < B; ++b) {
        const auto one = (*impl_->hybrid)(
            waveforms[size_t(b)].to(impl_->device, at::kFloat).unsqueeze(0), frames[size_t(b)]);
        pad(extra.cqt, one.cqt, b);
        pad(extra.mel, one.mel, b);
      }
    }
    states = model_detail::mert_forward(c, impl_->weights, x, inference_context(), lengths, extra,
                                        num_states);
  }
  std::vector<std::vector<at::Tensor>> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    for (const auto& s : states) out[size_t(b)].push_back(s[b].narrow(0, 0, frames[size_t(b)]));
  return out;
}

}  // namespace musefm
