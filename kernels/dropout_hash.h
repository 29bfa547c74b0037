// Internal: the dropout keep decision shared by the CPU and CUDA attention kernels — a
// counter-based hash of (seed, batch*head, query, key), so the backward pass (and tests)
// regenerate the forward's mask without storing it.
#pragma once

#include <cstdint>

// Internal linkage on purpose: each CPU kernel translation unit is compiled for another
// instruction set, and a shared inline copy (e.g. an AVX-512 int-to-float conversion) could be
// picked by the linker for all of them.
#ifdef __CUDACC__
#define MUSEFM_HD static __host__ __device__ __forceinline__
#else
#define MUSEFM_HD static inline
#endif

namespace musefm::kernels {

MUSEFM_HD bool dropout_keep_hash(uint64_t seed, int64_t bh, int64_t i, int64_t j, int64_t Tq,
                                 int64_t Tk, float p) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t((bh * Tq + i) * Tk + j + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const float u = float(z >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
  return u >= p;
}

}  // namespace musefm::kernels
