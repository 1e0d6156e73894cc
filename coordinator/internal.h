/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coordinator internals -- what the long-running mode's files share: blocking Redis and
 * PostgreSQL connections that reconnect with backoff, leader election, the stream reader and
 * the spend transaction. Everything here runs on the coordinator's one main thread, except the
 * metrics responder (metrics_http.c), which only reads the metrics registry.
 */
#ifndef SL_COORDINATOR_INTERNAL_H
#define SL_COORDINATOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "common/redis.h"
#include "common/spend_event.h"
#include "common/status.h"

/* Deadline of one Redis command, in ms; above the XREADGROUP block time (SL_COORD_BLOCK_MS). */
#define SL_COORD_REDIS_TIMEOUT_MS 5000
#define SL_COORD_REDIS_CONNECT_TIMEOUT_MS 2000
/* Deadline of one SQL statement, in ms, enforced by the server's statement_timeout. */
#define SL_COORD_PG_STATEMENT_TIMEOUT_MS 15000
/* One PostgreSQL connection attempt, in seconds (libpq's connect_timeout; 2 is its minimum). */
#define SL_COORD_PG_CONNECT_TIMEOUT_S 3
/* Reconnect delays, doubled after each failure. */
#define SL_COORD_BACKOFF_MIN_MS 200
#define SL_COORD_BACKOFF_MAX_MS 5000
/* How long XREADGROUP waits for new entries, in ms. */
#define SL_COORD_BLOCK_MS 1000
/* Entries read per batch. */
#define SL_COORD_BATCH_MAX 500

/* A reconnect schedule: exponential backoff between SL_COORD_BACKOFF_MIN_MS and _MAX_MS. */
struct sl_coord_backoff {
    uint64_t next_attempt_ms; /* sl_now_ms() before which no attempt is made */
    uint64_t delay_ms;        /* the delay after the next failure */
};

void sl_coord__backoff_reset(struct sl_coord_backoff *b);
/* Schedules the next attempt after a failure and returns the delay chosen, in ms. */
uint64_t sl_coord__backoff_fail(struct sl_coord_backoff *b, uint64_t now_ms);

/* ---------------------------------------------------------------- Redis (redis_conn.c) */

struct sl_coord_redis {
    redisContext *ctx; /* NULL while disconnected */
    struct sl_redis_target target;
    struct sl_coord_backoff backoff;
    struct sl_log_limiter down_log;
};

/*
 * Connects (with AUTH and SELECT) unless connected or a backoff delay is running. Returns SL_OK
 * when connected, else SL_ERR_UNAVAILABLE; failures are logged, rate-limited.
 */
enum sl_status sl_coord__redis_ensure(struct sl_coord_redis *r);

/*
 * Runs one command (binary-safe arguments). Returns the reply, which the caller frees with
 * freeReplyObject(), or NULL when the connection failed or timed out: the connection is then
 * closed and a reconnect scheduled. An error reply ("ERR ...") is returned like any other.
 */
redisReply *sl_coord__redis_command(struct sl_coord_redis *r, int argc, const char **argv,
                                    const size_t *argvlen);

/* Runs an embedded lua-scripts/ script by EVALSHA, falling back to EVAL on NOSCRIPT. */
redisReply *sl_coord__redis_eval(struct sl_coord_redis *r, const struct sl_redis_script *script,
                                 int nkeys, const char **keys, int nargs, const char **args);

void sl_coord__redis_close(struct sl_coord_redis *r);

/* ---------------------------------------------------------------- PostgreSQL (pg_conn.c) */

struct sl_coord_pg {
    PGconn *conn; /* NULL while disconnected */
    const char *url;
    struct sl_coord_backoff backoff;
    struct sl_log_limiter down_log;
};

/* Connects unless connected or a backoff delay is running. Returns SL_OK or SL_ERR_UNAVAILABLE. */
enum sl_status sl_coord__pg_ensure(struct sl_coord_pg *pg);

