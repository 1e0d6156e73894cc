/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg -- libpq's non-blocking connect and query API driven by a uv_poll on PQsocket().
 *
 * States: CONNECTING (PQconnectPoll steps), READY (idle or one query running), BACKOFF (down,
 * waiting on the retry timer) and CLOSING (sl_pg_destroy was called). One timer serves the
 * state: the connect deadline, the running query's deadline, or the retry delay. The poll
 * handle is closed before every PQfinish because libuv must stop watching an fd before libpq
 * closes it, and it is replaced whenever PQsocket() changes during a connection attempt.
 */
#define SL_LOG_MODULE "pg"
#include "common/pg.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/store_metrics.h"
#include "common/xalloc.h"

/* The protocol's limit on parameters of one statement. */
#define PG_MAX_PARAMS 65535

/* Connection failures are logged at most this often per client during an outage. */
#define PG_LOG_INTERVAL_MS 10000

struct pg_query {
    struct pg_query *next;
    sl_pg_query_cb cb;
    void *privdata;
    char *sql;
    int nparams;
    char **params; /* entries may be NULL (SQL NULL) */
    char operation[SL_STORE_METRICS_NAME_MAX + 1]; /* the metrics label, e.g. "SELECT" */
    uint64_t queued_us;
};

enum pg_state {
    PG_CONNECTING,
    PG_READY,
    PG_BACKOFF,
    PG_CLOSING,
};

struct sl_pg {
    uv_loop_t *loop;
    struct sl_pg_options opts;
    char **keywords; /* NULL-terminated arrays for PQconnectStartParams */
    char **values;
    PGconn *conn;
    uv_poll_t *poll; /* heap-allocated: freed by its own close callback */
    int poll_fd;
    uv_timer_t timer;
    uv_timer_t kick; /* zero-delay timer that starts a query queued while idle */
    enum pg_state state;
    struct pg_query *head; /* FIFO; the head is the running query while `running` is set */
    struct pg_query *tail;
    PGresult *result; /* the running query's result kept so far */
    size_t queued;
    int running;
    unsigned failures; /* connection attempts that failed in a row */
    int connected_before;
    int open_handles;
    struct sl_log_limiter log_limit;
};

static void on_poll(uv_poll_t *handle, int status, int events);
static void start_connect(struct sl_pg *pg);
static void on_timer(uv_timer_t *timer);

/* ---------------------------------------------------------------------------------------- */
/* Queue */

