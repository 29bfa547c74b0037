// musefm probe: MARBLE-protocol probes of every layer of one or more models (and the MFCC /
// chroma baselines) on probe task folders; features cached on disk, results appended to
// <out>/results.jsonl (reruns skip finished runs), report.json + report.md written at the end.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "io/atomic_file.h"
#include "musefm/probe.h"

namespace musefm::cli {
namespace fs = std::filesystem;
namespace {

struct ProbeOptions {
  std::vector<std::string> models, tasks, set;
  std::string suite, data, out, cache, probe = "both", layers = "all", device = "cpu";
  int seeds = 3, threads = 0, batch = 4;
  bool overwrite = false, quiet = false;
};

std::string default_cache() {
  if (const char* c = std::getenv("MUSEFM_PROBE_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return (fs::path(x) / "musefm" / "probe").string();
  if (const char* h = std::getenv("HOME"); h && *h)
    return (fs::path(h) / ".cache" / "musefm" / "probe").string();
  return "musefm-probe-cache";
}

std::string fnv_hex(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char t[17];
  std::snprintf(t, sizeof t, "%016llx", static_cast<unsigned long long>(h));
  return t;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Identity of a task's data for run keys: its folder, task.json and label files.
std::string task_identity(const ProbeTask& t) {
  std::string id = fs::absolute(t.dir).lexically_normal().string() + "\n" +
                   file_text((fs::path(t.dir) / "task.json").string());
  for (const auto& s : t.splits) id += "\n" + file_text(s.file);
  return fnv_hex(id);
}

std::string source_identity(const FeatureSource& s, const ProbeTask& t) {
  if (!s.key().empty()) return s.key();
  std::string id = s.spec();
  for (const char* split : {"train", "valid", "test"}) {
    const fs::path p =
        fs::path(s.spec().substr(9)) / t.name / (std::string(split) + ".safetensors");
    std::error_code ec;
    id += "\n" + std::to_string(fs::file_size(p, ec)) + " " +
          std::to_string(fs::last_write_time(p, ec).time_since_epoch().count());
  }
  return fnv_hex(id);
}

// "all" = every layer and the weighted sum; "single" = every layer; else indices (negative
// from the end) and "weighted".
std::vector<int> parse_layers(const std::string& spec, int count) {
  std::vector<int> out;
  if (spec == "all" || spec == "single") {
    for (int i = 0; i < count; ++i) out.push_back(i);
    if (count > 1 && spec == "all") out.push_back(kWeightedLayers);
    return out;
  }
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "weighted") {
      if (count > 1) out.push_back(kWeightedLayers);
      continue;
    }
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MUSEFM_CHECK(used == item.size() && !item.empty(), "--layers: '", item,
                 "' is not an integer or 'weighted' (expected all or e.g. 0,6,-1,weighted)");
    if (count == 1) v = 0;  // baselines have one layer
    if (v < 0) v += count;
    MUSEFM_CHECK(v >= 0 && v < count, "--layers: ", item, " is out of range: the features have ",
                 count, " layers (0..", count - 1, ")");
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  MUSEFM_CHECK(!out.empty(), "--layers: no layer given");
  return out;
}

// ProbeConfig with "key=value" overrides (JSON value or a bare string).
ProbeConfig make_config(const ProbeOptions& o) {
  nlohmann::json j = nlohmann::json::parse(ProbeConfig{}.to_json());
  for (const auto& kv : o.set) {
    const size_t eq = kv.find('=');
    MUSEFM_CHECK(eq != std::string::npos && eq > 0, "--set '", kv, "': expected key=value");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    MUSEFM_CHECK(j.contains(key), "--set: unknown probe config key '", key, "'");
    try {
      j[key] = nlohmann::json::parse(value);
    } catch (const nlohmann::json::exception&) {
      j[key] = value;
    }
  }
  j["device"] = o.device;
  return ProbeConfig::from_json(j.dump());
}

std::map<std::string, ProbeResult> load_results(const std::string& path) {
  std::map<std::string, ProbeResult> out;
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      ProbeResult r = ProbeResult::from_json(line);
      out[r.run_key] = std::move(r);
    } catch (const Error& e) {  // e.g. a line cut short by a crash: that run is redone
      std::fprintf(stderr, "musefm probe: %s:%d: skipped (%s)\n", path.c_str(), n, e.what());
    }
  }
  return out;
}

// A task of the run: its folder, the probes a suite allows on it (empty = every probe) and the
// layers it asks for ("" = --layers).
struct TaskEntry {
  std::string path;
  std::vector<std::string> probes;
  std::string layers;
};

// Task folders of a suite file (configs/probe/suite.json): "tasks" relative to the data root,
// each a folder name or {"name": folder, "probes": ["linear"], "layers": "single", "note": why}.
std::vector<TaskEntry> suite_tasks(const std::string& suite, const std::string& data) {
  std::ifstream in(suite);
  MUSEFM_CHECK(in.good(), "--suite: cannot read '", suite, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    MUSEFM_FAIL(suite, ": not valid JSON: ", e.what());
  }
  MUSEFM_CHECK(j.is_object() && j.contains("tasks") && j["tasks"].is_array() && !j["tasks"].empty(),
               suite, ": expected an object with a non-empty \"tasks\" array of task folder names");
  MUSEFM_CHECK(!data.empty(), "--suite needs --data DIR: the folder holding the suite's tasks (",
               j.value("generate", std::string("see configs/probe/README.md")), ")");
  std::vector<TaskEntry> out;
  for (const auto& t : j["tasks"]) {
    TaskEntry e;
    nlohmann::json name = t;
    if (t.is_object()) {
      for (auto it = t.begin(); it != t.end(); ++it)
        MUSEFM_CHECK(it.key() == "name" || it.key() == "probes" || it.key() == "layers" ||
                         it.key() == "note",
                     suite, ": unknown key '", it.key(),
                     "' in a task entry (name, probes, layers, note)");
      name = t.value("name", nlohmann::json());
      if (t.contains("layers")) {
        MUSEFM_CHECK(t["layers"].is_string() && !t["layers"].get<std::string>().empty(), suite,
                     ": \"layers\" must be a --layers string such as \"single\"");
        e.layers = t["layers"].get<std::string>();
        parse_layers(e.layers, 100);  // checked now, not after hours of work
      }
      if (t.contains("probes")) {
        MUSEFM_CHECK(t["probes"].is_array() && !t["probes"].empty(), suite,
                     ": \"probes\" must be a non-empty list of linear / mlp");
        for (const auto& p : t["probes"]) {
          MUSEFM_CHECK(p == "linear" || p == "mlp", suite, ": probe ", p.dump(),
                       " is not linear or mlp");
          e.probes.push_back(p.get<std::string>());
        }
      }
    }
    MUSEFM_CHECK(name.is_string() && !name.get<std::string>().empty(), suite,
                 ": \"tasks\" entries must be folder names or {\"name\": ...}, got ", t.dump());
    e.path = (fs::path(data) / name.get<std::string>()).string();
    out.push_back(std::move(e));
  }
  return out;
}

// One line per clip left out of the features, for <out>/failures.jsonl.
void log_failures(std::ofstream& log, int& count, const FeatureSource& src, const ProbeTask& task,
                  const char* split, const ProbeFeatures& f) {
  for (const auto& [clip, why] : f.failed) {
    log << nlohmann::json{{"model", src.name()},
                          {"task", task.name},
                          {"split", split},
                          {"audio", task.split(split).items[size_t(clip)].audio},
                          {"line", task.split(split).items[size_t(clip)].line},
                          {"error", why}}
               .dump()
        << "\n"
        << std::flush;
    std::fprintf(stderr, "musefm probe: left out: %s\n", why.c_str());
    ++count;
  }
}

ProbeDataset features_of(const FeatureSource& src, const ProbeTask& task, const ProbeOptions& o) {
  ProbeDataset d;
  ProbeFeatures* dst[] = {&d.train, &d.valid, &d.test};
  const char* names[] = {"train", "valid", "test"};
  const std::string cache = o.cache == "none" ? "" : o.cache;
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<Progress> bar;
    int64_t shown = 0;
    const std::string label = "features " + src.name() + "/" + task.name + "/" + names[i];
    bool cached = false;
    *dst[i] = probe_features(
        src, task, names[i], cache,
        [&](int64_t done, int64_t total, const std::string& what) {
          if (o.quiet) return;
          if (!bar) bar = std::make_unique<Progress>(label, total);
          bar->step(done - shown, fs::path(what).filename().string());
          shown = done;
        },
        &cached);
    if (bar) bar->finish();
    if (cached && !o.quiet) std::fprintf(stderr, "%s: from the cache\n", label.c_str());
  }
  return d;
}

void run_probe_command(ProbeOptions o) {
  if (o.models.empty()) o.models = {"default", "mfcc", "chroma"};  // the shipped model vs baselines
  MUSEFM_CHECK(o.probe == "linear" || o.probe == "mlp" || o.probe == "both", "--probe '", o.probe,
               "' is not linear, mlp or both");
  MUSEFM_CHECK(o.seeds >= 1 && o.seeds <= 1000, "--seeds must be in [1, 1000]");
  if (o.threads > 0) at::set_num_threads(o.threads);
  const ProbeConfig base = make_config(o);
  std::vector<TaskEntry> entries;
  for (const auto& t : o.tasks) entries.push_back({t, {}, ""});
  if (!o.suite.empty())
    for (auto& t : suite_tasks(o.suite, o.data)) entries.push_back(std::move(t));
  std::vector<std::string> task_paths;
  for (const auto& e : entries) task_paths.push_back(e.path);
  MUSEFM_CHECK(!task_paths.empty(),
               "no task: give --task DIR (repeatable) or --suite FILE --data DIR");
  MUSEFM_CHECK(o.data.empty() || !o.suite.empty(), "--data is used with --suite only");
  std::vector<ProbeTask> tasks;
  for (const auto& t : task_paths) tasks.push_back(ProbeTask::load(t));  // all checked up front
  fs::create_directories(o.out);
  const std::string log = (fs::path(o.out) / "results.jsonl").string();
  if (o.overwrite) std::remove(log.c_str());
  std::map<std::string, ProbeResult> done = load_results(log);
  std::ofstream append(log, std::ios::app);
  MUSEFM_CHECK(append.good(), "cannot write '", log, "'");
  {  // what this run was asked to do, for the record
    const nlohmann::json rec = {{"models", o.models},
                                {"tasks", task_paths},
                                {"probe", o.probe},
                                {"layers", o.layers},
                                {"seeds", o.seeds},
                                {"cache", o.cache},
                                {"config", nlohmann::json::parse(base.to_json())}};
    const std::string text = rec.dump(2) + "\n";
    io_detail::AtomicFile f((fs::path(o.out) / "config.json").string());
    f.write(text.data(), text.size());
    f.commit();
  }
  std::vector<std::string> kinds;
  if (o.probe != "mlp") kinds.push_back("linear");
  if (o.probe != "linear") kinds.push_back("mlp");
  std::vector<ProbeResult> results;
  int reused = 0, failed = 0;
  const std::string failures_path = (fs::path(o.out) / "failures.jsonl").string();
  std::ofstream failures(failures_path, std::ios::trunc);  // this run's list
  MUSEFM_CHECK(failures.good(), "cannot write '", failures_path, "'");
  for (const auto& spec : o.models) {
    const FeatureSource src = FeatureSource::open(spec, o.device, o.batch);
    for (const ProbeTask& task : tasks) {
      const ProbeDataset data = features_of(src, task, o);
      log_failures(failures, failed, src, task, "train", data.train);
      log_failures(failures, failed, src, task, "valid", data.valid);
      log_failures(failures, failed, src, task, "test", data.test);
      const int L = int(data.train.x.size(1));
      const TaskEntry& entry = entries[size_t(&task - tasks.data())];
      const std::vector<int> layers =
          parse_layers(entry.layers.empty() ? o.layers : entry.layers, L);
      const std::string ids = source_identity(src, task) + "\n" + task_identity(task);
      const std::vector<std::string>& allowed = entry.probes;
      for (const auto& kind : kinds) {
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
          if (!o.quiet)
            std::fprintf(stderr, "probe %s/%s %s: skipped (the suite runs %s only on this task)\n",
                         src.name().c_str(), task.name.c_str(), kind.c_str(),
                         allowed.front().c_str());
          continue;
        }
        const int seeds = kind == "linear" ? 1 : o.seeds;  // the linear probe is deterministic
        std::unique_ptr<Progress> bar;
        if (!o.quiet)
          bar = std::make_unique<Progress>("probe " + src.name() + "/" + task.name + " " + kind,
                                           int64_t(layers.size()) * seeds);
        for (int layer : layers) {
          for (int seed = 0; seed < seeds; ++seed) {
            ProbeConfig cfg = base;
            cfg.probe = kind;
            cfg.seed = base.seed + uint64_t(seed);
            const std::string key =
                fnv_hex(ids + "\n" + cfg.to_json() + "\n" + std::to_string(layer));
            auto it = done.find(key);
            if (it != done.end()) {
              results.push_back(it->second);
              ++reused;
            } else {
              ProbeResult r;
              r.model = src.name();
              r.model_key = src.key().empty() ? src.spec() : src.key();
              r.task = task.name;
              r.task_type = to_string(task.type);
              r.metrics = task.metrics;
              r.probe = kind;
              r.layer = layer;
              r.num_layers = L;
              r.seed = cfg.seed;
              r.run_key = key;
              r.scores = run_probe(task, data, layer, cfg);
              append << r.to_json() << "\n" << std::flush;
              done[key] = r;
              results.push_back(r);
            }
            if (bar)
              bar->step(1, "layer " + (layer == kWeightedLayers ? std::string("weighted")
                                                                : std::to_string(layer)));
          }
        }
        if (bar) bar->finish();
      }
      write_probe_report(results, o.out);
    }
  }
  write_probe_report(results, o.out);
  if (failed > 0) exit_code() = 1;  // the good clips were probed; the bad ones are listed
  if (o.quiet) return;
  const auto report = nlohmann::json::parse(probe_report_json(results));
  for (const auto& row : report["rows"]) {
    if (!row["best"].get<bool>()) continue;
    const std::string metric = report["tasks"][row["task"].get<std::string>()]["metrics"][0];
    const auto& t = row["test"][metric];
    std::printf("%s / %s / %s: best layer %s: test %s %.4f ± %.4f (valid %.4f)\n",
                row["model"].get<std::string>().c_str(), row["task"].get<std::string>().c_str(),
                row["probe"].get<std::string>().c_str(), row["layer"].dump().c_str(),
                metric.c_str(), t["mean"].is_number() ? t["mean"].get<double>() : NAN,
                t["std"].is_number() ? t["std"].get<double>() : NAN,
                row["valid"][metric]["mean"].is_number()
                    ? row["valid"][metric]["mean"].get<double>()
                    : NAN);
  }
  if (reused > 0) std::printf("%d run(s) reused from %s\n", reused, log.c_str());
  if (failed > 0)
    std::printf("%d clip(s) could not be used and were left out (exit status 1): see %s\n", failed,
                failures_path.c_str());
  std::printf(
      "report: %s/report.md, %s/report.json (plot: tools/plot_probe.py %s/report.json "
      "--out layers.png)\n",
      o.out.c_str(), o.out.c_str(), o.out.c_str());
}
}  // namespace

