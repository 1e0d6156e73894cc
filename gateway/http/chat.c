/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chat -- the OpenAI-format model routes: POST /v1/chat/completions, /v1/completions and
 * /v1/embeddings, each also without /v1. One handler body runs stages 1 to 3 of
 * http/pipeline.h (parse, authenticate, route) for all three, then the relay takes over. The
 * routes differ only in their body checks, their call kind and whether they may stream.
 *
 * This file also contains the authentication that every model route shares: the master key is checked
 * at once, a virtual key through the lookup chain of auth/keys.h, after which the route goes on
 * from a callback (the request is retained meanwhile).
 */
#define SL_LOG_MODULE "http"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/auth/access.h"
#include "gateway/auth/auth.h"
#include "gateway/auth/keys.h"
#include "gateway/auth/routes.h"
#include "gateway/gateway.h"
#include "gateway/http/cache_flow.h"
#include "gateway/http/failover.h"
#include "gateway/http/handlers.h"
#include "gateway/http/pipeline.h"
#include "gateway/http/request.h"
#include "gateway/http/trace.h"
#include "gateway/http/validate.h"
#include "gateway/limits/limits.h"
#include "gateway/router/live.h"
#include "gateway/router/strategy.h"
#include "gateway/router/wildcard.h"
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

/* Writes "abcd****wxyz" (the first and last four characters) for the message that rejects a
 * key without the sk- prefix. A key of 8 characters or fewer is shown as "****" alone. */
static void
mask_ends(const char *key, size_t len, char out[16])
{
    if (len <= 8) {
        snprintf(out, 16, "****");
        return;
    }
    snprintf(out, 16, "%.4s****%.4s", key, key + len - 4);
}

/* Formats Unix seconds as LiteLLM prints a UTC datetime, e.g. "2026-01-02 03:04:05+00:00". */
static void
format_utc(int64_t unix_s, char out[40])
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 40, "%Y-%m-%d %H:%M:%S+00:00", &tm) == 0)
        snprintf(out, 40, "%lld", (long long)unix_s);
}

/* A request waiting for its key's record. */
struct auth_wait {
    struct sl_request *r;
    sl_http_auth_next_cb next;
    void *privdata;
    char masked[16];
    char token[SL_AUTH_HASH_HEX_LEN + 1];
    int store_span; /* the key lookup's trace span, -1 for none */
};

/* Applies the key's allowed_routes to the path, and to the route's canonical path so that
 * "/chat/completions" also allows "/v1/chat/completions". Returns 0 with the 403 sent. */
static int
check_route(struct sl_request *r, const struct sl_auth_record *rec)
{
    const char *const *entries = (const char *const *)rec->allowed_routes.items;
    size_t n = rec->allowed_routes.n;
    h2o_iovec_t path = r->req->path_normalized;
    struct sl_buf list;

    if (sl_route_allowed(entries, n, path.base, path.len) ||
        (r->route != NULL && sl_route_allowed(entries, n, r->route, strlen(r->route))))
        return 1;
    sl_buf_init(&list, 64 * 1024);
    sl_buf_append_str(&list, "[");
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(&list, "%s'%s'", i > 0 ? ", " : "", entries[i]);
    sl_buf_append(&list, "]", 2);
    /* A path that carries a key (/key/<key>/regenerate) is named by its route. */
    if (r->route != NULL && strchr(r->route, '{') != NULL)
        path = h2o_iovec_init(r->route, strlen(r->route));
    sl_request_respond_error(r, 403, "auth_error", NULL,
                             "Virtual key is not allowed to call this route. Only allowed to call "
                             "routes: %s. Tried to call route: %.*s",
                             list.data != NULL ? list.data : "[]", (int)path.len, path.base);
    sl_buf_dispose(&list);
    return 0;
}

/* The checks on the key's own record (LiteLLM's order: blocked, expiry, team blocked). Returns
 * 1 when they pass; else the error has been sent. */
static int
check_record(struct sl_request *r, const struct sl_auth_record *rec, const char *masked)
{
    int64_t now = (int64_t)time(NULL);
    char expires[40];
    char current[40];

    if (rec->blocked) {
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, Key is blocked. Update via `/key/unblock` "
                                 "if you're admin.");
        return 0;
    }
    if (rec->expires != 0 && rec->expires < now) {
        format_utc(rec->expires, expires);
        format_utc(now, current);
        sl_request_respond_error(r, 400, "expired_key", masked,
                                 "Authentication Error - Expired Key. Key Expiry time %s and "
                                 "current time %s", expires, current);
        return 0;
    }
    if (rec->has_team && rec->team_blocked) {
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, Team=%s is blocked. Update via "
                                 "`/team/unblock` if your admin.",
                                 rec->team_id != NULL ? rec->team_id : "");
        return 0;
    }
    return check_route(r, rec);
}

