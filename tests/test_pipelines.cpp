// The library's pipelines called directly, without the CLI: label_manifest() into one set and
// into shards that merge to the same set, resuming after a failed entry; run_probe_suite()
// with its run keys, resume and a damaged results line; run_file_batch() one item at a time
// with a failing item; the shared hash and list helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include <sndfile.h>

#include "core/hash.h"
#include "core/strings.h"
#include "core/task_pool.h"
#include "musefm/audio.h"
#include "musefm/error.h"
#include "musefm/file_batch.h"
#include "musefm/probe.h"
#include "musefm/teachers.h"
#include "support/probe_support.h"
#include "support/test_support.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Stages, steps and log lines a pipeline reported.
struct Recorder {
  std::vector<std::string> stages, logs;
  std::map<std::string, int64_t> steps, totals;
  int open = 0;
  ProgressCallbacks callbacks() {
    ProgressCallbacks cb;
    cb.begin = [this](const std::string& s, int64_t total) {
      EXPECT_EQ(open, 0) << "stages do not nest: " << s;
      ++open;
      stages.push_back(s);
      totals[s] = total;
    };
    cb.step = [this](int64_t n, const std::string&) {
      ASSERT_EQ(open, 1);
      steps[stages.back()] += n;
    };
    cb.end = [this] { --open; };
    cb.log = [this](LogLevel level, const std::string& line) {
      logs.push_back((level == LogLevel::Warning ? "W " : "I ") + line);
    };
    return cb;
  }
  bool logged(const std::string& text) const {
    for (const auto& l : logs)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
};

// Four entries of the real-music fixtures, counts at 24 kHz; entry `broken` (if >= 0) is not
// audio.
std::string write_corpus(const std::string& dir, int broken = -1) {
  const char* files[] = {"real_16k.wav", "real_22k.wav", "real_24k.wav", "real_16k.wav"};
  std::string text = dir + "\n";
  for (int i = 0; i < 4; ++i) {
    const std::string name = "e" + std::to_string(i) + ".wav";
    fs::copy_file(test::fixture(files[i]), dir + "/" + name, fs::copy_options::overwrite_existing);
    const AudioInfo info = probe_audio(dir + "/" + name);
    text += name + "\t" + std::to_string(info.frames * 24000 / info.sample_rate) + "\n";
    if (i == broken) test::write_bytes(dir + "/" + name, "not audio");
  }
  test::write_bytes(dir + "/train.tsv", text);
  return dir + "/train.tsv";
}

LabelOptions mfcc_options(const std::string& manifest, const std::string& out) {
  LabelOptions o;
  o.manifest = manifest;
  o.out_dir = out;
  o.teacher.teacher = "kmeans-mfcc";
  o.teacher.k = 6;
  o.percent = 1;
  return o;
}

TEST(LabelManifest, OneSetThenShardsThatMergeToIt) {
  const std::string dir = test::temp_dir(), manifest = write_corpus(dir);
  Recorder rec;
  const LabelResult one = label_manifest(mfcc_options(manifest, dir + "/one"), rec.callbacks());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.base, "train");
  EXPECT_EQ(one.entries, 4);
  EXPECT_EQ(one.failed, 0);
  EXPECT_EQ(one.kmeans_path, dir + "/one/kmeans.safetensors");
  ASSERT_EQ(one.verification.files.size(), 1u);
  EXPECT_EQ(one.verification.files[0].lines, 4);
  EXPECT_EQ(one.verification.files[0].k, 6);
  EXPECT_DOUBLE_EQ(one.verification.rate, 100.0);
  EXPECT_EQ(lines(dir + "/one/train.km").size(), 4u);
  EXPECT_EQ(lines(dir + "/one/dict.km.txt").size(), 6u);
  EXPECT_EQ(rec.stages,
            (std::vector<std::string>{"k-means features", "k-means fit", "labels train"}));
  EXPECT_EQ(rec.steps["k-means features"], 4);
  EXPECT_EQ(rec.steps["labels train"], 4);
  EXPECT_EQ(rec.open, 0);
  EXPECT_TRUE(rec.logged("I k-means K=6 on ")) << ::testing::PrintToString(rec.logs);

