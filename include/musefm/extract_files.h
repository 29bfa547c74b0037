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
  /// recorded in the sidecars; `format`: "npy" or "safetensors".
  EmbeddingFileWriter(const Extractor& ex, const std::string& model_dir,
                      const std::string& format = "npy");
  /// Writes every job's output; a job that fails (audio, too short, I/O) gets its error and
  /// the others are still written.
  void write(std::vector<FileJob>& jobs) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace musefm
