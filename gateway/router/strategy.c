/* SPDX-License-Identifier: Apache-2.0 */
/* strategy -- the choice of a deployment within a model group; see strategy.h. */
#include "gateway/router/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/cost.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/router/inflight.h"
#include "gateway/worker.h"

/* Candidates kept on the stack; larger groups allocate. */
#define SL_STRATEGY_STACK_CANDIDATES 32

/* ---------------------------------------------------------------- pure parts */

int64_t
sl_strategy_tier(const struct sl_deployment *d)
{
    return d->order >= 0 ? d->order : INT64_MAX;
}

size_t
sl_strategy_lowest_tier(struct sl_strategy_candidate *c, size_t n)
{
    int64_t lowest = INT64_MAX;
    size_t kept = 0;

    for (size_t i = 0; i < n; i++)
        if (c[i].order < lowest)
            lowest = c[i].order;
    for (size_t i = 0; i < n; i++) {
        if (c[i].order != lowest)
            continue;
        if (kept != i) {
            struct sl_strategy_candidate tmp = c[kept];

            c[kept] = c[i];
            c[i] = tmp;
        }
        kept++;
    }
    return kept;
}

/* Returns a uniform double in [0, 1). */
static double
uniform(uint64_t *rng)
{
    return (double)(sl_router_random(rng) >> 11) / 9007199254740992.0;
}

static size_t
choose_weighted(const struct sl_strategy_candidate *c, size_t n, uint64_t *rng)
{
    double total = 0;
    double point;

    for (size_t i = 0; i < n; i++)
        total += sl_router_weight(c[i].d);
    point = uniform(rng) * total;
    for (size_t i = 0; i < n; i++) {
        point -= sl_router_weight(c[i].d);
        if (point < 0)
            return i;
    }
    return n - 1;
}

/* The score a strategy minimises; candidates at the lowest score are drawn from evenly. */
static double
score_of(enum sl_routing_strategy s, const struct sl_strategy_candidate *c)
{
    switch (s) {
    case SL_ROUTING_LEAST_BUSY:
        return (double)c->inflight;
    case SL_ROUTING_USAGE_BASED:
    case SL_ROUTING_USAGE_BASED_V2:
        return (double)c->minute_tokens;
    case SL_ROUTING_COST_BASED:
        return c->cost;
    case SL_ROUTING_LATENCY_BASED:
        /* Untried candidates score below every measured one, so each gets samples. */
        return c->latency_samples == 0 ? -1.0 : c->latency_ms;
    case SL_ROUTING_SIMPLE_SHUFFLE:
        break;
    }
    return 0;
}

/* Draws evenly among the candidates whose score is at most `limit`. */
static size_t
choose_within(enum sl_routing_strategy s, const struct sl_strategy_candidate *c, size_t n,
              double limit, uint64_t *rng)
{
    size_t matches = 0;
    size_t pick;

    for (size_t i = 0; i < n; i++)
        if (score_of(s, &c[i]) <= limit)
            matches++;
    pick = (size_t)(uniform(rng) * (double)matches);
    for (size_t i = 0; i < n; i++) {
        if (score_of(s, &c[i]) > limit)
            continue;
        if (pick == 0)
            return i;
        pick--;
    }
    return 0;
}

size_t
sl_strategy_choose(const struct sl_strategy_params *p, const struct sl_strategy_candidate *c,
                   size_t n, uint64_t *rng)
{
    double best = INFINITY;
    double limit;

    if (n <= 1)
        return 0;
    if (p->strategy == SL_ROUTING_SIMPLE_SHUFFLE)
        return choose_weighted(c, n, rng);

    for (size_t i = 0; i < n; i++) {
        double s = score_of(p->strategy, &c[i]);

        if (s < best)
            best = s;
    }
    limit = best;
    if (p->strategy == SL_ROUTING_LATENCY_BASED && best >= 0 && p->latency_buffer > 0)
        limit = best * (1.0 + p->latency_buffer);
    if (isinf(best))
        limit = INFINITY; /* every candidate is unpriced: all of them tie */
    return choose_within(p->strategy, c, n, limit, rng);
}

