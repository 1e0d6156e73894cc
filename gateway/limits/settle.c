/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settle -- the end of an admitted model request: its tokens, cost and parallel slots go to
 * every scope, and its spend event to the stream that sluice-coordinator reads, in one call
 * of lua-scripts/settle.lua (or the in-memory counters). Soft budgets crossed by this request
 * are logged, and whole responses get their cost headers here.
 */
#define SL_LOG_MODULE "limits"
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/cost.h"
#include "common/log.h"
#include "common/url.h"
#include "common/metrics.h"
#include "common/otel_exporter.h"
#include "common/otlp.h"
#include "common/redis.h"
#include "common/spend_event.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"
#include "gateway/http/trace.h"
#include "gateway/limits/internal.h"
#include "gateway/limits/limits.h"
#include "gateway/worker.h"

static struct sl_metric_family *soft_metric;
static struct sl_metric_family *lost_metric;
/* The spend stream's length at the last settlement of this process. */
static atomic_llong stream_length;

static double
read_stream_length(void *arg)
{
    (void)arg;
    return (double)atomic_load(&stream_length);
}

void
sl_limits__settle_metrics_register(void)
{
    static const char *const soft_labels[] = {"scope", NULL};

    soft_metric = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_soft_budget_crossed_total",
                                 .help = "Budget periods whose spend reached the soft budget, "
                                         "counted once per period by the node that saw it.",
                                 .labels = soft_labels});
    lost_metric = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_spend_events_lost_total",
                                 .help = "Spend events that could not be written to Redis, so "
                                         "their requests are missing from spend_logs."});
    sl_metrics_register_callback_gauge("sluice_spend_stream_length",
                                       "Length of the spend event stream at this process's "
                                       "last settlement; old events are dropped at "
                                       "general_settings.spend_events_max_len.",
                                       read_stream_length, NULL);
}

/* The facts a settle reply needs after the request may be gone. */
struct settlement {
    char names[SL_SCOPE_COUNT][SL_LIMITS_ID_MAX + 32];
    size_t n;
    int64_t max_len;
    char request_id[40];
    /* The request's trace, so the reply can submit the settlement's span. */
    int traced;
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint64_t start_ns;
};

static uint64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Submits the span of a settlement that ended, as a child of its request's server span; the
 * request itself ended before the reply came, so the span goes out on its own. */
static void
submit_span(const struct settlement *s, const char *error)
{
    struct sl_otlp_span span;

    if (!s->traced)
        return;
    sl_otlp_span_init(&span, "redis settle", SL_OTLP_KIND_CLIENT);
    memcpy(span.trace_id, s->trace_id, sizeof(span.trace_id));
    sl_otlp_random_id(span.span_id, sizeof(span.span_id));
    memcpy(span.parent_span_id, s->parent_id, sizeof(span.parent_span_id));
    span.has_parent = 1;
    span.start_unix_ns = s->start_ns;
    span.end_unix_ns = wall_ns();
    sl_otlp_span_add_str(&span, "db.system", "redis");
    if (error != NULL) {
        sl_otlp_span_add_str(&span, "error.type", error);
        sl_otlp_span_set_status(&span, SL_OTLP_STATUS_ERROR, error);
    } else {
        sl_otlp_span_set_status(&span, SL_OTLP_STATUS_OK, NULL);
    }
    sl_otel_submit(&span);
    sl_otlp_span_dispose(&span);
}

/* 1 while the spend stream is at its cap, so old events are being dropped. */
static atomic_int stream_full;

static void
log_crossed(const char *call_id, const char *name)
{
    if (soft_metric != NULL)
        sl_metrics_counter_add(soft_metric, (const char *const[]){name}, 1);
    sl_log(SL_LOG_WARN, call_id, "limits.soft_budget_crossed", SL_LOG_STR("scope", name),
           SL_LOG_STR("message", "the spend of this period reached the soft budget"));
}

static void
event_lost(const char *call_id, const char *reason)
{
    if (lost_metric != NULL)
        sl_metrics_counter_add(lost_metric, NULL, 1);
    sl_log(SL_LOG_WARN, call_id, "spend.event_lost", SL_LOG_STR("reason", reason),
           SL_LOG_STR("message", "the request's spend event could not be written to Redis, so "
                                 "it will be missing from spend_logs"));
}

