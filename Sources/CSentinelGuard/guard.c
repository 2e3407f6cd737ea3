#define _GNU_SOURCE
#include "CSentinelGuard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ---- parsing ---------------------------------------------------------------------------------

/// A decimal integer with an optional sign and nothing else, within [min, max].
static bool parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out) {
    size_t i = 0;
    bool negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        i++;
    }
    if (i == n) return false;
    int64_t value = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        int digit = s[i] - '0';
        if (value > (INT64_MAX - digit) / 10) return false;
        value = value * 10 + digit;
    }
    if (negative) value = -value;
    if (value < min || value > max) return false;
    *out = value;
    return true;
}

static bool field_is(const char *s, size_t n, const char *word) {
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

sentinel_guard_kind sentinel_guard_parse(const char *line, size_t length, sentinel_guard_message *out) {
    // Fields split on single spaces, empty ones dropped (as the master's Swift split).
    const char *field[6];
    size_t size[6];
    size_t count = 0;
    size_t i = 0;
    while (i < length) {
        while (i < length && line[i] == ' ') i++;
        if (i == length) break;
        size_t start = i;
        while (i < length && line[i] != ' ') i++;
        if (count == 6) return SENTINEL_GUARD_INVALID;
        field[count] = line + start;
        size[count] = i - start;
        count++;
    }
    memset(out, 0, sizeof *out);
    if (count == 0) return SENTINEL_GUARD_INVALID;
    int64_t pid = 0, ms = 0;
    if (field_is(field[0], size[0], "WATCH")) {
        if (count != 5 || !parse_int(field[1], size[1], 2, INT32_MAX, &pid)
            || !parse_int(field[4], size[4], 0, INT64_MAX / 1000000, &ms)
            || !(field_is(field[3], size[3], "term") || field_is(field[3], size[3], "kill"))
            || size[2] > SENTINEL_GUARD_START_MAX)
            return SENTINEL_GUARD_INVALID;
        out->pid = (int32_t)pid;
        memcpy(out->start, field[2], size[2]);
        out->start[size[2]] = 0;
        out->term = field_is(field[3], size[3], "term");
        out->kill_after_ms = ms;
        return out->kind = SENTINEL_GUARD_WATCH;
    }
    if (field_is(field[0], size[0], "FORGET")) {
        if (count != 2 || !parse_int(field[1], size[1], INT32_MIN, INT32_MAX, &pid)) return SENTINEL_GUARD_INVALID;
        out->pid = (int32_t)pid;
        return out->kind = SENTINEL_GUARD_FORGET;
    }
    if (field_is(field[0], size[0], "DISARM") && count == 1) return out->kind = SENTINEL_GUARD_DISARM;
    return SENTINEL_GUARD_INVALID;
}

// ---- the watched set ---------------------------------------------------------------------------

static sentinel_guard_entry *find(const sentinel_guard_state *state, int32_t pid) {
    for (size_t i = 0; i < state->count; i++)
        if (state->entries[i].pid == pid) return &state->entries[i];
    return NULL;
}

static void remove_at(sentinel_guard_state *state, size_t i) {
    state->entries[i] = state->entries[state->count - 1];
    state->count--;
}

bool sentinel_guard_apply(sentinel_guard_state *state, const sentinel_guard_message *m) {
    switch (m->kind) {
    case SENTINEL_GUARD_WATCH: {
        sentinel_guard_entry *e = find(state, m->pid);
        if (!e) {
            if (state->count == state->capacity) {
                size_t capacity = state->capacity ? state->capacity * 2 : 16;
                sentinel_guard_entry *grown = realloc(state->entries, capacity * sizeof *grown);
                if (!grown) return false;
                state->entries = grown;
                state->capacity = capacity;
            }
            e = &state->entries[state->count++];
        }
        e->pid = m->pid;
        memcpy(e->start, m->start, sizeof e->start);
        e->term = m->term;
        e->kill_after_ms = m->kill_after_ms;
        return true;
    }
    case SENTINEL_GUARD_FORGET:
        for (size_t i = 0; i < state->count; i++)
            if (state->entries[i].pid == m->pid) {
                remove_at(state, i);
                break;
            }
        return true;
    case SENTINEL_GUARD_DISARM:
        state->disarmed = true;
        return true;
    default:
        return true;
    }
}

static int compare_pid(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

size_t sentinel_guard_term_at_once(const sentinel_guard_state *state, int32_t *pids, size_t capacity) {
    size_t n = 0;
    for (size_t i = 0; i < state->count && n < capacity; i++)
        if (state->entries[i].term) pids[n++] = state->entries[i].pid;
    qsort(pids, n, sizeof *pids, compare_pid);
    return n;
}

void sentinel_guard_state_free(sentinel_guard_state *state) {
    free(state->entries);
    state->entries = NULL;
    state->count = state->capacity = 0;
}

// ---- processes ---------------------------------------------------------------------------------

/// Still the process that was registered (same pid, same /proc start time) and not a zombie.
static bool is_same(const sentinel_guard_entry *e) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)e->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n;
    do n = read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return false;
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    if (!close_paren) return false;
    // Fields after the command: 0 is the state, 19 the start time.
    char *p = close_paren + 1;
    const char *state = NULL;
    for (int field = 0; field <= 19; field++) {
        while (*p == ' ') p++;
        if (!*p) return false;
        char *end = p;
        while (*end && *end != ' ' && *end != '\n') end++;
        if (field == 0) state = p;
        if (field == 19) {
            if (*state == 'Z' || *state == 'X') return false;
            size_t len = (size_t)(end - p);
            return len == strlen(e->start) && memcmp(p, e->start, len) == 0;
        }
        p = end;
    }
    return false;
}

