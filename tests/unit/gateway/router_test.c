/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router_test -- model groups built from a config and weighted choice within a group
 * (gateway/router/router.c). Configs are inline YAML loaded with sl_config_load_buffer().
 */
#include "common/buf.h"
#include "common/config.h"
#include "gateway/router/router.h"
#include "test.h"

static const char three_groups[] = "model_list:\n"
                                   "- model_name: beta\n"
                                   "  litellm_params: {model: openai/b1, weight: 1}\n"
                                   "- model_name: alpha\n"
                                   "  litellm_params: {model: openai/a1}\n"
                                   "- model_name: beta\n"
                                   "  litellm_params: {model: openai/b2, weight: 3}\n"
                                   "- model_name: gamma\n"
                                   "  litellm_params: {model: hosted_vllm/g1, rpm: 10}\n"
                                   "- model_name: alpha\n"
                                   "  litellm_params: {model: openai/a2}\n";

static void
load(const char *yaml, struct sl_config *cfg, struct sl_router *r)
{
    struct sl_errbuf err;

    if (sl_config_load_buffer(yaml, strlen(yaml), "router_test.yaml", cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
    sl_router_init(r, cfg);
}

static void
unload(struct sl_config *cfg, struct sl_router *r)
{
    sl_router_dispose(r);
    sl_config_dispose(cfg);
}

TEST(router_groups_in_config_order)
{
    struct sl_config cfg;
    struct sl_router r;

    load(three_groups, &cfg, &r);
    ASSERT_EQ(3, r.n_groups);
    ASSERT_STR_EQ("beta", r.groups[0].name);
    ASSERT_STR_EQ("alpha", r.groups[1].name);
    ASSERT_STR_EQ("gamma", r.groups[2].name);
    unload(&cfg, &r);
}

TEST(router_group_members_in_config_order)
{
    struct sl_config cfg;
    struct sl_router r;

    load(three_groups, &cfg, &r);
    ASSERT_EQ(2, r.groups[0].n);
    ASSERT_STR_EQ("b1", r.groups[0].deployments[0]->provider_model);
    ASSERT_STR_EQ("b2", r.groups[0].deployments[1]->provider_model);
    ASSERT_EQ(2, r.groups[1].n);
    ASSERT_STR_EQ("a1", r.groups[1].deployments[0]->provider_model);
    ASSERT_STR_EQ("a2", r.groups[1].deployments[1]->provider_model);
    ASSERT_EQ(1, r.groups[2].n);
    ASSERT_STR_EQ("hosted_vllm", r.groups[2].deployments[0]->provider);
    unload(&cfg, &r);
}

TEST(router_total_weight)
{
    struct sl_config cfg;
    struct sl_router r;

    load(three_groups, &cfg, &r);
    ASSERT_DBL_EQ(4, r.groups[0].total_weight);
    ASSERT_DBL_EQ(2, r.groups[1].total_weight);
    ASSERT_DBL_EQ(10, r.groups[2].total_weight);
    unload(&cfg, &r);
}

TEST(router_find_by_name)
{
    struct sl_config cfg;
    struct sl_router r;

    load(three_groups, &cfg, &r);
    ASSERT_TRUE(sl_router_find(&r, "alpha") == &r.groups[1]);
    ASSERT_TRUE(sl_router_find(&r, "gamma") == &r.groups[2]);
    unload(&cfg, &r);
}

TEST(router_find_unknown_null)
{
    struct sl_config cfg;
    struct sl_router r;

    load(three_groups, &cfg, &r);
    ASSERT_TRUE(sl_router_find(&r, "delta") == NULL);
    ASSERT_TRUE(sl_router_find(&r, "alph") == NULL);
    ASSERT_TRUE(sl_router_find(&r, "Alpha") == NULL);
    ASSERT_TRUE(sl_router_find(&r, "") == NULL);
    unload(&cfg, &r);
}

TEST(router_empty_config)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_buf names;

    load("model_list: []\n", &cfg, &r);
    ASSERT_EQ(0, r.n_groups);
    ASSERT_TRUE(sl_router_find(&r, "alpha") == NULL);
    sl_buf_init(&names, 0);
    sl_router_names_json(&r, &names);
    ASSERT_STR_EQ("[]", names.data);
    sl_buf_dispose(&names);
    unload(&cfg, &r);
}

TEST(router_names_json)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_buf names;

    load(three_groups, &cfg, &r);
    sl_buf_init(&names, 0);
    sl_router_names_json(&r, &names);
    ASSERT_STR_EQ("[\"beta\", \"alpha\", \"gamma\"]", names.data);
    sl_buf_dispose(&names);
    unload(&cfg, &r);
}

