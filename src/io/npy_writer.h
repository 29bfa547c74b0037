// Internal: a float32 .npy file of known shape written block by block at any position (e.g.
// frames of every layer as a long input streams through), atomically on commit().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace musefm::io_detail {

class NpyFileWriter {
 public:
  NpyFileWriter(const std::string& path, std::vector<int64_t> shape);
  /// Writes `count` values starting at flat (C-order) element `offset`.
  void write(int64_t offset, const float* data, int64_t count);
  void commit();
  const std::vector<int64_t>& shape() const { return shape_; }

 private:
  std::string path_;
  std::vector<int64_t> shape_;
  AtomicFile file_;
  uint64_t data_offset_ = 0;
  int64_t size_ = 0;
};

}  // namespace musefm::io_detail
