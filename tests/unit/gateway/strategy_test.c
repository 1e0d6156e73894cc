/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strategy_test -- order tiers and the choice of each routing strategy among candidates
 * whose state is given, then the whole pick on a worker with a config and the shared
 * in-flight table (gateway/router/strategy.c).
 */
#include <math.h>

#include "common/clock.h"
#include "common/config.h"
#include "gateway/gateway.h"
#include "gateway/router/inflight.h"
#include "gateway/router/strategy.h"
#include "gateway/worker.h"
#include "test.h"

#define PICKS 100000

static void
deployment(struct sl_deployment *d, const char *id, double weight, int64_t order)
{
    memset(d, 0, sizeof(*d));
    d->id = (char *)id;
    d->model_name = (char *)"group";
    d->weight = weight;
    d->rpm = SL_CONFIG_UNSET_INT;
    d->tpm = SL_CONFIG_UNSET_INT;
    d->order = order;
    d->max_parallel_requests = SL_CONFIG_UNSET_INT;
}

static void
candidate(struct sl_strategy_candidate *c, const struct sl_deployment *d)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->order = sl_strategy_tier(d);
}

/* Counts the choices of `p` over PICKS draws into `counts` (one per candidate). */
static void
draw(const struct sl_strategy_params *p, const struct sl_strategy_candidate *c, size_t n,
     unsigned *counts)
{
    uint64_t rng = 12345;

    for (size_t i = 0; i < n; i++)
        counts[i] = 0;
    for (int i = 0; i < PICKS; i++)
        counts[sl_strategy_choose(p, c, n, &rng)]++;
}

TEST(tier_unset_order_is_last)
{
    struct sl_deployment d;

    deployment(&d, "a", NAN, SL_CONFIG_UNSET_INT);
    ASSERT_EQ(INT64_MAX, sl_strategy_tier(&d));
    d.order = 0;
    ASSERT_EQ(0, sl_strategy_tier(&d));
    d.order = 2;
    ASSERT_EQ(2, sl_strategy_tier(&d));
}

TEST(tier_keeps_lowest_order)
{
    struct sl_deployment d[4];
    struct sl_strategy_candidate c[4];

    deployment(&d[0], "unset", NAN, SL_CONFIG_UNSET_INT);
    deployment(&d[1], "second", NAN, 2);
    deployment(&d[2], "first-a", NAN, 1);
    deployment(&d[3], "first-b", NAN, 1);
    for (int i = 0; i < 4; i++)
        candidate(&c[i], &d[i]);

    ASSERT_EQ(2, sl_strategy_lowest_tier(c, 4));
    ASSERT_STR_EQ("first-a", c[0].d->id);
    ASSERT_STR_EQ("first-b", c[1].d->id);
}

/* A tier whose deployments were all left out is absent from the candidates: the next one
 * takes the traffic, and deployments without order come last. */
TEST(tier_falls_to_next_then_unset)
{
    struct sl_deployment d[2];
    struct sl_strategy_candidate c[2];

    deployment(&d[0], "unset", NAN, SL_CONFIG_UNSET_INT);
    deployment(&d[1], "second", NAN, 2);
    candidate(&c[0], &d[0]);
    candidate(&c[1], &d[1]);
    ASSERT_EQ(1, sl_strategy_lowest_tier(c, 2));
    ASSERT_STR_EQ("second", c[0].d->id);

    ASSERT_EQ(1, sl_strategy_lowest_tier(&c[1], 1));
    ASSERT_EQ(0, sl_strategy_lowest_tier(c, 0));
}

/* Weights 1 and 3 must give shares of 25 % and 75 % over many picks. */
TEST(shuffle_converges_to_weights)
{
    struct sl_deployment d[2];
    struct sl_strategy_candidate c[2];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_SIMPLE_SHUFFLE};
    unsigned counts[2];

    deployment(&d[0], "light", 1, SL_CONFIG_UNSET_INT);
    deployment(&d[1], "heavy", 3, SL_CONFIG_UNSET_INT);
    candidate(&c[0], &d[0]);
    candidate(&c[1], &d[1]);
    draw(&p, c, 2, counts);

    ASSERT_TRUE(fabs((double)counts[0] / PICKS - 0.25) < 0.01);
    ASSERT_TRUE(fabs((double)counts[1] / PICKS - 0.75) < 0.01);
}

