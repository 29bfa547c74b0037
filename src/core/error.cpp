#include "musefm/error.h"

namespace musefm::detail {

void throw_error(const char* file, int line, const std::string& message) {
  std::string where = file;
  const auto slash = where.rfind("src/");
  if (slash != std::string::npos) where = where.substr(slash);
  throw Error(message, where + ":" + std::to_string(line));
}

}  // namespace musefm::detail
