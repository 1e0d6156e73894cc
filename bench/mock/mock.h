/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mock -- state shared by the worker threads of sluice-mock, and the per-thread worker.
 *
 * Each worker owns a libuv loop, an h2o context and a SO_REUSEPORT listener. All workers share
 * the script queue and the request log, under `lock`. Apart from those, they share only the
 * read-only h2o configuration and the TLS context.
 */
#ifndef SL_MOCK_MOCK_H
#define SL_MOCK_MOCK_H

#include <pthread.h>
#include <stdint.h>

#include <h2o.h>
#include <uv.h>

#include "bench/mock/reqlog.h"
#include "bench/mock/script.h"

/* Maximum request body size; h2o replies 413 to larger bodies. */
#define SL_MOCK_MAX_BODY (64u * 1024u * 1024u)
/* Interval of the hang-up probe on HTTP/1 connections whose request the mock still holds. */
#define SL_MOCK_PROBE_MS 50

struct sl_mock_shared {
    pthread_mutex_t lock;
    struct sl_mock_script_queue *scripts; /* under lock */
    struct sl_mock_reqlog *log;           /* under lock */
    uint64_t start_ms;                    /* sl_now_ms() at start; read-only */
};

struct sl_mock_worker {
    uv_loop_t loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    uv_async_t stop_async;
    int listen_fd;
    pthread_t thread;
    struct sl_mock_shared *shared;
};

/* Registers the request handler on `host`. Call before any h2o_context_init(). */
void sl_mock_routes_register(h2o_hostconf_t *host);

/* Returns the worker that owns the connection of `req`. */
static inline struct sl_mock_worker *
sl_mock_worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(struct sl_mock_worker, ctx, req->conn->ctx);
}

#endif /* SL_MOCK_MOCK_H */
