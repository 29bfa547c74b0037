// libFuzzer target: probe task folders (task.json + label files) and the probe's JSON inputs.
// The input is split at NUL bytes into task.json, train.tsv, a ProbeConfig JSON and a
// results.jsonl line; valid.tsv and test.tsv are fixed. Audio existence is not checked.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "musefm/probe.h"

namespace {
void write(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/musefm-fuzz-probe-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    const std::string s = d ? d : "/tmp";
    write(s + "/valid.tsv", "path\tlabel\na.wav\tx\n");
    write(s + "/test.tsv", "path\tlabel\nb.wav\ty\n");
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
  write(dir + "/task.json", parts[0]);
  write(dir + "/train.tsv", parts[1]);
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
