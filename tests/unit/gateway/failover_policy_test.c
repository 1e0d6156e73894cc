/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failover_policy_test -- retry_policy, model_group_retry_policy and allowed_fails_policy:
 * their config parsing and its errors, the error class of an upstream error, the retries a
 * policy gives per class and group (gateway/http/failover.c), and the allowed failures and
 * cooldown length per mode (gateway/router/cooldown.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "gateway/http/failover.h"
#include "gateway/router/cooldown.h"
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

    if (sl_config_load_buffer(yaml, strlen(yaml), "policy.yaml", cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
}

/* Returns the load error of `yaml`; fails the test when it loads. */
static const char *
load_error(const char *yaml)
{
    static struct sl_errbuf err;
    struct sl_config cfg;

    if (sl_config_load_buffer(yaml, strlen(yaml), "policy.yaml", &cfg, &err) == SL_OK) {
        sl_config_dispose(&cfg);
        SL_TEST_FAIL("config loaded, expected an error");
    }
    return err.msg;
}

/* ---------------------------------------------------------------- config */

TEST(policy_unset_by_default)
{
    struct sl_config cfg;

    load("{}\n", &cfg);
    ASSERT_EQ(0, cfg.retry_policy.set);
    ASSERT_EQ(0, cfg.allowed_fails_policy.set);
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.allowed_fails);
    for (int i = 0; i < SL_ERROR_CLASS_COUNT; i++) {
        ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.retry_policy.counts[i]);
        ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.allowed_fails_policy.counts[i]);
    }
    ASSERT_EQ(0, cfg.model_group_retry_policy.n);
    ASSERT_EQ(0, cfg.disable_cooldowns);
    ASSERT_EQ(0, cfg.enable_pre_call_checks);
    sl_config_dispose(&cfg);
}

TEST(policy_parses_every_class)
{
    struct sl_config cfg;

    load("router_settings:\n"
         "  retry_policy:\n"
         "    BadRequestErrorRetries: 1\n"
         "    AuthenticationErrorRetries: 2\n"
         "    TimeoutErrorRetries: 3\n"
         "    RateLimitErrorRetries: 4\n"
         "    ContentPolicyViolationErrorRetries: 5\n"
         "    InternalServerErrorRetries: 6\n"
         "  allowed_fails_policy: {RateLimitErrorAllowedFails: 10, TimeoutErrorAllowedFails: 0}\n"
         "  disable_cooldowns: true\n",
         &cfg);
    ASSERT_EQ(1, cfg.retry_policy.set);
    ASSERT_EQ(1, cfg.retry_policy.counts[SL_ERROR_BAD_REQUEST]);
    ASSERT_EQ(2, cfg.retry_policy.counts[SL_ERROR_AUTHENTICATION]);
    ASSERT_EQ(3, cfg.retry_policy.counts[SL_ERROR_TIMEOUT]);
    ASSERT_EQ(4, cfg.retry_policy.counts[SL_ERROR_RATE_LIMIT]);
    ASSERT_EQ(5, cfg.retry_policy.counts[SL_ERROR_CONTENT_POLICY]);
    ASSERT_EQ(6, cfg.retry_policy.counts[SL_ERROR_INTERNAL_SERVER]);
    ASSERT_EQ(1, cfg.allowed_fails_policy.set);
    ASSERT_EQ(10, cfg.allowed_fails_policy.counts[SL_ERROR_RATE_LIMIT]);
    ASSERT_EQ(0, cfg.allowed_fails_policy.counts[SL_ERROR_TIMEOUT]);
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.allowed_fails_policy.counts[SL_ERROR_BAD_REQUEST]);
    ASSERT_EQ(1, cfg.disable_cooldowns);
    sl_config_dispose(&cfg);
}

