/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reconcile -- the leader's reader of <prefix>spend:events. It reads the stream through the
 * consumer group "sluice-coordinator", writes each batch with sl_coord__spend_commit() and
 * acknowledges it only after the COMMIT, so an entry whose batch failed stays pending and is
 * read again: nothing is lost, and spend_logs' primary key keeps it from counting twice.
 */
#ifndef SL_COORD_RECONCILE_H
#define SL_COORD_RECONCILE_H

#include "coordinator/internal.h"

/* The consumer group every coordinator reads through. */
#define SL_COORD_GROUP "sluice-coordinator"

struct sl_coord_reconciler {
    struct sl_coord_redis *redis; /* borrowed */
    struct sl_coord_pg *pg;       /* borrowed */
    struct sl_coord_metrics *metrics;
    char stream[256];
    const char *consumer; /* borrowed: the instance id */
    int group_ready;
    int read_own_pending;  /* next read takes our own pending entries (id 0), not new ones */
    int claim_all;         /* next claim takes every pending entry, idle or not */
    char claim_cursor[48]; /* XAUTOCLAIM's cursor */
    uint64_t next_claim_ms;
    uint64_t next_backlog_ms;
    struct sl_coord_backoff retry; /* after a failed transaction */
    char trimmed_seen[48];         /* last-delivered id at which trimming was last reported */
    struct sl_log_limiter invalid_log;
};

void sl_coord__reconciler_init(struct sl_coord_reconciler *rc, struct sl_coord_redis *redis,
                               struct sl_coord_pg *pg, struct sl_coord_metrics *metrics,
                               const char *prefix, const char *consumer);
/* Called when this instance becomes the leader: first claim every entry left pending. */
void sl_coord__reconciler_on_elected(struct sl_coord_reconciler *rc);
/* Reads, writes and acknowledges one batch; blocks up to SL_COORD_BLOCK_MS when idle. */
void sl_coord__reconcile_step(struct sl_coord_reconciler *rc);
/* Updates the backlog gauges and detects trimmed entries, every few seconds. */
void sl_coord__backlog_update(struct sl_coord_reconciler *rc, uint64_t now_ms);

#endif /* SL_COORD_RECONCILE_H */
