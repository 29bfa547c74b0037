// libFuzzer target: arbitrary bytes through the safetensors header validator.
#include <cstddef>
#include <cstdint>

#include "musefm/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    musefm::parse_safetensors_header(data, size, "fuzz.safetensors");
  } catch (const musefm::Error&) {
  }
  return 0;
}
