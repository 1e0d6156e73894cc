/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attempt -- in-flight slots, usage counts and latency samples of provider calls; see
 * attempt.h.
 *
 * The pick (router/strategy.h) happens when a request or a retry is routed, but the call may
 * start later, after admission and the cache lookup. So the slot is taken here, when the call
 * starts, with a compare-and-swap that cannot exceed the cap, and the pick is redone when the
 * slot is gone. The Redis scripts are loaded once per process and shared by the workers.
 */
#define SL_LOG_MODULE "routing"
#include "gateway/http/attempt.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/lua_scripts.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/errors.h"
#include "gateway/http/failover.h"
#include "gateway/http/request.h"
#include "gateway/router/cooldown.h"
#include "gateway/router/inflight.h"
#include "gateway/router/live.h"
#include "gateway/router/strategy.h"
#include "gateway/worker.h"

/* Candidates sent to the usage script at most; the rest of a larger group are left out. */
#define SL_ATTEMPT_MAX_REDIS_CANDIDATES 64
/* Length of a Redis key of the usage counters, the prefix and the id included. */
#define SL_ATTEMPT_KEY_MAX (SL_INFLIGHT_ID_MAX + 96)

/* Whether the usage script last worked, so that a change is logged once, not per request. */
enum redis_usage_state {
    USAGE_STATE_UNKNOWN,
    USAGE_STATE_REDIS,
    USAGE_STATE_LOCAL,
};

static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;
static struct sl_redis_script *pick_script;
static struct sl_redis_script *tokens_script;
static atomic_int usage_state = USAGE_STATE_UNKNOWN;

/* A claim waiting for the usage script. It keeps a reference on the request. */
struct usage_claim {
    struct sl_request *r;
    sl_attempt_start_cb start;
    const struct sl_model_group *group;
    uint64_t minute;
    size_t n;
    const struct sl_deployment *deployments[SL_ATTEMPT_MAX_REDIS_CANDIDATES];
};

static void
load_scripts(void)
{
    const struct sl_lua_script *pick = sl_lua_script_find("usage_pick");
    const struct sl_lua_script *tokens = sl_lua_script_find("usage_tokens");

    if (pick != NULL)
        pick_script = sl_redis_script_load(pick->name, pick->source, pick->len);
    if (tokens != NULL)
        tokens_script = sl_redis_script_load(tokens->name, tokens->source, tokens->len);
}

static int
is_usage_based(const struct sl_config *cfg)
{
    return cfg->routing_strategy == SL_ROUTING_USAGE_BASED ||
           cfg->routing_strategy == SL_ROUTING_USAGE_BASED_V2;
}

static uint64_t
usage_ttl_s(const struct sl_config *cfg)
{
    double ttl = isnan(cfg->routing_ttl_s) ? SL_STRATEGY_USAGE_TTL_S : cfg->routing_ttl_s;

    /* A counter must outlive the minute it counts. */
    return ttl < 60.0 ? 60u : (uint64_t)ttl;
}

/* The prompt's tokens as the usage limits count them before the call: text length / 4. */
static int64_t
input_tokens(const struct sl_request *r)
{
    int64_t chars = sl_usage_request_chars(r->ctx.body != NULL ? r->ctx.body : r->body);

    return chars > 0 ? (chars + 3) / 4 : 0;
}

static void
set_usage_state(enum redis_usage_state next, const char *reason)
{
    int previous = atomic_exchange(&usage_state, (int)next);

    /* The first success is the normal state, not a recovery: only a change is logged. */
    if (previous == (int)next || (previous == USAGE_STATE_UNKNOWN && next == USAGE_STATE_REDIS))
        return;
    if (next == USAGE_STATE_LOCAL)
        sl_log(SL_LOG_WARN, NULL, "routing.usage_local",
               SL_LOG_STR("message", "usage-based routing counts per gateway process until "
                                     "Redis answers again"),
               SL_LOG_STR("reason", reason));
    else
        sl_log(SL_LOG_INFO, NULL, "routing.usage_redis",
               SL_LOG_STR("message", "usage-based routing counts in Redis again"));
}

/* The group the attempt of `r` serves. */
static const struct sl_model_group *
group_of(struct sl_request *r)
{
    const struct sl_model_group *g = sl_failover_group(r);

    if (g != NULL || r->deployment == NULL)
        return g;
    return sl_router_find(sl_router_live_current(r->worker), r->deployment->model_name);
}

/* ---------------------------------------------------------------- responses */