static void
query_free(struct pg_query *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

/* Unlinks the head query and calls its callback; the caller has stopped it running. */
static void
complete_head(struct sl_pg *pg, enum sl_status st, const PGresult *res, const char *error)
{
    struct pg_query *q = pg->head;

    pg->head = q->next;
    if (pg->head == NULL)
        pg->tail = NULL;
    pg->queued--;
    sl_store_metrics_pg(q->operation, st, sl_now_us() - q->queued_us);
    q->cb(st, res, error, q->privdata);
    query_free(q);
}

/* Fails every queued query. A callback may queue more queries or destroy the client, so the
 * loop rereads the head each time. Callers set a state in which sl_pg_query() rejects first. */
static void
fail_all(struct sl_pg *pg, const char *error)
{
    while (pg->head != NULL)
        complete_head(pg, SL_ERR_UNAVAILABLE, NULL, error);
}

/* ---------------------------------------------------------------------------------------- */
/* Connection */

static void
on_poll_closed(uv_handle_t *handle)
{
    free(handle);
}

static void
close_poll(struct sl_pg *pg)
{
    if (pg->poll == NULL)
        return;
    uv_poll_stop(pg->poll);
    uv_close((uv_handle_t *)pg->poll, on_poll_closed);
    pg->poll = NULL;
    pg->poll_fd = -1;
}

/* uv_close() stops libuv watching the fd at once, so PQfinish may close it right after. */
static void
close_conn(struct sl_pg *pg)
{
    close_poll(pg);
    PQclear(pg->result);
    pg->result = NULL;
    if (pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->running = 0;
}

/* Watches libpq's current socket for `events`, replacing the poll handle if the fd changed. */
static int
watch(struct sl_pg *pg, int events)
{
    int fd = PQsocket(pg->conn);

    if (fd < 0)
        return -1;
    if (pg->poll != NULL && fd != pg->poll_fd)
        close_poll(pg);
    if (pg->poll == NULL) {
        pg->poll = sl_xmalloc(sizeof(*pg->poll));
        if (uv_poll_init(pg->loop, pg->poll, fd) != 0) {
            free(pg->poll);
            pg->poll = NULL;
            return -1;
        }
        pg->poll->data = pg;
        pg->poll_fd = fd;
    }
    return uv_poll_start(pg->poll, events, on_poll) == 0 ? 0 : -1;
}

/* libpq's messages end with a newline; the callbacks and the log get one line. */
static void
copy_line(char *dst, size_t size, const char *msg)
{
    size_t n = 0;

    if (msg == NULL)
        msg = "";
    while (msg[n] != '\0' && msg[n] != '\n' && n + 1 < size) {
        dst[n] = msg[n];
        n++;
    }
    dst[n] = '\0';
}

static void
log_failure(struct sl_pg *pg, const char *event, const char *reason)
{
    if (sl_log_limiter_allow(&pg->log_limit, sl_now_ms(), PG_LOG_INTERVAL_MS))
        sl_log(SL_LOG_WARN, NULL, event, SL_LOG_STR("reason", reason),
               SL_LOG_INT("failures", pg->failures),
               SL_LOG_INT("suppressed", pg->log_limit.suppressed));
}

static uint64_t
retry_delay_ms(const struct sl_pg *pg)
{
    uint64_t delay = pg->opts.reconnect_min_ms;
    unsigned shift = pg->failures > 0 ? pg->failures - 1 : 0;

    for (unsigned i = 0; i < shift && delay < pg->opts.reconnect_max_ms; i++)
        delay *= 2;
    return delay < pg->opts.reconnect_max_ms ? delay : pg->opts.reconnect_max_ms;
}

/* A connection attempt failed: wait, then retry. Queries queued during the attempt fail. */
static void
connect_failed(struct sl_pg *pg, const char *msg)
{
    char reason[256];

    copy_line(reason, sizeof(reason), msg);
    close_conn(pg);
    pg->failures++;
    log_failure(pg, "pg.connect_failed", reason);
    pg->state = PG_BACKOFF;
    uv_timer_start(&pg->timer, on_timer, retry_delay_ms(pg), 0);
    fail_all(pg, reason);
}

/*
 * The established connection broke, or its running query timed out. The running query gets
 * `st`, the rest of the queue SL_ERR_UNAVAILABLE, and a new connection is tried at once:
 * backoff applies only to attempts that fail.
 */
static void
connection_lost(struct sl_pg *pg, enum sl_status st, const char *msg)
{
    char reason[256];
    int had_running = pg->running;

    copy_line(reason, sizeof(reason), msg);
    log_failure(pg, st == SL_ERR_TIMEOUT ? "pg.query_timeout" : "pg.connection_lost", reason);
    uv_timer_stop(&pg->timer);
    uv_timer_stop(&pg->kick);
    close_conn(pg);
    pg->state = PG_BACKOFF;
    uv_timer_start(&pg->timer, on_timer, 0, 0);
    if (had_running && pg->head != NULL)
        complete_head(pg, st, NULL, reason);
    fail_all(pg, reason);
}

/* Starts the head query if the connection is idle. */
static void
pump(struct sl_pg *pg)
{
    struct pg_query *q = pg->head;
    int flushed;

    if (pg->state != PG_READY || pg->running || q == NULL)
        return;
    if (!PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL, (const char *const *)q->params,
                           NULL, NULL, 0)) {
        pg->running = 1;
        connection_lost(pg, SL_ERR_UNAVAILABLE, PQerrorMessage(pg->conn));
        return;
    }
    pg->running = 1;
    uv_timer_start(&pg->timer, on_timer, pg->opts.query_timeout_ms, 0);

    /* Non-blocking mode: the query may still sit in libpq's buffer until the socket drains. */
    flushed = PQflush(pg->conn);
    if (flushed < 0 || watch(pg, flushed == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) != 0)
        connection_lost(pg, SL_ERR_UNAVAILABLE, PQerrorMessage(pg->conn));
}

static void
drop_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void
on_connected(struct sl_pg *pg)
{
    uv_timer_stop(&pg->timer);
    if (PQsetnonblocking(pg->conn, 1) != 0 || watch(pg, UV_READABLE) != 0) {
        connect_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    PQsetNoticeProcessor(pg->conn, drop_notice, NULL);
    sl_log(SL_LOG_INFO, NULL, "pg.connected", SL_LOG_STR("host", PQhost(pg->conn)),
           SL_LOG_STR("port", PQport(pg->conn)), SL_LOG_BOOL("reconnect", pg->connected_before),
           SL_LOG_INT("failed_attempts", pg->failures));
    pg->connected_before = 1;
    pg->failures = 0;
    pg->state = PG_READY;
    pump(pg);
}

static void
step_connect(struct sl_pg *pg)
{
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING:
        if (watch(pg, UV_READABLE) != 0)
            connect_failed(pg, "cannot watch the connection's socket");
        return;
    case PGRES_POLLING_WRITING:
        if (watch(pg, UV_WRITABLE) != 0)
            connect_failed(pg, "cannot watch the connection's socket");
        return;
    case PGRES_POLLING_OK:
        on_connected(pg);
        return;
    case PGRES_POLLING_FAILED:
    default:
        connect_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
}

static void
start_connect(struct sl_pg *pg)
{
    pg->state = PG_CONNECTING;
    pg->conn = PQconnectStartParams((const char *const *)pg->keywords,
                                    (const char *const *)pg->values, 0);
    if (pg->conn == NULL) {
        connect_failed(pg, "out of memory in PQconnectStartParams");
        return;
    }
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        connect_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    uv_timer_start(&pg->timer, on_timer, pg->opts.connect_timeout_ms, 0);

    /* libpq's contract: the first PQconnectPoll call waits until the socket is writable. */
    if (watch(pg, UV_WRITABLE) != 0)
        connect_failed(pg, "cannot watch the connection's socket");
}

/* ---------------------------------------------------------------------------------------- */
/* Results */

/*
 * Collects the running query's results. An error result wins over others so that the callback
 * receives the SQLSTATE, and a connection that went bad turns the outcome into SL_ERR_UNAVAILABLE.
 */
static void
finish_query(struct sl_pg *pg, PGresult *res)
{
    enum sl_status st = SL_OK;
    char reason[256];
    const char *error = NULL;
    int bad = PQstatus(pg->conn) == CONNECTION_BAD;
    ExecStatusType es = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    uv_timer_stop(&pg->timer);
    pg->running = 0;
    if (bad) {
        copy_line(reason, sizeof(reason), PQerrorMessage(pg->conn));
        st = SL_ERR_UNAVAILABLE;
        error = reason;
    } else if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
        copy_line(reason, sizeof(reason),
                  res != NULL ? PQresultErrorMessage(res) : "query returned no result");
        st = SL_ERR_STORE;
        error = reason;
    }
    complete_head(pg, st, st == SL_ERR_UNAVAILABLE ? NULL : res, error);
    PQclear(res);

    /* The callback may have destroyed the client. */
    if (pg->state != PG_READY)
        return;
    if (bad) {
        connection_lost(pg, SL_ERR_UNAVAILABLE, reason);
        return;
    }
    pump(pg);
}

static void
read_results(struct sl_pg *pg)
{
    if (!PQconsumeInput(pg->conn)) {
        connection_lost(pg, SL_ERR_UNAVAILABLE, PQerrorMessage(pg->conn));
        return;
    }
    while (!PQisBusy(pg->conn)) {
        PGresult *r = PQgetResult(pg->conn);

        if (r == NULL) {
            if (!pg->running)
                break;
            r = pg->result;
            pg->result = NULL;
            finish_query(pg, r);
            return;
        }
        if (!pg->running) {
            /* Idle: the server's goodbye before it closes the socket, for instance. */
            PQclear(r);
            continue;
        }
        /* Keep the first error, else the last result. */
        if (pg->result != NULL && PQresultStatus(pg->result) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(pg->result);
            pg->result = r;
        }
    }
    if (PQstatus(pg->conn) == CONNECTION_BAD)
        connection_lost(pg, SL_ERR_UNAVAILABLE, PQerrorMessage(pg->conn));
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
    struct sl_pg *pg = handle->data;

    if (status < 0) {
        if (pg->state == PG_CONNECTING)
            connect_failed(pg, uv_strerror(status));
        else
            connection_lost(pg, SL_ERR_UNAVAILABLE, uv_strerror(status));
        return;
    }
    if (pg->state == PG_CONNECTING) {
        step_connect(pg);
        return;
    }
    if (pg->state != PG_READY)
        return;
    if (events & UV_WRITABLE) {
        int flushed = PQflush(pg->conn);

        if (flushed < 0 || (flushed == 0 && watch(pg, UV_READABLE) != 0)) {
            connection_lost(pg, SL_ERR_UNAVAILABLE, PQerrorMessage(pg->conn));
            return;
        }
    }
    if (events & UV_READABLE)
        read_results(pg);
}

static void
on_timer(uv_timer_t *timer)
{
    struct sl_pg *pg = timer->data;
    char reason[96];

    switch (pg->state) {
    case PG_CONNECTING:
        snprintf(reason, sizeof(reason), "connection attempt timed out after %u ms",
                 pg->opts.connect_timeout_ms);
        connect_failed(pg, reason);
        break;
    case PG_READY:
        if (pg->running) {
            snprintf(reason, sizeof(reason), "query timed out after %u ms",
                     pg->opts.query_timeout_ms);
            connection_lost(pg, SL_ERR_TIMEOUT, reason);
        }
        break;
    case PG_BACKOFF:
        start_connect(pg);
        break;
    case PG_CLOSING:
        break;
    }
}

static void
on_kick(uv_timer_t *timer)
{
    pump(timer->data);
}

/* ---------------------------------------------------------------------------------------- */
/* Public API */

static void
free_conninfo(char **keywords, char **values)
{
    if (keywords != NULL) {
        for (size_t i = 0; keywords[i] != NULL; i++) {
            free(keywords[i]);
            free(values[i]);
        }
    }
    free(keywords);
    free(values);
}

static int
is_numeric_host(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Addresses of one host name handed to libpq; more are dropped. */
#define PG_MAX_ADDRESSES 8

/*
 * Resolves `host` (blocking) into libpq's host/hostaddr lists: the name repeated once per
 * address, and the addresses, both comma-separated, so that libpq tries each address in turn
 * as it would after its own lookup.
 */
static enum sl_status
resolve_host(const char *host, struct sl_buf *hosts, struct sl_buf *addrs, struct sl_errbuf *err)
{
    struct addrinfo hints;
    struct addrinfo *list = NULL;
    int count = 0;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &list);
    if (rc != 0 || list == NULL) {
        sl_errbuf_set(err, "cannot resolve database host %s: %s", host, gai_strerror(rc));
        if (list != NULL)
            freeaddrinfo(list);
        return SL_ERR_CONFIG;
    }
    for (struct addrinfo *ai = list; ai != NULL && count < PG_MAX_ADDRESSES; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *addr;

        if (ai->ai_family == AF_INET)
            addr = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            addr = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (inet_ntop(ai->ai_family, addr, text, sizeof(text)) == NULL)
            continue;
        if (count > 0) {
            sl_buf_append_str(hosts, ",");
            sl_buf_append_str(addrs, ",");
        }
        sl_buf_append_str(hosts, host);
        sl_buf_append_str(addrs, text);
        count++;
    }
    freeaddrinfo(list);
    if (count == 0) {
        sl_errbuf_set(err, "database host %s has no IPv4 or IPv6 address", host);
        return SL_ERR_CONFIG;
    }
    return SL_OK;
}

/*
 * Splits `conninfo` into keyword/value arrays and adds hostaddr when the host is one DNS name,
 * so that PQconnectPoll never calls getaddrinfo on the loop. Host lists, socket directories and
 * an explicit hostaddr are left to libpq.
 */
static enum sl_status
parse_conninfo(const char *conninfo, char ***keywords_out, char ***values_out,
               struct sl_errbuf *err)
{
    PQconninfoOption *opts = NULL;
    char *errmsg = NULL;
    char **keywords = NULL;
    char **values = NULL;
    const char *host = NULL;
    int has_hostaddr = 0;
    size_t n = 0;
    size_t count = 0;
    struct sl_buf hosts;
    struct sl_buf addrs;
    enum sl_status rc = SL_OK;

    sl_buf_init(&hosts, 0);
    sl_buf_init(&addrs, 0);
    opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL) {
        char line[256];

        copy_line(line, sizeof(line), errmsg != NULL ? errmsg : "out of memory");
        sl_errbuf_set(err, "invalid database URL or connection string: %s", line);
        rc = SL_ERR_CONFIG;
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        count++;
    keywords = sl_xcalloc(count + 2, sizeof(*keywords));
    values = sl_xcalloc(count + 2, sizeof(*values));
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        if (strcmp(o->keyword, "hostaddr") == 0)
            has_hostaddr = 1;
        keywords[n] = sl_xstrdup(o->keyword);
        values[n] = sl_xstrdup(o->val);
        n++;
    }
    if (host != NULL && !has_hostaddr && host[0] != '/' && strchr(host, ',') == NULL &&
        !is_numeric_host(host)) {
        rc = resolve_host(host, &hosts, &addrs, err);
        if (rc != SL_OK)
            goto out;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(keywords[i], "host") == 0) {
                free(values[i]);
                values[i] = sl_buf_take(&hosts, NULL);
            }
        }
        keywords[n] = sl_xstrdup("hostaddr");
        values[n] = sl_buf_take(&addrs, NULL);
        n++;
    }
    *keywords_out = keywords;
    *values_out = values;
    keywords = NULL;
    values = NULL;

