// CPU flash attention compiled for avx512 (see flash_kernel.h).
// System headers first, at global scope: the kernel headers below are included inside an
// ISA namespace and must not pull library code into it.
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/flash_problem.h"

namespace musefm::kernels::cpu {
namespace avx512 {
// The vector ops first, then the kernels written against them.
#include "cpu/vec_avx512.h"

#include "cpu/flash_kernel.h"
#include "cpu/nearest_kernel.h"
}  // namespace avx512

const FlashKernels& kernels_avx512() {
  static const FlashKernels k{"avx512",        avx512::pack_keys,     avx512::pack_queries,
                              avx512::forward, avx512::backward_dkdv, avx512::backward_dq,
                              avx512::nearest};
  return k;
}

}  // namespace musefm::kernels::cpu
