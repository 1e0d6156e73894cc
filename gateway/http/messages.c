/* SPDX-License-Identifier: Apache-2.0 */
/*
 * messages -- POST /v1/messages and /v1/messages/count_tokens, Anthropic's Messages API for
 * clients such as Claude Code and the Anthropic SDKs: stages 1 to 3 of http/pipeline.h (parse,
 * authenticate, route) with every error in Anthropic's envelope, then the relay takes over.
 * The key is checked before the body is read; the route goes on from the callback of
 * sl_http_authenticate().
 *
 * Any model group may serve /v1/messages: the relay passes the body through to a family whose
 * native format is Anthropic's and converts it for the others (format_anthropic.h). Token
 * counts come only from the provider that would run the request, so count_tokens is forwarded
 * to a family whose native format is Anthropic's and rejected with a 400 for the others.
 *
 * The client's anthropic-version and anthropic-beta headers reach the family through
 * ctx.client_headers; no other client header does.
 */
#define SL_LOG_MODULE "http"
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/attempt.h"
#include "gateway/http/failover.h"
#include "gateway/http/format_anthropic.h"
#include "gateway/http/handlers.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/limits/limits.h"
#include "gateway/router/live.h"
#include "gateway/router/strategy.h"
#include "gateway/router/wildcard.h"
#include "gateway/worker.h"

/* Rejects paths below the route, methods other than POST and requests during a drain with an
 * error response. Returns 1 when the request may go on. */
static int
check_request(struct sl_request *r, struct sl_worker *w)
{
    h2o_req_t *req = r->req;

    /* h2o matches routes by prefix, so /v1/messages also receives /v1/messages/batches and the
     * like, which are other APIs: they must not be taken for a message. */
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, r->route,
                   strlen(r->route))) {
        sl_request_respond_error(r, 404, "not_found_error", NULL,
                                 "%s is not served by this gateway; the Messages API routes are "
                                 "/v1/messages and /v1/messages/count_tokens.", r->path);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        sl_request_add_header(r, "allow", "POST");
        sl_request_respond_error(r, 405, "invalid_request_error", NULL,
                                 "Method %.*s is not allowed on %s; use POST.",
                                 (int)req->method.len, req->method.base, r->route);
        return 0;
    }
    if (w->draining) {
        sl_request_respond_error(r, 503, "overloaded_error", NULL,
                                 "The gateway is shutting down; retry on another instance.");
        return 0;
    }
    return 1;
}

/* Stage 1: the body as JSON, then its shape. Returns 1 when valid; else the 4xx is sent. */
static int
parse_body(struct sl_request *r, const struct sl_config *cfg, int count_tokens)
{
    h2o_req_t *req = r->req;
    struct sl_errbuf err;

    if (req->entity.base == NULL || req->entity.len == 0) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "The request body is empty; expected a JSON object.");
        return 0;
    }
    if (req->entity.len > cfg->max_request_size_bytes) {
        sl_request_respond_error(r, 413, "request_too_large", NULL,
                                 "Request body is too large: %zu bytes, the limit is %llu bytes "
                                 "(general_settings.max_request_size_mb).",
                                 req->entity.len, (unsigned long long)cfg->max_request_size_bytes);
        return 0;
    }
    if (sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, &r->body, &err) !=
        SL_OK) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "The request body is not valid JSON: %s.", err.msg);
        return 0;
    }
    if (sl_anthropic_validate(r->body, count_tokens, &err) != SL_OK) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL, "%s", err.msg);
        return 0;
    }
    return 1;
}

/* Client headers forwarded to the family, and the limit on each joined value. */
static const char *const forwarded_headers[] = {"anthropic-version", "anthropic-beta"};
#define SL_MESSAGES_MAX_HEADER_BYTES 4096

/* Copies the allow-listed client headers into the request's memory pool and points
 * r->ctx.client_headers at them. Repeated lines of one header are joined with ",", as RFC 9110
 * allows for list values. Returns 1 when done; else a 400 was sent. */
static int
collect_client_headers(struct sl_request *r)
{
    h2o_req_t *req = r->req;
    size_t max = sizeof(forwarded_headers) / sizeof(forwarded_headers[0]);
    struct sl_header *list = h2o_mem_alloc_pool(&req->pool, sizeof(*list) * max);
    size_t n = 0;

    for (size_t k = 0; k < max; k++) {
        const char *name = forwarded_headers[k];
        struct sl_buf value;
        ssize_t i = -1;

        sl_buf_init(&value, 0);
        while ((i = h2o_find_header_by_str(&req->headers, name, strlen(name), i)) != -1) {
            const h2o_iovec_t *v = &req->headers.entries[i].value;

            if (value.len + 1 + v->len > SL_MESSAGES_MAX_HEADER_BYTES) {
                sl_buf_dispose(&value);
                sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                         "The %s header is longer than %d bytes.", name,
                                         SL_MESSAGES_MAX_HEADER_BYTES);
                return 0;
            }
            if (value.len > 0)
                sl_buf_append_str(&value, ",");
            sl_buf_append(&value, v->base, v->len);
        }
        if (value.len > 0) {
            char *copy = h2o_mem_alloc_pool(&req->pool, value.len + 1);

            memcpy(copy, value.data, value.len);
            copy[value.len] = '\0';
            list[n].name = (char *)name;
            list[n].value = copy;
            n++;
        }
        sl_buf_dispose(&value);
    }
    r->ctx.client_headers = list;
    r->ctx.n_client_headers = n;
    return 1;
}

