/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention -- the coordinator's spend log retention job: deletes spend_logs rows older than
 * general_settings.maximum_spend_logs_retention_period, a batch at a time.
 *
 * Each batch is its own statement and transaction, so row locks are held only for one batch
 * and the gateways' spend events keep being written while old rows go. A run stops after about
 * SL_COORD_RETENTION_RUN_MS, and the next run continues where it stopped. daily_spend totals
 * are kept. The leader calls it every general_settings.maximum_spend_logs_retention_interval on
 * a blocking connection. Design notes: docs/coordinator.md, "Budget resets and retention".
 */
#ifndef SL_COORD_RETENTION_H
#define SL_COORD_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/status.h"

/* A run starts no new batch after this many milliseconds. */
#define SL_COORD_RETENTION_RUN_MS 2000

/* Rows per DELETE statement when the caller has no reason to choose another size. */
#define SL_COORD_RETENTION_BATCH_DEFAULT 1000

/* Largest batch accepted: the row ids of one batch are collected in memory by the server. */
#define SL_COORD_RETENTION_BATCH_MAX 100000

/*
 * Deletes the spend_logs rows whose start_time is before `now_s - max_age_s` (Unix seconds),
 * `batch` rows per statement, until a statement deletes fewer than `batch` rows or
 * SL_COORD_RETENTION_RUN_MS have passed since the call.
 *
 * Logs one `spend_logs.retention` line per run (debug level when nothing was deleted). On SL_OK
 * `*deleted` (may be NULL) receives the number of rows deleted. Errors, with the reason in
 * `err`: SL_ERR_INVALID when `max_age_s` is not a finite number above 0 or `batch` is 0 or above
 * SL_COORD_RETENTION_BATCH_MAX; SL_ERR_STORE or SL_ERR_UNAVAILABLE when a statement failed.
 * Batches deleted before a failure stay deleted, and `err` contains the number of their rows.
 */
enum sl_status sl_coord_retention(PGconn *conn, int64_t now_s, double max_age_s, size_t batch,
                                  size_t *deleted, struct sl_errbuf *err);

#endif /* SL_COORD_RETENTION_H */
