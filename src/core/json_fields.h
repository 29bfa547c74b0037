// Internal: strict JSON <-> config-struct mapping shared by every *Config::from_json/to_json.
// Unknown keys and wrongly typed values are errors that name the key and the config.
#pragma once

#include <nlohmann/json.hpp>

#include <climits>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "musefm/error.h"

namespace musefm::detail {

class JsonFields {
 public:
  /// Parses `text` as a JSON object describing config `what` (used in messages).
  JsonFields(const std::string& text, std::string what) : what_(std::move(what)) {
    try {
      json_ = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, out_of_range (1e999), ...
      MUSEFM_FAIL(what_, ": invalid JSON: ", e.what());
    }
    MUSEFM_CHECK(json_.is_object(), what_, ": expected a JSON object, got ", json_.type_name());
  }
  JsonFields(nlohmann::json j, std::string what) : json_(std::move(j)), what_(std::move(what)) {
    MUSEFM_CHECK(json_.is_object(), what_, ": expected a JSON object, got ", json_.type_name());
  }

  /// The config's name as used in messages.
  const std::string& what() const { return what_; }

  /// The raw value of `key` (marked as known), or nullptr when absent.
  const nlohmann::json* find(const char* key) {
    seen_.insert(key);
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }

  /// Reads `key` into `out` if present (keeps the default otherwise).
  template <typename T>
  void get(const char* key, T& out) {
    seen_.insert(key);
    auto it = json_.find(key);
    if (it == json_.end()) return;
    try {
      if constexpr (std::is_same_v<T, bool>) {
        MUSEFM_CHECK(it->is_boolean(), what_, ": key '", key, "' must be a boolean");
      } else if constexpr (std::is_integral_v<T>) {
        MUSEFM_CHECK(it->is_number_integer(), what_, ": key '", key, "' must be an integer");
        const bool fits = it->is_number_unsigned()
                              ? it->get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                              : it->get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                    it->get<int64_t>() <= int64_t(std::numeric_limits<T>::max());
        MUSEFM_CHECK(fits, what_, ": key '", key, "' is out of range: ", it->dump());
      } else if constexpr (std::is_floating_point_v<T>) {
        MUSEFM_CHECK(it->is_number(), what_, ": key '", key, "' must be a number");
      } else if constexpr (std::is_same_v<T, std::string>) {
        MUSEFM_CHECK(it->is_string(), what_, ": key '", key, "' must be a string");
      } else if constexpr (std::is_same_v<T, std::vector<int>>) {
        MUSEFM_CHECK(it->is_array() && it->size() <= 4096, what_, ": key '", key,
                     "' must be an array of integers");
        for (const auto& v : *it)
          MUSEFM_CHECK(v.is_number_integer() && v.get<int64_t>() >= INT32_MIN &&
                           v.get<int64_t>() <= INT32_MAX,
                       what_, ": key '", key, "' must be an array of integers, got ", v.dump());
      } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        MUSEFM_CHECK(it->is_array() && it->size() <= 4096, what_, ": key '", key,
                     "' must be an array of strings");
        for (const auto& v : *it)
          MUSEFM_CHECK(v.is_string(), what_, ": key '", key, "' must be an array of strings, got ",
                       v.dump());
      } else if constexpr (std::is_same_v<T, std::vector<double>>) {
        MUSEFM_CHECK(it->is_array() && it->size() <= 4096, what_, ": key '", key,
                     "' must be an array of numbers");
        for (const auto& v : *it)
          MUSEFM_CHECK(v.is_number(), what_, ": key '", key, "' must be an array of numbers, got ",
                       v.dump());
      }
      out = it->get<T>();
    } catch (const nlohmann::json::exception& e) {
      MUSEFM_FAIL(what_, ": key '", key, "': ", e.what());
    }
  }

  /// Reads a number that may be null (null -> NaN, e.g. "tuning": null = estimate it).
  void get_nullable(const char* key, double& out) {
    auto it = json_.find(key);
    if (it != json_.end() && it->is_null()) {
      seen_.insert(key);
      out = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    get(key, out);
  }

  /// Throws if the object holds keys that no get() asked for.
  void reject_unknown() const {
    for (auto it = json_.begin(); it != json_.end(); ++it) {
      if (!seen_.count(it.key())) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        MUSEFM_FAIL(what_, ": unknown key '", it.key(), "' (known keys: ", known, ")");
      }
    }
  }

 private:
  nlohmann::json json_;
  std::string what_;
  std::set<std::string> seen_;
};

/// Reads the JSON file `path` and parses it with Config::from_json; errors name the file.
template <typename Config>
Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  MUSEFM_CHECK(in.good(), "cannot open config '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return Config::from_json(ss.str());
  } catch (const Error& e) {
    MUSEFM_FAIL("config '", path, "': ", e.what());
  }
}

}  // namespace musefm::detail
