// Internal: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3), the one hash of
// cache keys, run keys and file checksums. Not cryptographic: it names things, it does not
// protect them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace musefm::detail {

constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnv1a64Prime = 0x100000001b3ull;

/// Incremental FNV-1a 64.
class Fnv1a64 {
 public:
  /// Raw bytes.
  void add_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * kFnv1a64Prime;
  }
  /// A field: its bytes, then its length (so "ab" + "c" and "a" + "bc" differ).
  void add(std::string_view s) {
    add_bytes(s.data(), s.size());
    add_u64(s.size());
  }
  /// An integer in the machine's byte order.
  void add_u64(uint64_t v) { add_bytes(&v, sizeof v); }
  uint64_t value() const { return h_; }
  /// The first `digits` (1..16) of the zero-padded lowercase hex value.
  std::string hex(int digits = 16) const {
    char t[17];
    std::snprintf(t, sizeof t, "%016llx", static_cast<unsigned long long>(h_));
    return std::string(t, size_t(digits < 1 ? 1 : digits > 16 ? 16 : digits));
  }

 private:
  uint64_t h_ = kFnv1a64Offset;
};

/// FNV-1a 64 of a string's bytes (no length appended), as 16 lowercase hex digits.
inline std::string fnv1a64_hex(std::string_view text) {
  Fnv1a64 h;
  h.add_bytes(text.data(), text.size());
  return h.hex();
}

}  // namespace musefm::detail
