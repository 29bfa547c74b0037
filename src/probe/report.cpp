// Probe results (one line each in results.jsonl) and the report built from them:
// report.json (model x task x probe x layer, mean / std over seeds, best layer marked) and
// report.md. Format notes: include/musefm/probe.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/atomic_file.h"
#include "musefm/probe.h"

namespace musefm {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json layer_json(int layer) { return layer == kWeightedLayers ? json("weighted") : json(layer); }

std::string layer_text(int layer) {
  return layer == kWeightedLayers ? "weighted" : std::to_string(layer);
}

json scores_json(const std::map<std::string, double>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = std::isfinite(v) ? json(v) : json(nullptr);
  return j;
}

std::map<std::string, double> scores_from(const json& j, const std::string& what) {
  MUSEFM_CHECK(j.is_object(), what, " must be an object");
  std::map<std::string, double> m;
  for (auto it = j.begin(); it != j.end(); ++it) {
    MUSEFM_CHECK(it->is_number() || it->is_null(), what, ".", it.key(), " must be a number");
    m[it.key()] = it->is_null() ? kNaN : it->get<double>();
  }
  return m;
}

struct Stat {
  double mean = kNaN, std = kNaN;
  std::vector<double> values;
};

// Mean and sample standard deviation (n - 1; 0 for one value).
Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.values = v;
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
  return s;
}

// One report row: the seeds of one model x task x probe x layer.
struct Row {
  const ProbeResult* first = nullptr;
  std::vector<const ProbeResult*> runs;
  std::map<std::string, Stat> valid, test;
  bool best = false;
};

std::string group_of(const ProbeResult& r) {
  return (r.model_key.empty() ? r.model : r.model_key) + "\n" + r.task + "\n" + r.probe;
}

std::vector<Row> build_rows(const std::vector<ProbeResult>& results) {
  std::vector<Row> rows;
  std::map<std::string, size_t> index;
  for (const auto& r : results) {
    const std::string k = group_of(r) + "\n" + std::to_string(r.layer);
    auto it = index.find(k);
    if (it == index.end()) {
      it = index.emplace(k, rows.size()).first;
      rows.emplace_back();
      rows.back().first = &r;
    }
    rows[it->second].runs.push_back(&r);
  }
  for (auto& row : rows) {
    for (const auto& m : row.first->metrics) {
      std::vector<double> v, t;
      for (const auto* r : row.runs) {
        auto a = r->scores.valid.find(m), b = r->scores.test.find(m);
        if (a != r->scores.valid.end()) v.push_back(a->second);
        if (b != r->scores.test.end()) t.push_back(b->second);
      }
      row.valid[m] = stat_of(v);
      row.test[m] = stat_of(t);
    }
  }
  // Order: groups as they first appear, layers ascending, the weighted sum last.
  std::map<std::string, size_t> group_order;
  for (const auto& row : rows) group_order.emplace(group_of(*row.first), group_order.size());
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    const size_t ga = group_order[group_of(*a.first)], gb = group_order[group_of(*b.first)];
    if (ga != gb) return ga < gb;
    const auto rank = [](int l) {
      return l == kWeightedLayers ? std::numeric_limits<int>::max() : l;
    };
    return rank(a.first->layer) < rank(b.first->layer);
  });
  // Best layer of each group: the highest mean validation score of the first metric.
  std::map<std::string, size_t> best;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string g = group_of(*rows[i].first);
    const double v = rows[i].valid[rows[i].first->metrics.at(0)].mean;
    auto it = best.find(g);
    if (std::isfinite(v) &&
        (it == best.end() || v > rows[it->second].valid[rows[i].first->metrics.at(0)].mean))
      best[g] = i;
  }
  for (const auto& [g, i] : best) rows[i].best = true;
  return rows;
}

json stats_json(const std::map<std::string, Stat>& m) {
  json j = json::object();
  for (const auto& [k, s] : m) {
    const auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
    json values = json::array();
    for (double x : s.values) values.push_back(num(x));
    j[k] = {{"mean", num(s.mean)}, {"std", num(s.std)}, {"values", values}};
  }
  return j;
}

std::string pct(const Stat& s) {
  if (!std::isfinite(s.mean)) return "–";
  char t[64];
  std::snprintf(t, sizeof t, "%.1f ± %.1f", 100 * s.mean, 100 * (std::isfinite(s.std) ? s.std : 0));
  return t;
}
}  // namespace

std::string ProbeResult::to_json() const {
  const json j = {{"model", model},
                  {"model_key", model_key},
                  {"task", task},
                  {"task_type", task_type},
                  {"metrics", metrics},
                  {"probe", probe},
                  {"layer", layer_json(layer)},
                  {"num_layers", num_layers},
                  {"seed", seed},
                  {"run_key", run_key},
                  {"valid", scores_json(scores.valid)},
                  {"test", scores_json(scores.test)},
                  {"selected", scores.selected},
                  {"layer_weights", scores.layer_weights},
                  {"epochs", scores.epochs}};
  return j.dump();
}

ProbeResult ProbeResult::from_json(const std::string& text) {
  ProbeResult r;
  try {
    const json j = json::parse(text);
    r.model = j.at("model").get<std::string>();
    r.model_key = j.at("model_key").get<std::string>();
    r.task = j.at("task").get<std::string>();
    r.task_type = j.at("task_type").get<std::string>();
    r.metrics = j.at("metrics").get<std::vector<std::string>>();
    r.probe = j.at("probe").get<std::string>();
    const json& l = j.at("layer");
    r.layer = l.is_string() && l.get<std::string>() == "weighted" ? kWeightedLayers : l.get<int>();
    r.num_layers = j.at("num_layers").get<int>();
    r.seed = j.at("seed").get<uint64_t>();
    r.run_key = j.at("run_key").get<std::string>();
    r.scores.valid = scores_from(j.at("valid"), "probe result: valid");
    r.scores.test = scores_from(j.at("test"), "probe result: test");
    r.scores.selected = j.at("selected").get<std::string>();
    r.scores.layer_weights = j.at("layer_weights").get<std::vector<double>>();
    r.scores.epochs = j.at("epochs").get<int>();
  } catch (const json::exception& e) {
    MUSEFM_FAIL("probe result: ", e.what());
  }
  MUSEFM_CHECK(!r.metrics.empty(), "probe result: 'metrics' is empty");
  return r;
}

