// libFuzzer target: arbitrary bytes through the .npy parser.
#include <cstddef>
#include <cstdint>

#include "musefm/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    musefm::parse_npy(data, size, "fuzz.npy");
  } catch (const musefm::Error&) {
  }
  return 0;
}
