// NumPy .npy files (format 1.0 / 2.0 / 3.0): the embedding and feature interchange format.
//
//   musefm::write_npy("feat.npy", data.data(), {frames, dims});   // little-endian float32, C order
//   musefm::NpyArray a = musefm::read_npy("feat.npy");             // float32 / float64 / int /
//   uint
//
// Writes go to "<path>.tmp" and are renamed on success, so a crash never leaves a partial file.
// read_npy parses untrusted input defensively: bad magic, header syntax, dtype, fortran order,
// shapes whose product overflows or disagrees with the file size are errors naming the file.
#pragma once

#include <cstdint>
#include <string>

#include <vector>
#include "musefm/error.h"

namespace musefm {

/// A decoded array, converted to float32 (integers and float64 are cast).
struct NpyArray {
  std::vector<int64_t> shape;  ///< C order
  std::vector<float> data;     ///< prod(shape) values
  std::string dtype;           ///< dtype descriptor found in the file, e.g. "<f4"
  /// Number of elements.
  int64_t numel() const;
};

/// Writes a little-endian float32 array in C order (atomically: temp file + rename).
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);

/// Reads an array; throws musefm::Error naming `path` and the problem.
NpyArray read_npy(const std::string& path);

/// Parses an in-memory .npy image; `name` is used in error messages (fuzzing entry point).
NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name);

}  // namespace musefm
