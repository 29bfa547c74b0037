// Probe features (model, baselines, windows, cache) and `musefm probe` end to end on a tiny
// task of tones written by the test: low vs high notes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/encoder.h"
#include "musefm/features.h"
#include "musefm/probe.h"
#include "support/probe_support.h"
#include "support/test_support.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

const std::string kTiny = test::fixture("encoders/mert_tiny_postln");
// The two-tone task (support/probe_support.h): low = G3, high = G6, alternating rows.
const char* const kBody = test::kTwoToneBody;
constexpr auto tone = test::two_tone_hz;
constexpr auto rows = test::two_tone_rows;

size_t count_files(const std::string& dir, const std::string& ext) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ext) ++n;
  return n;
}

TEST(ProbeFeatures, ModelAndBaselinesPoolEveryLayer) {
  const std::string dir = test::temp_dir() + "/task";
  test::write_task(dir, kBody, rows(4, 2, 2), 0.5, tone);
  const ProbeTask t = ProbeTask::load(dir);
  const ProbeFeatures m = FeatureSource::open(kTiny).compute(t, "train");
  EXPECT_EQ(m.x.sizes(), (at::IntArrayRef{4, 3, 64}));  // 2 layers + the transformer input
  EXPECT_EQ(m.clip, (std::vector<int64_t>{0, 1, 2, 3}));
  const ProbeFeatures f = FeatureSource::open("mfcc").compute(t, "valid");
  EXPECT_EQ(f.x.sizes(), (at::IntArrayRef{2, 1, 78}));  // mean + std of 39 MFCC dims
  const ProbeFeatures c = FeatureSource::open("chroma").compute(t, "test");
  EXPECT_EQ(c.x.sizes(), (at::IntArrayRef{2, 1, 24}));
  // The high tone's chroma mean peaks at G (pitch class 7), as does the low one's.
  EXPECT_EQ(c.x[1][0].narrow(0, 0, 12).argmax().item<int64_t>(), 7);

  // Windows: 1 s clips, 0.4 s windows every 0.3 s -> starts 0, 0.3, 0.6 (0.9 would overrun).
  test::write_task(dir, std::string(kBody) + R"(, "mode": {"kind": "window", "window_s": 0.4,
                                                 "hop_s": 0.3})",
                   rows(2, 2, 2), 1.0, tone);
  const ProbeTask w = ProbeTask::load(dir);
  const ProbeFeatures wm = FeatureSource::open(kTiny).compute(w, "train");
  EXPECT_EQ(wm.x.size(0), 6);
  EXPECT_EQ(wm.clip, (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(wm.num_clips, 2);
}

TEST(ProbeFeatures, CacheIsReusedAndRefreshedWhenAudioChanges) {
  const std::string dir = test::temp_dir() + "/task", cache = test::temp_dir();
  test::write_task(dir, kBody, rows(4, 2, 2), 0.5, tone);
  const ProbeTask t = ProbeTask::load(dir);
  const FeatureSource src = FeatureSource::open(kTiny);
  bool cached = true;
  const ProbeFeatures a = probe_features(src, t, "train", cache, {}, &cached);
  EXPECT_FALSE(cached);
  const std::string file =
      cache + "/" + src.key() + "/" +
      fs::directory_iterator(cache + "/" + src.key())->path().filename().string() +
      "/train.safetensors";
  EXPECT_TRUE(fs::exists(file)) << file;
  EXPECT_EQ(src.key().rfind("mert_tiny_postln-", 0), 0u) << src.key();
  // bf16 features are a source of their own: another key and name, not the fp32 cache entry.
  const FeatureSource bf16 = FeatureSource::open(kTiny, "cpu", 4, Precision::Bf16);
  EXPECT_EQ(bf16.name(), "mert_tiny_postln@bf16");
  EXPECT_EQ(bf16.key().rfind("mert_tiny_postln@bf16-", 0), 0u) << bf16.key();
  bool bf16_cached = true;
  const ProbeFeatures h = probe_features(bf16, t, "train", cache, {}, &bf16_cached);
  EXPECT_FALSE(bf16_cached);
  EXPECT_FALSE(at::equal(h.x, a.x));
  // So are mean+std pooled features: twice the dims, the mean half equal to the mean source.
  const FeatureSource ms = FeatureSource::open(kTiny, "cpu", 4, Precision::Fp32, Pool::MeanStd);
  EXPECT_EQ(ms.name(), "mert_tiny_postln@mean+std");
  EXPECT_NE(ms.key(), src.key());
  const ProbeFeatures s2 = probe_features(ms, t, "train", cache, {}, &cached);
  EXPECT_FALSE(cached);
  ASSERT_EQ(s2.x.sizes(), (at::IntArrayRef{4, 3, 128}));
  EXPECT_LE(test::max_rel_error(s2.x.narrow(2, 0, 64), a.x), 1e-5);
  EXPECT_THROW(FeatureSource::open(kTiny, "cpu", 4, Precision::Fp32, Pool::None), Error);
  const ProbeFeatures b = probe_features(src, t, "train", cache, {}, &cached);
  EXPECT_TRUE(cached);
  EXPECT_TRUE(at::equal(a.x, b.x));
  EXPECT_EQ(a.clip, b.clip);
  // A changed clip (new modification time) invalidates the split's entry.
  fs::last_write_time(
      t.split("train").items[2].audio,
      fs::last_write_time(t.split("train").items[2].audio) + std::chrono::seconds(5));
  probe_features(src, t, "train", cache, {}, &cached);
  EXPECT_FALSE(cached);
  probe_features(src, t, "train", cache, {}, &cached);
  EXPECT_TRUE(cached);
}

TEST(ProbeFeatures, UndecodableAudioIsLeftOutAndNamed) {
  const std::string dir = test::temp_dir() + "/task", cache = test::temp_dir();
  test::write_task(dir, kBody, rows(4, 2, 2), 0.5, tone);
  test::write_bytes(dir + "/audio/train/2.wav", "RIFF....WAVEfmt garbage");
  const ProbeTask t = ProbeTask::load(dir);
  for (const char* spec : {"mfcc", kTiny.c_str()}) {
    for (bool cached : {false, true}) {  // computed, then read back from the cache
      bool hit = false;
      const ProbeFeatures f =
          probe_features(FeatureSource::open(spec), t, "train", cache, {}, &hit);
      EXPECT_EQ(hit, cached) << spec;
      ASSERT_EQ(f.failed.size(), 1u) << spec;
      const std::string& m = f.failed.at(2);
      EXPECT_NE(m.find("train.tsv:4"), std::string::npos) << m;
      EXPECT_NE(m.find("audio/train/2.wav"), std::string::npos) << m;
      EXPECT_EQ(f.clip, (std::vector<int64_t>{0, 1, 3})) << spec;  // the other clips are kept
      EXPECT_EQ(f.x.size(0), 3) << spec;
    }
  }
  // Nothing usable is an error naming the split.
  for (int i = 0; i < 2; ++i)
    test::write_bytes(dir + "/audio/valid/" + std::to_string(i) + ".wav", "not audio");
  try {
    FeatureSource::open("mfcc").compute(ProbeTask::load(dir), "valid");
    ADD_FAILURE() << "no error for a split without usable audio";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no clip of the valid split"), std::string::npos)
        << e.what();
  }
}

// The baselines resample as librosa.load(path, sr) does (soxr HQ), so the chroma baseline is
// librosa's chroma_cqt statistics of the loaded file (fixture: tools/make_probe_fixtures.py).
TEST(ProbeFeatures, BaselinesMatchLibrosaLoadAndChroma) {
  const std::string dir = test::temp_dir() + "/task";
  test::write_task(dir, kBody, rows(1, 1, 1), 0.25, tone);
  fs::copy_file(test::fixture("real_24k.wav"), dir + "/audio/test/0.wav",
                fs::copy_options::overwrite_existing);
  const ProbeTask t = ProbeTask::load(dir);
  const at::Tensor chroma = FeatureSource::open("chroma").compute(t, "test").x;
  const at::Tensor ref = test::load_npy(test::fixture("probe/chroma_baseline.npy"));
  ASSERT_EQ(chroma.sizes(), (std::vector<int64_t>{1, 1, 24}));
  EXPECT_LT((chroma.flatten() - ref).abs().max().item<double>(), 1e-4);
  // MFCC statistics of librosa.load(sr=16000)'s samples equal the baseline's.
  const at::Tensor y16 = test::load_npy(test::fixture("probe/resampled_16k.npy"));
  const KaldiMfcc mfcc(KaldiMfccConfig::hubert(16000));
  const at::Tensor frames = mfcc(y16);
  const at::Tensor want = at::cat({frames.mean(0), frames.std(0, /*unbiased=*/false)});
  const at::Tensor got = FeatureSource::open("mfcc").compute(t, "test").x.flatten();
  EXPECT_LT((got - want).abs().max().item<double>(),
            1e-4 * (1.0 + want.abs().max().item<double>()));
}

TEST(CliProbe, TinyTaskEndToEndWithCacheAndResume) {
  const std::string dir = test::temp_dir() + "/task", out = test::temp_dir(),
                    cache = test::temp_dir();
  test::write_task(dir, kBody, rows(12, 6, 6), 0.5, tone);
  const std::string args = "probe --model " + kTiny + " --model mfcc --task " + dir + " --out " +
                           out + " --cache " + cache +
                           " --seeds 2 --set max_epochs=4 --set lr_grid=[1e-3,1e-2] --threads 1";
  std::string log;
  ASSERT_EQ(test::run_cli(args, &log), 0) << log;
  std::ifstream in(out + "/report.json");
  const auto j = nlohmann::json::parse(in);
  // mert tiny: layers 0..2 + weighted, mfcc: one layer; each with linear and mlp.
  ASSERT_EQ(j["rows"].size(), 10u) << j.dump(1);
  int best = 0;
  for (const auto& row : j["rows"]) {
    best += row["best"].get<bool>();
    const size_t seeds = row["probe"] == "mlp" ? 2 : 1;
    EXPECT_EQ(row["seeds"].size(), seeds);
    EXPECT_TRUE(row["test"]["accuracy"]["mean"].is_number());
    if (row["model"] == "mfcc" && row["probe"] == "linear")
      EXPECT_GE(row["test"]["accuracy"]["mean"].get<double>(), 0.99);  // tones 3 octaves apart
  }
  EXPECT_EQ(best, 4);                                 // one per model x probe
  EXPECT_EQ(count_files(cache, ".safetensors"), 6u);  // 2 sources x 3 splits
  EXPECT_TRUE(fs::exists(out + "/report.md"));
  std::ifstream cfg(out + "/config.json");
  EXPECT_EQ(nlohmann::json::parse(cfg)["config"]["max_epochs"], 4);
  EXPECT_NE(log.find("best layer"), std::string::npos) << log;

  ASSERT_EQ(test::run_cli(args, &log), 0) << log;
  EXPECT_NE(log.find("from the cache"), std::string::npos) << log;
  EXPECT_NE(log.find("15 run(s) reused"), std::string::npos) << log;  // 4 + 8 mert, 1 + 2 mfcc
  std::ifstream again(out + "/report.json");
  EXPECT_EQ(nlohmann::json::parse(again), j);
}

TEST(CliProbe, SuiteAndUndecodableClips) {
  const std::string data = test::temp_dir(), out = test::temp_dir();
  test::write_task(data + "/tones", kBody, rows(8, 4, 4), 0.5, tone);
  test::write_bytes(data + "/tones/audio/test/3.wav", "RIFF garbage");
  test::write_bytes(data + "/suite.json", R"({"name": "s", "tasks": ["tones"]})");
  const std::string args = "probe --model mfcc --suite " + data + "/suite.json --data " + data +
                           " --out " + out + " --cache none --probe linear --threads 1";
  std::string log;
  EXPECT_EQ(test::run_cli(args, &log), 1) << log;  // the good clips are probed, exit status 1
  EXPECT_NE(log.find("left out"), std::string::npos) << log;
  std::ifstream failures(out + "/failures.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(failures, line)) << log;
  const auto f = nlohmann::json::parse(line);
  EXPECT_EQ(f["split"], "test");
  EXPECT_EQ(f["line"], 5);
  EXPECT_NE(f["audio"].get<std::string>().find("audio/test/3.wav"), std::string::npos);
  EXPECT_FALSE(std::getline(failures, line));
  std::ifstream in(out + "/report.json");
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["rows"].size(), 1u);
  EXPECT_GE(j["rows"][0]["test"]["accuracy"]["mean"].get<double>(), 0.99);  // 3 clips scored

  // A suite entry may restrict the probes run on its task.
  test::write_bytes(data + "/linear.json",
                    R"({"tasks": [{"name": "tones", "probes": ["linear"], "layers": "single",
                                   "note": "why"}]})");
  const std::string out2 = test::temp_dir();
  EXPECT_EQ(test::run_cli("probe --model mfcc --model " + kTiny + " --suite " + data +
                              "/linear.json --data " + data + " --out " + out2 +
                              " --cache none --threads 1",
                          &log),
            1);  // the undecodable clip is still listed
  EXPECT_NE(log.find("probe mfcc/t mlp: skipped (the suite runs linear only on this task)"),
            std::string::npos)
      << log;
  std::ifstream in2(out2 + "/report.json");
  const auto j2 = nlohmann::json::parse(in2);
  ASSERT_EQ(j2["rows"].size(), 4u);  // mfcc + the tiny model's 3 single layers, no weighted sum
  for (const auto& row : j2["rows"]) {
    EXPECT_EQ(row["probe"], "linear");
    EXPECT_NE(row["layer"], "weighted");
  }
  test::write_bytes(data + "/svm.json", R"({"tasks": [{"name": "tones", "probes": ["svm"]}]})");
  EXPECT_EQ(test::run_cli("probe --model mfcc --suite " + data + "/svm.json --data " + data +
                              " --out " + out2,
                          &log),
            1);
  EXPECT_NE(log.find("svm.json: probe \"svm\" is not linear or mlp"), std::string::npos) << log;

  test::write_bytes(data + "/bad.json", R"({"tasks": []})");
  EXPECT_EQ(test::run_cli(
                "probe --model mfcc --suite " + data + "/bad.json --data " + data + " --out " + out,
                &log),
            1);
  EXPECT_NE(log.find("bad.json: expected an object with a non-empty \"tasks\""), std::string::npos)
      << log;
  EXPECT_EQ(test::run_cli("probe --model mfcc --suite " + data + "/suite.json --out " + out, &log),
            1);
  EXPECT_NE(log.find("--suite needs --data DIR"), std::string::npos) << log;
  EXPECT_EQ(test::run_cli("probe --model mfcc --out " + out, &log), 1);
  EXPECT_NE(log.find("no task"), std::string::npos) << log;
}

