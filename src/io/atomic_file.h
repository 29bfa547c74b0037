// Internal: write to "<path>.tmp.<pid>", fsync, rename over <path> on commit(); the temporary
// file is removed if the writer is destroyed without commit() (error paths).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace musefm::io_detail {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, std::size_t size);
  /// Writes at byte `offset` (the file grows as needed), then returns to the end.
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

}  // namespace musefm::io_detail
