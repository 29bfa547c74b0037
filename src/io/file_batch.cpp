// collect_inputs() and run_file_batch() (musefm/file_batch.h).
#include "musefm/file_batch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "musefm/audio.h"
#include "musefm/error.h"
#include "musefm/manifest.h"

namespace musefm {
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

std::vector<FileInput> audio_in(const std::string& dir) {
  std::error_code ec;
  std::vector<FileInput> found;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && is_audio(e.path()))
      found.push_back({e.path().string(), without_extension(fs::relative(e.path(), dir))});
  std::sort(found.begin(), found.end(),
            [](const FileInput& x, const FileInput& y) { return x.path < y.path; });
  MUSEFM_CHECK(!found.empty(), "input directory '", dir, "' holds no audio files");
  return found;
}
}  // namespace

std::vector<FileInput> collect_inputs(const std::vector<std::string>& args) {
  MUSEFM_CHECK(!args.empty(), "no input files given");
  std::vector<FileInput> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (fs::path(a).extension() == ".tsv") {
      for (const auto& e : read_manifest(a)) out.push_back({e.path, without_extension(e.relative)});
    } else if (fs::is_directory(a, ec)) {
      const auto found = audio_in(a);
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

namespace {
// Orders each run of `group` * kBucketGroups jobs by the duration in their headers (unreadable
// ones first: they fail fast), keeping the input order among equal lengths. Returns the
// durations in the new order (-1: unreadable), or nothing when group <= 1 (no reordering).
std::vector<double> bucket_by_length(std::vector<FileJob>& jobs, size_t group) {
  if (group <= 1) return {};
  std::vector<std::pair<double, FileJob>> keyed;
  for (auto& j : jobs) {
    double d = -1;
    try {
      d = probe_audio(j.input).duration_s();
    } catch (const Error&) {  // reported when it is processed
    }
    keyed.emplace_back(d, std::move(j));
  }
  const size_t run = group * kBucketGroups;
  for (size_t b = 0; b < keyed.size(); b += run)
    std::stable_sort(keyed.begin() + long(b), keyed.begin() + long(std::min(b + run, keyed.size())),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<double> durations(jobs.size());
  for (size_t k = 0; k < jobs.size(); ++k) {
    durations[k] = keyed[k].first;
    jobs[k] = std::move(keyed[k].second);
  }
  return durations;
}
}  // namespace

FileBatchSummary run_file_batch(const std::vector<FileInput>& inputs, const std::string& out_dir,
                                bool overwrite, const std::string& label,
                                const std::string& extension, size_t group,
                                const std::function<void(std::vector<FileJob>&)>& process,
                                const ProgressCallbacks& progress, const std::string& failures_name,
                                const std::function<void(const std::vector<FileJob>&)>& prefetch) {
  const auto start = std::chrono::steady_clock::now();
  fs::create_directories(out_dir);
  FileBatchSummary s;
  s.failures_path = (fs::path(out_dir) / failures_name).string();
  std::ofstream failures;
  progress.on_begin(label, int64_t(inputs.size()));
  std::vector<FileJob> to_run;
  for (const auto& in : inputs) {
    const std::string out = (fs::path(out_dir) / in.key).string() + extension;
    if (!overwrite && fs::exists(out) && fs::exists(sidecar_path(out))) {
      ++s.skipped;  // resume: finished earlier
      progress.on_step(1, fs::path(in.path).filename().string());
      continue;
    }
    std::error_code ec;
    fs::create_directories(fs::path(out).parent_path(), ec);
    to_run.push_back({in.path, out, ""});
  }
  group = std::max<size_t>(group, 1);
  const std::vector<double> durations = bucket_by_length(to_run, group);
  const auto group_at = [&](size_t b) {
    return std::vector<FileJob>(to_run.begin() + long(b),
                                to_run.begin() + long(std::min(b + group, to_run.size())));
  };
  for (size_t b = 0; b < to_run.size(); b += group) {
    std::vector<FileJob> pending = group_at(b);
    if (prefetch && b + group < to_run.size()) prefetch(group_at(b + group));
    try {
      process(pending);
    } catch (const Error& e) {
      for (auto& j : pending)
        if (j.error.empty()) j.error = e.what();
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      const FileJob& j = pending[i];
      if (j.error.empty()) {
        ++s.written;
        if (!durations.empty() && durations[b + i] >= 0) {
          s.audio_s += durations[b + i];  // read when bucketing
        } else {
          try {
            s.audio_s += probe_audio(j.input).duration_s();
          } catch (const Error&) {  // written, so it was readable; a vanished file adds nothing
          }
        }
      } else {
        ++s.failed;
        if (!failures.is_open()) failures.open(s.failures_path, std::ios::app);
        failures << nlohmann::json{{"input", j.input}, {"error", j.error}}.dump() << "\n";
        failures.flush();
        progress.on_log(LogLevel::Warning, j.error);
      }
      progress.on_step(1, fs::path(j.input).filename().string());
    }
  }
  progress.on_end();
  s.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

std::string sidecar_path(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string ext = p.extension().string();
  if (ext == ".npy" || ext == ".safetensors")
    return (p.parent_path() / p.stem()).string() + ".json";
  return path + ".json";
}

std::string FileBatchSummary::report() const {
  char line[512];
  std::snprintf(line, sizeof line, "%d written, %d already done (skipped), %d failed", written,
                skipped, failed);
  std::string r = line + (failed ? " — see " + failures_path : std::string());
  if (written > 0 && elapsed_s > 0) {
    std::snprintf(line, sizeof line, "\n%.1f s of audio in %.1f s: %.2f files/s, %.1fx real time",
                  audio_s, elapsed_s, written / elapsed_s, audio_s / elapsed_s);
    r += line;
  }
  return r;
}

std::function<void(std::vector<FileJob>&)> one_at_a_time(
    std::function<void(const std::string&, const std::string&)> process) {
  return [process = std::move(process)](std::vector<FileJob>& jobs) {
    for (auto& j : jobs) {
      try {
        process(j.input, j.output);
      } catch (const Error& e) {
        j.error = e.what();
      }
    }
  };
}

}  // namespace musefm
