/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request -- one client request from h2o's on_req to the access log line.
 *
 * h2o frees its h2o_req_t as soon as the client goes away or the response completes, while
 * curl and timers may call back later. So the request state is malloc'd and refcounted: h2o
 * holds one reference through a dispose hook on the request pool, and every pending async
 * operation may hold another. After the hook ran, `req` is NULL and nothing may touch h2o.
 *
 * Responses go out either whole (sl_request_respond_*) or as a stream (sl_request_start,
 * sl_request_write, sl_request_end), which keeps h2o's rule of one h2o_send per proceed by
 * double-buffering: bytes written while a send is outstanding wait in `out_pending`.
 * Everything runs on the worker's loop thread.
 */
#ifndef SL_REQUEST_H
#define SL_REQUEST_H

#include <stdint.h>

#include <h2o.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/sse.h"
#include "gateway/http/decoder.h"
#include "gateway/http/format.h"
#include "gateway/providers/provider.h"
#include "gateway/upstream/upstream.h"

struct sl_inflight_entry;
struct sl_worker;
struct sl_request;
struct sl_wildcard_group;

/* Called when the client has taken the bytes sent so far and more may be written. */
typedef void (*sl_request_drained_cb)(struct sl_request *r);
/* Called once when the client goes away before the response ended. */
typedef void (*sl_request_gone_cb)(struct sl_request *r);

struct sl_request {
    h2o_generator_t gen;
    struct sl_worker *worker;
    h2o_req_t *req; /* NULL once h2o disposed the request */
    unsigned refs;
    char call_id[37];
    uint64_t start_us;
    uint64_t start_wall_ms;      /* when the request arrived, Unix milliseconds */
    uint64_t first_byte_wall_ms; /* when a streamed response started; 0 for none */
    uint64_t first_byte_us;      /* the same instant on the monotonic clock; 0 for none */
    int http1;
    int probed;                /* linked into the worker's HTTP/1 hang-up probe list */
    h2o_linklist_t probe_link;

    /* Facts for the access log. */
    const char *route; /* the route's canonical path, e.g. "/chat/completions" */
    char method[8];
    char path[128];
    char *model; /* the model the client asked for; owned */
    struct sl_wildcard_group *wildcard; /* the group built for `model` from a pattern; owned */
    const struct sl_deployment *deployment;
    int stream;
    int status;
    char error_type[64]; /* "" on success; copied, since error types live in stack buffers */
    int stream_error_status; /* status of the error event that ended a started stream; 0 none */
    struct sl_usage usage;
    int client_gone;
    int logged;

    /* Response state. */
    int started; /* head sent (streaming) */
    int sending; /* an h2o_send waits for proceed */
    int ended;   /* the final h2o_send was issued */
    int end_requested;
    h2o_send_state_t end_state;
    struct sl_buf out_pending;
    struct sl_buf out_inflight;
    sl_request_drained_cb on_drained;
    sl_request_gone_cb on_gone;

    /* The client's format: error envelopes, stream endings, response conversion. */
    const struct sl_format_ops *format;
    void *format_state;

    /* The provider call in progress. */
    struct sl_cache_state *cache; /* the response cache's state when it applies; owned */
    int cache_hit;                /* the response came from the cache */
    int cache_looked_up;          /* the cache was read for this request, hit or miss */
    cJSON *body;     /* the request as the provider family reads it; owned */
    cJSON *original; /* the client's own body when `body` was converted from it; owned */
    struct sl_call_ctx ctx;
    const struct sl_provider *provider;
    struct sl_call *call;
    struct sl_decoder decoder;
    int decoder_ready;
    struct sl_stream_state st;
    uint64_t upstream_start_us; /* when the last provider call started; 0 for none */
    uint64_t upstream_end_us;   /* when it ended (response read, failed or cancelled) */

    /* Budgets and rate limits (limits/limits.h); NULL until admission starts. Owned. */
    struct sl_limits *limits;

    /* The routing state of the current provider call (http/attempt.h). */
    struct sl_inflight_entry *attempt_entry; /* its deployment's shared state; may be NULL */
    int attempt_slot;       /* 1 while the call has an in-flight slot of attempt_entry */
    int attempt_in_redis;   /* 1 when usage-based routing counted the call in Redis */
    uint64_t attempt_minute; /* the minute (wall ms / 60000) the call was counted in */

    /* Retries and fallbacks (http/failover.h); NULL on routes without them. Owned. */
    struct sl_failover *failover;
    unsigned attempted_retries;
    unsigned attempted_fallbacks;
    int fallback_error_status;           /* the error that started the first fallback */
    const char *fallback_error_provider; /* the provider that returned it; borrowed */

    /* OpenTelemetry spans (http/trace.h); NULL unless tracing is on. Owned. */
    struct sl_trace *trace;
};

/* Writes a new random request id (a UUID version 4) and its NUL into `out`. */
void sl_request_new_call_id(char out[37]);

/* Creates the state for `req` on worker `w`; h2o's dispose hook holds the first reference. */
struct sl_request *sl_request_create(struct sl_worker *w, h2o_req_t *req, const char *route);

void sl_request_retain(struct sl_request *r);
void sl_request_release(struct sl_request *r);

/* Adds a response header (lower-case name); both strings are copied. */
void sl_request_add_header(struct sl_request *r, const char *name, const char *value);

/* Sends a whole response with `content_type`; `body` is copied. */
void sl_request_respond(struct sl_request *r, int status, const char *content_type,
                        const char *body, size_t len);

/* Sends a whole JSON response; `body` is copied. */
void sl_request_respond_json(struct sl_request *r, int status, const char *body, size_t len);

/* Sends an error in the client format's envelope; `param` may be NULL, `type` NULL for the
 * default of `status`. */
void sl_request_respond_error(struct sl_request *r, int status, const char *type,
                              const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Starts a streamed response with `status` and `content_type`. */
void sl_request_start(struct sl_request *r, int status, const char *content_type);

/* Queues bytes of a started response; they are copied. */
void sl_request_write(struct sl_request *r, const char *data, size_t len);

/* Returns the bytes waiting to be sent: writers stop producing above a high-water mark. */
size_t sl_request_backlog(const struct sl_request *r);

/* Ends a started response after the queued bytes: FINAL, or ERROR to abort the connection or
 * stream so the client cannot mistake a cut response for a complete one. */
void sl_request_end(struct sl_request *r, h2o_send_state_t state);

/* Handles a client that went away while the request still waited on the upstream. */
void sl_request_client_gone(struct sl_request *r);

/* Writes the access log line once; called when the request ends either way. */
void sl_request_log_access(struct sl_request *r);

#endif /* SL_REQUEST_H */