// Beat tasks are probed frame by frame: click tracks, MFCC frames at 100 Hz and model frames.
TEST(CliProbe, BeatTaskOnClickTracks) {
  const std::string dir = test::temp_dir() + "/beat", out = test::temp_dir(),
                    cache = test::temp_dir();
  test::write_beat_task(dir, {{"train", 8}, {"valid", 4}, {"test", 4}});
  const ProbeTask t = ProbeTask::load(dir);
  bool hit = false;
  for (int pass = 0; pass < 2; ++pass) {  // computed, then from the cache
    const ProbeFeatures f = probe_features(FeatureSource::open("mfcc"), t, "test", cache, {}, &hit);
    EXPECT_EQ(hit, pass == 1);
    EXPECT_EQ(f.frame_rate, 100.0);
    EXPECT_EQ(f.x.size(0), 4 * 298);  // 3 s at 16 kHz: 298 Kaldi frames (25 ms / 10 ms) per clip
    EXPECT_EQ(f.x.size(2), 39);
  }
  const ProbeFeatures m = FeatureSource::open(kTiny).compute(t, "test");
  EXPECT_EQ(m.frame_rate, 75.0);  // 24 kHz / 320
  EXPECT_EQ(m.x.size(1), FeatureSource::open(kTiny).compute(t, "valid").x.size(1));
  EXPECT_EQ(m.x.size(0), 4 * Encoder::load(kTiny).num_frames(72000));  // 3 s clips
  std::string log;
  ASSERT_EQ(test::run_cli("probe --model mfcc --model " + kTiny + " --task " + dir + " --out " +
                              out + " --cache " + cache + " --probe linear --threads 1",
                          &log),
            0)
      << log;
  std::ifstream in(out + "/report.json");
  const auto j = nlohmann::json::parse(in);
  for (const auto& row : j["rows"])
    if (row["model"] == "mfcc")
      EXPECT_GE(row["test"]["beat_f1"]["mean"].get<double>(), 0.9) << row.dump();
}

