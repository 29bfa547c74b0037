// Helpers shared by the fuzz targets that parse files: a private scratch folder and writing
// the fuzzer's bytes into it.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace musefm::fuzz {

inline void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

/// A new folder /tmp/<prefix>-XXXXXX (or /tmp when it cannot be made).
inline std::string make_scratch_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  const char* d = ::mkdtemp(tmpl.data());
  return d ? d : "/tmp";
}

}  // namespace musefm::fuzz