void
sl_attempt_respond_unavailable(struct sl_request *r, const struct sl_model_group *g,
                               unsigned retry_after_s)
{
    const char *ids[SL_COOLDOWN_MAX_LISTED];
    size_t n_ids = 0;
    struct sl_buf msg;
    char header[24];

    (void)sl_cooldown_group_wait_ms(r->worker, g, ids, &n_ids);
    snprintf(header, sizeof(header), "%u", retry_after_s > 0 ? retry_after_s : 1u);
    sl_buf_init(&msg, 0);
    sl_cooldown_message(&msg, g->name, (uint64_t)r->worker->gw->cfg.cooldown_time_s, ids, n_ids);
    sl_log(SL_LOG_WARN, r->call_id, "routing.no_capacity", SL_LOG_STR("model_group", g->name),
           SL_LOG_INT("retry_after_s", retry_after_s > 0 ? retry_after_s : 1u));
    sl_request_add_header(r, "retry-after", header);
    sl_request_respond_error(r, 429, sl_errors_default_type(429), NULL, "%s", msg.data);
    sl_buf_dispose(&msg);
}

/* Sends `r` to its next fallback group, else responds 429 for `g`. */
static void
no_capacity(struct sl_request *r, const struct sl_model_group *g, unsigned retry_after_s)
{
    if (sl_failover_try_fallback(r))
        return;
    sl_attempt_respond_unavailable(r, g, retry_after_s);
}

static unsigned
seconds_to_next_minute(void)
{
    uint64_t ms = 60000 - sl_wall_ms() % 60000;

    return (unsigned)((ms + 999) / 1000);
}

/* ---------------------------------------------------------------- slots */

/* Takes the in-flight slot of `d` and, with usage-based routing, this process's count of one
 * request in `minute`. Returns 1 when both are taken. */
static int
take_local(struct sl_request *r, const struct sl_deployment *d, uint64_t minute, int count_usage)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    struct sl_inflight_entry *e = sl_inflight_get(r->worker->gw->inflight, d->id);

    if (!sl_inflight_take(e, sl_strategy_max_parallel(cfg, d)))
        return 0;
    if (count_usage && !sl_inflight_minute_take(e, minute, d->rpm, d->tpm, input_tokens(r))) {
        sl_inflight_put(e);
        return 0;
    }
    r->attempt_entry = e;
    r->attempt_slot = 1;
    r->attempt_minute = minute;
    return 1;
}

/* Claims without Redis: the picked deployment, else the next pick, until one has room. */
static void
claim_local(struct sl_request *r, const struct sl_model_group *g, sl_attempt_start_cb start)
{
    struct sl_worker *w = r->worker;
    const struct sl_deployment *const *tried = NULL;
    size_t n_tried = sl_failover_tried(r, &tried);
    const struct sl_deployment **skip = sl_xcalloc(n_tried + g->n + 1, sizeof(*skip));
    size_t n_skip = n_tried;
    const struct sl_deployment *d = r->deployment;
    int count_usage = is_usage_based(&w->gw->cfg);
    uint64_t minute = sl_wall_ms() / 60000;

    if (n_tried > 0)
        memcpy(skip, tried, n_tried * sizeof(*skip));
    while (d != NULL && !take_local(r, d, minute, count_usage)) {
        skip[n_skip++] = d;
        d = n_skip <= n_tried + g->n ? sl_strategy_pick(w, g, skip, n_skip, sl_failover_ready, w)
                                     : NULL;
    }
    free(skip);
    if (d == NULL) {
        no_capacity(r, g, count_usage ? seconds_to_next_minute() : 1);
        return;
    }
    r->deployment = d;
    start(r);
}

/* ---------------------------------------------------------------- usage in Redis */

static void
on_usage_pick(struct sl_redis *redis, enum sl_status status, const redisReply *reply,
              void *privdata)
{
    struct usage_claim *c = privdata;
    struct sl_request *r = c->r;
    long long index;

    (void)redis;
    if (r->req == NULL)
        goto out; /* the client left: no call, and the request counted stays counted */
    if (status != SL_OK || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        const char *reason = "unexpected reply";

        if (status != SL_OK)
            reason = sl_status_str(status);
        else if (reply->type == REDIS_REPLY_ERROR)
            reason = reply->str;
        set_usage_state(USAGE_STATE_LOCAL, reason);
        claim_local(r, c->group, c->start);
        goto out;
    }
    set_usage_state(USAGE_STATE_REDIS, NULL);
    index = reply->element[0]->integer;
    if (index < 1 || (size_t)index > c->n) {
        no_capacity(r, c->group, seconds_to_next_minute());
        goto out;
    }

    /* Redis counted the request; this process counts it too, for a later fallback. */
    r->deployment = c->deployments[index - 1];
    if (!take_local(r, r->deployment, c->minute, 0)) {
        no_capacity(r, c->group, 1);
        goto out;
    }
    sl_inflight_minute_take(r->attempt_entry, c->minute, 0, 0, 0);
    r->attempt_in_redis = 1;
    c->start(r);

out:
    sl_request_release(r);
    free(c);
}