static void
on_key_record(enum sl_auth_lookup_status status, const struct sl_auth_record *rec, void *privdata)
{
    struct auth_wait *wait = privdata;
    struct sl_request *r = wait->r;

    sl_trace_store_end(r, wait->store_span, sl_auth_lookup_source(r->worker),
                       status == SL_AUTH_UNAVAILABLE ? "unavailable" : NULL);
    /* The client may have gone while the stores were asked. */
    if (r->req == NULL)
        goto out;

    switch (status) {
    case SL_AUTH_FOUND:
        if (check_record(r, rec, wait->masked))
            wait->next(r, rec, wait->privdata);
        break;
    case SL_AUTH_NOT_FOUND:
        sl_request_respond_error(r, 401, "token_not_found_in_db", "key",
                                 "Authentication Error, Invalid proxy server token passed. "
                                 "Received API Key = %s, Key Hash (Token) =%s. Unable to find "
                                 "token in cache or `LiteLLM_VerificationTokenTable`",
                                 wait->masked, wait->token);
        break;
    case SL_AUTH_UNAVAILABLE:
        if (r->worker->gw->cfg.allow_requests_on_db_unavailable) {
            sl_log(SL_LOG_WARN, r->call_id, "auth.store_unavailable_allowed",
                   SL_LOG_STR("token", wait->token));
            wait->next(r, NULL, wait->privdata);
            break;
        }
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, the database is unavailable, so the key "
                                 "cannot be checked; retry later");
        break;
    }

out:
    sl_request_release(r);
    free(wait);
}

/* Points `h` at the four headers that may carry the caller's key. */
static void
find_key_headers(h2o_req_t *req, struct sl_auth_headers *h)
{
    find_header(req, "x-litellm-api-key", &h->litellm_api_key, &h->litellm_api_key_len);
    find_header(req, "authorization", &h->authorization, &h->authorization_len);
    find_header(req, "api-key", &h->api_key, &h->api_key_len);
    find_header(req, "x-api-key", &h->x_api_key, &h->x_api_key_len);
}

/* Finds the caller's key in the headers. Returns 1 with `*key` pointing into the request, or
 * 0 once the 401 has been sent. */
static int
read_key(struct sl_request *r, const char **key, size_t *len)
{
    struct sl_auth_headers h;

    find_key_headers(r->req, &h);

    switch (sl_auth_extract(&h, key, len)) {
    case SL_AUTH_OK:
        return 1;
    case SL_AUTH_MISSING:
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, No api key passed in.");
        return 0;
    case SL_AUTH_MALFORMED:
    case SL_AUTH_INVALID:
        break;
    }
    sl_request_respond_error(r, 401, "auth_error", NULL,
                             "Authentication Error, Malformed API Key passed in. Ensure Key "
                             "has `Bearer ` prefix.");
    return 0;
}

static void
reject_not_master(struct sl_request *r, const char *key, size_t len)
{
    char masked[16];

    sl_auth_mask(key, len, masked);
    sl_request_respond_error(r, 401, "auth_error", "key",
                             "Authentication Error, Invalid proxy server token passed. Received "
                             "API Key = %s. The key is not the master key.", masked);
}

int
sl_http_authenticate_master(struct sl_request *r, const struct sl_config *cfg)
{
    const char *key = NULL;
    size_t len = 0;

    if (cfg->master_key == NULL)
        return 1;
    if (!read_key(r, &key, &len))
        return 0;
    if (sl_auth_is_master(cfg->master_key, key, len))
        return 1;
    reject_not_master(r, key, len);
    return 0;
}

int
sl_http_caller_is_admin(struct sl_request *r, const struct sl_auth_record *rec)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    struct sl_auth_headers h;
    const char *key = NULL;
    size_t len = 0;

    if (rec != NULL)
        return rec->user_role != NULL && strcmp(rec->user_role, "proxy_admin") == 0;
    if (cfg->master_key == NULL)
        return 1;
    find_key_headers(r->req, &h);
    if (sl_auth_extract(&h, &key, &len) != SL_AUTH_OK)
        return 0;
    return sl_auth_is_master(cfg->master_key, key, len);
}

void
sl_http_authenticate(struct sl_request *r, sl_http_auth_next_cb next, void *privdata)
{
    struct sl_worker *w = r->worker;
    const struct sl_config *cfg = &w->gw->cfg;
    const char *key = NULL;
    size_t len = 0;
    struct auth_wait *wait;

    if (cfg->master_key == NULL) {
        next(r, NULL, privdata);
        return;
    }
    if (!read_key(r, &key, &len))
        return;
    if (sl_auth_is_master(cfg->master_key, key, len)) {
        next(r, NULL, privdata);
        return;
    }
    if (!w->gw->have_database) {
        reject_not_master(r, key, len);
        return;
    }
    if (len < 3 || memcmp(key, "sk-", 3) != 0) {
        char ends[16];

        mask_ends(key, len, ends);
        sl_request_respond_error(r, 401, "auth_error", NULL,
                                 "Authentication Error, LiteLLM Virtual Key expected. "
                                 "Received=%s, expected to start with 'sk-'.", ends);
        return;
    }

    wait = sl_xcalloc(1, sizeof(*wait));
    wait->r = r;
    wait->next = next;
    wait->privdata = privdata;
    sl_auth_mask(key, len, wait->masked);
    sl_auth_hash_key(key, len, wait->token);
    wait->store_span = sl_trace_store_begin(r, "virtual key lookup");
    sl_request_retain(r);
    sl_auth_lookup(w, key, len, on_key_record, wait);
}

