// mir_app FILE: estimates the dominant pitch of a recording from MERT's CQT target.
// Uses only the public musefm API (find_package(musefm)).
#include <cmath>
#include <cstdio>

#include "musefm/musefm.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mir_app AUDIO_FILE\n");
    return 2;
  }
  try {
    musefm::Audio audio = musefm::load_audio(argv[1]);  // mono, 24 kHz
    at::Tensor wav = musefm::waveform_tensor(audio);    // [L]
    musefm::NnAudioCqt cqt(musefm::NnAudioCqtConfig::mert());
    at::Tensor c = cqt(wav);  // [336, T]
    const int64_t bin = c.mean(1).argmax().item<int64_t>();
    const double hz = cqt.frequencies()[size_t(bin)];
    const char* names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
    const int midi = int(std::lround(69 + 12 * std::log2(hz / 440.0)));
    std::printf("%s: %.2f s, strongest pitch %.1f Hz (%s%d)\n", argv[1], audio.duration_s(), hz,
                names[midi % 12], midi / 12 - 1);
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "mir_app: %s\n", e.what());
    return 1;
  }
  return 0;
}
