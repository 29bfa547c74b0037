// fairseq audio manifests (the `train.tsv` of wav2vec2 / HuBERT / MERT pretraining):
//
//   /data/music                 <- first line: root folder of the audio files
//   rock/song1.flac<TAB>480000  <- one line per file: path relative to the root, samples
//
//   for (const auto& e : musefm::read_manifest("train.tsv")) use(e.path, e.num_samples);
//
// Parsed defensively: errors name the file and line (missing tab, non-numeric sample count,
// paths that leave the root folder, no entries).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "musefm/error.h"

namespace musefm {

struct ManifestEntry {
  std::string path;      ///< root / relative
  std::string relative;  ///< as written in the manifest
  int64_t num_samples = 0;
};

/// Parses manifest text; `name` appears in errors; relative roots are resolved against
/// `base_dir` when they do not exist as given.
std::vector<ManifestEntry> parse_manifest(const std::string& text, const std::string& name,
                                          const std::string& base_dir = "");
/// Reads and parses a manifest file.
std::vector<ManifestEntry> read_manifest(const std::string& path);

}  // namespace musefm
