/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wildcard_test -- gateway/router/wildcard.c: pattern matching and captures, the expansion of
 * litellm_params.model, the choice of the longest pattern, and the per-request group built
 * from a router loaded from a config.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "gateway/router/router.h"
#include "gateway/router/wildcard.h"
#include "test.h"

static void
load(const char *yaml, struct sl_config *cfg)
{
    struct sl_errbuf err;

    if (sl_config_load_buffer(yaml, strlen(yaml), "wildcard.yaml", cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
}

/* Returns capture `i` of `name` as a new string. */
static char *
capture(const char *name, const struct sl_wildcard_captures *caps, size_t i)
{
    char *out = malloc(caps->len[i] + 1);

    if (out == NULL)
        abort();
    memcpy(out, name + caps->offset[i], caps->len[i]);
    out[caps->len[i]] = '\0';
    return out;
}

TEST(match_provider_prefix)
{
    struct sl_wildcard_captures caps;
    char *text;

    ASSERT_TRUE(sl_wildcard_match("openai/*", "openai/gpt-4o", &caps));
    ASSERT_EQ(1, caps.n);
    text = capture("openai/gpt-4o", &caps, 0);
    ASSERT_STR_EQ("gpt-4o", text);
    free(text);
    ASSERT_TRUE(!sl_wildcard_match("openai/*", "anthropic/claude", &caps));
    ASSERT_TRUE(!sl_wildcard_match("openai/*", "openai", &caps));
}

TEST(match_star_alone_matches_all)
{
    struct sl_wildcard_captures caps;

    ASSERT_TRUE(sl_wildcard_match("*", "anything/at-all", &caps));
    ASSERT_EQ(1, caps.n);
    ASSERT_EQ(0, caps.offset[0]);
    ASSERT_EQ(strlen("anything/at-all"), caps.len[0]);
    ASSERT_TRUE(sl_wildcard_match("*", "", &caps));
}

TEST(match_several_stars)
{
    struct sl_wildcard_captures caps;
    char *first;
    char *second;

    ASSERT_TRUE(sl_wildcard_match("bedrock/*/claude-*", "bedrock/us/claude-3-5", &caps));
    ASSERT_EQ(2, caps.n);
    first = capture("bedrock/us/claude-3-5", &caps, 0);
    second = capture("bedrock/us/claude-3-5", &caps, 1);
    ASSERT_STR_EQ("us", first);
    ASSERT_STR_EQ("3-5", second);
    free(first);
    free(second);
    ASSERT_TRUE(!sl_wildcard_match("bedrock/*/claude-*", "bedrock/us/llama-3", &caps));
}

TEST(match_needs_star_and_bounds)
{
    struct sl_wildcard_captures caps;
    char name[SL_WILDCARD_NAME_MAX + 2];

    ASSERT_TRUE(!sl_wildcard_match("gpt-4o", "gpt-4o", &caps));
    ASSERT_TRUE(!sl_wildcard_match("*********", "abcdefghij", &caps));
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ASSERT_TRUE(!sl_wildcard_match("*", name, &caps));
    /* Head and tail may not overlap. */
    ASSERT_TRUE(!sl_wildcard_match("ab*ba", "aba", &caps));
}

TEST(expand_model_template)
{
    struct sl_wildcard_captures caps;
    char *model;

    ASSERT_TRUE(sl_wildcard_match("openai/*", "openai/gpt-4o", &caps));
    model = sl_wildcard_expand("openai/*", "openai/gpt-4o", &caps);
    ASSERT_STR_EQ("openai/gpt-4o", model);
    free(model);

    ASSERT_TRUE(sl_wildcard_match("*", "gpt-4o-mini", &caps));
    model = sl_wildcard_expand("openai/*", "gpt-4o-mini", &caps);
    ASSERT_STR_EQ("openai/gpt-4o-mini", model);
    free(model);

    /* A model without '*' serves every name the pattern matches. */
    model = sl_wildcard_expand("openai/gpt-4o", "gpt-4o-mini", &caps);
    ASSERT_STR_EQ("openai/gpt-4o", model);
    free(model);

    /* More captures than '*'s in the model: the requested name as is, as LiteLLM does. */
    ASSERT_TRUE(sl_wildcard_match("*/*", "anthropic/claude", &caps));
    model = sl_wildcard_expand("*", "anthropic/claude", &caps);
    ASSERT_STR_EQ("anthropic/claude", model);
    free(model);
}

static const char config_yaml[] =
    "model_list:\n"
    "- model_name: openai/gpt-4o\n"
    "  litellm_params: {model: openai/gpt-4o, api_key: k1, api_base: 'http://127.0.0.1:1/v1'}\n"
    "  model_info: {id: exact}\n"
    "- model_name: '*'\n"
    "  litellm_params: {model: '*', api_key: k2, api_base: 'http://127.0.0.1:2/v1'}\n"
    "  model_info: {id: catch-all}\n"
    "- model_name: openai/*\n"
    "  litellm_params: {model: openai/*, api_key: k3, api_base: 'http://127.0.0.1:3/v1'}\n"
    "  model_info: {id: openai-any}\n"
    "- model_name: openai/*\n"
    "  litellm_params: {model: openai/*, api_key: k4, api_base: 'http://127.0.0.1:4/v1'}\n"
    "  model_info: {id: openai-any-2}\n";

TEST(find_prefers_longest_pattern)
{
    struct sl_config cfg;
    struct sl_router r;
    const struct sl_model_group *g;

    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_wildcard_find(&r, "openai/gpt-4o-mini");
    ASSERT_TRUE(g != NULL);
    ASSERT_STR_EQ("openai/*", g->name);
    g = sl_wildcard_find(&r, "mistral/large");
    ASSERT_TRUE(g != NULL);
    ASSERT_STR_EQ("*", g->name);
    /* Exact groups are not patterns. */
    g = sl_wildcard_find(&r, "openai/gpt-4o");
    ASSERT_STR_EQ("openai/*", g->name);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}

TEST(resolve_exact_wins)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_wildcard_group *owned = NULL;
    struct sl_errbuf err;
    const struct sl_model_group *g;

    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_wildcard_resolve(&r, "openai/gpt-4o", &owned, &err);
    ASSERT_TRUE(g != NULL);
    ASSERT_TRUE(owned == NULL);
    ASSERT_STR_EQ("exact", g->deployments[0]->id);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}

TEST(resolve_builds_group_for_name)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_wildcard_group *owned = NULL;
    struct sl_errbuf err;
    const struct sl_model_group *g;

    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_wildcard_resolve(&r, "openai/gpt-4o-mini", &owned, &err);
    ASSERT_TRUE(g != NULL);
    ASSERT_TRUE(owned != NULL);
    ASSERT_STR_EQ("openai/gpt-4o-mini", g->name);
    ASSERT_EQ(2, g->n);
    for (size_t i = 0; i < g->n; i++) {
        ASSERT_STR_EQ("openai/gpt-4o-mini", g->deployments[i]->model_name);
        ASSERT_STR_EQ("openai", g->deployments[i]->provider);
        ASSERT_STR_EQ("gpt-4o-mini", g->deployments[i]->provider_model);
    }
    /* The copies keep the pattern's ids and credentials. */
    ASSERT_STR_EQ("openai-any", g->deployments[0]->id);
    ASSERT_STR_EQ("k3", g->deployments[0]->api_key);
    ASSERT_STR_EQ("openai-any-2", g->deployments[1]->id);
    sl_wildcard_group_destroy(owned);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}

