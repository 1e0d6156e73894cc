/* SPDX-License-Identifier: Apache-2.0 */
/* router -- model groups and weighted choice; see router.h. */
#include "gateway/router/router.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

static double
weight_of(const struct sl_deployment *d)
{
    if (!isnan(d->weight) && d->weight > 0)
        return d->weight;
    if (d->rpm > 0)
        return (double)d->rpm;
    if (d->tpm > 0)
        return (double)d->tpm;
    return 1.0;
}

void
sl_router_init(struct sl_router *r, const struct sl_config *cfg)
{
    r->groups = sl_xcalloc(cfg->n_deployments, sizeof(*r->groups));
    r->n_groups = 0;

    for (size_t i = 0; i < cfg->n_deployments; i++) {
        const struct sl_deployment *d = &cfg->deployments[i];
        struct sl_model_group *g = (struct sl_model_group *)sl_router_find(r, d->model_name);

        if (g == NULL) {
            g = &r->groups[r->n_groups++];
            g->name = d->model_name;
            g->deployments = sl_xcalloc(cfg->n_deployments, sizeof(*g->deployments));
        }
        g->deployments[g->n++] = d;
    }

    for (size_t i = 0; i < r->n_groups; i++) {
        struct sl_model_group *g = &r->groups[i];

        g->total_weight = 0;
        for (size_t j = 0; j < g->n; j++)
            g->total_weight += weight_of(g->deployments[j]);
    }
}

void
sl_router_dispose(struct sl_router *r)
{
    for (size_t i = 0; i < r->n_groups; i++)
        free((void *)r->groups[i].deployments);
    free(r->groups);
    r->groups = NULL;
    r->n_groups = 0;
}

const struct sl_model_group *
sl_router_find(const struct sl_router *r, const char *model)
{
    for (size_t i = 0; i < r->n_groups; i++)
        if (strcmp(r->groups[i].name, model) == 0)
            return &r->groups[i];
    return NULL;
}

/* xorshift64*: fast, and good enough to spread load; not for secrets. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t x = *state != 0 ? *state : 0x9e3779b97f4a7c15u;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1du;
}

const struct sl_deployment *
sl_router_pick(const struct sl_model_group *g, uint64_t *rng)
{
    double point;

    if (g->n == 1)
        return g->deployments[0];
    point = (double)(next_random(rng) >> 11) / 9007199254740992.0 * g->total_weight;
    for (size_t i = 0; i < g->n; i++) {
        point -= weight_of(g->deployments[i]);
        if (point < 0)
            return g->deployments[i];
    }
    return g->deployments[g->n - 1];
}

void
sl_router_names_json(const struct sl_router *r, struct sl_buf *out)
{
    sl_buf_append_str(out, "[");
    for (size_t i = 0; i < r->n_groups; i++) {
        if (i > 0)
            sl_buf_append_str(out, ", ");
        sl_json_append_string(out, r->groups[i].name, strlen(r->groups[i].name));
    }
    sl_buf_append_str(out, "]");
}