void add_probe_command(CLI::App& app) {
  auto o = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand(
      "probe",
      "Probe every layer of frozen models on probe tasks (MARBLE protocol; task folders as\n"
      "written by tools/make_probe_data.py, format in configs/probe/README.md).\n"
      "Each model's hidden states are extracted once per clip (or window), mean-pooled and\n"
      "cached (--cache); then per layer and for a learned softmax-weighted sum of layers:\n"
      "  linear  L2 logistic regression (multiclass / per label) or ridge (regression), the L2\n"
      "          strength chosen on the validation split; deterministic, run once\n"
      "  mlp     Linear(H,512)-ReLU-Dropout(0.2)-Linear, Adam, lr in {5e-5..1e-2} chosen on\n"
      "          validation, ReduceLROnPlateau, early stopping; --seeds runs, mean ± std\n"
      "Baselines through the same probes: --model mfcc (HuBERT MFCC mean+std), --model chroma\n"
      "(librosa chroma mean+std). Precomputed embeddings: --model features:DIR holding\n"
      "DIR/<task>/<split>.safetensors ('features' [N, L, H]). Writes <out>/results.jsonl (one\n"
      "line per run; a rerun skips finished runs), <out>/report.json, <out>/report.md and\n"
      "<out>/config.json (the settings); the best layer is marked, chosen on validation.\n"
      "Beat tasks (type beat) are probed frame by frame: every frame is a row, beats are\n"
      "picked from the frame probabilities and scored with mir_eval's beat F-measure.\n"
      "A clip that cannot be decoded is left out, listed in <out>/failures.jsonl and makes the\n"
      "exit status 1; the rest is probed.\n"
      "Examples:\n"
      "  musefm probe --model models/mert-v1-95m --model mfcc --model chroma \\\n"
      "      --suite configs/probe/suite.json --data data/probe --out runs/probe\n"
      "  musefm probe --model models/mert-v1-95m --task data/probe/key --out runs/key\n"
      "  musefm probe --model models/musicfm --task data/probe/tempo --probe linear --layers "
      "0,6,-1 --out runs/p\n"
      "  tools/plot_probe.py runs/probe/report.json --out layers.png");
  cmd->add_option("--model,-m", o->models,
                  "Model dir (config.json + model.safetensors), default (the shipped model\n"
                  "musefm-small), mfcc, chroma or features:DIR (repeatable; none given: default,\n"
                  "mfcc and chroma)");
  cmd->add_option("--task,-t", o->tasks, "Task folder or its task.json (repeatable)");
  cmd->add_option("--suite", o->suite,
                  "Suite file listing task folders (e.g. configs/probe/suite.json); with --data");
  cmd->add_option("--data", o->data, "Folder holding the suite's task folders");
  cmd->add_option("--out,-o", o->out, "Output folder (results.jsonl, report.json, report.md)")
      ->required();
  cmd->add_option("--cache", o->cache,
                  "Feature cache folder, 'none' to disable (default: $MUSEFM_PROBE_CACHE, else "
                  "$XDG_CACHE_HOME/musefm/probe or ~/.cache/musefm/probe)");
  cmd->add_option("--probe", o->probe, "linear, mlp or both")->capture_default_str();
  cmd->add_option("--layers", o->layers,
                  "all (every layer + weighted sum), single (every layer) or a list such as "
                  "0,6,-1,weighted")
      ->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "MLP runs with seeds seed..seed+N-1")->capture_default_str();
  cmd->add_option("--set", o->set,
                  "Override a probe setting: key=value, e.g. max_epochs=50, "
                  "lr_grid=[1e-3], l2_grid=[1], hidden=256, seed=7 (repeatable)");
  cmd->add_option("--device", o->device, "cpu or cuda[:N] (extraction and probes)")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Clips per forward pass when extracting")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)");
  cmd->add_flag("--overwrite", o->overwrite, "Forget earlier results in <out>/results.jsonl");
  cmd->add_flag("--quiet", o->quiet, "No progress bars or summary");
  cmd->callback([o] {
    if (o->cache.empty()) o->cache = default_cache();
    run_probe_command(*o);
  });
}

}  // namespace musefm::cli
