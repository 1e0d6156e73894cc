/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_metrics -- latency and error metrics of the Redis and PostgreSQL clients
 * (common/redis.c, common/pg.c), which LiteLLM's catalogue does not cover.
 *
 * The clients call the record functions when a command or query completes, on their loop
 * thread. Before sl_store_metrics_register() ran (unit tests, the coordinator) they do nothing.
 */
#ifndef SL_STORE_METRICS_H
#define SL_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/* Longest operation or command label, without the NUL. */
#define SL_STORE_METRICS_NAME_MAX 31

/* Registers the sluice_redis_* and sluice_postgres_* families; once, before any thread uses
 * a client. */
void sl_store_metrics_register(void);

/*
 * Records one Redis command named `command` ("GET", or the script name of an EVALSHA) that
 * completed with `status` after `elapsed_us`. `reply_error` is 1 when Redis answered with an
 * error reply. A command that was never sent is recorded with elapsed_us 0 and no latency.
 */
void sl_store_metrics_redis(const char *command, enum sl_status status, int reply_error,
                            uint64_t elapsed_us, int sent);

/* Records one PostgreSQL query of `operation` (see sl_store_metrics_operation) that completed
 * with `status` after `elapsed_us`, counted from when it was queued. */
void sl_store_metrics_pg(const char *operation, enum sl_status status, uint64_t elapsed_us);

/* Writes the first SQL keyword of `sql` in upper case ("SELECT", "INSERT", "WITH"), at most
 * SL_STORE_METRICS_NAME_MAX letters, or "OTHER" when `sql` does not start with a letter. */
void sl_store_metrics_operation(const char *sql, char out[SL_STORE_METRICS_NAME_MAX + 1]);

#endif /* SL_STORE_METRICS_H */