int64_t
sl_strategy_max_parallel(const struct sl_config *cfg, const struct sl_deployment *d)
{
    if (d->max_parallel_requests > 0)
        return d->max_parallel_requests;
    if (cfg->default_max_parallel_requests > 0)
        return cfg->default_max_parallel_requests;
    return 0;
}

/* ---------------------------------------------------------------- per worker */

static int
is_skipped(const struct sl_deployment *d, const struct sl_deployment *const *skip, size_t n_skip)
{
    for (size_t i = 0; i < n_skip; i++)
        if (skip[i] == d)
            return 1;
    return 0;
}

static double
cost_of(const struct sl_deployment *d)
{
    struct sl_cost_prices prices;

    if (!sl_cost_prices(d, &prices))
        return INFINITY;
    return prices.base.input + prices.base.output;
}

/* Fills `c` for `d`; returns 0 when `d` is at its cap or over this process's minute counts. */
static int
fill_candidate(struct sl_worker *w, const struct sl_deployment *d, uint64_t now_ms,
               struct sl_strategy_candidate *c)
{
    const struct sl_config *cfg = &w->gw->cfg;
    int64_t cap = sl_strategy_max_parallel(cfg, d);
    int64_t requests = 0;

    memset(c, 0, sizeof(*c));
    c->d = d;
    c->entry = sl_inflight_get(w->gw->inflight, d->id);
    c->order = sl_strategy_tier(d);
    c->inflight = sl_inflight_count(c->entry);
    if (cap > 0 && c->inflight >= cap)
        return 0;

    switch (cfg->routing_strategy) {
    case SL_ROUTING_USAGE_BASED:
    case SL_ROUTING_USAGE_BASED_V2:
        sl_inflight_minute_usage(c->entry, now_ms / 60000, &requests, &c->minute_tokens);
        if ((d->rpm > 0 && requests >= d->rpm) || (d->tpm > 0 && c->minute_tokens >= d->tpm))
            return 0;
        break;
    case SL_ROUTING_LATENCY_BASED: {
        double ttl_s = isnan(cfg->routing_ttl_s) ? SL_STRATEGY_LATENCY_TTL_S : cfg->routing_ttl_s;

        c->latency_samples =
            sl_inflight_mean_latency(c->entry, now_ms, (uint64_t)(ttl_s * 1000.0), &c->latency_ms);
        break;
    }
    case SL_ROUTING_COST_BASED:
        c->cost = cost_of(d);
        break;
    case SL_ROUTING_SIMPLE_SHUFFLE:
    case SL_ROUTING_LEAST_BUSY:
        break;
    }
    return 1;
}

size_t
sl_strategy_candidates(struct sl_worker *w, const struct sl_model_group *g,
                       const struct sl_deployment *const *skip, size_t n_skip,
                       sl_router_usable_cb usable, void *arg, struct sl_strategy_candidate *out)
{
    uint64_t now_ms = sl_wall_ms();
    size_t n = 0;

    for (size_t i = 0; i < g->n; i++) {
        const struct sl_deployment *d = g->deployments[i];

        if (is_skipped(d, skip, n_skip) || (usable != NULL && !usable(d, arg)))
            continue;
        if (fill_candidate(w, d, now_ms, &out[n]))
            n++;
    }
    return n;
}

const struct sl_deployment *
sl_strategy_pick(struct sl_worker *w, const struct sl_model_group *g,
                 const struct sl_deployment *const *skip, size_t n_skip, sl_router_usable_cb usable,
                 void *arg)
{
    struct sl_strategy_candidate stack[SL_STRATEGY_STACK_CANDIDATES];
    struct sl_strategy_candidate *c = stack;
    struct sl_strategy_params p;
    const struct sl_deployment *chosen = NULL;
    size_t n;

    if (g->n > SL_STRATEGY_STACK_CANDIDATES)
        c = sl_xcalloc(g->n, sizeof(*c));
    n = sl_strategy_candidates(w, g, skip, n_skip, usable, arg, c);
    n = sl_strategy_lowest_tier(c, n);
    if (n > 0) {
        p.strategy = w->gw->cfg.routing_strategy;
        p.latency_buffer = w->gw->cfg.routing_latency_buffer;
        chosen = c[sl_strategy_choose(&p, c, n, &w->rng)].d;
    }
    if (c != stack)
        free(c);
    return chosen;
}
