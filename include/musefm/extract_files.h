// musefm/extract_files.h — embeddings of audio files written to disk, as `musefm extract` does:
// <output> (.npy, or .safetensors with one tensor "embeddings") and its JSON sidecar (model dir,
// checksum and config, extract config, layers, frame rate, window, shape, the audio's header).
//
//   musefm::Extractor ex(musefm::Encoder::load("models/mert-v1-95m"), {});
//   musefm::EmbeddingFileWriter w(ex, "models/mert-v1-95m", "npy");
//   std::vector<musefm::FileJob> jobs = {{"a.flac", "out/a.npy"}, {"b.wav", "out/b.npy"}};
//   w.write(jobs);                          // jobs[i].error: "" = written, else the reason
//
// Files longer than one window stream block by block (memory bounded by the window, frames
// written straight into the .npy when not pooled); files that fit one window (an eighth longer
// allowed) are decoded whole and encoded in one padded batch. Each output is written atomically,
// the sidecar last.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "musefm/extract.h"
#include "musefm/file_batch.h"  // FileJob

namespace musefm {

class EmbeddingFileWriter {
 public:
  /// `ex` must outlive the writer; `model_dir` (its model.safetensors checksum is taken now) is
  /// recorded in the sidecars; `format`: "npy" or "safetensors". `loader_threads` decode and
  /// resample the files prefetch() names in the background (0: prefetch() does nothing and
  /// write() decodes);
  /// kAutoLoaderThreads: two on CUDA, else one per core the model's threads leave free (at
  /// most two; none when the model uses every core, where a loader thread only preempts it).
  static constexpr int kAutoLoaderThreads = -1;
  EmbeddingFileWriter(const Extractor& ex, const std::string& model_dir,
                      const std::string& format = "npy", int loader_threads = kAutoLoaderThreads);
  /// Starts decoding and resampling the jobs' inputs that fit one window, ahead of the write()
  /// that takes them (run_file_batch's `prefetch`). A decoding error is reported by that write().
  void prefetch(const std::vector<FileJob>& jobs) const;
  /// Writes every job's output; a job that fails (audio, too short, I/O) gets its error and
  /// the others are still written.
  void write(std::vector<FileJob>& jobs) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace musefm
