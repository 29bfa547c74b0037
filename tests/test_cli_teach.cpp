// `musefm teach` end to end on a small real-audio manifest: each teacher's label set is
// written and verifies; labels equal the library's; shards merge to the unsharded set; a
// failed entry is reported while the rest are kept, and a rerun finishes the set; --verify
// names what is wrong with a broken set.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <sndfile.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "musefm/audio.h"
#include "musefm/codec.h"
#include "musefm/features.h"
#include "musefm/teachers.h"
#include "support/test_support.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

int run(const std::string& args, std::string* output = nullptr) {
  return test::run_cli(args, output);
}

// A manifest of the three real-music fixtures (16, 22.05 and 24 kHz), sample counts at 24 kHz
// as fairseq expects them at the model's rate.
struct Corpus {
  std::string dir = test::temp_dir(), manifest = dir + "/train.tsv";
  std::vector<std::string> files{"real_16k.wav", "real_22k.wav", "real_24k.wav"};
  Corpus() {
    std::string text = dir + "\n";
    for (const auto& f : files) {
      fs::copy_file(test::fixture(f), dir + "/" + f);
      const AudioInfo info = probe_audio(dir + "/" + f);
      text += f + "\t" + std::to_string(info.frames * 24000 / info.sample_rate) + "\n";
    }
    test::write_bytes(manifest, text);
  }
};

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(CliTeach, KMeansMfccWritesAVerifiedSetAndSkipsWhenDone) {
  Corpus c;
  const std::string out = c.dir + "/labels";
  std::string log;
  ASSERT_EQ(run("teach --manifest " + c.manifest + " --teacher kmeans-mfcc --k 8 --percent 1 " +
                    "--out " + out + " --threads 1",
                &log),
            0)
      << log;
  EXPECT_NE(log.find("ok      " + out + "/train.km"), std::string::npos) << log;
  const auto km = lines(out + "/train.km");
  ASSERT_EQ(km.size(), 3u);
  EXPECT_EQ(lines(out + "/dict.km.txt").size(), 8u);
  // Line 3 = the library's labels of real_24k.wav with the saved k-means.
  const KMeans model = KMeans::load(out + "/kmeans.safetensors");
  const at::Tensor mfcc = KaldiMfcc(KaldiMfccConfig::hubert(24000))(
      waveform_tensor(load_audio(test::fixture("real_24k.wav"))));
  const at::Tensor ids = model.assign(mfcc);
  std::string expect;
  for (int64_t i = 0; i < ids.numel(); ++i)
    expect += (i ? " " : "") + std::to_string(ids[i].item<int64_t>());
  EXPECT_EQ(km[2], expect);
  // A rerun has nothing to do; --verify agrees.
  ASSERT_EQ(
      run("teach --manifest " + c.manifest + " --teacher kmeans-mfcc --k 8 --out " + out, &log), 0);
  EXPECT_NE(log.find("nothing to do"), std::string::npos) << log;
  EXPECT_EQ(
      run("teach --manifest " + c.manifest + " --teacher kmeans-mfcc --out " + out + " --verify"),
      0);
}

