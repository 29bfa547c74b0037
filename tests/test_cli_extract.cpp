// `musefm extract` end to end: the streamed path (files longer than a window, decoded block by
// block and written straight into the .npy) and the batched path (short files padded into one
// pass) give what the library's Extractor computes in memory; manifests and nested folders.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/audio.h"
#include "musefm/extract.h"
#include "musefm/features.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

const std::string kTiny = test::fixture("encoders/mert_tiny_postln");

// Runs the CLI; returns its exit status, its output (stdout + stderr) in `output`.
int run(const std::string& args, std::string* output = nullptr) {
  return test::run_cli(args, output);
}

at::Tensor in_memory(const std::string& file, ExtractConfig c) {
  const Extractor ex(Encoder::load(kTiny), c);
  return ex.extract(waveform_tensor(load_audio(file)));
}

TEST(CliExtract, StreamedLongFileEqualsInMemoryExtraction) {
  const std::string out = test::temp_dir(), wav = test::fixture("real_24k.wav");
  ASSERT_EQ(run("extract " + wav + " --model " + kTiny + " --out-dir " + out +
                " --window 0.5 --hop 0.4 --pool none --layers 0,2 --threads 1"),
            0);
  ExtractConfig c;
  c.window_s = 0.5;
  c.hop_s = 0.4;
  c.pool = musefm::Pool::None;
  c.layers = "0,2";
  const at::Tensor expect = in_memory(wav, c);
  const at::Tensor got = test::load_npy(out + "/real_24k.npy");
  ASSERT_EQ(got.sizes(), expect.sizes());
  EXPECT_LE(test::max_rel_error(got, expect), 1e-5);
  std::ifstream side(out + "/real_24k.json");
  const auto j = nlohmann::json::parse(side);
  EXPECT_EQ(j["frames"].get<int64_t>(), expect.size(1));
  EXPECT_EQ(j["hop_samples"].get<int64_t>(), 9600);
  EXPECT_NEAR(j["audio"]["duration_s"].get<double>(), 3.0, 1e-9);
  EXPECT_EQ(j["model"]["hash"].get<std::string>().rfind("fnv1a64:", 0), 0u);

  // Mean pooling accumulates over the stream.
  ASSERT_EQ(run("extract " + wav + " --model " + kTiny + " --out-dir " + out +
                " --window 0.5 --hop 0.4 --overwrite --layers weighted --layer-weights 1,0,1"),
            0);
  c.pool = musefm::Pool::Mean;
  c.layers = "weighted";
  c.layer_weights = {1, 0, 1};
  EXPECT_LE(test::max_rel_error(test::load_npy(out + "/real_24k.npy"), in_memory(wav, c)), 1e-5);

  // So do mean and standard deviation (sums of x and x^2 in float64, not the frames).
  ASSERT_EQ(run("extract " + wav + " --model " + kTiny + " --out-dir " + out +
                " --window 0.5 --hop 0.4 --overwrite --pool mean+std"),
            0);
  c = ExtractConfig{};
  c.window_s = 0.5;
  c.hop_s = 0.4;
  c.pool = musefm::Pool::MeanStd;
  const at::Tensor both = in_memory(wav, c);
  EXPECT_EQ(both.size(1), 2 * 64);
  EXPECT_LE(test::max_rel_error(test::load_npy(out + "/real_24k.npy"), both), 1e-5);
  std::ifstream side2(out + "/real_24k.json");
  EXPECT_EQ(nlohmann::json::parse(side2)["layout"].get<std::string>(),
            "outputs x (mean, std) dims");
}

TEST(CliExtract, BatchedShortFilesEqualOneByOneAndKeepFolderStructure) {
  const std::string root = test::temp_dir(), out1 = test::temp_dir(), out4 = test::temp_dir();
  // Same stem in two folders, different lengths (padding inside the batch).
  const at::Tensor a = waveform_tensor(load_audio(test::fixture("real_24k.wav")));
  std::filesystem::create_directories(root + "/x");
  std::filesystem::create_directories(root + "/y");
  const auto write = [](const std::string& path, const at::Tensor& t) {
    const at::Tensor c = t.contiguous();
    test::write_sndfile(path,
                        std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()), 1,
                        24000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  };
  write(root + "/x/clip.wav", a.narrow(0, 0, 30000));
  write(root + "/y/clip.wav", a.narrow(0, 10000, 52000));
  write(root + "/y/other.wav", a.narrow(0, 500, 7000));
  ASSERT_EQ(run("extract " + root + " --model " + kTiny + " --out-dir " + out1 + " --batch 1"), 0);
  ASSERT_EQ(run("extract " + root + " --model " + kTiny + " --out-dir " + out4 + " --batch 4"), 0);
  for (const char* key : {"/x/clip.npy", "/y/clip.npy", "/y/other.npy"}) {
    const at::Tensor one = test::load_npy(out1 + key), four = test::load_npy(out4 + key);
    ASSERT_EQ(one.sizes(), four.sizes()) << key;
    EXPECT_LE(test::max_rel_error(four, one), 1e-5) << key;
  }
  // A fairseq manifest of the same files: names relative to its root.
  const std::string manifest = root + "/train.tsv", out_m = test::temp_dir();
  std::ofstream(manifest) << root << "\nx/clip.wav\t30000\ny/other.wav\t6500\n";
  ASSERT_EQ(run("extract " + manifest + " --model " + kTiny + " --out-dir " + out_m), 0);
  EXPECT_LE(test::max_rel_error(test::load_npy(out_m + "/y/other.npy"),
                                test::load_npy(out1 + "/y/other.npy")),
            1e-6);
}

