// Training checkpoints on safetensors, and the run folder that holds them (clear_run, the
// run summary).
#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "musefm/error.h"
#include "musefm/safetensors.h"
#include "musefm/train.h"

namespace musefm::train_detail {
namespace fs = std::filesystem;
namespace {
constexpr const char* kFormat = "musefm-pretrain-checkpoint-1";

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Step number of "step-000000123.safetensors"; -1 for other names.
int64_t step_of(const fs::path& p) {
  const std::string n = p.filename().string();
  if (n.size() != 5 + 9 + 12 || n.rfind("step-", 0) != 0 ||
      n.compare(n.size() - 12, 12, ".safetensors") != 0)
    return -1;
  int64_t v = 0;
  for (size_t i = 5; i < 14; ++i) {
    if (n[i] < '0' || n[i] > '9') return -1;
    v = v * 10 + (n[i] - '0');
  }
  return v;
}
}  // namespace

std::string RunState::to_json() const {
  return nlohmann::json{{"step", step},           {"epoch", epoch},
                        {"index", index},         {"skipped_steps", skipped_steps},
                        {"elapsed_s", elapsed_s}, {"world_size", world_size}}
      .dump();
}

RunState RunState::from_json(const std::string& text, const std::string& source) {
  RunState s;
  try {
    const auto j = nlohmann::json::parse(text);
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.index = j.at("index").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.elapsed_s = j.at("elapsed_s").get<double>();
    s.world_size = j.at("world_size").get<int>();
  } catch (const nlohmann::json::exception& e) {
    MUSEFM_FAIL("checkpoint '", source, "': bad run state: ", e.what());
  }
  MUSEFM_CHECK(s.step >= 0 && s.epoch >= 0 && s.index >= 0 && s.world_size >= 1, "checkpoint '",
               source, "': run state out of range: ", text);
  return s;
}

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step-%09lld.safetensors", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

std::string save_checkpoint(const std::string& dir, const RunState& state,
                            const std::string& config_json,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  fs::create_directories(dir);
  const std::string path = checkpoint_path(dir, state.step);
  std::vector<std::pair<std::string, at::Tensor>> cpu;
  for (const auto& [n, t] : tensors) cpu.emplace_back(n, t.detach().to(at::kCPU).contiguous());
  save_safetensors(path, cpu,
                   {{"format", kFormat}, {"state", state.to_json()}, {"config", config_json}});
  fsync_dir(dir);
  return path;
}

Checkpoint load_checkpoint(const std::string& path) {
  const SafeTensorsFile f = SafeTensorsFile::open(path);
  const auto& meta = f.metadata();
  const auto get = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    MUSEFM_CHECK(it != meta.end(), "checkpoint '", path, "': metadata '", key,
                 "' is missing (not a musefm pretraining checkpoint?)");
    return it->second;
  };
  MUSEFM_CHECK(get("format") == kFormat, "checkpoint '", path, "': format '", get("format"),
               "', expected '", kFormat, "'");
  Checkpoint c;
  c.state = RunState::from_json(get("state"), path);
  c.config_json = get("config");
  for (const auto& info : f.tensors()) c.tensors[info.name] = f.get(info.name).clone();
  return c;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const int64_t s = step_of(e.path()); s >= 0) found.emplace_back(s, e.path().string());
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [s, p] : found) out.push_back(p);
  return out;
}

void prune_checkpoints(const std::string& dir, int keep) {
  const auto all = list_checkpoints(dir);
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
}

}  // namespace musefm::train_detail

namespace musefm {
std::string latest_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  for (const std::string& d : {dir, (fs::path(dir) / "checkpoints").string()}) {
    const auto all = train_detail::list_checkpoints(d);
    if (!all.empty()) return all.back();
  }
  return "";
}

std::string format_metrics(const std::map<std::string, double>& values, int precision) {
  std::ostringstream os;
  os.precision(precision);
  for (const auto& [k, v] : values) os << (os.tellp() > 0 ? " " : "") << k << " " << v;
  return os.str();
}

void clear_run(const std::string& out_dir) {
  namespace fs = std::filesystem;
  for (const char* f : {"checkpoints", "train.jsonl", "failures.jsonl", "config.json"})
    fs::remove_all(fs::path(out_dir) / f);
}

std::string PretrainResult::summary() const {
  std::ostringstream os;
  os.precision(4);
  os << std::fixed << "steps " << first_step << ".." << last_step << " of " << max_steps
     << "; loss " << last.loss << "; masked accuracy " << format_metrics(last.accuracy) << "\n";
  if (!valid.empty())
    os << "validation at step " << valid.back().step << ": loss " << valid.back().loss
       << "; masked accuracy " << format_metrics(valid.back().accuracy) << "\n";
  if (skipped_items > 0)
    os << skipped_items << " manifest entries left out (see " << out_dir << "/failures.jsonl)\n";
  os << "checkpoint: " << last_checkpoint << "\nlog: " << out_dir
     << "/train.jsonl (plot: tools/plot_training.py)\n";
  if (last_step < max_steps) os << "stopped early: rerun the same command to resume\n";
  os << "export: musefm export " << out_dir << " --out MODEL_DIR\n";
  return os.str();
}

}  // namespace musefm
