// EncodecConfig: validation, JSON and the frame / codebook arithmetic of encodec 0.1.1
// (encodec/model.py EncodecModel.frame_rate, quantization/vq.py
// get_num_quantizers_for_bandwidth). Defaults: EncodecModel.encodec_model_24khz() (shared
// reference models.md section 4).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/config_fields.h"
#include "musefm/codec.h"

namespace musefm {

int64_t EncodecConfig::hop_length() const {
  int64_t hop = 1;
  for (int r : ratios) hop *= r;
  return hop;
}

int EncodecConfig::frame_rate() const {
  const int64_t hop = hop_length();
  return int((sample_rate + hop - 1) / hop);  // math.ceil(sample_rate / prod(ratios))
}

int EncodecConfig::num_codebooks(double bandwidth_kbps) const {
  MUSEFM_CHECK(std::isfinite(bandwidth_kbps) && bandwidth_kbps > 0, "EnCodec: bandwidth ",
               bandwidth_kbps, " kbps is not a positive number (the model's targets: 1.5 to ",
               target_bandwidths.empty() ? 0.0 : target_bandwidths.back(), " kbps)");
  // Same float operations as encodec: bw_per_q = log2(bins) * frame_rate / 1000.
  const double per_codebook = std::log2(double(bins)) * frame_rate() / 1000.0;
  const double n = std::max(1.0, std::floor(bandwidth_kbps / per_codebook));
  return n >= double(n_q) ? n_q : int(n);  // the layer slice [:n] caps it at n_q
}

int64_t EncodecConfig::num_frames(int64_t num_samples) const {
  const int64_t hop = hop_length();
  return (num_samples + hop - 1) / hop;
}

namespace detail {
template <>
struct ConfigFields<EncodecConfig> {
  static constexpr const char* name = "EncodecConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("model_type", c.model_type);
    v("sample_rate", c.sample_rate);
    v("channels", c.channels);
    v("n_filters", c.n_filters);
    v("ratios", c.ratios);
    v("dimension", c.dimension);
    v("n_residual_layers", c.n_residual_layers);
    v("lstm_layers", c.lstm_layers);
    v("kernel_size", c.kernel_size);
    v("last_kernel_size", c.last_kernel_size);
    v("residual_kernel_size", c.residual_kernel_size);
    v("dilation_base", c.dilation_base);
    v("compress", c.compress);
    v("causal", c.causal);
    v("pad_mode", c.pad_mode);
    v("true_skip", c.true_skip);
    v("n_q", c.n_q);
    v("bins", c.bins);
    v("target_bandwidths", c.target_bandwidths);
  }
};
}  // namespace detail

void EncodecConfig::validate() const {
  const char* w = "EncodecConfig";
  MUSEFM_CHECK(model_type == "encodec", w, ".model_type must be \"encodec\", got \"", model_type,
               "\"");
  MUSEFM_CHECK(sample_rate > 0, w, ".sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(channels == 1, w, ".channels: only mono models are supported, got ", channels);
  MUSEFM_CHECK(n_filters > 0 && dimension > 0, w, ": n_filters and dimension must be positive");
  MUSEFM_CHECK(!ratios.empty() && ratios.size() <= 16, w,
               ".ratios must hold 1 to 16 down-sampling ratios");
  for (int r : ratios) MUSEFM_CHECK(r > 0, w, ".ratios must be positive, got ", r);
  MUSEFM_CHECK(hop_length() <= sample_rate, w, ": hop (product of ratios, ", hop_length(),
               ") exceeds the sample rate");
  MUSEFM_CHECK(int64_t(n_filters) << ratios.size() <= (int64_t(1) << 20), w,
               ": n_filters * 2^stages is too wide");
  MUSEFM_CHECK(n_residual_layers >= 0 && n_residual_layers <= 16, w,
               ".n_residual_layers must be in [0, 16], got ", n_residual_layers);
  MUSEFM_CHECK(lstm_layers >= 0 && lstm_layers <= 16, w, ".lstm_layers must be in [0, 16], got ",
               lstm_layers);
  MUSEFM_CHECK(kernel_size > 0 && last_kernel_size > 0 && residual_kernel_size > 0, w,
               ": kernel sizes must be positive");
  MUSEFM_CHECK(dilation_base > 0, w, ".dilation_base must be positive, got ", dilation_base);
  MUSEFM_CHECK(compress > 0 && compress <= n_filters, w, ".compress (", compress,
               ") must be in [1, n_filters = ", n_filters, "]");
  MUSEFM_CHECK(n_q > 0, w, ".n_q must be positive, got ", n_q);
  MUSEFM_CHECK(bins >= 2 && (bins & (bins - 1)) == 0, w, ".bins must be a power of 2, got ", bins);
  for (double bw : target_bandwidths)
    MUSEFM_CHECK(std::isfinite(bw) && bw > 0, w, ".target_bandwidths must be positive, got ", bw);
}

std::string EncodecConfig::to_json() const { return detail::config_to_json(*this); }

EncodecConfig EncodecConfig::from_json(const std::string& text) {
  return detail::config_from_json<EncodecConfig>(text);
}

EncodecConfig EncodecConfig::load(const std::string& path) {
  return detail::load_config_file<EncodecConfig>(path);
}

}  // namespace musefm
