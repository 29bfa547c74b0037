#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "musefm/error.h"

namespace musefm::io_detail {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "wb");
  MUSEFM_CHECK(file_ != nullptr, "cannot write '", path_, "': ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (size == 0) return;
  MUSEFM_CHECK(std::fwrite(data, 1, size, file_) == size, "cannot write '", path_,
               "': ", std::strerror(errno));
}

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  MUSEFM_CHECK(::fseeko(file_, off_t(offset), SEEK_SET) == 0, "cannot write '", path_,
               "': ", std::strerror(errno));
  write(data, size);
  MUSEFM_CHECK(::fseeko(file_, 0, SEEK_END) == 0, "cannot write '", path_,
               "': ", std::strerror(errno));
}

void AtomicFile::commit() {
  MUSEFM_CHECK(std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0, "cannot write '", path_,
               "': ", std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_.c_str());
    MUSEFM_FAIL("cannot write '", path_, "': rename failed: ", std::strerror(err));
  }
}

}  // namespace musefm::io_detail
