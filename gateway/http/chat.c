/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chat -- the OpenAI-format model routes: POST /v1/chat/completions, /v1/completions and
 * /v1/embeddings, each also without /v1. One handler body runs stages 1 to 3 of
 * http/pipeline.h (parse, authenticate, route) for all three, then the relay takes over. The
 * routes differ only in their body checks, their call kind and whether they may stream.
 */
#define SL_LOG_MODULE "http"
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/auth/auth.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/http/validate.h"
#include "gateway/worker.h"

static void
find_header(h2o_req_t *req, const char *name, const char **value, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

    if (i < 0) {
        *value = NULL;
        *len = 0;
        return;
    }
    *value = req->headers.entries[i].value.base;
    *len = req->headers.entries[i].value.len;
}

int
sl_http_authenticate(struct sl_request *r, const struct sl_config *cfg)
{
    struct sl_auth_headers h;
    const char *key = NULL;
    size_t len = 0;
    char masked[16];

    if (cfg->master_key == NULL)
        return 1;

    find_header(r->req, "x-litellm-api-key", &h.litellm_api_key, &h.litellm_api_key_len);
    find_header(r->req, "authorization", &h.authorization, &h.authorization_len);
    find_header(r->req, "api-key", &h.api_key, &h.api_key_len);
    find_header(r->req, "x-api-key", &h.x_api_key, &h.x_api_key_len);

    switch (sl_auth_extract(&h, &key, &len)) {
    case SL_AUTH_OK:
        break;
    case SL_AUTH_MISSING:
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, No api key passed in.");
        return 0;
    case SL_AUTH_MALFORMED:
    case SL_AUTH_INVALID:
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, Malformed API Key passed in. Ensure Key "
                                 "has `Bearer ` prefix.");
        return 0;
    }
    if (sl_auth_is_master(cfg->master_key, key, len))
        return 1;

    sl_auth_mask(key, len, masked);
    sl_request_respond_error(r, 401, "auth_error", "key",
                             "Authentication Error, Invalid proxy server token passed. Received "
                             "API Key = %s. The key is not the master key.", masked);
    return 0;
}

static void
reject_unknown_model(struct sl_request *r, const struct sl_router *router, const char *model)
{
    struct sl_buf names;

    sl_buf_init(&names, 64 * 1024);
    sl_router_names_json(router, &names);
    sl_request_respond_error(r, 400, "invalid_request_error", "model",
                             "%s: Invalid model name passed in model=%s. Call `/v1/models` to "
                             "view available models for your key. Available models: %s",
                             r->route, model, names.data != NULL ? names.data : "[]");
    sl_buf_dispose(&names);
}

/* The properties that set one model route apart from the others. */
struct model_route {
    const char *route; /* canonical path, for logs and error messages */
    enum sl_call_kind kind;
    enum sl_status (*validate)(const cJSON *body, const char **param, struct sl_errbuf *err);
};

static const struct model_route chat_route = {"/chat/completions", SL_KIND_CHAT, sl_validate_chat};
static const struct model_route completions_route = {"/completions", SL_KIND_COMPLETION,
                                                     sl_validate_completions};
/* The validator rejects `stream: true`, so an embeddings call never streams. */
static const struct model_route embeddings_route = {"/embeddings", SL_KIND_EMBEDDING,
                                                    sl_validate_embeddings};

/* Stage 1: the body as JSON, then its shape. Returns 1 when valid; else the 4xx is sent. */
static int
parse_body(struct sl_request *r, const struct sl_config *cfg, const struct model_route *route)
{
    h2o_req_t *req = r->req;
    struct sl_errbuf err;
    const char *param = NULL;
    enum sl_status rc;

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
    rc = sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, &r->body, &err);
    if (rc != SL_OK) {
        sl_request_respond_error(r, 400, "invalid_request_error", NULL,
                                 "The request body is not valid JSON: %s.", err.msg);
        return 0;
    }
    rc = route->validate(r->body, &param, &err);
    if (rc != SL_OK) {
        sl_request_respond_error(r, 400, "invalid_request_error", param, "%s", err.msg);
        return 0;
    }
    return 1;
}

static int
handle_model_route(h2o_req_t *req, const struct model_route *route)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    const struct sl_config *cfg = &w->gw->cfg;
    struct sl_request *r = sl_request_create(w, req, route->route);
    const struct sl_model_group *group;
    const cJSON *stream;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        sl_request_add_header(r, "allow", "POST");
        sl_request_respond_error(r, 405, "invalid_request_error", NULL,
                                 "Method %.*s is not allowed on %s; use POST.",
                                 (int)req->method.len, req->method.base, r->route);
        return 0;
    }
    if (w->draining) {
        sl_request_respond_error(r, 503, "service_unavailable_error", NULL,
                                 "The gateway is shutting down; retry on another instance.");
        return 0;
    }
    if (!sl_http_authenticate(r, cfg) || !parse_body(r, cfg, route))
        return 0;

    r->model = sl_xstrdup(sl_json_get_string(r->body, "model"));
    stream = cJSON_GetObjectItemCaseSensitive(r->body, "stream");
    r->stream = cJSON_IsTrue(stream);

    group = sl_router_find(&w->gw->router, r->model);
    if (group == NULL) {
        reject_unknown_model(r, &w->gw->router, r->model);
        return 0;
    }
    r->deployment = sl_router_pick(group, &w->rng);
    r->ctx.kind = route->kind;
    r->ctx.inbound = SL_FORMAT_OPENAI;
    r->ctx.body = r->body;
    r->ctx.raw_body = req->entity.base;
    r->ctx.raw_len = req->entity.len;
    sl_relay_start(r);
    return 0;
}

int
sl_handle_chat(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return handle_model_route(req, &chat_route);
}

int
sl_handle_completions(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return handle_model_route(req, &completions_route);
}

int
sl_handle_embeddings(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return handle_model_route(req, &embeddings_route);
}
