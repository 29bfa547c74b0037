// Feature front-ends on 30 s of real music at the model rate (the fixture excerpt, tiled).
// Peers are timed on the same audio by benchmarks/compare_features.py.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "musefm/audio.h"
#include "musefm/features.h"

namespace {

at::Tensor music(int rate, double seconds) {
  const std::string name = rate == 24000   ? "real_24k.wav"
                           : rate == 22050 ? "real_22k.wav"
                                           : "real_16k.wav";
  musefm::AudioLoadOptions opt;
  opt.target_rate = 0;
  musefm::Audio a = musefm::load_audio(std::string(MUSEFM_FIXTURES_DIR) + "/" + name, opt);
  at::Tensor x = at::from_blob(a.samples.data(), {int64_t(a.samples.size())}, at::kFloat).clone();
  const int64_t n = int64_t(seconds * rate);
  return x.repeat({n / x.size(0) + 1}).narrow(0, 0, n).contiguous();
}

void BM_MelMusicFm30s(benchmark::State& st) {
  const at::Tensor x = music(24000, 30);
  musefm::MelSpectrogram mel(musefm::MelConfig::musicfm());
  for (auto _ : st) benchmark::DoNotOptimize(mel(x));
}
BENCHMARK(BM_MelMusicFm30s)->Unit(benchmark::kMillisecond);

void BM_MfccHubert30s(benchmark::State& st) {
  const at::Tensor x = music(16000, 30);
  musefm::KaldiMfcc mfcc(musefm::KaldiMfccConfig::hubert(16000));
  for (auto _ : st) benchmark::DoNotOptimize(mfcc(x));
}
BENCHMARK(BM_MfccHubert30s)->Unit(benchmark::kMillisecond);

void BM_CqtMert30s(benchmark::State& st) {
  const at::Tensor x = music(24000, 30);
  musefm::NnAudioCqt cqt(musefm::NnAudioCqtConfig::mert());
  for (auto _ : st) benchmark::DoNotOptimize(cqt(x));
}
BENCHMARK(BM_CqtMert30s)->Unit(benchmark::kMillisecond);

void BM_CqtMertDesign(benchmark::State& st) {
  for (auto _ : st) {
    musefm::NnAudioCqtConfig c = musefm::NnAudioCqtConfig::mert();
    c.chunk_frames = 1024 + int(st.iterations() % 2);  // defeat the table cache
    benchmark::DoNotOptimize(musefm::NnAudioCqt(c).kernel_width());
  }
}
BENCHMARK(BM_CqtMertDesign)->Unit(benchmark::kMillisecond);

void BM_LibrosaCqt30s(benchmark::State& st) {
  const at::Tensor x = music(22050, 30);
  musefm::LibrosaCqt cqt;
  for (auto _ : st) benchmark::DoNotOptimize(cqt(x));
}
BENCHMARK(BM_LibrosaCqt30s)->Unit(benchmark::kMillisecond);

void BM_Chroma30s(benchmark::State& st) {
  const at::Tensor x = music(22050, 30);
  musefm::Chroma chroma;
  for (auto _ : st) benchmark::DoNotOptimize(chroma(x));
}
BENCHMARK(BM_Chroma30s)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
