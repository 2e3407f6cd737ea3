#include "CMaxMindDB.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct sentinel_mmdb {
    MMDB_s mmdb;
};

sentinel_mmdb *sentinel_mmdb_open(const char *path, int *status) {
    sentinel_mmdb *db = calloc(1, sizeof *db);
    if (db == NULL) {
        *status = MMDB_OUT_OF_MEMORY_ERROR;
        return NULL;
    }
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
    if (rc != MMDB_SUCCESS) {
        *status = rc;
        free(db);
        return NULL;
    }
    *status = MMDB_SUCCESS;
    return db;
}

void sentinel_mmdb_close(sentinel_mmdb *db) {
    if (db == NULL) return;
    MMDB_close(&db->mmdb);
    free(db);
}

int sentinel_mmdb_country(const sentinel_mmdb *db, const char *address, char *out) {
    struct sockaddr_in6 v6;
    struct sockaddr_in v4;
    const struct sockaddr *sa;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, address, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        sa = (const struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, address, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        sa = (const struct sockaddr *)&v6;
    } else {
        return -1;
    }
    int error = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&db->mmdb, sa, &error);
    if (error != MMDB_SUCCESS) return -(error + 2);
    if (!result.found_entry) return 0;
    MMDB_entry_data_s data;
    static const char *const path[] = {"country", "iso_code", NULL};
    int rc = MMDB_aget_value(&result.entry, &data, path);
    if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) return 0;
    if (rc != MMDB_SUCCESS) return -(rc + 2);
    if (!data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2) return 0;
    out[0] = data.utf8_string[0];
    out[1] = data.utf8_string[1];
    return 1;
}

const char *sentinel_mmdb_type(const sentinel_mmdb *db) {
    return db->mmdb.metadata.database_type != NULL ? db->mmdb.metadata.database_type : "";
}

const char *sentinel_mmdb_strerror(int status) {
    return MMDB_strerror(status);
}
