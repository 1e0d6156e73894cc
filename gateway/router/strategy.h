/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strategy -- the choice of one deployment within a model group, by
 * router_settings.routing_strategy, among the deployments that may take a request now.
 *
 * A deployment is a candidate when the caller's check passes (cooldown), it was not tried yet
 * by this request, it is below its max_parallel_requests, and, with usage-based routing, this
 * process has not already counted its rpm/tpm for the minute. Among the candidates only the
 * lowest `order` is used (a deployment without `order` comes after every one with it), so a
 * tier whose every deployment is left out passes the traffic to the next. The strategy then
 * picks within the tier. The in-flight counts, latencies and minute counts come from the
 * process-wide table of router/inflight.h. Loop thread of a worker; the choice functions
 * declared first are pure, for tests. Design notes: docs/routing.md.
 */
#ifndef SL_STRATEGY_H
#define SL_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "gateway/router/router.h"

struct sl_worker;
struct sl_inflight_entry;

/* Default routing_strategy_args.ttl of latency-based routing, in seconds (LiteLLM's). */
#define SL_STRATEGY_LATENCY_TTL_S 3600.0
/* Default routing_strategy_args.ttl of usage-based routing: the life of its Redis keys. */
#define SL_STRATEGY_USAGE_TTL_S 60.0

/* One deployment that may take the request, with the state its strategy reads. */
struct sl_strategy_candidate {
    const struct sl_deployment *d;
    struct sl_inflight_entry *entry; /* its process-wide state; NULL when untracked */
    int64_t order;                   /* litellm_params.order; INT64_MAX when unset */
    int64_t inflight;                /* attempts in flight from this process */
    size_t latency_samples;          /* samples within the ttl; 0: not tried yet */
    double latency_ms;               /* their mean, when latency_samples > 0 */
    double cost;                     /* input + output USD per token; INFINITY: no price */
    int64_t minute_tokens;           /* tokens counted in the current minute */
};

/* What the choice depends on besides the candidates. */
struct sl_strategy_params {
    enum sl_routing_strategy strategy;
    double latency_buffer; /* routing_strategy_args.lowest_latency_buffer, >= 0 */
};

/* Returns the order used for tiers: `order` when set, else INT64_MAX (the last tier). */
int64_t sl_strategy_tier(const struct sl_deployment *d);

/*
 * Moves the candidates of the lowest tier to the front of `c` and returns their number
 * (0 when `n` is 0). The relative order of the kept candidates is preserved.
 */
size_t sl_strategy_lowest_tier(struct sl_strategy_candidate *c, size_t n);

/*
 * Returns the index of the candidate `p` chooses among the `n` (at least 1) of `c`:
 * - simple-shuffle: at random, weighted by weight, else rpm, else tpm, else evenly;
 * - least-busy: fewest in flight, ties at random;
 * - usage-based-routing(-v2): lowest minute_tokens, ties at random;
 * - latency-based-routing: a candidate without samples first (at random), else at random
 *   among those whose mean is at most the lowest mean * (1 + latency_buffer);
 * - cost-based-routing: lowest cost, ties at random.
 * `rng` is the caller's random state.
 */
size_t sl_strategy_choose(const struct sl_strategy_params *p, const struct sl_strategy_candidate *c,
                          size_t n, uint64_t *rng);

/* Returns the cap of in-flight requests of `d`: max_parallel_requests, else
 * router_settings.default_max_parallel_requests, else 0 for none. */
int64_t sl_strategy_max_parallel(const struct sl_config *cfg, const struct sl_deployment *d);

/* ---------------------------------------------------------------- per worker */

/*
 * Picks a deployment of `g` for worker `w` by the configured strategy. The candidates are the
 * deployments not among the `n_skip` of `skip` for which `usable` (NULL: all) returns 1. They
 * must also be below their in-flight cap and, with usage-based routing, within this process's
 * count of their rpm/tpm. Returns NULL when none is left. Nothing is counted: the attempt takes its
 * slot when it starts (http/attempt.h), where the choice is checked again.
 */
const struct sl_deployment *sl_strategy_pick(struct sl_worker *w, const struct sl_model_group *g,
                                             const struct sl_deployment *const *skip, size_t n_skip,
                                             sl_router_usable_cb usable, void *arg);

/*
 * Writes the candidates of `g` for worker `w` into `out` (room for g->n), with the same
 * filters as sl_strategy_pick(), and returns their number. The lowest tier is not selected.
 */
size_t sl_strategy_candidates(struct sl_worker *w, const struct sl_model_group *g,
                              const struct sl_deployment *const *skip, size_t n_skip,
                              sl_router_usable_cb usable, void *arg,
                              struct sl_strategy_candidate *out);

#endif /* SL_STRATEGY_H */
