// MERT's CQT reconstruction target: nnAudio's CQT (fixture from the foundation's parity
// tests), transposed and cropped to the encoder's frames.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "musefm/encoder.h"
#include "musefm/error.h"
#include "musefm/teachers.h"
#include "support/test_support.h"

namespace {
using musefm::test::fixture;

TEST(CqtTarget, NnAudioCqtCroppedToTheEncoderFrames) {
  const at::Tensor x = musefm::test::load_wav(fixture("real_24k.wav"));
  const at::Tensor ref = musefm::test::load_npy(fixture("cqt_mert.npy"));  // [336, T']
  const musefm::Encoder mert = musefm::Encoder::load(fixture("encoders/mert_tiny_postln"));
  const int64_t frames = mert.num_frames(x.size(0));  // 224 for 3 s; T' = 226
  ASSERT_LT(frames, ref.size(1));
  const musefm::CqtTarget target;
  EXPECT_EQ(target.bins(), 336);
  const at::Tensor t = target(x, frames);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{frames, 336}));
  EXPECT_LE(musefm::test::max_rel_error(t, ref.t().narrow(0, 0, frames)), 1e-3);
  // A batch gives each item's target.
  const at::Tensor b = target(at::stack({x, x.flip(0)}), frames);
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{2, frames, 336}));
  EXPECT_LE(musefm::test::max_rel_error(b[0], t), 1e-6);
  EXPECT_LE(musefm::test::max_rel_error(b[1], target(x.flip(0), frames)), 1e-6);
}

TEST(CqtTarget, ClearErrors) {
  const musefm::CqtTarget target;
  EXPECT_THROW(target(at::zeros({3200}), 12), musefm::Error);  // 11 frames available
  EXPECT_EQ(target(at::zeros({3200}), 11).size(0), 11);
  EXPECT_THROW(target(at::zeros({1, 1, 3200}), 1), musefm::Error);
  EXPECT_THROW(musefm::CqtTarget(24000, 0), musefm::Error);
}

}  // namespace