/* Logs once each way when the stream reaches its cap, where the coordinator's lag drops
 * events, and when it falls below it again. */
static void
watch_stream(long long length, int64_t max_len)
{
    int full = length >= max_len;

    atomic_store(&stream_length, length);
    if (atomic_exchange(&stream_full, full) == full)
        return;
    if (full)
        sl_log(SL_LOG_ERROR, NULL, "spend.stream_full", SL_LOG_INT("length", length),
               SL_LOG_STR("message", "the spend event stream reached "
                                     "general_settings.spend_events_max_len: the oldest events "
                                     "are dropped until sluice-coordinator catches up"));
    else
        sl_log(SL_LOG_INFO, NULL, "spend.stream_below_cap", SL_LOG_INT("length", length));
}

static void
on_settle_reply(struct sl_redis *redis, enum sl_status status, const redisReply *reply,
                void *privdata)
{
    struct settlement *s = privdata;

    (void)redis;
    if (status != SL_OK || reply->type != REDIS_REPLY_ARRAY) {
        const char *reason = status != SL_OK                    ? sl_status_str(status)
                             : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                : "unexpected reply";

        sl_log(SL_LOG_WARN, s->request_id, "limits.settle_failed", SL_LOG_STR("message", reason));
        event_lost(s->request_id, reason);
        submit_span(s, reason);
        if (status != SL_OK)
            sl_limits__set_degraded(1, sl_status_str(status));
        free(s);
        return;
    }
    sl_limits__set_degraded(0, NULL);
    submit_span(s, NULL);
    for (size_t i = 0; i < reply->elements && i < s->n; i++)
        if (sl_limits__reply_int(reply->element[i]) == 1)
            log_crossed(s->request_id, s->names[i]);
    if (reply->elements == s->n + 1 && sl_limits__reply_int(reply->element[s->n]) >= 0)
        watch_stream(sl_limits__reply_int(reply->element[s->n]), s->max_len);
    free(s);
}

/* Returns the tokens a tpm_limit counts for the request's usage. */
static int64_t
limited_tokens(const struct sl_config *cfg, const struct sl_request *r)
{
    const struct sl_usage *u = &r->usage;
    int64_t input = u->prompt_tokens - u->cached_tokens;

    if (!u->present || r->cache_hit)
        return 0;
    if (input < 0)
        input = 0;
    switch (cfg->token_rate_limit_type) {
    case SL_TOKENS_INPUT:
        return input;
    case SL_TOKENS_OUTPUT:
        return u->completion_tokens;
    case SL_TOKENS_TOTAL:
        break;
    }
    return input + u->completion_tokens;
}

double
sl_limits_request_cost(const struct sl_request *r, int *priced)
{
    struct sl_cost_tokens t;
    double cost = 0.0;
    int known;

    if (!r->usage.present || r->cache_hit || r->deployment == NULL) {
        if (priced != NULL)
            *priced = 1;
        return 0.0;
    }
    t.prompt = r->usage.prompt_tokens;
    t.completion = r->usage.completion_tokens;
    t.cached = r->usage.cached_tokens;
    t.cache_creation = r->usage.cache_creation_tokens;
    t.reasoning = r->usage.reasoning_tokens;
    t.embedding = r->ctx.kind == SL_KIND_EMBEDDING;
    known = sl_cost_compute(r->deployment, &t, &cost);
    if (priced != NULL)
        *priced = known;
    return cost;
}

static void
settle_in_memory(struct sl_request *r, int64_t tokens, double cost)
{
    struct sl_limits *l = r->limits;
    int64_t per_scope[SL_SCOPE_COUNT];
    unsigned crossed;

    for (size_t i = 0; i < l->n; i++)
        per_scope[i] = l->scopes[i].tpm >= 0 ? tokens : -1;
    crossed = sl_limits_local_settle(l, sl_wall_ms(), per_scope, cost);
    for (size_t i = 0; i < l->n; i++)
        if (crossed & (1u << i))
            log_crossed(r->call_id, sl_limits__scope_names[l->scopes[i].kind]);
}

static const char *
call_type_of(const struct sl_request *r)
{
    if (r->ctx.inbound == SL_FORMAT_ANTHROPIC)
        return "anthropic_messages";
    switch (r->ctx.kind) {
    case SL_KIND_COMPLETION:
        return "atext_completion";
    case SL_KIND_EMBEDDING:
        return "aembedding";
    case SL_KIND_COUNT_TOKENS:
        return "count_tokens";
    case SL_KIND_CHAT:
        break;
    }
    return "acompletion";
}

