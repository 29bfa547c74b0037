// Internal: the batch machinery shared by the file-processing commands — input collection
// (files, directories, fairseq manifests), one output per input, resume (skip finished
// outputs), per-item failure isolation recorded in failures.jsonl, a progress bar and the exit
// status.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace musefm::cli {

/// One input file and the name of its outputs relative to the output folder, without
/// extension: the stem for a file given directly, the path relative to the directory or to the
/// manifest's root otherwise (so equal stems in different folders do not collide).
struct Input {
  std::string path, key;
};

/// Files as given; directories searched recursively for audio files (sorted); `*.tsv` read as
/// fairseq manifests (first line: root folder; then `relative/path<TAB>num_samples`). Two inputs
/// with the same key are an error naming both.
std::vector<Input> collect_inputs(const std::vector<std::string>& args);

/// Parses a fairseq manifest (errors name the file and line).
std::vector<Input> read_manifest(const std::string& path);

/// "x.npy" / "x.safetensors" -> "x.json".
std::string sidecar_path(const std::string& path);

/// An input with its output path (out_dir/<key><extension>); `error` is set by the processor
/// when this item failed.
struct Job {
  std::string input, output, error;
};

/// Calls `process(jobs)` on groups of up to `group` inputs whose outputs do not exist yet (or
/// all with `overwrite`). The processor sets Job::error for items that failed; a musefm::Error
/// it throws fails the whole group. Failures are printed, appended to out_dir/failures.jsonl
/// and make the process exit with status 1; the rest still run.
void run_batch(const std::vector<Input>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension, size_t group,
               const std::function<void(std::vector<Job>&)>& process);

/// One input at a time: `process(input, output)` throws musefm::Error on failure.
void run_batch(const std::vector<Input>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension,
               const std::function<void(const std::string&, const std::string&)>& process);

}  // namespace musefm::cli
