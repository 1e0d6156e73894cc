/* SPDX-License-Identifier: Apache-2.0 */
/* request -- request state, responses and the access log line; see request.h. */
#define SL_LOG_MODULE "http"
#include "gateway/http/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/http/attempt.h"
#include "gateway/http/cache_flow.h"
#include "gateway/http/errors.h"
#include "gateway/http/failover.h"
#include "gateway/http/litellm_metrics.h"
#include "gateway/http/metrics.h"
#include "gateway/http/trace.h"
#include "gateway/limits/limits.h"
#include "gateway/router/wildcard.h"
#include "gateway/worker.h"

/* Bytes queued for a client beyond this are a writer's bug: streams stop consuming first. */
#define SL_REQUEST_OUT_MAX_BYTES (64u * 1024u * 1024u)

void
sl_request_new_call_id(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t n = 0;

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* Only possible before the kernel's pool is seeded: fall back to time and a counter. */
        static __thread uint64_t counter;
        uint64_t t = sl_now_us();
        uint64_t c = ++counter;

        memcpy(b, &t, sizeof(t));
        memcpy(b + 8, &c, sizeof(c));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* UUID version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 0x0f];
    }
    out[n] = '\0';
}

static void
unprobe(struct sl_request *r)
{
    if (r->probed) {
        h2o_linklist_unlink(&r->probe_link);
        r->probed = 0;
    }
}

static void
on_pool_dispose(void *p)
{
    struct sl_request *r = *(struct sl_request **)p;

    if (!r->ended)
        r->client_gone = 1;
    r->req = NULL;
    unprobe(r);
    if (r->client_gone && r->on_gone != NULL) {
        sl_request_gone_cb cb = r->on_gone;

        r->on_gone = NULL;
        cb(r);
    }
    sl_limits_settle(r);
    sl_request_log_access(r);
    r->worker->inflight--;
    sl_request_release(r);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req);
static void on_stop(h2o_generator_t *gen, h2o_req_t *req);

struct sl_request *
sl_request_create(struct sl_worker *w, h2o_req_t *req, const char *route)
{
    struct sl_request *r = sl_xcalloc(1, sizeof(*r));
    struct sl_request **hook;

    r->worker = w;
    r->req = req;
    r->refs = 1;
    r->route = route;
    r->start_us = sl_now_us();
    r->start_wall_ms = sl_wall_ms();
    r->http1 = req->version < 0x200;
    r->format = sl_format_ops_for(SL_FORMAT_OPENAI);
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    sl_buf_init(&r->out_pending, SL_REQUEST_OUT_MAX_BYTES);
    sl_buf_init(&r->out_inflight, 0);
    sl_request_new_call_id(r->call_id);
    snprintf(r->method, sizeof(r->method), "%.*s", (int)req->method.len, req->method.base);
    snprintf(r->path, sizeof(r->path), "%.*s", (int)req->path_normalized.len,
             req->path_normalized.base);

    sl_trace_begin(r);

    hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_pool_dispose);
    *hook = r;
    w->inflight++;
    return r;
}

void
sl_request_retain(struct sl_request *r)
{
    r->refs++;
}

void
sl_request_release(struct sl_request *r)
{
    if (--r->refs > 0)
        return;
    sl_call_destroy(r->call);
    sl_attempt_release(r);
    if (r->decoder_ready)
        sl_decoder_dispose(&r->decoder);
    if (r->st.family != NULL && r->st.family_free != NULL)
        r->st.family_free(r->st.family);
    if (r->format_state != NULL && r->format->free_state != NULL)
        r->format->free_state(r->format_state);
    sl_cache_state_free(r->cache);
    sl_failover_free(r->failover);
    sl_limits_free(r->limits);
    sl_trace_free(r->trace);
    cJSON_Delete(r->body);
    cJSON_Delete(r->original);
    sl_buf_dispose(&r->out_pending);
    sl_buf_dispose(&r->out_inflight);
    free(r->model);
    sl_wildcard_group_destroy(r->wildcard);
    free(r);
}

void
sl_request_add_header(struct sl_request *r, const char *name, const char *value)
{
    h2o_iovec_t n;
    h2o_iovec_t v;

    if (r->req == NULL)
        return;
    /* h2o keeps both pointers: copy them into the request pool. */
    n = h2o_strdup(&r->req->pool, name, strlen(name));
    v = h2o_strdup(&r->req->pool, value, strlen(value));
    h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, n.base, n.len, 1, NULL, v.base,
                          v.len);
}

/* HTTP/1 prints the reason phrase; h2o leaves it to the handler. */
static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

static void
set_head(struct sl_request *r, int status, const char *content_type)
{
    h2o_req_t *req = r->req;

    r->status = status;
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    sl_request_add_header(r, "x-litellm-call-id", r->call_id);
}

void
sl_request_respond(struct sl_request *r, int status, const char *content_type, const char *body,
                   size_t len)
{
    if (r->req == NULL || r->started || r->ended)
        return;
    unprobe(r);
    set_head(r, status, content_type);
    r->req->res.content_length = len;
    r->ended = 1;
    h2o_send_inline(r->req, body, len);
}

void
sl_request_respond_json(struct sl_request *r, int status, const char *body, size_t len)
{
    sl_request_respond(r, status, "application/json", body, len);
}