/* Stages 1 and 3 for both routes once the key passed. Returns the model group, or NULL once
 * an error was sent. */
static const struct sl_model_group *
accept_request(struct sl_request *r, const struct sl_auth_record *rec, int count_tokens)
{
    struct sl_worker *w = r->worker;
    const struct sl_model_group *group;
    struct sl_errbuf werr;

    if (!parse_body(r, &w->gw->cfg, count_tokens) || !collect_client_headers(r))
        return NULL;

    r->model = sl_xstrdup(sl_json_get_string(r->body, "model"));
    group = sl_wildcard_resolve(sl_router_live_current(w), r->model, &r->wildcard, &werr);
    if (group == NULL && werr.msg[0] != '\0') {
        sl_request_respond_error(r, 400, "invalid_request_error", "model", "%s", werr.msg);
        return NULL;
    }
    if (!sl_http_check_model_access(r, rec, r->model, group))
        return NULL;
    if (group == NULL) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "model: no model group is named \"%s\" on this gateway. Call "
                                 "/v1/models to list the model groups your key may use.",
                                 r->model);
        return NULL;
    }
    return group;
}

static struct sl_request *
create_request(h2o_req_t *req, const char *route)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, route);

    /* Every response from here on, errors included, is in Anthropic's format. */
    r->format = sl_format_ops_for(SL_FORMAT_ANTHROPIC);
    return r;
}

/* After admission the relay takes over; /v1/messages has no response cache. */
static void
after_admission(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    (void)rec;
    (void)privdata;
    sl_relay_start(r);
}

static void
continue_messages(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    struct sl_worker *w = r->worker;
    h2o_req_t *req = r->req;
    const struct sl_model_group *group;

    (void)privdata;
    group = accept_request(r, rec, 0);
    if (group == NULL)
        return;

    r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->body, "stream"));
    r->deployment = sl_strategy_pick(w, group, NULL, 0, sl_failover_ready, w);
    sl_router_live_pin(w, req);
    r->ctx.kind = SL_KIND_CHAT;
    r->ctx.inbound = SL_FORMAT_ANTHROPIC;
    r->ctx.body = r->body;
    r->ctx.raw_body = req->entity.base;
    r->ctx.raw_len = req->entity.len;
    if (!sl_failover_begin(r, rec, group))
        return;
    sl_limits_begin(r, rec, group, after_admission, NULL);
}

int
sl_handle_messages(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = create_request(req, "/v1/messages");

    (void)self;
    if (check_request(r, w))
        sl_http_authenticate(r, continue_messages, NULL);
    return 0;
}

/* Forwards the count to a family that speaks Anthropic's format; no count is made up here. */
static void
continue_count_tokens(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    struct sl_worker *w = r->worker;
    h2o_req_t *req = r->req;
    const struct sl_model_group *group;
    const struct sl_provider *provider;

    (void)privdata;
    group = accept_request(r, rec, 1);
    if (group == NULL)
        return;

    r->deployment = sl_strategy_pick(w, group, NULL, 0, sl_failover_ready, w);
    if (r->deployment == NULL) {
        sl_attempt_respond_unavailable(r, group, 1);
        return;
    }
    sl_router_live_pin(w, req);
    provider = sl_provider_find(r->deployment->provider);
    if (provider == NULL || provider->native_format != SL_FORMAT_ANTHROPIC) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "count_tokens needs an Anthropic deployment (litellm_params."
                                 "model anthropic/...): model group \"%s\" is served by "
                                 "provider \"%s\", which has no token counting endpoint.",
                                 r->model, r->deployment->provider);
        return;
    }
    r->stream = 0; /* the endpoint never streams, whatever the body says */
    r->ctx.kind = SL_KIND_COUNT_TOKENS;
    r->ctx.inbound = SL_FORMAT_ANTHROPIC;
    r->ctx.body = r->body;
    r->ctx.raw_body = req->entity.base;
    r->ctx.raw_len = req->entity.len;
    sl_relay_start(r);
}

int
sl_handle_count_tokens(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = create_request(req, "/v1/messages/count_tokens");

    (void)self;
    if (check_request(r, w))
        sl_http_authenticate(r, continue_count_tokens, NULL);
    return 0;
}
