#include "cli/batch.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/progress.h"
#include "musefm/error.h"
#include "musefm/manifest.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
bool is_audio(const fs::path& p) {
  static const std::set<std::string> audio_ext{".wav",  ".flac", ".ogg", ".opus", ".mp3",
                                               ".aiff", ".aif",  ".oga", ".w64",  ".caf"};
  std::string ext = p.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return audio_ext.count(ext) > 0;
}

std::string without_extension(const fs::path& p) { return (p.parent_path() / p.stem()).string(); }
}  // namespace

std::vector<Input> read_manifest(const std::string& path) {
  std::vector<Input> out;
  for (const auto& e : musefm::read_manifest(path))
    out.push_back({e.path, without_extension(e.relative)});
  return out;
}

std::vector<Input> collect_inputs(const std::vector<std::string>& args) {
  MUSEFM_CHECK(!args.empty(), "no input files given");
  std::vector<Input> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (fs::path(a).extension() == ".tsv") {
      const auto listed = read_manifest(a);
      out.insert(out.end(), listed.begin(), listed.end());
    } else if (fs::is_directory(a, ec)) {
      std::vector<Input> found;
      for (const auto& e : fs::recursive_directory_iterator(a, ec))
        if (e.is_regular_file() && is_audio(e.path()))
          found.push_back({e.path().string(), without_extension(fs::relative(e.path(), a))});
      std::sort(found.begin(), found.end(),
                [](const Input& x, const Input& y) { return x.path < y.path; });
      MUSEFM_CHECK(!found.empty(), "input directory '", a, "' holds no audio files");
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back({a, fs::path(a).stem().string()});  // missing files are reported per item
    }
  }
  std::map<std::string, std::string> seen;
  for (const auto& i : out) {
    auto [it, fresh] = seen.emplace(i.key, i.path);
    MUSEFM_CHECK(fresh, "inputs '", it->second, "' and '", i.path,
                 "' would write the same output '", i.key,
                 "': give them in one directory or manifest, or process them separately");
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

void run_batch(const std::vector<Input>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension, size_t group,
               const std::function<void(std::vector<Job>&)>& process) {
  fs::create_directories(out_dir);
  const std::string failures_path = (fs::path(out_dir) / "failures.jsonl").string();
  std::ofstream failures;
  int ok = 0, skipped = 0, failed = 0;
  Progress progress(label, int64_t(inputs.size()));
  std::vector<Job> pending;
  const auto run_pending = [&] {
    if (pending.empty()) return;
    try {
      process(pending);
    } catch (const Error& e) {
      for (auto& j : pending)
        if (j.error.empty()) j.error = e.what();
    }
    for (const auto& j : pending) {
      if (j.error.empty()) {
        ++ok;
      } else {
        ++failed;
        if (!failures.is_open()) failures.open(failures_path, std::ios::app);
        failures << nlohmann::json{{"input", j.input}, {"error", j.error}}.dump() << "\n";
        failures.flush();
        std::fprintf(stderr, "\nmusefm: error: %s\n", j.error.c_str());
      }
      progress.step(1, fs::path(j.input).filename().string());
    }
    pending.clear();
  };
  for (const auto& in : inputs) {
    const std::string out = (fs::path(out_dir) / in.key).string() + extension;
    if (!overwrite && fs::exists(out) && fs::exists(sidecar_path(out))) {
      ++skipped;  // resume: finished earlier
      progress.step(1, fs::path(in.path).filename().string());
      continue;
    }
    std::error_code ec;
    fs::create_directories(fs::path(out).parent_path(), ec);
    pending.push_back({in.path, out, ""});
    if (pending.size() >= std::max<size_t>(group, 1)) run_pending();
  }
  run_pending();
  progress.finish();
  std::printf("%d written, %d already done (skipped), %d failed%s\n", ok, skipped, failed,
              failed ? (" — see " + failures_path).c_str() : "");
  if (failed) exit_code() = 1;
}

void run_batch(const std::vector<Input>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension,
               const std::function<void(const std::string&, const std::string&)>& process) {
  run_batch(inputs, out_dir, overwrite, label, extension, 1, [&](std::vector<Job>& jobs) {
    for (auto& j : jobs) {
      try {
        process(j.input, j.output);
      } catch (const Error& e) {
        j.error = e.what();
      }
    }
  });
}

}  // namespace musefm::cli
