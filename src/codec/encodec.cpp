// EncodecTeacher: loading a model dir, input checks, and the residual vector quantiser
// (encodec 0.1.1 quantization/core_vq.py EuclideanCodebook.quantize,
// ResidualVectorQuantization.encode).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <filesystem>

#include "codec/encodec_seanet.h"
#include "core/device.h"
#include "core/tensor_util.h"
#include "model/weights.h"
#include "musefm/codec.h"
#include "musefm/safetensors.h"

namespace musefm {

struct EncodecTeacher::Impl {
  EncodecConfig config;
  std::vector<codec_detail::SeanetLayer> layers;
  codec_detail::Weights weights;
  std::vector<at::Tensor> embed_t;   ///< per codebook: embed.t() [dimension, bins]
  std::vector<at::Tensor> embed_sq;  ///< per codebook: ||embed_k||^2 [1, bins]
  std::vector<at::Tensor> embed;     ///< per codebook: [bins, dimension]
  at::Device device{at::kCPU};
};

namespace {
// Drops what the encoder + quantiser never read: the decoder.
codec_detail::Weights without_decoder(const std::map<std::string, at::Tensor>& weights) {
  codec_detail::Weights w;
  for (const auto& [name, t] : weights)
    if (name.rfind("decoder.", 0) != 0) w[name] = t;
  return w;
}
}  // namespace

EncodecTeacher EncodecTeacher::from_weights(const EncodecConfig& config,
                                            const std::map<std::string, at::Tensor>& weights,
                                            const std::string& device, const std::string& source) {
  config.validate();
  const at::Device dev = detail::checked_device(device);
  auto impl = std::make_shared<Impl>();
  impl->config = config;
  impl->device = dev;
  impl->layers = codec_detail::seanet_layers(config);
  codec_detail::Weights w = without_decoder(weights);
  for (const auto& layer : impl->layers)
    for (const auto& conv : layer.convs)
      model_detail::fold_weight_norm(w, conv.prefix, /*dim=*/0, source);
  impl->weights = model_detail::checked_weights(
      w, codec_detail::encodec_weight_spec(config, impl->layers), dev, source);
  for (int q = 0; q < config.n_q; ++q) {
    const std::string p = "quantizer.vq.layers." + std::to_string(q) + "._codebook.";
    auto inited = impl->weights.find(p + "inited");
    if (inited != impl->weights.end()) {
      MUSEFM_CHECK(inited->second.item<float>() != 0, source, ": ", p, "inited is 0: codebook ", q,
                   " was never initialised (an untrained model?)");
      impl->weights.erase(inited);
    }
    const at::Tensor e = impl->weights.at(p + "embed");
    impl->embed.push_back(e);
    impl->embed_t.push_back(e.t());
    impl->embed_sq.push_back(e.t().pow(2).sum(0, /*keepdim=*/true));
  }
  EncodecTeacher t;
  t.impl_ = std::move(impl);
  return t;
}

EncodecTeacher EncodecTeacher::load(const std::string& model_dir, const std::string& device) {
  const model_detail::ModelDirPaths files = model_detail::model_dir_paths(model_dir);
  // The decoder is not needed to label audio.
  const auto encoder_side = [](const std::string& name) { return name.rfind("decoder.", 0) != 0; };
  return from_weights(EncodecConfig::load(files.config),
                      model_detail::read_weights(files.weights, encoder_side), device,
                      files.weights);
}

const EncodecConfig& EncodecTeacher::config() const { return impl_->config; }
int EncodecTeacher::num_codebooks(double bw) const { return impl_->config.num_codebooks(bw); }
int64_t EncodecTeacher::num_frames(int64_t n) const { return impl_->config.num_frames(n); }

at::Tensor EncodecTeacher::encode(const at::Tensor& wav, int64_t chunk_frames) const {
  c10::InferenceMode inference;
  bool unbatched = false;
  const at::Tensor x = detail::as_batch(wav, "EncodecTeacher", unbatched);
  return codec_detail::seanet_forward(impl_->config, impl_->layers, impl_->weights,
                                      x.to(impl_->device, at::kFloat).unsqueeze(1), chunk_frames);
}

at::Tensor EncodecTeacher::quantize(const at::Tensor& emb, double bandwidth_kbps) const {
  c10::InferenceMode inference;
  const EncodecConfig& c = impl_->config;
  const int n_q = c.num_codebooks(bandwidth_kbps);
  MUSEFM_CHECK(emb.defined() && emb.dim() == 3 && emb.size(1) == c.dimension,
               "EncodecTeacher::quantize: expected an encoder output [B, ", c.dimension,
               ", T], got ", emb.defined() ? emb.sizes() : at::IntArrayRef{});
  const int64_t B = emb.size(0), T = emb.size(2);
  // "b d n -> (b n) d", then per codebook: nearest code by max of -(|x|^2 - 2 x.E + |E|^2).
  at::Tensor residual = emb.to(impl_->device, at::kFloat).transpose(1, 2).reshape({B * T, -1});
  std::vector<at::Tensor> indices;
  for (int q = 0; q < n_q; ++q) {
    const at::Tensor dist =
        -(residual.pow(2).sum(1, /*keepdim=*/true) -
          2 * at::matmul(residual, impl_->embed_t[size_t(q)]) + impl_->embed_sq[size_t(q)]);
    indices.push_back(std::get<1>(dist.max(-1)));
    if (q + 1 < n_q) residual = residual - impl_->embed[size_t(q)].index_select(0, indices.back());
  }
  return at::stack(indices).view({n_q, B, T}).transpose(0, 1).contiguous();
}

at::Tensor EncodecTeacher::codes(const at::Tensor& wav, double bandwidth_kbps,
                                 int64_t chunk_frames) const {
  impl_->config.num_codebooks(bandwidth_kbps);  // reject a bad bandwidth before the encoder runs
  return quantize(encode(wav, chunk_frames), bandwidth_kbps);
}

}  // namespace musefm
