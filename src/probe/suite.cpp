// run_probe_suite() (musefm/probe.h): MARBLE-protocol probes of every layer of one or more
// feature sources on probe task folders; features cached on disk, results appended to
// <out>/results.jsonl (reruns skip finished runs), report.json + report.md written as tasks
// finish, the clips left out in <out>/failures.jsonl and the settings in <out>/config.json.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hash.h"
#include "core/strings.h"
#include "io/atomic_file.h"
#include "musefm/probe.h"

namespace musefm {
namespace fs = std::filesystem;
using detail::fnv1a64_hex;

namespace {

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
  return fnv1a64_hex(id);
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
  return fnv1a64_hex(id);
}

std::map<std::string, ProbeResult> load_results(const std::string& path,
                                                const ProgressCallbacks& cb) {
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
      cb.on_log(LogLevel::Warning, path + ":" + std::to_string(n) + ": skipped (" + e.what() + ")");
    }
  }
  return out;
}

// A task entry of a suite file: a folder name or {"name", "probes", "layers", "note"}.
ProbeSuiteTask suite_task(const nlohmann::json& t, const std::string& suite,
                          const std::string& data) {
  ProbeSuiteTask e;
  nlohmann::json name = t;
  if (t.is_object()) {
    for (auto it = t.begin(); it != t.end(); ++it)
      MUSEFM_CHECK(
          it.key() == "name" || it.key() == "probes" || it.key() == "layers" || it.key() == "note",
          suite, ": unknown key '", it.key(), "' in a task entry (name, probes, layers, note)");
    name = t.value("name", nlohmann::json());
    if (t.contains("layers")) {
      MUSEFM_CHECK(t["layers"].is_string() && !t["layers"].get<std::string>().empty(), suite,
                   ": \"layers\" must be a --layers string such as \"single\"");
      e.layers = t["layers"].get<std::string>();
      parse_probe_layers(e.layers, 100);  // checked now, not after hours of work
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
  return e;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  io_detail::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

// One suite run: what it was asked, what earlier runs left, what it appends.
class SuiteRun {
 public:
  SuiteRun(const ProbeSuiteOptions& o, const ProgressCallbacks& cb) : o_(o), cb_(cb) {}

  ProbeSuiteResult run(const std::vector<ProbeTask>& tasks) {
    open_logs();
    for (const auto& spec : o_.models) {
      const FeatureSource src =
          FeatureSource::open(spec, o_.config.device, o_.batch, o_.precision, o_.pool);
      for (size_t i = 0; i < tasks.size(); ++i) {
        run_task(src, tasks[i], o_.tasks[i]);
        write_probe_report(r_.results, o_.out);
      }
    }
    write_probe_report(r_.results, o_.out);
    return std::move(r_);
  }

 private:
  void open_logs() {
    fs::create_directories(o_.out);
    r_.results_path = (fs::path(o_.out) / "results.jsonl").string();
    if (o_.overwrite) std::remove(r_.results_path.c_str());
    done_ = load_results(r_.results_path, cb_);
    append_.open(r_.results_path, std::ios::app);
    MUSEFM_CHECK(append_.good(), "cannot write '", r_.results_path, "'");
    std::vector<std::string> paths;
    for (const auto& t : o_.tasks) paths.push_back(t.path);
    const nlohmann::json rec = {{"models", o_.models},
                                {"tasks", paths},
                                {"probe", o_.probe},
                                {"layers", o_.layers},
                                {"seeds", o_.seeds},
                                {"cache", o_.cache},
                                {"precision", to_string(o_.precision)},
                                {"pool", to_string(o_.pool)},
                                {"config", nlohmann::json::parse(o_.config.to_json())}};
    write_text_atomically((fs::path(o_.out) / "config.json").string(), rec.dump(2) + "\n");
    r_.failures_path = (fs::path(o_.out) / "failures.jsonl").string();
    failures_.open(r_.failures_path, std::ios::trunc);  // this run's list
    MUSEFM_CHECK(failures_.good(), "cannot write '", r_.failures_path, "'");
  }

  // One line per clip left out of the features, for <out>/failures.jsonl.
  void log_failures(const FeatureSource& src, const ProbeTask& task, const char* split,
                    const ProbeFeatures& f) {
    for (const auto& [clip, why] : f.failed) {
      failures_ << nlohmann::json{{"model", src.name()},
                                  {"task", task.name},
                                  {"split", split},
                                  {"audio", task.split(split).items[size_t(clip)].audio},
                                  {"line", task.split(split).items[size_t(clip)].line},
                                  {"error", why}}
                       .dump()
                << "\n"
                << std::flush;
      cb_.on_log(LogLevel::Warning, "left out: " + why);
      ++r_.failed_clips;
    }
  }

  ProbeDataset features_of(const FeatureSource& src, const ProbeTask& task) {
    ProbeDataset d;
    ProbeFeatures* dst[] = {&d.train, &d.valid, &d.test};
    const char* names[] = {"train", "valid", "test"};
    const std::string cache = o_.cache == "none" ? "" : o_.cache;
    for (int i = 0; i < 3; ++i) {
      bool begun = false, cached = false;
      int64_t shown = 0;
      const std::string label = "features " + src.name() + "/" + task.name + "/" + names[i];
      *dst[i] = probe_features(
          src, task, names[i], cache,
          [&](int64_t done, int64_t total, const std::string& what) {
            if (!begun) cb_.on_begin(label, total), begun = true;
            cb_.on_step(done - shown, fs::path(what).filename().string());
            shown = done;
          },
          &cached);
      if (begun) cb_.on_end();
      if (cached) cb_.on_log(LogLevel::Info, label + ": from the cache");
    }
    for (int i = 0; i < 3; ++i) log_failures(src, task, names[i], *dst[i]);
    return d;
  }

  void run_task(const FeatureSource& src, const ProbeTask& task, const ProbeSuiteTask& entry) {
    const ProbeDataset data = features_of(src, task);
    const int L = int(data.train.x.size(1));
    const std::vector<int> layers =
        parse_probe_layers(entry.layers.empty() ? o_.layers : entry.layers, L);
    const std::string ids = source_identity(src, task) + "\n" + task_identity(task);
    for (const char* kind : {"linear", "mlp"}) {
      if (o_.probe != "both" && o_.probe != kind) continue;
      const auto& allowed = entry.probes;
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
        cb_.on_log(LogLevel::Info, "probe " + src.name() + "/" + task.name + " " + kind +
                                       ": skipped (the suite runs " + allowed.front() +
                                       " only on this task)");
        continue;
      }
      const int seeds = std::string(kind) == "linear" ? 1 : o_.seeds;  // linear: deterministic
      cb_.on_begin("probe " + src.name() + "/" + task.name + " " + kind,
                   int64_t(layers.size()) * seeds);
      for (int layer : layers) {
        for (int seed = 0; seed < seeds; ++seed) {
          ProbeConfig cfg = o_.config;
          cfg.probe = parse_enum<ProbeKind>(kind, "probe");
          cfg.seed = o_.config.seed + uint64_t(seed);
          r_.results.push_back(probe_once(src, task, data, ids, cfg, layer, L));
          cb_.on_step(1, "layer " + (layer == kWeightedLayers ? std::string("weighted")
                                                              : std::to_string(layer)));
        }
      }
      cb_.on_end();
    }
  }

  // One (layer, seed) run: from results.jsonl when an earlier run finished it, else trained.
  ProbeResult probe_once(const FeatureSource& src, const ProbeTask& task, const ProbeDataset& data,
                         const std::string& ids, const ProbeConfig& cfg, int layer, int L) {
    const std::string key = fnv1a64_hex(ids + "\n" + cfg.to_json() + "\n" + std::to_string(layer));
    if (auto it = done_.find(key); it != done_.end()) {
      ++r_.reused;
      return it->second;
    }
    ProbeResult r;
    r.model = src.name();
    r.model_key = src.key().empty() ? src.spec() : src.key();
    r.task = task.name;
    r.task_type = to_string(task.type);
    r.metrics = task.metrics;
    r.probe = to_string(cfg.probe);
    r.layer = layer;
    r.num_layers = L;
    r.seed = cfg.seed;
    r.run_key = key;
    r.scores = run_probe(task, data, layer, cfg);
    append_ << r.to_json() << "\n" << std::flush;
    done_[key] = r;
    ++r_.computed;
    return r;
  }

  const ProbeSuiteOptions& o_;
  const ProgressCallbacks& cb_;
  std::map<std::string, ProbeResult> done_;
  std::ofstream append_, failures_;
  ProbeSuiteResult r_;
};

}  // namespace

std::vector<int> parse_probe_layers(const std::string& spec, int count) {
  std::vector<int> out;
  if (spec == "all" || spec == "single") {
    for (int i = 0; i < count; ++i) out.push_back(i);
    if (count > 1 && spec == "all") out.push_back(kWeightedLayers);
    return out;
  }
  for (const std::string& item : detail::split_list(spec)) {
    if (item == "weighted") {
      if (count > 1) out.push_back(kWeightedLayers);
      continue;
    }
    int v = 0;
    MUSEFM_CHECK(detail::parse_number(item, v), "--layers: '", item,
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

std::vector<ProbeSuiteTask> read_probe_suite(const std::string& suite, const std::string& data) {
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
  std::vector<ProbeSuiteTask> out;
  for (const auto& t : j["tasks"]) out.push_back(suite_task(t, suite, data));
  return out;
}

ProbeSuiteResult run_probe_suite(ProbeSuiteOptions o, const ProgressCallbacks& progress) {
  if (o.models.empty()) o.models = {"default", "mfcc", "chroma"};  // the shipped model vs baselines
  MUSEFM_CHECK(o.probe == "linear" || o.probe == "mlp" || o.probe == "both", "--probe '", o.probe,
               "' is not linear, mlp or both");
  MUSEFM_CHECK(o.seeds >= 1 && o.seeds <= 1000, "--seeds must be in [1, 1000]");
  MUSEFM_CHECK(!o.tasks.empty(), "run_probe_suite: no task given");
  MUSEFM_CHECK(!o.out.empty(), "run_probe_suite: no output folder given");
  o.config.validate();
  std::vector<ProbeTask> tasks;
  for (const auto& t : o.tasks) tasks.push_back(ProbeTask::load(t.path));  // all checked up front
  return SuiteRun(o, progress).run(tasks);
}

std::string default_probe_cache() {
  if (const char* c = std::getenv("MUSEFM_PROBE_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return (fs::path(x) / "musefm" / "probe").string();
  if (const char* h = std::getenv("HOME"); h && *h)
    return (fs::path(h) / ".cache" / "musefm" / "probe").string();
  return "musefm-probe-cache";
}

std::string probe_suite_summary(const ProbeSuiteResult& r, const std::string& out) {
  using detail::format;
  const auto report = nlohmann::json::parse(probe_report_json(r.results));
  const auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
  std::string text;
  for (const auto& row : report["rows"]) {
    if (!row["best"].get<bool>()) continue;
    const std::string metric = report["tasks"][row["task"].get<std::string>()]["metrics"][0];
    const auto& t = row["test"][metric];
    text +=
        format("%s / %s / %s: best layer %s: test %s %.4f ± %.4f (valid %.4f)\n",
               row["model"].get<std::string>().c_str(), row["task"].get<std::string>().c_str(),
               row["probe"].get<std::string>().c_str(), row["layer"].dump().c_str(), metric.c_str(),
               number(t["mean"]), number(t["std"]), number(row["valid"][metric]["mean"]));
  }
  if (r.reused > 0) text += format("%d run(s) reused from %s\n", r.reused, r.results_path.c_str());
  if (r.failed_clips > 0)
    text += format("%d clip(s) could not be used and were left out (exit status 1): see %s\n",
                   r.failed_clips, r.failures_path.c_str());
  return text + format(
                    "report: %s/report.md, %s/report.json (plot: tools/plot_probe.py "
                    "%s/report.json --out layers.png)\n",
                    out.c_str(), out.c_str(), out.c_str());
}

}  // namespace musefm
