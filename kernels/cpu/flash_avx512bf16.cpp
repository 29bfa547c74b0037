// CPU flash attention compiled for AVX-512 with BF16 dot products (see flash_kernel.h and
// flash_bf16dp.h): the AVX-512 kernels, with the bf16 inference forward on vdpbf16ps.
// System headers first, at global scope: the kernel headers below are included inside an
// ISA namespace and must not pull library code into it.
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/flash_problem.h"

namespace musefm::kernels::cpu {
namespace avx512bf16 {
#include "cpu/vec_avx512.h"

#include "cpu/flash_kernel.h"

#include "cpu/flash_bf16dp.h"

#include "cpu/nearest_kernel.h"
}  // namespace avx512bf16

const FlashKernels& kernels_avx512bf16() {
  static const FlashKernels k{"avx512bf16",
                              avx512bf16::dp_or_pack_keys,
                              avx512bf16::pack_queries,
                              avx512bf16::dp_or_forward,
                              avx512bf16::backward_dkdv,
                              avx512bf16::backward_dq,
                              avx512bf16::nearest};
  return k;
}

}  // namespace musefm::kernels::cpu
