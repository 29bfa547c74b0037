// GPU checks of pretraining (run by tools/gpu_check.sh; not part of ctest): a CUDA run in fp32
// follows the CPU run, bf16 autocast trains, and two ranks on the GPUs (NCCL when built) equal
// one rank that accumulates two micro-batches.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <cstdlib>
#include <filesystem>

#include "musefm/train.h"
#include "support/pretrain_data.h"
#include "support/test_support.h"
#include "train/checkpoint.h"

namespace musefm {
namespace {

std::map<std::string, at::Tensor> final_params(const std::string& run) {
  std::map<std::string, at::Tensor> out;
  for (auto& [n, t] : train_detail::load_checkpoint(latest_checkpoint(run)).tensors)
    if (n.rfind("param/", 0) == 0) out[n] = t;
  return out;
}

std::vector<double> train(PretrainConfig c, const std::string& out) {
  std::vector<double> losses;
  Pretrainer p(c, out);
  p.run([&](const StepRecord& s) { losses.push_back(s.loss); });
  return losses;
}

TEST(GpuPretrain, Fp32OnCudaFollowsTheCpu) {
  ASSERT_TRUE(at::hasCUDA());
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/data", 6);
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.run.precision = TrainPrecision::Fp32;
  const auto cpu = train(c, tmp + "/cpu");
  c.run.device = "cuda";
  const auto gpu = train(c, tmp + "/gpu");
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-3 * std::abs(cpu[i]));
  const auto a = final_params(tmp + "/cpu"), b = final_params(tmp + "/gpu");
  for (const auto& [n, t] : a) EXPECT_LT(test::max_rel_error(b.at(n), t), 1e-2) << n;
}

TEST(GpuPretrain, Bf16AutocastTrains) {
  ASSERT_TRUE(at::hasCUDA());
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/data", 6);
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.run.device = "cuda";
  c.run.precision = TrainPrecision::Bf16;
  c.optim.max_steps = 30;
  const auto losses = train(c, tmp + "/bf16");
  ASSERT_EQ(losses.size(), 30u);
  for (double l : losses) EXPECT_TRUE(std::isfinite(l));
  EXPECT_LT(losses.back(), losses.front());
}

TEST(GpuPretrain, TwoRanksOnGpusEqualOneRank) {
  ASSERT_TRUE(at::hasCUDA());
  // Two GPUs: NCCL; one GPU: both ranks share it and reduce through gloo (NCCL refuses that).
  const bool two_gpus = at::getNumGPUs() >= 2;
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/data", 8);
  const std::string args =
      "pretrain " + test::tiny_pretrain_cli_args(dir) + " --set optim.max_steps=4 --quiet" +
      (two_gpus ? std::string(" --device cuda")
                : std::string(" --device cuda:0 --set run.gradient_backend=gloo"));
  std::string out;
  ASSERT_EQ(test::run_cli(args + " --set optim.accumulate=2 --out " + tmp + "/one", &out), 0)
      << out;
  const std::string two = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29877 " +
                          std::string(MUSEFM_CLI) + " " + args + " --out " + tmp + "/two";
  const std::string cmd = "(RANK=0 LOCAL_RANK=0 " + two + " & RANK=1 LOCAL_RANK=1 " + two +
                          "; wait) > " + tmp + "/log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_bytes(tmp + "/log");
  const auto a = final_params(tmp + "/one"), b = final_params(tmp + "/two");
  for (const auto& [n, t] : a) EXPECT_LT((t - b.at(n)).abs().max().item<double>(), 1e-5) << n;
}

}  // namespace
}  // namespace musefm
