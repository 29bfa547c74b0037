// The default model: the encoder musefm ships (models/<name>/ in the source tree,
// share/musefm/models/<name>/ once installed), used by `musefm extract` and `musefm probe`
// when no --model is given and by Encoder::load_default().
//
//   std::string dir = musefm::default_model_dir();   // throws musefm::Error naming where it looked
//   musefm::verify_model_checksums(dir);             // every file listed in checksums.json matches
//
// A model dir may carry `checksums.json` ({"config.json": "fnv1a64:<hex>", ...}); the shipped
// one always does, and a missing or changed file is reported by name with how to restore it.
// Thread safety: free functions without shared state.
#pragma once

#include <string>

namespace musefm {

/// Folder name of the shipped model under models/.
inline constexpr const char* kDefaultModelName = "musefm-small";

/// Where the default model is, the first that exists of: $MUSEFM_DEFAULT_MODEL; next to the
/// loaded libmusefm (<lib>/../share/musefm/models/<name>, a relocated install); the configured
/// install prefix; the source tree the library was built from. Throws musefm::Error listing the
/// places searched and how to rebuild the model when none holds config.json and
/// model.safetensors.
std::string default_model_dir();

/// "fnv1a64:<16 hex digits>" of a file's bytes (FNV-1a 64), as embedding sidecars record it.
std::string file_checksum(const std::string& path);

/// Checks every file listed in `model_dir`/checksums.json against its checksum; throws
/// musefm::Error naming the file, both checksums and how to restore it. A dir without
/// checksums.json passes (converted checkpoints carry none).
void verify_model_checksums(const std::string& model_dir);

}  // namespace musefm
