// Parity with torchaudio (fixtures from tools/make_fixtures.py on a real recording).
#include <gtest/gtest.h>

#include "musefm/features.h"
#include "support/test_support.h"

namespace musefm {
namespace {

TEST(ParityMel, MusicFmFrontEndMatchesTorchaudio) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("mel_musicfm.npy"));
  MelSpectrogram mel(MelConfig::musicfm());
  const at::Tensor out = mel(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_EQ(mel.num_frames(x.size(0)), ref.size(1));
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", std::to_string(err * 1e9) + "e-9");
  EXPECT_LE(err, 1e-4);
}

TEST(ParityMel, SlaneyScaleNormAmplitudeMatchesTorchaudio) {
  const at::Tensor x = test::load_wav(test::fixture("real_22k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("mel_slaney_22k.npy"));
  MelConfig c;
  c.sample_rate = 22050;
  c.n_fft = 1024;
  c.hop_length = 256;
  c.n_mels = 80;
  c.f_min = 30;
  c.f_max = 8000;
  c.power = 1.0;
  c.pad_mode = musefm::PadMode::Constant;
  c.norm = MelNorm::Slaney;
  c.mel_scale = MelScale::Slaney;
  c.to_db = false;
  const at::Tensor out = MelSpectrogram(c)(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", std::to_string(err * 1e9) + "e-9");
  EXPECT_LE(err, 1e-4);
}

TEST(ParityMel, BatchedEqualsPerItem) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  const at::Tensor batch = at::stack({x, x.flip(0) * 0.5});
  MelSpectrogram mel(MelConfig::musicfm());
  const at::Tensor b = mel(batch);
  EXPECT_TRUE(at::allclose(b[0], mel(x), 1e-5, 1e-4));
  EXPECT_TRUE(at::allclose(b[1], mel(x.flip(0) * 0.5), 1e-5, 1e-4));
}

TEST(ParityMfcc, HubertTeacherFeaturesMatchTorchaudioKaldi) {
  int sr = 0;
  const at::Tensor x = test::load_wav(test::fixture("real_16k.wav"), &sr);
  const at::Tensor ref = test::load_npy(test::fixture("mfcc_hubert_16k.npy"));
  KaldiMfcc mfcc(KaldiMfccConfig::hubert(sr));
  const at::Tensor out = mfcc(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_EQ(mfcc.dim(), 39);
  EXPECT_EQ(mfcc.num_frames(x.size(0)), ref.size(0));
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", std::to_string(err * 1e9) + "e-9");
  EXPECT_LE(err, 1e-3);
}

TEST(ParityMfcc, NoSnipEdgesHammingEnergyMatchesTorchaudioKaldi) {
  int sr = 0;
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"), &sr);
  const at::Tensor ref = test::load_npy(test::fixture("mfcc_nosnip_24k.npy"));
  KaldiMfccConfig c = KaldiMfccConfig::hubert(sr);
  c.snip_edges = false;
  c.window = musefm::KaldiWindow::Hamming;
  c.use_energy = true;
  const at::Tensor out = KaldiMfcc(c)(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", std::to_string(err * 1e9) + "e-9");
  EXPECT_LE(err, 1e-3);
}

TEST(ParityMfcc, RejectsTooShortInput) {
  KaldiMfcc mfcc;
  EXPECT_THROW(mfcc(at::ones({100})), Error);
}

}  // namespace
}  // namespace musefm