/* Draws `draws` times from `g` and returns the share of picks that went to deployments[0]. */
static double
share_of_first(const struct sl_model_group *g, uint64_t seed, int draws)
{
    uint64_t rng = seed;
    int first = 0;

    for (int i = 0; i < draws; i++) {
        const struct sl_deployment *d = sl_router_pick(g, &rng);

        if (d == g->deployments[0])
            first++;
        else if (d != g->deployments[1])
            SL_TEST_FAIL("draw %d picked a deployment outside the group", i);
    }
    return (double)first / draws;
}

TEST(router_pick_weights_converge)
{
    struct sl_config cfg;
    struct sl_router r;
    static const uint64_t seeds[] = {1, 42, 0xdeadbeefcafef00dULL};

    load(three_groups, &cfg, &r);
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        double share = share_of_first(&r.groups[0], seeds[i], 20000);

        /* weight 1 of 4 */
        if (share < 0.22 || share > 0.28)
            SL_TEST_FAIL("seed %" PRIu64 ": weight-1 deployment got %.4f of the picks, "
                         "expected 0.25 +- 0.03",
                         seeds[i], share);
    }
    unload(&cfg, &r);
}

TEST(router_pick_rpm_as_weight)
{
    struct sl_config cfg;
    struct sl_router r;
    double share;

    load("model_list:\n"
         "- model_name: m\n"
         "  litellm_params: {model: openai/x, rpm: 300}\n"
         "- model_name: m\n"
         "  litellm_params: {model: openai/y, rpm: 100}\n",
         &cfg, &r);
    share = share_of_first(&r.groups[0], 7, 20000);
    if (share < 0.72 || share > 0.78)
        SL_TEST_FAIL("rpm-300 deployment got %.4f of the picks, expected 0.75 +- 0.03", share);
    unload(&cfg, &r);
}

TEST(router_pick_unweighted_even)
{
    struct sl_config cfg;
    struct sl_router r;
    double share;

    load(three_groups, &cfg, &r);
    share = share_of_first(&r.groups[1], 99, 20000);
    if (share < 0.47 || share > 0.53)
        SL_TEST_FAIL("first of two unweighted deployments got %.4f, expected 0.5 +- 0.03", share);
    unload(&cfg, &r);
}

TEST(router_pick_single_deployment)
{
    struct sl_config cfg;
    struct sl_router r;
    uint64_t rng = 12345;

    load(three_groups, &cfg, &r);
    for (int i = 0; i < 1000; i++)
        ASSERT_TRUE(sl_router_pick(&r.groups[2], &rng) == r.groups[2].deployments[0]);
    unload(&cfg, &r);
}

TEST(router_pick_zero_seed)
{
    struct sl_config cfg;
    struct sl_router r;
    uint64_t rng = 0;
    double share;

    /* A zeroed random state must still spread picks, not stick to one deployment. */
    load(three_groups, &cfg, &r);
    (void)sl_router_pick(&r.groups[0], &rng);
    ASSERT_TRUE(rng != 0);
    share = share_of_first(&r.groups[0], 0, 20000);
    ASSERT_TRUE(share > 0.22 && share < 0.28);
    unload(&cfg, &r);
}