/* Without weights, rpm sets the shares. */
TEST(shuffle_uses_rpm_without_weight)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_SIMPLE_SHUFFLE};
    unsigned counts[3];

    deployment(&d[0], "a", NAN, SL_CONFIG_UNSET_INT);
    deployment(&d[1], "b", NAN, SL_CONFIG_UNSET_INT);
    deployment(&d[2], "c", NAN, SL_CONFIG_UNSET_INT);
    d[0].rpm = 100;
    d[1].rpm = 300;
    d[2].rpm = 600;
    for (int i = 0; i < 3; i++)
        candidate(&c[i], &d[i]);
    draw(&p, c, 3, counts);

    ASSERT_TRUE(fabs((double)counts[0] / PICKS - 0.1) < 0.01);
    ASSERT_TRUE(fabs((double)counts[1] / PICKS - 0.3) < 0.01);
    ASSERT_TRUE(fabs((double)counts[2] / PICKS - 0.6) < 0.01);
}

TEST(least_busy_picks_fewest_in_flight)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_LEAST_BUSY};
    unsigned counts[3];

    for (int i = 0; i < 3; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
    }
    c[0].inflight = 4;
    c[1].inflight = 1;
    c[2].inflight = 7;
    draw(&p, c, 3, counts);
    ASSERT_EQ(0, counts[0]);
    ASSERT_EQ(PICKS, counts[1]);
    ASSERT_EQ(0, counts[2]);
}

/* Equal counts are drawn evenly, so idle deployments share the load. */
TEST(least_busy_spreads_ties)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_LEAST_BUSY};
    unsigned counts[3];

    for (int i = 0; i < 3; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
    }
    c[1].inflight = 2;
    draw(&p, c, 3, counts);
    ASSERT_TRUE(fabs((double)counts[0] / PICKS - 0.5) < 0.01);
    ASSERT_EQ(0, counts[1]);
    ASSERT_TRUE(fabs((double)counts[2] / PICKS - 0.5) < 0.01);
}

TEST(usage_picks_lowest_minute_tokens)
{
    struct sl_deployment d[2];
    struct sl_strategy_candidate c[2];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_USAGE_BASED_V2};
    uint64_t rng = 1;

    deployment(&d[0], "busy", NAN, SL_CONFIG_UNSET_INT);
    deployment(&d[1], "quiet", NAN, SL_CONFIG_UNSET_INT);
    candidate(&c[0], &d[0]);
    candidate(&c[1], &d[1]);
    c[0].minute_tokens = 900;
    c[1].minute_tokens = 100;
    ASSERT_EQ(1, sl_strategy_choose(&p, c, 2, &rng));
    p.strategy = SL_ROUTING_USAGE_BASED;
    ASSERT_EQ(1, sl_strategy_choose(&p, c, 2, &rng));
}

TEST(latency_tries_unsampled_first)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_LATENCY_BASED};
    unsigned counts[3];

    for (int i = 0; i < 3; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
    }
    c[0].latency_samples = 3;
    c[0].latency_ms = 1.0;
    c[2].latency_samples = 1;
    c[2].latency_ms = 500.0;
    draw(&p, c, 3, counts);
    ASSERT_EQ(PICKS, counts[1]);
}

TEST(latency_picks_lowest_mean)
{
    struct sl_deployment d[2];
    struct sl_strategy_candidate c[2];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_LATENCY_BASED};
    unsigned counts[2];

    for (int i = 0; i < 2; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
        c[i].latency_samples = 10;
    }
    c[0].latency_ms = 250.0;
    c[1].latency_ms = 40.0;
    draw(&p, c, 2, counts);
    ASSERT_EQ(0, counts[0]);
    ASSERT_EQ(PICKS, counts[1]);
}