/// The whole process group (each worker and agent leads its own), else the process alone.
static void signal_group(int32_t pid, int sig) {
    if (kill(-pid, sig) != 0) kill(pid, sig);
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// ---- logging (the shape of SentinelObservability's JSONLogHandler) ---------------------------

/// `{"ts":…,"level":"warn","role":"guard","pid":…,"event":EVENT,KEY:VALUE}` with one write(2).
/// `value` is already JSON (a number or an array of numbers).
static void log_line(const char *event, const char *key, const char *value) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[SENTINEL_GUARD_LINE_MAX];
    int n = snprintf(line, sizeof line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"warn\",\"role\":\"guard\",\"pid\":%d,\"event\":\"%s\",\"%s\":%s}\n",
                     stamp, (long)(ts.tv_nsec / 1000000), (int)getpid(), event, key, value);
    if (n <= 0 || (size_t)n >= sizeof line) return;  // callers keep values short (see `watched`)
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(2, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += w;
    }
}

static void log_pid(const char *event, int32_t pid) {
    char value[16];
    snprintf(value, sizeof value, "%d", (int)pid);
    log_line(event, "orphan_pid", value);
}

// ---- the loop ------------------------------------------------------------------------------------

/// Reads lines until EOF, an error or a line too long; applies each valid one.
static void read_until_eof(int fd, sentinel_guard_state *state) {
    static char pending[2 * SENTINEL_GUARD_LINE_MAX + 1];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, pending + used, SENTINEL_GUARD_LINE_MAX);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        used += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < used; i++) {
            if (pending[i] != '\n') continue;
            sentinel_guard_message m;
            if (sentinel_guard_parse(pending + start, i - start, &m) != SENTINEL_GUARD_INVALID) sentinel_guard_apply(state, &m);
            start = i + 1;
        }
        memmove(pending, pending + start, used - start);
        used -= start;
        if (used > SENTINEL_GUARD_LINE_MAX) return;
    }
}

int sentinel_guard_run(int fd) {
    // The master decides this process's life: terminal and service-manager signals that reach it
    // are ignored (SIGKILL still works); EOF on fd is the only trigger.
    int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) signal(ignored[i], SIG_IGN);
    sentinel_guard_state state = {0};
    read_until_eof(fd, &state);
    close(fd);
    if (state.disarmed || state.count == 0) {
        sentinel_guard_state_free(&state);
        return 0;
    }
    int32_t *pids = malloc(state.count * sizeof *pids);
    if (!pids) {
        // No memory for the log line: still stop every group (TERM to agents, KILL at the latest deadline).
        for (size_t i = 0; i < state.count; i++)
            if (state.entries[i].term && is_same(&state.entries[i])) signal_group(state.entries[i].pid, SIGTERM);
    } else {
        char watched[SENTINEL_GUARD_LINE_MAX - 256];
        size_t len = 0;
        for (size_t i = 0; i < state.count; i++) pids[i] = state.entries[i].pid;
        qsort(pids, state.count, sizeof *pids, compare_pid);
        watched[len++] = '[';
        for (size_t i = 0; i < state.count && len + 16 < sizeof watched; i++)
            len += (size_t)snprintf(watched + len, sizeof watched - len, i ? ",%d" : "%d", (int)pids[i]);
        watched[len++] = ']';
        watched[len] = 0;
        log_line("master_gone", "watched", watched);
        size_t terms = sentinel_guard_term_at_once(&state, pids, state.count);
        for (size_t i = 0; i < terms; i++) {
            sentinel_guard_entry *e = find(&state, pids[i]);
            if (e && is_same(e)) {
                signal_group(e->pid, SIGTERM);
                log_pid("orphan_terminated", e->pid);
            }
        }
        free(pids);
    }
    int64_t start = monotonic_ms();
    while (state.count > 0) {
        int64_t elapsed = monotonic_ms() - start;
        for (size_t i = 0; i < state.count;) {
            sentinel_guard_entry *e = &state.entries[i];
            if (!is_same(e)) {
                remove_at(&state, i);
            } else if (elapsed >= e->kill_after_ms) {
                signal_group(e->pid, SIGKILL);
                log_pid("orphan_killed", e->pid);
                remove_at(&state, i);
            } else {
                i++;
            }
        }
        if (state.count > 0) usleep(20000);
    }
    sentinel_guard_state_free(&state);
    return 0;
}
