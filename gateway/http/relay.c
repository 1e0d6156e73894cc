/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay -- stages 4 and 5 of http/pipeline.h: the provider call and the way back.
 *
 * A whole response is collected (up to max_response_size_mb), translated and sent with its
 * length. A stream is parsed event by event as bytes arrive; each event is translated and
 * written to the client at once. The client response starts only with the first good event,
 * so an error before it is a real HTTP status with the JSON envelope, never a 200 stream.
 * Such an error first goes to http/failover.h, which may start another attempt instead.
 * After the first byte, an in-band error, a cut connection or an idle timeout ends the stream
 * with one error event and `data: [DONE]`; a finish_reason is never made up.
 *
 * Backpressure: events are only taken from the upstream buffer while the client's backlog is
 * under SL_RELAY_HIGH_WATER_BYTES; the upstream transfer pauses when its own buffer fills and
 * resumes from the client's proceed callback.
 */
#define SL_LOG_MODULE "relay"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/attempt.h"
#include "gateway/http/cache_flow.h"
#include "gateway/http/errors.h"
#include "gateway/http/failover.h"
#include "gateway/http/litellm_metrics.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/http/trace.h"
#include "gateway/limits/limits.h"
#include "gateway/worker.h"

/* Client bytes queued before the relay stops taking upstream events. */
#define SL_RELAY_HIGH_WATER_BYTES (256 * 1024)
/* Upstream bytes buffered before the transfer pauses. */
#define SL_RELAY_PAUSE_AT_BYTES (256 * 1024)
/* The largest single stream event accepted from a provider. */
#define SL_RELAY_MAX_EVENT_BYTES (4 * 1024 * 1024)

static void on_upstream(struct sl_call *call, void *owner);

/* ---------------------------------------------------------------- headers */

static int
is_hop_header(const char *name)
{
    static const char *const skip[] = {"connection", "content-length", "content-type",
                                       "content-encoding", "transfer-encoding", "keep-alive",
                                       "set-cookie", "date", "server", "alt-svc"};

    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strcmp(name, skip[i]) == 0)
            return 1;
    return 0;
}

/* The x-litellm-* headers of a proxied call, and the provider's headers as llm_provider-*. */
static void
add_proxy_headers(struct sl_request *r)
{
    const struct sl_deployment *d = r->deployment;
    const struct sl_call *call = r->call;
    char base[512];
    char count[16];
    size_t pos = 0;
    const char *name;
    const char *value;

    sl_request_add_header(r, "x-litellm-model-id", d->id);
    sl_request_add_header(r, "x-litellm-model-group", d->model_name);
    if (d->api_base != NULL)
        sl_url_write_base(d->api_base, base, sizeof(base));
    else if (r->provider->default_api_base != NULL)
        sl_url_write_base(r->provider->default_api_base, base, sizeof(base));
    else
        base[0] = '\0'; /* the family derives its URL, e.g. from a region */
    if (base[0] != '\0')
        sl_request_add_header(r, "x-litellm-model-api-base", base);
    snprintf(count, sizeof(count), "%u", r->attempted_retries);
    sl_request_add_header(r, "x-litellm-attempted-retries", count);
    snprintf(count, sizeof(count), "%u", r->attempted_fallbacks);
    sl_request_add_header(r, "x-litellm-attempted-fallbacks", count);
    if (call == NULL)
        return;

    sl_litellm_metrics_provider_headers(r, call);
    while (sl_call_next_header(call, &pos, &name, &value)) {
        char prefixed[256];

        if (is_hop_header(name))
            continue;
        /* Clients and SDKs read these under their own names; retry-after drives SDK retries. */
        if (strncmp(name, "x-ratelimit-", 12) == 0 || strcmp(name, "retry-after") == 0 ||
            strcmp(name, "retry-after-ms") == 0)
            sl_request_add_header(r, name, value);
        snprintf(prefixed, sizeof(prefixed), "llm_provider-%s", name);
        sl_request_add_header(r, prefixed, value);
    }
}

/* ---------------------------------------------------------------- endings */

