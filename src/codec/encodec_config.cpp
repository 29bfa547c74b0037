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

MUSEFM_CONFIG_FIELDS(EncodecConfig, "EncodecConfig", model_type, sample_rate, channels, n_filters,
                     ratios, dimension, n_residual_layers, lstm_layers, kernel_size,
                     last_kernel_size, residual_kernel_size, dilation_base, compress, causal,
                     pad_mode, true_skip, n_q, bins, target_bandwidths);

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

MUSEFM_CONFIG_JSON(EncodecConfig);

EncodecConfig EncodecConfig::load(const std::string& path) {
  return detail::load_config_file<EncodecConfig>(path);
}

}  // namespace musefm
