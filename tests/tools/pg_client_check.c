/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_client_check -- drives common/pg.c and sl_schema_check() against a real PostgreSQL, for
 * the integration tests (61-pg-client, 60-migrate). One scenario per run:
 *
 *   pg_client_check basic|timeout|reconnect|outage|down|schema-check URL
 *
 * Prints one TAP-like line per check ("ok - ..." or "not ok - ...: detail") and exits 0 when
 * every check passed, 1 otherwise. `outage` prints "ready" once connected and then expects the
 * caller to stop the server. `schema-check` prints the status and exits 0 (SL_OK), 3
 * (SL_ERR_CONFIG) or 4 (SL_ERR_UNAVAILABLE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/clock.h"
#include "common/pg.h"
#include "common/schema.h"

static int failures;

static void
check(int cond, const char *name, const char *detail)
{
    if (cond) {
        printf("ok - %s\n", name);
    } else {
        printf("not ok - %s: %s\n", name, detail != NULL ? detail : "");
        failures++;
    }
    fflush(stdout);
}

/* The outcome of one query, filled by on_result. */
struct outcome {
    int done;
    enum sl_status st;
    char value[128];    /* first column of the first row, if any */
    char sqlstate[8];
    char error[256];
    uint64_t start_ms;
    uint64_t elapsed_ms;
    int *order;         /* optional: completion order log */
    int *order_len;
    int id;
};

static void
on_result(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct outcome *o = privdata;

    o->done++;
    o->st = st;
    o->elapsed_ms = sl_now_ms() - o->start_ms;
    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        snprintf(o->value, sizeof(o->value), "%s", PQgetvalue(res, 0, 0));
    if (res != NULL && PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL)
        snprintf(o->sqlstate, sizeof(o->sqlstate), "%s",
                 PQresultErrorField(res, PG_DIAG_SQLSTATE));
    if (error != NULL)
        snprintf(o->error, sizeof(o->error), "%s", error);
    if (o->order != NULL)
        o->order[(*o->order_len)++] = o->id;
}

static void
on_deadline(uv_timer_t *timer)
{
    *(int *)timer->data = 1;
}

/* Runs `loop` until *flag is non-zero or `ms` pass; returns 1 if the flag was set. */
static int
run_until(uv_loop_t *loop, const int *flag, uint64_t ms)
{
    uv_timer_t deadline;
    int expired = 0;

    uv_timer_init(loop, &deadline);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag != 0;
}

/* Runs `loop` for `ms` milliseconds. */
static void
run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;

    run_until(loop, &never, ms);
}

static int
wait_connected(uv_loop_t *loop, struct sl_pg *pg, uint64_t ms)
{
    uint64_t end = sl_now_ms() + ms;

    while (!sl_pg_is_connected(pg) && sl_now_ms() < end)
        run_for(loop, 20);
    return sl_pg_is_connected(pg);
}

static struct sl_pg *
create(uv_loop_t *loop, const char *url, const struct sl_pg_options *opts)
{
    struct sl_errbuf err = {{0}};
    struct sl_pg *pg = sl_pg_create(loop, url, opts, &err);

    if (pg == NULL) {
        printf("not ok - create client: %s\n", err.msg);
        exit(1);
    }
    return pg;
}

static enum sl_status
submit(struct sl_pg *pg, const char *sql, int nparams, const char *const *params,
       struct outcome *o)
{
    o->start_ms = sl_now_ms();
    return sl_pg_query(pg, sql, nparams, params, on_result, o);
}

/* Destroys the client, lets the close callbacks run and checks that no handle is left. */
static void
finish(uv_loop_t *loop, struct sl_pg *pg)
{
    sl_pg_destroy(pg);
    uv_run(loop, UV_RUN_DEFAULT);
    check(uv_loop_close(loop) == 0, "every handle closed after destroy", "loop still busy");
}

/* ---------------------------------------------------------------------------------------- */

