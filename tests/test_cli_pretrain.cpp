// musefm pretrain / export as processes: SIGKILL + resume equals an uninterrupted run, two
// c10d ranks equal one rank with the same global batch, a dead rank stops its peer with a
// clear error, bad recipes fail before any compute, export feeds extract.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "musefm/train.h"
#include "support/pretrain_data.h"
#include "support/test_support.h"
#include "train/checkpoint.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string cli() { return MUSEFM_CLI; }

// Starts `cmd` in the background; its pid goes to <dir>/pid and its exit status to <dir>/rc.
void spawn(const std::string& cmd, const std::string& dir, const std::string& env = "") {
  fs::create_directories(dir);
  const std::string sh = "(" + env + " " + cmd + " > " + dir + "/log 2>&1 & echo $! > " + dir +
                         "/pid; wait $!; echo $? > " + dir + "/rc) &";
  ASSERT_EQ(std::system(sh.c_str()), 0);
  for (int i = 0; i < 500 && !fs::exists(dir + "/pid"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// Exit status of a spawned command (waits up to `seconds`); -1 on timeout.
int wait_rc(const std::string& dir, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    std::ifstream in(dir + "/rc");
    int rc = -1;
    if (in >> rc) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

int pid_of(const std::string& dir) {
  int pid = 0;
  std::ifstream(dir + "/pid") >> pid;
  return pid;
}

int64_t newest_step(const std::string& run) {
  const auto all = train_detail::list_checkpoints(run + "/checkpoints");
  return all.empty() ? -1 : train_detail::load_checkpoint(all.back()).state.step;
}

std::map<std::string, at::Tensor> params_of(const std::string& run) {
  std::map<std::string, at::Tensor> out;
  for (auto& [n, t] : train_detail::load_checkpoint(latest_checkpoint(run)).tensors)
    if (n.rfind("param/", 0) == 0) out[n] = t;
  return out;
}

int free_port() { return 20000 + int(::getpid() % 20000); }

TEST(CliPretrain, KilledRunResumesToTheSameParameters) {
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/kill_data", 8);
  const std::string args = "pretrain " + test::tiny_pretrain_cli_args(dir) +
                           " --set optim.max_steps=24 --set run.checkpoint_every=2 --quiet";
  const std::string ref = tmp + "/kill_ref", run = tmp + "/kill_run";
  std::string out;
  ASSERT_EQ(test::run_cli(args + " --out " + ref, &out), 0) << out;
  const std::string proc = tmp + "/kill_proc";
  spawn(cli() + " " + args + " --out " + run, proc);
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (newest_step(run) < 6 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(::kill(pid_of(proc), SIGKILL), 0);
  ASSERT_NE(wait_rc(proc, 30), 0);  // killed, not finished
  const int64_t at_kill = newest_step(run);
  ASSERT_GE(at_kill, 6);
  ASSERT_LT(at_kill, 24);
  ASSERT_EQ(test::run_cli(args + " --out " + run, &out), 0) << out;
  EXPECT_EQ(newest_step(run), 24);
  const auto a = params_of(ref), b = params_of(run);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [n, t] : a) EXPECT_TRUE(at::equal(t, b.at(n))) << n;
  std::ifstream log(run + "/train.jsonl");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("\"event\":\"resume\""), std::string::npos);
}

TEST(CliPretrain, TwoRanksReachTheParametersOfOneRank) {
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/ddp_data", 8);
  const std::string args = "pretrain " + test::tiny_pretrain_cli_args(dir) +
                           " --set optim.max_steps=4 --quiet --threads 1";
  const std::string one = tmp + "/ddp_one", two = tmp + "/ddp_two";
  std::string out;
  // One rank that accumulates two micro-batches per update ...
  ASSERT_EQ(test::run_cli(args + " --set optim.accumulate=2 --out " + one, &out), 0) << out;
  // ... and two ranks with one micro-batch each: the same global batch.
  const std::string port = std::to_string(free_port());
  for (int r = 0; r < 2; ++r)
    spawn(cli() + " " + args + " --out " + two, tmp + "/ddp_rank" + std::to_string(r),
          "WORLD_SIZE=2 RANK=" + std::to_string(r) + " LOCAL_RANK=" + std::to_string(r) +
              " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " MUSEFM_DIST_TIMEOUT_S=60");
  for (int r = 0; r < 2; ++r) {
    const std::string d = tmp + "/ddp_rank" + std::to_string(r);
    ASSERT_EQ(wait_rc(d, 240), 0) << test::read_bytes(d + "/log");
  }
  const auto a = params_of(one), b = params_of(two);
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [n, t] : a) worst = std::max(worst, (t - b.at(n)).abs().max().item<double>());
  EXPECT_LE(worst, 1e-6);  // in practice 0: each micro-batch is computed the same way
  std::printf("2 ranks vs 1 rank after 4 updates: max |d param| = %.3g\n", worst);
}

TEST(CliPretrain, ADeadRankStopsItsPeerWithAClearError) {
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/dead_data", 8);
  const std::string run = tmp + "/dead_run";
  const std::string args = "pretrain " + test::tiny_pretrain_cli_args(dir) +
                           " --set optim.max_steps=100000 --quiet --threads 1 --out " + run;
  const std::string port = std::to_string(free_port() + 1);
  std::string d[2];
  for (int r = 0; r < 2; ++r) {
    d[r] = tmp + "/dead_rank" + std::to_string(r);
    spawn(cli() + " " + args, d[r],
          "WORLD_SIZE=2 RANK=" + std::to_string(r) + " LOCAL_RANK=" + std::to_string(r) +
              " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " MUSEFM_DIST_TIMEOUT_S=30");
  }
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (newest_step(run) < 2 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(newest_step(run), 2) << test::read_bytes(d[0] + "/log");
  ASSERT_EQ(::kill(pid_of(d[1]), SIGKILL), 0);
  const auto t0 = Clock::now();
  const int rc = wait_rc(d[0], 60);
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(rc, 0);
  EXPECT_NE(rc, -1) << "rank 0 hung after its peer died";
  EXPECT_LT(waited, 45);
  const std::string log = test::read_bytes(d[0] + "/log");
  EXPECT_NE(log.find("distributed"), std::string::npos) << log;
  std::printf("rank 0 stopped %.1f s after rank 1 was killed: %s\n", waited,
              log.substr(log.rfind("musefm:")).c_str());
}

// The standard launcher: torchrun --no-python starts the ranks with its own environment.
TEST(CliPretrain, RunsUnderTorchrun) {
  const std::string tmp = test::temp_dir();
  const std::string torchrun = std::string(MUSEFM_SOURCE_DIR) + "/.venv/bin/torchrun";
  ASSERT_TRUE(fs::exists(torchrun)) << "no " << torchrun << " (tools/setup.sh installs it)";
  const std::string dir = test::make_pretrain_data(tmp + "/trun_data", 6);
  const std::string run = tmp + "/trun_run";
  const std::string cmd =
      torchrun + " --nproc-per-node 2 --master-port " + std::to_string(free_port() + 2) +
      " --no-python " + cli() + " pretrain " + test::tiny_pretrain_cli_args(dir) +
      " --set optim.max_steps=2 --quiet --threads 1 --out " + run + " > " + tmp + "/trun_log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_bytes(tmp + "/trun_log");
  EXPECT_EQ(newest_step(run), 2);
  std::ifstream cfg(run + "/train.jsonl");
  const std::string text((std::istreambuf_iterator<char>(cfg)), {});
  EXPECT_NE(text.find("\"step\":2"), std::string::npos);
}

TEST(CliPretrain, BadRecipesFailBeforeAnyCompute) {
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/badcfg_data", 3);
  const std::string run = tmp + "/badcfg_run";
  std::string out;
  EXPECT_EQ(test::run_cli("pretrain " + test::tiny_pretrain_cli_args(dir) +
                              " --set optim.learning_rate=1 --out " + run,
                          &out),
            1);
  EXPECT_NE(out.find("unknown key 'learning_rate'"), std::string::npos) << out;
  EXPECT_EQ(
      test::run_cli("pretrain --config /nonexistent.json --data " + dir + " --out " + run, &out),
      1);
  EXPECT_NE(out.find("/nonexistent.json"), std::string::npos) << out;
  EXPECT_EQ(test::run_cli("pretrain " + test::tiny_pretrain_cli_args(dir) +
                              " --set data.labels=[\\\"encodec_0\\\"] --out " + run,
                          &out),
            1);
  EXPECT_NE(out.find("train.encodec_0"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(run + "/checkpoints"));
}

TEST(CliPretrain, ExportFeedsExtract) {
  const std::string tmp = test::temp_dir();
  const std::string dir = test::make_pretrain_data(tmp + "/exp_data", 4);
  const std::string run = tmp + "/exp_run", model = tmp + "/exp_model";
  std::string out;
  ASSERT_EQ(test::run_cli("pretrain " + test::tiny_pretrain_cli_args(dir) +
                              " --set optim.max_steps=2 --out " + run,
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("musefm export"), std::string::npos) << out;
  ASSERT_EQ(test::run_cli("export " + run + " --out " + model, &out), 0) << out;
  ASSERT_EQ(test::run_cli("extract " + test::fixture("real_music.ogg") + " --model " + model +
                              " --out-dir " + tmp + "/exp_emb",
                          &out),
            0)
      << out;
  EXPECT_TRUE(fs::exists(tmp + "/exp_emb/real_music.npy"));
  EXPECT_EQ(test::run_cli("export " + tmp + " --out " + model, &out), 1);
  EXPECT_NE(out.find("no checkpoint"), std::string::npos) << out;
}

}  // namespace
}  // namespace musefm
