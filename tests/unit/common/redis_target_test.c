/* SPDX-License-Identifier: Apache-2.0 */
/* redis_target_test -- finding the Redis server in the config and the environment. */
#include "common/config.h"
#include "common/redis.h"

#include <stdlib.h>

#include "test.h"

static struct sl_errbuf err;

static void
clear_env(void)
{
    unsetenv("REDIS_URL");
    unsetenv("REDIS_HOST");
    unsetenv("REDIS_PORT");
    unsetenv("REDIS_PASSWORD");
}

/* Loads `yaml` and resolves the target; returns the status of the resolution. */
static enum sl_status
resolve(const char *yaml, struct sl_redis_target *t)
{
    struct sl_config cfg;
    struct sl_errbuf load_err;

    memset(&cfg, 0, sizeof(cfg));
    ASSERT_OK(sl_config_load_buffer(yaml, strlen(yaml), "config.yaml", &cfg, &load_err));
    err.msg[0] = '\0';
    enum sl_status rc = sl_redis_target_from_config(&cfg, t, &err);
    sl_config_dispose(&cfg);
    return rc;
}

static const char all_sources[] = "litellm_settings:\n"
                                  "  cache_params: {host: cache.internal, port: 6380, "
                                  "password: cachepw}\n"
                                  "router_settings:\n"
                                  "  redis_host: router.internal\n"
                                  "  redis_port: 6381\n"
                                  "  redis_password: routerpw\n";

TEST(target_url_env_wins)
{
    struct sl_redis_target t;

    clear_env();
    setenv("REDIS_URL", "redis://:urlpw@10.1.2.3:7000/2", 1);
    setenv("REDIS_HOST", "env.internal", 1);
    ASSERT_OK(resolve(all_sources, &t));
    ASSERT_STR_EQ("10.1.2.3", t.host);
    ASSERT_EQ(7000, t.port);
    ASSERT_STR_EQ("urlpw", t.password);
    ASSERT_STR_EQ("", t.username);
    ASSERT_EQ(2, t.db);
    ASSERT_STR_EQ("REDIS_URL", t.source);
    clear_env();
}

TEST(target_cache_params_before_router)
{
    struct sl_redis_target t;

    clear_env();
    ASSERT_OK(resolve(all_sources, &t));
    ASSERT_STR_EQ("cache.internal", t.host);
    ASSERT_EQ(6380, t.port);
    ASSERT_STR_EQ("cachepw", t.password);
    ASSERT_EQ(0, t.db);
    ASSERT_STR_EQ("litellm_settings.cache_params", t.source);
}

TEST(target_file_before_host_env)
{
    struct sl_redis_target t;

    clear_env();
    setenv("REDIS_HOST", "env.internal", 1);
    setenv("REDIS_PORT", "7001", 1);
    setenv("REDIS_PASSWORD", "envpw", 1);
    ASSERT_OK(resolve(all_sources, &t));
    ASSERT_STR_EQ("cache.internal", t.host);
    ASSERT_EQ(6380, t.port);
    ASSERT_STR_EQ("cachepw", t.password);

    /* router_settings also beats the environment, with its own password only. */
    ASSERT_OK(resolve("router_settings:\n  redis_host: router.internal\n", &t));
    ASSERT_STR_EQ("router.internal", t.host);
    ASSERT_EQ(6379, t.port);
    ASSERT_STR_EQ("", t.password);
    ASSERT_STR_EQ("router_settings.redis_host", t.source);
    clear_env();
}

TEST(target_router_url_before_router_host)
{
    struct sl_redis_target t;

    clear_env();
    ASSERT_OK(resolve("router_settings:\n"
                      "  redis_host: router.internal\n"
                      "  redis_url: redis://user:p%40ss@[::1]:6390/4\n",
                      &t));
    ASSERT_STR_EQ("::1", t.host);
    ASSERT_EQ(6390, t.port);
    ASSERT_STR_EQ("user", t.username);
    ASSERT_STR_EQ("p@ss", t.password);
    ASSERT_EQ(4, t.db);
    ASSERT_STR_EQ("router_settings.redis_url", t.source);
}

TEST(target_host_env_last)
{
    struct sl_redis_target t;

    clear_env();
    setenv("REDIS_HOST", "127.0.0.1", 1);
    setenv("REDIS_PORT", "6500", 1);
    setenv("REDIS_PASSWORD", "envpw", 1);
    ASSERT_OK(resolve("general_settings: {}\n", &t));
    ASSERT_STR_EQ("127.0.0.1", t.host);
    ASSERT_EQ(6500, t.port);
    ASSERT_STR_EQ("envpw", t.password);
    ASSERT_STR_EQ("REDIS_HOST", t.source);

    setenv("REDIS_PORT", "70000", 1);
    ASSERT_EQ(SL_ERR_CONFIG, resolve("general_settings: {}\n", &t));
    ASSERT_CONTAINS(err.msg, "REDIS_PORT");
    clear_env();
}

TEST(target_not_configured)
{
    struct sl_redis_target t;

    clear_env();
    ASSERT_EQ(SL_ERR_NOT_FOUND, resolve("general_settings: {}\n", &t));
    ASSERT_CONTAINS(err.msg, "not configured");
}

TEST(target_rediss_needs_sidecar)
{
    struct sl_redis_target t;

    clear_env();
    setenv("REDIS_URL", "rediss://:secretpw@redis.example:6380", 1);
    ASSERT_EQ(SL_ERR_CONFIG, resolve("general_settings: {}\n", &t));
    ASSERT_CONTAINS(err.msg, "TLS");
    ASSERT_CONTAINS(err.msg, "sidecar");
    ASSERT_TRUE(strstr(err.msg, "secretpw") == NULL);
    clear_env();
}

TEST(target_url_forms)
{
    struct sl_redis_target t;

    ASSERT_OK(sl_redis_target_parse_url("redis://localhost", "x", &t, &err));
    ASSERT_STR_EQ("localhost", t.host);
    ASSERT_EQ(6379, t.port);
    ASSERT_EQ(0, t.db);
    ASSERT_STR_EQ("", t.password);

    ASSERT_OK(sl_redis_target_parse_url("redis://localhost:6400/", "x", &t, &err));
    ASSERT_EQ(6400, t.port);
    ASSERT_EQ(0, t.db);

    /* A lone user-info part is the password, as redis-cli reads it. */
    ASSERT_OK(sl_redis_target_parse_url("redis://onlypw@h/1", "x", &t, &err));
    ASSERT_STR_EQ("onlypw", t.password);
    ASSERT_STR_EQ("", t.username);
    ASSERT_EQ(1, t.db);
}

TEST(target_url_invalid)
{
    struct sl_redis_target t;
    static const char *const bad[] = {
        "http://h:6379",   "redis://",        "redis://:pw@",    "redis://h:0",
        "redis://h:65536", "redis://h:12x",   "redis://h/abc",   "redis://h/1?x=1",
        "redis://[::1",    "redis://u:%zz@h", "redis://u:%00@h", "redis://[::1]x",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        ASSERT_EQ(SL_ERR_CONFIG, sl_redis_target_parse_url(bad[i], "REDIS_URL", &t, &err));
        ASSERT_CONTAINS(err.msg, "REDIS_URL");
    }
}

TEST(target_password_never_in_errors)
{
    struct sl_redis_target t;

    ASSERT_EQ(SL_ERR_CONFIG,
              sl_redis_target_parse_url("redis://:hunter2@h:99999", "REDIS_URL", &t, &err));
    ASSERT_TRUE(strstr(err.msg, "hunter2") == NULL);
}
