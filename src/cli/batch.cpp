#include "cli/batch.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/progress.h"
#include "musefm/error.h"

namespace musefm::cli {
namespace fs = std::filesystem;

std::vector<std::string> collect_inputs(const std::vector<std::string>& args) {
  static const std::set<std::string> audio_ext{".wav",  ".flac", ".ogg", ".opus", ".mp3",
                                               ".aiff", ".aif",  ".oga", ".w64",  ".caf"};
  MUSEFM_CHECK(!args.empty(), "no input files given");
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      out.push_back(a);  // missing files are reported per item
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(a, ec)) {
      std::string ext = e.path().extension().string();
      for (auto& c : ext) c = char(std::tolower(c));
      if (e.is_regular_file() && audio_ext.count(ext)) found.push_back(e.path().string());
    }
    std::sort(found.begin(), found.end());
    MUSEFM_CHECK(!found.empty(), "input directory '", a, "' holds no audio files");
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

std::string sidecar_path(const std::string& path) {
  const fs::path p(path);
  const std::string ext = p.extension().string();
  if (ext == ".npy" || ext == ".safetensors")
    return (p.parent_path() / p.stem()).string() + ".json";
  return path + ".json";
}

void run_batch(const std::vector<std::string>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension,
               const std::function<void(const std::string&, const std::string&)>& process) {
  fs::create_directories(out_dir);
  const std::string failures_path = (fs::path(out_dir) / "failures.jsonl").string();
  std::ofstream failures;
  int ok = 0, skipped = 0, failed = 0;
  Progress progress(label, int64_t(inputs.size()));
  for (const auto& in : inputs) {
    const std::string out = (fs::path(out_dir) / fs::path(in).stem()).string() + extension;
    if (!overwrite && fs::exists(out) && fs::exists(sidecar_path(out))) {
      ++skipped;  // resume: finished earlier
    } else {
      try {
        process(in, out);
        ++ok;
      } catch (const Error& e) {
        ++failed;
        if (!failures.is_open()) failures.open(failures_path, std::ios::app);
        failures << nlohmann::json{{"input", in}, {"error", e.what()}}.dump() << "\n";
        failures.flush();
        std::fprintf(stderr, "\nmusefm: error: %s\n", e.what());
      }
    }
    progress.step(1, fs::path(in).filename().string());
  }
  progress.finish();
  std::printf("%d written, %d already done (skipped), %d failed%s\n", ok, skipped, failed,
              failed ? (" — see " + failures_path).c_str() : "");
  if (failed) exit_code() = 1;
}

}  // namespace musefm::cli