// Files at 44.1 kHz of different lengths, batched (bucketed by length): the loader thread that
// decodes the next batch changes no byte, the default resampler is libsoxr HQ (recorded in the
// sidecar) and --resample picks another, each equal to decoding with that resampler in memory.
TEST(CliExtract, LoaderThreadChangesNothingAndTheResamplerIsTheChosenOne) {
  const std::string root = test::temp_dir() + "/rates", a = test::temp_dir() + "/loader1",
                    b = test::temp_dir() + "/loader0", c = test::temp_dir() + "/best";
  std::filesystem::create_directories(root);
  for (int i = 0; i < 5; ++i) {
    std::vector<float> x(size_t(44100 * (0.6 + 0.3 * ((i * 3) % 5))));
    for (size_t t = 0; t < x.size(); ++t)
      x[t] = float(0.3 * std::sin(0.02 * (i + 1) * double(t)) + 0.1 * std::sin(0.31 * double(t)));
    test::write_sndfile(root + "/f" + std::to_string(i) + ".flac", x, 1, 44100,
                        SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  }
  const std::string base = "extract " + root + " --model " + kTiny + " --batch 2 --threads 1";
  ASSERT_EQ(run(base + " --out-dir " + a + " --loader-threads 2"), 0);
  ASSERT_EQ(run(base + " --out-dir " + b + " --loader-threads 0"), 0);
  ASSERT_EQ(run(base + " --out-dir " + c + " --resample best"), 0);
  for (int i = 0; i < 5; ++i) {
    const std::string f = "/f" + std::to_string(i);
    EXPECT_EQ(test::read_bytes(a + f + ".npy"), test::read_bytes(b + f + ".npy")) << f;
    for (auto [dir, q] : {std::pair{a, ResampleQuality::SoxrHq}, {c, ResampleQuality::Best}}) {
      AudioLoadOptions opt;
      opt.quality = q;
      const Extractor ex(Encoder::load(kTiny), ExtractConfig{});
      const at::Tensor expect = ex.extract(waveform_tensor(load_audio(root + f + ".flac", opt)));
      EXPECT_LE(test::max_rel_error(test::load_npy(dir + f + ".npy"), expect), 1e-5) << f;
      std::ifstream side(dir + f + ".json");
      EXPECT_EQ(nlohmann::json::parse(side)["extract"]["resample"].get<std::string>(),
                to_string(q));
    }
  }
  EXPECT_GT(test::max_rel_error(test::load_npy(a + "/f0.npy"), test::load_npy(c + "/f0.npy")),
            1e-7);  // the two resamplers really differ
}

TEST(CliExtract, BadManifestsAndCollidingNamesAreClearErrors) {
  const std::string dir = test::temp_dir(), out = test::temp_dir();
  std::string log;
  std::ofstream(dir + "/bad.tsv") << dir << "\nclip.wav 123\n";
  EXPECT_EQ(run("extract " + dir + "/bad.tsv --model " + kTiny + " --out-dir " + out, &log), 1);
  EXPECT_NE(log.find("bad.tsv' line 2: expected 'relative/path<TAB>num_samples'"),
            std::string::npos)
      << log;
  std::ofstream(dir + "/escape.tsv") << dir << "\n../clip.wav\t123\n";
  EXPECT_EQ(run("extract " + dir + "/escape.tsv --model " + kTiny + " --out-dir " + out, &log), 1);
  EXPECT_NE(log.find("must be a path inside the root folder"), std::string::npos) << log;
  std::ofstream(dir + "/count.tsv") << dir << "\nclip.wav\tmany\n";
  EXPECT_EQ(run("extract " + dir + "/count.tsv --model " + kTiny + " --out-dir " + out, &log), 1);
  EXPECT_NE(log.find("num_samples 'many'"), std::string::npos) << log;
  const std::string wav = test::fixture("real_24k.wav");
  std::filesystem::create_directories(dir + "/other");
  std::filesystem::copy_file(wav, dir + "/other/real_24k.wav");
  EXPECT_EQ(run("extract " + wav + " " + dir + "/other/real_24k.wav --model " + kTiny +
                    " --out-dir " + out,
                &log),
            1);
  EXPECT_NE(log.find("would write the same output 'real_24k'"), std::string::npos) << log;
  // A manifest entry whose file is missing fails alone; the others are written.
  std::ofstream(dir + "/partial.tsv") << dir << "\nother/real_24k.wav\t72000\nmissing.wav\t5\n";
  EXPECT_EQ(run("extract " + dir + "/partial.tsv --model " + kTiny + " --out-dir " + out, &log), 1);
  EXPECT_NE(log.find("1 written, 0 already done (skipped), 1 failed"), std::string::npos) << log;
  EXPECT_TRUE(std::filesystem::exists(out + "/other/real_24k.npy"));
}

}  // namespace
}  // namespace musefm
