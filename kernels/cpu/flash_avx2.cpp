// CPU flash attention compiled for avx2 (see flash_kernel.h).
// System headers first, at global scope: the kernel headers below are included inside an
// ISA namespace and must not pull library code into it.
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/flash_problem.h"

namespace musefm::kernels::cpu {
namespace avx2 {
// The vector ops first, then the kernels written against them.
#include "cpu/vec_avx2.h"

#include "cpu/flash_kernel.h"
#include "cpu/nearest_kernel.h"
}  // namespace avx2

const FlashKernels& kernels_avx2() {
  static const FlashKernels k{"avx2",        avx2::pack_keys,     avx2::pack_queries,
                              avx2::forward, avx2::backward_dkdv, avx2::backward_dq,
                              avx2::nearest};
  return k;
}

}  // namespace musefm::kernels::cpu
