/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker -- one loop thread; see worker.h. Owns the listener, the h2o context, the curl multi
 * handle, the HTTP/1 hang-up probe and the drain on shutdown.
 */
#define SL_LOG_MODULE "worker"
#include "gateway/worker.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "common/pg.h"
#include "common/redis.h"
#include "gateway/auth/end_users.h"
#include "gateway/auth/keys.h"
#include "gateway/http/request.h"
#include "gateway/limits/limits.h"
#include "gateway/health/state.h"
#include "gateway/router/cooldown.h"
#include "gateway/router/live.h"

/* How often waiting HTTP/1 requests are checked for a client that hung up. */
#define SL_WORKER_PROBE_INTERVAL_MS 100
/* How often the drain checks whether in-flight requests are done. */
#define SL_WORKER_DRAIN_POLL_MS 50

static void
on_accept(uv_stream_t *listener, int status)
{
    struct sl_worker *w = listener->data;
    uv_tcp_t *conn;
    h2o_socket_t *sock;

    if (status != 0 || w->draining)
        return;
    conn = sl_xmalloc(sizeof(*conn));
    uv_tcp_init(&w->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    /* Small SSE frames must leave at once; h2o's libuv binding does not set this. */
    uv_tcp_nodelay(conn, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&w->accept_ctx, sock);
}

/* ---------------------------------------------------------------- HTTP/1 hang-up probe */

/*
 * h2o 2.2.5 stops reading an HTTP/1 connection while its request is processed, so it learns
 * of a client that hung up only when a write fails, and never while the provider is still
 * thinking. Polling the socket for POLLRDHUP finds the hang-up; the request is then
 * cancelled, which cancels the provider call. (A client that half-closes after sending its
 * request looks gone too: HTTP clients do not do that.)
 */
static void
on_probe(uv_timer_t *t)
{
    struct sl_worker *w = t->data;
    h2o_linklist_t *node = w->h1_requests.next;

    while (node != &w->h1_requests) {
        struct sl_request *r = H2O_STRUCT_FROM_MEMBER(struct sl_request, probe_link, node);
        struct pollfd p;
        h2o_socket_t *sock;

        node = node->next;
        if (r->req == NULL)
            continue;
        sock = r->req->conn->callbacks->get_socket(r->req->conn);
        if (sock == NULL)
            continue;
        p.fd = h2o_socket_get_fd(sock);
        p.events = POLLRDHUP;
        p.revents = 0;
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
            sl_request_retain(r);
            sl_request_client_gone(r);
            sl_request_release(r);
        }
    }
    if (h2o_linklist_is_empty(&w->h1_requests))
        uv_timer_stop(&w->probe_timer);
}

void
sl_worker_probe(struct sl_worker *w, struct sl_request *r)
{
    if (!r->http1 || r->probed)
        return;
    h2o_linklist_insert(&w->h1_requests, &r->probe_link);
    r->probed = 1;
    if (!uv_is_active((uv_handle_t *)&w->probe_timer))
        uv_timer_start(&w->probe_timer, on_probe, SL_WORKER_PROBE_INTERVAL_MS,
                       SL_WORKER_PROBE_INTERVAL_MS);
}

/* ---------------------------------------------------------------- drain and stop */

static void
finish_loop(struct sl_worker *w)
{
    uv_timer_stop(&w->drain_timer);
    uv_timer_stop(&w->probe_timer);
    sl_upstream_dispose(&w->upstream);
    if (w->pg != NULL)
        sl_pg_destroy(w->pg);
    w->pg = NULL;
    if (w->redis != NULL)
        sl_redis_destroy(w->redis);
    w->redis = NULL;
    sl_auth_worker_dispose(w);
    sl_end_user_worker_dispose(w);
    sl_cooldown_worker_dispose(w);
    sl_health_worker_dispose(w);
    sl_limits_worker_dispose(w);
    sl_router_live_dispose(w);
    uv_stop(&w->loop);
}

static void
on_drain_tick(uv_timer_t *t)
{
    struct sl_worker *w = t->data;

    if (w->inflight == 0 || sl_now_ms() >= w->drain_deadline_ms) {
        if (w->inflight != 0)
            sl_log(SL_LOG_WARN, NULL, "worker.drain_timeout", SL_LOG_INT("worker", w->index),
                   SL_LOG_INT("inflight", (int64_t)w->inflight));
        finish_loop(w);
    }
}