/* lowest_latency_buffer 0.5: everything within 1.5 x the best mean is drawn evenly. */
TEST(latency_buffer_spreads_near_best)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_LATENCY_BASED, .latency_buffer = 0.5};
    unsigned counts[3];

    for (int i = 0; i < 3; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
        c[i].latency_samples = 5;
    }
    c[0].latency_ms = 100.0;
    c[1].latency_ms = 140.0;
    c[2].latency_ms = 151.0;
    draw(&p, c, 3, counts);
    ASSERT_TRUE(fabs((double)counts[0] / PICKS - 0.5) < 0.01);
    ASSERT_TRUE(fabs((double)counts[1] / PICKS - 0.5) < 0.01);
    ASSERT_EQ(0, counts[2]);
}

TEST(cost_picks_cheapest)
{
    struct sl_deployment d[3];
    struct sl_strategy_candidate c[3];
    struct sl_strategy_params p = {.strategy = SL_ROUTING_COST_BASED};
    unsigned counts[3];

    for (int i = 0; i < 3; i++) {
        deployment(&d[i], "x", NAN, SL_CONFIG_UNSET_INT);
        candidate(&c[i], &d[i]);
    }
    c[0].cost = 3e-6;
    c[1].cost = INFINITY; /* no price: chosen last */
    c[2].cost = 1e-7;
    draw(&p, c, 3, counts);
    ASSERT_EQ(PICKS, counts[2]);

    /* Without any priced candidate, all of them tie. */
    c[0].cost = INFINITY;
    c[2].cost = INFINITY;
    draw(&p, c, 3, counts);
    ASSERT_TRUE(counts[0] > 0);
    ASSERT_TRUE(counts[1] > 0);
    ASSERT_TRUE(counts[2] > 0);
}

TEST(single_candidate_always_chosen)
{
    struct sl_deployment d;
    struct sl_strategy_candidate c;
    uint64_t rng = 7;

    deployment(&d, "only", NAN, SL_CONFIG_UNSET_INT);
    candidate(&c, &d);
    for (int s = SL_ROUTING_SIMPLE_SHUFFLE; s <= SL_ROUTING_COST_BASED; s++) {
        struct sl_strategy_params p = {.strategy = (enum sl_routing_strategy)s};

        ASSERT_EQ(0, sl_strategy_choose(&p, &c, 1, &rng));
    }
}

TEST(max_parallel_falls_back_to_default)
{
    struct sl_config cfg;
    struct sl_deployment d;

    memset(&cfg, 0, sizeof(cfg));
    cfg.default_max_parallel_requests = SL_CONFIG_UNSET_INT;
    deployment(&d, "a", NAN, SL_CONFIG_UNSET_INT);
    ASSERT_EQ(0, sl_strategy_max_parallel(&cfg, &d));
    cfg.default_max_parallel_requests = 8;
    ASSERT_EQ(8, sl_strategy_max_parallel(&cfg, &d));
    d.max_parallel_requests = 2;
    ASSERT_EQ(2, sl_strategy_max_parallel(&cfg, &d));
}

/* ---------------------------------------------------------------- per worker */

/* A worker with only what the pick reads: the config, the shared table and the random state. */
struct fixture {
    struct sl_gateway gw;
    struct sl_worker w;
    struct sl_router router;
};

