#define _GNU_SOURCE
#include "CSentinelReactor.h"
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

_Static_assert(SENTINEL_EPOLLIN == EPOLLIN, "EPOLLIN");
_Static_assert(SENTINEL_EPOLLOUT == EPOLLOUT, "EPOLLOUT");
_Static_assert(SENTINEL_EPOLLERR == EPOLLERR, "EPOLLERR");
_Static_assert(SENTINEL_EPOLLHUP == EPOLLHUP, "EPOLLHUP");
_Static_assert(SENTINEL_EPOLLRDHUP == EPOLLRDHUP, "EPOLLRDHUP");
_Static_assert(SENTINEL_EPOLL_CTL_ADD == EPOLL_CTL_ADD && SENTINEL_EPOLL_CTL_DEL == EPOLL_CTL_DEL && SENTINEL_EPOLL_CTL_MOD == EPOLL_CTL_MOD, "EPOLL_CTL_*");
_Static_assert((uint32_t)SENTINEL_EPOLLET == (uint32_t)EPOLLET, "EPOLLET");

int sentinel_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sentinel_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}

int sentinel_epoll_wait(int epfd, sentinel_poll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[1024];
    if (max > 1024) max = 1024;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].token = evs[i].data.u64;
    }
    return n;
}

int sentinel_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int sentinel_accept(int fd, void *addr, uint32_t *len) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int sentinel_stream_socket(int family) { return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

long sentinel_send(int fd, const void *buf, unsigned long len) { return send(fd, buf, len, MSG_NOSIGNAL); }

long sentinel_sendv(int fd, const void *iov, int count) {
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)count;
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}