static void
scenario_basic(const char *url)
{
    uv_loop_t loop;
    struct sl_pg *pg;
    struct sl_pg_options opts = {.max_queue = 32};
    struct outcome a = {0};
    struct outcome e = {0};
    struct outcome after = {0};
    struct outcome fifo[20];
    struct outcome extra[40];
    struct outcome pending[3];
    int order[20];
    int order_len = 0;
    const char *params[] = {"40", "2", NULL};
    char ids[20][8];
    char detail[1024];
    int all_ok = 1;
    size_t accepted = 0;
    enum sl_status st = SL_OK;

    uv_loop_init(&loop);
    pg = create(&loop, url, &opts);

    /* Parameters, SQL NULL, and no callback from inside sl_pg_query(). */
    check(submit(pg, "SELECT ($1::int + $2::int)::text || ',' || ($3::text IS NULL)::text", 3,
                 params, &a) == SL_OK,
          "query accepted while connecting", NULL);
    check(a.done == 0, "callback not called from inside sl_pg_query", NULL);
    run_until(&loop, &a.done, 5000);
    snprintf(detail, sizeof(detail), "status %s, value '%s', error '%s'", sl_status_str(a.st),
             a.value, a.error);
    check(a.done == 1 && a.st == SL_OK && strcmp(a.value, "42,true") == 0,
          "text parameters and SQL NULL", detail);

    /* FIFO: 20 queries queued at once complete in submission order. */
    memset(fifo, 0, sizeof(fifo));
    for (int i = 0; i < 20; i++) {
        const char *p[1];

        snprintf(ids[i], sizeof(ids[i]), "%d", i);
        p[0] = ids[i];
        fifo[i].id = i;
        fifo[i].order = order;
        fifo[i].order_len = &order_len;
        if (submit(pg, "SELECT $1::int", 1, p, &fifo[i]) != SL_OK)
            all_ok = 0;
    }
    for (int i = 0; i < 20; i++)
        run_until(&loop, &fifo[i].done, 5000);
    for (int i = 0; i < 20; i++) {
        if (order_len != 20 || order[i] != i || fifo[i].done != 1 || fifo[i].st != SL_OK ||
            strcmp(fifo[i].value, ids[i]) != 0)
            all_ok = 0;
    }
    check(all_ok, "queued queries complete in order", "order or values differ");

    /* A server error: SL_ERR_STORE with the SQLSTATE, and the connection stays usable. */
    submit(pg, "SELECT 1 / 0", 0, NULL, &e);
    submit(pg, "SELECT 'still here'", 0, NULL, &after);
    run_until(&loop, &after.done, 5000);
    snprintf(detail, sizeof(detail), "status %s, sqlstate '%s', error '%s'", sl_status_str(e.st),
             e.sqlstate, e.error);
    check(e.done == 1 && e.st == SL_ERR_STORE && strcmp(e.sqlstate, "22012") == 0 &&
              strstr(e.error, "division by zero") != NULL,
          "server error reports SQLSTATE", detail);
    check(after.done == 1 && after.st == SL_OK && strcmp(after.value, "still here") == 0,
          "connection usable after a server error", after.error);

    check(sl_pg_query(pg, "SELECT $1", 1, NULL, on_result, &e) == SL_ERR_INVALID,
          "parameters missing are rejected", NULL);
    check(sl_pg_query(pg, "SELECT 1", 70000, params, on_result, &e) == SL_ERR_INVALID,
          "too many parameters are rejected", NULL);

    /* The queue cap: the 33rd pending query is rejected and gets no callback. */
    memset(extra, 0, sizeof(extra));
    for (int i = 0; i < 40; i++) {
        st = submit(pg, "SELECT 1", 0, NULL, &extra[i]);
        if (st != SL_OK)
            break;
        accepted++;
    }
    snprintf(detail, sizeof(detail), "accepted %zu, then %s", accepted, sl_status_str(st));
    check(accepted == 32 && st == SL_ERR_TOO_LARGE, "queue cap rejects with SL_ERR_TOO_LARGE",
          detail);
    run_until(&loop, &extra[31].done, 5000);
    all_ok = 1;
    for (size_t i = 0; i < 40; i++) {
        if (extra[i].done != (i < accepted ? 1 : 0))
            all_ok = 0;
    }
    check(all_ok, "each accepted query gets exactly one callback", NULL);

    /* Destroy fails what is pending, before it returns. */
    memset(pending, 0, sizeof(pending));
    for (int i = 0; i < 3; i++)
        submit(pg, "SELECT pg_sleep(1)", 0, NULL, &pending[i]);
    run_for(&loop, 50);
    sl_pg_destroy(pg);
    all_ok = 1;
    for (int i = 0; i < 3; i++) {
        if (pending[i].done != 1 || pending[i].st != SL_ERR_UNAVAILABLE)
            all_ok = 0;
    }
    check(all_ok, "destroy fails pending queries", NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    check(uv_loop_close(&loop) == 0, "every handle closed after destroy", "loop still busy");
}

static void
scenario_timeout(const char *url)
{
    uv_loop_t loop;
    struct sl_pg_options opts = {.query_timeout_ms = 300};
    struct sl_pg *pg;
    struct outcome slow = {0};
    struct outcome queued = {0};
    struct outcome later = {0};
    char detail[1024];

    uv_loop_init(&loop);
    pg = create(&loop, url, &opts);
    check(wait_connected(&loop, pg, 5000), "connected", NULL);

    submit(pg, "SELECT pg_sleep(5)", 0, NULL, &slow);
    submit(pg, "SELECT 1", 0, NULL, &queued);
    run_until(&loop, &queued.done, 5000);
    snprintf(detail, sizeof(detail), "status %s after %llu ms: %s", sl_status_str(slow.st),
             (unsigned long long)slow.elapsed_ms, slow.error);
    check(slow.done == 1 && slow.st == SL_ERR_TIMEOUT && slow.elapsed_ms >= 250 &&
              slow.elapsed_ms < 1500,
          "slow query times out", detail);
    check(queued.done == 1 && queued.st == SL_ERR_UNAVAILABLE,
          "query queued behind it fails with SL_ERR_UNAVAILABLE", sl_status_str(queued.st));

    check(wait_connected(&loop, pg, 5000), "reconnects after the timeout", NULL);
    submit(pg, "SELECT 'fresh'", 0, NULL, &later);
    run_until(&loop, &later.done, 5000);
    check(later.done == 1 && later.st == SL_OK && strcmp(later.value, "fresh") == 0,
          "query after the reset succeeds", later.error);
    finish(&loop, pg);
}

static void
scenario_reconnect(const char *url)
{
    uv_loop_t loop;
    struct sl_pg *pg;
    struct outcome first = {0};
    struct outcome second = {0};
    struct sl_errbuf err = {{0}};
    const char *params[1];
    PGconn *admin;
    char detail[1024];

    uv_loop_init(&loop);
    pg = create(&loop, url, NULL);
    submit(pg, "SELECT pg_backend_pid()::text", 0, NULL, &first);
    run_until(&loop, &first.done, 5000);
    check(first.st == SL_OK && first.value[0] != '\0', "backend pid read", first.error);

    /* Kill the client's backend from another connection, as an operator or failover would. */
    admin = sl_pg_connect_sync(url, 5, &err);
    check(admin != NULL, "admin connection", err.msg);
    if (admin == NULL)
        exit(1);
    params[0] = first.value;
    check(sl_pg_exec_sync(admin, "SELECT pg_terminate_backend($1::int)", 1, params, NULL, &err) ==
              SL_OK,
          "pg_terminate_backend", err.msg);
    PQfinish(admin);

    /* The idle connection notices the close, and the client reconnects by itself. */
    run_for(&loop, 300);
    check(wait_connected(&loop, pg, 5000), "reconnected after the backend was terminated", NULL);
    submit(pg, "SELECT pg_backend_pid()::text", 0, NULL, &second);
    run_until(&loop, &second.done, 5000);
    snprintf(detail, sizeof(detail), "pids %s then %s (%s)", first.value, second.value,
             second.error);
    check(second.st == SL_OK && strcmp(first.value, second.value) != 0,
          "new backend serves queries", detail);
    finish(&loop, pg);
}

/* While the server is down every query fails fast: rejected at once or failed within 1 s. */
static void
scenario_outage(const char *url)
{
    uv_loop_t loop;
    struct sl_pg_options opts = {.connect_timeout_ms = 2000, .reconnect_max_ms = 500};
    struct sl_pg *pg;
    struct outcome ready = {0};
    struct outcome probes[200];
    int n = 0;
    int rejected = 0;
    int failed = 0;
    int succeeded = 0;
    uint64_t slowest = 0;
    uint64_t first_failure = 0;
    uint64_t end = sl_now_ms() + 20000;
    char detail[1024];

    uv_loop_init(&loop);
    pg = create(&loop, url, &opts);
    submit(pg, "SELECT 1", 0, NULL, &ready);
    run_until(&loop, &ready.done, 5000);
    check(ready.st == SL_OK, "connected before the outage", ready.error);
    printf("ready\n");
    fflush(stdout);

    memset(probes, 0, sizeof(probes));
    while (n < 200 && sl_now_ms() < end) {
        struct outcome *o = &probes[n++];
        enum sl_status st = submit(pg, "SELECT 1", 0, NULL, o);

        if (st == SL_ERR_UNAVAILABLE) {
            rejected++;
        } else if (st == SL_OK) {
            run_until(&loop, &o->done, 5000);
            if (o->st == SL_OK)
                succeeded++;
            else
                failed++;
            if (o->st != SL_OK && o->elapsed_ms > slowest)
                slowest = o->elapsed_ms;
        }
        if (st != SL_OK || o->st != SL_OK) {
            if (first_failure == 0)
                first_failure = sl_now_ms();
        }
        /* Keep probing for 3 s of outage to cover several reconnect attempts. */
        if (first_failure != 0 && sl_now_ms() - first_failure > 3000)
            break;
        run_for(&loop, 50);
    }
    snprintf(detail, sizeof(detail), "rejected %d, failed %d, succeeded %d, slowest failure %llu ms",
             rejected, failed, succeeded, (unsigned long long)slowest);
    printf("# %s\n", detail);
    check(first_failure != 0 && rejected > 0, "queries rejected while the server is down",
          detail);
    check(slowest < 1000, "failures arrive within 1 s", detail);
    finish(&loop, pg);
}

/* Nothing listens on the URL's port: the first query fails fast, later ones are rejected. */
static void
scenario_down(const char *url)
{
    uv_loop_t loop;
    struct sl_pg *pg;
    struct outcome o = {0};
    struct outcome later = {0};
    char detail[1024];

    uv_loop_init(&loop);
    pg = create(&loop, url, NULL);
    check(submit(pg, "SELECT 1", 0, NULL, &o) == SL_OK, "query accepted while connecting", NULL);
    run_until(&loop, &o.done, 5000);
    snprintf(detail, sizeof(detail), "status %s after %llu ms: %s", sl_status_str(o.st),
             (unsigned long long)o.elapsed_ms, o.error);
    check(o.done == 1 && o.st == SL_ERR_UNAVAILABLE && o.elapsed_ms < 1000,
          "refused connection fails the query fast", detail);
    check(submit(pg, "SELECT 1", 0, NULL, &later) == SL_ERR_UNAVAILABLE,
          "queries rejected during the retry delay", NULL);
    check(later.done == 0, "rejected query gets no callback", NULL);
    finish(&loop, pg);
}

static int
run_schema_check(const char *url)
{
    struct sl_errbuf err = {{0}};
    enum sl_status st = sl_schema_check(url, &err);

    printf("required=%d status=%s message=%s\n", sl_schema_required_version(), sl_status_str(st),
           err.msg);
    if (st == SL_OK)
        return 0;
    return st == SL_ERR_CONFIG ? 3 : 4;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr,
                "usage: pg_client_check basic|timeout|reconnect|outage|down|schema-check URL\n");
        return 2;
    }
    if (strcmp(argv[1], "schema-check") == 0)
        return run_schema_check(argv[2]);
    if (strcmp(argv[1], "basic") == 0)
        scenario_basic(argv[2]);
    else if (strcmp(argv[1], "timeout") == 0)
        scenario_timeout(argv[2]);
    else if (strcmp(argv[1], "reconnect") == 0)
        scenario_reconnect(argv[2]);
    else if (strcmp(argv[1], "outage") == 0)
        scenario_outage(argv[2]);
    else if (strcmp(argv[1], "down") == 0)
        scenario_down(argv[2]);
    else {
        fprintf(stderr, "pg_client_check: unknown scenario '%s'\n", argv[1]);
        return 2;
    }
    return failures == 0 ? 0 : 1;
}