static void
finish_call(struct sl_request *r)
{
    if (r->call != NULL)
        r->upstream_end_us = sl_now_us();
    sl_trace_attempt_end(r, NULL);
    sl_call_destroy(r->call);
    r->call = NULL;
    /* Every end of an attempt passes here, and a second release does nothing, so the
     * in-flight slot goes back exactly once. */
    sl_attempt_release(r);
    r->on_drained = NULL;
    r->on_gone = NULL;
}

static void
respond_upstream_error(struct sl_request *r, const struct sl_upstream_error *e)
{
    const char *type = e->type[0] != '\0' ? e->type : sl_errors_default_type(e->status);

    add_proxy_headers(r);
    sl_request_respond_error(r, e->status, type, e->param[0] != '\0' ? e->param : NULL, "%s",
                             e->message);
}

/* Ends a call that failed before the client got a byte: another attempt when failover allows
 * one, else the error response. */
static void
fail_before_start(struct sl_request *r, const struct sl_upstream_error *e)
{
    sl_litellm_metrics_call_failed(r, e);
    sl_trace_attempt_end(r, e);
    /* The call is over: its slot must be free before failover picks the next deployment. */
    sl_attempt_failed(r, e->status);
    if (sl_failover_try(r, e, r->call)) {
        finish_call(r);
        return;
    }
    respond_upstream_error(r, e);
    finish_call(r);
}

/* The stream's last words after a failure, in the client's format. */
static void
end_stream_with_error(struct sl_request *r, const struct sl_upstream_error *e)
{
    struct sl_buf frames;

    sl_trace_attempt_end(r, e);
    snprintf(r->error_type, sizeof(r->error_type), "%s",
             e->type[0] != '\0' ? e->type : sl_errors_default_type(e->status));
    r->stream_error_status = e->status;
    sl_litellm_metrics_call_failed(r, e);
    sl_buf_init(&frames, 0);
    r->format->stream_error(&r->ctx, &r->format_state, e, &frames);
    sl_request_write(r, frames.data, frames.len);
    sl_request_end(r, H2O_SEND_STATE_FINAL);
    sl_buf_dispose(&frames);
    finish_call(r);
}

static void
fail(struct sl_request *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends the request with an error wherever it is: a status before the first byte, an error
 * event after it. */
static void
fail(struct sl_request *r, int status, const char *type, const char *fmt, ...)
{
    struct sl_upstream_error e;
    va_list ap;

    memset(&e, 0, sizeof(e));
    e.status = status;
    snprintf(e.type, sizeof(e.type), "%s", type);
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);

    if (r->started) {
        end_stream_with_error(r, &e);
        return;
    }
    fail_before_start(r, &e);
}

/* A transfer that ended without a usable response: timeout, connection, size. */
static void
fail_transport(struct sl_request *r, const struct sl_call *call)
{
    double timeout_s = r->stream ? sl_config_stream_timeout_s(&r->worker->gw->cfg, r->deployment)
                                 : sl_config_timeout_s(&r->worker->gw->cfg, r->deployment);

    if (call->error == SL_ERR_TIMEOUT || call->result == CURLE_OPERATION_TIMEDOUT) {
        fail(r, 408, "timeout",
             "Request to the provider timed out: %s (deployment %s, timeout %g s).",
             call->curl_error[0] != '\0' ? call->curl_error : "no response", r->deployment->id,
             timeout_s);
    } else if (call->error == SL_ERR_TOO_LARGE) {
        fail(r, 502, "api_error",
             "The provider's response is larger than general_settings.max_response_size_mb.");
    } else {
        fail(r, 502, "api_connection_error", "Connection to the provider failed: %s.",
             call->curl_error[0] != '\0' ? call->curl_error : curl_easy_strerror(call->result));
    }
}

/* ---------------------------------------------------------------- whole responses */