TEST(resolve_catch_all_other_provider)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_wildcard_group *owned = NULL;
    struct sl_errbuf err;
    const struct sl_model_group *g;

    unsetenv("ANTHROPIC_API_KEY");
    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_wildcard_resolve(&r, "anthropic/claude-sonnet-4", &owned, &err);
    ASSERT_TRUE(g != NULL);
    ASSERT_STR_EQ("anthropic", g->deployments[0]->provider);
    ASSERT_STR_EQ("claude-sonnet-4", g->deployments[0]->provider_model);
    ASSERT_STR_EQ("catch-all", g->deployments[0]->id);
    /* The pattern's key and base are for its own provider, not this one. */
    ASSERT_TRUE(g->deployments[0]->api_key == NULL);
    ASSERT_TRUE(g->deployments[0]->api_base == NULL);
    sl_wildcard_group_destroy(owned);

    g = sl_wildcard_resolve(&r, "nosuchprovider/model", &owned, &err);
    ASSERT_TRUE(g == NULL);
    ASSERT_TRUE(owned == NULL);
    ASSERT_CONTAINS(err.msg, "unknown provider \"nosuchprovider\"");

    g = sl_wildcard_resolve(&r, "plain-name", &owned, &err);
    ASSERT_TRUE(g != NULL);
    ASSERT_STR_EQ("openai", g->deployments[0]->provider);
    ASSERT_STR_EQ("plain-name", g->deployments[0]->provider_model);
    ASSERT_STR_EQ("k2", g->deployments[0]->api_key);
    sl_wildcard_group_destroy(owned);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}

TEST(resolve_no_match_leaves_error_empty)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_wildcard_group *owned = NULL;
    struct sl_errbuf err;

    load("model_list:\n"
         "- model_name: openai/*\n"
         "  litellm_params: {model: openai/*, api_key: k, api_base: 'http://127.0.0.1:1/v1'}\n",
         &cfg);
    sl_router_init(&r, &cfg);
    ASSERT_TRUE(sl_wildcard_resolve(&r, "claude", &owned, &err) == NULL);
    ASSERT_STR_EQ("", err.msg);
    ASSERT_TRUE(sl_wildcard_resolve(&r, NULL, &owned, &err) == NULL);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}
