/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health -- GET /health: the health of every deployment, or of those that ?model= (a model
 * group) or ?model_id= (one deployment) names.
 *
 * With general_settings.background_health_checks on, the response contains the coordinator's
 * last results, read from the worker's table (gateway/health/state.h), so it costs no provider
 * call. With them off, the route checks the deployments now with the probe of
 * gateway/health/probe.h over the worker's curl multi handle, at most SL_HEALTH_LIVE_PARALLEL at
 * a time, each within its health_check_timeout (capped), and responds once all have ended. The
 * worker's loop never waits on a check. Only an admin key starts live checks: any other key
 * gets the stored results, which are empty while background checks are off. A key sees only
 * the deployments of the model groups it may call, as on /v1/models.
 */
#define SL_LOG_MODULE "http"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/health/probe.h"
#include "gateway/health/report.h"
#include "gateway/health/state.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/http.h"
#include "gateway/router/live.h"
#include "gateway/worker.h"

/* Checks of one /health request in flight at once, at most. */
#define SL_HEALTH_LIVE_PARALLEL 8
/* Maximum deadline of one check on this route, in ms, whatever health_check_timeout sets. */
#define SL_HEALTH_LIVE_TIMEOUT_MAX_MS 60000u

struct live_check;

/* One deployment under a live check. */
struct live_item {
    struct live_check *lc;
    const struct sl_deployment *d;
    struct sl_health_probe probe;
    int built; /* the probe was built: the deployment is in the report */
    struct sl_call *call;
    int healthy;
    char error[SL_HEALTH_ERROR_MAX + 1];
};

struct live_check {
    struct sl_request *r;     /* one reference held until the response */
    struct sl_router *router; /* one reference held: the items borrow its deployments */
    struct live_item *items;
    size_t n;
    size_t next; /* first item not started */
    size_t running;
};

/* The deployments one request may see: those of the groups its key may call, narrowed by
 * ?model= and ?model_id= (NULL: no restriction). */
struct health_scope {
    const struct sl_auth_record *rec;
    const char *model;
    const char *model_id;
};

/* Returns 1 when the model group `g` matches ?model= and the key of `scope` may call it, as on
 * /v1/models. */
static int
group_in_scope(const struct sl_model_group *g, const struct health_scope *scope)
{
    if (scope->model != NULL && strcmp(g->name, scope->model) != 0)
        return 0;
    return sl_http_model_allowed(scope->rec, g->name, g);
}

static int
deployment_in_scope(const struct sl_deployment *d, const struct health_scope *scope)
{
    return scope->model_id == NULL || strcmp(d->id, scope->model_id) == 0;
}

static void
respond_report(struct sl_request *r, const struct sl_health_report *rep)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    sl_health_report_finish(rep, &out);
    sl_request_respond_json(r, 200, out.data, out.len);
    sl_buf_dispose(&out);
}

/* Responds with the coordinator's results; deployments without a fresh one are left out. */
static void
report_background(struct sl_request *r, const struct sl_router *router,
                  const struct health_scope *scope)
{
    struct sl_health_report rep;

    sl_health_report_init(&rep);
    for (size_t g = 0; g < router->n_groups; g++) {
        if (!group_in_scope(&router->groups[g], scope))
            continue;
        for (size_t i = 0; i < router->groups[g].n; i++) {
            const struct sl_deployment *d = router->groups[g].deployments[i];
            const struct sl_health_entry *e;

            if (!deployment_in_scope(d, scope))
                continue;
            e = sl_health_lookup(r->worker, d->id);
            if (e != NULL)
                sl_health_report_add(&rep, d, e->healthy ? NULL : e->error);
        }
    }
    respond_report(r, &rep);
    sl_health_report_dispose(&rep);
}

/* ---------------------------------------------------------------- live checks */

static void
finish_live(struct live_check *lc)
{
    struct sl_health_report rep;

    sl_health_report_init(&rep);
    for (size_t i = 0; i < lc->n; i++) {
        struct live_item *it = &lc->items[i];

        if (it->built) {
            sl_health_report_add(&rep, it->d, it->healthy ? NULL : it->error);
            sl_health_probe_dispose(&it->probe);
        }
    }
    respond_report(lc->r, &rep);
    sl_health_report_dispose(&rep);
    sl_request_release(lc->r);
    sl_router_release(lc->router);
    free(lc->items);
    free(lc);
}

static void start_next(struct live_check *lc);

static void
on_check_progress(struct sl_call *call, void *owner)
{
    struct live_item *it = owner;
    struct live_check *lc = it->lc;
    const char *transport = NULL;

    if (call->state != SL_CALL_DONE)
        return;
    if (call->error != SL_OK)
        transport = sl_status_str(call->error);
    else if (call->result != CURLE_OK)
        transport =
            call->curl_error[0] != '\0' ? call->curl_error : curl_easy_strerror(call->result);
    it->healthy = sl_health_probe_verdict(&it->probe, it->d, call->status, call->in.data,
                                          call->in.len, transport, it->error, sizeof(it->error));
    sl_call_destroy(call);
    it->call = NULL;
    lc->running--;
    start_next(lc);
}

