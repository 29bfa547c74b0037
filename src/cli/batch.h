// Internal: the batch machinery shared by the file-processing commands — input collection,
// one output per input, resume (skip finished outputs), per-item failure isolation recorded in
// failures.jsonl, a progress bar and the exit status.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace musefm::cli {

/// Files as given; directories searched recursively for audio files (sorted).
std::vector<std::string> collect_inputs(const std::vector<std::string>& args);

/// "x.npy" / "x.safetensors" -> "x.json".
std::string sidecar_path(const std::string& path);

/// For each input, calls `process(input, output)` with output = out_dir/<stem><extension>
/// unless that file and its sidecar exist (and !overwrite). Failures (musefm::Error) are printed,
/// appended to out_dir/failures.jsonl and make the process exit with status 1; the rest still run.
void run_batch(const std::vector<std::string>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension,
               const std::function<void(const std::string&, const std::string&)>& process);

}  // namespace musefm::cli
