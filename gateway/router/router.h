/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router -- model groups and the choice of a deployment within one.
 *
 * Deployments that share a model_name form a group; clients name the group. The router is
 * built once from the config and is read-only afterwards, so every worker uses it without
 * locks; the random state for weighted choice lives in the caller (one per worker).
 */
#ifndef SL_ROUTER_H
#define SL_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"

struct sl_model_group {
    const char *name;                           /* borrowed from the config */
    const struct sl_deployment **deployments;   /* owned array of borrowed pointers */
    size_t n;
    double total_weight;
};

struct sl_router {
    struct sl_model_group *groups; /* in config order */
    size_t n_groups;
};

/* Builds the groups from `cfg`, which must outlive the router. */
void sl_router_init(struct sl_router *r, const struct sl_config *cfg);
void sl_router_dispose(struct sl_router *r);

/* Returns the group named `model`, or NULL. */
const struct sl_model_group *sl_router_find(const struct sl_router *r, const char *model);

/*
 * Picks a deployment of `g` at random, weighted by `weight`, else `rpm`, else `tpm`, else
 * evenly (LiteLLM's simple-shuffle). `rng` is the caller's random state.
 */
const struct sl_deployment *sl_router_pick(const struct sl_model_group *g, uint64_t *rng);

/* Appends the group names as a JSON array of strings, for error messages. */
void sl_router_names_json(const struct sl_router *r, struct sl_buf *out);

#endif /* SL_ROUTER_H */
