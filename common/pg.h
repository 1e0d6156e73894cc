/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg -- a PostgreSQL client on a libuv loop (libpq's non-blocking API), plus blocking helpers
 * for startup code.
 *
 * One struct sl_pg is one connection owned by one loop thread. Queries wait in a FIFO queue and
 * run one at a time. Every accepted query gets exactly one callback, on the loop thread and never
 * from inside sl_pg_query(). A dropped connection is reopened at once, and failed attempts are
 * retried with exponential backoff. While it is down, sl_pg_query() rejects at once instead of
 * letting requests wait.
 *
 * NOTE: libpq buffers each result whole before the callback runs, so a query's result size is
 * bounded only by the SQL itself: callers on the request path use LIMIT.
 */
#ifndef SL_PG_H
#define SL_PG_H

#include <stddef.h>

#include <libpq-fe.h>
#include <uv.h>

#include "common/status.h"

/* Queries accepted but not yet finished, per connection, when the options leave it at 0. */
#define SL_PG_DEFAULT_MAX_QUEUE 1024
#define SL_PG_DEFAULT_QUERY_TIMEOUT_MS 5000
#define SL_PG_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define SL_PG_DEFAULT_RECONNECT_MIN_MS 100
#define SL_PG_DEFAULT_RECONNECT_MAX_MS 5000

/* Tuning of one connection; a zero field takes the SL_PG_DEFAULT_* value. */
struct sl_pg_options {
    unsigned query_timeout_ms;   /* from the start of a query's execution to its last result */
    unsigned connect_timeout_ms; /* one connection attempt, TCP and startup together */
    unsigned reconnect_min_ms;   /* first delay after a failed attempt, doubled per failure */
    unsigned reconnect_max_ms;   /* cap of that delay */
    size_t max_queue;            /* queries queued or running at once */
};

/*
 * Completion of one query.
 *
 * `st` is SL_OK (`res` is PGRES_TUPLES_OK or PGRES_COMMAND_OK), SL_ERR_STORE (the server
 * returned an error: `res` is that error result, so PQresultErrorField(res, PG_DIAG_SQLSTATE)
 * works), SL_ERR_TIMEOUT (the query ran past query_timeout_ms, `res` NULL) or
 * SL_ERR_UNAVAILABLE (the connection failed or closed, `res` NULL). `error` is NULL on SL_OK,
 * otherwise a one-line reason. `res` and `error` are borrowed until the callback returns. The
 * callback may call sl_pg_query() and sl_pg_destroy().
 */
typedef void (*sl_pg_query_cb)(enum sl_status st, const PGresult *res, const char *error,
                               void *privdata);

struct sl_pg;

/*
 * Creates a client on `loop` and starts connecting. `conninfo` is a libpq keyword string or a
 * postgresql:// URL (copied). When it names one host by DNS name and has no hostaddr, the name
 * is resolved once here, blocking, and every connection attempt uses those addresses. The loop
 * thus never waits on DNS, but a changed DNS record reaches only a new client. `opts` may be
 * NULL.
 *
 * Returns NULL with a reason in `err` if `conninfo` cannot be parsed or the name not resolved.
 * Failing to reach the server is not an error here: the client keeps retrying.
 */
struct sl_pg *sl_pg_create(uv_loop_t *loop, const char *conninfo,
                           const struct sl_pg_options *opts, struct sl_errbuf *err);

/*
 * Queues `sql` with `nparams` text parameters (`params[i]` NULL is SQL NULL; sql and params are
 * copied). Returns SL_OK, after which `cb` is called exactly once on a later loop iteration. On
 * any other return `cb` is never called: SL_ERR_UNAVAILABLE when the connection is down (waiting
 * to retry) or the client is being destroyed, SL_ERR_TOO_LARGE when max_queue queries are pending,
 * SL_ERR_INVALID when `nparams` is negative or over 65535, or `params` is NULL with parameters.
 */
enum sl_status sl_pg_query(struct sl_pg *pg, const char *sql, int nparams,
                           const char *const *params, sl_pg_query_cb cb, void *privdata);

/* Returns 1 while a connection is established and usable. */
int sl_pg_is_connected(const struct sl_pg *pg);

/*
 * Fails every pending query with SL_ERR_UNAVAILABLE (their callbacks run before this returns),
 * closes the connection and frees the client from its handles' close callbacks, so the loop
 * must run once more. Safe to call from a query callback; NULL is ignored.
 */
void sl_pg_destroy(struct sl_pg *pg);

/*
 * Opens a blocking connection for startup code, giving up after `connect_timeout_s` seconds
 * (at least 2, libpq's minimum). Server notices are dropped rather than printed on stderr.
 * Returns NULL with the reason in `err`; the caller closes a connection with PQfinish().
 */
PGconn *sl_pg_connect_sync(const char *conninfo, int connect_timeout_s, struct sl_errbuf *err);

/*
 * Runs one statement on a blocking connection. On SL_OK `*out` (if not NULL) receives the
 * result, which the caller frees with PQclear(). Returns SL_ERR_STORE with the server's message
 * in `err` when the statement failed, or SL_ERR_UNAVAILABLE when the connection is gone.
 */
enum sl_status sl_pg_exec_sync(PGconn *conn, const char *sql, int nparams,
                               const char *const *params, PGresult **out, struct sl_errbuf *err);

#endif /* SL_PG_H */
