/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate -- applies the embedded schema/ migrations to a PostgreSQL database.
 *
 * Runs blocking, from `sluice-coordinator migrate`, before any gateway starts. A session-level
 * advisory lock serialises concurrent runs: a second coordinator waits for the first one, then
 * finds nothing left to do. Each migration runs in its own transaction together with its row in
 * schema_migrations, so a failed migration leaves no trace and the next run retries it.
 */
#ifndef SL_MIGRATE_H
#define SL_MIGRATE_H

#include "common/status.h"

/* Key of the advisory lock taken by migrate: the bytes 00 "sluice" 01 as a bigint. */
#define SL_MIGRATE_LOCK_KEY "32488873856820481"

/*
 * Applies every pending migration in version order, logging one line per migration.
 *
 * Returns SL_OK, also when nothing was pending. Errors, with the reason in `err`:
 * SL_ERR_UNAVAILABLE when the database cannot be reached; SL_ERR_CONFIG when an applied
 * migration's checksum differs from the embedded file, or a pending migration is older than
 * one already applied; SL_ERR_STORE when a migration fails.
 */
enum sl_status sl_migrate_run(const char *conninfo, struct sl_errbuf *err);

#endif /* SL_MIGRATE_H */
