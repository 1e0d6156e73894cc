/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failover_test -- the pure parts of gateway/http/failover.c: error classes, retry-after,
 * back-off, fallback lists from the config, the order of fallback groups without loops, and
 * the choice of an untried deployment (gateway/router/router.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "gateway/http/failover.h"
#include "gateway/router/router.h"
#include "test.h"

static struct sl_upstream_error
error_of(int status, const char *type, const char *message)
{
    struct sl_upstream_error e;

    memset(&e, 0, sizeof(e));
    e.status = status;
    snprintf(e.type, sizeof(e.type), "%s", type);
    snprintf(e.message, sizeof(e.message), "%s", message);
    return e;
}

static void
load(const char *yaml, struct sl_config *cfg)
{
    struct sl_errbuf err;

    if (sl_config_load_buffer(yaml, strlen(yaml), "failover_test.yaml", cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
}

TEST(classify_retryable_statuses)
{
    static const int retryable[] = {408, 409, 429, 500, 502, 503, 504, 529};

    for (size_t i = 0; i < sizeof(retryable) / sizeof(retryable[0]); i++) {
        struct sl_upstream_error e = error_of(retryable[i], "", "boom");

        ASSERT_EQ(SL_FAILOVER_RETRY, sl_failover_classify(&e));
    }
}

TEST(classify_auth_statuses)
{
    struct sl_upstream_error unauthorized = error_of(401, "auth_error", "bad key");
    struct sl_upstream_error forbidden = error_of(403, "", "forbidden");

    ASSERT_EQ(SL_FAILOVER_AUTH, sl_failover_classify(&unauthorized));
    ASSERT_EQ(SL_FAILOVER_AUTH, sl_failover_classify(&forbidden));
}

TEST(classify_request_faults_final)
{
    static const int final[] = {400, 404, 413, 422};

    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
        struct sl_upstream_error e = error_of(final[i], "invalid_request_error", "bad field");

        ASSERT_EQ(SL_FAILOVER_FINAL, sl_failover_classify(&e));
    }
}

TEST(classify_content_policy)
{
    struct sl_upstream_error by_type = error_of(400, "content_policy_violation", "refused");
    struct sl_upstream_error by_message =
        error_of(400, "", "The response was filtered due to the prompt triggering Azure "
                          "OpenAI's content management policy.");

    ASSERT_EQ(SL_FAILOVER_CONTENT_POLICY, sl_failover_classify(&by_type));
    ASSERT_EQ(SL_FAILOVER_CONTENT_POLICY, sl_failover_classify(&by_message));
}

TEST(classify_context_window)
{
    struct sl_upstream_error openai =
        error_of(400, "invalid_request_error",
                 "This model's maximum context length is 8192 tokens. However, you requested "
                 "9000 tokens.");
    struct sl_upstream_error anthropic =
        error_of(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000");

    ASSERT_EQ(SL_FAILOVER_CONTEXT_WINDOW, sl_failover_classify(&openai));
    ASSERT_EQ(SL_FAILOVER_CONTEXT_WINDOW, sl_failover_classify(&anthropic));
}

TEST(retry_after_parsing)
{
    double s = -1;

    ASSERT_TRUE(sl_failover_parse_retry_after("7", 0, &s));
    ASSERT_DBL_EQ(7.0, s);
    ASSERT_TRUE(sl_failover_parse_retry_after(" 1.5 ", 0, &s));
    ASSERT_DBL_EQ(1.5, s);
    ASSERT_TRUE(sl_failover_parse_retry_after("250", 1, &s));
    ASSERT_DBL_EQ(0.25, s);
    ASSERT_EQ(0, sl_failover_parse_retry_after("-3", 0, &s));
    ASSERT_EQ(0, sl_failover_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0, &s));
    ASSERT_EQ(0, sl_failover_parse_retry_after("7s", 0, &s));
    ASSERT_EQ(0, sl_failover_parse_retry_after("", 0, &s));
    ASSERT_EQ(0, sl_failover_parse_retry_after(NULL, 0, &s));
}

TEST(backoff_zero_with_other_deployment)
{
    ASSERT_EQ(0, (long long)sl_failover_backoff_ms(0, 7.0, 0, 1, 10000));
}

TEST(backoff_honours_retry_after)
{
    ASSERT_EQ(7000, (long long)sl_failover_backoff_ms(0, 7.0, 0, 0, 10000));
    ASSERT_EQ(10000, (long long)sl_failover_backoff_ms(0, 60.0, 0, 0, 10000));
    ASSERT_EQ(3000, (long long)sl_failover_backoff_ms(0, 7.0, 0, 0, 3000));
}

TEST(backoff_exponential_without_retry_after)
{
    ASSERT_EQ(500, (long long)sl_failover_backoff_ms(0, NAN, 0, 0, 10000));
    ASSERT_EQ(1000, (long long)sl_failover_backoff_ms(1, NAN, 0, 0, 10000));
    ASSERT_EQ(2000, (long long)sl_failover_backoff_ms(2, 0, 0, 0, 10000));
    ASSERT_EQ(8000, (long long)sl_failover_backoff_ms(4, NAN, 0, 0, 10000));
    ASSERT_EQ(8000, (long long)sl_failover_backoff_ms(40, NAN, 0, 0, 10000));
    /* router_settings.retry_after is a minimum. */
    ASSERT_EQ(3000, (long long)sl_failover_backoff_ms(0, NAN, 3.0, 0, 10000));
}

TEST(targets_from_config)
{
    struct sl_config cfg;
    char *const *targets = NULL;
    size_t n;

    load("litellm_settings:\n"
         "  fallbacks: [{a: [b, c]}, {'*': [z]}]\n"
         "  default_fallbacks: [d]\n"
         "  context_window_fallbacks: [{a: [big]}]\n"
         "  content_policy_fallbacks: [{a: [lenient]}]\n",
         &cfg);
    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_RETRY, "a", &targets);
    ASSERT_EQ(2, n);
    ASSERT_STR_EQ("b", targets[0]);
    ASSERT_STR_EQ("c", targets[1]);

    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_AUTH, "other", &targets);
    ASSERT_EQ(1, n);
    ASSERT_STR_EQ("z", targets[0]);

    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_CONTEXT_WINDOW, "a", &targets);
    ASSERT_EQ(1, n);
    ASSERT_STR_EQ("big", targets[0]);

    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_CONTENT_POLICY, "a", &targets);
    ASSERT_EQ(1, n);
    ASSERT_STR_EQ("lenient", targets[0]);

    /* Content policy and context window errors never take the general lists. */
    ASSERT_EQ(0, sl_failover_targets(&cfg, NULL, SL_FAILOVER_CONTENT_POLICY, "b", &targets));
    ASSERT_EQ(0, sl_failover_targets(&cfg, NULL, SL_FAILOVER_FINAL, "a", &targets));
    sl_config_dispose(&cfg);
}