TEST(policy_group_entries_parsed)
{
    struct sl_config cfg;

    load("router_settings:\n"
         "  model_group_retry_policy:\n"
         "    gpt-4o: {RateLimitErrorRetries: 7}\n"
         "    claude: {}\n",
         &cfg);
    ASSERT_EQ(2, cfg.model_group_retry_policy.n);
    ASSERT_STR_EQ("gpt-4o", cfg.model_group_retry_policy.items[0].group);
    ASSERT_EQ(7, cfg.model_group_retry_policy.items[0].policy.counts[SL_ERROR_RATE_LIMIT]);
    ASSERT_STR_EQ("claude", cfg.model_group_retry_policy.items[1].group);
    ASSERT_EQ(1, cfg.model_group_retry_policy.items[1].policy.set);
    sl_config_dispose(&cfg);
}

TEST(policy_unknown_key_fails)
{
    const char *msg = load_error("router_settings:\n"
                                 "  retry_policy: {RateLimitErrorRetrys: 3}\n");

    ASSERT_CONTAINS(msg, "router_settings.retry_policy");
    ASSERT_CONTAINS(msg, "unknown policy key \"RateLimitErrorRetrys\"");
    ASSERT_CONTAINS(msg, "RateLimitErrorRetries");
}

TEST(policy_wrong_suffix_fails)
{
    const char *msg = load_error("router_settings:\n"
                                 "  allowed_fails_policy: {RateLimitErrorRetries: 3}\n");

    ASSERT_CONTAINS(msg, "unknown policy key \"RateLimitErrorRetries\"");
    ASSERT_CONTAINS(msg, "RateLimitErrorAllowedFails");
}

TEST(policy_group_unknown_key_fails)
{
    const char *msg = load_error("router_settings:\n"
                                 "  model_group_retry_policy: {gpt-4o: {Retries: 1}}\n");

    ASSERT_CONTAINS(msg, "router_settings.model_group_retry_policy");
    ASSERT_CONTAINS(msg, "unknown policy key \"Retries\"");
}

TEST(policy_bad_counts_fail)
{
    ASSERT_CONTAINS(load_error("router_settings: {retry_policy: {TimeoutErrorRetries: -1}}\n"),
                    "TimeoutErrorRetries: invalid count \"-1\"");
    ASSERT_CONTAINS(load_error("router_settings: {retry_policy: {TimeoutErrorRetries: 1.5}}\n"),
                    "invalid count \"1.5\"");
    ASSERT_CONTAINS(load_error("router_settings: {retry_policy: {TimeoutErrorRetries: 101}}\n"),
                    "expected a whole number from 0 to 100");
    ASSERT_CONTAINS(load_error("router_settings: {retry_policy: {TimeoutErrorRetries: [1]}}\n"),
                    "expected a whole number");
}

TEST(policy_wrong_shape_fails)
{
    ASSERT_CONTAINS(load_error("router_settings: {retry_policy: 3}\n"),
                    "expected a map of error classes to counts");
    ASSERT_CONTAINS(load_error("router_settings: {model_group_retry_policy: [a]}\n"),
                    "expected a map of model groups to retry policies");
    ASSERT_CONTAINS(
        load_error("router_settings:\n"
                   "  retry_policy: {TimeoutErrorRetries: 1, TimeoutErrorRetries: 2}\n"),
        "duplicate key TimeoutErrorRetries");
}

/* ---------------------------------------------------------------- error classes */

TEST(error_class_by_status)
{
    static const struct {
        int status;
        enum sl_error_class cls;
    } cases[] = {
        {400, SL_ERROR_BAD_REQUEST},      {404, SL_ERROR_BAD_REQUEST},
        {413, SL_ERROR_BAD_REQUEST},      {422, SL_ERROR_BAD_REQUEST},
        {401, SL_ERROR_AUTHENTICATION},   {403, SL_ERROR_AUTHENTICATION},
        {408, SL_ERROR_TIMEOUT},          {429, SL_ERROR_RATE_LIMIT},
        {409, SL_ERROR_INTERNAL_SERVER},  {500, SL_ERROR_INTERNAL_SERVER},
        {502, SL_ERROR_INTERNAL_SERVER},  {503, SL_ERROR_INTERNAL_SERVER},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_upstream_error e = error_of(cases[i].status, "", "failed");

        ASSERT_EQ(cases[i].cls, sl_failover_error_class(&e));
    }
}

