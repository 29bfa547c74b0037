// MusicFM encoder parity with the reference built by tools/make_musicfm_fixtures.py (MusicFM's
// mel front-end and Res2d subsampling in torch + transformers' Wav2Vec2ConformerEncoder, random
// tiny weights incl. BatchNorm statistics), padded batches and weight-loading errors.
#include <gtest/gtest.h>

#include "musefm/encoder.h"
#include "musefm/features.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string dir() { return test::fixture("encoders/musicfm_tiny"); }

std::string load_error(const std::map<std::string, at::Tensor>& w) {
  try {
    Encoder::from_weights(EncoderConfig::load(dir() + "/config.json"), w, "cpu",
                          "tiny.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MusicFmParity, NormalisedMelMatchesTheReferenceFrontEnd) {
  const EncoderConfig c = EncoderConfig::load(dir() + "/config.json");
  MelConfig m = MelConfig::musicfm();
  m.n_mels = c.n_mels;
  const at::Tensor input = test::load_npy(dir() + "/input.npy");
  const at::Tensor mel = (MelSpectrogram(m)(input) - c.mel_mean) / c.mel_std;
  const at::Tensor ref = test::load_npy(dir() + "/mel.npy");
  ASSERT_EQ(mel.sizes(), ref.sizes());
  EXPECT_LE(test::max_rel_error(mel, ref), 1e-5);
}

TEST(MusicFmParity, SubsamplingAndEveryHiddenStateMatch) {
  for (const char* attention : {"sdpa", "naive"}) {
    EncoderConfig c = EncoderConfig::load(dir() + "/config.json");
    c.attention = parse_enum<AttentionImpl>(attention, "attention");
    const Encoder enc = Encoder::from_weights(c, test::model_weights("musicfm_tiny"));
    const at::Tensor input = test::load_npy(dir() + "/input.npy");
    const at::Tensor conv = test::load_npy(dir() + "/conv_output.npy");
    const at::Tensor ref = test::load_npy(dir() + "/hidden_states.npy");
    const at::Tensor sub = enc.extract_features(input);
    ASSERT_EQ(sub.sizes(), conv.sizes());
    EXPECT_LE(test::max_rel_error(sub, conv), 1e-4) << attention;
    const auto hs = enc.forward(input);
    ASSERT_EQ(int64_t(hs.size()), ref.size(0));
    EXPECT_EQ(enc.num_frames(input.size(1)), ref.size(2));
    for (size_t i = 0; i < hs.size(); ++i)
      EXPECT_LE(test::max_rel_error(hs[i], ref[int64_t(i)]), 1e-4)
          << attention << " hidden state " << i;
  }
}

TEST(MusicFmParity, PaddedBatchEqualsOneByOne) {
  const Encoder enc = Encoder::load(dir());
  const at::Tensor input = test::load_npy(dir() + "/input.npy");
  const std::vector<at::Tensor> items{input[0], input[1].narrow(0, 0, 13001),
                                      input[0].narrow(0, 2000, 5000)};
  const auto batched = enc.forward_batch(items);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto alone = enc.forward(items[i]);
    for (size_t s = 0; s < alone.size(); ++s) {
      ASSERT_EQ(batched[i][s].sizes(), alone[s][0].sizes()) << i << "/" << s;
      EXPECT_LE(test::max_rel_error(batched[i][s], alone[s][0]), 1e-5) << i << "/" << s;
    }
  }
}

TEST(MusicFmParity, FrameCountsFollowTheMelAndTwoStrideTwoBlocks) {
  const Encoder enc = Encoder::load(dir());
  EXPECT_DOUBLE_EQ(enc.config().frame_rate(), 25.0);
  for (int64_t n : {1100, 2399, 24000, 24959, 24960}) {
    const int64_t mel = n / 240;  // centred STFT 1 + n / hop frames, last one dropped
    EXPECT_EQ(enc.num_frames(n), ((mel + 1) / 2 + 1) / 2) << n;
    EXPECT_EQ(enc.forward(at::randn({n}))[0].size(1), enc.num_frames(n)) << n;
  }
  EXPECT_THROW(enc.forward(at::randn({1000})), Error);  // reflect padding needs > n_fft / 2
}

TEST(MusicFmLoading, ReportsProblemsByNameAndIgnoresTrainingOnlyTensors) {
  auto w = test::model_weights("musicfm_tiny");
  EXPECT_EQ(load_error(w), "");
  auto missing = w;
  missing.erase("conformer.layers.1.conv_module.batch_norm.running_var");
  EXPECT_NE(
      load_error(missing).find("missing: conformer.layers.1.conv_module.batch_norm.running_var"),
      std::string::npos);
  auto wrong = w;
  wrong["conv.linear.weight"] = at::zeros({64, 100});
  EXPECT_NE(load_error(wrong).find("conv.linear.weight [64, 100] (expected [64, 128])"),
            std::string::npos);
  auto extra = w;
  extra["conformer.layers.0.self_attn.linear_pos.weight"] = at::zeros({64, 64});
  EXPECT_NE(load_error(extra).find("unexpected: conformer.layers.0.self_attn.linear_pos.weight"),
            std::string::npos);
  // Quantizer, head, cls token, positional conv and mel buffers are optional.
  auto bare = w;
  for (auto it = bare.begin(); it != bare.end();) {
    const std::string& k = it->first;
    const bool unused = k.rfind("quantizer_", 0) == 0 || k.rfind("preprocessor_", 0) == 0 ||
                        k.rfind("linear.", 0) == 0 || k == "cls_token" ||
                        k.find("pos_conv_embed") != std::string::npos ||
                        k.find("num_batches_tracked") != std::string::npos;
    it = unused ? bare.erase(it) : ++it;
  }
  EXPECT_LT(bare.size(), w.size());
  EXPECT_EQ(load_error(bare), "");
}

}  // namespace
}  // namespace musefm