TEST(targets_default_and_request_lists)
{
    struct sl_config cfg;
    char *items[] = {"mine"};
    struct sl_strlist request = {items, 1};
    char *const *targets = NULL;
    size_t n;

    load("litellm_settings:\n"
         "  default_fallbacks: [d]\n"
         "router_settings:\n"
         "  default_fallbacks: [r]\n",
         &cfg);
    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_RETRY, "a", &targets);
    ASSERT_EQ(1, n);
    ASSERT_STR_EQ("r", targets[0]);

    n = sl_failover_targets(&cfg, &request, SL_FAILOVER_RETRY, "a", &targets);
    ASSERT_EQ(1, n);
    ASSERT_STR_EQ("mine", targets[0]);
    sl_config_dispose(&cfg);
}

TEST(next_target_skips_tried_groups)
{
    char *targets[] = {"b", "a", "c"};
    char *tried_items[] = {"a", "b"};
    struct sl_strlist tried = {tried_items, 2};
    struct sl_strlist all = {targets, 3};

    ASSERT_STR_EQ("c", sl_failover_next_target(targets, 3, &tried));
    ASSERT_TRUE(sl_failover_next_target(targets, 3, &all) == NULL);
}

/* Fallbacks that name each other end once every group was tried once. */
TEST(next_target_mutual_lists_end)
{
    struct sl_config cfg;
    char *tried_items[2] = {"a", NULL};
    struct sl_strlist tried = {tried_items, 1};
    char *const *targets = NULL;
    size_t n;
    const char *next;

    load("router_settings:\n  fallbacks: [{a: [b]}, {b: [a]}]\n", &cfg);
    n = sl_failover_targets(&cfg, NULL, SL_FAILOVER_RETRY, "a", &targets);
    next = sl_failover_next_target(targets, n, &tried);
    ASSERT_STR_EQ("b", next);
    tried_items[1] = (char *)next;
    tried.n = 2;
    ASSERT_TRUE(sl_failover_next_target(targets, n, &tried) == NULL);
    sl_config_dispose(&cfg);
}

TEST(config_rejects_bad_fallbacks)
{
    static const char *const bad[] = {
        "router_settings:\n  fallbacks: {a: [b]}\n",
        "router_settings:\n  fallbacks: [a]\n",
        "router_settings:\n  fallbacks: [{a: [b], c: [d]}]\n",
        "router_settings:\n  fallbacks: [{a: [[b]]}]\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_config cfg;
        struct sl_errbuf err;

        ASSERT_EQ(SL_ERR_CONFIG, sl_config_load_buffer(bad[i], strlen(bad[i]), "bad.yaml", &cfg,
                                                       &err));
        ASSERT_CONTAINS(err.msg, "fallbacks");
    }
}

TEST(pick_except_avoids_tried)
{
    struct sl_config cfg;
    struct sl_router r;
    const struct sl_model_group *g;
    const struct sl_deployment *skip[2];
    uint64_t rng = 42;

    load("model_list:\n"
         "- model_name: g\n  litellm_params: {model: openai/one}\n"
         "- model_name: g\n  litellm_params: {model: openai/two}\n",
         &cfg);
    sl_router_init(&r, &cfg);
    g = sl_router_find(&r, "g");
    ASSERT_TRUE(g != NULL);
    skip[0] = g->deployments[0];
    for (int i = 0; i < 50; i++)
        ASSERT_TRUE(sl_router_pick_except(g, &rng, skip, 1) == g->deployments[1]);
    skip[1] = g->deployments[1];
    ASSERT_TRUE(sl_router_pick_except(g, &rng, skip, 2) == NULL);
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}
