// EncoderConfig presets, validation and JSON. Every preset value is taken from the published
// model's config (sources in the comments; see also shared reference models.md sections 1-2).
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/config_fields.h"
#include "musefm/encoder_config.h"

namespace musefm {

namespace detail {
template <>
struct ConfigFields<EncoderConfig> {
  static constexpr const char* name = "EncoderConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("model_type", c.model_type);
    v("sample_rate", c.sample_rate);
    v("conv_dim", c.conv_dim);
    v("conv_kernel", c.conv_kernel);
    v("conv_stride", c.conv_stride);
    v("conv_bias", c.conv_bias);
    v("feat_extract_norm", c.feat_extract_norm);
    v("feat_proj_layer_norm", c.feat_proj_layer_norm);
    v("num_conv_pos_embeddings", c.num_conv_pos_embeddings);
    v("num_conv_pos_embedding_groups", c.num_conv_pos_embedding_groups);
    v("hidden_size", c.hidden_size);
    v("num_hidden_layers", c.num_hidden_layers);
    v("num_attention_heads", c.num_attention_heads);
    v("intermediate_size", c.intermediate_size);
    v("layer_norm_eps", c.layer_norm_eps);
    v("do_stable_layer_norm", c.do_stable_layer_norm);
    v("hidden_act", c.hidden_act);
    v("attention", c.attention);
    v("n_mels", c.n_mels);
    v("mel_n_fft", c.mel_n_fft);
    v("mel_hop_length", c.mel_hop_length);
    v("mel_mean", c.mel_mean);
    v("mel_std", c.mel_std);
    v("conv_subsampling_channels", c.conv_subsampling_channels);
    v("conv_depthwise_kernel_size", c.conv_depthwise_kernel_size);
    v("rotary_embedding_base", c.rotary_embedding_base);
    v("hybrid_features", c.hybrid_features);
    v("hybrid_fusion", c.hybrid_fusion);
  }
};
}  // namespace detail

EncoderConfig EncoderConfig::mert_v1_95m() {
  return EncoderConfig{};  // defaults = m-a-p/MERT-v1-95M config.json
}

EncoderConfig EncoderConfig::mert_v1_330m() {
  EncoderConfig c;  // m-a-p/MERT-v1-330M config.json
  c.hidden_size = 1024;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 16;
  c.intermediate_size = 4096;
  c.do_stable_layer_norm = true;  // fairseq layer_norm_first: true
  return c;
}

EncoderConfig EncoderConfig::musicfm_25hz() {
  EncoderConfig c;  // minzwon/musicfm model/musicfm_25hz.py + Wav2Vec2-Conformer rope-large
  c.model_type = ModelType::MusicFm;
  c.hidden_size = 1024;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 16;
  c.intermediate_size = 4096;
  c.hidden_act = Activation::Swish;
  c.do_stable_layer_norm = true;
  // mel_mean / mel_std come from the checkpoint's stats json (the converter fills them).
  return c;
}

EncoderConfig EncoderConfig::tiny_mert() {
  EncoderConfig c;
  c.conv_dim = {32, 32, 32, 32, 32, 32, 32};
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.num_conv_pos_embeddings = 16;
  c.num_conv_pos_embedding_groups = 4;
  return c;
}

EncoderConfig EncoderConfig::tiny_musicfm() {
  EncoderConfig c = musicfm_25hz();
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.n_mels = 32;
  c.conv_subsampling_channels = 16;
  c.conv_depthwise_kernel_size = 7;
  return c;
}

double EncoderConfig::frame_rate() const {
  if (model_type == ModelType::MusicFm) return double(sample_rate) / mel_hop_length / 4.0;
  const int64_t hop =
      std::accumulate(conv_stride.begin(), conv_stride.end(), int64_t(1), std::multiplies<>());
  return double(sample_rate) / double(hop);
}

void EncoderConfig::validate() const {
  const char* w = "EncoderConfig";
  MUSEFM_CHECK(sample_rate > 0, w, ".sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(!conv_dim.empty() && conv_dim.size() == conv_kernel.size() &&
                   conv_dim.size() == conv_stride.size(),
               w, ": conv_dim, conv_kernel and conv_stride need the same non-zero length (",
               conv_dim.size(), ", ", conv_kernel.size(), ", ", conv_stride.size(), ")");
  for (size_t i = 0; i < conv_dim.size(); ++i)
    MUSEFM_CHECK(conv_dim[i] > 0 && conv_kernel[i] > 0 && conv_stride[i] > 0, w, ": conv layer ", i,
                 " needs positive dim, kernel and stride");
  MUSEFM_CHECK(
      hidden_size > 0 && num_hidden_layers > 0 && num_attention_heads > 0 && intermediate_size > 0,
      w,
      ": hidden_size, num_hidden_layers, num_attention_heads and intermediate_size "
      "must be positive");
  MUSEFM_CHECK(hidden_size % num_attention_heads == 0, w, ".hidden_size (", hidden_size,
               ") must be divisible by num_attention_heads (", num_attention_heads, ")");
  MUSEFM_CHECK(num_conv_pos_embeddings > 0 && num_conv_pos_embedding_groups > 0 &&
                   hidden_size % num_conv_pos_embedding_groups == 0,
               w, ".num_conv_pos_embedding_groups (", num_conv_pos_embedding_groups,
               ") must divide hidden_size (", hidden_size, ")");
  MUSEFM_CHECK(layer_norm_eps > 0 && layer_norm_eps < 1, w, ".layer_norm_eps must be in (0, 1)");
  MUSEFM_CHECK(n_mels > 0 && mel_n_fft >= 2 && mel_hop_length > 0, w,
               ": n_mels, mel_n_fft and mel_hop_length must be positive");
  MUSEFM_CHECK(mel_std > 0, w, ".mel_std must be positive, got ", mel_std);
  MUSEFM_CHECK(conv_subsampling_channels > 0, w, ".conv_subsampling_channels must be positive");
  MUSEFM_CHECK(conv_depthwise_kernel_size > 0 && conv_depthwise_kernel_size % 2 == 1, w,
               ".conv_depthwise_kernel_size must be odd, got ", conv_depthwise_kernel_size);
  MUSEFM_CHECK(rotary_embedding_base > 1, w, ".rotary_embedding_base must be > 1");
  if (model_type == ModelType::MusicFm) {
    MUSEFM_CHECK(hybrid_features == HybridFeatures::None, w,
                 ".hybrid_features applies to the MERT family (MusicFM is mel-based already)");
    MUSEFM_CHECK(n_mels % 4 == 0, w,
                 ".n_mels must be divisible by 4 for the two stride-2 "
                 "Res2d blocks, got ",
                 n_mels);
  }
}

std::string EncoderConfig::to_json() const { return detail::config_to_json(*this); }

EncoderConfig EncoderConfig::from_json(const std::string& text) {
  return detail::config_from_json<EncoderConfig>(text);
}

EncoderConfig EncoderConfig::load(const std::string& path) {
  return detail::load_config_file<EncoderConfig>(path);
}

}  // namespace musefm
