// Internal: every config struct's fields are listed once, with MUSEFM_CONFIG_FIELDS in the
// config's .cpp (inside namespace musefm); JSON writing, strict reading (unknown keys, wrong
// types, bad enum names are errors naming the config and the key) and to_json / from_json come
// from that list. Fields are numbers, bools, strings, vectors of those, named enums
// (musefm/enum_names.h) or configs with their own list. NaN is written as null; a number listed
// with MUSEFM_CONFIG_NULLABLE reads null as NaN ("not set", e.g. a tuning to estimate).
//
//   MUSEFM_CONFIG_FIELDS(MelConfig, "MelConfig", sample_rate, n_fft, hop_length, mel_scale);
//   MUSEFM_CONFIG_JSON(MelConfig);   // MelConfig::to_json() and MelConfig::from_json()
#pragma once

#include <cmath>
#include <string>
#include <type_traits>

#include "core/for_each.h"
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

/// Whether `key` of config C may be null (NaN); specialised by MUSEFM_CONFIG_NULLABLE.
template <typename C>
bool nullable_field(const std::string&) {
  return false;
}

/// Writes each visited field into a JSON object.
class JsonWriter {
 public:
  template <typename T>
  void operator()(const char* key, const T& value) {
    json_[key] = to_value(value);
  }
  nlohmann::json take() { return std::move(json_); }

  template <typename T>
  static nlohmann::json to_value(const T& value) {
    if constexpr (is_named_enum_v<T>)
      return to_string(value);
    else if constexpr (std::is_floating_point_v<T>)
      return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
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
    } else if constexpr (std::is_same_v<T, double>) {
      if (nullable_(key))
        f_.get_nullable(key, value);
      else
        f_.get(key, value);
    } else if constexpr (has_config_fields<T>::value) {
      if (const nlohmann::json* sub = f_.find(key)) {
        JsonFields nested(*sub, f_.what() + "." + key);
        read_into(nested, value);
      }
    } else {
      f_.get(key, value);
    }
  }

  /// Reads every field of `config` and rejects keys the config does not have.
  template <typename C>
  static void read_into(JsonFields& fields, C& config) {
    JsonReader reader(fields);
    reader.nullable_ = &nullable_field<C>;
    ConfigFields<C>::visit(config, reader);
    fields.reject_unknown();
  }

 private:
  JsonFields& f_;
  bool (*nullable_)(const std::string&) = nullptr;
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

#define MUSEFM_CONFIG_FIELD_VISIT_(field) v(#field, c.field);

/// Declares the fields of `Config` (JSON keys = member names); use inside namespace musefm.
#define MUSEFM_CONFIG_FIELDS(Config, display_name, ...)               \
  namespace detail {                                                  \
  template <>                                                         \
  struct ConfigFields<Config> {                                       \
    static constexpr const char* name = display_name;                 \
    template <typename C, typename V>                                 \
    static void visit(C& c, V& v) {                                   \
      MUSEFM_FIELDS_FOR_EACH(MUSEFM_CONFIG_FIELD_VISIT_, __VA_ARGS__) \
    }                                                                 \
  };                                                                  \
  }                                                                   \
  static_assert(true, "")

/// Lists the number fields of `Config` that may be null (NaN = not set); inside namespace musefm.
#define MUSEFM_CONFIG_NULLABLE(Config, ...)             \
  namespace detail {                                    \
  template <>                                           \
  bool nullable_field<Config>(const std::string& key) { \
    for (const char* k : {__VA_ARGS__})                 \
      if (key == k) return true;                        \
    return false;                                       \
  }                                                     \
  }                                                     \
  static_assert(true, "")

/// Defines Config::to_json() and Config::from_json(text) from the field list.
#define MUSEFM_CONFIG_JSON(Config)                                              \
  std::string Config::to_json() const { return detail::config_to_json(*this); } \
  Config Config::from_json(const std::string& text) {                           \
    return detail::config_from_json<Config>(text);                              \
  }                                                                             \
  static_assert(true, "")
