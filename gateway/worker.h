/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker -- one gateway thread: a libuv loop, an h2o context, an SO_REUSEPORT listener and a
 * curl multi handle, sharing nothing mutable with other workers.
 *
 * main() creates the workers after the config and the h2o global config are final; each
 * worker then runs its loop on its own thread until sl_worker_request_stop() (the only call
 * that is safe from another thread) starts the drain: the listener closes, HTTP/2 clients get
 * GOAWAY, readiness turns 503, and the loop ends once in-flight requests finish or the drain
 * deadline passes.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include <h2o.h>
#include <uv.h>

#include "gateway/upstream/upstream.h"

struct sl_auth_cache;
struct sl_cooldown;
struct sl_end_user_cache;
struct sl_gateway;
struct sl_health_state;
struct sl_limits_scripts;
struct sl_pg;
struct sl_redis;
struct sl_router_live;

struct sl_worker {
    int index;
    struct sl_gateway *gw; /* read-only shared state: config, router, h2o global config */
    pthread_t thread;

    uv_loop_t loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int listen_fd;

    struct sl_upstream upstream;
    struct sl_pg *pg;       /* NULL without a database; reconnects by itself */
    struct sl_redis *redis; /* NULL without Redis; reconnects by itself */
    struct sl_auth_cache *auth; /* virtual key records, gateway/auth/keys.h */
    struct sl_end_user_cache *end_users; /* end users' limits, gateway/auth/end_users.h */
    struct sl_router_live *models; /* the router in use, gateway/router/live.h */
    struct sl_cooldown *cooldown;  /* deployments cooling down, gateway/router/cooldown.h */
    struct sl_health_state *health; /* health check results, gateway/health/state.h */
    struct sl_limits_scripts *limits; /* budgets and rate limits, gateway/limits/limits.h */

    uv_async_t stop_async;
    uv_timer_t drain_timer;
    uv_timer_t probe_timer;
    int draining;
    uint64_t drain_deadline_ms;

    uint64_t rng;                /* random state for deployment choice */
    uint64_t inflight;           /* requests accepted and not yet finished */
    h2o_linklist_t h1_requests;  /* HTTP/1 requests waiting on the upstream, probed for hang-ups */
};

/* Prepares `w` (loop, h2o context, curl multi, listener on `listen_fd`). Takes `listen_fd`. */
int sl_worker_init(struct sl_worker *w, int index, struct sl_gateway *gw, int listen_fd);

/* Runs the loop on a new thread. */
int sl_worker_start(struct sl_worker *w);

/* Starts the drain; safe from any thread. */
void sl_worker_request_stop(struct sl_worker *w);

/* Waits for the thread to end. */
void sl_worker_join(struct sl_worker *w);

/* Watches an HTTP/1 request for a client hang-up while it waits on the upstream. */
struct sl_request;
void sl_worker_probe(struct sl_worker *w, struct sl_request *r);

/* Returns the worker that owns the h2o context `ctx`. */
struct sl_worker *sl_worker_from_ctx(h2o_context_t *ctx);

#endif /* SL_WORKER_H */
