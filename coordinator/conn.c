/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn -- the coordinator's blocking connections to Redis (hiredis' synchronous API) and
 * PostgreSQL (libpq). Every call has a deadline: Redis commands through redisSetTimeout(),
 * SQL statements through the server's statement_timeout, and both connects through their
 * connect timeouts. A lost connection is closed and reopened with exponential backoff, so an
 * outage slows the coordinator down but never ends or hangs it.
 */
#define SL_LOG_MODULE "conn"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/clock.h"
#include "coordinator/internal.h"

/* How often a repeated connection failure is logged, in ms. */
#define DOWN_LOG_INTERVAL_MS 30000

void
sl_coord__backoff_reset(struct sl_coord_backoff *b)
{
    b->next_attempt_ms = 0;
    b->delay_ms = SL_COORD_BACKOFF_MIN_MS;
}

uint64_t
sl_coord__backoff_fail(struct sl_coord_backoff *b, uint64_t now_ms)
{
    uint64_t delay = b->delay_ms < SL_COORD_BACKOFF_MIN_MS ? SL_COORD_BACKOFF_MIN_MS : b->delay_ms;

    b->next_attempt_ms = now_ms + delay;
    b->delay_ms = delay * 2 > SL_COORD_BACKOFF_MAX_MS ? SL_COORD_BACKOFF_MAX_MS : delay * 2;
    return delay;
}

static struct timeval
ms_to_timeval(uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return tv;
}

/* ---------------------------------------------------------------- Redis */

static void
redis_down(struct sl_coord_redis *r, const char *what, const char *reason)
{
    uint64_t now = sl_now_ms();
    uint64_t delay = sl_coord__backoff_fail(&r->backoff, now);
    char reason_copy[256];

    /* `reason` may be the context's errstr, which redisFree() frees. */
    snprintf(reason_copy, sizeof(reason_copy), "%s", reason);
    reason = reason_copy;
    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    if (sl_log_limiter_allow(&r->down_log, now, DOWN_LOG_INTERVAL_MS))
        sl_log(SL_LOG_WARN, NULL, "redis.unavailable", SL_LOG_STR("step", what),
               SL_LOG_STR("reason", reason), SL_LOG_STR("host", r->target.host),
               SL_LOG_INT("port", r->target.port), SL_LOG_INT("retry_in_ms", delay),
               SL_LOG_INT("suppressed", r->down_log.suppressed));
}

/* Sends AUTH or SELECT during the handshake; returns 0 on an OK reply. */
static int
handshake_command(struct sl_coord_redis *r, int argc, const char **argv, const char *what)
{
    redisReply *reply = redisCommandArgv(r->ctx, argc, argv, NULL);
    int ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;

    if (!ok)
        redis_down(r, what, reply == NULL ? r->ctx->errstr : "rejected by the server");
    if (reply != NULL)
        freeReplyObject(reply);
    return ok ? 0 : -1;
}

enum sl_status
sl_coord__redis_ensure(struct sl_coord_redis *r)
{
    uint64_t now = sl_now_ms();
    char db[16];

    if (r->ctx != NULL)
        return SL_OK;
    if (now < r->backoff.next_attempt_ms)
        return SL_ERR_UNAVAILABLE;

    r->ctx = redisConnectWithTimeout(r->target.host, r->target.port,
                                     ms_to_timeval(SL_COORD_REDIS_CONNECT_TIMEOUT_MS));
    if (r->ctx == NULL || r->ctx->err != 0) {
        redis_down(r, "connect", r->ctx != NULL ? r->ctx->errstr : "out of memory");
        return SL_ERR_UNAVAILABLE;
    }
    if (redisSetTimeout(r->ctx, ms_to_timeval(SL_COORD_REDIS_TIMEOUT_MS)) != REDIS_OK) {
        redis_down(r, "connect", "cannot set the socket timeout");
        return SL_ERR_UNAVAILABLE;
    }
    if (r->target.password[0] != '\0') {
        const char *with_user[] = {"AUTH", r->target.username, r->target.password};
        const char *without_user[] = {"AUTH", r->target.password};

        if (r->target.username[0] != '\0' ? handshake_command(r, 3, with_user, "auth") != 0
                                          : handshake_command(r, 2, without_user, "auth") != 0)
            return SL_ERR_UNAVAILABLE;
    }
    if (r->target.db != 0) {
        const char *argv[] = {"SELECT", db};

        snprintf(db, sizeof(db), "%d", r->target.db);
        if (handshake_command(r, 2, argv, "select") != 0)
            return SL_ERR_UNAVAILABLE;
    }

    sl_log(SL_LOG_INFO, NULL, "redis.connected", SL_LOG_STR("host", r->target.host),
           SL_LOG_INT("port", r->target.port));
    sl_coord__backoff_reset(&r->backoff);
    r->down_log.used = 0;
    return SL_OK;
}

