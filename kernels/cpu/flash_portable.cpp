// CPU flash attention compiled for portable (see flash_kernel.h).
// System headers first, at global scope: the kernel headers below are included inside an
// ISA namespace and must not pull library code into it.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/flash_problem.h"

namespace musefm::kernels::cpu {
namespace portable {
// The vector ops first, then the kernels written against them.
#include "cpu/vec_portable.h"

#include "cpu/flash_kernel.h"
#include "cpu/nearest_kernel.h"
}  // namespace portable

const FlashKernels& kernels_portable() {
  static const FlashKernels k{"portable",        portable::pack_keys,     portable::pack_queries,
                              portable::forward, portable::backward_dkdv, portable::backward_dq,
                              portable::nearest};
  return k;
}

}  // namespace musefm::kernels::cpu
