// Names of musefm's enumerations: each enum's {value, "name"} table is declared once, next to
// the enum, with MUSEFM_ENUM_NAMES; printing, parsing, JSON and CLI choices all come from it.
//
//   enum class Pool { Mean, None };
//   MUSEFM_ENUM_NAMES(Pool, {Pool::Mean, "mean"}, {Pool::None, "none"});
//   musefm::to_string(Pool::Mean);                          // "mean"
//   musefm::parse_enum<Pool>("none", "ExtractConfig.pool");  // Pool::None
//   musefm::parse_enum<Pool>("max", "ExtractConfig.pool");
//     // throws musefm::Error: ExtractConfig.pool must be mean or none, got "max"
#pragma once

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "musefm/error.h"

namespace musefm {

/// Specialised by MUSEFM_ENUM_NAMES for every named enum: `table` holds {value, name} pairs.
template <typename E>
struct EnumNames;

template <typename E, typename = void>
struct is_named_enum : std::false_type {};
template <typename E>
struct is_named_enum<E, std::void_t<decltype(EnumNames<E>::table)>> : std::true_type {};
template <typename E>
inline constexpr bool is_named_enum_v = is_named_enum<E>::value;

/// The name of `value` (as written in configs and on the command line).
template <typename E, typename = std::enable_if_t<is_named_enum_v<E>>>
std::string to_string(E value) {
  for (const auto& [v, name] : EnumNames<E>::table)
    if (v == value) return name;
  return "?";
}

/// Streams the name (so test failures and log lines print "mean", not a number).
template <typename E, typename = std::enable_if_t<is_named_enum_v<E>>>
std::ostream& operator<<(std::ostream& os, E value) {
  return os << to_string(value);
}

/// Every name of E, in declaration order.
template <typename E>
std::vector<std::string> enum_names() {
  std::vector<std::string> out;
  for (const auto& entry : EnumNames<E>::table) out.emplace_back(entry.second);
  return out;
}

/// "a, b or c": the names of E for messages and --help.
template <typename E>
std::string enum_choices() {
  const auto names = enum_names<E>();
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

/// The value named `name`; throws Error naming `what` (the key or option) and the choices.
template <typename E>
E parse_enum(const std::string& name, const std::string& what) {
  for (const auto& [v, n] : EnumNames<E>::table)
    if (name == n) return v;
  MUSEFM_FAIL(what, " must be ", enum_choices<E>(), ", got \"", name, "\"");
}

}  // namespace musefm

/// Declares the names of enum E (in namespace musefm): MUSEFM_ENUM_NAMES(E, {E::A, "a"}, ...).
#define MUSEFM_ENUM_NAMES(E, ...)                                       \
  template <>                                                           \
  struct EnumNames<E> {                                                 \
    static constexpr std::pair<E, const char*> table[] = {__VA_ARGS__}; \
  }
