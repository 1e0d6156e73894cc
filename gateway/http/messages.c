/* SPDX-License-Identifier: Apache-2.0 */
/*
 * messages -- POST /v1/messages and /v1/messages/count_tokens, Anthropic's Messages API for
 * clients such as Claude Code and the Anthropic SDKs: stages 1 to 3 of http/pipeline.h (parse,
 * authenticate, route) with every error in Anthropic's envelope, then the relay takes over.
 *
 * Any model group may serve /v1/messages: the relay passes the body through to a family whose
 * native format is Anthropic's and converts it for the others (format_anthropic.h).
 */
#define SL_LOG_MODULE "http"
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/format_anthropic.h"
#include "gateway/http/handlers.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
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

/* Stages 1 to 3 for both routes. Returns the model group, or NULL once an error was sent. */
static const struct sl_model_group *
accept_request(struct sl_request *r, struct sl_worker *w, int count_tokens)
{
    const struct sl_config *cfg = &w->gw->cfg;
    const struct sl_model_group *group;

    if (!check_request(r, w) || !sl_http_authenticate(r, cfg) ||
        !parse_body(r, cfg, count_tokens))
        return NULL;

    r->model = sl_xstrdup(sl_json_get_string(r->body, "model"));
    group = sl_router_find(&w->gw->router, r->model);
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

    /* Every answer from here on, errors included, is in Anthropic's format. */
    r->format = sl_format_ops_for(SL_FORMAT_ANTHROPIC);
    return r;
}

int
sl_handle_messages(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = create_request(req, "/v1/messages");
    const struct sl_model_group *group;

    (void)self;
    group = accept_request(r, w, 0);
    if (group == NULL)
        return 0;

    r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->body, "stream"));
    r->deployment = sl_router_pick(group, &w->rng);
    r->ctx.kind = SL_KIND_CHAT;
    r->ctx.inbound = SL_FORMAT_ANTHROPIC;
    r->ctx.body = r->body;
    r->ctx.raw_body = req->entity.base;
    r->ctx.raw_len = req->entity.len;
    sl_relay_start(r);
    return 0;
}

/*
 * Token counts come only from the provider that would run the request, and the provider
 * vtable has no call kind for Anthropic's count_tokens endpoint yet, so no count is made up
 * here: the request is checked, authenticated and routed, then rejected with a 400 that says
 * what is missing.
 * TODO: forward to {api_base}/v1/messages/count_tokens once the Anthropic family builds that
 * call.
 */
int
sl_handle_count_tokens(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = create_request(req, "/v1/messages/count_tokens");
    const struct sl_model_group *group;
    const struct sl_provider *provider;

    (void)self;
    group = accept_request(r, w, 1);
    if (group == NULL)
        return 0;

    r->deployment = sl_router_pick(group, &w->rng);
    provider = sl_provider_find(r->deployment->provider);
    if (provider == NULL || provider->native_format != SL_FORMAT_ANTHROPIC) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "count_tokens needs an Anthropic deployment (litellm_params."
                                 "model anthropic/...): model group \"%s\" is served by "
                                 "provider \"%s\", which has no token counting endpoint.",
                                 r->model, r->deployment->provider);
        return 0;
    }
    sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                             "count_tokens is not forwarded to Anthropic deployments by this "
                             "version of the gateway (model group \"%s\").",
                             r->model);
    return 0;
}
