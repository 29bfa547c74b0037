// musefm::Error — the one exception type the library throws on bad input or misuse.
//
// The message names the file / key / line and the reason ("cannot open 'a.wav': no such
// file"), so a CLI can print it as is. Where in musefm's sources the error was raised is kept
// apart in where(), for bug reports.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace musefm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string where = {})
      : std::runtime_error(message), where_(std::move(where)) {}
  /// Source location (file:line) in musefm that raised the error; may be empty.
  const std::string& where() const noexcept { return where_; }

 private:
  std::string where_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
}  // namespace detail

}  // namespace musefm

/// Throws musefm::Error with the concatenated message when `cond` is false.
#define MUSEFM_CHECK(cond, ...)                                                                 \
  do {                                                                                          \
    if (!(cond))                                                                                \
      ::musefm::detail::throw_error(__FILE__, __LINE__, ::musefm::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws musefm::Error with the concatenated message.
#define MUSEFM_FAIL(...) \
  ::musefm::detail::throw_error(__FILE__, __LINE__, ::musefm::detail::concat(__VA_ARGS__))