/* Starts checks until SL_HEALTH_LIVE_PARALLEL run or none is left; responds when all ended. */
static void
start_next(struct live_check *lc)
{
    struct sl_worker *w = lc->r->worker;

    while (lc->running < SL_HEALTH_LIVE_PARALLEL && lc->next < lc->n) {
        struct live_item *it = &lc->items[lc->next++];
        struct sl_call_options opts;
        struct sl_errbuf err = {{0}};

        if (sl_health_probe_build(it->d, (int64_t)time(NULL), &it->probe, &err) != SL_OK)
            continue; /* a wildcard without health_check_model: left out, as LiteLLM does */
        it->built = 1;
        memset(&opts, 0, sizeof(opts));
        opts.url = it->probe.req.url.data;
        opts.headers = it->probe.req.headers;
        it->probe.req.headers = NULL; /* taken by the call */
        opts.body = sl_buf_take(&it->probe.req.body, &opts.body_len);
        opts.total_timeout_ms = it->probe.timeout_ms < SL_HEALTH_LIVE_TIMEOUT_MAX_MS
                                    ? it->probe.timeout_ms
                                    : SL_HEALTH_LIVE_TIMEOUT_MAX_MS;
        opts.max_body = SL_HEALTH_MAX_BODY_BYTES;
        opts.tls = &w->gw->tls;
        it->call = sl_call_create(&w->upstream, &opts, it, on_check_progress, &err);
        if (it->call == NULL) {
            snprintf(it->error, sizeof(it->error), "%.200s", err.msg);
            continue;
        }
        lc->running++;
    }
    if (lc->running == 0 && lc->next == lc->n)
        finish_live(lc);
}

static void
check_live(struct sl_request *r, const struct sl_router *router, const struct health_scope *scope)
{
    struct live_check *lc = sl_xcalloc(1, sizeof(*lc));
    size_t total = 0;

    for (size_t g = 0; g < router->n_groups; g++)
        total += router->groups[g].n;
    lc->items = sl_xcalloc(total > 0 ? total : 1, sizeof(*lc->items));
    for (size_t g = 0; g < router->n_groups; g++) {
        if (!group_in_scope(&router->groups[g], scope))
            continue;
        for (size_t i = 0; i < router->groups[g].n; i++) {
            const struct sl_deployment *d = router->groups[g].deployments[i];

            if (!deployment_in_scope(d, scope))
                continue;
            lc->items[lc->n].lc = lc;
            lc->items[lc->n].d = d;
            lc->n++;
        }
    }
    lc->r = r;
    sl_request_retain(r);
    /* The reference count is the only part of a router that changes after it is built. */
    lc->router = (struct sl_router *)router;
    sl_router_retain(lc->router);
    start_next(lc);
}

/* ---------------------------------------------------------------- the route */

static int
has_deployment(const struct sl_router *router, const struct health_scope *scope)
{
    for (size_t g = 0; g < router->n_groups; g++) {
        if (!group_in_scope(&router->groups[g], scope))
            continue;
        for (size_t i = 0; i < router->groups[g].n; i++)
            if (deployment_in_scope(router->groups[g].deployments[i], scope))
                return 1;
    }
    return 0;
}

/* Responds 404 with LiteLLM's body for a ?model= or ?model_id= that names no deployment the
 * key may see, so a key cannot tell a group it may not call from an unknown one. */
static void
respond_unknown(struct sl_request *r, const char *model, const char *model_id)
{
    struct sl_buf msg;
    struct sl_buf body;

    sl_buf_init(&msg, 0);
    sl_buf_init(&body, 0);
    if (model_id != NULL)
        sl_buf_printf(&msg, "Model with ID %s not found", model_id);
    else
        sl_buf_printf(&msg, "Model %s not found", model);
    sl_buf_append_str(&body, "{\"error\":");
    sl_json_append_string(&body, msg.data, msg.len);
    sl_buf_append_str(&body, "}");
    sl_request_respond_json(r, 404, body.data, body.len);
    sl_buf_dispose(&msg);
    sl_buf_dispose(&body);
}

static void
on_authenticated(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct sl_router *router = sl_router_live_current(r->worker);
    char *model = NULL;
    char *model_id = NULL;
    struct health_scope scope;

    (void)privdata;
    if (!sl_mgmt_query_param(r, "model", &model) || !sl_mgmt_query_param(r, "model_id", &model_id))
        goto out;
    scope.rec = rec;
    scope.model = model;
    scope.model_id = model_id;
    if ((model != NULL || model_id != NULL) && !has_deployment(router, &scope)) {
        respond_unknown(r, model, model_id);
        goto out;
    }
    /* A live check is a paid call per deployment, and no key's rate limit or budget counts
     * it, so only an admin may start one. Other keys see the stored background results. */
    if (r->worker->gw->cfg.background_health_checks || !sl_http_caller_is_admin(r, rec))
        report_background(r, router, &scope);
    else
        check_live(r, router, &scope);

out:
    free(model);
    free(model_id);
}

int
sl_handle_health(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, "/health");

    (void)self;
    if (strcmp(r->path, "/health") != 0 && strcmp(r->path, "/health/") != 0) {
        sl_request_respond_error(r, 404, "not_found_error", NULL, "Route %s %s not found.",
                                 r->method, r->path);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        sl_request_add_header(r, "allow", "GET");
        sl_request_respond_error(r, 405, "invalid_request_error", NULL,
                                 "Method %s is not allowed on /health; use GET.", r->method);
        return 0;
    }
    sl_http_authenticate(r, on_authenticated, NULL);
    return 0;
}
