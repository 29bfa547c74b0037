// "key=value" overrides of a config, as the CLI's --set gives them. The value is parsed as JSON
// (numbers, true/false, arrays, quoted strings) and otherwise taken as a bare string
// (pad_mode=constant); "section.key=value" reaches into a nested object (optim.lr=1e-3). The
// config's from_json() then checks keys, types and ranges, so an unknown key or a bad value is
// an error naming the config and the key.
//
//   auto mel = musefm::with_overrides(musefm::MelConfig::musicfm(), {"n_mels=64"});
#pragma once

#include <string>
#include <vector>

namespace musefm {

/// `config_json` (a JSON object) with every override applied, as pretty-printed JSON.
std::string apply_overrides(const std::string& config_json,
                            const std::vector<std::string>& overrides);

/// `base` with the overrides applied (through Config::to_json / Config::from_json).
template <typename Config>
Config with_overrides(const Config& base, const std::vector<std::string>& overrides) {
  if (overrides.empty()) return base;
  return Config::from_json(apply_overrides(base.to_json(), overrides));
}

}  // namespace musefm