// kmeans-chroma labels pitch classes: A3 / A4 / A5 sines (the same pitch class in three
// octaves) share one cluster, C4 gets another; the stream is named "chroma" and lives beside
// the MFCC "km" stream in one folder, each with its own k-means file.
TEST(CliTeach, KMeansChromaIsOctaveInvariantAndSharesTheFolder) {
  const std::string dir = test::temp_dir();
  std::string text = dir + "\n";
  const std::vector<std::pair<std::string, double>> tones{
      {"a3.wav", 220.0}, {"c4.wav", 261.63}, {"a4.wav", 440.0}, {"a5.wav", 880.0}};
  for (const auto& [name, hz] : tones) {
    std::vector<float> x(48000);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = float(0.3 * std::sin(2 * M_PI * hz * double(i) / 24000.0));
    test::write_sndfile(dir + "/" + name, x, 1, 24000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    text += name + "\t48000\n";
  }
  test::write_bytes(dir + "/train.tsv", text);
  const std::string out = dir + "/labels";
  std::string log;
  ASSERT_EQ(run("teach --manifest " + dir + "/train.tsv --teacher kmeans-mfcc --k 2 --percent 1 " +
                    "--out " + out + " --threads 1",
                &log),
            0)
      << log;
  ASSERT_EQ(run("teach --manifest " + dir + "/train.tsv --teacher kmeans-chroma --k 2 " +
                    "--percent 1 --out " + out + " --threads 1",
                &log),
            0)
      << log;
  EXPECT_NE(log.find("ok      " + out + "/train.chroma"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(out + "/kmeans.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/kmeans_chroma.safetensors"));
  EXPECT_EQ(lines(out + "/train.km").size(), 4u);  // untouched by the second teacher
  const auto chroma = lines(out + "/train.chroma");
  ASSERT_EQ(chroma.size(), 4u);
  // the middle label of each file (away from the edges' padding)
  const auto mid = [](const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> ids{std::istream_iterator<std::string>(in), {}};
    EXPECT_NEAR(double(ids.size()), 200.0, 2.0);  // 100 Hz
    return ids[ids.size() / 2];
  };
  EXPECT_EQ(mid(chroma[0]), mid(chroma[2]));  // A3 = A4
  EXPECT_EQ(mid(chroma[2]), mid(chroma[3]));  // A4 = A5
  EXPECT_NE(mid(chroma[1]), mid(chroma[2]));  // C4 != A
  // --label-name renames a single stream (and its k-means file)
  ASSERT_EQ(run("teach --manifest " + dir + "/train.tsv --teacher kmeans-chroma --k 2 " +
                    "--percent 1 --out " + out + " --label-name pc --threads 1",
                &log),
            0)
      << log;
  EXPECT_EQ(lines(out + "/train.pc"), chroma);
  EXPECT_TRUE(fs::exists(out + "/kmeans_pc.safetensors"));
}

TEST(CliTeach, ShardsMergeIntoTheUnshardedSet) {
  Corpus c;
  const std::string one = c.dir + "/one", two = c.dir + "/two";
  const std::string model = test::fixture("encoders/musicfm_tiny");
  const std::string base = "teach --manifest " + c.manifest + " --teacher bestrq --model " + model;
  ASSERT_EQ(run(base + " --out " + one), 0);
  ASSERT_EQ(run(base + " --out " + two + " --shard 0 --nshards 2"), 0);
  ASSERT_EQ(run(base + " --out " + two + " --shard 1 --nshards 2"), 0);
  EXPECT_EQ(lines(two + "/train_0_2.bestrq_0").size(), 1u);
  EXPECT_EQ(lines(two + "/train_1_2.bestrq_0").size(), 2u);
  std::string log;
  ASSERT_EQ(run(base + " --out " + two + " --merge --nshards 2", &log), 0) << log;
  EXPECT_EQ(test::read_bytes(two + "/train.bestrq_0"), test::read_bytes(one + "/train.bestrq_0"));
  // 25 Hz: 3 s of audio -> 75 labels (within the 0.1 s tolerance).
  std::istringstream first(lines(one + "/train.bestrq_0")[2]);
  int n = 0;
  for (std::string t; first >> t;) ++n;
  EXPECT_NEAR(n, 75, 2);
}

TEST(CliTeach, EncodecCodesOneFilePerCodebook) {
  Corpus c;
  const std::string out = c.dir + "/labels", codec = test::fixture("teachers/encodec_tiny");
  std::string log;
  ASSERT_EQ(run("teach --manifest " + c.manifest + " --teacher encodec --codec " + codec +
                    " --bandwidth 3 --out " + out,
                &log),
            0)
      << log;
  const EncodecTeacher teacher = EncodecTeacher::load(codec);
  const int n = teacher.num_codebooks(3.0);
  ASSERT_GT(n, 1);
  const at::Tensor codes =
      teacher.codes(waveform_tensor(load_audio(c.dir + "/real_24k.wav")).unsqueeze(0), 3.0)[0];
  for (int i = 0; i < n; ++i) {
    const std::string name = "encodec_" + std::to_string(i);
    EXPECT_NE(log.find("ok      " + out + "/train." + name), std::string::npos) << log;
    EXPECT_EQ(lines(out + "/dict." + name + ".txt").size(), size_t(teacher.config().bins));
    std::string expect;
    for (int64_t t = 0; t < codes.size(1); ++t)
      expect += (t ? " " : "") + std::to_string(codes[i][t].item<int64_t>());
    EXPECT_EQ(lines(out + "/train." + name)[2], expect) << name;
  }
  EXPECT_FALSE(fs::exists(out + "/train.encodec_" + std::to_string(n)));
  EXPECT_EQ(run("teach --manifest " + c.manifest + " --teacher encodec --codec " + codec +
                " --bandwidth 3 --out " + out + " --verify"),
            0);
}

TEST(CliTeach, FailedEntryIsReportedAndARerunFinishes) {
  Corpus c;
  // Entry 2's file is broken.
  const std::string bad = c.dir + "/real_22k.wav";
  test::write_bytes(bad, "RIFF....not audio");
  const std::string out = c.dir + "/labels", layer = test::fixture("encoders/mert_tiny_postln");
  const std::string cmd = "teach --manifest " + c.manifest +
                          " --teacher kmeans-layer --layer 1 --k 4 --percent 1 --model " + layer +
                          " --out " + out;
  std::string log;
  EXPECT_EQ(run(cmd, &log), 1) << log;
  EXPECT_NE(log.find("real_22k.wav"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out + "/train.km"));
  const std::string failures = test::read_bytes(out + "/failures.jsonl");
  EXPECT_NE(failures.find("\"manifest_line\":3"), std::string::npos) << failures;
  // Repair the file: the rerun labels only that entry and writes a verified set.
  fs::copy_file(test::fixture("real_22k.wav"), bad, fs::copy_options::overwrite_existing);
  ASSERT_EQ(run(cmd, &log), 0) << log;
  EXPECT_NE(log.find("resuming: 2 of 3 entries already labelled"), std::string::npos) << log;
  EXPECT_EQ(lines(out + "/train.km").size(), 3u);
  EXPECT_FALSE(fs::exists(out + "/.train.kmeans-layer.partial.jsonl"));
  EXPECT_NE(log.find("ok      " + out + "/train.km"), std::string::npos) << log;
}

TEST(CliTeach, VerifyNamesTheProblem) {
  Corpus c;
  const std::string out = c.dir + "/labels";
  fs::create_directories(out);
  test::write_bytes(out + "/dict.km.txt", "0 1\n1 1\n");
  test::write_bytes(out + "/train.km", "0 1 1\n");  // 1 line for 3 entries, far too short
  std::string log;
  EXPECT_EQ(
      run("teach --manifest " + c.manifest + " --teacher kmeans-mfcc --out " + out + " --verify",
          &log),
      1);
  EXPECT_NE(log.find("INVALID " + out + "/train.km"), std::string::npos) << log;
  EXPECT_NE(log.find("1 lines for 3 manifest entries"), std::string::npos) << log;
  EXPECT_NE(log.find("train.km:1 (real_16k.wav): 3 labels"), std::string::npos) << log;
  // Bad options fail before any work.
  EXPECT_NE(run("teach --manifest " + c.manifest + " --teacher kmeans-nope --out " + out), 0);
  EXPECT_NE(run("teach --manifest " + c.dir + "/missing.tsv --teacher kmeans-mfcc --out " + out),
            0);
  EXPECT_NE(run("teach --manifest " + c.manifest + " --teacher bestrq --out " + out), 0);
}

}  // namespace
}  // namespace musefm