static void
on_stop_request(uv_async_t *a)
{
    struct sl_worker *w = a->data;

    if (w->draining)
        return;
    w->draining = 1;
    w->drain_deadline_ms = sl_now_ms() + (uint64_t)(w->gw->cfg.drain_timeout_s * 1000.0);

    /* New connections are refused once every worker closed its listener; HTTP/2 clients get
     * GOAWAY and HTTP/1 responses stop offering keep-alive. */
    uv_close((uv_handle_t *)&w->listener, NULL);
    h2o_context_request_shutdown(&w->ctx);
    uv_timer_start(&w->drain_timer, on_drain_tick, 0, SL_WORKER_DRAIN_POLL_MS);
}

void
sl_worker_request_stop(struct sl_worker *w)
{
    uv_async_send(&w->stop_async);
}

/* ---------------------------------------------------------------- lifecycle */

/* Opens this worker's own Postgres and Redis clients; both connect in the background and
 * retry on their own, so a store that is down at start delays nothing. */
static int
connect_stores(struct sl_worker *w)
{
    struct sl_errbuf err = {{0}};

    if (w->gw->have_database) {
        w->pg = sl_pg_create(&w->loop, w->gw->cfg.database_url, NULL, &err);
        if (w->pg == NULL) {
            sl_log(SL_LOG_ERROR, NULL, "worker.database_failed", SL_LOG_STR("message", err.msg));
            return -1;
        }
    }
    if (w->gw->have_redis &&
        sl_redis_create(&w->loop, &w->gw->redis_target, NULL, &w->redis, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "worker.redis_failed", SL_LOG_STR("message", err.msg));
        return -1;
    }
    sl_auth_worker_init(w);
    sl_end_user_worker_init(w);
    sl_router_live_init(w);
    sl_cooldown_worker_init(w);
    sl_health_worker_init(w);
    sl_limits_worker_init(w);
    return 0;
}

struct sl_worker *
sl_worker_from_ctx(h2o_context_t *ctx)
{
    return H2O_STRUCT_FROM_MEMBER(struct sl_worker, ctx, ctx);
}

int
sl_worker_init(struct sl_worker *w, int index, struct sl_gateway *gw, int listen_fd)
{
    memset(w, 0, sizeof(*w));
    w->index = index;
    w->gw = gw;
    w->listen_fd = listen_fd;
    w->rng = sl_now_us() ^ ((uint64_t)(index + 1) << 32);
    h2o_linklist_init_anchor(&w->h1_requests);

    uv_loop_init(&w->loop);
    h2o_context_init(&w->ctx, &w->loop, &gw->h2o);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = gw->h2o.hosts;
    w->accept_ctx.ssl_ctx = gw->ssl_ctx;

    if (sl_upstream_init(&w->upstream, &w->loop) != 0)
        return -1;
    if (connect_stores(w) != 0)
        return -1;
    uv_async_init(&w->loop, &w->stop_async, on_stop_request);
    w->stop_async.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_timer_init(&w->loop, &w->probe_timer);
    w->probe_timer.data = w;

    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    if (uv_tcp_open(&w->listener, listen_fd) != 0 ||
        uv_listen((uv_stream_t *)&w->listener, 1024, on_accept) != 0)
        return -1;
    return 0;
}

static void *
run(void *arg)
{
    struct sl_worker *w = arg;

    sl_metrics_bind_thread((unsigned)w->index);
    /* h2o starts a client socket's read buffer at 8 KB and an open stream keeps it, so start
     * at one 4 KB read (larger bodies still grow it). Per thread: set before the first socket. */
    h2o_socket_buffer_prototype._initial_buf.capacity = H2O_SOCKET_INITIAL_INPUT_BUFFER_SIZE;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

int
sl_worker_start(struct sl_worker *w)
{
    return pthread_create(&w->thread, NULL, run, w);
}

void
sl_worker_join(struct sl_worker *w)
{
    /* The loop is not closed: idle keep-alive connections still hold handles that h2o owns,
     * and the process exits right after the join. */
    pthread_join(w->thread, NULL);
}
