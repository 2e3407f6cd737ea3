#ifndef CSENTINEL_LINUX_H
#define CSENTINEL_LINUX_H

#include <spawn.h>
#include <stddef.h>
#include "CSentinelReactor.h"

/// Adds "close every fd >= lowfd" to a spawn's file actions (glibc >= 2.34). Swift's Glibc
/// module hides this GNU extension, hence the shim. Returns 0 or an errno value.
int sentinel_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// An anonymous in-memory file (memfd_create, close-on-exec) holding the exact configuration
/// bytes a generation's workers load. Returns the fd or -1 (errno set).
int sentinel_memfd(const char *name);

/// Adds write/grow/shrink seals to a memfd so no process can change the handed-over bytes.
int sentinel_memfd_seal(int fd);

/// The uid of the process at the other end of a unix socket (SO_PEERCRED; `struct ucred` needs
/// _GNU_SOURCE, which Swift's Glibc module does not define). Returns 0 or -1 (errno set).
int sentinel_peer_uid(int fd, unsigned int *uid);

/// Adds "change to this directory" to a spawn's file actions (glibc >= 2.29), for an agent's
/// `working-directory`: the master is multi-threaded, so it never chdir()s itself. Returns 0 or an errno value.
int sentinel_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
