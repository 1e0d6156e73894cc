/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router -- model groups and the choice of a deployment within one.
 *
 * Deployments that share a model_name form a group; clients name the group. A router is
 * read-only once built. The one in struct sl_gateway contains the config's deployments and is
 * shared by every worker. Each worker also builds its own routers, from the config and the
 * models table (live.h), and keeps a replaced one alive while requests still use it. Those
 * routers are reference-counted on the worker's loop thread, so no lock is ever taken. The
 * random state for weighted choice lives in the caller (one per worker).
 */
#ifndef SL_ROUTER_H
#define SL_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "gateway/router/deployment_check.h"

struct sl_model_group {
    const char *name;                           /* borrowed from the config */
    const struct sl_deployment **deployments;   /* owned array of borrowed pointers */
    size_t n;
    double total_weight;
};

struct sl_router {
    struct sl_model_group *groups; /* config order, then the order of the extra deployments */
    size_t n_groups;
    struct sl_deployment *extra;   /* owned: deployments that are not in the config */
    size_t n_extra;
    unsigned refs;                 /* of a router from sl_router_create() */
};

/* Builds the groups from `cfg`, which must outlive the router. */
void sl_router_init(struct sl_router *r, const struct sl_config *cfg);
void sl_router_dispose(struct sl_router *r);

/*
 * Returns a new router with one reference, holding the deployments of `cfg` (which must
 * outlive it) and then the `n_extra` deployments of `extra`, an array that the router takes
 * and frees. An extra deployment joins the config's group of the same model_name.
 */
struct sl_router *sl_router_create(const struct sl_config *cfg, struct sl_deployment *extra,
                                   size_t n_extra);
void sl_router_retain(struct sl_router *r);
/* Drops a reference; the last one frees the router and its extra deployments. */
void sl_router_release(struct sl_router *r);

/* Returns the group named `model`, or NULL. */
const struct sl_model_group *sl_router_find(const struct sl_router *r, const char *model);

/*
 * Picks a deployment of `g` at random, weighted by `weight`, else `rpm`, else `tpm`, else
 * evenly (LiteLLM's simple-shuffle). `rng` is the caller's random state.
 */
const struct sl_deployment *sl_router_pick(const struct sl_model_group *g, uint64_t *rng);

/* As sl_router_pick() among the deployments of `g` that are not among the `n_skip` of
 * `skip`. Returns NULL when every deployment is skipped. */
const struct sl_deployment *sl_router_pick_except(const struct sl_model_group *g, uint64_t *rng,
                                                  const struct sl_deployment *const *skip,
                                                  size_t n_skip);

/* Returns the share of traffic `d` gets in simple-shuffle: `weight`, else `rpm`, else `tpm`,
 * else 1. */
double sl_router_weight(const struct sl_deployment *d);

/* Returns the next value of the caller's random state `state` (xorshift64*, not for secrets). */
uint64_t sl_router_random(uint64_t *state);

/* Returns 1 when deployment `d` may serve a request; `arg` is the caller's. */
typedef int (*sl_router_usable_cb)(const struct sl_deployment *d, void *arg);

/* As sl_router_pick_except(), among the deployments for which `usable` (may be NULL: all)
 * returns 1. Returns NULL when none is left. */
const struct sl_deployment *sl_router_pick_usable(const struct sl_model_group *g, uint64_t *rng,
                                                  const struct sl_deployment *const *skip,
                                                  size_t n_skip, sl_router_usable_cb usable,
                                                  void *arg);

/* Appends the group names as a JSON array of strings, for error messages. */
void sl_router_names_json(const struct sl_router *r, struct sl_buf *out);

#endif /* SL_ROUTER_H */