/* Fills `ev` with strings borrowed from `r`, so nothing in it is owned. */
static void
build_event(const struct sl_request *r, double cost, int priced, uint64_t now,
            struct sl_spend_event *ev, char *api_base, size_t api_base_size)
{
    const struct sl_limits *l = r->limits;
    const struct sl_deployment *d = r->deployment;
    const struct sl_usage *u = &r->usage;

    memset(ev, 0, sizeof(*ev));
    ev->request_id = (char *)l->request_id;
    ev->call_type = (char *)call_type_of(r);
    ev->start_ms = (int64_t)r->start_wall_ms;
    ev->end_ms = (int64_t)now;
    ev->first_byte_ms = (int64_t)r->first_byte_wall_ms;
    ev->key_hash = l->key_hash;
    ev->key_alias = l->key_alias;
    ev->user_id = l->user_id;
    ev->team_id = l->team_id;
    ev->org_id = l->org_id;
    ev->end_user = l->end_user;
    ev->model_group = r->model;
    if (d != NULL) {
        ev->model = d->model;
        ev->model_id = d->id;
        ev->provider = d->provider;
        if (d->api_base != NULL) {
            sl_url_write_base(d->api_base, api_base, api_base_size);
            ev->api_base = api_base;
        }
    }
    if (u->present && !r->cache_hit) {
        ev->prompt_tokens = u->prompt_tokens;
        ev->completion_tokens = u->completion_tokens;
        ev->cached_tokens = u->cached_tokens;
        ev->cache_creation_tokens = u->cache_creation_tokens;
        ev->reasoning_tokens = u->reasoning_tokens;
        ev->usage_estimated = u->estimated;
    }
    ev->cost = cost;
    ev->priced = priced;
    ev->http_status = r->client_gone && r->status == 0 ? 499 : r->status;
    ev->success = ev->http_status >= 200 && ev->http_status < 300 && !r->client_gone;
    ev->cache_hit = r->cache_hit;
    ev->client_ip = l->client_ip;
    ev->user_agent = l->user_agent;
    ev->request_body = l->request_body;
    ev->response_body = l->response_body;
    for (size_t i = 0; i < l->n && ev->n_periods < SL_SPEND_EVENT_MAX_PERIODS; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];
        struct sl_spend_period *p = &ev->periods[ev->n_periods];

        if (!s->count_spend)
            continue;
        p->scope = (char *)sl_limits__scope_names[s->kind];
        p->id = (char *)s->id;
        p->start_s = s->has_period ? sl_budget_period(&s->period, (int64_t)(now / 1000), NULL) : 0;
        ev->n_periods++;
    }
}