/* Orders the candidates by tier and shuffles each tier, so the script's first-wins tie
 * break spreads equal counts evenly. */
static void
order_candidates(struct sl_strategy_candidate *c, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(sl_router_random(rng) % i);
        struct sl_strategy_candidate tmp = c[i - 1];

        c[i - 1] = c[j];
        c[j] = tmp;
    }
    /* Insertion sort: stable, so the shuffle survives within a tier. */
    for (size_t i = 1; i < n; i++) {
        struct sl_strategy_candidate key = c[i];
        size_t j = i;

        while (j > 0 && c[j - 1].order > key.order) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = key;
    }
}

/* Sends the usage script for the candidates of `g`. Returns 0 when it could not be sent. */
static int
claim_in_redis(struct sl_request *r, const struct sl_model_group *g, sl_attempt_start_cb start)
{
    struct sl_worker *w = r->worker;
    const struct sl_config *cfg = &w->gw->cfg;
    const struct sl_deployment *const *tried = NULL;
    size_t n_tried = sl_failover_tried(r, &tried);
    struct sl_strategy_candidate *cand = sl_xcalloc(g->n + 1, sizeof(*cand));
    struct usage_claim *c = sl_xcalloc(1, sizeof(*c));
    size_t n = sl_strategy_candidates(w, g, tried, n_tried, sl_failover_ready, w, cand);
    char(*keys_text)[SL_ATTEMPT_KEY_MAX] = NULL;
    char(*args_text)[24] = NULL;
    struct sl_redis_str *keys = NULL;
    struct sl_redis_str *args = NULL;
    int sent = 0;

    /* Failover retries a tried deployment when every one was tried: so may the script. */
    if (n == 0 && n_tried > 0)
        n = sl_strategy_candidates(w, g, NULL, 0, sl_failover_ready, w, cand);
    if (n == 0) {
        /* Nothing this process can send to: no need to ask Redis. */
        no_capacity(r, g, seconds_to_next_minute());
        sent = 1;
        goto out;
    }
    order_candidates(cand, n, &w->rng);
    if (n > SL_ATTEMPT_MAX_REDIS_CANDIDATES)
        n = SL_ATTEMPT_MAX_REDIS_CANDIDATES;

    c->r = r;
    c->start = start;
    c->group = g;
    c->minute = sl_wall_ms() / 60000;
    c->n = n;
    keys_text = sl_xcalloc(2 * n, sizeof(*keys_text));
    args_text = sl_xcalloc(2 + 3 * n, sizeof(*args_text));
    keys = sl_xcalloc(2 * n, sizeof(*keys));
    args = sl_xcalloc(2 + 3 * n, sizeof(*args));
    snprintf(args_text[0], sizeof(args_text[0]), "%llu", (unsigned long long)usage_ttl_s(cfg));
    snprintf(args_text[1], sizeof(args_text[1]), "%lld", (long long)input_tokens(r));
    for (size_t i = 0; i < n; i++) {
        const struct sl_deployment *d = cand[i].d;

        c->deployments[i] = d;
        if (sl_redis_key(keys_text[2 * i], SL_ATTEMPT_KEY_MAX, w->redis, "routing:rpm:%s:%llu",
                         d->id, (unsigned long long)c->minute) != SL_OK ||
            sl_redis_key(keys_text[2 * i + 1], SL_ATTEMPT_KEY_MAX, w->redis, "routing:tpm:%s:%llu",
                         d->id, (unsigned long long)c->minute) != SL_OK)
            goto out;
        snprintf(args_text[2 + 3 * i], sizeof(args_text[0]), "%lld",
                 (long long)(d->rpm > 0 ? d->rpm : 0));
        snprintf(args_text[3 + 3 * i], sizeof(args_text[0]), "%lld",
                 (long long)(d->tpm > 0 ? d->tpm : 0));
        snprintf(args_text[4 + 3 * i], sizeof(args_text[0]), "%lld",
                 (long long)(cand[i].order == INT64_MAX ? INT64_MAX : cand[i].order));
    }
    for (size_t i = 0; i < 2 * n; i++)
        keys[i] = SL_REDIS_CSTR(keys_text[i]);
    for (size_t i = 0; i < 2 + 3 * n; i++)
        args[i] = SL_REDIS_CSTR(args_text[i]);

    sl_request_retain(r);
    if (sl_redis_eval(w->redis, pick_script, 2 * n, keys, 2 + 3 * n, args, on_usage_pick, c) !=
        SL_OK) {
        sl_request_release(r);
        goto out;
    }
    c = NULL; /* the reply callback frees it */
    sent = 1;

out:
    free(c);
    free(cand);
    free(keys_text);
    free(args_text);
    free(keys);
    free(args);
    return sent;
}

