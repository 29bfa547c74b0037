// ProbeConfig: validation and strict JSON round-trip.
#include <cmath>

#include "core/config_fields.h"
#include "musefm/probe.h"

namespace musefm {
namespace {
bool positive_finite(double v) { return std::isfinite(v) && v > 0; }
}  // namespace

MUSEFM_CONFIG_FIELDS(ProbeConfig, "probe config", probe, l2_grid, lbfgs_max_iter, lbfgs_tol, hidden,
                     dropout, lr_grid, batch_size, max_epochs, early_stop_patience, lr_patience,
                     lr_factor, seed, device);

void ProbeConfig::validate() const {
  const char* p = "probe config: ";
  MUSEFM_CHECK(!l2_grid.empty(), p, "l2_grid is empty");
  for (double v : l2_grid)
    MUSEFM_CHECK(positive_finite(v), p, "l2_grid: ", v, " is not a positive number");
  MUSEFM_CHECK(lbfgs_max_iter >= 1, p, "lbfgs_max_iter must be >= 1");
  MUSEFM_CHECK(positive_finite(lbfgs_tol), p, "lbfgs_tol must be > 0");
  MUSEFM_CHECK(hidden >= 1 && hidden <= 65536, p, "hidden must be in [1, 65536], got ", hidden);
  MUSEFM_CHECK(std::isfinite(dropout) && dropout >= 0 && dropout < 1, p,
               "dropout must be in [0, 1), got ", dropout);
  MUSEFM_CHECK(!lr_grid.empty(), p, "lr_grid is empty");
  for (double v : lr_grid)
    MUSEFM_CHECK(positive_finite(v) && v < 10, p, "lr_grid: ", v, " is not in (0, 10)");
  MUSEFM_CHECK(batch_size >= 1, p, "batch_size must be >= 1");
  MUSEFM_CHECK(max_epochs >= 1, p, "max_epochs must be >= 1");
  MUSEFM_CHECK(early_stop_patience >= 1, p, "early_stop_patience must be >= 1");
  MUSEFM_CHECK(lr_patience >= 0, p, "lr_patience must be >= 0");
  MUSEFM_CHECK(std::isfinite(lr_factor) && lr_factor > 0 && lr_factor < 1, p,
               "lr_factor must be in (0, 1), got ", lr_factor);
  MUSEFM_CHECK(device == "cpu" || device.rfind("cuda", 0) == 0, p, "device '", device,
               "' is not cpu, cuda or cuda:N");
}

std::string ProbeConfig::to_json() const { return detail::fields_to_json(*this).dump(); }

ProbeConfig ProbeConfig::from_json(const std::string& json) {
  return detail::config_from_json<ProbeConfig>(json);
}

}  // namespace musefm