/*
 * Marks the connection broken after a failed statement when libpq reports it gone, so the next
 * sl_coord__pg_ensure() reconnects. A connection that is still fine is kept.
 */
void sl_coord__pg_check(struct sl_coord_pg *pg);

void sl_coord__pg_close(struct sl_coord_pg *pg);

/* ---------------------------------------------------------------- leader election (leader.c) */

/* Lifetime of the leader key, in ms, and how often the leader renews it. */
#define SL_COORD_LEASE_MS 6000
#define SL_COORD_RENEW_MS 2000
/* How often a standby tries to take the lease. */
#define SL_COORD_STANDBY_RETRY_MS 1000

struct sl_coord_leader {
    char key[256];          /* <prefix>coordinator:leader */
    const char *instance;   /* borrowed; the value written into the key */
    int is_leader;
    uint64_t next_check_ms;   /* when to renew or retry next */
    uint64_t lease_until_ms;  /* sl_now_ms() at which our lease surely ended, if not renewed */
    struct sl_redis_script *renew;
    struct sl_redis_script *release;
};

void sl_coord__leader_init(struct sl_coord_leader *l, const char *prefix, const char *instance);
void sl_coord__leader_dispose(struct sl_coord_leader *l);
/*
 * Takes or renews the lease when it is due. Returns 1 while this instance leads. A leader that
 * cannot reach Redis keeps leading until its lease would have run out, then steps down.
 */
int sl_coord__leader_tick(struct sl_coord_leader *l, struct sl_coord_redis *r, uint64_t now_ms);
/* Deletes the key if it still holds our id, so a standby takes over at once (on shutdown). */
void sl_coord__leader_release(struct sl_coord_leader *l, struct sl_coord_redis *r);

/* ---------------------------------------------------------------- spend SQL (spend_sql.c) */

/* Outcome counts of one committed batch. */
struct sl_coord_spend_result {
    size_t inserted;  /* new spend_logs rows */
    size_t duplicate; /* request ids already in spend_logs, or twice in the batch */
};

/*
 * Writes `n` valid events in one transaction: spend_logs rows, entity spend of the rows that
 * were new, and daily_spend. Returns SL_OK, SL_ERR_UNAVAILABLE (connection lost or timed out,
 * worth retrying), or SL_ERR_STORE when the server rejected the data (SQLSTATE class 22 or
 * 23), with the reason in `err`. Nothing is written unless SL_OK is returned.
 */
enum sl_status sl_coord__spend_commit(PGconn *conn, struct sl_spend_event *const *events, size_t n,
                                      struct sl_coord_spend_result *out, struct sl_errbuf *err);

/* ---------------------------------------------------------------- metrics (metrics_http.c) */

struct sl_metric;

/* The coordinator's metric series, registered by sl_coord__metrics_init(). */
struct sl_coord_metrics {
    struct sl_metric *backlog_entries;
    struct sl_metric *backlog_age_s;
    struct sl_metric *leader;
    struct sl_metric *inserted;
    struct sl_metric *duplicate;
    struct sl_metric *invalid;
    struct sl_metric *trimmed;
    struct sl_metric *users; /* litellm_total_users */
    struct sl_metric *teams; /* litellm_teams_count */
    struct sl_metric *health_passed; /* sluice_health_checks_total{outcome="healthy"} */
    struct sl_metric *health_failed; /* sluice_health_checks_total{outcome="unhealthy"} */
};

void sl_coord__metrics_init(struct sl_coord_metrics *m);
/*
 * Serves GET /metrics on `host`:`port` from a thread of its own. Returns SL_OK, or
 * SL_ERR_UNAVAILABLE with the reason in `err` when the port cannot be bound.
 */
enum sl_status sl_coord__metrics_serve(const char *host, int port, struct sl_errbuf *err);
/* Stops the responder thread and closes its socket. */
void sl_coord__metrics_stop(void);

#endif /* SL_COORDINATOR_INTERNAL_H */
