// apply_overrides(): the one parser of --set key=value for every config.
#include "musefm/overrides.h"

#include <nlohmann/json.hpp>

#include "musefm/error.h"

namespace musefm {

std::string apply_overrides(const std::string& config_json,
                            const std::vector<std::string>& overrides) {
  using nlohmann::json;
  json root;
  try {
    root = json::parse(config_json);
  } catch (const json::exception& e) {
    MUSEFM_FAIL("config to override: invalid JSON: ", e.what());
  }
  MUSEFM_CHECK(root.is_object(), "config to override must be a JSON object, got ",
               root.type_name());
  for (const std::string& kv : overrides) {
    const size_t eq = kv.find('=');
    MUSEFM_CHECK(eq != std::string::npos && eq > 0, "--set '", kv, "': expected key=value");
    const std::string path = kv.substr(0, eq), text = kv.substr(eq + 1);
    json* node = &root;
    size_t start = 0;
    for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
      const std::string section = path.substr(start, dot - start);
      MUSEFM_CHECK(!section.empty(), "--set '", kv, "': empty name in '", path, "'");
      json& next = (*node)[section];
      if (next.is_null()) next = json::object();
      MUSEFM_CHECK(next.is_object(), "--set '", kv, "': '", section, "' is not a section");
      node = &next;
      start = dot + 1;
    }
    const std::string key = path.substr(start);
    MUSEFM_CHECK(!key.empty(), "--set '", kv, "': empty key");
    json value;
    try {
      value = json::parse(text);
    } catch (const json::exception&) {
      value = text;  // a bare string: --set pad_mode=constant
    }
    (*node)[key] = std::move(value);
  }
  return root.dump(2);
}

}  // namespace musefm
