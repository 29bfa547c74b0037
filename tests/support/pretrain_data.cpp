#include "support/pretrain_data.h"

#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "musefm/teachers.h"
#include "support/test_support.h"

namespace musefm::test {
namespace fs = std::filesystem;

namespace {
const char* kOverrides[] = {"data.max_sample_size=24000", "data.min_sample_size=12000",
                            "data.max_tokens=96000",      "data.loader_threads=1",
                            "data.mixup_min_length=2400", "data.mixup_max_length=4800",
                            "optim.warmup_steps=2",       "optim.max_steps=6",
                            "run.checkpoint_every=2",     "run.keep_last=2"};
}

std::string make_pretrain_data(const std::string& dir, int items, const std::string& split) {
  fs::create_directories(fs::path(dir) / "audio");
  const at::Tensor y = load_wav(fixture("real_24k.wav"));  // 3 s at 24 kHz
  const int64_t n = y.size(0);
  std::ofstream tsv(fs::path(dir) / (split + ".tsv"));
  tsv << fs::absolute(fs::path(dir) / "audio").string() << "\n";
  LabelFile labels{"km", {}};
  for (int i = 0; i < items; ++i) {
    const int64_t len = 36000 + (i * 7919) % 36000;  // 1.5 .. 3 s
    std::vector<float> clip(static_cast<size_t>(len));
    const float* src = y.data_ptr<float>();
    for (int64_t t = 0; t < len; ++t) clip[size_t(t)] = src[(t + i * 5003) % n];
    const std::string name = split + "_" + std::to_string(i) + ".wav";
    write_sndfile((fs::path(dir) / "audio" / name).string(), clip, 1, 24000,
                  SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    tsv << name << "\t" << len << "\n";
    std::vector<int64_t> ids;
    for (int64_t f = 0; f < len / 240; ++f) {
      double e = 1e-8;
      for (int64_t t = f * 240; t < (f + 1) * 240; ++t)
        e += double(clip[size_t(t)]) * clip[size_t(t)];
      const double db = 10 * std::log10(e / 240);
      ids.push_back(std::clamp<int64_t>(int64_t((db + 60) / 7.5), 0, 7));
    }
    labels.lines.push_back(ids);
  }
  tsv.close();
  write_label_file(dir, split, labels, 8);
  return dir;
}

PretrainConfig tiny_pretrain_config(const std::string& dir) {
  std::vector<std::string> o(std::begin(kOverrides), std::end(kOverrides));
  o.push_back("data.manifest_dir=\"" + dir + "\"");
  return PretrainConfig::load(std::string(MUSEFM_CONFIGS_DIR) + "/pretrain/tiny-cpu.json", o);
}

std::string tiny_pretrain_cli_args(const std::string& dir) {
  std::string args =
      "--config " + std::string(MUSEFM_CONFIGS_DIR) + "/pretrain/tiny-cpu.json --data " + dir;
  for (const char* o : kOverrides) args += std::string(" --set ") + o;
  return args;
}

}  // namespace musefm::test