  // Two shards with the same k-means, then merged: the unsharded set, line for line.
  LabelOptions o = mfcc_options(manifest, dir + "/sharded");
  o.kmeans_path = one.kmeans_path;
  o.nshards = 2;
  for (int s = 0; s < 2; ++s) {
    o.shard = s;
    const LabelResult r = label_manifest(o);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.base, "train_" + std::to_string(s) + "_2");
    EXPECT_EQ(r.entries, 2);
    EXPECT_TRUE(r.verification.files.empty());  // shards are verified once merged
  }
  EXPECT_EQ(lines(dir + "/sharded/train_1_2.km").size(), 2u);
  const LabelVerification merged = merge_label_shards(o);
  ASSERT_EQ(merged.files.size(), 1u);
  EXPECT_TRUE(merged.ok());
  EXPECT_EQ(lines(dir + "/sharded/train.km"), lines(dir + "/one/train.km"));
  EXPECT_TRUE(verify_label_set(o).ok());

  // Done already: nothing is relabelled.
  Recorder again;
  const LabelResult rerun = label_manifest(mfcc_options(manifest, dir + "/one"), again.callbacks());
  EXPECT_TRUE(rerun.up_to_date);
  EXPECT_TRUE(again.logged("using the k-means model"));
  EXPECT_TRUE(again.logged("nothing to do"));
  EXPECT_EQ(std::count(again.stages.begin(), again.stages.end(), "labels train"), 0);
}

TEST(LabelManifest, FailedEntryIsReportedAndTheRerunResumes) {
  const std::string dir = test::temp_dir(), out = dir + "/labels";
  const std::string manifest = write_corpus(dir, /*broken=*/2);
  LabelOptions o = mfcc_options(manifest, out);
  o.percent = 0.5;  // entries 0 and 3 or so; the fit skips a broken one
  Recorder rec;
  const LabelResult r = label_manifest(o, rec.callbacks());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 1);
  EXPECT_FALSE(fs::exists(out + "/train.km"));
  const std::string journal = out + "/.train.kmeans-mfcc.partial.jsonl";
  EXPECT_EQ(lines(journal).size(), 3u);
  EXPECT_TRUE(rec.logged("W " + dir + "/e2.wav: ")) << ::testing::PrintToString(rec.logs);
  EXPECT_TRUE(rec.logged("1 of 4 entries failed"));
  bool named = false;
  for (const auto& l : lines(out + "/failures.jsonl"))
    named = named || nlohmann::json::parse(l)["manifest_line"] == 4;
  EXPECT_TRUE(named);

  fs::copy_file(test::fixture("real_24k.wav"), dir + "/e2.wav",
                fs::copy_options::overwrite_existing);
  Recorder rerun;
  const LabelResult fixed = label_manifest(o, rerun.callbacks());
  EXPECT_TRUE(fixed.ok());
  EXPECT_EQ(fixed.resumed, 3);
  EXPECT_TRUE(rerun.logged("resuming: 3 of 4 entries already labelled"));
  EXPECT_EQ(lines(out + "/train.km").size(), 4u);
  EXPECT_FALSE(fs::exists(journal));
}

TEST(Teachers, FactoryNamesRatesAndErrors) {
  TeacherConfig c;
  c.teacher = "kmeans-chroma";
  const Teacher t = make_teacher(c);
  EXPECT_EQ(t.names, std::vector<std::string>{"chroma"});
  EXPECT_EQ(t.k, 64);
  EXPECT_TRUE(t.needs_kmeans);
  EXPECT_FALSE(t.label);  // until attach_kmeans()
  EXPECT_DOUBLE_EQ(t.rate, teacher_label_rate("kmeans-chroma"));
  c.teacher = "encodec";
  EXPECT_EQ(teacher_label_names(c).size(), 8u);  // 6 kbps
  EXPECT_DOUBLE_EQ(teacher_label_rate("kmeans-layer"), 0.0);
  c.teacher = "nope";
  EXPECT_NE(test::error_of([&] { make_teacher(c); }).find("unknown --teacher 'nope'"),
            std::string::npos);
  c.teacher = "kmeans-mfcc";
  c.label_name = "mfcc";
  EXPECT_EQ(make_teacher(c).names, std::vector<std::string>{"mfcc"});
}

// The two-tone task (support/probe_support.h): low = G3, high = G6, alternating rows.
const char* const kBody = test::kTwoToneBody;
constexpr auto tone = test::two_tone_hz;
constexpr auto rows = test::two_tone_rows;

