#ifndef CSYSTEMD_SHIM_H
#define CSYSTEMD_SHIM_H

/* The three functions Sentinel uses, declared exactly as <systemd/sd-daemon.h> does (a stable
 * ABI). Including sd-daemon.h itself pulls <sys/socket.h> into this module, which then "owns"
 * SOCK_STREAM and friends: files that do not import CSystemd lose them on a clean build
 * (FINDINGS.md). Declaring only what is needed avoids that trap. */
int sd_notify(int unset_environment, const char *state);
int sd_listen_fds(int unset_environment);
int sd_watchdog_enabled(int unset_environment, unsigned long long *usec);

#endif
