// ProbeTask: task.json and the split label files of a probe task folder
// (configs/probe/README.md), checked line by line.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/json_fields.h"
#include "musefm/metrics.h"
#include "musefm/probe.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* const kSplitNames[] = {"train", "valid", "test"};

std::string read_file_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot open ", what, " '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProbeTaskType parse_type(const std::string& where, const std::string& t) {
  if (t == "multiclass") return ProbeTaskType::Multiclass;
  if (t == "multilabel") return ProbeTaskType::Multilabel;
  if (t == "regression") return ProbeTaskType::Regression;
  if (t == "beat") return ProbeTaskType::Beat;
  MUSEFM_FAIL(where, ": key 'type': '", t, "' is not multiclass, multilabel, regression or beat");
}

std::vector<std::string> split_on(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::stringstream ss(text);
  while (std::getline(ss, item, sep)) out.push_back(item);
  if (!text.empty() && text.back() == sep) out.emplace_back();
  return out;
}

void check_metrics(const std::string& where, const ProbeTask& t) {
  static const std::map<ProbeTaskType, std::set<std::string>> allowed = {
      {ProbeTaskType::Multiclass, {"accuracy", "macro_f1", "mirex_key", "roc_auc"}},
      {ProbeTaskType::Multilabel, {"roc_auc", "pr_auc"}},
      {ProbeTaskType::Regression, {"r2"}},
      {ProbeTaskType::Beat, {"beat_f1"}}};
  MUSEFM_CHECK(!t.metrics.empty(), where, ": key 'metrics' is empty");
  std::set<std::string> seen;
  for (const auto& m : t.metrics) {
    const auto& ok = allowed.at(t.type);
    if (!ok.count(m)) {
      std::string list;
      for (const auto& a : ok) list += (list.empty() ? "" : ", ") + a;
      MUSEFM_FAIL(where, ": metric '", m, "' does not apply to a ", to_string(t.type),
                  " task (use ", list, ")");
    }
    MUSEFM_CHECK(seen.insert(m).second, where, ": metric '", m, "' is listed twice");
    if (m == "mirex_key") {
      for (const auto& l : t.labels) {
        try {
          key_index(l);
        } catch (const Error&) {
          MUSEFM_FAIL(where, ": metric 'mirex_key' needs key labels such as 'C major'; '", l,
                      "' is not one");
        }
      }
    }
  }
}

void check_labels(const std::string& where, const ProbeTask& t) {
  MUSEFM_CHECK(!t.labels.empty(), where, ": key 'labels' is empty");
  if (t.type == ProbeTaskType::Multiclass)
    MUSEFM_CHECK(t.labels.size() >= 2, where, ": a multiclass task needs at least 2 labels");
  if (t.type == ProbeTaskType::Beat)
    MUSEFM_CHECK(t.labels.size() == 1, where,
                 ": a beat task has one label (the event, e.g. [\"beat\"]), got ", t.labels.size());
  std::set<std::string> seen;
  for (const auto& l : t.labels) {
    MUSEFM_CHECK(!l.empty() && l.find('\t') == std::string::npos &&
                     l.find(',') == std::string::npos && l.find('\n') == std::string::npos,
                 where, ": label '", l, "' is empty or holds a TAB, ',' or line break");
    MUSEFM_CHECK(seen.insert(l).second, where, ": label '", l, "' is listed twice");
  }
}

void read_mode(const std::string& where, const json& j, ProbeTask& t) {
  detail::JsonFields f(j, where + ": key 'mode'");
  std::string kind;
  f.get("kind", kind);
  f.get("window_s", t.window_s);
  f.get("hop_s", t.hop_s);
  f.reject_unknown();
  MUSEFM_CHECK(kind == "clip" || kind == "window", where, ": mode.kind '", kind,
               "' is not clip or window");
  t.mode = kind;
  if (kind == "window") {
    if (t.hop_s == 0.0) t.hop_s = t.window_s;
    MUSEFM_CHECK(std::isfinite(t.window_s) && t.window_s > 0 && t.window_s <= 3600, where,
                 ": mode.window_s must be in (0, 3600] seconds, got ", t.window_s);
    MUSEFM_CHECK(std::isfinite(t.hop_s) && t.hop_s > 0 && t.hop_s <= 3600, where,
                 ": mode.hop_s must be in (0, 3600] seconds, got ", t.hop_s);
  } else {
    MUSEFM_CHECK(t.window_s == 0 && t.hop_s == 0, where,
                 ": mode.window_s / hop_s apply to kind 'window' only");
  }
}

