#ifndef CSENTINEL_REACTOR_H
#define CSENTINEL_REACTOR_H

#include <stdint.h>

/// The reactor's system calls that Swift's Glibc module does not import (epoll, eventfd,
/// accept4 are behind _GNU_SOURCE or in headers outside the module). Plain integer types
/// only, so this header owns no libc declaration (see docs/architecture.md, "Own reactor").
/// Every function returns -1 with errno set on failure, like the call it wraps.

/// One readiness event as the reactor sees it. Not `struct epoll_event`: that one is packed
/// on x86-64, which Swift imports awkwardly; the shim copies the two fields.
typedef struct {
    uint32_t events;
    uint64_t token;
} sentinel_poll_event;

/// epoll event bits (checked against <sys/epoll.h> at compile time in reactor.c).
enum {
    SENTINEL_EPOLLIN = 0x001,
    SENTINEL_EPOLLOUT = 0x004,
    SENTINEL_EPOLLERR = 0x008,
    SENTINEL_EPOLLHUP = 0x010,
    SENTINEL_EPOLLRDHUP = 0x2000,
    SENTINEL_EPOLLET = (int)0x80000000u,
};

/// epoll_ctl operations.
enum { SENTINEL_EPOLL_CTL_ADD = 1, SENTINEL_EPOLL_CTL_DEL = 2, SENTINEL_EPOLL_CTL_MOD = 3 };

/// epoll_create1(EPOLL_CLOEXEC).
int sentinel_epoll_create(void);
/// epoll_ctl ADD (op 1), DEL (2) or MOD (3) with `events` and a 64-bit token.
int sentinel_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// epoll_wait into `out` (at most `max` events, at most 1024); timeout in ms, -1 = forever.
int sentinel_epoll_wait(int epfd, sentinel_poll_event *out, int max, int timeout_ms);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int sentinel_eventfd(void);
/// accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC); `addr` may be NULL.
int sentinel_accept(int fd, void *addr, uint32_t *len);
/// socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
int sentinel_stream_socket(int family);
/// send(fd, buf, len, MSG_NOSIGNAL): a write that never raises SIGPIPE.
long sentinel_send(int fd, const void *buf, unsigned long len);
/// sendmsg with an iovec array and MSG_NOSIGNAL (writev without SIGPIPE). `iov` points at
/// `struct iovec`s; `count` at most 64.
long sentinel_sendv(int fd, const void *iov, int count);

#endif
