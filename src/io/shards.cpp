// Sharded batch jobs (musefm/shards.h): the environment's shard, a duration-balanced split that
// every shard computes alike, finished-shard markers and the merge into one index.
#include "musefm/shards.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <regex>

#include "core/env.h"
#include "core/hash.h"
#include "core/strings.h"
#include "io/atomic_file.h"
#include "musefm/audio.h"
#include "musefm/error.h"

namespace musefm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// An environment variable as a non-negative integer; -1 when unset or empty.
int env_int(const char* name) { return detail::env_int(name, -1); }

std::string marker_name(int index, int count) {
  return "shard-" + std::to_string(index) + "-of-" + std::to_string(count) + ".json";
}

struct Marker {
  std::string path;
  int index = 0, count = 0;
  json body;
};

// Every shard marker in <out_dir>/shards.
std::vector<Marker> read_markers(const std::string& out_dir) {
  std::vector<Marker> out;
  const fs::path dir = fs::path(out_dir) / "shards";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex name(R"(shard-(\d+)-of-(\d+)\.json)");
  for (const auto& e : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    Marker k;
    k.path = e.path().string();
    k.index = std::stoi(m[1]);
    k.count = std::stoi(m[2]);
    std::ifstream in(k.path);
    try {
      k.body = json::parse(in);
    } catch (const json::exception& err) {
      MUSEFM_FAIL("shard marker '", k.path, "' is not valid JSON (", err.what(),
                  "): delete it and rerun that shard");
    }
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const Marker& a, const Marker& b) {
    return std::tie(a.count, a.index) < std::tie(b.count, b.index);
  });
  return out;
}

// Inputs whose outputs failed, with the reason, from every failures*.jsonl in out_dir.
std::map<std::string, std::string> recorded_failures(const std::string& out_dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("failures", 0) != 0 || e.path().extension() != ".jsonl") continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("input") && j["input"].is_string())
        out[j["input"].get<std::string>()] = j.value("error", std::string("failed"));
    }
  }
  return out;
}

}  // namespace

ShardSpec resolve_shard(int index, int count) {
  ShardSpec s;
  if (index >= 0 || count >= 0) {
    MUSEFM_CHECK(index >= 0 && count >= 0,
                 "--shard and --nshards go together (give both, or neither to take them from "
                 "RANK/WORLD_SIZE or SLURM_*)");
    s = {index, count, "--shard/--nshards"};
  } else if (const detail::LaunchRank launch = detail::launch_rank_from_env();
             !launch.source.empty() || env_int("SLURM_ARRAY_TASK_COUNT") >= 0) {
    // srun tasks inside an array task a of na: shard a * world_size + rank
    s = {launch.rank, launch.world_size, launch.source};
    if (launch.source != "RANK/WORLD_SIZE" && env_int("SLURM_ARRAY_TASK_COUNT") >= 0) {
      MUSEFM_CHECK(env_int("SLURM_ARRAY_TASK_ID") >= 0,
                   "SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not");
      const int a = env_int("SLURM_ARRAY_TASK_ID") - std::max(0, env_int("SLURM_ARRAY_TASK_MIN"));
      s.index += a * launch.world_size;
      s.count *= env_int("SLURM_ARRAY_TASK_COUNT");
      s.source = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT" +
                 (launch.source.empty() ? "" : " x " + launch.source);
    }
  } else {
    s.source = "default";
  }
  MUSEFM_CHECK(s.count >= 1, s.source, ": the number of shards must be at least 1, got ", s.count);
  MUSEFM_CHECK(s.index >= 0 && s.index < s.count, s.source, ": shard ", s.index, " is outside 0..",
               s.count - 1);
  return s;
}

std::vector<int> assign_shards(const std::vector<double>& durations,
                               const std::vector<std::string>& keys, int count) {
  MUSEFM_CHECK(count >= 1, "assign_shards: count must be >= 1, got ", count);
  MUSEFM_CHECK(durations.size() == keys.size(), "assign_shards: ", durations.size(),
               " durations for ", keys.size(), " keys");
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t(0));
  const auto dur = [&](size_t i) { return std::max(0.0, durations[i]); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (dur(a) != dur(b)) return dur(a) > dur(b);
    return keys[a] < keys[b];
  });
  std::vector<double> load(size_t(count), 0.0);
  std::vector<int> shard(keys.size(), 0);
  for (size_t i : order) {
    const size_t s = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    shard[i] = int(s);
    load[s] += dur(i);
  }
  return shard;
}

std::vector<double> input_durations(const std::vector<FileInput>& inputs) {
  std::vector<double> out;
  out.reserve(inputs.size());
  for (const auto& in : inputs) {
    try {
      out.push_back(probe_audio(in.path).duration_s());
    } catch (const Error&) {
      out.push_back(-1.0);
    }
  }
  return out;
}

std::vector<FileInput> shard_inputs(const std::vector<FileInput>& inputs, const ShardSpec& spec) {
  if (spec.count == 1) return inputs;
  std::vector<std::string> keys;
  for (const auto& in : inputs) keys.push_back(in.key);
  const std::vector<int> shard = assign_shards(input_durations(inputs), keys, spec.count);
  std::vector<FileInput> out;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (shard[i] == spec.index) out.push_back(inputs[i]);
  return out;
}

std::string inputs_hash(const std::vector<FileInput>& inputs) {
  detail::Fnv1a64 h;
  for (const auto& in : inputs) {
    h.add(in.key);
    h.add(in.path);
  }
  return "fnv1a64:" + h.hex();
}

