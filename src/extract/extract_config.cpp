#include <cmath>
#include <nlohmann/json.hpp>

#include "core/config_fields.h"
#include "musefm/extract.h"

namespace musefm {

MUSEFM_CONFIG_FIELDS(ExtractConfig, "ExtractConfig", layers, layer_weights, pool, window_s, hop_s,
                     batch, precision, resample);

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

MUSEFM_CONFIG_JSON(ExtractConfig);

}  // namespace musefm
