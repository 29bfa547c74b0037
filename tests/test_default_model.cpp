// The default model: where it is found, checksum verification of model dirs, the clear errors
// of a missing or corrupted one, and the shipped model itself (models/musefm-small).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/default_model.h"
#include "musefm/encoder.h"
#include "support/test_support.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

// A copy of a tiny fixture model with a checksums.json, as the shipped model carries.
std::string checked_copy(const std::string& fixture_model) {
  const std::string dir = test::temp_dir() + "/model";
  fs::create_directories(dir);
  nlohmann::json sums;
  for (const char* f : {"config.json", "model.safetensors"}) {
    fs::copy_file(test::fixture("encoders/" + fixture_model + "/" + f), dir + "/" + f);
    sums[f] = file_checksum(dir + "/" + f);
  }
  test::write_bytes(dir + "/checksums.json", sums.dump(2));
  return dir;
}

struct ScopedEnv {
  std::string name;
  ScopedEnv(const std::string& n, const std::string& v) : name(n) {
    setenv(n.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

TEST(ModelChecksums, FnvOfTheBytes) {
  const std::string dir = test::temp_dir();
  test::write_bytes(dir + "/empty", "");
  test::write_bytes(dir + "/a", "a");
  // FNV-1a 64 reference values (offset basis for the empty input; "a" from the spec's tables)
  EXPECT_EQ(file_checksum(dir + "/empty"), "fnv1a64:cbf29ce484222325");
  EXPECT_EQ(file_checksum(dir + "/a"), "fnv1a64:af63dc4c8601ec8c");
  EXPECT_NE(test::error_of([&] { file_checksum(dir + "/none"); }).find(dir + "/none"),
            std::string::npos);
}

TEST(ModelChecksums, CorruptedOrMissingFilesAreNamedWithTheRemedy) {
  const std::string dir = checked_copy("mert_tiny_postln");
  EXPECT_NO_THROW(verify_model_checksums(dir));
  const Encoder ok = Encoder::load(dir);
  // one flipped byte near the end of the weights (inside the tensor data, not the header)
  {
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-5, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x40);
    f.seekp(-5, std::ios::end);
    f.write(&c, 1);
  }
  std::string msg = test::error_of([&] { Encoder::load(dir); });
  EXPECT_NE(msg.find(dir + "/model.safetensors is corrupted"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train_default_model.sh"), std::string::npos) << msg;
  fs::remove(dir + "/config.json");
  msg = test::error_of([&] { verify_model_checksums(dir); });
  EXPECT_NE(msg.find("config.json is missing"), std::string::npos) << msg;
  test::write_bytes(dir + "/checksums.json", "{\"../x\": \"fnv1a64:0\"}");
  EXPECT_NE(test::error_of([&] { verify_model_checksums(dir); }).find("not a file name"),
            std::string::npos);
  test::write_bytes(dir + "/checksums.json", "{not json");
  EXPECT_NE(test::error_of([&] { verify_model_checksums(dir); }).find("not valid JSON"),
            std::string::npos);
}

TEST(DefaultModel, EnvironmentOverrideAndItsErrors) {
  const std::string dir = checked_copy("musicfm_tiny");
  {
    ScopedEnv env("MUSEFM_DEFAULT_MODEL", dir);
    EXPECT_EQ(default_model_dir(), dir);
    const Encoder a = Encoder::load_default(),
                  b = Encoder::load(test::fixture("encoders/musicfm_tiny"));
    const at::Tensor wav = at::randn({24000}, at::TensorOptions(at::kFloat)) * 0.1;
    EXPECT_TRUE(a.forward(wav).back().equal(b.forward(wav).back()));
  }
  ScopedEnv env("MUSEFM_DEFAULT_MODEL", test::temp_dir());
  const std::string msg = test::error_of([] { default_model_dir(); });
  EXPECT_NE(msg.find("MUSEFM_DEFAULT_MODEL"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a model directory"), std::string::npos) << msg;
}

// The model this source tree ships: found without any setting, its checksums hold, and it
// is the model the card describes.
TEST(DefaultModel, TheShippedModelLoadsAndMatchesItsCard) {
  const std::string dir = default_model_dir();
  EXPECT_EQ(fs::canonical(dir),
            fs::canonical(std::string(MUSEFM_SOURCE_DIR) + "/models/" + kDefaultModelName));
  ASSERT_TRUE(fs::exists(dir + "/checksums.json"));
  ASSERT_TRUE(fs::exists(dir + "/MODEL_CARD.md"));
  EXPECT_LE(fs::file_size(dir + "/model.safetensors"), 25u * 1000 * 1000);
  const Encoder enc = Encoder::load_default();
  const at::Tensor wav = at::randn({48000}, at::TensorOptions(at::kFloat)) * 0.1;
  const auto hs = enc.forward(wav);
  EXPECT_EQ(int(hs.size()), enc.config().num_hidden_states());
  for (const auto& h : hs) EXPECT_TRUE(h.isfinite().all().item<bool>());
  std::ifstream card(dir + "/MODEL_CARD.md");
  const std::string text((std::istreambuf_iterator<char>(card)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("not MERT"), std::string::npos);
  EXPECT_NE(text.find(file_checksum(dir + "/model.safetensors")), std::string::npos)
      << "MODEL_CARD.md must quote the weights' checksum";
}

}  // namespace
}  // namespace musefm
