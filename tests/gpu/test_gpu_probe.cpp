// GPU checks of the probe harness (run by tools/gpu_check.sh; not part of ctest): features
// extracted on the device equal the CPU ones, probes trained on the device score like the CPU
// ones, and `musefm probe --device cuda` runs end to end.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "musefm/probe.h"
#include "support/probe_support.h"
#include "support/test_support.h"

namespace musefm {
namespace {

const std::string kTiny = test::fixture("encoders/mert_tiny_postln");
const char* const kBody = R"("type": "multiclass", "labels": ["low", "high"],
                             "metrics": ["accuracy", "macro_f1"], "sample_rate": 24000)";

double tone(const std::string& label) { return label == "low" ? 196.0 : 1568.0; }

std::map<std::string, std::vector<std::string>> rows(int n) {
  std::map<std::string, std::vector<std::string>> r;
  for (const char* split : {"train", "valid", "test"})
    for (int i = 0; i < n; ++i) r[split].push_back(i % 2 ? "high" : "low");
  return r;
}

TEST(GpuProbe, FeaturesMatchCpu) {
  const std::string dir = test::temp_dir() + "/task", beat = test::temp_dir() + "/beat";
  test::write_task(dir, kBody, rows(4), 1.0, tone);
  test::write_beat_task(beat, {{"train", 2}, {"valid", 2}, {"test", 2}});
  for (const std::string& path : {dir, beat}) {
    const ProbeTask t = ProbeTask::load(path);
    const ProbeFeatures cpu = FeatureSource::open(kTiny, "cpu").compute(t, "test");
    const ProbeFeatures gpu = FeatureSource::open(kTiny, "cuda").compute(t, "test");
    ASSERT_TRUE(gpu.x.device().is_cpu());  // features come back to the host for the cache
    EXPECT_EQ(gpu.clip, cpu.clip);
    EXPECT_EQ(gpu.frame_rate, cpu.frame_rate);
    EXPECT_LE(test::max_rel_error(gpu.x, cpu.x), 1e-4) << path;
  }
}

TEST(GpuProbe, ProbesOnTheDeviceScoreLikeCpu) {
  const ProbeTask t = test::synthetic_task(3, {150, 60, 90});
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor means = at::randn({3, 8}, gen, at::kFloat) * 1.5;  // overlapping classes
  ProbeDataset d;
  ProbeFeatures* f[] = {&d.train, &d.valid, &d.test};
  for (int s = 0; s < 3; ++s) {
    const auto& items = t.splits[size_t(s)].items;
    f[s]->x = at::randn({int64_t(items.size()), 2, 8}, gen, at::kFloat);
    for (size_t i = 0; i < items.size(); ++i) {
      f[s]->x[int64_t(i)][1] += means[items[i].classes[0]];
      f[s]->clip.push_back(int64_t(i));
    }
    f[s]->num_clips = int64_t(items.size());
  }
  for (const ProbeKind kind : {ProbeKind::Linear, ProbeKind::Mlp}) {
    ProbeConfig c;
    c.probe = kind;
    c.lr_grid = {1e-3};
    c.max_epochs = 30;
    for (int layer : {1, kWeightedLayers}) {
      const ProbeScores cpu = run_probe(t, d, layer, c);
      c.device = "cuda";
      const ProbeScores gpu = run_probe(t, d, layer, c);
      c.device = "cpu";
      // Same seeds and batches; float differences only: at most a couple of clips flip.
      EXPECT_NEAR(gpu.test.at("accuracy"), cpu.test.at("accuracy"), 0.025) << kind << layer;
      EXPECT_EQ(gpu.selected, cpu.selected) << kind << layer;
    }
  }
}

TEST(GpuProbe, CliRunsOnCuda) {
  const std::string dir = test::temp_dir() + "/task", out = test::temp_dir();
  test::write_task(dir, kBody, rows(8), 0.5, tone);
  std::string log;
  ASSERT_EQ(test::run_cli("probe --model " + kTiny + " --model mfcc --task " + dir + " --out " +
                              out + " --cache none --device cuda --seeds 2 --set max_epochs=5",
                          &log),
            0)
      << log;
  std::ifstream in(out + "/report.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["rows"].size(), 10u);  // tiny: 3 layers + weighted, mfcc: 1; linear and mlp
}

}  // namespace
}  // namespace musefm
