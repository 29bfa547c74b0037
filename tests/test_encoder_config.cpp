// EncoderConfig: presets from the published configs, strict JSON, shipped config files.
#include <gtest/gtest.h>

#include "musefm/encoder_config.h"

namespace musefm {
namespace {

std::string error_of(const std::string& json) {
  try {
    EncoderConfig::from_json(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EncoderConfig, PresetsValidateAndRoundTrip) {
  for (const auto& c :
       {EncoderConfig::mert_v1_95m(), EncoderConfig::mert_v1_330m(), EncoderConfig::musicfm_25hz(),
        EncoderConfig::tiny_mert(), EncoderConfig::tiny_musicfm()}) {
    EXPECT_NO_THROW(c.validate());
    EXPECT_EQ(EncoderConfig::from_json(c.to_json()).to_json(), c.to_json());
  }
}

TEST(EncoderConfig, FrameRatesAndHiddenStates) {
  EXPECT_DOUBLE_EQ(EncoderConfig::mert_v1_95m().frame_rate(), 75.0);   // hop 320 at 24 kHz
  EXPECT_DOUBLE_EQ(EncoderConfig::musicfm_25hz().frame_rate(), 25.0);  // 100 Hz mel / 4
  EXPECT_EQ(EncoderConfig::mert_v1_95m().num_hidden_states(), 13);
  EXPECT_EQ(EncoderConfig::mert_v1_330m().num_hidden_states(), 25);
}

TEST(EncoderConfig, ShippedConfigFilesEqualThePresets) {
  const std::string dir = MUSEFM_CONFIGS_DIR;
  EXPECT_EQ(EncoderConfig::load(dir + "/mert-v1-95m.json").to_json(),
            EncoderConfig::mert_v1_95m().to_json());
  EXPECT_EQ(EncoderConfig::load(dir + "/mert-v1-330m.json").to_json(),
            EncoderConfig::mert_v1_330m().to_json());
  EXPECT_EQ(EncoderConfig::load(dir + "/musicfm-25hz.json").to_json(),
            EncoderConfig::musicfm_25hz().to_json());
  EXPECT_EQ(EncoderConfig::load(dir + "/tiny-mert.json").to_json(),
            EncoderConfig::tiny_mert().to_json());
  EXPECT_EQ(EncoderConfig::load(dir + "/tiny-musicfm.json").to_json(),
            EncoderConfig::tiny_musicfm().to_json());
}

TEST(EncoderConfig, ErrorsNameTheField) {
  EXPECT_NE(error_of(R"({"hidden_sise": 768})").find("unknown key 'hidden_sise'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"conv_dim": [512, "x"]})").find("'conv_dim' must be an array of integers"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"conv_dim": [512]})").find("same non-zero length"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_attention_heads": 7})").find("divisible by num_attention_heads"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "bert"})").find("model_type"), std::string::npos);
  EXPECT_NE(error_of(R"({"hybrid_features": "chroma"})").find("hybrid_features"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "musicfm", "n_mels": 30})").find("divisible by 4"),
            std::string::npos);
  try {
    EncoderConfig::load("/nonexistent/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/config.json'"), std::string::npos);
  }
}

}  // namespace
}  // namespace musefm
