// Real sampled instruments rendered with FluidSynth (tests/render_midi.sh): the features must
// put the energy where music theory says.
#include <gtest/gtest.h>

#include <cmath>

#include "musefm/audio.h"
#include "musefm/features.h"
#include "support/test_support.h"

namespace musefm {
namespace {

at::Tensor rendered_clip(const std::string& name, int rate = 24000) {
  AudioLoadOptions opt;
  opt.target_rate = rate;
  Audio a = load_audio(test::rendered(name), opt);
  return waveform_tensor(a);
}

TEST(RenderedInstruments, PianoA4PutsTheCqtPeakAt440Hz) {
  NnAudioCqt cqt(NnAudioCqtConfig::mert());
  const at::Tensor c = cqt(rendered_clip("piano_a4.wav"));
  const int64_t bin = c.mean(1).argmax().item<int64_t>();
  const double hz = cqt.frequencies()[size_t(bin)];
  EXPECT_NEAR(1200.0 * std::log2(hz / 440.0), 0.0, 25.0) << "peak at " << hz << " Hz";
}

TEST(RenderedInstruments, StringsA3PutsTheCqtPeakAt220Hz) {
  NnAudioCqt cqt(NnAudioCqtConfig::mert());
  const at::Tensor c = cqt(rendered_clip("strings_a3.wav"));
  const double hz = cqt.frequencies()[size_t(c.mean(1).argmax().item<int64_t>())];
  EXPECT_NEAR(1200.0 * std::log2(hz / 220.0), 0.0, 25.0) << "peak at " << hz << " Hz";
}

TEST(RenderedInstruments, CMajorChordLightsCEAndGChroma) {
  const at::Tensor chroma = Chroma()(rendered_clip("cmajor_chord.wav", 22050));
  const at::Tensor mean = chroma.mean(1);  // [12], C first
  const at::Tensor top = std::get<0>(std::get<1>(mean.topk(3)).sort());
  EXPECT_EQ(top[0].item<int64_t>(), 0);  // C
  EXPECT_EQ(top[1].item<int64_t>(), 4);  // E
  EXPECT_EQ(top[2].item<int64_t>(), 7);  // G
}

TEST(RenderedInstruments, MelAndMfccAreFiniteAndNotSilent) {
  const at::Tensor x = rendered_clip("piano_a4.wav");
  const at::Tensor m = MelSpectrogram(MelConfig::musicfm())(x);
  EXPECT_TRUE(at::isfinite(m).all().item<bool>());
  EXPECT_GT(m.max().item<double>(), -20.0);
  const at::Tensor f = KaldiMfcc(KaldiMfccConfig::hubert(24000))(x);
  EXPECT_EQ(f.size(1), 39);
  EXPECT_TRUE(at::isfinite(f).all().item<bool>());
}

}  // namespace
}  // namespace musefm