TEST(ProbeSuite, RunsResumesAndRedoesADamagedRun) {
  const std::string dir = test::temp_dir() + "/t", out = test::temp_dir();
  test::write_task(dir, kBody, rows(10, 6, 6), 0.5, tone);
  ProbeSuiteOptions o;
  o.models = {"mfcc"};
  o.tasks = {{dir, {}, ""}};
  o.out = out;
  o.cache = test::temp_dir();
  o.seeds = 2;
  o.config.max_epochs = 3;
  o.config.lr_grid = {1e-2};
  Recorder rec;
  const ProbeSuiteResult r = run_probe_suite(o, rec.callbacks());
  // mfcc has one layer ("all" = just it): linear once, mlp with two seeds.
  ASSERT_EQ(r.results.size(), 3u);
  EXPECT_EQ(r.computed, 3);
  EXPECT_EQ(r.reused, 0);
  EXPECT_EQ(r.failed_clips, 0);
  EXPECT_EQ(r.results[0].probe, "linear");
  EXPECT_EQ(r.results[2].seed, 1u);
  EXPECT_GE(r.results[0].scores.test.at("accuracy"), 0.99);  // tones 3 octaves apart
  EXPECT_EQ(lines(r.results_path).size(), 3u);
  EXPECT_TRUE(lines(r.failures_path).empty());
  std::ifstream cfg(out + "/config.json");
  const auto config = nlohmann::json::parse(cfg);
  EXPECT_EQ(config["config"]["max_epochs"], 3);
  EXPECT_EQ(config["tasks"][0], dir);
  EXPECT_TRUE(fs::exists(out + "/report.json") && fs::exists(out + "/report.md"));
  EXPECT_EQ(rec.totals["probe mfcc/t mlp"], 2);
  EXPECT_EQ(rec.steps["features mfcc/t/train"], 10);
  std::set<std::string> keys;
  for (const auto& x : r.results) keys.insert(x.run_key);
  EXPECT_EQ(keys.size(), 3u);

  // Everything again: every run comes from results.jsonl, features from the cache.
  Recorder again;
  const ProbeSuiteResult r2 = run_probe_suite(o, again.callbacks());
  EXPECT_EQ(r2.reused, 3);
  EXPECT_EQ(r2.computed, 0);
  EXPECT_TRUE(again.logged("I features mfcc/t/test: from the cache"));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r2.results[i].run_key, r.results[i].run_key);
    EXPECT_EQ(r2.results[i].scores.test, r.results[i].scores.test);
  }

  // The last line cut short (a crash while appending): that run alone is redone.
  auto text = lines(r.results_path);
  test::write_bytes(r.results_path,
                    text[0] + "\n" + text[1] + "\n" + text[2].substr(0, text[2].size() / 2));
  Recorder damaged;
  const ProbeSuiteResult r3 = run_probe_suite(o, damaged.callbacks());
  EXPECT_EQ(r3.reused, 2);
  EXPECT_EQ(r3.computed, 1);
  EXPECT_TRUE(damaged.logged("W " + r.results_path + ":3: skipped"))
      << ::testing::PrintToString(damaged.logs);

  // A different probe setting is a different run.
  o.config.l2_grid = {1.0};
  o.probe = "linear";
  const ProbeSuiteResult r4 = run_probe_suite(o);
  EXPECT_EQ(r4.computed, 1);
  EXPECT_NE(r4.results[0].run_key, r.results[0].run_key);
}

