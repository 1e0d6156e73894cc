/* SPDX-License-Identifier: Apache-2.0 */
/*
 * info -- the small routes: model list, liveness, readiness and the JSON 404.
 *
 * Health routes need no key, as in LiteLLM, so load balancers and Kubernetes probes can use
 * them. The model list needs the same key as the chat route and shows only the model groups
 * that key may call.
 */
#define SL_LOG_MODULE "http"
#include <string.h>

#include "common/json.h"
#include "common/pg.h"
#include "common/redis.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/router/live.h"
#include "gateway/worker.h"

/* LiteLLM reports this fixed `created` for every model (DEFAULT_MODEL_CREATED_AT_TIME). */
#define SL_MODEL_CREATED_AT 1677610602

static int
check_method(struct sl_request *r, const char *allowed)
{
    h2o_req_t *req = r->req;

    if (h2o_memis(req->method.base, req->method.len, allowed, strlen(allowed)) ||
        (strcmp(allowed, "GET") == 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))))
        return 1;
    sl_request_add_header(r, "allow", allowed);
    sl_request_respond_error(r, 405, "invalid_request_error", NULL,
                             "Method %.*s is not allowed on %s; use %s.", (int)req->method.len,
                             req->method.base, r->path, allowed);
    return 0;
}

/* Lists the model groups that the caller's key may call. */
static void
list_models(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct sl_router *router = sl_router_live_current(r->worker);
    struct sl_buf out;
    int first = 1;

    (void)privdata;
    sl_buf_init(&out, 0);
    sl_buf_append_str(&out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < router->n_groups; i++) {
        const char *name = router->groups[i].name;

        if (!sl_http_model_allowed(rec, name, &router->groups[i]))
            continue;
        sl_buf_append_str(&out, first ? "{\"id\":" : ",{\"id\":");
        first = 0;
        sl_json_append_string(&out, name, strlen(name));
        sl_buf_printf(&out, ",\"object\":\"model\",\"created\":%d,\"owned_by\":\"openai\"}",
                      SL_MODEL_CREATED_AT);
    }
    sl_buf_append_str(&out, "]}");
    sl_request_respond_json(r, 200, out.data, out.len);
    sl_buf_dispose(&out);
}

int
sl_handle_models(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, "/models");

    (void)self;
    if (check_method(r, "GET"))
        sl_http_authenticate(r, list_models, NULL);
    return 0;
}

int
sl_handle_liveliness(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, "/health/liveliness");
    static const char body[] = "\"I'm alive!\"";

    (void)self;
    if (!check_method(r, "GET"))
        return 0;
    sl_request_respond_json(r, 200, body, sizeof(body) - 1);
    return 0;
}

/* Returns "connected" while the worker's connection is up, "Not connected" (LiteLLM's words)
 * while it is down or none is configured. */
static const char *
db_state(const struct sl_worker *w)
{
    return w->pg != NULL && sl_pg_is_connected(w->pg) ? "connected" : "Not connected";
}

/* Returns the state of the worker's Redis connection as JSON: "connected", "disconnected", or
 * null without Redis. */
static const char *
redis_state(const struct sl_worker *w)
{
    if (w->redis == NULL)
        return "null";
    return sl_redis_is_up(w->redis) ? "\"connected\"" : "\"disconnected\"";
}

/* Readiness as LiteLLM shapes it, plus `redis`. It stays 200 while PostgreSQL or Redis is
 * down, because the gateway keeps serving from its caches and applies redis_failure_mode.
 * Only a drain turns it 503. */
int
sl_handle_readiness(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, "/health/readiness");
    struct sl_buf out;

    (void)self;
    if (!check_method(r, "GET"))
        return 0;
    sl_buf_init(&out, 0);
    sl_buf_printf(&out,
                  "{\"status\":\"%s\",\"db\":\"%s\",\"cache\":%s,\"redis\":%s,"
                  "\"litellm_version\":null,\"sluice_version\":\"%s\",\"workers\":%d}",
                  w->draining ? "draining" : "healthy", db_state(w),
                  w->gw->cfg.cache ? "\"redis\"" : "null", redis_state(w), SL_VERSION,
                  w->gw->num_workers);
    sl_request_respond_json(r, w->draining ? 503 : 200, out.data, out.len);
    sl_buf_dispose(&out);
    return 0;
}

int
sl_handle_not_found(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, NULL);

    (void)self;
    sl_request_respond_error(r, 404, "not_found_error", NULL, "Route %s %s not found.",
                             r->method, r->path);
    return 0;
}
