// Internal: training checkpoints — one safetensors file per checkpoint (parameters, buffers,
// AdamW state; the resolved config and the run state as metadata), written atomically
// (temporary file, fsync, rename, fsync of the folder), the newest `keep` kept.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace musefm::train_detail {

/// Where the run stands after `step` updates.
struct RunState {
  int64_t step = 0;              ///< updates done
  int64_t epoch = 0, index = 0;  ///< data position of the next micro-batch
  int64_t skipped_steps = 0;     ///< non-finite updates skipped so far
  double elapsed_s = 0;          ///< training time so far (all sessions)
  int world_size = 1;            ///< ranks of the run that wrote it
  std::string to_json() const;
  static RunState from_json(const std::string& text, const std::string& source);
};

struct Checkpoint {
  RunState state;
  std::string config_json;                    ///< PretrainConfig::to_json() of the run
  std::map<std::string, at::Tensor> tensors;  ///< "param/…", "buffer/…", "adam_m/…", "adam_v/…"
};

/// Path of the checkpoint of `step` in `dir`.
std::string checkpoint_path(const std::string& dir, int64_t step);
/// Writes a checkpoint atomically; returns its path.
std::string save_checkpoint(const std::string& dir, const RunState& state,
                            const std::string& config_json,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors);
/// Reads and checks a checkpoint file (format tag, metadata); errors name the file.
Checkpoint load_checkpoint(const std::string& path);
/// Deletes all but the newest `keep` checkpoints of `dir`.
void prune_checkpoints(const std::string& dir, int keep);
/// Checkpoint files of `dir`, oldest first.
std::vector<std::string> list_checkpoints(const std::string& dir);

}  // namespace musefm::train_detail
