/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strategy_test -- order tiers and the choice of each routing strategy among candidates
 * whose state is given (gateway/router/strategy.c).
 */
#include <math.h>

#include "common/config.h"
#include "gateway/router/strategy.h"
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
