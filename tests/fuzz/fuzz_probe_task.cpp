// libFuzzer target: probe task folders (task.json + label files) and the probe's JSON inputs.
// The input is split at NUL bytes into task.json, train.tsv, a ProbeConfig JSON and a
// results.jsonl line; valid.tsv and test.tsv are fixed. Audio existence is not checked.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "musefm/probe.h"

using musefm::fuzz::write_file;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string s = musefm::fuzz::make_scratch_dir("musefm-fuzz-probe");
    write_file(s + "/valid.tsv", "path\tlabel\na.wav\tx\n");
    write_file(s + "/test.tsv", "path\tlabel\nb.wav\ty\n");
    return s;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() < 3) {
    const size_t cut = text.find('\0', start);
    if (cut == std::string::npos) break;
    parts.push_back(text.substr(start, cut - start));
    start = cut + 1;
  }
  parts.push_back(text.substr(std::min(start, text.size())));
  parts.resize(4);
  write_file(dir + "/task.json", parts[0]);
  write_file(dir + "/train.tsv", parts[1]);
  try {
    const musefm::ProbeTask t = musefm::ProbeTask::load(dir, /*check_audio=*/false);
    if (t.splits.size() != 3 || t.labels.empty() || t.metrics.empty()) __builtin_trap();
  } catch (const musefm::Error&) {
  }
  try {
    musefm::ProbeConfig::from_json(parts[2]);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::ProbeResult::from_json(parts[3]);
  } catch (const musefm::Error&) {
  }
  return 0;
}
