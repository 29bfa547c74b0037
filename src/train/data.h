// Internal: pretraining data — label indexes, the deterministic batch plan (shared by every
// rank), masks, and the loader threads that decode, crop and mix one rank's share.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/task_pool.h"
#include "musefm/distributed.h"
#include "musefm/manifest.h"
#include "musefm/train.h"

namespace musefm::train_detail {

/// 64-bit mix of a seed and a sequence of integers (splitmix64 steps): the key of every random
/// decision (crop offsets, masks, mixup, noise), so they do not depend on the rank or thread.
uint64_t mix_seed(uint64_t seed, std::initializer_list<uint64_t> parts);

/// One label set of a split: byte offset and length (in labels) of every line, read lazily.
class LabelIndex {
 public:
  /// Indexes `path`; ids are dictionary positions (dict "<symbol> <count>" lines).
  LabelIndex(std::string name, std::string path, const std::string& dict_path);
  const std::string& name() const { return name_; }
  int64_t lines() const { return int64_t(offsets_.size()); }
  int64_t count(int64_t line) const { return counts_[size_t(line)]; }
  int64_t codebook_size() const { return k_; }
  /// Ids of `line`, positions [from, from + n).
  std::vector<int64_t> read(int64_t line, int64_t from, int64_t n) const;

 private:
  std::string name_, path_;
  int64_t k_ = 0;
  bool identity_ = true;  ///< symbols are "0".."k-1" in order
  std::map<std::string, int64_t> symbols_;
  std::vector<int64_t> offsets_;
  std::vector<int32_t> counts_;
};

/// A manifest split with its label sets, verified.
struct Split {
  std::string name, manifest_path;
  std::vector<ManifestEntry> entries;
  std::vector<LabelIndex> labels;
  std::vector<int64_t> usable;                            ///< entries at least min_sample_size long
  std::vector<std::pair<int64_t, std::string>> left_out;  ///< entry, reason
};

/// Reads and verifies `split` (verify_labels on every label set, dictionary sizes); throws one
/// Error listing the problems. Checks every audio header (entries are shared out over the
/// ranks of `group`); unreadable entries are left out and reported.
Split open_split(const PretrainConfig& c, const std::string& split, Collective& group);

/// A micro-batch of the global plan: identical on every rank.
struct MicroBatch {
  int64_t epoch = 0, index = 0;             ///< position in the data
  std::vector<int64_t> items;               ///< entry indices (the whole global micro-batch)
  int64_t crop = 0;                         ///< samples per item
  int64_t frames = 0;                       ///< encoder frames with targets
  std::vector<int64_t> starts;              ///< crop offset per item (samples)
  std::vector<std::vector<uint8_t>> masks;  ///< per item, frames
  std::vector<std::vector<uint8_t>> noise;  ///< per item, noise chunks (masking "noise")
  int64_t masked = 0;                       ///< masked frames over all items
};

/// The deterministic plan: epoch permutations, micro-batches (at most data.max_tokens samples
/// and data.max_batch_items items each), crops and masks.
class BatchPlanner {
 public:
  BatchPlanner(const PretrainConfig& c, const Split& split);
  /// Global micro-batches (entry lists) of `epoch`.
  const std::vector<std::vector<int64_t>>& epoch(int64_t epoch) const;
  /// Crop, frames and masks of micro-batch `index` of `epoch`.
  MicroBatch plan(int64_t epoch, int64_t index) const;
  /// Encoder frames for `samples` input samples.
  int64_t frames_for(int64_t samples) const;

 private:
  const PretrainConfig& c_;
  const Split& split_;
  uint64_t salt_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<std::vector<int64_t>> cached_;
};

/// A micro-batch ready for the model (every micro-batch is computed whole by one rank).
struct Batch {
  MicroBatch plan;
  at::Tensor audio;                   ///< [b, crop] model input (mixed, noise-masked)
  at::Tensor clean;                   ///< [b, crop] before mixup / noise (CQT target)
  std::vector<at::Tensor> targets;    ///< per label set: [b, frames] int64
  at::Tensor mask;                    ///< bool [b, frames]
  std::vector<std::string> failures;  ///< items that could not be read (silence used)
};

/// One optimiser update: world_size x accumulate consecutive micro-batches of the plan.
/// Micro-batch j of the update runs on rank j % world_size, so one rank with accumulate = N
/// computes exactly the micro-batches that N ranks with accumulate = 1 share out.
struct Update {
  std::vector<MicroBatch> plans;  ///< every micro-batch of the update (all ranks)
  std::vector<int64_t> mine;      ///< positions in `plans` this rank computes
  std::vector<Batch> batches;     ///< loaded, one per entry of `mine`
};

/// Decoded audio kept in memory (24 kHz mono), least recently used first out.
class AudioCache;

/// Background threads that plan updates and load this rank's micro-batches, in order.
class Loader {
 public:
  Loader(const PretrainConfig& c, const Split& split, const BatchPlanner& planner, int rank,
         int world_size, int accumulate, int64_t epoch, int64_t index);
  ~Loader();
  /// The next update (blocks until this rank's micro-batches are loaded); rethrows errors.
  Update next();
  /// Data position of the next update's first micro-batch.
  std::pair<int64_t, int64_t> position() const { return {epoch_, index_}; }

 private:
  struct Entry {
    MicroBatch plan;
    bool mine = false;
    std::future<Batch> batch;
  };
  Batch load(const MicroBatch& mb) const;
  void advance(int64_t& epoch, int64_t& index) const;
  void fill();

  const PretrainConfig& c_;
  const Split& split_;
  const BatchPlanner& planner_;
  int rank_, world_, per_update_;
  int64_t epoch_, index_;              ///< consumer position
  int64_t ahead_epoch_, ahead_index_;  ///< next position to plan
  int64_t planned_ = 0;                ///< micro-batches planned so far (position in updates)
  std::shared_ptr<AudioCache> cache_;
  std::deque<Entry> queue_;
  std::unique_ptr<core_detail::TaskPool> pool_;  // last: its queued loads go first
};

/// HuBERT span mask over `frames` (fairseq compute_mask_indices, static lengths, overlaps
/// merge): max(min_masks, int(mask_prob * frames / mask_length + u)) distinct span starts.
std::vector<uint8_t> span_mask(int64_t frames, double mask_prob, int mask_length, int min_masks,
                               uint64_t key);
/// MusicFM noise masking: each whole chunk of the crop is masked with probability `prob`.
std::vector<uint8_t> noise_chunks(int64_t samples, int64_t chunk_samples, double prob,
                                  uint64_t key);

}  // namespace musefm::train_detail
