// fairseq label sets: <split>.<name> (one line of space-separated ids per manifest entry) and
// dict.<name>.txt ("<symbol> <count>" per line), written atomically and verified before use.
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "io/atomic_file.h"
#include "musefm/manifest.h"
#include "musefm/teachers.h"

namespace musefm {
namespace {

constexpr size_t kMaxProblems = 20;  // listed one by one; the rest are counted

void write_text(const std::string& path, const std::string& text) {
  io_detail::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

std::vector<std::string> read_lines(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), path, ": cannot open the ", what);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

void write_label_file(const std::string& dir, const std::string& split, const LabelFile& labels,
                      int64_t k) {
  MUSEFM_CHECK(k >= 1, "labels '", labels.name, "': dictionary size must be >= 1, got ", k);
  std::string text;
  for (size_t i = 0; i < labels.lines.size(); ++i) {
    const auto& ids = labels.lines[i];
    MUSEFM_CHECK(!ids.empty(), "labels '", labels.name, "': entry ", i + 1, " has no frames");
    for (size_t j = 0; j < ids.size(); ++j) {
      MUSEFM_CHECK(ids[j] >= 0 && ids[j] < k, "labels '", labels.name, "': entry ", i + 1,
                   " has id ", ids[j], " outside [0, ", k, ")");
      text += (j ? " " : "") + std::to_string(ids[j]);
    }
    text += '\n';
  }
  std::string dict;
  for (int64_t i = 0; i < k; ++i) dict += std::to_string(i) + " 1\n";
  write_text(dir + "/dict." + labels.name + ".txt", dict);
  write_text(dir + "/" + split + "." + labels.name, text);
}

LabelCheck verify_labels(const std::string& manifest_path, const std::string& label_path,
                         const std::string& dict_path, double label_rate, double tolerance_s,
                         int sample_rate) {
  MUSEFM_CHECK(std::isfinite(label_rate) && label_rate > 0, "verify labels: label rate must be ",
               "> 0 frames per second, got ", label_rate);
  MUSEFM_CHECK(sample_rate > 0, "verify labels: sample rate must be > 0, got ", sample_rate);
  LabelCheck r;
  r.label_path = label_path;
  r.dict_path = dict_path;
  size_t extra = 0;
  const auto problem = [&](const std::string& p) {
    if (r.problems.size() < kMaxProblems)
      r.problems.push_back(p);
    else
      ++extra;
  };
  const std::vector<ManifestEntry> entries = read_manifest(manifest_path);

  // Dictionary: "<symbol> <count>" lines, symbols unique.
  std::set<std::string> symbols;
  const std::vector<std::string> dict = read_lines(dict_path, "dictionary");
  for (size_t i = 0; i < dict.size(); ++i) {
    std::istringstream ss(dict[i]);
    std::string sym, count, more;
    if (!(ss >> sym >> count) || (ss >> more)) {
      problem(dict_path + ":" + std::to_string(i + 1) + ": expected '<symbol> <count>', got '" +
              dict[i] + "'");
      continue;
    }
    if (!symbols.insert(sym).second)
      problem(dict_path + ":" + std::to_string(i + 1) + ": symbol '" + sym + "' listed twice");
  }
  r.k = int64_t(symbols.size());
  if (symbols.empty())
    problem(dict_path + ": the dictionary is empty (every label would map to <unk>)");

  const std::vector<std::string> lines = read_lines(label_path, "label file");
  r.lines = int64_t(lines.size());
  if (lines.size() != entries.size())
    problem(label_path + ": " + std::to_string(lines.size()) + " lines for " +
            std::to_string(entries.size()) + " manifest entries in " + manifest_path +
            " (one line per entry, in manifest order)");
  const size_t n = std::min(lines.size(), entries.size());
  for (size_t i = 0; i < n; ++i) {
    const std::string where =
        label_path + ":" + std::to_string(i + 1) + " (" + entries[i].relative + ")";
    std::istringstream ss(lines[i]);
    std::string tok;
    int64_t frames = 0;
    std::string unknown;
    while (ss >> tok) {
      ++frames;
      if (!symbols.empty() && !symbols.count(tok) && unknown.empty()) unknown = tok;
    }
    if (frames == 0) {
      problem(where + ": empty line");
      continue;
    }
    if (!unknown.empty())
      problem(where + ": label '" + unknown + "' is not in " + dict_path +
              " (it would become <unk>)");
    const double audio_s = double(entries[i].num_samples) / sample_rate;
    const double label_s = double(frames) / label_rate;
    if (std::abs(audio_s - label_s) > tolerance_s) {
      std::ostringstream msg;
      msg << where << ": " << frames << " labels = " << label_s << " s at " << label_rate
          << " Hz, but the audio is " << audio_s << " s (" << entries[i].num_samples
          << " samples at " << sample_rate << " Hz); off by more than " << tolerance_s << " s";
      problem(msg.str());
    }
  }
  if (extra) problem("... and " + std::to_string(extra) + " more problems");
  return r;
}

}  // namespace musefm
