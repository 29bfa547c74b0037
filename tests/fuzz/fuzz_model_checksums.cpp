// libFuzzer target: a model dir's checksums.json (musefm::verify_model_checksums), checked
// against a fixed two-file model dir. Any input either passes or throws musefm::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "musefm/default_model.h"
#include "musefm/error.h"

using musefm::fuzz::write_file;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string s = musefm::fuzz::make_scratch_dir("musefm-fuzz-checksums");
    write_file(s + "/config.json", "{}");
    write_file(s + "/model.safetensors", "weights");
    return s;
  }();
  write_file(dir + "/checksums.json", std::string(reinterpret_cast<const char*>(data), size));
  try {
    musefm::verify_model_checksums(dir);
  } catch (const musefm::Error&) {
  }
  return 0;
}
