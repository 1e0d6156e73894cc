/* SPDX-License-Identifier: Apache-2.0 */
/* schema -- the start-up schema version check; see schema.h. */
#include "common/schema.h"

#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

#define SL_SCHEMA_CHECK_CONNECT_TIMEOUT_S 5

int
sl_schema_required_version(void)
{
    int max = 0;

    for (size_t i = 0; i < sl_migrations_count; i++) {
        if (sl_migrations[i].version > max)
            max = sl_migrations[i].version;
    }
    return max;
}

enum sl_status
sl_schema_check(const char *conninfo, struct sl_errbuf *err)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int required = sl_schema_required_version();
    long current = 0;
    enum sl_status rc;

    conn = sl_pg_connect_sync(conninfo, SL_SCHEMA_CHECK_CONNECT_TIMEOUT_S, err);
    if (conn == NULL)
        return SL_ERR_UNAVAILABLE;

    /* Two statements: a query naming a missing table fails at parse time, even in a CASE. */
    rc = sl_pg_exec_sync(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
                         &res, err);
    if (rc != SL_OK) {
        rc = SL_ERR_UNAVAILABLE;
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        sl_errbuf_set(err,
                      "the database has no Sluice schema (table schema_migrations not found) but "
                      "this build needs schema version %d: run `sluice-coordinator migrate`",
                      required);
        rc = SL_ERR_CONFIG;
        goto out;
    }
    PQclear(res);
    res = NULL;

    rc = sl_pg_exec_sync(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
                         &res, err);
    if (rc != SL_OK) {
        rc = SL_ERR_UNAVAILABLE;
        goto out;
    }
    current = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    if (current < required) {
        sl_errbuf_set(err,
                      "the database schema is at version %ld but this build needs version %d: "
                      "run `sluice-coordinator migrate`",
                      current, required);
        rc = SL_ERR_CONFIG;
        goto out;
    }
    rc = SL_OK;

out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}