/* Builds the access lists of `rec`; the strings stay owned by the record. */
static void
access_lists_of(const struct sl_auth_record *rec, struct sl_access_lists *out)
{
    out->key = (struct sl_access_list){(const char *const *)rec->models.items, rec->models.n, 1};
    out->team = (struct sl_access_list){(const char *const *)rec->team_models.items,
                                        rec->team_models.n, rec->has_team};
    out->user = (struct sl_access_list){(const char *const *)rec->user_models.items,
                                        rec->user_models.n, rec->has_user};
    out->org = (struct sl_access_list){(const char *const *)rec->org_models.items,
                                       rec->org_models.n, rec->has_org};
}

int
sl_http_model_allowed(const struct sl_auth_record *rec, const char *model,
                      const struct sl_model_group *group)
{
    struct sl_access_lists lists;
    enum sl_access_scope scope;

    if (rec == NULL)
        return 1;
    access_lists_of(rec, &lists);
    return sl_access_check(&lists, model, group, &scope);
}

int
sl_http_check_model_access(struct sl_request *r, const struct sl_auth_record *rec,
                           const char *model, const struct sl_model_group *group)
{
    struct sl_access_lists lists;
    enum sl_access_scope scope;
    const struct sl_access_list *denied;
    struct sl_buf allowed;

    if (rec == NULL)
        return 1;
    access_lists_of(rec, &lists);
    if (sl_access_check(&lists, model, group, &scope))
        return 1;

    denied = scope == SL_ACCESS_KEY    ? &lists.key
             : scope == SL_ACCESS_TEAM ? &lists.team
             : scope == SL_ACCESS_USER ? &lists.user
                                       : &lists.org;
    sl_buf_init(&allowed, 64 * 1024);
    sl_access_append_list(&allowed, denied);
    sl_request_respond_error(r, 401, sl_access_error_type(scope), "model",
                             "%s not allowed to access model. This %s can only access models=%s. "
                             "Tried to access %s",
                             sl_access_scope_name(scope), sl_access_scope_name(scope),
                             allowed.data != NULL ? allowed.data : "[]", model);
    sl_buf_dispose(&allowed);
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

/* After admission: the cache lookup, else the relay. */
static void
after_admission(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct sl_model_group *group = privdata;

    if (sl_cache_begin(r, rec, group->name) == SL_CACHE_DONE)
        return;
    sl_relay_start(r);
}

/* Stages 1 and 3 once the key passed: body, model access, route; then the relay. */
static void
continue_model_route(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct model_route *route = privdata;
    struct sl_worker *w = r->worker;
    h2o_req_t *req = r->req;
    const struct sl_model_group *group;
    const cJSON *stream;
    struct sl_errbuf werr;

    if (!parse_body(r, &w->gw->cfg, route))
        return;

    r->model = sl_xstrdup(sl_json_get_string(r->body, "model"));
    stream = cJSON_GetObjectItemCaseSensitive(r->body, "stream");
    r->stream = cJSON_IsTrue(stream);

    group = sl_wildcard_resolve(sl_router_live_current(w), r->model, &r->wildcard, &werr);
    if (group == NULL && werr.msg[0] != '\0') {
        sl_request_respond_error(r, 400, "invalid_request_error", "model", "%s", werr.msg);
        return;
    }
    if (!sl_http_check_model_access(r, rec, r->model, group))
        return;
    if (group == NULL) {
        reject_unknown_model(r, sl_router_live_current(w), r->model);
        return;
    }
    r->deployment = sl_strategy_pick(w, group, NULL, 0, sl_failover_ready, w);
    sl_router_live_pin(w, req);
    r->ctx.kind = route->kind;
    r->ctx.inbound = SL_FORMAT_OPENAI;
    r->ctx.body = r->body;
    r->ctx.raw_body = req->entity.base;
    r->ctx.raw_len = req->entity.len;
    if (!sl_failover_begin(r, rec, group))
        return;
    /* The cast drops const only to pass the group through privdata; it is never written. */
    sl_limits_begin(r, rec, group, after_admission, (void *)group);
}

static int
handle_model_route(h2o_req_t *req, const struct model_route *route)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, route->route);

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
    /* The cast drops const only to pass the route through privdata; it is never written. */
    sl_http_authenticate(r, continue_model_route, (void *)route);
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
