#include "support/probe_support.h"

#include <ftw.h>
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/test_support.h"

namespace musefm::test {
namespace fs = std::filesystem;

namespace {
// POSIX removal: std::filesystem::remove_all may bind to libtorch's exported copy, which crashes.
void remove_tree(const std::string& dir) {
  ::nftw(
      dir.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
      16, FTW_DEPTH | FTW_PHYS);
}
}  // namespace

void write_task(const std::string& dir, const std::string& body,
                const std::map<std::string, std::vector<std::string>>& labels, double seconds,
                double (*tone_hz)(const std::string&)) {
  remove_tree(dir);
  fs::create_directories(dir);
  std::string splits;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  const int rate = 24000;
  for (const auto& [split, rows] : labels) {
    splits += std::string(splits.empty() ? "" : ", ") + "\"" + split + "\": \"" + split + ".tsv\"";
    fs::create_directories(dir + "/audio/" + split);
    std::ofstream tsv(dir + "/" + split + ".tsv");
    tsv << "path\tlabel\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::string rel = "audio/" + split + "/" + std::to_string(i) + ".wav";
      tsv << rel << "\t" << rows[i] << "\n";
      const double hz = tone_hz ? tone_hz(rows[i]) : 440.0;
      std::vector<float> x(size_t(seconds * rate));
      for (size_t k = 0; k < x.size(); ++k)
        x[k] = float(0.3 * std::sin(2 * M_PI * hz * double(k) / rate + double(i))) + noise(rng);
      write_sndfile(dir + "/" + rel, x, 1, rate, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    }
  }
  std::ofstream(dir + "/task.json")
      << "{\"name\": \"t\", " << body << ", \"splits\": {" << splits << "}}\n";
}

void write_beat_task(const std::string& dir, const std::map<std::string, int>& clips,
                     double seconds) {
  remove_tree(dir);
  fs::create_directories(dir);
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const int rate = 24000;
  for (const auto& [split, n] : clips) {
    fs::create_directories(dir + "/audio/" + split);
    std::ofstream tsv(dir + "/" + split + ".tsv");
    tsv << "path\tlabel\n";
    for (int i = 0; i < n; ++i) {
      const std::string rel = "audio/" + split + "/" + std::to_string(i) + ".wav";
      const double period = 60.0 / (80.0 + 80.0 * uni(rng));
      std::vector<float> x(size_t(seconds * rate));
      for (float& v : x) v = noise(rng);
      std::string beats;
      for (double t = period * uni(rng); t < seconds - 0.05; t += period) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.4f", beats.empty() ? "" : " ", t);
        beats += b;
        const size_t start = size_t(std::llround(t * rate));
        for (size_t k = 0; k < size_t(0.02 * rate) && start + k < x.size(); ++k)
          x[start + k] += float(0.5 * std::exp(-double(k) / (0.004 * rate)) *
                                std::sin(2 * M_PI * 1000.0 * double(k) / rate));
      }
      tsv << rel << "\t" << beats << "\n";
      write_sndfile(dir + "/" + rel, x, 1, rate, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    }
  }
  std::ofstream(dir + "/task.json")
      << R"({"name": "beat", "type": "beat", "labels": ["beat"], "metrics": ["beat_f1"],
            "splits": {"train": "train.tsv", "valid": "valid.tsv", "test": "test.tsv"}})"
      << "\n";
}

namespace {
ProbeTask empty_task(ProbeTaskType type, int n, const std::vector<std::string>& metrics) {
  ProbeTask t;
  t.name = "synthetic";
  t.dir = ".";
  t.type = type;
  for (int i = 0; i < n; ++i) t.labels.push_back("c" + std::to_string(i));
  t.metrics = metrics;
  for (const char* s : {"train", "valid", "test"}) {
    t.splits.emplace_back();
    t.splits.back().name = s;
    t.splits.back().file = std::string(s) + ".tsv";
  }
  return t;
}
}  // namespace

ProbeTask synthetic_task(int num_classes, const std::vector<int>& sizes) {
  ProbeTask t = empty_task(ProbeTaskType::Multiclass, num_classes, {"accuracy", "macro_f1"});
  for (size_t s = 0; s < 3; ++s) {
    for (int i = 0; i < sizes[s]; ++i) {
      ProbeItem item;
      item.line = i + 2;
      item.classes = {i % num_classes};
      t.splits[s].items.push_back(item);
    }
  }
  return t;
}

ProbeTask labelled_task(ProbeTaskType type, int num_outputs,
                        const std::vector<std::string>& metrics, const nlohmann::json& labels) {
  ProbeTask t = empty_task(type, num_outputs, metrics);
  for (auto& split : t.splits) {
    int line = 2;
    for (const auto& row : labels.at(split.name)) {
      ProbeItem item;
      item.line = line++;
      if (type == ProbeTaskType::Multiclass) {
        item.classes = {row.get<int>()};
      } else if (type == ProbeTaskType::Multilabel) {
        for (int k = 0; k < num_outputs; ++k)
          if (row.at(size_t(k)).get<int>()) item.classes.push_back(k);
      } else {
        item.values = row.get<std::vector<double>>();
      }
      split.items.push_back(item);
    }
  }
  return t;
}

const char* const kTwoToneBody = R"("type": "multiclass", "labels": ["low", "high"],
                             "metrics": ["accuracy", "macro_f1"], "sample_rate": 24000)";

double two_tone_hz(const std::string& label) { return label == "low" ? 196.0 : 1568.0; }

std::map<std::string, std::vector<std::string>> two_tone_rows(int train, int valid, int test) {
  std::map<std::string, std::vector<std::string>> r;
  for (auto [split, n] : {std::pair{"train", train}, {"valid", valid}, {"test", test}})
    for (int i = 0; i < n; ++i) r[split].push_back(i % 2 ? "high" : "low");
  return r;
}

}  // namespace musefm::test
