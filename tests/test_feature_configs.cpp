// Feature configs: presets, validate() messages, strict JSON round trip.
#include <gtest/gtest.h>

#include "musefm/features.h"

namespace musefm {
namespace {

template <typename Config>
std::string json_error(const std::string& text) {
  try {
    Config::from_json(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FeatureConfigs, JsonRoundTripKeepsEveryField) {
  MelConfig m = MelConfig::musicfm();
  m.n_mels = 64;
  m.mel_scale = MelScale::Slaney;
  m.norm = MelNorm::Slaney;
  m.top_db = 80;
  EXPECT_EQ(MelConfig::from_json(m.to_json()).to_json(), m.to_json());
  KaldiMfccConfig k = KaldiMfccConfig::hubert(24000);
  k.window = musefm::KaldiWindow::Hamming;
  k.delta_order = 1;
  EXPECT_EQ(KaldiMfccConfig::from_json(k.to_json()).to_json(), k.to_json());
  NnAudioCqtConfig c = NnAudioCqtConfig::mert();
  c.pad_mode = musefm::PadMode::Reflect;
  c.chunk_frames = 512;
  EXPECT_EQ(NnAudioCqtConfig::from_json(c.to_json()).to_json(), c.to_json());
}

TEST(FeatureConfigs, PresetsMatchTheReferences) {
  const MelConfig m = MelConfig::musicfm();
  EXPECT_EQ(m.sample_rate, 24000);
  EXPECT_EQ(m.n_fft, 2048);
  EXPECT_EQ(m.hop_length, 240);
  EXPECT_EQ(m.n_mels, 128);
  EXPECT_TRUE(m.drop_last_frame);
  const NnAudioCqtConfig c = NnAudioCqtConfig::mert();
  EXPECT_EQ(c.hop_length, 320);
  EXPECT_EQ(c.n_bins, 336);
  EXPECT_EQ(c.bins_per_octave, 48);
  EXPECT_DOUBLE_EQ(frame_rate(c), 75.0);
  EXPECT_DOUBLE_EQ(frame_rate(KaldiMfccConfig::hubert()), 100.0);
}

TEST(FeatureConfigs, UnknownKeysAreRejectedByName) {
  EXPECT_NE(json_error<MelConfig>(R"({"n_mel": 64})").find("unknown key 'n_mel'"),
            std::string::npos);
  EXPECT_NE(json_error<KaldiMfccConfig>(R"({"numceps": 13})").find("unknown key 'numceps'"),
            std::string::npos);
  EXPECT_NE(json_error<NnAudioCqtConfig>(R"({"bins": 12})").find("unknown key 'bins'"),
            std::string::npos);
}

TEST(FeatureConfigs, WrongTypesAndValuesAreRejected) {
  EXPECT_NE(json_error<MelConfig>(R"({"n_mels": "many"})").find("'n_mels' must be an integer"),
            std::string::npos);
  EXPECT_NE(json_error<MelConfig>(R"({"center": 1})").find("'center' must be a boolean"),
            std::string::npos);
  EXPECT_NE(json_error<MelConfig>(R"({"mel_scale": "bark"})").find("mel_scale"), std::string::npos);
  EXPECT_NE(json_error<MelConfig>("[1, 2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(json_error<MelConfig>("{oops").find("invalid JSON"), std::string::npos);
  EXPECT_NE(json_error<MelConfig>(R"({"amin": 1e410})").find("invalid JSON"), std::string::npos);
  EXPECT_NE(json_error<MelConfig>(R"({"n_fft": 4294967297})").find("'n_fft' is out of range"),
            std::string::npos);
  EXPECT_NE(json_error<NnAudioCqtConfig>(R"({"n_bins": 500})").find("exceeds the Nyquist"),
            std::string::npos);
  EXPECT_NE(json_error<KaldiMfccConfig>(R"({"num_ceps": 40})").find("num_ceps"), std::string::npos);
  EXPECT_NE(json_error<KaldiMfccConfig>(R"({"window": "kaiser"})").find("window"),
            std::string::npos);
}

TEST(FeatureConfigs, TransformsRejectBadTensors) {
  MelSpectrogram mel;
  EXPECT_THROW(mel(at::Tensor()), Error);
  EXPECT_THROW(mel(at::ones({2, 2, 2})), Error);
  EXPECT_THROW(mel(at::ones({100}, at::kLong)), Error);
  EXPECT_THROW(mel(at::ones({0})), Error);
  EXPECT_THROW(mel(at::ones({100})), Error);  // shorter than the reflect padding
  NnAudioCqtConfig c = NnAudioCqtConfig::mert();
  c.center = false;
  const NnAudioCqt no_centre(c);
  EXPECT_THROW(no_centre(at::ones({1000})), Error);  // shorter than the kernel
}

TEST(FeatureConfigs, KindNames) {
  for (const char* n : {"mel", "mfcc", "cqt", "chroma"})
    EXPECT_EQ(to_string(parse_feature_kind(n)), n);
  EXPECT_THROW(parse_feature_kind("spectrogram"), Error);
}

}  // namespace
}  // namespace musefm
