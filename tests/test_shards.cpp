// Sharded extraction (musefm/shards.h, `musefm extract --shard/--nshards/--merge`): the shard
// from the environment, a split every shard computes alike and balanced by duration, 3 shards +
// merge byte-identical to one unsharded run, and clear errors for mismatched or missing shards.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "musefm/audio.h"
#include "musefm/error.h"
#include "musefm/features.h"  // waveform_tensor
#include "musefm/shards.h"
#include "support/test_support.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

const std::string kTiny = test::fixture("encoders/mert_tiny_postln");

// Sets environment variables for one scope and restores them after.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> vars) {
    for (const char* v :
         {"RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_ARRAY_TASK_ID",
          "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"}) {
      if (const char* old = std::getenv(v)) saved_[v] = old;
      ::unsetenv(v);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* v : {"RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS",
                          "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"})
      ::unsetenv(v);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST(Shards, SpecComesFromOptionsTorchrunOrSlurm) {
  {
    ScopedEnv env({});
    const ShardSpec s = resolve_shard(-1, -1);
    EXPECT_EQ(s.index, 0);
    EXPECT_EQ(s.count, 1);
    EXPECT_EQ(resolve_shard(2, 3).index, 2);
    EXPECT_NE(test::error_of([] { resolve_shard(3, 3); }).find("shard 3 is outside 0..2"),
              std::string::npos);
    EXPECT_NE(
        test::error_of([] { resolve_shard(1, -1); }).find("--shard and --nshards go together"),
        std::string::npos);
  }
  {
    ScopedEnv env(
        {{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
    const ShardSpec s = resolve_shard(-1, -1);
    EXPECT_EQ(s.index, 3);
    EXPECT_EQ(s.count, 4);
    EXPECT_EQ(s.source, "RANK/WORLD_SIZE");
    EXPECT_EQ(resolve_shard(0, 2).count, 2);  // options win over the environment
  }
  {  // array task 7 of 5..9 (count 5), task 1 of 2 in it -> shard 2 * 2 + 1 of 10
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "7"},
                   {"SLURM_ARRAY_TASK_COUNT", "5"},
                   {"SLURM_ARRAY_TASK_MIN", "5"},
                   {"SLURM_PROCID", "1"},
                   {"SLURM_NTASKS", "2"}});
    const ShardSpec s = resolve_shard(-1, -1);
    EXPECT_EQ(s.index, 5);
    EXPECT_EQ(s.count, 10);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "two"}, {"RANK", "0"}});
    EXPECT_NE(test::error_of([] { resolve_shard(-1, -1); }).find("WORLD_SIZE='two'"),
              std::string::npos);
  }
}

TEST(Shards, AssignmentIsDeterministicBalancedAndOrderFree) {
  std::vector<double> d;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    d.push_back(1.0 + (i * 37 % 101));  // 1 .. 101 s
    keys.push_back("track" + std::to_string(i));
  }
  const std::vector<int> a = assign_shards(d, keys, 7);
  EXPECT_EQ(a, assign_shards(d, keys, 7));
  std::vector<double> load(7, 0.0);
  for (size_t i = 0; i < a.size(); ++i) load[size_t(a[i])] += d[i];
  const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_LE(*hi - *lo, 101.0);  // greedy longest-first: within one file of each other
  // The same files listed in another order go to the same shards.
  std::vector<double> rd(d.rbegin(), d.rend());
  std::vector<std::string> rk(keys.rbegin(), keys.rend());
  const std::vector<int> b = assign_shards(rd, rk, 7);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[a.size() - 1 - i]);
}

// Five clips of different lengths in a folder.
std::string make_inputs() {
  const std::string root = test::temp_dir();
  const at::Tensor a = waveform_tensor(load_audio(test::fixture("real_24k.wav")));
  const int64_t lengths[] = {30000, 52000, 7000, 61000, 12000};
  for (int i = 0; i < 5; ++i) {
    const at::Tensor c = a.narrow(0, 100 * i, lengths[i]).contiguous();
    test::write_sndfile(root + "/clip" + std::to_string(i) + ".wav",
                        std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()), 1,
                        24000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  }
  return root;
}

std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).string()] = test::read_bytes(e.path().string());
  return out;
}