void check_shard_dir(const std::string& out_dir, const ShardSpec& spec,
                     const std::vector<FileInput>& inputs) {
  const std::string hash = inputs_hash(inputs);
  for (const Marker& m : read_markers(out_dir)) {
    MUSEFM_CHECK(m.count == spec.count, "'", out_dir, "' holds shards of a split into ", m.count,
                 " (", m.path, "), not ", spec.count, ": use --nshards ", m.count,
                 " or another --out-dir (nothing was written)");
    MUSEFM_CHECK(m.body.value("inputs_hash", std::string()) == hash, "'", m.path,
                 "' was written for other inputs (", m.body.value("inputs", int64_t(0)),
                 " inputs, ", m.body.value("inputs_hash", std::string("?")),
                 "; these: ", inputs.size(), ", ", hash,
                 "): give every shard the same inputs, or use another --out-dir");
  }
}

void write_shard_marker(const std::string& out_dir, const ShardSpec& spec,
                        const std::vector<FileInput>& inputs, const FileBatchSummary& summary) {
  const fs::path dir = fs::path(out_dir) / "shards";
  fs::create_directories(dir);
  const json j{{"shard", spec.index},
               {"nshards", spec.count},
               {"source", spec.source},
               {"inputs", inputs.size()},
               {"inputs_hash", inputs_hash(inputs)},
               {"written", summary.written},
               {"skipped", summary.skipped},
               {"failed", summary.failed}};
  const std::string text = j.dump(2) + "\n";
  io_detail::AtomicFile f((dir / marker_name(spec.index, spec.count)).string());
  f.write(text.data(), text.size());
  f.commit();
}

std::string shard_failures_name(const ShardSpec& spec) {
  if (spec.count == 1) return "failures.jsonl";
  return "failures.shard-" + std::to_string(spec.index) + "-of-" + std::to_string(spec.count) +
         ".jsonl";
}

ShardMerge merge_shards(const std::vector<FileInput>& inputs, const std::string& out_dir,
                        const std::string& extension, int count) {
  if (count <= 0) {
    const std::vector<Marker> markers = read_markers(out_dir);
    count = markers.empty() ? 1 : markers.front().count;
  }
  check_shard_dir(out_dir, {0, count, "merge"}, inputs);
  ShardMerge r;
  r.inputs = int64_t(inputs.size());
  std::vector<bool> have(size_t(count), false);
  for (const Marker& m : read_markers(out_dir))
    if (m.index < count) have[size_t(m.index)] = true;
  for (int i = 0; i < count; ++i)
    if (!have[size_t(i)]) r.missing_shards.push_back(i);
  const std::map<std::string, std::string> failures = recorded_failures(out_dir);
  std::vector<int> shard;  // computed only if something is missing (reads every header)
  std::string index = "path\toutput\tframes\tduration_s\tmodel_hash\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const FileInput& in = inputs[i];
    const std::string rel = in.key + extension;
    const fs::path out = fs::path(out_dir) / rel;
    const std::string side_path = sidecar_path(out.string());
    std::string why;
    json side;
    if (fs::exists(out) && fs::exists(side_path)) {
      std::ifstream s(side_path);
      side = json::parse(s, nullptr, /*allow_exceptions=*/false);
      if (!side.is_object() || !side.contains("audio"))
        why = "its sidecar '" + side_path + "' is unreadable";
      else if (side["audio"].value("path", std::string()) != in.path)
        why = "'" + out.string() + "' was made from '" +
              side["audio"].value("path", std::string("?")) + "', not this input";
    } else if (auto f = failures.find(in.path); f != failures.end()) {
      why = "failed: " + f->second;
    } else {
      if (shard.empty() && count > 1) {
        std::vector<std::string> keys;
        for (const auto& x : inputs) keys.push_back(x.key);
        shard = assign_shards(input_durations(inputs), keys, count);
      }
      why = "no output yet (shard " + std::to_string(count > 1 ? shard[i] : 0) + " of " +
            std::to_string(count) + ")";
    }
    if (!why.empty()) {
      r.missing.emplace_back(in.path, why);
      continue;
    }
    ++r.indexed;
    index += in.path + "\t" + rel + "\t" + std::to_string(side.value("frames", int64_t(0))) + "\t" +
             json(side["audio"].value("duration_s", 0.0)).dump() + "\t" +
             (side.contains("model") ? side["model"].value("hash", std::string()) : "") + "\n";
  }
  if (r.ok()) {
    r.index_path = (fs::path(out_dir) / "index.tsv").string();
    io_detail::AtomicFile f(r.index_path);
    f.write(index.data(), index.size());
    f.commit();
  }
  return r;
}

std::string ShardMerge::report() const {
  std::string t = std::to_string(inputs) + " inputs, " + std::to_string(indexed) + " indexed";
  if (!missing_shards.empty()) {
    t += "; shards not finished:";
    for (int s : missing_shards) t += " " + std::to_string(s);
  }
  if (!missing.empty()) {
    t += "; " + std::to_string(missing.size()) + " without an output:";
    for (size_t i = 0; i < missing.size() && i < 20; ++i)
      t += "\n  " + missing[i].first + ": " + missing[i].second;
    if (missing.size() > 20) t += "\n  ... and " + std::to_string(missing.size() - 20) + " more";
  }
  if (ok()) t += "; index: " + index_path;
  return t;
}

}  // namespace musefm