redisReply *
sl_coord__redis_command(struct sl_coord_redis *r, int argc, const char **argv,
                        const size_t *argvlen)
{
    redisReply *reply;

    if (sl_coord__redis_ensure(r) != SL_OK)
        return NULL;
    reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
    if (reply == NULL) {
        /* hiredis leaves a context unusable after an I/O error or a timeout. */
        redis_down(r, argv[0], r->ctx->errstr);
        return NULL;
    }
    return reply;
}

redisReply *
sl_coord__redis_eval(struct sl_coord_redis *r, const struct sl_redis_script *script, int nkeys,
                     const char **keys, int nargs, const char **args)
{
    const char *argv[16];
    char nkeys_text[16];
    redisReply *reply;
    int argc = 0;

    if (3 + nkeys + nargs > (int)(sizeof(argv) / sizeof(argv[0])))
        return NULL;
    snprintf(nkeys_text, sizeof(nkeys_text), "%d", nkeys);
    argv[argc++] = "EVALSHA";
    argv[argc++] = script->sha1_hex;
    argv[argc++] = nkeys_text;
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];

    reply = sl_coord__redis_command(r, argc, argv, NULL);
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* The server restarted or flushed its script cache: EVAL sends the source again. */
        freeReplyObject(reply);
        argv[0] = "EVAL";
        argv[1] = script->source;
        reply = sl_coord__redis_command(r, argc, argv, NULL);
    }
    return reply;
}

void
sl_coord__redis_close(struct sl_coord_redis *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
}

/* ---------------------------------------------------------------- PostgreSQL */

static void
pg_down(struct sl_coord_pg *pg, const char *reason)
{
    uint64_t now = sl_now_ms();
    uint64_t delay = sl_coord__backoff_fail(&pg->backoff, now);

    if (sl_log_limiter_allow(&pg->down_log, now, DOWN_LOG_INTERVAL_MS))
        sl_log(SL_LOG_WARN, NULL, "postgres.unavailable", SL_LOG_STR("reason", reason),
               SL_LOG_INT("retry_in_ms", delay), SL_LOG_INT("suppressed", pg->down_log.suppressed));
    if (pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
}

static void
ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The first line of libpq's error message, for a one-line log field. */
static void
first_line(const char *text, char *out, size_t size)
{
    size_t n = strcspn(text, "\n");

    if (n >= size)
        n = size - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

enum sl_status
sl_coord__pg_ensure(struct sl_coord_pg *pg)
{
    /* The URL is expanded by libpq (expand_dbname); the keywords after it add the deadlines:
     * statement_timeout on the server, and TCP keepalives plus tcp_user_timeout so that a
     * server that vanished without closing the socket fails a call instead of hanging it.
     * synchronous_commit is forced on because stream entries are acknowledged right after
     * COMMIT: a commit lost in a server crash would otherwise lose its events for good. */
    static const char *const keywords[] = {
        "dbname", "connect_timeout", "options", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "application_name", NULL,
    };
    char connect_timeout[16];
    char options[96];
    char tcp_user_timeout[16];
    const char *values[10];
    char reason[256];
    uint64_t now = sl_now_ms();

    if (pg->conn != NULL)
        return SL_OK;
    if (now < pg->backoff.next_attempt_ms)
        return SL_ERR_UNAVAILABLE;

    snprintf(connect_timeout, sizeof(connect_timeout), "%d", SL_COORD_PG_CONNECT_TIMEOUT_S);
    snprintf(options, sizeof(options), "-c statement_timeout=%d -c synchronous_commit=on",
             SL_COORD_PG_STATEMENT_TIMEOUT_MS);
    snprintf(tcp_user_timeout, sizeof(tcp_user_timeout), "%d",
             SL_COORD_PG_STATEMENT_TIMEOUT_MS + 5000);
    values[0] = pg->url;
    values[1] = connect_timeout;
    values[2] = options;
    values[3] = "1";
    values[4] = "5";
    values[5] = "2";
    values[6] = "3";
    values[7] = tcp_user_timeout;
    values[8] = "sluice-coordinator";
    values[9] = NULL;

    pg->conn = PQconnectdbParams(keywords, values, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        first_line(pg->conn != NULL ? PQerrorMessage(pg->conn) : "out of memory", reason,
                   sizeof(reason));
        pg_down(pg, reason);
        return SL_ERR_UNAVAILABLE;
    }
    PQsetNoticeProcessor(pg->conn, ignore_notice, NULL);
    sl_log(SL_LOG_INFO, NULL, "postgres.connected");
    sl_coord__backoff_reset(&pg->backoff);
    pg->down_log.used = 0;
    return SL_OK;
}

void
sl_coord__pg_check(struct sl_coord_pg *pg)
{
    char reason[256];

    if (pg->conn == NULL)
        return;
    if (PQstatus(pg->conn) == CONNECTION_OK)
        return;
    first_line(PQerrorMessage(pg->conn), reason, sizeof(reason));
    pg_down(pg, reason);
}

void
sl_coord__pg_close(struct sl_coord_pg *pg)
{
    if (pg->conn != NULL)
        PQfinish(pg->conn);
    pg->conn = NULL;
}
