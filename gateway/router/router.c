/* SPDX-License-Identifier: Apache-2.0 */
/* router -- model groups and weighted choice; see router.h. */
#include "gateway/router/router.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/providers/provider.h"

double
sl_router_weight(const struct sl_deployment *d)
{
    if (!isnan(d->weight) && d->weight > 0)
        return d->weight;
    if (d->rpm > 0)
        return (double)d->rpm;
    if (d->tpm > 0)
        return (double)d->tpm;
    return 1.0;
}

static void
add_deployment(struct sl_router *r, const struct sl_deployment *d, size_t total)
{
    struct sl_model_group *g = (struct sl_model_group *)sl_router_find(r, d->model_name);

    if (g == NULL) {
        g = &r->groups[r->n_groups++];
        g->name = d->model_name;
        g->deployments = sl_xcalloc(total, sizeof(*g->deployments));
    }
    g->deployments[g->n++] = d;
}

/* Groups the config's deployments, then r->extra. */
static void
build_groups(struct sl_router *r, const struct sl_config *cfg)
{
    size_t total = cfg->n_deployments + r->n_extra;

    r->groups = sl_xcalloc(total + 1, sizeof(*r->groups));
    r->n_groups = 0;
    for (size_t i = 0; i < cfg->n_deployments; i++)
        add_deployment(r, &cfg->deployments[i], total);
    for (size_t i = 0; i < r->n_extra; i++)
        add_deployment(r, &r->extra[i], total);

    for (size_t i = 0; i < r->n_groups; i++) {
        struct sl_model_group *g = &r->groups[i];

        g->total_weight = 0;
        for (size_t j = 0; j < g->n; j++)
            g->total_weight += sl_router_weight(g->deployments[j]);
    }
}

void
sl_router_init(struct sl_router *r, const struct sl_config *cfg)
{
    memset(r, 0, sizeof(*r));
    build_groups(r, cfg);
}

void
sl_router_dispose(struct sl_router *r)
{
    for (size_t i = 0; i < r->n_groups; i++)
        free((void *)r->groups[i].deployments);
    free(r->groups);
    for (size_t i = 0; i < r->n_extra; i++)
        sl_config_deployment_dispose(&r->extra[i]);
    free(r->extra);
    memset(r, 0, sizeof(*r));
}

struct sl_router *
sl_router_create(const struct sl_config *cfg, struct sl_deployment *extra, size_t n_extra)
{
    struct sl_router *r = sl_xcalloc(1, sizeof(*r));

    r->extra = extra;
    r->n_extra = n_extra;
    r->refs = 1;
    build_groups(r, cfg);
    return r;
}

void
sl_router_retain(struct sl_router *r)
{
    r->refs++;
}

void
sl_router_release(struct sl_router *r)
{
    if (r == NULL || --r->refs > 0)
        return;
    sl_router_dispose(r);
    free(r);
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
uint64_t
sl_router_random(uint64_t *state)
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
    point = (double)(sl_router_random(rng) >> 11) / 9007199254740992.0 * g->total_weight;
    for (size_t i = 0; i < g->n; i++) {
        point -= sl_router_weight(g->deployments[i]);
        if (point < 0)
            return g->deployments[i];
    }
    return g->deployments[g->n - 1];
}

static int
is_skipped(const struct sl_deployment *d, const struct sl_deployment *const *skip, size_t n_skip,
           sl_router_usable_cb usable, void *arg)
{
    for (size_t i = 0; i < n_skip; i++)
        if (skip[i] == d)
            return 1;
    return usable != NULL && !usable(d, arg);
}

const struct sl_deployment *
sl_router_pick_usable(const struct sl_model_group *g, uint64_t *rng,
                      const struct sl_deployment *const *skip, size_t n_skip,
                      sl_router_usable_cb usable, void *arg)
{
    const struct sl_deployment *last = NULL;
    double total = 0;
    double point;

    for (size_t i = 0; i < g->n; i++)
        if (!is_skipped(g->deployments[i], skip, n_skip, usable, arg))
            total += sl_router_weight(g->deployments[i]);
    if (total <= 0)
        return NULL;
    point = (double)(sl_router_random(rng) >> 11) / 9007199254740992.0 * total;
    for (size_t i = 0; i < g->n; i++) {
        if (is_skipped(g->deployments[i], skip, n_skip, usable, arg))
            continue;
        last = g->deployments[i];
        point -= sl_router_weight(last);
        if (point < 0)
            return last;
    }
    return last;
}

const struct sl_deployment *
sl_router_pick_except(const struct sl_model_group *g, uint64_t *rng,
                      const struct sl_deployment *const *skip, size_t n_skip)
{
    return sl_router_pick_usable(g, rng, skip, n_skip, NULL, NULL);
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
