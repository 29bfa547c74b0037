// Internal: small string helpers shared by the option parsers.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "musefm/error.h"

namespace musefm::detail {

/// Items of a separated list, as std::getline reads them: "a,b" -> {a, b}; "a,,b" keeps the
/// empty item; a trailing separator adds none; "" -> {}.
inline std::vector<std::string> split_list(const std::string& text, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

/// Parses the whole of `text` as a number of type T (int, int64_t or double): false for an empty
/// text, trailing characters or a value out of range.
template <typename T>
bool parse_number(const std::string& text, T& out) {
  size_t used = 0;
  try {
    if constexpr (std::is_floating_point_v<T>)
      out = T(std::stod(text, &used));
    else if constexpr (sizeof(T) > sizeof(int))
      out = T(std::stoll(text, &used));
    else
      out = T(std::stoi(text, &used));
  } catch (const std::exception&) {
    return false;
  }
  return !text.empty() && used == text.size();
}

/// Numbers of a comma-separated list ("0.5,1,2"); throws musefm::Error naming `what` and the
/// item that is not a number.
inline std::vector<double> parse_number_list(const std::string& text, const std::string& what) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    double v = 0;
    MUSEFM_CHECK(parse_number(item, v), what, ": '", item, "' is not a number");
    out.push_back(v);
  }
  return out;
}

/// printf into a std::string (for messages that keep a printf layout, e.g. "%.6g").
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
inline std::string
format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(size_t(n > 0 ? n : 0), '\0');
  if (n > 0) std::vsnprintf(out.data(), size_t(n) + 1, fmt, again);
  va_end(again);
  return out;
}

}  // namespace musefm::detail