static void
fixture_load(struct fixture *f, const char *yaml)
{
    struct sl_errbuf err;

    memset(f, 0, sizeof(*f));
    if (sl_config_load_buffer(yaml, strlen(yaml), "strategy_test.yaml", &f->gw.cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
    sl_router_init(&f->router, &f->gw.cfg);
    f->gw.inflight = sl_inflight_create();
    f->w.gw = &f->gw;
    f->w.rng = 99;
}

static void
fixture_dispose(struct fixture *f)
{
    sl_inflight_destroy(f->gw.inflight);
    sl_router_dispose(&f->router);
    sl_config_dispose(&f->gw.cfg);
}

static const struct sl_deployment *
pick_group(struct fixture *f, const char *group, sl_router_usable_cb usable, void *arg)
{
    return sl_strategy_pick(&f->w, sl_router_find(&f->router, group), NULL, 0, usable, arg);
}

static const char tiers_yaml[] = "model_list:\n"
                                 "- model_name: g\n"
                                 "  litellm_params: {model: openai/a, order: 2}\n"
                                 "  model_info: {id: second}\n"
                                 "- model_name: g\n"
                                 "  litellm_params: {model: openai/b, order: 1, "
                                 "max_parallel_requests: 1}\n"
                                 "  model_info: {id: first}\n"
                                 "- model_name: g\n"
                                 "  litellm_params: {model: openai/c}\n"
                                 "  model_info: {id: unordered}\n";

static int
not_second(const struct sl_deployment *d, void *arg)
{
    (void)arg;
    return strcmp(d->id, "second") != 0;
}

/* Order 1 takes everything until its one slot is taken, then order 2, then the unordered. */
TEST(pick_moves_down_tiers)
{
    struct fixture f;
    struct sl_inflight_entry *first;

    fixture_load(&f, tiers_yaml);
    for (int i = 0; i < 20; i++)
        ASSERT_STR_EQ("first", pick_group(&f, "g", NULL, NULL)->id);

    first = sl_inflight_get(f.gw.inflight, "first");
    ASSERT_EQ(1, sl_inflight_take(first, 1));
    ASSERT_STR_EQ("second", pick_group(&f, "g", NULL, NULL)->id);
    ASSERT_STR_EQ("unordered", pick_group(&f, "g", not_second, NULL)->id);

    sl_inflight_put(first);
    ASSERT_STR_EQ("first", pick_group(&f, "g", NULL, NULL)->id);
    fixture_dispose(&f);
}

static const char capped_yaml[] = "router_settings:\n"
                                  "  default_max_parallel_requests: 2\n"
                                  "model_list:\n"
                                  "- model_name: g\n"
                                  "  litellm_params: {model: openai/a}\n"
                                  "  model_info: {id: only}\n";

/* default_max_parallel_requests applies to a deployment without its own cap. */
TEST(pick_none_at_default_cap)
{
    struct fixture f;
    struct sl_inflight_entry *e;

    fixture_load(&f, capped_yaml);
    e = sl_inflight_get(f.gw.inflight, "only");
    ASSERT_EQ(1, sl_inflight_take(e, 2));
    ASSERT_STR_EQ("only", pick_group(&f, "g", NULL, NULL)->id);
    ASSERT_EQ(1, sl_inflight_take(e, 2));
    ASSERT_TRUE(pick_group(&f, "g", NULL, NULL) == NULL);
    sl_inflight_put(e);
    sl_inflight_put(e);
    fixture_dispose(&f);
}

static const char least_busy_yaml[] = "router_settings:\n"
                                      "  routing_strategy: least-busy\n"
                                      "model_list:\n"
                                      "- model_name: g\n"
                                      "  litellm_params: {model: openai/a}\n"
                                      "  model_info: {id: busy}\n"
                                      "- model_name: g\n"
                                      "  litellm_params: {model: openai/b}\n"
                                      "  model_info: {id: idle}\n";

/* The counts come from the shared table, whichever worker took the slots. */
TEST(pick_least_busy_reads_table)
{
    struct fixture f;
    struct sl_inflight_entry *busy;

    fixture_load(&f, least_busy_yaml);
    busy = sl_inflight_get(f.gw.inflight, "busy");
    ASSERT_EQ(1, sl_inflight_take(busy, 0));
    for (int i = 0; i < 20; i++)
        ASSERT_STR_EQ("idle", pick_group(&f, "g", NULL, NULL)->id);
    sl_inflight_put(busy);
    fixture_dispose(&f);
}

static const char usage_yaml[] = "router_settings:\n"
                                 "  routing_strategy: usage-based-routing-v2\n"
                                 "model_list:\n"
                                 "- model_name: g\n"
                                 "  litellm_params: {model: openai/a, rpm: 1}\n"
                                 "  model_info: {id: full}\n"
                                 "- model_name: g\n"
                                 "  litellm_params: {model: openai/b, tpm: 1000}\n"
                                 "  model_info: {id: open}\n";

/* A deployment whose rpm this process already used is left out. */
TEST(pick_usage_skips_local_rpm)
{
    struct fixture f;
    uint64_t minute = sl_wall_ms() / 60000;

    fixture_load(&f, usage_yaml);
    ASSERT_EQ(1, sl_inflight_minute_take(sl_inflight_get(f.gw.inflight, "full"), minute, 1, 0, 0));
    for (int i = 0; i < 20; i++)
        ASSERT_STR_EQ("open", pick_group(&f, "g", NULL, NULL)->id);
    fixture_dispose(&f);
}