out:
    sl_buf_dispose(&hosts);
    sl_buf_dispose(&addrs);
    free_conninfo(keywords, values);
    PQconninfoFree(opts);
    PQfreemem(errmsg);
    return rc;
}

struct sl_pg *
sl_pg_create(uv_loop_t *loop, const char *conninfo, const struct sl_pg_options *opts,
             struct sl_errbuf *err)
{
    struct sl_pg *pg;
    char **keywords = NULL;
    char **values = NULL;

    if (parse_conninfo(conninfo, &keywords, &values, err) != SL_OK)
        return NULL;

    pg = sl_xcalloc(1, sizeof(*pg));
    pg->loop = loop;
    if (opts != NULL)
        pg->opts = *opts;
    if (pg->opts.query_timeout_ms == 0)
        pg->opts.query_timeout_ms = SL_PG_DEFAULT_QUERY_TIMEOUT_MS;
    if (pg->opts.connect_timeout_ms == 0)
        pg->opts.connect_timeout_ms = SL_PG_DEFAULT_CONNECT_TIMEOUT_MS;
    if (pg->opts.reconnect_min_ms == 0)
        pg->opts.reconnect_min_ms = SL_PG_DEFAULT_RECONNECT_MIN_MS;
    if (pg->opts.reconnect_max_ms == 0)
        pg->opts.reconnect_max_ms = SL_PG_DEFAULT_RECONNECT_MAX_MS;
    if (pg->opts.reconnect_max_ms < pg->opts.reconnect_min_ms)
        pg->opts.reconnect_max_ms = pg->opts.reconnect_min_ms;
    if (pg->opts.max_queue == 0)
        pg->opts.max_queue = SL_PG_DEFAULT_MAX_QUEUE;
    pg->keywords = keywords;
    pg->values = values;
    pg->poll_fd = -1;
    uv_timer_init(loop, &pg->timer);
    pg->timer.data = pg;
    uv_timer_init(loop, &pg->kick);
    pg->kick.data = pg;
    pg->open_handles = 2;