// The whole of `v` as a number; NaN when it is not one (or empty).
double parse_number(const std::string& v) {
  size_t used = 0;
  double x = std::nan("");
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    return std::nan("");
  }
  return used == v.size() ? x : std::nan("");
}

// One row's label field -> classes / values.
void parse_label(const ProbeTask& t, const std::map<std::string, int>& index, const std::string& at,
                 const std::string& field, ProbeItem& item) {
  if (t.type == ProbeTaskType::Multiclass) {
    auto it = index.find(field);
    MUSEFM_CHECK(it != index.end(), at, ": unknown label '", field, "' (not in task.json labels)");
    item.classes.push_back(it->second);
  } else if (t.type == ProbeTaskType::Multilabel) {
    if (field.empty()) return;
    std::set<int> seen;
    for (const auto& name : split_on(field, ',')) {
      auto it = index.find(name);
      MUSEFM_CHECK(it != index.end(), at, ": unknown label '", name, "' (not in task.json labels)");
      if (seen.insert(it->second).second) item.classes.push_back(it->second);
    }
  } else if (t.type == ProbeTaskType::Beat) {
    std::stringstream ss(field);  // beat times in seconds, separated by spaces
    std::string v;
    while (ss >> v) {
      const double x = parse_number(v);
      MUSEFM_CHECK(std::isfinite(x) && x >= 0, at, ": beat time '", v,
                   "' is not a number of seconds >= 0");
      MUSEFM_CHECK(item.values.empty() || x >= item.values.back(), at,
                   ": beat times must not decrease ('", v, "' after ", item.values.back(), ")");
      item.values.push_back(x);
    }
  } else {
    for (const auto& v : split_on(field, ',')) {
      const double x = parse_number(v);
      MUSEFM_CHECK(std::isfinite(x), at, ": '", v, "' is not a finite number");
      item.values.push_back(x);
    }
    MUSEFM_CHECK(item.values.size() == t.labels.size(), at, ": ", item.values.size(),
                 " value(s), the task has ", t.labels.size(), " regression target(s)");
  }
}

ProbeSplit read_split(const ProbeTask& t, const std::string& name, const std::string& file,
                      bool check_audio) {
  ProbeSplit s;
  s.name = name;
  s.file = file;
  std::map<std::string, int> index;
  for (size_t i = 0; i < t.labels.size(); ++i) index[t.labels[i]] = int(i);
  std::ifstream in(file, std::ios::binary);
  MUSEFM_CHECK(in.good(), "task '", t.name, "': cannot open the ", name, " label file '", file,
               "'");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string at = file + ":" + std::to_string(n);
    if (n == 1) {
      MUSEFM_CHECK(line == "path\tlabel", at, ": expected the header 'path<TAB>label'");
      continue;
    }
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    MUSEFM_CHECK(tab != std::string::npos && line.find('\t', tab + 1) == std::string::npos, at,
                 ": expected 'path<TAB>label'");
    const std::string rel = line.substr(0, tab);
    MUSEFM_CHECK(!rel.empty(), at, ": empty audio path");
    ProbeItem item;
    item.line = n;
    item.audio = fs::path(rel).is_absolute() ? rel : (fs::path(t.dir) / rel).string();
    parse_label(t, index, at, line.substr(tab + 1), item);
    if (check_audio) {
      std::error_code ec;
      MUSEFM_CHECK(fs::is_regular_file(item.audio, ec), at, ": audio file '", item.audio,
                   "' does not exist");
    }
    s.items.push_back(std::move(item));
  }
  MUSEFM_CHECK(n >= 1, file, ": empty label file (expected the header 'path<TAB>label')");
  MUSEFM_CHECK(!s.items.empty(), "task '", t.name, "': the ", name, " split is empty (", file,
               " lists no clips)");
  return s;
}
}  // namespace

