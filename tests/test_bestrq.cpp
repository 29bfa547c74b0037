// BEST-RQ teacher against MusicFM's quantizer (fixtures from tools/make_teacher_fixtures.py).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "musefm/error.h"
#include "musefm/safetensors.h"
#include "musefm/teachers.h"
#include "support/test_support.h"

namespace {
using musefm::BestRq;
using musefm::test::fixture;
using musefm::test::load_npy;

TEST(BestRq, SeededQuantizerEqualsMusicFMBuffers) {
  // RandomProjectionQuantizer(512, 16, 4096, seed=142): the same numbers, bit for bit.
  const BestRq q = BestRq::random(1, 512, 16, 4096, 142);
  const std::string path = musefm::test::temp_dir() + "/q.safetensors";
  q.save(path);
  const auto f = musefm::SafeTensorsFile::open(path);
  EXPECT_TRUE(
      at::equal(f.get("projections")[0], load_npy(fixture("teachers/bestrq_projection.npy"))));
  EXPECT_TRUE(at::equal(f.get("codebooks")[0].narrow(0, 0, 64),
                        load_npy(fixture("teachers/bestrq_codebook64.npy"))));
}

TEST(BestRq, TokensMatchMusicFM) {
  const BestRq q = BestRq::random(2, 512, 16, 4096, 142);  // seeds 142 and 143
  const at::Tensor mel = load_npy(fixture("teachers/bestrq_mel.npy"));
  const at::Tensor ref = load_npy(fixture("teachers/bestrq_tokens.npy")).to(at::kLong);
  const at::Tensor t = q.tokens(mel);
  ASSERT_EQ(t.sizes(), ref.sizes());
  EXPECT_TRUE(at::equal(t, ref));
  // White noise reaches many codes; tokens must still agree on every frame.
  const at::Tensor noise = load_npy(fixture("teachers/bestrq_noise.npy"));
  const at::Tensor nref = load_npy(fixture("teachers/bestrq_noise_tokens.npy")).to(at::kLong);
  const at::Tensor nt = BestRq::random(1, 512, 16, 4096, 142).tokens(noise);
  ASSERT_EQ(nt.sizes(), (std::vector<int64_t>{2, 1, 64}));
  EXPECT_TRUE(at::equal(nt.select(1, 0), nref));
}

TEST(BestRq, LoadsTheQuantizerOfAConvertedMusicFMCheckpoint) {
  const std::string dir = fixture("encoders/musicfm_tiny");
  const BestRq q = BestRq::load(dir);
  const auto f = musefm::SafeTensorsFile::open(dir + "/model.safetensors");
  const at::Tensor p = f.get("quantizer_melspec_2048_0.random_projection");
  EXPECT_EQ(q.num_codebooks(), 1);
  EXPECT_EQ(q.codes(), f.get("quantizer_melspec_2048_0.codebook").size(0));
  // Tokens equal a direct computation with those buffers.
  const int64_t F = p.size(0) / 4;
  const at::Tensor mel = at::randn({1, F, 40});
  const at::Tensor x = mel.view({1, F, 10, 4}).permute({0, 2, 3, 1}).reshape({10, 4 * F});
  const at::Tensor z = at::mm(x, p.to(at::kFloat));
  const at::Tensor c = f.get("quantizer_melspec_2048_0.codebook").to(at::kFloat);
  const at::Tensor sim = at::mm(z / z.norm(2, {1}, true), (c / c.norm(2, {1}, true)).t());
  EXPECT_TRUE(at::equal(q.tokens(mel)[0][0], sim.argmax(1)));
}

TEST(BestRq, ClearErrors) {
  const BestRq q = BestRq::random(1, 512, 16, 64, 1);
  EXPECT_THROW(q.tokens(at::randn({1, 100, 8})), musefm::Error);  // 100 bands, not 128
  EXPECT_THROW(q.tokens(at::randn({128, 8})), musefm::Error);
  EXPECT_EQ(q.tokens(at::randn({1, 128, 3})).size(2), 0);  // fewer frames than one token
  EXPECT_THROW(BestRq(at::randn({1, 10, 4}), at::randn({1, 8, 4})), musefm::Error);  // 10 % 4
  EXPECT_THROW(BestRq(at::randn({1, 8, 4}), at::randn({1, 8, 5})), musefm::Error);
  try {
    BestRq::load(fixture("encoders/mert_tiny_postln"));
    FAIL() << "a model without a quantizer was accepted";
  } catch (const musefm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("quantizer_melspec_2048_0"), std::string::npos)
        << e.what();
  }
}

}  // namespace
