// See idle_memory.hpp.
#include "backends/common/idle_memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lancet::backend::common {

void release_free_memory() noexcept {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace lancet::backend::common
