// Hybrid front-end: CQT and/or log-mel frames fused with MERT's CNN features (concat or add).
#include <gtest/gtest.h>

#include "model/hybrid.h"
#include "musefm/encoder.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

const std::string kDir = test::fixture("encoders/mert_tiny_postln");

EncoderConfig hybrid_config(const std::string& features, const std::string& fusion) {
  EncoderConfig c = EncoderConfig::load(kDir + "/config.json");
  c.hybrid_features = parse_enum<HybridFeatures>(features, "hybrid_features");
  c.hybrid_fusion = parse_enum<HybridFusion>(fusion, "hybrid_fusion");
  c.n_mels = 32;
  return c;
}

// Base weights + random hybrid weights; with `neutral`, the extra path contributes nothing
// (zero projections for "add", zero projection columns for "concat").
std::map<std::string, at::Tensor> hybrid_weights(const EncoderConfig& c, bool neutral) {
  auto w = test::model_weights("mert_tiny_postln");
  at::manual_seed(11);
  const int64_t C = c.conv_dim.back(), H = c.hidden_size;
  int64_t extra = 0;
  for (const auto& [kind, dims] :
       {std::pair<std::string, int64_t>{"cqt", 336}, {"mel", c.n_mels}}) {
    if (to_string(c.hybrid_features) != kind && c.hybrid_features != HybridFeatures::CqtMel)
      continue;
    w["hybrid." + kind + ".layer_norm.weight"] = 1 + 0.1 * at::randn({dims});
    w["hybrid." + kind + ".layer_norm.bias"] = 0.1 * at::randn({dims});
    if (c.hybrid_fusion == HybridFusion::Add) {
      w["hybrid." + kind + ".projection.weight"] =
          neutral ? at::zeros({C, dims}) : 0.1 * at::randn({C, dims});
      w["hybrid." + kind + ".projection.bias"] = neutral ? at::zeros({C}) : 0.1 * at::randn({C});
    }
    extra += dims;
  }
  if (c.hybrid_fusion == HybridFusion::Concat) {
    const at::Tensor cols = neutral ? at::zeros({H, extra}) : 0.1 * at::randn({H, extra});
    w["feature_projection.projection.weight"] =
        at::cat({w["feature_projection.projection.weight"], cols}, 1);
    for (const char* t : {"weight", "bias"}) {
      const std::string k = std::string("feature_projection.layer_norm.") + t;
      const at::Tensor ext = std::string(t) == "weight" ? at::ones({extra}) : at::zeros({extra});
      w[k] = at::cat({w[k], ext});
    }
  }
  return w;
}

at::Tensor input() { return test::load_npy(kDir + "/input.npy"); }

TEST(HybridFrontEnd, NeutralAddFusionEqualsThePlainModel) {
  const auto plain = Encoder::load(kDir).forward(input());
  for (const char* features : {"cqt", "mel", "cqt+mel"}) {
    const EncoderConfig c = hybrid_config(features, "add");
    const auto hybrid = Encoder::from_weights(c, hybrid_weights(c, true)).forward(input());
    for (size_t s = 0; s < plain.size(); ++s)
      EXPECT_LE(test::max_rel_error(hybrid[s], plain[s]), 1e-6) << features << " state " << s;
    const auto active = Encoder::from_weights(c, hybrid_weights(c, false)).forward(input());
    EXPECT_GT(test::max_rel_error(active.back(), plain.back()), 1e-2) << features;
  }
}

TEST(HybridFrontEnd, ConcatWidensTheProjectionAndZeroColumnsAreNeutral) {
  EncoderConfig c = hybrid_config("cqt+mel", "concat");
  c.feat_proj_layer_norm = false;  // a LayerNorm over the wider vector would rescale the CNN part
  auto w = hybrid_weights(c, true);
  w.erase("feature_projection.layer_norm.weight");
  w.erase("feature_projection.layer_norm.bias");
  EncoderConfig p = EncoderConfig::load(kDir + "/config.json");
  p.feat_proj_layer_norm = false;
  auto pw = test::model_weights("mert_tiny_postln");
  pw.erase("feature_projection.layer_norm.weight");
  pw.erase("feature_projection.layer_norm.bias");
  const auto plain = Encoder::from_weights(p, pw).forward(input());
  const auto hybrid = Encoder::from_weights(c, w).forward(input());
  EXPECT_LE(test::max_rel_error(hybrid.back(), plain.back()), 1e-6);
  // The projection must be [hidden, conv_dim + 336 + n_mels]; the error names it.
  try {
    Encoder::from_weights(c, pw);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("missing: hybrid.cqt.layer_norm.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("feature_projection.projection.weight [64, 32] (expected [64, 400])"),
              std::string::npos)
        << m;
  }
}

TEST(HybridFrontEnd, FeaturesAreAlignedToTheConvFrameCentres) {
  // Silence, then noise from sample 4000: a conv frame's aligned mel sees the noise once the
  // 2048-sample mel window around its centre (t * 320 + 199.5) reaches the onset, i.e. from
  // t = (4000 - 1024 - 199.5) / 320 = 8.7. Using mel frame t at conv frame t (no rate change)
  // would put the jump at mel frame (4000 - 1024) / 240 = 12.4 instead.
  const EncoderConfig c = hybrid_config("mel", "add");
  const model_detail::HybridFrontEnd front(c);
  at::manual_seed(5);
  at::Tensor x = at::zeros({1, 12000});
  x.narrow(1, 4000, 8000).copy_(0.5 * at::randn({1, 8000}));
  const int64_t T = Encoder::load(kDir).num_frames(12000);
  const at::Tensor mel = front(x, T).mel[0].mean(1);  // [T] mean dB per frame
  ASSERT_EQ(mel.size(0), T);
  int64_t first_loud = -1;
  for (int64_t t = 0; t < T && first_loud < 0; ++t)
    if (mel[t].item<double>() > mel[0].item<double>() + 30) first_loud = t;
  EXPECT_NEAR(double(first_loud), (4000 - 1024 - 199.5) / 320.0, 1.0);
}

TEST(HybridFrontEnd, PaddedBatchEqualsOneByOne) {
  const EncoderConfig c = hybrid_config("cqt+mel", "concat");
  const Encoder enc = Encoder::from_weights(c, hybrid_weights(c, false));
  const at::Tensor in = input();
  const std::vector<at::Tensor> items{in[0], in[1].narrow(0, 0, 6001)};
  const auto batched = enc.forward_batch(items);
  for (size_t i = 0; i < items.size(); ++i)
    EXPECT_LE(test::max_rel_error(batched[i].back(), enc.forward(items[i]).back()[0]), 1e-5) << i;
}

TEST(HybridFrontEnd, ConfigRejectsHybridMusicFm) {
  EncoderConfig c = EncoderConfig::tiny_musicfm();
  c.hybrid_features = HybridFeatures::Cqt;
  EXPECT_THROW(c.validate(), Error);
}

}  // namespace
}  // namespace musefm
