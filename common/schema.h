/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema -- the SQL migrations of schema/ embedded at build time, and the check a process runs
 * at start to refuse a database whose schema is older than the one it was built for.
 *
 * `sluice-coordinator migrate` applies the migrations and records each one in the
 * schema_migrations table (version, name, SHA-256 of the file, time applied).
 */
#ifndef SL_SCHEMA_H
#define SL_SCHEMA_H

#include <stddef.h>

#include "common/status.h"

/* The table that records applied migrations; migrate creates it before the first one. */
#define SL_SCHEMA_MIGRATIONS_DDL                                                                   \
    "CREATE TABLE IF NOT EXISTS schema_migrations ("                                               \
    " version integer PRIMARY KEY,"                                                                \
    " name text NOT NULL,"                                                                         \
    " checksum text NOT NULL,"                                                                     \
    " applied_at timestamptz NOT NULL DEFAULT now())"

/* One file schema/NNNN_name.sql. */
struct sl_migration {
    int version;          /* NNNN */
    const char *name;     /* the file name between NNNN_ and .sql */
    const char *sql;      /* the file's text */
    const char *checksum; /* SHA-256 of the file, 64 lowercase hex digits */
};

/* Every migration in ascending version order (generated from the schema/ files). */
extern const struct sl_migration sl_migrations[];
extern const size_t sl_migrations_count;

/* Returns the highest embedded version: the schema this build needs. */
int sl_schema_required_version(void);

/*
 * Connects to `conninfo` (a postgresql:// URL or libpq keyword string; blocking, 5 s connect
 * timeout) and compares the highest version in schema_migrations with
 * sl_schema_required_version(). A newer database is accepted.
 *
 * Returns SL_OK; SL_ERR_CONFIG when the schema is missing or older, with a message that names
 * both versions and the command to run, `sluice-coordinator migrate`; SL_ERR_UNAVAILABLE when the
 * database cannot be reached or queried. The reason is written to `err`.
 */
enum sl_status sl_schema_check(const char *conninfo, struct sl_errbuf *err);

#endif /* SL_SCHEMA_H */