    start_connect(pg);
    return pg;
}

enum sl_status
sl_pg_query(struct sl_pg *pg, const char *sql, int nparams, const char *const *params,
            sl_pg_query_cb cb, void *privdata)
{
    struct pg_query *q;

    /* libpq rejects these in PQsendQueryParams, which would look like a broken connection. */
    if (nparams < 0 || nparams > PG_MAX_PARAMS || (nparams > 0 && params == NULL))
        return SL_ERR_INVALID;
    if (pg->state == PG_BACKOFF || pg->state == PG_CLOSING)
        return SL_ERR_UNAVAILABLE;
    if (pg->queued >= pg->opts.max_queue)
        return SL_ERR_TOO_LARGE;

    q = sl_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->privdata = privdata;
    q->sql = sl_xstrdup(sql);
    sl_store_metrics_operation(sql, q->operation);
    q->queued_us = sl_now_us();
    q->nparams = nparams;
    if (q->nparams > 0) {
        q->params = sl_xcalloc((size_t)q->nparams, sizeof(*q->params));
        for (int i = 0; i < q->nparams; i++)
            q->params[i] = params[i] != NULL ? sl_xstrdup(params[i]) : NULL;
    }
    if (pg->tail != NULL)
        pg->tail->next = q;
    else
        pg->head = q;
    pg->tail = q;
    pg->queued++;

    if (pg->state == PG_READY && !pg->running)
        uv_timer_start(&pg->kick, on_kick, 0, 0);
    return SL_OK;
}