std::string to_string(ProbeTaskType type) {
  switch (type) {
    case ProbeTaskType::Multiclass:
      return "multiclass";
    case ProbeTaskType::Multilabel:
      return "multilabel";
    case ProbeTaskType::Regression:
      return "regression";
    case ProbeTaskType::Beat:
      return "beat";
  }
  return "?";
}

ProbeTask ProbeTask::load(const std::string& path, bool check_audio) {
  std::error_code ec;
  const fs::path spec = fs::is_directory(path, ec) ? fs::path(path) / "task.json" : fs::path(path);
  const std::string where = spec.string();
  const std::string text = read_file_text(where, "task spec");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    MUSEFM_FAIL(where, ": invalid JSON: ", e.what());
  }
  MUSEFM_CHECK(j.is_object(), where, ": expected a JSON object");
  ProbeTask t;
  t.dir = spec.parent_path().empty() ? std::string(".") : spec.parent_path().string();
  static const std::set<std::string> known = {"name",    "type",        "labels", "splits",
                                              "metrics", "sample_rate", "mode",   "source"};
  for (auto it = j.begin(); it != j.end(); ++it)
    MUSEFM_CHECK(known.count(it.key()), where, ": unknown key '", it.key(),
                 "' (known keys: name, type, labels, splits, mode, metrics, sample_rate, source)");
  json simple = j;
  for (const char* k : {"splits", "mode", "source"}) simple.erase(k);
  detail::JsonFields f(simple, where);
  std::string type;
  f.get("name", t.name);
  f.get("type", type);
  f.get("labels", t.labels);
  f.get("metrics", t.metrics);
  f.get("sample_rate", t.sample_rate);
  f.reject_unknown();
  for (const char* k : {"name", "type", "labels", "splits", "metrics"})
    MUSEFM_CHECK(j.contains(k), where, ": key '", k, "' is missing");
  MUSEFM_CHECK(
      !t.name.empty() && t.name.find('/') == std::string::npos && t.name != "." && t.name != "..",
      where, ": key 'name' must be a non-empty folder-safe name, got '", t.name, "'");
  t.type = parse_type(where, type);
  MUSEFM_CHECK(t.sample_rate >= 0, where, ": key 'sample_rate' must be positive");
  check_labels(where, t);
  check_metrics(where, t);
  if (j.contains("mode")) read_mode(where, j["mode"], t);
  MUSEFM_CHECK(t.type != ProbeTaskType::Beat || t.mode == "clip", where,
               ": a beat task is probed frame by frame over whole clips: mode.kind must be clip");

  const json& splits = j["splits"];
  MUSEFM_CHECK(splits.is_object(), where, ": key 'splits' must be an object {split: file}");
  for (auto it = splits.begin(); it != splits.end(); ++it) {
    const std::string& k = it.key();
    MUSEFM_CHECK(k == "train" || k == "valid" || k == "test", where, ": splits: unknown split '", k,
                 "' (expected train, valid, test)");
    MUSEFM_CHECK(it->is_string() && !it->get<std::string>().empty(), where, ": splits.", k,
                 " must be a file name");
  }
  for (const char* name : kSplitNames) {
    MUSEFM_CHECK(splits.contains(name), where, ": splits: the '", name,
                 "' split is missing (train, valid and test are needed)");
    const std::string rel = splits[name].get<std::string>();
    const std::string file = fs::path(rel).is_absolute() ? rel : (fs::path(t.dir) / rel).string();
    t.splits.push_back(read_split(t, name, file, check_audio));
  }
  return t;
}

const ProbeSplit& ProbeTask::split(const std::string& name) const {
  for (const auto& s : splits)
    if (s.name == name) return s;
  MUSEFM_FAIL("task '", this->name, "': no split '", name, "' (train, valid, test)");
}

}  // namespace musefm