TEST(error_class_content_and_context)
{
    struct sl_upstream_error policy = error_of(400, "content_policy_violation", "blocked");
    struct sl_upstream_error window = error_of(400, "", "maximum context length is 8192 tokens");

    ASSERT_EQ(SL_ERROR_CONTENT_POLICY, sl_failover_error_class(&policy));
    ASSERT_EQ(SL_ERROR_BAD_REQUEST, sl_failover_error_class(&window));
}

TEST(error_class_names)
{
    ASSERT_STR_EQ("BadRequestError", sl_config_error_class_name(SL_ERROR_BAD_REQUEST));
    ASSERT_STR_EQ("ContentPolicyViolationError",
                  sl_config_error_class_name(SL_ERROR_CONTENT_POLICY));
    ASSERT_STR_EQ("InternalServerError", sl_config_error_class_name(SL_ERROR_INTERNAL_SERVER));
}

/* ---------------------------------------------------------------- retries per class */

TEST(policy_retries_unset_is_minus_one)
{
    struct sl_config cfg;

    load("{}\n", &cfg);
    for (int i = 0; i < SL_ERROR_CLASS_COUNT; i++)
        ASSERT_EQ(-1, sl_failover_policy_retries(&cfg, "gpt-4o", (enum sl_error_class)i));
    sl_config_dispose(&cfg);
}

TEST(policy_retries_group_replaces_router)
{
    struct sl_config cfg;

    load("router_settings:\n"
         "  retry_policy: {RateLimitErrorRetries: 4, TimeoutErrorRetries: 0}\n"
         "  model_group_retry_policy:\n"
         "    gpt-4o: {RateLimitErrorRetries: 9}\n",
         &cfg);
    ASSERT_EQ(9, sl_failover_policy_retries(&cfg, "gpt-4o", SL_ERROR_RATE_LIMIT));
    /* The group's entry replaces the router policy as a whole, as in LiteLLM. */
    ASSERT_EQ(-1, sl_failover_policy_retries(&cfg, "gpt-4o", SL_ERROR_TIMEOUT));
    ASSERT_EQ(4, sl_failover_policy_retries(&cfg, "other", SL_ERROR_RATE_LIMIT));
    ASSERT_EQ(0, sl_failover_policy_retries(&cfg, "other", SL_ERROR_TIMEOUT));
    ASSERT_EQ(-1, sl_failover_policy_retries(&cfg, "other", SL_ERROR_INTERNAL_SERVER));
    sl_config_dispose(&cfg);
}

TEST(policy_content_falls_back_to_bad_request)
{
    struct sl_config cfg;

    load("router_settings: {retry_policy: {BadRequestErrorRetries: 2}}\n", &cfg);
    ASSERT_EQ(2, sl_failover_policy_retries(&cfg, "g", SL_ERROR_BAD_REQUEST));
    ASSERT_EQ(2, sl_failover_policy_retries(&cfg, "g", SL_ERROR_CONTENT_POLICY));
    ASSERT_EQ(-1, sl_failover_policy_retries(&cfg, "g", SL_ERROR_RATE_LIMIT));
    sl_config_dispose(&cfg);

    load("router_settings:\n"
         "  retry_policy: {BadRequestErrorRetries: 2, ContentPolicyViolationErrorRetries: 0}\n",
         &cfg);
    ASSERT_EQ(0, sl_failover_policy_retries(&cfg, "g", SL_ERROR_CONTENT_POLICY));
    sl_config_dispose(&cfg);
}

TEST(policy_internal_server_consulted)
{
    struct sl_config cfg;

    load("router_settings: {retry_policy: {InternalServerErrorRetries: 5}}\n", &cfg);
    ASSERT_EQ(5, sl_failover_policy_retries(&cfg, "g", SL_ERROR_INTERNAL_SERVER));
    sl_config_dispose(&cfg);
}