int
sl_pg_is_connected(const struct sl_pg *pg)
{
    return pg->state == PG_READY;
}

static void
on_handle_closed(uv_handle_t *handle)
{
    struct sl_pg *pg = handle->data;

    if (--pg->open_handles > 0)
        return;
    free_conninfo(pg->keywords, pg->values);
    free(pg);
}

void
sl_pg_destroy(struct sl_pg *pg)
{
    if (pg == NULL || pg->state == PG_CLOSING)
        return;
    pg->state = PG_CLOSING;
    uv_timer_stop(&pg->timer);
    uv_timer_stop(&pg->kick);
    PQclear(pg->result);
    pg->result = NULL;
    close_conn(pg);
    fail_all(pg, "the database client is shutting down");
    uv_close((uv_handle_t *)&pg->timer, on_handle_closed);
    uv_close((uv_handle_t *)&pg->kick, on_handle_closed);
}

/* ---------------------------------------------------------------------------------------- */
/* Blocking helpers for startup code */

PGconn *
sl_pg_connect_sync(const char *conninfo, int connect_timeout_s, struct sl_errbuf *err)
{
    static const char *const keywords[] = {"dbname", "connect_timeout", NULL};
    char timeout[16];
    const char *values[3];
    PGconn *conn;
    char line[256];

    snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s < 2 ? 2 : connect_timeout_s);
    values[0] = conninfo;
    values[1] = timeout;
    values[2] = NULL;

    /* expand_dbname: a URL or keyword string in dbname is expanded, and connect_timeout,
     * coming after it, overrides any value it carries. */
    conn = PQconnectdbParams(keywords, values, 1);
    if (conn == NULL) {
        sl_errbuf_set(err, "cannot connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        copy_line(line, sizeof(line), PQerrorMessage(conn));
        sl_errbuf_set(err, "cannot connect to the database: %s", line);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, drop_notice, NULL);
    return conn;
}

enum sl_status
sl_pg_exec_sync(PGconn *conn, const char *sql, int nparams, const char *const *params,
                PGresult **out, struct sl_errbuf *err)
{
    PGresult *res;
    ExecStatusType es;
    char line[256];

    if (nparams > 0)
        res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    else
        res = PQexec(conn, sql);
    es = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK) {
        if (out != NULL)
            *out = res;
        else
            PQclear(res);
        return SL_OK;
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
        copy_line(line, sizeof(line), PQerrorMessage(conn));
        sl_errbuf_set(err, "database connection lost: %s", line);
        PQclear(res);
        return SL_ERR_UNAVAILABLE;
    }
    copy_line(line, sizeof(line),
              res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    sl_errbuf_set(err, "%s", line);
    PQclear(res);
    return SL_ERR_STORE;
}