void
sl_limits_settle(struct sl_request *r)
{
    struct sl_limits *l = r->limits;
    struct sl_worker *w = r->worker;
    const struct sl_config *cfg = &w->gw->cfg;
    int64_t tokens;
    double cost;
    uint64_t now = sl_wall_ms();
    char(*keys)[KEY_MAX];
    char(*nums)[32];
    struct sl_redis_str *key_refs;
    struct sl_redis_str *args;
    struct sl_spend_event ev;
    struct sl_buf blob;
    char api_base[512];
    struct settlement *s;
    size_t n;
    int priced = 1;
    enum sl_status rc = SL_ERR_INVALID;

    if (l == NULL || !l->admitted)
        return;
    l->admitted = 0;
    tokens = limited_tokens(cfg, r);
    cost = sl_limits_request_cost(r, &priced);
    if (l->in_memory || w->redis == NULL || w->limits == NULL || w->limits->settle == NULL) {
        settle_in_memory(r, tokens, cost);
        return;
    }

    n = l->n;
    /* Every key and number is written before it is read, so neither array is zeroed. */
    keys = sl_xmalloc((4 * n + 1) * KEY_MAX);
    nums = sl_xmalloc((5 * n + 4) * 32);
    key_refs = sl_xcalloc(4 * n + 1, sizeof(*key_refs));
    args = sl_xcalloc(6 + 5 * n, sizeof(*args));
    s = sl_xcalloc(1, sizeof(*s));
    sl_buf_init(&blob, 0);
    build_event(r, cost, priced, now, &ev, api_base, sizeof(api_base));
    sl_spend_event_encode(&ev, &blob);
    sl_limits__format_int((int64_t)now, nums[0]);
    snprintf(nums[1], 32, "%.17g", cost);
    sl_limits__format_int((int64_t)n, nums[2]);
    sl_limits__format_int((int64_t)cfg->spend_events_max_len, nums[3]);
    args[0] = SL_REDIS_CSTR(nums[0]);
    args[1] = SL_REDIS_CSTR(l->request_id);
    args[2] = SL_REDIS_CSTR(nums[1]);
    args[3] = SL_REDIS_CSTR(nums[2]);
    /* The bodies in an event are capped far below the decoder's limit, so this only guards
     * against a future field: the spend still counts in every scope. */
    if (blob.len > SL_SPEND_EVENT_MAX_BYTES) {
        event_lost(l->request_id, "the event is over SL_SPEND_EVENT_MAX_BYTES");
        args[4] = SL_REDIS_CSTR("");
    } else {
        args[4] = (struct sl_redis_str){blob.data, blob.len};
    }
    args[5] = SL_REDIS_CSTR(nums[3]);
    for (size_t i = 0; i < n; i++) {
        const struct sl_limits_scope *sc = &l->scopes[i];
        char(*v)[32] = nums + 4 + 5 * i;
        int64_t ttl = 0;

        if (!sl_limits__counter_key(keys[4 * i], w->redis, sc, "tok") ||
            !sl_limits__counter_key(keys[4 * i + 1], w->redis, sc, "par") ||
            !sl_limits__period_key(keys[4 * i + 2], w->redis, sc, "spend", now, &ttl) ||
            !sl_limits__period_key(keys[4 * i + 3], w->redis, sc, "soft", now, NULL))
            goto out;
        for (size_t k = 0; k < 4; k++)
            key_refs[4 * i + k] = SL_REDIS_CSTR(keys[4 * i + k]);
        sl_limits__format_int(sc->tpm >= 0 ? tokens : -1, v[0]);
        sl_limits__format_int(sc->parallel >= 0, v[1]);
        sl_limits__format_int(sc->count_spend, v[2]);
        sl_limits__format_number(sc->soft_budget, v[3]);
        sl_limits__format_int(ttl, v[4]);
        for (size_t k = 0; k < 5; k++)
            args[6 + 5 * i + k] = SL_REDIS_CSTR(v[k]);
        snprintf(s->names[i], sizeof(s->names[i]), "%s", sl_limits__scope_names[sc->kind]);
    }
    if (sl_redis_key(keys[4 * n], KEY_MAX, w->redis, "spend:events") != SL_OK)
        goto out;
    key_refs[4 * n] = SL_REDIS_CSTR(keys[4 * n]);
    s->n = n;
    s->max_len = cfg->spend_events_max_len;
    s->traced = sl_trace_ids(r, s->trace_id, s->parent_id);
    s->start_ns = wall_ns();
    snprintf(s->request_id, sizeof(s->request_id), "%s", l->request_id);
    rc = sl_redis_eval(w->redis, w->limits->settle, 4 * n + 1, key_refs, 6 + 5 * n, args,
                       on_settle_reply, s);
out:
    if (rc != SL_OK) {
        free(s);
        event_lost(l->request_id, "Redis is not connected");
        settle_in_memory(r, tokens, cost);
    }
    sl_buf_dispose(&blob);
    free(keys);
    free(nums);
    free(key_refs);
    free(args);
}

void
sl_limits_whole_response(struct sl_request *r, const char *body, size_t len)
{
    struct sl_limits *l = r->limits;
    double cost = sl_limits_request_cost(r, NULL);
    char value[32];

    if (cost > 0) {
        sl_limits_format_money(cost, value);
        sl_request_add_header(r, "x-litellm-response-cost", value);
    }
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];

        /* The key's spend is known only when admission read it for a budget. */
        if (s->kind == SL_SCOPE_API_KEY && (!isnan(s->max_budget) || !isnan(s->soft_budget))) {
            sl_limits_format_money(s->spend + cost, value);
            sl_request_add_header(r, "x-litellm-key-spend", value);
        }
    }
    if (r->worker->gw->cfg.store_prompts_in_spend_logs && l->response_body == NULL)
        l->response_body = sl_limits__dup_capped(body, len, BODY_MAX);
}