TEST(ProbeSuite, SuiteFilesAndLayerSpecs) {
  const std::string dir = test::temp_dir();
  test::write_bytes(dir + "/suite.json",
                    R"({"tasks": ["key", {"name": "beat", "probes": ["linear"],
                                           "layers": "single", "note": "slow"}]})");
  const auto tasks = read_probe_suite(dir + "/suite.json", "data");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].path, "data/key");
  EXPECT_TRUE(tasks[0].probes.empty());
  EXPECT_EQ(tasks[1].probes, std::vector<std::string>{"linear"});
  EXPECT_EQ(tasks[1].layers, "single");
  EXPECT_EQ(parse_probe_layers("all", 3), (std::vector<int>{0, 1, 2, kWeightedLayers}));
  EXPECT_EQ(parse_probe_layers("single", 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(parse_probe_layers("0,-1,weighted,2", 3), (std::vector<int>{0, 2, kWeightedLayers}));
  EXPECT_EQ(parse_probe_layers("all", 1), (std::vector<int>{0}));
  EXPECT_NE(test::error_of([] { parse_probe_layers("7", 3); }).find("7 is out of range"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { parse_probe_layers("x", 3); }).find("'x' is not an integer"),
            std::string::npos);
  test::write_bytes(dir + "/bad.json", R"({"tasks": [{"name": "k", "probe": ["mlp"]}]})");
  EXPECT_NE(
      test::error_of([&] { read_probe_suite(dir + "/bad.json", "d"); }).find("unknown key 'probe'"),
      std::string::npos);
}

TEST(FileBatch, OneAtATimeIsolatesAFailureAndTheReportCountsIt) {
  const std::string dir = test::temp_dir() + "/one_at_a_time";
  fs::remove_all(dir);
  const std::vector<FileInput> inputs{{test::fixture("real_24k.wav"), "good"},
                                      {dir + "/missing.wav", "bad"}};
  std::vector<std::string> seen;
  const auto process = one_at_a_time([&](const std::string& in, const std::string& out) {
    seen.push_back(in);
    MUSEFM_CHECK(fs::exists(in), "no such file '", in, "'");
    std::ofstream(out) << "x";
    std::ofstream(sidecar_path(out)) << "{}";
  });
  const FileBatchSummary s = run_file_batch(inputs, dir, false, "copy", ".txt", 2, process);
  EXPECT_EQ(seen.size(), 2u);  // the failing item did not stop the group
  EXPECT_EQ(s.written, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_TRUE(fs::exists(dir + "/good.txt"));
  const std::string r = s.report();
  EXPECT_EQ(r.rfind("1 written, 0 already done (skipped), 1 failed — see ", 0), 0u) << r;
  EXPECT_NE(r.find("failures.jsonl"), std::string::npos) << r;
  EXPECT_NE(r.find("files/s"), std::string::npos) << r;  // audio seconds of the written one
  const std::vector<std::string> failures = lines(s.failures_path);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("missing.wav"), std::string::npos) << failures[0];
  // Rerun: the finished item is skipped, only the bad one is tried again.
  seen.clear();
  const FileBatchSummary again = run_file_batch(inputs, dir, false, "copy", ".txt", 2, process);
  EXPECT_EQ(seen, std::vector<std::string>{dir + "/missing.wav"});
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(again.report().find("files/s"), std::string::npos);  // nothing written: no rate line
}

// With groups of 2, jobs run shortest first (bucketed by header duration) and each group is
// offered to `prefetch` before the one before it is processed.
TEST(FileBatch, GroupsAreBucketedByLengthAndTheNextOneIsPrefetched) {
  const std::string dir = test::temp_dir() + "/bucketed";
  fs::create_directories(dir);
  std::vector<FileInput> inputs;
  for (double s : {3.0, 1.0, 2.0, 1.5, 0.5}) {
    const std::string name = "len" + std::to_string(int(s * 10));
    test::write_sndfile(dir + "/" + name + ".wav", std::vector<float>(size_t(s * 8000), 0.1f), 1,
                        8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    inputs.push_back({dir + "/" + name + ".wav", name});
  }
  std::vector<std::string> events;
  const auto names = [](const std::vector<FileJob>& jobs) {
    std::string n;
    for (const auto& j : jobs) n += fs::path(j.input).stem().string() + " ";
    return n;
  };
  run_file_batch(
      inputs, dir + "/out", false, "bucketed", ".txt", 2,
      [&](std::vector<FileJob>& jobs) {
        events.push_back("process " + names(jobs));
        for (auto& j : jobs) j.error = "not written";  // nothing to write here
      },
      {}, "failures.jsonl",
      [&](const std::vector<FileJob>& jobs) { events.push_back("prefetch " + names(jobs)); });
  EXPECT_EQ(events, (std::vector<std::string>{"prefetch len15 len20 ", "process len5 len10 ",
                                              "prefetch len30 ", "process len15 len20 ",
                                              "process len30 "}));
}

TEST(CoreHelpers, TaskPoolReturnsEveryResultAndHandsBackErrors) {
  for (int threads : {0, 1, 3}) {
    core_detail::TaskPool pool(threads);
    std::vector<std::future<int>> results;
    for (int i = 0; i < 20; ++i) results.push_back(pool.submit([i] { return i * i; }));
    auto failing = pool.submit([]() -> int { MUSEFM_CHECK(false, "task failed"); });
    for (int i = 0; i < 20; ++i) EXPECT_EQ(results[size_t(i)].get(), i * i) << threads;
    EXPECT_EQ(test::error_of([&] { failing.get(); }), "task failed") << threads;
  }
}

TEST(CoreHelpers, Fnv1a64AndCommaLists) {
  // Reference values of FNV-1a 64 (offset basis 0xcbf29ce484222325).
  EXPECT_EQ(detail::fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(detail::fnv1a64_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(detail::fnv1a64_hex("foobar"), "85944171f73967e8");
  detail::Fnv1a64 h;
  h.add_bytes("foo", 3);
  h.add_bytes("bar", 3);
  EXPECT_EQ(h.hex(), "85944171f73967e8");
  EXPECT_EQ(h.hex(8), "85944171");
  detail::Fnv1a64 a, b;  // fields carry their length
  a.add("ab");
  a.add("c");
  b.add("a");
  b.add("bc");
  EXPECT_NE(a.value(), b.value());
  using V = std::vector<std::string>;
  EXPECT_EQ(detail::split_list("0,6,-1"), (V{"0", "6", "-1"}));
  EXPECT_EQ(detail::split_list("a,,b,"), (V{"a", "", "b"}));
  EXPECT_EQ(detail::split_list(""), V{});
  EXPECT_EQ(detail::format("%.6g|%s|%03d", 1234567.0, "x", 7), "1.23457e+06|x|007");
}

}  // namespace
}  // namespace musefm
