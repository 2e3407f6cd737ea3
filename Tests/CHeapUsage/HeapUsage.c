#include "CHeapUsage.h"
#include <malloc.h>

size_t sentinel_heap_in_use(void) { return mallinfo2().uordblks; }
