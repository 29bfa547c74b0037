// MERT's CQT target: parity with nnAudio CQT1992v2 (fixtures from tools/make_fixtures.py).
#include <gtest/gtest.h>

#include "musefm/features.h"
#include "support/test_support.h"

namespace musefm {
namespace {

TEST(ParityCqt, MertCqtMatchesNnAudio) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("cqt_mert.npy"));
  NnAudioCqt cqt(NnAudioCqtConfig::mert());
  const at::Tensor out = cqt(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_EQ(cqt.num_frames(x.size(0)), ref.size(1));
  EXPECT_EQ(cqt.kernel_width(), 65536);
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", std::to_string(err * 1e9) + "e-9");
  EXPECT_LE(err, 1e-3);
}

TEST(ParityCqt, TighterSpectralCutoffIsMoreAccurate) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("cqt_mert.npy"));
  NnAudioCqtConfig tight = NnAudioCqtConfig::mert();
  tight.spectral_cutoff = 1e-5;
  const double err_tight = test::max_rel_error(NnAudioCqt(tight)(x), ref);
  const double err_default = test::max_rel_error(NnAudioCqt(NnAudioCqtConfig::mert())(x), ref);
  EXPECT_LE(err_tight, 2e-5);
  EXPECT_LT(err_tight, err_default);
}

TEST(ParityCqt, ShortClipMatchesNnAudio) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav")).narrow(0, 0, 12000);
  const at::Tensor ref = test::load_npy(test::fixture("cqt_mert_short.npy"));
  const at::Tensor out = NnAudioCqt(NnAudioCqtConfig::mert())(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_LE(test::max_rel_error(out, ref), 1e-3);
}

TEST(ParityCqt, BlockSizeDoesNotChangeTheResult) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  NnAudioCqtConfig small = NnAudioCqtConfig::mert();
  small.chunk_frames = 240;  // many blocks, each barely longer than the kernel
  const at::Tensor a = NnAudioCqt(NnAudioCqtConfig::mert())(x);
  const at::Tensor b = NnAudioCqt(small)(x);
  EXPECT_LE(test::max_rel_error(b, a), 1e-5);
}

TEST(ParityCqt, BatchedEqualsPerItem) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  NnAudioCqt cqt(NnAudioCqtConfig::mert());
  const at::Tensor b = cqt(at::stack({x, x * 0.25}));
  EXPECT_LE(test::max_rel_error(b[0], cqt(x)), 1e-6);
  EXPECT_LE(test::max_rel_error(b[1], cqt(x) * 0.25), 1e-5);
}

TEST(ParityCqt, FrequenciesFollowNnAudioDesign) {
  NnAudioCqt cqt(NnAudioCqtConfig::mert());
  ASSERT_EQ(cqt.frequencies().size(), 336u);
  EXPECT_DOUBLE_EQ(cqt.frequencies()[0], 32.7);
  EXPECT_NEAR(cqt.frequencies()[335], 32.7 * std::pow(2.0, 335.0 / 48), 1e-9);
  EXPECT_EQ(cqt.lengths().size(), 336u);
  EXPECT_GT(cqt.lengths()[0], cqt.lengths()[335]);  // constant Q: low bins have long kernels
}

}  // namespace
}  // namespace musefm