TEST(CliExtractShards, ThreeShardsAndMergeEqualOneRunByteForByte) {
  const std::string in = make_inputs(), one = test::temp_dir(), three = test::temp_dir();
  const std::string common = "extract " + in + " --model " + kTiny + " --pool none --layers 0,2";
  ASSERT_EQ(test::run_cli(common + " --out-dir " + one), 0);
  std::string out;
  for (int s = 0; s < 3; ++s)
    ASSERT_EQ(test::run_cli(
                  common + " --out-dir " + three + " --shard " + std::to_string(s) + " --nshards 3",
                  &out),
              0)
        << out;
  EXPECT_NE(out.find("shard 2 of 3"), std::string::npos) << out;
  ASSERT_EQ(test::run_cli("extract " + in + " --out-dir " + three + " --merge", &out), 0) << out;
  EXPECT_NE(out.find("5 inputs, 5 indexed"), std::string::npos) << out;
  auto a = tree(one), b = tree(three);
  for (auto* t : {&a, &b})
    for (auto it = t->begin(); it != t->end();)
      it = it->first.rfind("shards/", 0) == 0 ? t->erase(it) : std::next(it);
  ASSERT_EQ(a.size(), 11u);  // 5 x (.npy + .json) + index.tsv
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_EQ(bytes, b[name]) << name;
  }
  EXPECT_EQ(a.size(), b.size());
  // The shards split the inputs: every shard took some, none took all.
  for (int s = 0; s < 3; ++s) {
    std::ifstream m(three + "/shards/shard-" + std::to_string(s) + "-of-3.json");
    const std::string text((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("\"written\": 0"), std::string::npos) << text;
    EXPECT_EQ(text.find("\"written\": 5"), std::string::npos) << text;
  }
}

TEST(CliExtractShards, MismatchedAndIncompleteShardsAreNamedAndNothingIsLost) {
  const std::string in = make_inputs(), dir = test::temp_dir();
  const std::string common = "extract " + in + " --model " + kTiny + " --out-dir " + dir;
  ASSERT_EQ(test::run_cli(common + " --shard 0 --nshards 3"), 0);
  const auto before = tree(dir);
  std::string out;
  // Another split into the same folder: refused before any work.
  EXPECT_NE(test::run_cli(common + " --shard 1 --nshards 4", &out), 0);
  EXPECT_NE(out.find("holds shards of a split into 3"), std::string::npos) << out;
  EXPECT_NE(out.find("--nshards 3"), std::string::npos) << out;
  // Other inputs with the same split: refused too.
  EXPECT_NE(test::run_cli("extract " + in + "/clip0.wav " + in + "/clip1.wav --model " + kTiny +
                              " --out-dir " + dir + " --shard 1 --nshards 3",
                          &out),
            0);
  EXPECT_NE(out.find("written for other inputs"), std::string::npos) << out;
  // Merge before shards 1 and 2 ran: names them and the inputs without outputs, writes nothing.
  EXPECT_NE(test::run_cli("extract " + in + " --out-dir " + dir + " --merge", &out), 0);
  EXPECT_NE(out.find("shards not finished: 1 2"), std::string::npos) << out;
  EXPECT_NE(out.find("no output yet (shard "), std::string::npos) << out;
  EXPECT_EQ(tree(dir), before);  // nothing written, removed or overwritten
  EXPECT_FALSE(fs::exists(dir + "/index.tsv"));
  // A bad file: its shard reports it, the merge lists it as failed.
  test::write_bytes(in + "/clip9.wav", "not audio");
  const std::string dir2 = test::temp_dir();
  const std::string all = "extract " + in + " --model " + kTiny + " --out-dir " + dir2;
  int failed = 0;
  for (int s = 0; s < 2; ++s)
    failed += test::run_cli(all + " --shard " + std::to_string(s) + " --nshards 2") != 0;
  EXPECT_EQ(failed, 1);  // the shard that got the bad file exits 1, after the good ones
  EXPECT_NE(test::run_cli("extract " + in + " --out-dir " + dir2 + " --merge", &out), 0);
  EXPECT_NE(out.find("5 indexed"), std::string::npos) << out;
  EXPECT_NE(out.find("clip9.wav: failed: "), std::string::npos) << out;
}

}  // namespace
}  // namespace musefm