/* ---------------------------------------------------------------- cooldown modes */

TEST(allowed_fails_default_mode)
{
    struct sl_config cfg;

    load("{}\n", &cfg);
    /* A 429 in a group of several cools down at once; alone it never does. */
    ASSERT_EQ(0, sl_cooldown_allowed_fails(&cfg, SL_ERROR_RATE_LIMIT, 429, 2));
    ASSERT_EQ(-1, sl_cooldown_allowed_fails(&cfg, SL_ERROR_RATE_LIMIT, 429, 1));
    ASSERT_EQ(SL_COOLDOWN_DEFAULT_ALLOWED_FAILS,
              sl_cooldown_allowed_fails(&cfg, SL_ERROR_INTERNAL_SERVER, 500, 3));
    ASSERT_EQ(-1, sl_cooldown_allowed_fails(&cfg, SL_ERROR_INTERNAL_SERVER, 500, 1));
    /* Wrong credentials cool down at once, even a group's only deployment. */
    ASSERT_EQ(0, sl_cooldown_allowed_fails(&cfg, SL_ERROR_AUTHENTICATION, 401, 1));
    ASSERT_EQ(0, sl_cooldown_allowed_fails(&cfg, SL_ERROR_AUTHENTICATION, 403, 2));
    sl_config_dispose(&cfg);
}

TEST(allowed_fails_explicit_mode)
{
    struct sl_config cfg;

    /* An explicit 3, the old default, is allowed-fails mode: counted, even alone. */
    load("router_settings: {allowed_fails: 3}\n", &cfg);
    ASSERT_EQ(3, sl_cooldown_allowed_fails(&cfg, SL_ERROR_RATE_LIMIT, 429, 2));
    ASSERT_EQ(3, sl_cooldown_allowed_fails(&cfg, SL_ERROR_INTERNAL_SERVER, 500, 1));
    sl_config_dispose(&cfg);
}

TEST(allowed_fails_policy_per_class)
{
    struct sl_config cfg;

    load("router_settings:\n"
         "  allowed_fails: 2\n"
         "  allowed_fails_policy: {RateLimitErrorAllowedFails: 10, TimeoutErrorAllowedFails: 0}\n",
         &cfg);
    ASSERT_EQ(10, sl_cooldown_allowed_fails(&cfg, SL_ERROR_RATE_LIMIT, 429, 2));
    ASSERT_EQ(0, sl_cooldown_allowed_fails(&cfg, SL_ERROR_TIMEOUT, 408, 1));
    ASSERT_EQ(2, sl_cooldown_allowed_fails(&cfg, SL_ERROR_INTERNAL_SERVER, 503, 2));
    sl_config_dispose(&cfg);

    load("router_settings: {allowed_fails_policy: {RateLimitErrorAllowedFails: 1}}\n", &cfg);
    ASSERT_EQ(1, sl_cooldown_allowed_fails(&cfg, SL_ERROR_RATE_LIMIT, 429, 1));
    ASSERT_EQ(SL_COOLDOWN_DEFAULT_ALLOWED_FAILS,
              sl_cooldown_allowed_fails(&cfg, SL_ERROR_INTERNAL_SERVER, 500, 1));
    sl_config_dispose(&cfg);
}

TEST(cooldown_length_from_retry_after)
{
    ASSERT_EQ(5000, sl_cooldown_length_ms(5, NAN));
    ASSERT_EQ(5000, sl_cooldown_length_ms(5, 2));
    ASSERT_EQ(30000, sl_cooldown_length_ms(5, 30));
    ASSERT_EQ((uint64_t)(SL_COOLDOWN_MAX_RETRY_AFTER_S * 1000),
              sl_cooldown_length_ms(5, 86400));
    /* A cooldown_time above the cap is kept. */
    ASSERT_EQ(600000, sl_cooldown_length_ms(600, 30));
    /* Cooldowns turned off stay off. */
    ASSERT_EQ(0, sl_cooldown_length_ms(0, 30));
}
