#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H
#include <stdint.h>
/// Number of malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign calls so far in this
/// process (all threads). Only meaningful in an executable that links this target.
uint64_t sentinel_allocation_count(void);
#endif
