#include "musefm/runtime.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace musefm {

void keep_freed_memory_for_reuse(std::size_t mmap_threshold, std::size_t trim_threshold) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, int(mmap_threshold));
  mallopt(M_TRIM_THRESHOLD, int(trim_threshold));
#else
  (void)mmap_threshold;
  (void)trim_threshold;
#endif
}

}  // namespace musefm