void
sl_request_respond_error(struct sl_request *r, int status, const char *type, const char *param,
                         const char *fmt, ...)
{
    char message[1024];
    struct sl_buf body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (type == NULL)
        type = sl_errors_default_type(status);
    snprintf(r->error_type, sizeof(r->error_type), "%s", type);
    sl_buf_init(&body, 0);
    r->format->error_envelope(&body, status, message, type, param);
    sl_request_respond_json(r, status, body.data, body.len);
    sl_buf_dispose(&body);
}

static void
flush(struct sl_request *r)
{
    h2o_iovec_t buf;
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;

    if (r->req == NULL || !r->started || r->sending || r->ended)
        return;
    if (r->out_pending.len == 0 && !r->end_requested)
        return;

    /* The bytes handed to h2o must stay untouched until proceed: swap the buffers. */
    struct sl_buf tmp = r->out_inflight;
    r->out_inflight = r->out_pending;
    r->out_pending = tmp;
    sl_buf_reset(&r->out_pending);
    r->out_pending.max_len = SL_REQUEST_OUT_MAX_BYTES;

    if (r->end_requested) {
        state = r->end_state;
        r->ended = 1;
    }
    r->sending = 1;
    buf = h2o_iovec_init(r->out_inflight.data, r->out_inflight.len);
    h2o_send(r->req, &buf, buf.len != 0 ? 1 : 0, state);
}

static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct sl_request *r = H2O_STRUCT_FROM_MEMBER(struct sl_request, gen, gen);

    (void)req;
    r->sending = 0;
    sl_buf_reset(&r->out_inflight);
    if (r->on_drained != NULL && !r->ended) {
        sl_request_retain(r);
        r->on_drained(r);
        flush(r);
        sl_request_release(r);
        return;
    }
    flush(r);
}

static void
on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct sl_request *r = H2O_STRUCT_FROM_MEMBER(struct sl_request, gen, gen);

    (void)req;
    if (!r->ended) {
        r->client_gone = 1;
        r->ended = 1;
        if (r->on_gone != NULL) {
            sl_request_gone_cb cb = r->on_gone;

            r->on_gone = NULL;
            cb(r);
        }
    }
}

void
sl_request_start(struct sl_request *r, int status, const char *content_type)
{
    if (r->req == NULL || r->started || r->ended)
        return;
    /* The probe stays: a paused stream writes nothing, so a hang-up would go unnoticed. */
    set_head(r, status, content_type);
    r->started = 1;
    r->first_byte_wall_ms = sl_wall_ms();
    r->first_byte_us = sl_now_us();
    h2o_start_response(r->req, &r->gen);
}

void
sl_request_write(struct sl_request *r, const char *data, size_t len)
{
    if (r->req == NULL || !r->started || r->ended || r->end_requested)
        return;
    if (sl_buf_append(&r->out_pending, data, len) != SL_OK) {
        /* Only a writer that ignores sl_request_backlog() gets here: cut the response. */
        sl_request_end(r, H2O_SEND_STATE_ERROR);
        return;
    }
    flush(r);
}

size_t
sl_request_backlog(const struct sl_request *r)
{
    return r->out_pending.len + r->out_inflight.len;
}

void
sl_request_end(struct sl_request *r, h2o_send_state_t state)
{
    if (r->req == NULL || !r->started || r->ended || r->end_requested)
        return;
    r->end_requested = 1;
    r->end_state = state;
    flush(r);
}

void
sl_request_client_gone(struct sl_request *r)
{
    h2o_req_t *req = r->req;

    if (req == NULL || r->ended)
        return;
    r->client_gone = 1;
    unprobe(r);
    if (r->on_gone != NULL) {
        sl_request_gone_cb cb = r->on_gone;

        r->on_gone = NULL;
        cb(r);
    }
    if (r->req == NULL)
        return;

    /* Nginx's 499: the client is gone, but h2o needs a response to close the connection and
     * dispose the request. */
    if (!r->started) {
        r->status = 499;
        r->ended = 1;
        req->http1_is_persistent = 0;
        h2o_send_error_generic(req, 499, "Client Closed Request", "", 0);
    } else if (!r->sending) {
        r->ended = 1;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
    }
}

void
sl_request_log_access(struct sl_request *r)
{
    const struct sl_deployment *d = r->deployment;
    uint64_t elapsed_us = sl_now_us() - r->start_us;

    if (r->logged)
        return;
    r->logged = 1;
    sl_http_metrics_count_request(r);
    sl_litellm_metrics_request_end(r);
    sl_trace_end(r);
    sl_log(SL_LOG_INFO, r->call_id, "http.access", SL_LOG_STR("method", r->method),
           SL_LOG_STR("path", r->path), SL_LOG_INT("status", r->client_gone && r->status == 0 ? 499 : r->status),
           SL_LOG_DBL("duration_ms", (double)elapsed_us / 1000.0),
           SL_LOG_STR("model", d != NULL ? d->provider_model : NULL),
           SL_LOG_STR("model_group", r->model), SL_LOG_STR("model_id", d != NULL ? d->id : NULL),
           SL_LOG_STR("provider", d != NULL ? d->provider : NULL), SL_LOG_BOOL("stream", r->stream),
           SL_LOG_INT("prompt_tokens", r->usage.prompt_tokens),
           SL_LOG_INT("completion_tokens", r->usage.completion_tokens),
           SL_LOG_DBL("cost", sl_limits_request_cost(r, NULL)),
           SL_LOG_INT("retries", r->attempted_retries),
           SL_LOG_INT("fallbacks", r->attempted_fallbacks),
           SL_LOG_BOOL("client_gone", r->client_gone), SL_LOG_STR("error_type", r->error_type[0] != '\0' ? r->error_type : NULL));
}
