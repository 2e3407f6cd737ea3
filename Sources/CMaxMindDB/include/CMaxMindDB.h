#ifndef CMAXMINDDB_H
#define CMAXMINDDB_H

/* Sentinel's view of libmaxminddb (libmaxminddb-dev): an opaque database handle and a country
 * lookup by address text. <maxminddb.h> is included by shim.c only: it pulls <sys/socket.h>,
 * <netdb.h> and <stdio.h>, and a module that exports them "owns" SOCK_STREAM and friends for
 * every Swift file that does not import it (FINDINGS.md). This header declares nothing else. */

typedef struct sentinel_mmdb sentinel_mmdb;

/* Opens the database at `path` (memory-mapped, read-only). NULL on failure, with `*status` the
 * libmaxminddb error code (sentinel_mmdb_strerror names it). */
sentinel_mmdb *sentinel_mmdb_open(const char *path, int *status);

/* Unmaps and frees `db`. */
void sentinel_mmdb_close(sentinel_mmdb *db);

/* Looks up `address` (IPv4 or IPv6 text, NUL-terminated). Returns 1 with the record's
 * `country.iso_code` in out[0..2) (two ASCII letters), 0 when the database has no record for
 * the address or the record no two-letter country code, -1 when `address` is not an address,
 * or -(error code + 2) for a lookup error (an IPv6 address in an IPv4-only database, a corrupt
 * tree or data section): sentinel_mmdb_strerror(-(result) - 2) names it. Thread-safe. */
int sentinel_mmdb_country(const sentinel_mmdb *db, const char *address, char *out);

/* The database's `database_type` metadata (e.g. "GeoLite2-Country"); never NULL. */
const char *sentinel_mmdb_type(const sentinel_mmdb *db);

/* libmaxminddb's message for an error code. */
const char *sentinel_mmdb_strerror(int status);

#endif