std::string probe_report_json(const std::vector<ProbeResult>& results) {
  const std::vector<Row> rows = build_rows(results);
  json tasks = json::object(), out_rows = json::array();
  for (const auto& row : rows) {
    const ProbeResult& r = *row.first;
    tasks[r.task] = {{"type", r.task_type}, {"metrics", r.metrics}};
    json selected = json::array(), seeds = json::array(), weights = json::array();
    for (const auto* x : row.runs) {
      selected.push_back(x->scores.selected);
      seeds.push_back(x->seed);
      if (!x->scores.layer_weights.empty()) weights.push_back(x->scores.layer_weights);
    }
    out_rows.push_back({{"model", r.model},
                        {"model_key", r.model_key},
                        {"task", r.task},
                        {"probe", r.probe},
                        {"layer", layer_json(r.layer)},
                        {"num_layers", r.num_layers},
                        {"seeds", seeds},
                        {"best", row.best},
                        {"valid", stats_json(row.valid)},
                        {"test", stats_json(row.test)},
                        {"selected", selected},
                        {"layer_weights", weights}});
  }
  const json j = {{"format", "musefm-probe-report-1"},
                  {"selection",
                   "best = the layer (or weighted sum) with the highest mean validation score of "
                   "the task's first metric, per model x task x probe"},
                  {"std",
                   "sample standard deviation over seeds (0 for one run; linear probes are "
                   "deterministic and run once)"},
                  {"tasks", tasks},
                  {"rows", out_rows}};
  return j.dump(2) + "\n";
}

std::string probe_report_markdown(const std::vector<ProbeResult>& results) {
  const std::vector<Row> rows = build_rows(results);
  std::ostringstream md;
  md << "# Probe report\n\nScores x 100 on the **test** split, mean ± standard deviation over "
        "seeds. ◀ marks the best layer of each model × task × probe, chosen by the task's first "
        "metric on the **validation** split (its mean is in the last column). Linear probes are "
        "deterministic and run once.\n";
  std::vector<std::string> tasks, columns;  // columns: "model\nprobe" as they first appear
  for (const auto& row : rows) {
    if (std::find(tasks.begin(), tasks.end(), row.first->task) == tasks.end())
      tasks.push_back(row.first->task);
    const std::string col = row.first->model + "\n" + row.first->probe;
    if (std::find(columns.begin(), columns.end(), col) == columns.end()) columns.push_back(col);
  }
  // Summary: the best layer's test score of each model x probe, per task (its first metric).
  md << "\n## Summary\n\nTest score of the best layer (chosen on validation; L = layer, W = "
        "weighted sum of layers) on each task's first metric.\n\n| task | metric |";
  for (const auto& col : columns) {
    const size_t nl = col.find('\n');
    md << " " << col.substr(0, nl) << " " << col.substr(nl + 1) << " |";
  }
  md << "\n|---|---|";
  for (size_t i = 0; i < columns.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& task : tasks) {
    std::string metric;
    std::map<std::string, const Row*> best;
    for (const auto& row : rows) {
      if (row.first->task != task) continue;
      metric = row.first->metrics.at(0);
      if (row.best) best[row.first->model + "\n" + row.first->probe] = &row;
    }
    md << "| " << task << " | " << metric << " |";
    for (const auto& col : columns) {
      auto it = best.find(col);
      if (it == best.end()) {
        md << " – |";
        continue;
      }
      const int l = it->second->first->layer;
      md << " " << pct(it->second->test.at(metric)) << " ("
         << (l == kWeightedLayers ? std::string("W") : "L" + std::to_string(l)) << ") |";
    }
    md << "\n";
  }
  for (const auto& task : tasks) {
    const Row* any = nullptr;
    for (const auto& row : rows)
      if (row.first->task == task) any = any ? any : &row;
    const auto& metrics = any->first->metrics;
    md << "\n## " << task << " (" << any->first->task_type << "; selection: " << metrics[0]
       << " on valid)\n\n| model | probe | layer | seeds |";
    for (const auto& m : metrics) md << " " << m << " |";
    md << " valid " << metrics[0] << " |\n|---|---|---|---|";
    for (size_t i = 0; i <= metrics.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& row : rows) {
      if (row.first->task != task) continue;
      const ProbeResult& r = *row.first;
      md << "| " << r.model << " | " << r.probe << " | "
         << (row.best ? "**" + layer_text(r.layer) + "** ◀" : layer_text(r.layer)) << " | "
         << row.runs.size() << " |";
      for (const auto& m : metrics) md << " " << pct(row.test.at(m)) << " |";
      md << " " << pct(row.valid.at(metrics[0])) << " |\n";
    }
  }
  return md.str();
}

void write_probe_report(const std::vector<ProbeResult>& results, const std::string& out_dir) {
  fs::create_directories(out_dir);
  for (const auto& [name, text] : {std::pair{"report.json", probe_report_json(results)},
                                   std::pair{"report.md", probe_report_markdown(results)}}) {
    io_detail::AtomicFile f((fs::path(out_dir) / name).string());
    f.write(text.data(), text.size());
    f.commit();
  }
}

}  // namespace musefm
