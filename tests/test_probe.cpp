// Probe harness: task folders and their errors, probes on synthetic embeddings, metric wiring,
// parity of the linear probe with scikit-learn (tests/fixtures/probe, made by
// tools/make_probe_fixtures.py), the report.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/npy.h"
#include "musefm/probe.h"
#include "support/probe_support.h"
#include "support/test_support.h"

namespace musefm {
namespace {
using test::write_task;

using test::error_of;

// ---- task folders -------------------------------------------------------------------------

TEST(ProbeTask, LoadsClipAndWindowTasks) {
  const std::string dir = test::temp_dir();
  write_task(dir, R"("type": "multiclass", "labels": ["a", "b c"], "metrics": ["accuracy"])",
             {{"train", {"a", "b c", "a"}}, {"valid", {"b c"}}, {"test", {"a"}}});
  const ProbeTask t = ProbeTask::load(dir);
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.mode, "clip");
  ASSERT_EQ(t.splits.size(), 3u);
  EXPECT_EQ(t.split("train").items.size(), 3u);
  EXPECT_EQ(t.split("train").items[1].classes, std::vector<int>{1});
  EXPECT_EQ(t.split("train").items[1].line, 3);
  EXPECT_EQ(t.split("train").items[0].audio, dir + "/audio/train/0.wav");

  write_task(dir, R"("type": "multiclass", "labels": ["a", "b"], "metrics": ["accuracy"],
                     "mode": {"kind": "window", "window_s": 2.5})",
             {{"train", {"a"}}, {"valid", {"b"}}, {"test", {"a"}}});
  const ProbeTask w = ProbeTask::load(dir + "/task.json");
  EXPECT_EQ(w.mode, "window");
  EXPECT_EQ(w.window_s, 2.5);
  EXPECT_EQ(w.hop_s, 2.5);  // default: no overlap

  write_task(dir, R"("type": "multilabel", "labels": ["x", "y", "z"], "metrics": ["roc_auc"])",
             {{"train", {"x,z", ""}}, {"valid", {"y"}}, {"test", {"z,x,z"}}});
  const ProbeTask m = ProbeTask::load(dir);
  EXPECT_EQ(m.split("train").items[0].classes, (std::vector<int>{0, 2}));
  EXPECT_TRUE(m.split("train").items[1].classes.empty());
  EXPECT_EQ(m.split("test").items[0].classes, (std::vector<int>{2, 0}));

  write_task(dir, R"("type": "regression", "labels": ["bpm", "x"], "metrics": ["r2"])",
             {{"train", {"120.5,1"}}, {"valid", {"90,2"}}, {"test", {"60,-1e-3"}}});
  EXPECT_EQ(ProbeTask::load(dir).split("test").items[0].values, (std::vector<double>{60, -1e-3}));
}