static void
finish_whole(struct sl_request *r, struct sl_call *call)
{
    struct sl_buf out;
    struct sl_buf converted;
    struct sl_errbuf err = {{0}};
    enum sl_status rc;

    if (call->status < 200 || call->status >= 300) {
        struct sl_upstream_error e;

        r->provider->parse_error(call->status, call->in.data, call->in.len, &e);
        fail_before_start(r, &e);
        return;
    }

    sl_buf_init(&out, 0);
    sl_buf_init(&converted, 0);
    rc = r->provider->translate_response(&r->ctx, call->in.data, call->in.len, &out, &r->usage,
                                         &err);
    if (rc == SL_OK && !r->ctx.native && r->format->convert_response != NULL) {
        rc = r->format->convert_response(&r->ctx, out.data, out.len, &converted, &err);
        if (rc == SL_OK) {
            struct sl_buf tmp = out;

            out = converted;
            converted = tmp;
        }
    }
    if (rc == SL_ERR_REFUSED) {
        fail(r, 400, "content_policy_violation", "%s", err.msg);
    } else if (rc != SL_OK) {
        fail(r, 502, "api_error", "The provider's response could not be read: %s.", err.msg);
    } else {
        sl_trace_response(r, out.data, out.len);
        sl_cache_whole(r, &out);
        sl_limits_whole_response(r, out.data, out.len);
        add_proxy_headers(r);
        /* The slot goes back before the response is written, so a client that sends its next
         * request at once finds this deployment idle again, whichever worker reads it. */
        sl_attempt_succeeded(r);
        sl_attempt_release(r);
        sl_request_respond_json(r, 200, out.data, out.len);
        finish_call(r);
    }
    sl_buf_dispose(&out);
    sl_buf_dispose(&converted);
}

/* ---------------------------------------------------------------- streams */

static void
start_client_stream(struct sl_request *r)
{
    if (r->started)
        return;
    add_proxy_headers(r);
    sl_request_add_header(r, "cache-control", "no-cache");
    sl_request_start(r, 200, "text/event-stream");
}

/* Writes translated frames, converted to the client's format unless the call is native. */
static void
write_frames(struct sl_request *r, const struct sl_buf *frames)
{
    struct sl_buf converted;

    if (frames->len == 0)
        return;
    if (r->ctx.native || r->format->convert_frames == NULL) {
        start_client_stream(r);
        sl_request_write(r, frames->data, frames->len);
        sl_cache_frames(r, frames->data, frames->len);
        return;
    }
    sl_buf_init(&converted, 0);
    if (r->format->convert_frames(&r->ctx, &r->format_state, frames->data, frames->len,
                                  &converted) == SL_OK && converted.len > 0) {
        start_client_stream(r);
        sl_request_write(r, converted.data, converted.len);
        sl_cache_frames(r, converted.data, converted.len);
    }
    sl_buf_dispose(&converted);
}

/* Ends a stream that reached the provider's end marker. */
static void
end_stream(struct sl_request *r)
{
    struct sl_upstream_error e;
    struct sl_buf frames;

    r->usage = r->st.usage;
    if (r->st.finish_count == 0) {
        memset(&e, 0, sizeof(e));
        e.status = 502;
        snprintf(e.message, sizeof(e.message),
                 "The provider ended the stream without a finish_reason.");
        if (!r->started)
            fail_before_start(r, &e);
        else
            end_stream_with_error(r, &e);
        return;
    }
    start_client_stream(r);
    sl_buf_init(&frames, 0);
    r->format->stream_end(&r->ctx, &r->format_state, r->ctx.native, &r->usage, &frames);
    /* The client gets only what the provider reported, but limits and spend count the
     * estimate. NOTE: only the OpenAI families count generated text in st.generated_chars.
     * The others always send usage in their streams, or their estimate is of the prompt. */
    sl_usage_estimate(&r->usage, sl_usage_request_chars(r->ctx.body), r->st.generated_chars);
    sl_request_write(r, frames.data, frames.len);
    sl_cache_frames(r, frames.data, frames.len);
    sl_cache_stream_done(r);
    sl_request_end(r, H2O_SEND_STATE_FINAL);
    sl_buf_dispose(&frames);
    sl_attempt_succeeded(r);
    finish_call(r);
}

