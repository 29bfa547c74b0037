#include <cmath>
#include <nlohmann/json.hpp>

#include "core/config_fields.h"
#include "musefm/extract.h"

namespace musefm {

namespace detail {
template <>
struct ConfigFields<ExtractConfig> {
  static constexpr const char* name = "ExtractConfig";
  template <typename C, typename V>
  static void visit(C& c, V& v) {
    v("layers", c.layers);
    v("layer_weights", c.layer_weights);
    v("pool", c.pool);
    v("window_s", c.window_s);
    v("hop_s", c.hop_s);
    v("batch", c.batch);
  }
};
}  // namespace detail

void ExtractConfig::validate() const {
  const char* w = "ExtractConfig";
  MUSEFM_CHECK(!layers.empty(), w,
               ".layers is empty (use \"all\", \"weighted\" or e.g. \"0,6,12\")");
  MUSEFM_CHECK(layer_weights.empty() || layers == "weighted", w,
               ".layer_weights needs layers = \"weighted\"");
  double sum = 0;
  for (double v : layer_weights) {
    MUSEFM_CHECK(std::isfinite(v) && v >= 0, w, ".layer_weights must be finite and >= 0, got ", v);
    sum += v;
  }
  MUSEFM_CHECK(layer_weights.empty() || sum > 0, w, ".layer_weights must not all be zero");
  MUSEFM_CHECK(std::isfinite(window_s) && window_s >= 0 && window_s <= 86400, w,
               ".window_s must be in [0, 86400] seconds (0 = whole input), got ", window_s);
  MUSEFM_CHECK(std::isfinite(hop_s) && hop_s >= 0 && (window_s == 0 || hop_s <= window_s), w,
               ".hop_s must be in [0, window_s] (0 = window_s), got ", hop_s);
  MUSEFM_CHECK(hop_s == 0 || window_s > 0, w, ".hop_s needs a window (window_s > 0)");
  MUSEFM_CHECK(batch >= 1 && batch <= 4096, w, ".batch must be in [1, 4096], got ", batch);
}

std::string ExtractConfig::to_json() const { return detail::config_to_json(*this); }

ExtractConfig ExtractConfig::from_json(const std::string& text) {
  return detail::config_from_json<ExtractConfig>(text);
}

}  // namespace musefm
