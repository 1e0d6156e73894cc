/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention -- batched deletion of old spend_logs rows on a blocking PostgreSQL connection; see
 * retention.h.
 */
#define SL_LOG_MODULE "retention"
#include "coordinator/retention.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"

/*
 * $1 cutoff (Unix seconds, fractional), $2 batch size. The inner SELECT walks
 * spend_logs_start_time_idx, and `ctid = ANY(ARRAY(...))` deletes the collected rows with one
 * TID scan (EXPLAIN on PostgreSQL 15), without the semi-join that `ctid IN (SELECT ...)` plans.
 */
static const char DELETE_SQL[] =
    "DELETE FROM spend_logs WHERE ctid = ANY (ARRAY("
    "  SELECT ctid FROM spend_logs WHERE start_time < to_timestamp($1::double precision)"
    "  LIMIT $2::integer))";

/* Runs one batch and writes the number of rows it deleted. */
static enum sl_status
delete_batch(PGconn *conn, const char *const *params, size_t *deleted, struct sl_errbuf *err)
{
    PGresult *res = NULL;
    enum sl_status rc;

    rc = sl_pg_exec_sync(conn, DELETE_SQL, 2, params, &res, err);
    if (rc != SL_OK)
        return rc;
    *deleted = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return SL_OK;
}

enum sl_status
sl_coord_retention(PGconn *conn, int64_t now_s, double max_age_s, size_t batch, size_t *deleted,
                   struct sl_errbuf *err)
{
    uint64_t started_ms = sl_now_ms();
    char cutoff_text[40];
    char batch_text[24];
    const char *params[2] = {cutoff_text, batch_text};
    size_t total = 0;
    size_t batches = 0;
    size_t last = 0;
    enum sl_status rc = SL_OK;

    if (!isfinite(max_age_s) || max_age_s <= 0) {
        sl_errbuf_set(err,
                      "spend log retention period %g s is invalid: expected a number of "
                      "seconds above 0",
                      max_age_s);
        return SL_ERR_INVALID;
    }
    if (batch == 0 || batch > SL_COORD_RETENTION_BATCH_MAX) {
        sl_errbuf_set(err, "spend log retention batch of %zu rows is invalid: expected 1 to %d",
                      batch, SL_COORD_RETENTION_BATCH_MAX);
        return SL_ERR_INVALID;
    }
    snprintf(cutoff_text, sizeof(cutoff_text), "%.3f", (double)now_s - max_age_s);
    snprintf(batch_text, sizeof(batch_text), "%zu", batch);

    /* A full batch means more rows may be old: go on until one comes back short or time is up. */
    do {
        rc = delete_batch(conn, params, &last, err);
        if (rc != SL_OK)
            break;
        total += last;
        batches++;
    } while (last == batch && sl_now_ms() - started_ms < SL_COORD_RETENTION_RUN_MS);

    if (rc != SL_OK) {
        char reason[sizeof(err->msg)];

        snprintf(reason, sizeof(reason), "%s", err != NULL ? err->msg : "");
        sl_errbuf_set(err, "spend log retention failed after deleting %zu rows: %s", total, reason);
        return rc;
    }

    sl_log(total > 0 ? SL_LOG_INFO : SL_LOG_DEBUG, NULL, "spend_logs.retention",
           SL_LOG_STR("cutoff", cutoff_text), SL_LOG_INT("deleted", total),
           SL_LOG_INT("batches", batches), SL_LOG_BOOL("finished", last < batch),
           SL_LOG_INT("elapsed_ms", sl_now_ms() - started_ms));
    if (deleted != NULL)
        *deleted = total;
    return SL_OK;
}
