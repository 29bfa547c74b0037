// MERT encoder parity with transformers' HubertModel (random tiny weights, both LN variants;
// fixtures from tools/make_encoder_fixtures.py) and weight-loading errors.
#include <gtest/gtest.h>

#include "musefm/encoder.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string model_dir(const std::string& name) { return test::fixture("encoders/" + name); }

std::string load_error(const std::map<std::string, at::Tensor>& w) {
  try {
    Encoder::from_weights(EncoderConfig::load(model_dir("mert_tiny_postln") + "/config.json"), w,
                          "cpu", "tiny.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class MertParity : public ::testing::TestWithParam<std::string> {};

TEST_P(MertParity, EveryHiddenStateMatchesHubertModel) {
  const Encoder enc = Encoder::load(model_dir(GetParam()));
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  const at::Tensor ref = test::load_npy(model_dir(GetParam()) + "/hidden_states.npy");
  // MERT semantics (transformers 4.x, which MERT's remote code targets): the last hidden state
  // is the final (layer-normed) output. transformers 5.x records the pre-LN model's un-normed
  // residual stream there instead, so the last state is compared with last_hidden_state.npy.
  const at::Tensor last = test::load_npy(model_dir(GetParam()) + "/last_hidden_state.npy");
  const std::vector<at::Tensor> hs = enc.forward(input);
  ASSERT_EQ(int64_t(hs.size()), ref.size(0));
  EXPECT_EQ(enc.num_frames(input.size(1)), ref.size(2));
  double worst = 0;
  for (size_t i = 0; i < hs.size(); ++i) {
    const at::Tensor expected = i + 1 == hs.size() ? last : ref[int64_t(i)];
    ASSERT_EQ(hs[i].sizes(), expected.sizes()) << "hidden state " << i;
    const double err = test::max_rel_error(hs[i], expected);
    worst = std::max(worst, err);
    EXPECT_LE(err, 1e-4) << "hidden state " << i;
  }
  RecordProperty("max_rel_error", std::to_string(worst * 1e9) + "e-9");
}

TEST_P(MertParity, FeatureExtractorMatches) {
  const Encoder enc = Encoder::load(model_dir(GetParam()));
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  const at::Tensor ref = test::load_npy(model_dir(GetParam()) + "/extract_features.npy");
  EXPECT_LE(test::max_rel_error(enc.extract_features(input), ref), 1e-5);
}

TEST_P(MertParity, LegacyWeightNormNamesLoadTheSameModel) {
  const EncoderConfig c = EncoderConfig::load(model_dir(GetParam()) + "/config.json");
  const Encoder a = Encoder::load(model_dir(GetParam()));
  // Older transformers / torch.nn.utils.weight_norm name the two halves weight_g / weight_v.
  auto w = test::model_weights(GetParam());
  const std::string p = "encoder.pos_conv_embed.conv.";
  ASSERT_TRUE(w.count(p + "parametrizations.weight.original0"));
  w[p + "weight_g"] = w.at(p + "parametrizations.weight.original0");
  w[p + "weight_v"] = w.at(p + "parametrizations.weight.original1");
  w.erase(p + "parametrizations.weight.original0");
  w.erase(p + "parametrizations.weight.original1");
  const Encoder b = Encoder::from_weights(c, w);
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  EXPECT_LE(test::max_rel_error(b.forward(input).back(), a.forward(input).back()), 1e-6);
}

TEST_P(MertParity, SdpaAndNaiveAttentionAgreeAndBatchingIsExact) {
  EncoderConfig c = EncoderConfig::load(model_dir(GetParam()) + "/config.json");
  const auto w = test::model_weights(GetParam());
  c.attention = AttentionImpl::Sdpa;
  const Encoder sdpa = Encoder::from_weights(c, w);
  c.attention = AttentionImpl::Naive;
  const Encoder naive = Encoder::from_weights(c, w);
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  EXPECT_LE(test::max_rel_error(sdpa.forward(input).back(), naive.forward(input).back()), 1e-5);
  const at::Tensor batched = naive.forward(input).back();
  EXPECT_LE(test::max_rel_error(naive.forward(input[1]).back()[0], batched[1]), 1e-5);
}

// Items of different lengths in one padded pass equal their one-by-one results: MERT's
// layer-0 GroupNorm must count only each item's own frames (a padded batch in the reference
// code silently changes the output), and padding must not leak through attention or the
// positional conv.
TEST_P(MertParity, PaddedBatchEqualsOneByOne) {
  const Encoder enc = Encoder::load(model_dir(GetParam()));
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  const std::vector<at::Tensor> items{input[0], input[1].narrow(0, 0, 5123),
                                      input[0].narrow(0, 1000, 2999)};
  const auto batched = enc.forward_batch(items);
  ASSERT_EQ(batched.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const auto alone = enc.forward(items[i]);
    ASSERT_EQ(batched[i].size(), alone.size());
    for (size_t s = 0; s < alone.size(); ++s) {
      ASSERT_EQ(batched[i][s].sizes(), alone[s][0].sizes()) << "item " << i << " state " << s;
      EXPECT_LE(test::max_rel_error(batched[i][s], alone[s][0]), 1e-5)
          << "item " << i << " state " << s;
    }
  }
  // Zero padding without the masks would change the shorter items.
  at::Tensor padded = at::zeros({2, items[0].size(0)});
  padded[0].copy_(items[0]);
  padded[1].narrow(0, 0, 5123).copy_(items[1]);
  const at::Tensor naive = enc.forward(padded).back()[1].narrow(0, 0, batched[1].back().size(0));
  EXPECT_GT(test::max_rel_error(naive, batched[1].back()), 1e-3);
}

// The conv stack runs in chunks of output frames with GroupNorm statistics gathered first; over
// several chunks it must equal the plain whole-clip computation (conv1d + group_norm + GELU).
TEST_P(MertParity, ChunkedConvStackEqualsTheWholeClipComputation) {
  const EncoderConfig c = EncoderConfig::load(model_dir(GetParam()) + "/config.json");
  const auto w = test::model_weights(GetParam());
  const Encoder enc = Encoder::from_weights(c, w);
  at::manual_seed(3);
  const at::Tensor input = test::load_npy(model_dir(GetParam()) + "/input.npy");
  const at::Tensor f = input.flatten();
  const at::Tensor x =
      at::cat({f, f.flip(0), f, f.flip(0), f, f.flip(0), f, f.flip(0), 0.1 * at::randn({7777})})
          .unsqueeze(0);  // ~5.7 s: three chunks of output frames
  at::Tensor h = x.unsqueeze(1);
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    h = at::conv1d(h, w.at(p + ".conv.weight"), {}, c.conv_stride[i]);
    if (i == 0)
      h = at::group_norm(h, c.conv_dim[0], w.at(p + ".layer_norm.weight"),
                         w.at(p + ".layer_norm.bias"), 1e-5);
    h = at::gelu(h);
  }
  const at::Tensor expect = h.transpose(1, 2);
  ASSERT_GT(expect.size(1), 400);
  const at::Tensor got = enc.extract_features(x);
  ASSERT_EQ(got.sizes(), expect.sizes());
  EXPECT_LE(test::max_rel_error(got, expect), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Tiny, MertParity,
                         ::testing::Values("mert_tiny_postln", "mert_tiny_preln"));

TEST(EncoderLoading, ReportsMissingUnexpectedAndMisshapedTensorsByName) {
  auto w = test::model_weights("mert_tiny_postln");
  EXPECT_EQ(load_error(w), "");
  auto missing = w;
  missing.erase("encoder.layers.1.attention.k_proj.bias");
  EXPECT_NE(load_error(missing).find("missing: encoder.layers.1.attention.k_proj.bias"),
            std::string::npos);
  auto extra = w;
  extra["encoder.layers.7.attention.q_proj.weight"] = at::zeros({64, 64});
  EXPECT_NE(load_error(extra).find("unexpected: encoder.layers.7.attention.q_proj.weight"),
            std::string::npos);
  auto wrong = w;
  wrong["feature_projection.projection.bias"] = at::zeros({65});
  EXPECT_NE(load_error(wrong).find("feature_projection.projection.bias [65] (expected [64])"),
            std::string::npos);
  EXPECT_NE(load_error(wrong).find("tiny.safetensors"), std::string::npos);
}

TEST(EncoderLoading, BadDirectoriesInputsAndModelTypes) {
  EXPECT_THROW(Encoder::load("/nonexistent/model"), Error);
  const Encoder enc = Encoder::load(model_dir("mert_tiny_postln"));
  try {
    enc.forward(at::zeros({1, 100}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shorter than one frame (400 samples)"),
              std::string::npos);
  }
  EXPECT_THROW(enc.forward(at::zeros({2, 2, 1000})), Error);
  EXPECT_THROW(Encoder::from_weights(EncoderConfig::tiny_musicfm(), {}), Error);
}

}  // namespace
}  // namespace musefm
