// `sentinel-guard`: the orphan guard process `sentinel-stack up` starts beside its workers and
// agents (docs/stack.md, "The orphan guard"). fd 3: the master's socket. Started by hand it reads
// EOF (or EBADF) at once and exits 0.
#include "CSentinelGuard.h"

int main(void) { return sentinel_guard_run(3); }