TEST(ProbeTask, ErrorsNameFileLineAndReason) {
  const std::string dir = test::temp_dir();
  const std::string mc = R"("type": "multiclass", "labels": ["a", "b"], "metrics": ["accuracy"])";
  write_task(dir, mc, {{"train", {"a", "b", "nope"}}, {"valid", {"a"}}, {"test", {"b"}}});
  std::string e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("train.tsv:4"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown label 'nope'"), std::string::npos) << e;

  write_task(dir, mc, {{"train", {"a", "b"}}, {"valid", {}}, {"test", {"b"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("the valid split is empty"), std::string::npos) << e;
  EXPECT_NE(e.find("valid.tsv"), std::string::npos) << e;

  write_task(dir, mc, {{"train", {"a", "b"}}, {"valid", {"a"}}, {"test", {"b"}}});
  std::remove((dir + "/audio/test/0.wav").c_str());
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("test.tsv:2"), std::string::npos) << e;
  EXPECT_NE(e.find("audio/test/0.wav' does not exist"), std::string::npos) << e;
  EXPECT_NO_THROW(ProbeTask::load(dir, /*check_audio=*/false));

  write_task(dir, mc + R"(, "colour": "red")",
             {{"train", {"a"}}, {"valid", {"a"}}, {"test", {"b"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("unknown key 'colour'"), std::string::npos) << e;
  EXPECT_NE(e.find("task.json"), std::string::npos) << e;

  write_task(dir, R"("type": "multiclass", "labels": ["a", "b"], "metrics": ["r2"])",
             {{"train", {"a"}}, {"valid", {"a"}}, {"test", {"b"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("metric 'r2' does not apply to a multiclass task"), std::string::npos) << e;

  write_task(dir, R"("type": "multiclass", "labels": ["a", "b"], "metrics": ["mirex_key"])",
             {{"train", {"a"}}, {"valid", {"a"}}, {"test", {"b"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("'a' is not one"), std::string::npos) << e;

  write_task(dir, R"("type": "regression", "labels": ["bpm"], "metrics": ["r2"])",
             {{"train", {"120", "1,2"}}, {"valid", {"1"}}, {"test", {"x"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("train.tsv:3: 2 value(s), the task has 1"), std::string::npos) << e;

  write_task(dir, mc + R"(, "mode": {"kind": "window", "window_s": -1})",
             {{"train", {"a"}}, {"valid", {"a"}}, {"test", {"b"}}});
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("mode.window_s"), std::string::npos) << e;

  write_task(dir, mc, {{"train", {"a"}}, {"valid", {"a"}}, {"test", {"b"}}});
  test::write_bytes(dir + "/train.tsv", "file\tlabel\naudio/train/0.wav\ta\n");
  e = error_of([&] { ProbeTask::load(dir); });
  EXPECT_NE(e.find("train.tsv:1: expected the header"), std::string::npos) << e;

  e = error_of([&] { ProbeTask::load(dir + "/missing"); });
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

// ---- probes on synthetic embeddings ---------------------------------------------------------

// Three layers; only layer 1 separates the classes (means 8 apart, unit noise).
ProbeDataset separable(const ProbeTask& t, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t H = 8;
  const at::Tensor means = at::randn({3, H}, gen, at::kFloat) * 4;
  ProbeDataset d;
  ProbeFeatures* f[] = {&d.train, &d.valid, &d.test};
  for (int s = 0; s < 3; ++s) {
    const auto& items = t.splits[size_t(s)].items;
    const int64_t n = int64_t(items.size());
    at::Tensor x = at::randn({n, 3, H}, gen, at::kFloat);
    for (int64_t i = 0; i < n; ++i) x[i][1] += means[items[size_t(i)].classes[0]];
    f[s]->x = x;
    f[s]->num_clips = n;
    for (int64_t i = 0; i < n; ++i) f[s]->clip.push_back(i);
  }
  return d;
}

TEST(Probe, SeparableEmbeddingsReachFullAccuracy) {
  const ProbeTask t = test::synthetic_task(3, {150, 60, 90});
  const ProbeDataset d = separable(t, 1);
  for (const ProbeKind kind : {ProbeKind::Linear, ProbeKind::Mlp}) {
    ProbeConfig c;  // the default protocol: L2 / lr grids chosen on validation
    c.probe = kind;
    const ProbeScores s = run_probe(t, d, 1, c);
    EXPECT_GE(s.test.at("accuracy"), 0.99) << kind;
    EXPECT_GE(s.valid.at("accuracy"), 0.99) << kind;
    c.lr_grid = {1e-3, 1e-2};  // shorter from here on
    const ProbeScores w = run_probe(t, d, kWeightedLayers, c);
    // The linear probe learns the layer weights to convergence; MARBLE's MLP moves them at the
    // head's learning rate, so within its 100 epochs the two noise layers still blur the input.
    EXPECT_GE(w.test.at("accuracy"), kind == ProbeKind::Linear ? 0.99 : 0.95) << kind;
    ASSERT_EQ(w.layer_weights.size(), 3u);
    EXPECT_GT(w.layer_weights[1], w.layer_weights[0]) << kind;
    EXPECT_GT(w.layer_weights[1], w.layer_weights[2]) << kind;
    const ProbeScores noise = run_probe(t, d, 0, c);
    EXPECT_LT(noise.test.at("accuracy"), 0.7) << kind << " on a noise layer";
  }
}

TEST(ProbeTask, BeatTasksReadTimesAndRejectBadOnes) {
  const std::string dir = test::temp_dir();
  const std::string beat = R"("type": "beat", "labels": ["beat"], "metrics": ["beat_f1"])";
  write_task(dir, beat, {{"train", {"0.5 1.0 1.5", ""}}, {"valid", {"0.25"}}, {"test", {"2"}}});
  const ProbeTask t = ProbeTask::load(dir);
  EXPECT_EQ(t.type, ProbeTaskType::Beat);
  EXPECT_EQ(t.split("train").items[0].values, (std::vector<double>{0.5, 1.0, 1.5}));
  EXPECT_TRUE(t.split("train").items[1].values.empty());  // a clip without beats
  const auto error = [&](const std::string& body, const std::string& train_label) {
    write_task(dir, body, {{"train", {train_label}}, {"valid", {"1"}}, {"test", {"1"}}});
    return error_of([&] { ProbeTask::load(dir); });
  };
  std::string e = error(beat, "0.5 0.4");
  EXPECT_NE(e.find("train.tsv:2: beat times must not decrease ('0.4' after 0.5)"),
            std::string::npos)
      << e;
  e = error(beat, "-1");
  EXPECT_NE(e.find("beat time '-1' is not a number of seconds >= 0"), std::string::npos) << e;
  e = error(beat, "1,2");
  EXPECT_NE(e.find("beat time '1,2'"), std::string::npos) << e;
  e = error(R"("type": "beat", "labels": ["beat", "downbeat"], "metrics": ["beat_f1"])", "1");
  EXPECT_NE(e.find("a beat task has one label"), std::string::npos) << e;
  e = error(R"("type": "beat", "labels": ["beat"], "metrics": ["accuracy"])", "1");
  EXPECT_NE(e.find("metric 'accuracy' does not apply to a beat task (use beat_f1)"),
            std::string::npos)
      << e;
  e = error(beat + R"(, "mode": {"kind": "window", "window_s": 1})", "1");
  EXPECT_NE(e.find("mode.kind must be clip"), std::string::npos) << e;
}

// Frame rows at 50 Hz: layer 1 has a bump on the annotated beat frames, layer 0 is noise.
ProbeDataset beat_frames(ProbeTask& t, const std::vector<int>& clips) {
  t.type = ProbeTaskType::Beat;
  t.labels = {"beat"};
  t.metrics = {"beat_f1"};
  const double rate = 50.0;
  ProbeDataset d;
  ProbeFeatures* f[] = {&d.train, &d.valid, &d.test};
  at::manual_seed(3);
  for (size_t s = 0; s < 3; ++s) {
    auto& items = t.splits[s].items;
    items.assign(size_t(clips[s]), ProbeItem{});
    std::vector<at::Tensor> rows;
    for (int c = 0; c < clips[s]; ++c) {
      const int frames = 150 + 10 * (c % 3);  // 3.0-3.4 s
      const double period = 0.4 + 0.05 * (c % 5), phase = 0.03 * (c % 7);
      at::Tensor x = at::randn({frames, 2, 8});
      for (double b = phase; b < frames / rate; b += period) {
        items[size_t(c)].values.push_back(b);
        const int64_t k = std::llround(b * rate);
        if (k < frames) x[k][1][0] += 6.0;
      }
      rows.push_back(x);
      f[s]->clip.insert(f[s]->clip.end(), size_t(frames), c);
    }
    f[s]->x = at::cat(rows, 0);
    f[s]->num_clips = clips[s];
    f[s]->frame_rate = rate;
  }
  return d;
}

TEST(Probe, BeatProbesFindBeatsInFrameRows) {
  ProbeTask t = test::synthetic_task(2, {0, 0, 0});
  const ProbeDataset d = beat_frames(t, {24, 8, 8});
  ProbeConfig c;
  c.lr_grid = {1e-2};
  c.max_epochs = 30;
  c.batch_size = 4;  // clips per step for frame rows
  for (const ProbeKind kind : {ProbeKind::Linear, ProbeKind::Mlp}) {
    c.probe = kind;
    EXPECT_GE(run_probe(t, d, 1, c).test.at("beat_f1"), 0.95) << kind;
    EXPECT_LT(run_probe(t, d, 0, c).test.at("beat_f1"), 0.6) << kind << " on the noise layer";
  }
  c.probe = ProbeKind::Linear;
  const ProbeScores w = run_probe(t, d, kWeightedLayers, c);
  EXPECT_GE(w.test.at("beat_f1"), 0.95);
  EXPECT_GT(w.layer_weights[1], w.layer_weights[0]);
  ProbeDataset pooled = d;  // pooled rows for a beat task are refused
  pooled.valid.frame_rate = 0;
  EXPECT_NE(error_of([&] { run_probe(t, pooled, 1, c); }).find("needs frame rows"),
            std::string::npos);
}

TEST(Probe, MlpIsSeededAndDeterministic) {
  const ProbeTask t = test::synthetic_task(3, {90, 30, 30});
  ProbeDataset d = separable(t, 2);
  d.train.x.select(1, 1).mul_(0.15);  // harder: scores below 1 so runs can differ
  ProbeConfig c;
  c.probe = ProbeKind::Mlp;
  c.lr_grid = {1e-3, 1e-2};
  c.max_epochs = 15;
  const ProbeScores a = run_probe(t, d, 1, c), b = run_probe(t, d, 1, c);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.selected, b.selected);
  EXPECT_EQ(a.epochs, b.epochs);
}

TEST(Probe, RejectsBadLayersAndConfigs) {
  const ProbeTask t = test::synthetic_task(3, {30, 9, 9});
  const ProbeDataset d = separable(t, 3);
  EXPECT_NE(error_of([&] { run_probe(t, d, 3, ProbeConfig{}); }).find("layer 3 is out of range"),
            std::string::npos);
  ProbeConfig c;
  EXPECT_NE(error_of([] {
              ProbeConfig::from_json(R"({"probe": "svm"})");
            }).find("probe must be linear or mlp, got \"svm\""),
            std::string::npos);
  c.probe = ProbeKind::Linear;
  c.device = "cuda";
  if (!at::hasCUDA())  // a machine without a GPU says so instead of a CUDA runtime error
    EXPECT_NE(error_of([&] { run_probe(t, d, 0, c); }).find("device 'cuda': no CUDA device"),
              std::string::npos);
  EXPECT_NE(error_of([] { ProbeConfig::from_json(R"({"hiden": 3})"); }).find("unknown key 'hiden'"),
            std::string::npos);
  ProbeConfig r;
  r.probe = ProbeKind::Mlp;
  r.lr_grid = {1e-3};
  r.seed = 9;
  const ProbeConfig back = ProbeConfig::from_json(r.to_json());
  EXPECT_EQ(back.to_json(), r.to_json());
}

// ---- metric wiring ----------------------------------------------------------------------------

TEST(Probe, ScoresAverageWindowsPerClip) {
  const std::string dir = test::temp_dir();
  write_task(dir, R"("type": "multiclass", "labels": ["C major", "G major", "A minor"],
                     "metrics": ["accuracy", "macro_f1", "mirex_key", "roc_auc"])",
             {{"train", {"C major"}}, {"valid", {"C major"}}, {"test", {"C major", "A minor"}}});
  const ProbeTask t = ProbeTask::load(dir);
  // Clip 0: windows vote G then C, C wins on the mean; clip 1 (A minor) predicted C major.
  const at::Tensor out =
      at::tensor({0.2, 0.7, 0.1, 0.9, 0.05, 0.05, 0.6, 0.1, 0.3}, at::kDouble).view({3, 3});
  const auto s = score_probe_outputs(t, t.split("test"), out, {0, 0, 1});
  EXPECT_DOUBLE_EQ(s.at("accuracy"), 0.5);
  EXPECT_NEAR(s.at("macro_f1"), (2.0 / 3.0 + 0 + 0) / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.at("mirex_key"), (1.0 + 0.3) / 2);  // A minor -> C major: relative (0.3)
  // One-vs-rest: the C column ranks the C clip below the other (0), the A-minor column ranks
  // correctly (1); G major is absent from the split and skipped.
  EXPECT_DOUBLE_EQ(s.at("roc_auc"), 0.5);
  EXPECT_THROW(score_probe_outputs(t, t.split("test"), out, {0, 0, 0}), Error);  // clip 1 empty

  write_task(dir, R"("type": "regression", "labels": ["bpm"], "metrics": ["r2"])",
             {{"train", {"1"}}, {"valid", {"1"}}, {"test", {"100", "140"}}});
  const ProbeTask r = ProbeTask::load(dir);
  const auto rs = score_probe_outputs(
      r, r.split("test"), at::tensor({90.0, 110.0, 140.0}, at::kDouble).view({3, 1}), {0, 0, 1});
  EXPECT_DOUBLE_EQ(rs.at("r2"), 1.0);
}

// ---- parity with scikit-learn -----------------------------------------------------------------

struct Fixture {
  nlohmann::json expected;
  Fixture() {
    std::ifstream in(test::fixture("probe/expected.json"));
    expected = nlohmann::json::parse(in);
  }
  ProbeFeatures features(const std::string& name, const std::string& split) const {
    NpyArray a = read_npy(test::fixture("probe/" + name + "_" + split + ".npy"));
    ProbeFeatures f;
    f.x = at::from_blob(a.data.data(), a.shape, at::kFloat).clone().unsqueeze(1);
    f.num_clips = f.x.size(0);
    for (int64_t i = 0; i < f.num_clips; ++i) f.clip.push_back(i);
    return f;
  }
  ProbeDataset dataset(const std::string& name) const {
    return {features(name, "train"), features(name, "valid"), features(name, "test")};
  }
};

ProbeConfig sklearn_linear() {
  ProbeConfig c;
  c.l2_grid = {1.0};  // C = 1, as the fixtures
  return c;
}

TEST(ProbeParity, MulticlassLinearMatchesSklearnLogisticRegression) {
  const Fixture fx;
  const auto& m = fx.expected["multiclass"];
  ProbeTask t = test::labelled_task(ProbeTaskType::Multiclass, m["num_classes"].get<int>(),
                                    {"accuracy", "macro_f1"}, m["labels"]);
  const ProbeScores s = run_probe(t, fx.dataset("multiclass"), 0, sklearn_linear());
  const double ref = m["test_accuracy"].get<double>();
  std::printf("linear probe test accuracy %.4f, scikit-learn %.4f\n", s.test.at("accuracy"), ref);
  EXPECT_NEAR(s.test.at("accuracy"), ref, 0.01);
  EXPECT_NEAR(s.test.at("macro_f1"), m["test_macro_f1"].get<double>(), 0.01);
  EXPECT_NEAR(s.valid.at("accuracy"), m["valid_accuracy"].get<double>(), 0.01);
  EXPECT_GT(ref, 0.6);  // a problem with errors, so the comparison means something
  EXPECT_LT(ref, 0.9);
}

TEST(ProbeParity, MultilabelAndRidgeMatchSklearn) {
  const Fixture fx;
  const auto& ml = fx.expected["multilabel"];
  ProbeTask t = test::labelled_task(ProbeTaskType::Multilabel, ml["num_labels"].get<int>(),
                                    {"roc_auc", "pr_auc"}, ml["labels"]);
  ProbeScores s = run_probe(t, fx.dataset("multilabel"), 0, sklearn_linear());
  EXPECT_NEAR(s.test.at("roc_auc"), ml["test_roc_auc"].get<double>(), 0.01);
  EXPECT_NEAR(s.test.at("pr_auc"), ml["test_pr_auc"].get<double>(), 0.01);

  const auto& rg = fx.expected["regression"];
  ProbeTask r = test::labelled_task(ProbeTaskType::Regression, rg["num_targets"].get<int>(), {"r2"},
                                    rg["targets"]);
  s = run_probe(r, fx.dataset("regression"), 0, sklearn_linear());
  EXPECT_NEAR(s.test.at("r2"), rg["test_r2"].get<double>(), 1e-6);  // closed form: exact
  ProbeConfig grid;  // default grid: selected on validation, still a sane fit
  EXPECT_GT(run_probe(r, fx.dataset("regression"), 0, grid).test.at("r2"), 0.75);
}

// ---- report -----------------------------------------------------------------------------------

ProbeResult result(const std::string& probe, int layer, uint64_t seed, double valid, double test) {
  ProbeResult r;
  r.model = "m";
  r.model_key = "m-1";
  r.task = "key";
  r.task_type = "multiclass";
  r.metrics = {"accuracy", "mirex_key"};
  r.probe = probe;
  r.layer = layer;
  r.num_layers = 3;
  r.seed = seed;
  r.run_key = probe + std::to_string(layer) + std::to_string(seed);
  r.scores.valid = {{"accuracy", valid}, {"mirex_key", valid}};
  r.scores.test = {{"accuracy", test}, {"mirex_key", test + 0.05}};
  r.scores.selected = "lr=0.001";
  return r;
}

TEST(ProbeReport, MeanStdAndBestLayerByValidation) {
  std::vector<ProbeResult> rs = {
      result("mlp", 0, 0, 0.5, 0.9), result("mlp", 0, 1, 0.7, 0.7), result("mlp", 2, 0, 0.8, 0.4),
      result("mlp", kWeightedLayers, 0, 0.2, 0.3), result("linear", 1, 0, 0.3, 0.3)};
  rs[3].scores.layer_weights = {0.2, 0.3, 0.5};
  for (const auto& r : rs) {
    const ProbeResult back = ProbeResult::from_json(r.to_json());
    EXPECT_EQ(back.to_json(), r.to_json());
  }
  const auto j = nlohmann::json::parse(probe_report_json(rs));
  ASSERT_EQ(j["rows"].size(), 4u);
  const auto& first = j["rows"][0];  // mlp layer 0, two seeds
  EXPECT_EQ(first["layer"], 0);
  EXPECT_NEAR(first["test"]["accuracy"]["mean"].get<double>(), 0.8, 1e-12);
  EXPECT_NEAR(first["test"]["accuracy"]["std"].get<double>(), std::sqrt(0.02), 1e-12);
  EXPECT_FALSE(first["best"].get<bool>());
  EXPECT_TRUE(j["rows"][1]["best"].get<bool>());  // layer 2: best validation, worse test
  EXPECT_EQ(j["rows"][2]["layer"], "weighted");
  EXPECT_TRUE(j["rows"][3]["best"].get<bool>());  // the only linear row
  const std::string md = probe_report_markdown(rs);
  EXPECT_NE(md.find("| m | mlp | **2** ◀ | 1 | 40.0 ± 0.0 | 45.0 ± 0.0 | 80.0 ± 0.0 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| m | mlp | 0 | 2 | 80.0 ± 14.1 |"), std::string::npos) << md;
  // Summary: the best layer's test score per model x probe (mlp: layer 2; linear: layer 1).
  EXPECT_NE(md.find("| task | metric | m mlp | m linear |"), std::string::npos) << md;
  EXPECT_NE(md.find("| key | accuracy | 40.0 ± 0.0 (L2) | 30.0 ± 0.0 (L1) |"), std::string::npos)
      << md;
  const std::string dir = test::temp_dir();
  write_probe_report(rs, dir);
  EXPECT_TRUE(std::filesystem::exists(dir + "/report.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/report.md"));
}

}  // namespace
}  // namespace musefm