void
sl_attempt_claim(struct sl_request *r, sl_attempt_start_cb start)
{
    struct sl_worker *w = r->worker;
    const struct sl_model_group *g = group_of(r);

    sl_attempt_release(r);
    r->attempt_in_redis = 0;
    if (g == NULL) {
        /* A deployment outside every group of the current router: counted when below its cap,
         * never rejected. */
        if (r->deployment != NULL)
            take_local(r, r->deployment, sl_wall_ms() / 60000, 0);
        start(r);
        return;
    }
    if (is_usage_based(&w->gw->cfg) && w->redis != NULL) {
        pthread_once(&scripts_once, load_scripts);
        if (pick_script != NULL && sl_redis_is_up(w->redis) && claim_in_redis(r, g, start))
            return;
        set_usage_state(USAGE_STATE_LOCAL, "Redis is not connected");
    }
    claim_local(r, g, start);
}

/* ---------------------------------------------------------------- endings */

static void
on_tokens_added(struct sl_redis *redis, enum sl_status status, const redisReply *reply,
                void *privdata)
{
    (void)redis;
    (void)privdata;
    if (status != SL_OK)
        set_usage_state(USAGE_STATE_LOCAL, sl_status_str(status));
    else if (reply->type == REDIS_REPLY_ERROR)
        set_usage_state(USAGE_STATE_LOCAL, reply->str);
}

static void
add_tokens(struct sl_request *r)
{
    struct sl_worker *w = r->worker;
    int64_t tokens = r->usage.total_tokens > 0
                         ? r->usage.total_tokens
                         : r->usage.prompt_tokens + r->usage.completion_tokens;
    char key[SL_ATTEMPT_KEY_MAX];
    char tokens_text[24];
    char ttl_text[24];
    struct sl_redis_str keys[1];
    struct sl_redis_str args[2];

    if (tokens <= 0)
        return;
    sl_inflight_minute_add_tokens(r->attempt_entry, r->attempt_minute, tokens);
    if (!r->attempt_in_redis || w->redis == NULL || tokens_script == NULL ||
        sl_redis_key(key, sizeof(key), w->redis, "routing:tpm:%s:%llu", r->deployment->id,
                     (unsigned long long)r->attempt_minute) != SL_OK)
        return;
    snprintf(tokens_text, sizeof(tokens_text), "%lld", (long long)tokens);
    snprintf(ttl_text, sizeof(ttl_text), "%llu", (unsigned long long)usage_ttl_s(&w->gw->cfg));
    keys[0] = SL_REDIS_CSTR(key);
    args[0] = SL_REDIS_CSTR(tokens_text);
    args[1] = SL_REDIS_CSTR(ttl_text);
    if (sl_redis_eval(w->redis, tokens_script, 1, keys, 2, args, on_tokens_added, NULL) != SL_OK)
        set_usage_state(USAGE_STATE_LOCAL, "Redis is not connected");
}

/* LiteLLM's latency of a call: the time to the first byte for a stream, else the whole time
 * divided by the completion tokens. */
static void
add_latency(struct sl_request *r)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    uint64_t now_us = sl_now_us();
    double ms;

    if (r->upstream_start_us == 0 || now_us < r->upstream_start_us)
        return;
    if (r->stream && r->first_byte_us > r->upstream_start_us)
        ms = (double)(r->first_byte_us - r->upstream_start_us) / 1000.0;
    else
        ms = (double)(now_us - r->upstream_start_us) / 1000.0;
    if (!r->stream && r->usage.completion_tokens > 0)
        ms /= (double)r->usage.completion_tokens;
    sl_inflight_add_latency(r->attempt_entry, ms, sl_wall_ms(),
                            (size_t)cfg->routing_max_latency_list_size);
}

void
sl_attempt_succeeded(struct sl_request *r)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;

    if (r->deployment == NULL || !r->attempt_slot)
        return;
    if (cfg->routing_strategy == SL_ROUTING_LATENCY_BASED)
        add_latency(r);
    if (is_usage_based(cfg))
        add_tokens(r);
}

void
sl_attempt_failed(struct sl_request *r, int status)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;

    if (r->attempt_slot && status == 408 && cfg->routing_strategy == SL_ROUTING_LATENCY_BASED)
        sl_inflight_add_latency(r->attempt_entry, SL_ATTEMPT_TIMEOUT_LATENCY_MS, sl_wall_ms(),
                                (size_t)cfg->routing_max_latency_list_size);
    sl_attempt_release(r);
}

void
sl_attempt_release(struct sl_request *r)
{
    if (!r->attempt_slot)
        return;
    sl_inflight_put(r->attempt_entry);
    r->attempt_slot = 0;
}
