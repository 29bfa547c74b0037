// musefm/file_batch.h — many audio files, one output each, as `musefm features` and
// `musefm extract` process them: inputs from files, folders and fairseq manifests; finished
// outputs skipped (resume); a failed item recorded in <out>/failures.jsonl while the rest run.
//
//   auto inputs = musefm::collect_inputs({"music/", "train.tsv"});
//   musefm::FileBatchSummary s = musefm::run_file_batch(
//       inputs, "out", /*overwrite=*/false, "mfcc", ".npy", /*group=*/1,
//       [&](std::vector<musefm::FileJob>& jobs) {
//         for (auto& j : jobs) runner.run(j.input, j.output);  // throw = the group failed
//       });
//   // s.written, s.skipped, s.failed
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "musefm/progress.h"

namespace musefm {

/// One input file and the name of its outputs relative to the output folder, without
/// extension: the stem for a file given directly, the path relative to the directory or to the
/// manifest's root otherwise (so equal stems in different folders do not collide).
struct FileInput {
  std::string path, key;
};

/// Files as given; directories searched recursively for audio files (sorted); `*.tsv` read as
/// fairseq manifests (first line: root folder; then `relative/path<TAB>num_samples`). Two inputs
/// with the same key are an error naming both.
std::vector<FileInput> collect_inputs(const std::vector<std::string>& args);

/// The JSON sidecar next to an output: "x.npy" / "x.safetensors" -> "x.json", else "x.ext.json".
std::string sidecar_path(const std::string& path);

/// An input with its output path (out_dir/<key><extension>); `error` is set by the processor
/// when this item failed.
struct FileJob {
  std::string input, output, error;
};

struct FileBatchSummary {
  int written = 0, skipped = 0, failed = 0;
  double elapsed_s = 0;       ///< wall time of the whole batch
  double audio_s = 0;         ///< seconds of audio in the outputs written (from the files' headers)
  std::string failures_path;  ///< <out_dir>/failures.jsonl (appended to when failed > 0)
  /// "N written, N already done (skipped), N failed[ — see FILE]", then, when anything was
  /// written, a second line with the audio seconds, files/s and real-time factor.
  std::string report() const;
};

/// Calls `process(jobs)` on groups of up to `group` inputs whose outputs (and their sidecars,
/// see sidecar_path()) do not exist yet, or all with `overwrite`. The processor sets
/// FileJob::error for items that failed; a musefm::Error it throws fails the whole group.
/// Failures are appended to <out_dir>/<failures_name> (one file per shard when several processes
/// share out_dir) and logged (warnings); the rest still run. Progress: one stage `label` over
/// all inputs.
/// With `group` > 1 the jobs are bucketed by length: within each run of kBucketGroups groups
/// they are ordered by the duration in their headers, so that a group holds files of similar
/// length (less padding). `prefetch`, when given, is called with the next group before
/// `process` runs the current one, so that a processor can start loading it in the background.
FileBatchSummary run_file_batch(
    const std::vector<FileInput>& inputs, const std::string& out_dir, bool overwrite,
    const std::string& label, const std::string& extension, size_t group,
    const std::function<void(std::vector<FileJob>&)>& process,
    const ProgressCallbacks& progress = {}, const std::string& failures_name = "failures.jsonl",
    const std::function<void(const std::vector<FileJob>&)>& prefetch = {});
inline constexpr size_t kBucketGroups = 32;

/// A processor for run_file_batch that handles one job at a time with `process(input, output)`;
/// a musefm::Error it throws marks that job failed and the rest go on.
std::function<void(std::vector<FileJob>&)> one_at_a_time(
    std::function<void(const std::string& input, const std::string& output)> process);

}  // namespace musefm
