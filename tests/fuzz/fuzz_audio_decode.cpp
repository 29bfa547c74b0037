// libFuzzer target: arbitrary bytes through the audio decoder (libsndfile + musefm checks).
#include <cstddef>
#include <cstdint>

#include "musefm/audio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  musefm::AudioLoadOptions opt;
  opt.target_rate = 0;  // resampling is exercised by the unit tests; keep runs fast
  try {
    musefm::decode_audio_memory(data, size, "fuzz", opt);
  } catch (const musefm::Error&) {
  }
  return 0;
}
