// safetensors files: the weight format of musefm model directories (config.json +
// model.safetensors with the upstream Hugging Face / MusicFM parameter names).
//
//   auto f = musefm::SafeTensorsFile::open("model/model.safetensors");   // memory-mapped
//   for (const auto& t : f.tensors()) std::printf("%s\n", t.name.c_str());
//   at::Tensor w = f.get("encoder.layer_norm.weight");   // CPU, zero-copy view of the mapping
//
//   musefm::save_safetensors("out.safetensors", {{"w", w}}, {{"format", "pt"}});  // atomic
//
// Untrusted input is validated before any tensor is touched: header length (<= 100 MB) and
// JSON syntax, every entry's dtype / shape / data_offsets, offsets that tile the data buffer
// exactly (no gaps, overlaps or bytes past the end), shape x dtype size == byte range, no
// overflow. Errors name the file and the tensor. Thread safety: a SafeTensorsFile is
// immutable; tensors from get() keep the mapping alive on their own.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "musefm/error.h"

namespace musefm {

/// Element types of the safetensors format that musefm reads.
enum class SafeDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

/// "F32" etc. -> SafeDType; throws musefm::Error for unknown names.
SafeDType parse_safe_dtype(const std::string& name);
std::string to_string(SafeDType dtype);
/// Bytes per element.
std::size_t element_size(SafeDType dtype);

/// One entry of the header.
struct SafeTensorInfo {
  std::string name;
  SafeDType dtype = SafeDType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  ///< byte range inside the data buffer
  int64_t numel() const;
};

/// Parsed and validated header of a safetensors image (no tensor data touched).
struct SafeTensorsHeader {
  std::vector<SafeTensorInfo> tensors;          ///< sorted by data offset
  std::map<std::string, std::string> metadata;  ///< "__metadata__" (string values only)
  uint64_t data_start = 0;                      ///< 8 + header length
};

/// Validates the bytes of a whole file; `name` appears in error messages (fuzzing entry).
SafeTensorsHeader parse_safetensors_header(const void* bytes, std::size_t size,
                                           const std::string& name);

/// A memory-mapped safetensors file.
class SafeTensorsFile {
 public:
  /// Maps and validates `path`; throws musefm::Error naming the file and the problem.
  static SafeTensorsFile open(const std::string& path);

  const std::vector<SafeTensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const;
  /// Header entry of `name`; throws if absent.
  const SafeTensorInfo& info(const std::string& name) const;
  /// The tensor as stored (dtype kept), on the CPU. Zero-copy when the data is aligned.
  at::Tensor get(const std::string& name) const;

  struct Mapping;

 private:
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  SafeTensorsHeader header_;
  std::map<std::string, std::size_t> index_;
};

/// Writes tensors (any device; contiguous copies are made) with optional string metadata,
/// atomically (temp file + fsync + rename). Names must be unique and non-empty.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace musefm
