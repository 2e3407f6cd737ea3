#ifndef C_HEAP_USAGE_H
#define C_HEAP_USAGE_H
#include <stddef.h>
/// Bytes of heap in use by malloc (glibc mallinfo2().uordblks), for leak and growth tests.
size_t sentinel_heap_in_use(void);
#endif
