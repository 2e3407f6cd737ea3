// The orphan guard (docs/stack.md, "The orphan guard"): what the master tells it on fd 3, the
// watched set, and the loop that stops a dead master's children. C with libc only, so the guard
// process costs about a megabyte of RSS instead of a Swift runtime's twenty; the master's side
// (GuardMessage, GuardLink) stays in Swift.
#ifndef CSENTINEL_GUARD_H
#define CSENTINEL_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Longest /proc start time kept (clock ticks since boot: at most 20 digits).
#define SENTINEL_GUARD_START_MAX 32
/// Longest line; a longer one ends the reading as EOF does (as the master's LineBuffer).
#define SENTINEL_GUARD_LINE_MAX 4096

typedef enum {
    SENTINEL_GUARD_INVALID = 0,
    SENTINEL_GUARD_WATCH = 1,
    SENTINEL_GUARD_FORGET = 2,
    SENTINEL_GUARD_DISARM = 3,
} sentinel_guard_kind;

/// One line: `WATCH pid start term|kill ms`, `FORGET pid` or `DISARM`.
typedef struct {
    sentinel_guard_kind kind;
    int32_t pid;
    char start[SENTINEL_GUARD_START_MAX + 1];
    bool term;
    int64_t kill_after_ms;
} sentinel_guard_message;

typedef struct {
    int32_t pid;
    char start[SENTINEL_GUARD_START_MAX + 1];
    bool term;
    int64_t kill_after_ms;
} sentinel_guard_entry;

/// The watched process groups (one entry per pid) and whether the master disarmed the guard.
typedef struct {
    sentinel_guard_entry *entries;
    size_t count;
    size_t capacity;
    bool disarmed;
} sentinel_guard_state;

/// Parses one line (without its newline); returns its kind, SENTINEL_GUARD_INVALID for anything
/// else (unknown verb, wrong field count, pid ≤ 1 in WATCH, negative ms, a field that is not a
/// number).
sentinel_guard_kind sentinel_guard_parse(const char *line, size_t length, sentinel_guard_message *out);

/// Applies a parsed message; returns false only when memory for a new entry cannot be had.
bool sentinel_guard_apply(sentinel_guard_state *state, const sentinel_guard_message *message);

/// Writes the pids to SIGTERM at once when the master is gone (watched with `term`), ascending,
/// into `pids` (at most `capacity`); returns how many there are.
size_t sentinel_guard_term_at_once(const sentinel_guard_state *state, int32_t *pids, size_t capacity);

void sentinel_guard_state_free(sentinel_guard_state *state);

/// The guard process: ignores terminal and service-manager signals, reads lines on `fd` until EOF
/// (or a line too long), then, unless disarmed, logs `master_gone`, SIGTERMs every `term` group at
/// once, SIGKILLs each group still alive (same pid and start time, not a zombie) at its deadline,
/// and returns 0. Single-threaded; JSON log lines on stderr, role "guard".
int sentinel_guard_run(int fd);

#endif
