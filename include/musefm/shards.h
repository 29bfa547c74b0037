// musefm/shards.h — one batch job over many files split over processes and machines (torchrun
// ranks, SLURM tasks, SLURM array tasks), and the shards merged into one index.
//
//   auto inputs = musefm::collect_inputs({"catalogue.tsv"});
//   musefm::ShardSpec s = musefm::resolve_shard(-1, -1);          // from RANK / SLURM_* / 0 of 1
//   musefm::check_shard_dir("out", s, inputs);                    // a split into another count?
//   auto mine = musefm::shard_inputs(inputs, s);                  // this shard's files
//   ... run_file_batch(mine, "out", ...) ...
//   musefm::write_shard_marker("out", s, inputs, summary);        // out/shards/shard-i-of-n.json
//   musefm::ShardMerge m = musefm::merge_shards(inputs, "out", ".npy", s.count);  // index.tsv
//
// The assignment is a pure function of the inputs (keys and header durations) and the shard
// count: every shard computes the same split on its own, reruns give the same split, and the
// shards carry about equal hours of audio (longest first, each to the least loaded shard).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "musefm/file_batch.h"

namespace musefm {

/// This process's shard: `index` in [0, count).
struct ShardSpec {
  int index = 0, count = 1;
  std::string source;  ///< where it came from: "--shard/--nshards", "RANK/WORLD_SIZE", ...
};

/// `index` / `count` < 0 = not given. Unset values come from the environment: RANK/WORLD_SIZE
/// (torchrun), else SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (less SLURM_ARRAY_TASK_MIN)
/// combined with SLURM_PROCID/SLURM_NTASKS (array task a, task p of n: shard a * n + p), else 0
/// of 1. Throws musefm::Error naming the option or variable that is malformed or out of range.
ShardSpec resolve_shard(int index, int count);

/// Shard of every input: inputs in order of decreasing duration (ties: key) each go to the shard
/// with the least total duration so far (ties: the lowest index). Unknown durations (< 0) count
/// as 0 s.
std::vector<int> assign_shards(const std::vector<double>& durations,
                               const std::vector<std::string>& keys, int count);

/// Header durations (seconds) of the inputs; -1 for a file whose header cannot be read (the
/// shard that gets it reports it as failed).
std::vector<double> input_durations(const std::vector<FileInput>& inputs);

/// The inputs of `spec`'s shard, in input order (reads every input's header).
std::vector<FileInput> shard_inputs(const std::vector<FileInput>& inputs, const ShardSpec& spec);

/// FNV-1a 64 of the inputs' keys and paths: shards of one job agree on it.
std::string inputs_hash(const std::vector<FileInput>& inputs);

/// Throws, before any work, when `out_dir` holds markers of the same job split into another
/// number of shards, or of other inputs, naming the markers (nothing is written or removed).
void check_shard_dir(const std::string& out_dir, const ShardSpec& spec,
                     const std::vector<FileInput>& inputs);

/// The failures file of a shard: failures.jsonl for a single shard, else
/// failures.shard-<i>-of-<n>.jsonl (no two processes append to one file).
std::string shard_failures_name(const ShardSpec& spec);

/// Marks `spec`'s shard finished: <out_dir>/shards/shard-<i>-of-<n>.json (the job's input count
/// and hash, this shard's written / skipped / failed counts), written atomically.
void write_shard_marker(const std::string& out_dir, const ShardSpec& spec,
                        const std::vector<FileInput>& inputs, const FileBatchSummary& summary);

/// What merge_shards() found.
struct ShardMerge {
  int64_t inputs = 0, indexed = 0;
  std::vector<int> missing_shards;  ///< shards without a marker
  /// Inputs without an output (path, why: the error from failures*.jsonl, or the shard that
  /// has not produced it).
  std::vector<std::pair<std::string, std::string>> missing;
  std::string index_path;  ///< <out_dir>/index.tsv, written only when nothing is missing
  bool ok() const { return missing_shards.empty() && missing.empty(); }
  /// "N inputs, M indexed; shards not finished: ...; missing: ..." (the first 20 of each).
  std::string report() const;
};

/// Checks that every input's output (out_dir/<key><extension>) and sidecar exist, exactly once,
/// describe that input, and that all `count` shard markers are present; when all are, writes
/// <out_dir>/index.tsv (path, output, frames, duration_s, model_hash; one row per input, in
/// input order) atomically. `count` <= 0: the count of the markers in out_dir (1 if none).
/// Throws for markers of another split (as check_shard_dir).
ShardMerge merge_shards(const std::vector<FileInput>& inputs, const std::string& out_dir,
                        const std::string& extension, int count);

}  // namespace musefm
