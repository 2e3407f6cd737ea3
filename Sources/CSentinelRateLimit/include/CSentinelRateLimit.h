#ifndef CSENTINEL_RATELIMIT_H
#define CSENTINEL_RATELIMIT_H

#include <stdint.h>
#include <stdbool.h>

/// 64-bit atomics on memory Swift does not own (a mapping shared by worker processes): loads,
/// stores, compare-and-swap and add, all sequentially consistent. Inline, so a call is one
/// instruction on x86-64 and aarch64.
static inline uint64_t sentinel_rl_load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void sentinel_rl_store(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/// Replaces *p with `desired` when it holds `*expected`; otherwise writes the current value to
/// `*expected` and returns false.
static inline bool sentinel_rl_cas(uint64_t *p, uint64_t *expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline uint64_t sentinel_rl_add(uint64_t *p, uint64_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine, so workers
/// sharing a table agree on "now".
uint64_t sentinel_rl_monotonic_ns(void);

/// CLOCK_REALTIME in nanoseconds (for X-RateLimit-Reset, which is epoch seconds).
uint64_t sentinel_rl_realtime_ns(void);

/// An anonymous memory file (memfd_create, close-on-exec) of `size` bytes, zero-filled and
/// sparse (pages exist once touched). Returns the fd or -1 (errno set).
int sentinel_rl_memfd(const char *name, uint64_t size);

#endif