/* Returns 1 when the stream reached an end (the request is finished either way). */
static int
handle_event(struct sl_request *r, const struct sl_stream_event *ev)
{
    struct sl_upstream_error e;
    struct sl_buf out;
    enum sl_stream_verdict v;

    sl_buf_init(&out, 0);
    v = r->provider->translate_event(&r->ctx, &r->st, ev, &out, &e);
    switch (v) {
    case SL_STREAM_CONTINUE:
        write_frames(r, &out);
        break;
    case SL_STREAM_END:
        write_frames(r, &out);
        end_stream(r);
        break;
    case SL_STREAM_FAILED:
        r->usage = r->st.usage;
        if (!r->started)
            fail_before_start(r, &e);
        else
            end_stream_with_error(r, &e);
        break;
    }
    sl_buf_dispose(&out);
    return v != SL_STREAM_CONTINUE;
}

/* The upstream finished (or went quiet) with the stream still open. */
static void
finish_stream(struct sl_request *r, struct sl_call *call)
{
    struct sl_stream_event ev;

    if (call->result == CURLE_OK && call->error == SL_OK) {
        /* Some servers end without the blank line after the last event. */
        sl_decoder_finish(&r->decoder);
        while (r->call != NULL && sl_decoder_next(&r->decoder, &ev) == 1)
            if (handle_event(r, &ev))
                return;
        if (r->call == NULL)
            return;
    }
    r->usage = r->st.usage;
    if (call->result != CURLE_OK || call->error != SL_OK) {
        fail_transport(r, call);
        return;
    }
    if (r->st.finish_count > 0 && r->started) {
        /* Every choice finished but the server omitted its end marker: end in order. */
        end_stream(r);
        return;
    }
    fail(r, 502, "api_error", "The provider's stream ended before a finish_reason.");
}

static void
fail_decoder(struct sl_request *r)
{
    if (sl_decoder_status(&r->decoder) == SL_ERR_TOO_LARGE)
        fail(r, 502, "api_error", "The provider sent a stream event over %d bytes.",
             SL_RELAY_MAX_EVENT_BYTES);
    else
        fail(r, 502, "api_error", "The provider sent a malformed stream.");
}

static void
pump_stream(struct sl_request *r)
{
    struct sl_call *call = r->call;
    struct sl_stream_event ev;

    for (;;) {
        /* Events first: the decoder keeps bytes already taken from the upstream buffer. */
        while (sl_request_backlog(r) < SL_RELAY_HIGH_WATER_BYTES) {
            if (sl_decoder_next(&r->decoder, &ev) != 1)
                break;
            if (handle_event(r, &ev))
                return;
        }
        if (sl_decoder_status(&r->decoder) != SL_OK) {
            fail_decoder(r);
            return;
        }
        if (sl_request_backlog(r) >= SL_RELAY_HIGH_WATER_BYTES || call->in.len == 0)
            break;

        size_t n = call->in.len;
        if (sl_decoder_feed(&r->decoder, call->in.data, n) != SL_OK) {
            fail_decoder(r);
            return;
        }
        sl_call_consume(call, n);
        if (r->call == NULL)
            return;
    }
    if (call->state == SL_CALL_DONE && call->in.len == 0 &&
        sl_request_backlog(r) < SL_RELAY_HIGH_WATER_BYTES)
        finish_stream(r, call);
}

static void
on_drained(struct sl_request *r)
{
    if (r->call != NULL && r->call->head_done)
        pump_stream(r);
}

static void
on_gone(struct sl_request *r)
{
    if (r->call != NULL)
        sl_log(SL_LOG_DEBUG, r->call_id, "upstream.cancelled", SL_LOG_STR("reason", "client gone"));
    finish_call(r);
}

/* ---------------------------------------------------------------- progress */

static void
progress(struct sl_request *r, struct sl_call *call)
{
    if (r->req == NULL || r->call != call) {
        finish_call(r);
        return;
    }
    if (!call->head_done) {
        if (call->state == SL_CALL_DONE)
            fail_transport(r, call);
        return;
    }

    /* Errors and whole responses need the complete body; an error body that filled a
     * stream's buffer is read as far as it got. */
    if (!r->stream || call->status < 200 || call->status >= 300) {
        if (call->state != SL_CALL_DONE && !call->paused)
            return;
        if (call->state == SL_CALL_DONE && (call->result != CURLE_OK || call->error != SL_OK))
            fail_transport(r, call);
        else
            finish_whole(r, call);
        return;
    }
    pump_stream(r);
}

