// Process-wide tuning for long-running inference.
//
//   musefm::keep_freed_memory_for_reuse();   // once, at start-up (the musefm CLI does this)
//
// Encoders allocate and free the same tens-of-megabyte activations for every window. glibc
// returns such blocks to the kernel on free and the next window faults them in again (~10 %
// of the run time measured on MERT-v1-95M, 30 s windows). Raising malloc's mmap and trim
// thresholds keeps them in the heap for reuse; measured: ~6 % faster and a slightly lower peak
// RSS (benchmarks/RESULTS.md). A library should not change malloc behind an application's
// back, so this is opt-in. No effect on non-glibc systems.
#pragma once

#include <cstddef>

namespace musefm {

/// Blocks up to `mmap_threshold` bytes come from the heap; up to `trim_threshold` bytes of
/// free heap top are kept instead of being returned to the kernel.
void keep_freed_memory_for_reuse(std::size_t mmap_threshold = std::size_t(128) << 20,
                                 std::size_t trim_threshold = std::size_t(512) << 20);

}  // namespace musefm
