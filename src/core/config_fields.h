// Internal: every config struct's fields are listed once, in a ConfigFields<C> specialisation
// in the config's .cpp; JSON writing, strict reading (unknown keys, wrong types, bad enum names
// are errors naming the config and the key) and `to_json` / `from_json` come from that list.
//
//   template <> struct detail::ConfigFields<MelConfig> {
//     static constexpr const char* name = "MelConfig";
//     template <typename C, typename V> static void visit(C& c, V& v) {
//       v("sample_rate", c.sample_rate);   // numbers, bools, strings, vectors, named enums,
//       v.nullable("tuning", c.tuning);    // NaN <-> null
//     }
//   };
//   std::string MelConfig::to_json() const { return detail::config_to_json(*this); }
//   MelConfig MelConfig::from_json(const std::string& t) { return
//   detail::config_from_json<MelConfig>(t); }
#pragma once

#include <cmath>
#include <string>
#include <type_traits>

#include "core/json_fields.h"
#include "musefm/enum_names.h"

namespace musefm::detail {

/// Specialised per config: `name` (for messages) and `visit(config, visitor)`.
template <typename C>
struct ConfigFields;

template <typename C, typename = void>
struct has_config_fields : std::false_type {};
template <typename C>
struct has_config_fields<C, std::void_t<decltype(ConfigFields<C>::name)>> : std::true_type {};

template <typename C>
nlohmann::json fields_to_json(const C& config);

/// Writes each visited field into a JSON object.
class JsonWriter {
 public:
  template <typename T>
  void operator()(const char* key, const T& value) {
    json_[key] = to_value(value);
  }
  void nullable(const char* key, const double& value) {
    json_[key] = std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
  }
  nlohmann::json take() { return std::move(json_); }

  template <typename T>
  static nlohmann::json to_value(const T& value) {
    if constexpr (is_named_enum_v<T>)
      return to_string(value);
    else if constexpr (has_config_fields<T>::value)
      return fields_to_json(value);
    else
      return value;
  }

 private:
  nlohmann::json json_ = nlohmann::json::object();
};

/// Reads each visited field from a JsonFields (keeping the default when the key is absent).
class JsonReader {
 public:
  explicit JsonReader(JsonFields& fields) : f_(fields) {}

  template <typename T>
  void operator()(const char* key, T& value) {
    if constexpr (is_named_enum_v<T>) {
      std::string name = to_string(value);
      f_.get(key, name);
      value = parse_enum<T>(name, f_.what() + "." + key);
    } else if constexpr (has_config_fields<T>::value) {
      if (const nlohmann::json* sub = f_.find(key)) {
        JsonFields nested(*sub, f_.what() + "." + key);
        read_into(nested, value);
      }
    } else {
      f_.get(key, value);
    }
  }
  void nullable(const char* key, double& value) { f_.get_nullable(key, value); }

  /// Reads every field of `config` and rejects keys the config does not have.
  template <typename C>
  static void read_into(JsonFields& fields, C& config) {
    JsonReader reader(fields);
    ConfigFields<C>::visit(config, reader);
    fields.reject_unknown();
  }

 private:
  JsonFields& f_;
};

template <typename C>
nlohmann::json fields_to_json(const C& config) {
  JsonWriter writer;
  ConfigFields<C>::visit(config, writer);
  return writer.take();
}

/// Config::to_json(): the fields as pretty-printed JSON.
template <typename C>
std::string config_to_json(const C& config) {
  return fields_to_json(config).dump(2);
}

/// Config::from_json(): strict read of every field, then validate().
template <typename C>
C config_from_json(const std::string& text) {
  JsonFields fields(text, ConfigFields<C>::name);
  C config;
  JsonReader::read_into(fields, config);
  config.validate();
  return config;
}

}  // namespace musefm::detail
