// A small MIR app on the public musefm API (find_package(musefm)):
//
//   mir_app AUDIO_FILE
//       dominant pitch of a recording from MERT's CQT target
//   mir_app --neighbours MODEL_DIR QUERY FILE...
//       mean embedding of every file (one layer of a MERT-v1 / MusicFM model), then the files
//       ranked by cosine similarity to QUERY; MODEL_DIR "default" is the model musefm ships
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/ATen.h>  // tensor arithmetic (musefm headers include only the Tensor type)

#include "musefm/musefm.h"

namespace {

int pitch(const char* file) {
  musefm::Audio audio = musefm::load_audio(file);   // mono, 24 kHz
  at::Tensor wav = musefm::waveform_tensor(audio);  // [L]
  musefm::NnAudioCqt cqt(musefm::NnAudioCqtConfig::mert());
  at::Tensor c = cqt(wav);  // [336, T]
  const int64_t bin = c.mean(1).argmax().item<int64_t>();
  const double hz = cqt.frequencies()[size_t(bin)];
  const char* names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  const int midi = int(std::lround(69 + 12 * std::log2(hz / 440.0)));
  std::printf("%s: %.2f s, strongest pitch %.1f Hz (%s%d)\n", file, audio.duration_s(), hz,
              names[midi % 12], midi / 12 - 1);
  return 0;
}

int neighbours(const std::string& model, const std::string& query,
               const std::vector<std::string>& files) {
  musefm::ExtractConfig config;
  config.layers = "-1";  // last layer; "all" and "weighted" are the other choices
  config.pool = musefm::Pool::Mean;
  const bool shipped = model == "default";
  if (shipped) std::printf("model: %s\n", musefm::default_model_dir().c_str());
  const musefm::Extractor ex(
      shipped ? musefm::Encoder::load_default() : musefm::Encoder::load(model), config);
  const int rate = ex.encoder().config().sample_rate;
  const auto embed = [&](const std::string& file) {
    musefm::AudioLoadOptions opt;
    opt.target_rate = rate;
    const at::Tensor e = ex.extract(musefm::waveform_tensor(musefm::load_audio(file, opt)))[0];
    return e / e.norm();  // [hidden], unit length
  };
  const at::Tensor q = embed(query);
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& f : files) ranked.emplace_back((embed(f) * q).sum().item<double>(), f);
  std::sort(ranked.rbegin(), ranked.rend());
  std::printf("nearest to %s:\n", query.c_str());
  for (size_t i = 0; i < ranked.size(); ++i)
    std::printf("%zu. %s (cosine %.3f)\n", i + 1, ranked[i].second.c_str(), ranked[i].first);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 1 && args[0] != "--neighbours") return pitch(argv[1]);
    if (args.size() >= 4 && args[0] == "--neighbours")
      return neighbours(args[1], args[2], {args.begin() + 3, args.end()});
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "mir_app: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: mir_app AUDIO_FILE\n"
               "       mir_app --neighbours MODEL_DIR|default QUERY FILE...\n");
  return 2;
}
