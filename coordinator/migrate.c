/* SPDX-License-Identifier: Apache-2.0 */
/* migrate -- schema migrations under an advisory lock; see migrate.h. */
#define SL_LOG_MODULE "migrate"
#include "coordinator/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/schema.h"
#include "common/xalloc.h"

#define MIGRATE_CONNECT_TIMEOUT_S 10

/* One row of schema_migrations. */
struct applied {
    int version;
    char *name;
    char *checksum;
};

static void
free_applied(struct applied *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].name);
        free(rows[i].checksum);
    }
    free(rows);
}

static const struct applied *
find_applied(const struct applied *rows, size_t n, int version)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].version == version)
            return &rows[i];
    }
    return NULL;
}

static const struct sl_migration *
find_embedded(int version)
{
    for (size_t i = 0; i < sl_migrations_count; i++) {
        if (sl_migrations[i].version == version)
            return &sl_migrations[i];
    }
    return NULL;
}

/* Waits for the advisory lock, logging once if another run holds it. */
static enum sl_status
take_lock(PGconn *conn, struct sl_errbuf *err)
{
    const char *params[] = {SL_MIGRATE_LOCK_KEY};
    PGresult *res = NULL;
    enum sl_status rc;
    int taken;

    rc = sl_pg_exec_sync(conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, params, &res, err);
    if (rc != SL_OK)
        return rc;
    taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (taken)
        return SL_OK;

    sl_log(SL_LOG_INFO, NULL, "migrate.lock_wait",
           SL_LOG_STR("reason", "another migrate run holds the lock"));
    return sl_pg_exec_sync(conn, "SELECT pg_advisory_lock($1::bigint)", 1, params, NULL, err);
}

static enum sl_status
read_applied(PGconn *conn, struct applied **rows_out, size_t *n_out, struct sl_errbuf *err)
{
    PGresult *res = NULL;
    struct applied *rows;
    size_t n;
    enum sl_status rc;

    rc = sl_pg_exec_sync(conn, "SELECT version, name, checksum FROM schema_migrations"
                               " ORDER BY version", 0, NULL, &res, err);
    if (rc != SL_OK)
        return rc;
    n = (size_t)PQntuples(res);
    rows = sl_xcalloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        rows[i].version = (int)strtol(PQgetvalue(res, (int)i, 0), NULL, 10);
        rows[i].name = sl_xstrdup(PQgetvalue(res, (int)i, 1));
        rows[i].checksum = sl_xstrdup(PQgetvalue(res, (int)i, 2));
    }
    PQclear(res);
    *rows_out = rows;
    *n_out = n;
    return SL_OK;
}

/* Refuses a database whose applied migrations no longer match the files of this build. */
static enum sl_status
verify_applied(const struct applied *rows, size_t n, struct sl_errbuf *err)
{
    int max_applied = 0;

    for (size_t i = 0; i < n; i++) {
        const struct sl_migration *m = find_embedded(rows[i].version);

        if (rows[i].version > max_applied)
            max_applied = rows[i].version;
        if (m == NULL) {
            sl_log(SL_LOG_WARN, NULL, "migrate.unknown_version",
                   SL_LOG_INT("version", rows[i].version), SL_LOG_STR("name", rows[i].name),
                   SL_LOG_STR("reason", "applied by a newer build; left as it is"));
            continue;
        }
        if (strcmp(m->checksum, rows[i].checksum) != 0) {
            sl_errbuf_set(err,
                          "migration %04d_%s.sql was changed after it was applied (checksum "
                          "%.12s... in the database, %.12s... in this build): restore the "
                          "original file and put the change in a new migration",
                          m->version, m->name, rows[i].checksum, m->checksum);
            return SL_ERR_CONFIG;
        }
    }
    for (size_t i = 0; i < sl_migrations_count; i++) {
        const struct sl_migration *m = &sl_migrations[i];

        if (m->version < max_applied && find_applied(rows, n, m->version) == NULL) {
            sl_errbuf_set(err,
                          "migration %04d_%s.sql is not applied but the database already has "
                          "version %d: renumber it above %d",
                          m->version, m->name, max_applied, max_applied);
            return SL_ERR_CONFIG;
        }
    }
    return SL_OK;
}

/* Runs one migration and records it, in one transaction. */
static enum sl_status
apply_one(PGconn *conn, const struct sl_migration *m, struct sl_errbuf *err)
{
    char version[16];
    const char *params[3];
    struct sl_errbuf cause;
    uint64_t start = sl_now_ms();
    enum sl_status rc;

    snprintf(version, sizeof(version), "%d", m->version);
    params[0] = version;
    params[1] = m->name;
    params[2] = m->checksum;

    rc = sl_pg_exec_sync(conn, "BEGIN", 0, NULL, NULL, &cause);
    if (rc == SL_OK)
        rc = sl_pg_exec_sync(conn, m->sql, 0, NULL, NULL, &cause);
    if (rc == SL_OK)
        rc = sl_pg_exec_sync(conn, "INSERT INTO schema_migrations (version, name, checksum)"
                                   " VALUES ($1::integer, $2, $3)", 3, params, NULL, &cause);
    if (rc == SL_OK)
        rc = sl_pg_exec_sync(conn, "COMMIT", 0, NULL, NULL, &cause);
    if (rc != SL_OK) {
        sl_pg_exec_sync(conn, "ROLLBACK", 0, NULL, NULL, NULL);
        sl_errbuf_set(err, "migration %04d_%s.sql failed and was rolled back: %s", m->version,
                      m->name, cause.msg);
        return rc;
    }
    sl_log(SL_LOG_INFO, NULL, "migrate.applied", SL_LOG_INT("version", m->version),
           SL_LOG_STR("name", m->name), SL_LOG_STR("checksum", m->checksum),
           SL_LOG_INT("duration_ms", sl_now_ms() - start));
    return SL_OK;
}

enum sl_status
sl_migrate_run(const char *conninfo, struct sl_errbuf *err)
{
    PGconn *conn = NULL;
    struct applied *rows = NULL;
    size_t n_rows = 0;
    int applied = 0;
    enum sl_status rc;

    conn = sl_pg_connect_sync(conninfo, MIGRATE_CONNECT_TIMEOUT_S, err);
    if (conn == NULL)
        return SL_ERR_UNAVAILABLE;

    /* The lock is held by this session until it ends, so a crash cannot leave it taken. */
    rc = take_lock(conn, err);
    if (rc != SL_OK)
        goto out;
    rc = sl_pg_exec_sync(conn, SL_SCHEMA_MIGRATIONS_DDL, 0, NULL, NULL, err);
    if (rc != SL_OK)
        goto out;
    rc = read_applied(conn, &rows, &n_rows, err);
    if (rc != SL_OK)
        goto out;
    rc = verify_applied(rows, n_rows, err);
    if (rc != SL_OK)
        goto out;

    for (size_t i = 0; i < sl_migrations_count; i++) {
        const struct sl_migration *m = &sl_migrations[i];

        if (find_applied(rows, n_rows, m->version) != NULL)
            continue;
        rc = apply_one(conn, m, err);
        if (rc != SL_OK)
            goto out;
        applied++;
    }
    sl_log(SL_LOG_INFO, NULL, "migrate.done", SL_LOG_INT("applied", applied),
           SL_LOG_INT("version", sl_schema_required_version()));

out:
    free_applied(rows, n_rows);
    PQfinish(conn);
    return rc;
}