TEST(CliProbe, BadInputsGiveOneClearLine) {
  const std::string dir = test::temp_dir() + "/task", out = test::temp_dir();
  test::write_task(dir, kBody, rows(4, 2, 2), 0.25, tone);
  std::remove((dir + "/audio/valid/1.wav").c_str());
  std::string log;
  EXPECT_EQ(test::run_cli("probe --model mfcc --task " + dir + " --out " + out, &log), 1);
  EXPECT_NE(log.find("valid.tsv:3"), std::string::npos) << log;
  EXPECT_NE(log.find("does not exist"), std::string::npos) << log;

  test::write_task(dir, kBody, rows(4, 2, 2), 0.25, tone);
  EXPECT_EQ(test::run_cli("probe --model mfcc --task " + dir + " --out " + out +
                              " --cache none --set hiden=3",
                          &log),
            1);
  EXPECT_NE(log.find("probe config: unknown key 'hiden'"), std::string::npos) << log;
  EXPECT_EQ(test::run_cli("probe --model no/such/model --task " + dir + " --out " + out, &log), 1);
  EXPECT_NE(log.find("no/such/model"), std::string::npos) << log;
  EXPECT_EQ(test::run_cli("probe --model " + kTiny + " --task " + dir + " --out " + out +
                              " --cache none --layers 0,7",
                          &log),
            1);
  EXPECT_NE(log.find("--layers: 7 is out of range"), std::string::npos) << log;
}

}  // namespace
}  // namespace musefm
