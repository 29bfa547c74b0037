// EncoderConfig (presets from the published configs, strict JSON, shipped config files) and the
// machinery every config shares (--set overrides, enum names, nested sections).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "musefm/encoder_config.h"
#include "musefm/features.h"
#include "musefm/overrides.h"
#include "musefm/train.h"

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

// ---- the machinery every config shares: --set overrides, enum names, strict JSON ----------
namespace {

std::string error_of_call(const std::function<void()>& f) {
  try {
    f();
  } catch (const musefm::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigOverrides, ParsesJsonValuesBareStringsAndNestedSections) {
  const auto j = nlohmann::json::parse(musefm::apply_overrides(
      R"({"a": 1, "s": {"x": "old"}})",
      {"a=2.5", "flag=true", "list=[1,2]", "name=constant", "s.x=new", "t.y=\"q\""}));
  EXPECT_EQ(j["a"], 2.5);
  EXPECT_EQ(j["flag"], true);
  EXPECT_EQ(j["list"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(j["name"], "constant");
  EXPECT_EQ(j["s"]["x"], "new");
  EXPECT_EQ(j["t"]["y"], "q");
}

TEST(ConfigOverrides, MalformedOverridesNameTheArgument) {
  EXPECT_NE(error_of_call([] { musefm::apply_overrides("{}", {"novalue"}); }).find("'novalue'"),
            std::string::npos);
  EXPECT_NE(error_of_call([] { musefm::apply_overrides("{}", {"=3"}); }).find("key=value"),
            std::string::npos);
  EXPECT_NE(error_of_call([] {
              musefm::apply_overrides(R"({"a": 1})", {"a.b=1"});
            }).find("'a' is not a section"),
            std::string::npos);
  EXPECT_NE(error_of_call([] { musefm::apply_overrides("{}", {"a..b=1"}); }).find("empty name"),
            std::string::npos);
}

TEST(ConfigOverrides, WithOverridesChecksKeysTypesAndRanges) {
  const auto mel = musefm::with_overrides(musefm::MelConfig::musicfm(), {"n_mels=64"});
  EXPECT_EQ(mel.n_mels, 64);
  EXPECT_EQ(mel.hop_length, musefm::MelConfig::musicfm().hop_length);
  EXPECT_NE(error_of_call([] {
              musefm::with_overrides(musefm::MelConfig{}, {"n_mel=64"});
            }).find("MelConfig: unknown key 'n_mel'"),
            std::string::npos);
  EXPECT_NE(error_of_call([] {
              musefm::with_overrides(musefm::MelConfig{}, {"n_mels=many"});
            }).find("key 'n_mels' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of_call([] {
              musefm::with_overrides(musefm::MelConfig{}, {"hop_length=0"});
            }).find("hop_length"),
            std::string::npos);
}

TEST(EnumNames, PrintParseAndListChoices) {
  EXPECT_EQ(musefm::to_string(musefm::MelScale::Htk), "htk");
  EXPECT_EQ(musefm::parse_enum<musefm::FeatureKind>("chroma", "kind"), musefm::FeatureKind::Chroma);
  EXPECT_EQ(musefm::enum_choices<musefm::FeatureKind>(), "mel, mfcc, cqt or chroma");
  EXPECT_EQ(error_of_call([] { musefm::parse_feature_kind("stft"); }),
            "feature kind must be mel, mfcc, cqt or chroma, got \"stft\"");
}

TEST(EnumNames, ConfigJsonCarriesNamesAndRejectsUnknownOnes) {
  musefm::MelConfig c;
  c.mel_scale = musefm::MelScale::Htk;
  c.norm = musefm::MelNorm::None;
  const auto j = nlohmann::json::parse(c.to_json());
  EXPECT_EQ(j["mel_scale"], "htk");
  EXPECT_EQ(j["norm"], "none");
  EXPECT_EQ(musefm::MelConfig::from_json(c.to_json()).mel_scale, musefm::MelScale::Htk);
  EXPECT_EQ(error_of_call([] { musefm::MelConfig::from_json(R"({"mel_scale": "bark"})"); }),
            "MelConfig.mel_scale must be htk or slaney, got \"bark\"");
}

TEST(PretrainConfigOverrides, SectionOverridesReachTheirSection) {
  const std::string recipe = testing::TempDir() + "/recipe_overrides.json";
  {
    musefm::PretrainConfig base;
    base.model = musefm::EncoderConfig::tiny_mert();
    std::ofstream(recipe) << base.to_json();
  }
  const auto c = musefm::PretrainConfig::load(
      recipe, {"optim.lr=0.002", "model.hidden_size=32", "data.labels=[\"km\",\"chroma\"]"});
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.002);
  EXPECT_EQ(c.model.hidden_size, 32);
  EXPECT_EQ(c.data.labels, (std::vector<std::string>{"km", "chroma"}));
  EXPECT_NE(error_of_call([&] {
              musefm::PretrainConfig::load(recipe, {"lr=1"});
            }).find("section.key=value"),
            std::string::npos);
  EXPECT_NE(error_of_call([&] {
              musefm::PretrainConfig::load(recipe, {"optim.learning_rate=1"});
            }).find("unknown key 'learning_rate'"),
            std::string::npos);
}

}  // namespace
