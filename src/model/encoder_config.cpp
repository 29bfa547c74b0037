// EncoderConfig presets, validation and JSON. Every preset value is taken from the published
// model's config (sources in the comments; see also shared reference models.md sections 1-2).
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/config_fields.h"
#include "model/family_config.h"
#include "musefm/encoder_config.h"

namespace musefm {

MUSEFM_CONFIG_FIELDS(EncoderConfig, "EncoderConfig", model_type, sample_rate, conv_dim, conv_kernel,
                     conv_stride, conv_bias, feat_extract_norm, feat_proj_layer_norm,
                     num_conv_pos_embeddings, num_conv_pos_embedding_groups, hidden_size,
                     num_hidden_layers, num_attention_heads, intermediate_size, layer_norm_eps,
                     do_stable_layer_norm, hidden_act, attention, n_mels, mel_n_fft, mel_hop_length,
                     mel_mean, mel_std, conv_subsampling_channels, conv_depthwise_kernel_size,
                     rotary_embedding_base, hybrid_features, hybrid_fusion);

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

namespace {
// The tiny test models' transformer: 2 layers x 64, 4 heads.
EncoderConfig tiny(EncoderConfig c) {
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  return c;
}
}  // namespace

EncoderConfig EncoderConfig::tiny_mert() {
  EncoderConfig c = tiny(EncoderConfig{});
  c.conv_dim = {32, 32, 32, 32, 32, 32, 32};
  c.num_conv_pos_embeddings = 16;
  c.num_conv_pos_embedding_groups = 4;
  return c;
}

EncoderConfig EncoderConfig::tiny_musicfm() {
  EncoderConfig c = tiny(musicfm_25hz());
  c.n_mels = 32;
  c.conv_subsampling_channels = 16;
  c.conv_depthwise_kernel_size = 7;
  return c;
}

double EncoderConfig::frame_rate() const { return model_detail::family_frame_rate(*this); }

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
  model_detail::validate_for_family(*this);
}

MUSEFM_CONFIG_JSON(EncoderConfig);

EncoderConfig EncoderConfig::load(const std::string& path) {
  return detail::load_config_file<EncoderConfig>(path);
}

}  // namespace musefm