static void
on_upstream(struct sl_call *call, void *owner)
{
    struct sl_request *r = owner;

    /* Responding may dispose the h2o request and drop its reference: keep ours meanwhile. */
    sl_request_retain(r);
    progress(r, call);
    sl_request_release(r);
}

/* ---------------------------------------------------------------- start */

/* Fills r->ctx for the chosen deployment: the family, native or converted body. Returns 1 when
 * the call may go on; otherwise the error response has been sent. */
static int
prepare_ctx(struct sl_request *r)
{
    struct sl_errbuf err = {{0}};
    cJSON *converted = NULL;

    r->provider = sl_provider_find(r->deployment->provider);
    r->ctx.deployment = r->deployment;
    r->ctx.requested_model = sl_failover_group_name(r);
    r->ctx.stream = r->stream;
    r->ctx.now_unix_s = (int64_t)time(NULL);
    r->ctx.native = r->provider->native_format == r->ctx.inbound;
    if (r->ctx.native || r->format->convert_request == NULL)
        return 1;

    /* The family does not speak the client's format: hand it OpenAI's shape. */
    if (r->format->convert_request(&r->ctx, r->body, &converted, &err) != SL_OK) {
        sl_request_respond_error(r, 400, NULL, NULL, "%s", err.msg);
        return 0;
    }
    r->original = r->body;
    r->body = converted;
    r->ctx.body = converted;
    r->ctx.raw_body = NULL;
    r->ctx.raw_len = 0;
    return 1;
}

/* Starts the call to r->deployment, whose in-flight slot the request holds. */
static void
start_call(struct sl_request *r)
{
    struct sl_gateway *gw = r->worker->gw;
    const struct sl_deployment *d = r->deployment;
    struct sl_upstream_request up;
    struct sl_call_options opts;
    struct sl_errbuf err = {{0}};
    enum sl_status rc;

    if (!prepare_ctx(r)) {
        sl_attempt_release(r);
        return;
    }

    memset(&up, 0, sizeof(up));
    sl_buf_init(&up.url, 0);
    sl_buf_init(&up.body, 0);
    rc = r->provider->build_request(&r->ctx, &up, &err);
    if (rc != SL_OK) {
        sl_request_respond_error(r, rc == SL_ERR_CONFIG ? 500 : 400, NULL, NULL, "%s", err.msg);
        sl_attempt_release(r);
        goto out;
    }

    memset(&opts, 0, sizeof(opts));
    opts.url = up.url.data;
    opts.headers = up.headers;
    opts.body = sl_buf_take(&up.body, &opts.body_len);
    opts.tls = &gw->tls;
    if (r->stream) {
        opts.idle_timeout_ms = (uint64_t)(sl_config_stream_timeout_s(&gw->cfg, d) * 1000.0);
        opts.pause_at = SL_RELAY_PAUSE_AT_BYTES;
        opts.max_body = SL_RELAY_PAUSE_AT_BYTES + CURL_MAX_WRITE_SIZE * 4;
        sl_decoder_init(&r->decoder, r->provider->framing, SL_RELAY_MAX_EVENT_BYTES);
        r->decoder_ready = 1;
    } else {
        opts.total_timeout_ms = (uint64_t)(sl_config_timeout_s(&gw->cfg, d) * 1000.0);
        opts.max_body = (size_t)gw->cfg.max_response_size_bytes;
    }
    sl_trace_attempt_begin(r, &up.headers);
    opts.headers = up.headers;
    up.headers = NULL; /* taken by the call */

    r->upstream_start_us = sl_now_us();
    r->call = sl_call_create(&r->worker->upstream, &opts, r, on_upstream, &err);
    if (r->call == NULL) {
        sl_trace_attempt_end(r, NULL);
        sl_request_respond_error(r, 500, "internal_server_error", NULL, "%s", err.msg);
        sl_attempt_release(r);
        goto out;
    }
    r->on_drained = on_drained;
    r->on_gone = on_gone;
    sl_worker_probe(r->worker, r);

out:
    curl_slist_free_all(up.headers);
    sl_buf_dispose(&up.url);
    sl_buf_dispose(&up.body);
}

void
sl_relay_start(struct sl_request *r)
{
    sl_attempt_claim(r, start_call);
}
