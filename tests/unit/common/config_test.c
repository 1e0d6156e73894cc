/* SPDX-License-Identifier: Apache-2.0 */
/* config_test -- loading config.yaml into struct sl_config (common/config*.c). */
#include "common/config.h"

#include <math.h>
#include <unistd.h>

#include "test.h"

static struct sl_errbuf err;

static enum sl_status
load(const char *yaml, struct sl_config *cfg)
{
    err.msg[0] = '\0';
    return sl_config_load_buffer(yaml, strlen(yaml), "config.yaml", cfg, &err);
}

/* Loads `yaml`, which must fail, and returns the message. */
static const char *
load_error(const char *yaml)
{
    struct sl_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    ASSERT_EQ(SL_ERR_CONFIG, load(yaml, &cfg));
    ASSERT_EQ(0, cfg.n_deployments);
    ASSERT_TRUE(cfg.path == NULL);
    ASSERT_TRUE(err.msg[0] != '\0');
    return err.msg;
}

static int
list_contains(const struct sl_strlist *list, const char *s)
{
    for (size_t i = 0; i < list->n; i++) {
        if (strcmp(list->items[i], s) == 0)
            return 1;
    }
    return 0;
}

static const char example[] = "model_list:\n"
                              "- model_name: gpt-4o-mini\n"
                              "  litellm_params:\n"
                              "    model: openai/gpt-4o-mini\n"
                              "    api_key: os.environ/OPENAI_API_KEY\n"
                              "general_settings:\n"
                              "  master_key: os.environ/LITELLM_MASTER_KEY\n"
                              "litellm_settings:\n"
                              "  callbacks:\n"
                              "  - prometheus\n";

/* ---------------------------------------------------------------------------------------- */

TEST(config_example_loads_with_env_set)
{
    struct sl_config cfg;

    setenv("OPENAI_API_KEY", "sk-upstream", 1);
    setenv("LITELLM_MASTER_KEY", "sk-master", 1);
    ASSERT_OK(load(example, &cfg));

    ASSERT_STR_EQ("config.yaml", cfg.path);
    ASSERT_EQ(1, cfg.n_deployments);
    ASSERT_STR_EQ("gpt-4o-mini", cfg.deployments[0].model_name);
    ASSERT_STR_EQ("openai/gpt-4o-mini", cfg.deployments[0].model);
    ASSERT_STR_EQ("openai", cfg.deployments[0].provider);
    ASSERT_STR_EQ("gpt-4o-mini", cfg.deployments[0].provider_model);
    ASSERT_STR_EQ("sk-upstream", cfg.deployments[0].api_key);
    ASSERT_STR_EQ("sk-master", cfg.master_key);
    ASSERT_EQ(1, cfg.callbacks.n);
    ASSERT_STR_EQ("prometheus", cfg.callbacks.items[0]);
    ASSERT_EQ(0, cfg.unknown_keys.n);
    ASSERT_EQ(0, cfg.unset_env.n);
    sl_config_dispose(&cfg);
}

TEST(config_example_loads_with_env_unset)
{
    struct sl_config cfg;

    unsetenv("OPENAI_API_KEY");
    unsetenv("LITELLM_MASTER_KEY");
    ASSERT_OK(load(example, &cfg));

    ASSERT_TRUE(cfg.deployments[0].api_key == NULL);
    ASSERT_TRUE(cfg.master_key == NULL);
    ASSERT_EQ(2, cfg.unset_env.n);
    ASSERT_TRUE(list_contains(&cfg.unset_env, "OPENAI_API_KEY"));
    ASSERT_TRUE(list_contains(&cfg.unset_env, "LITELLM_MASTER_KEY"));
    sl_config_dispose(&cfg);
}

TEST(config_defaults_when_sections_absent)
{
    struct sl_config cfg;

    unsetenv("REQUEST_TIMEOUT");
    ASSERT_OK(load("model_list: []\n", &cfg));
    ASSERT_EQ(0, cfg.n_deployments);
    ASSERT_EQ(32ull * 1024 * 1024, cfg.max_request_size_bytes);
    ASSERT_EQ(64ull * 1024 * 1024, cfg.max_response_size_bytes);
    ASSERT_DBL_EQ(600, cfg.request_timeout_s);
    ASSERT_DBL_EQ(30, cfg.drain_timeout_s);
    ASSERT_EQ(SL_REDIS_FAIL_OPEN, cfg.redis_failure_mode);
    ASSERT_EQ(SL_ROUTING_SIMPLE_SHUFFLE, cfg.routing_strategy);
    ASSERT_EQ(1, cfg.ssl_verify);
    ASSERT_EQ(2, cfg.num_retries);
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.router_num_retries);
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.redis_port);
    ASSERT_TRUE(isnan(cfg.router_timeout_s));
    sl_config_dispose(&cfg);
}

TEST(config_deployment_unset_values)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n- model_name: m\n  litellm_params: {model: gpt-4o}\n", &cfg));
    ASSERT_TRUE(isnan(cfg.deployments[0].timeout_s));
    ASSERT_TRUE(isnan(cfg.deployments[0].weight));
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.deployments[0].rpm);
    ASSERT_TRUE(cfg.deployments[0].api_base == NULL);
    ASSERT_EQ(0, cfg.deployments[0].n_extra_headers);
    sl_config_dispose(&cfg);
}

TEST(config_all_deployment_params_load)
{
    struct sl_config cfg;
    struct sl_deployment *d;

    ASSERT_OK(load("model_list:\n"
                   "- model_name: claude\n"
                   "  litellm_params:\n"
                   "    model: bedrock/anthropic.claude\n"
                   "    api_base: http://127.0.0.1:9/v1\n"
                   "    api_version: '2025-02-01-preview'\n"
                   "    organization: org-1\n"
                   "    timeout: 30\n"
                   "    stream_timeout: 5s\n"
                   "    max_retries: 1\n"
                   "    num_retries: 4\n"
                   "    rpm: 600\n"
                   "    tpm: 100000\n"
                   "    weight: 0.5\n"
                   "    order: 2\n"
                   "    max_parallel_requests: 8\n"
                   "    input_cost_per_token: 2.5e-06\n"
                   "    output_cost_per_token: 0.00001\n"
                   "    extra_headers: {X-Team: a, X-Env: prod}\n"
                   "    region_name: eu-west-1\n"
                   "    aws_region_name: us-east-1\n"
                   "    aws_access_key_id: AKIA\n"
                   "    tags: [fast, cheap]\n"
                   "  model_info:\n"
                   "    mode: chat\n"
                   "    base_model: anthropic.claude-v2\n"
                   "    access_groups: [beta]\n",
                   &cfg));
    d = &cfg.deployments[0];
    ASSERT_STR_EQ("bedrock", d->provider);
    ASSERT_STR_EQ("anthropic.claude", d->provider_model);
    ASSERT_STR_EQ("2025-02-01-preview", d->api_version);
    ASSERT_STR_EQ("org-1", d->organization);
    ASSERT_DBL_EQ(30, d->timeout_s);
    ASSERT_DBL_EQ(5, d->stream_timeout_s);
    ASSERT_EQ(1, d->max_retries);
    ASSERT_EQ(4, d->num_retries);
    ASSERT_EQ(600, d->rpm);
    ASSERT_EQ(100000, d->tpm);
    ASSERT_DBL_EQ(0.5, d->weight);
    ASSERT_EQ(2, d->order);
    ASSERT_EQ(8, d->max_parallel_requests);
    ASSERT_DBL_EQ(2.5e-06, d->input_cost_per_token);
    ASSERT_DBL_EQ(0.00001, d->output_cost_per_token);
    ASSERT_EQ(2, d->n_extra_headers);
    ASSERT_STR_EQ("X-Team", d->extra_headers[0].name);
    ASSERT_STR_EQ("a", d->extra_headers[0].value);
    ASSERT_STR_EQ("X-Env", d->extra_headers[1].name);
    ASSERT_STR_EQ("prod", d->extra_headers[1].value);
    ASSERT_STR_EQ("eu-west-1", d->region_name);
    ASSERT_STR_EQ("us-east-1", d->aws_region_name);
    ASSERT_STR_EQ("AKIA", d->aws_access_key_id);
    ASSERT_EQ(2, d->tags.n);
    ASSERT_STR_EQ("cheap", d->tags.items[1]);
    ASSERT_STR_EQ("chat", d->mode);
    ASSERT_STR_EQ("anthropic.claude-v2", d->base_model);
    ASSERT_EQ(1, d->access_groups.n);
    ASSERT_STR_EQ("beta", d->access_groups.items[0]);
    ASSERT_EQ(0, cfg.unknown_keys.n);
    sl_config_dispose(&cfg);
}

TEST(config_all_settings_load)
{
    struct sl_config cfg;

    unsetenv("REDIS_HOST");
    unsetenv("REDIS_PORT");
    unsetenv("REDIS_PASSWORD");
    ASSERT_OK(load("general_settings:\n"
                   "  database_url: postgres://127.0.0.1/db\n"
                   "  max_response_size_mb: 2\n"
                   "  redis_failure_mode: fail_closed\n"
                   "  drain_timeout: 1m\n"
                   "  tls_cert_file: /etc/c.pem\n"
                   "  tls_key_file: /etc/k.pem\n"
                   "  store_prompts_in_spend_logs: true\n"
                   "  disable_spend_logs: yes\n"
                   "litellm_settings:\n"
                   "  success_callback: [a]\n"
                   "  failure_callback: [b]\n"
                   "  num_retries: 0\n"
                   "  drop_params: true\n"
                   "  turn_off_message_logging: True\n"
                   "  json_logs: false\n"
                   "  cache: true\n"
                   "  cache_params: {type: redis, host: 127.0.0.1, port: 6380, password: p, "
                   "ttl: 1h}\n"
                   "router_settings:\n"
                   "  routing_strategy: least-busy\n"
                   "  num_retries: 3\n"
                   "  timeout: 20\n"
                   "  stream_timeout: 10\n"
                   "  redis_host: 127.0.0.1\n"
                   "  redis_port: 6379\n"
                   "  redis_password: rp\n"
                   "  redis_url: redis://127.0.0.1:6379/0\n"
                   "  cooldown_time: 30\n"
                   "  allowed_fails: 1\n"
                   "  retry_after: 2\n",
                   &cfg));
    ASSERT_STR_EQ("postgres://127.0.0.1/db", cfg.database_url);
    ASSERT_EQ(2ull * 1024 * 1024, cfg.max_response_size_bytes);
    ASSERT_EQ(SL_REDIS_FAIL_CLOSED, cfg.redis_failure_mode);
    ASSERT_DBL_EQ(60, cfg.drain_timeout_s);
    ASSERT_STR_EQ("/etc/c.pem", cfg.tls_cert_file);
    ASSERT_STR_EQ("/etc/k.pem", cfg.tls_key_file);
    ASSERT_EQ(1, cfg.store_prompts_in_spend_logs);
    ASSERT_EQ(1, cfg.disable_spend_logs);
    ASSERT_STR_EQ("a", cfg.success_callback.items[0]);
    ASSERT_STR_EQ("b", cfg.failure_callback.items[0]);
    ASSERT_EQ(0, cfg.num_retries);
    ASSERT_EQ(1, cfg.drop_params);
    ASSERT_EQ(1, cfg.turn_off_message_logging);
    ASSERT_EQ(0, cfg.json_logs);
    ASSERT_EQ(1, cfg.cache);
    ASSERT_EQ(SL_CACHE_REDIS, cfg.cache_type);
    ASSERT_STR_EQ("127.0.0.1", cfg.cache_host);
    ASSERT_EQ(6380, cfg.cache_port);
    ASSERT_STR_EQ("p", cfg.cache_password);
    ASSERT_DBL_EQ(3600, cfg.cache_ttl_s);
    ASSERT_EQ(SL_ROUTING_LEAST_BUSY, cfg.routing_strategy);
    ASSERT_EQ(3, cfg.router_num_retries);
    ASSERT_DBL_EQ(20, cfg.router_timeout_s);
    ASSERT_DBL_EQ(10, cfg.router_stream_timeout_s);
    ASSERT_STR_EQ("127.0.0.1", cfg.redis_host);
    ASSERT_EQ(6379, cfg.redis_port);
    ASSERT_STR_EQ("rp", cfg.redis_password);
    ASSERT_STR_EQ("redis://127.0.0.1:6379/0", cfg.redis_url);
    ASSERT_DBL_EQ(30, cfg.cooldown_time_s);
    ASSERT_EQ(1, cfg.allowed_fails);
    ASSERT_DBL_EQ(2, cfg.retry_after_s);
    ASSERT_EQ(0, cfg.unknown_keys.n);
    sl_config_dispose(&cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* os.environ/ and environment_variables                                                    */

TEST(config_env_ref_in_deployment)
{
    struct sl_config cfg;

    setenv("SL_TEST_BASE", "http://127.0.0.1:8080/v1", 1);
    setenv("SL_TEST_TIMEOUT", "45", 1);
    ASSERT_OK(load("model_list:\n- model_name: m\n  litellm_params:\n    model: openai/x\n"
                   "    api_base: os.environ/SL_TEST_BASE\n"
                   "    timeout: os.environ/SL_TEST_TIMEOUT\n",
                   &cfg));
    ASSERT_STR_EQ("http://127.0.0.1:8080/v1", cfg.deployments[0].api_base);
    ASSERT_DBL_EQ(45, cfg.deployments[0].timeout_s);
    sl_config_dispose(&cfg);
}

TEST(config_env_ref_in_general_settings)
{
    struct sl_config cfg;

    unsetenv("DATABASE_URL");
    setenv("SL_TEST_DB", "postgres://127.0.0.1/x", 1);
    ASSERT_OK(load("general_settings:\n  database_url: os.environ/SL_TEST_DB\n", &cfg));
    ASSERT_STR_EQ("postgres://127.0.0.1/x", cfg.database_url);
    sl_config_dispose(&cfg);
}

TEST(config_env_ref_in_list_item)
{
    struct sl_config cfg;

    setenv("SL_TEST_CALLBACK", "otel", 1);
    ASSERT_OK(load("litellm_settings:\n  callbacks: [prometheus, os.environ/SL_TEST_CALLBACK]\n",
                   &cfg));
    ASSERT_EQ(2, cfg.callbacks.n);
    ASSERT_STR_EQ("otel", cfg.callbacks.items[1]);
    sl_config_dispose(&cfg);
}

TEST(config_env_ref_in_header_value)
{
    struct sl_config cfg;

    setenv("SL_TEST_TEAM", "team-7", 1);
    ASSERT_OK(load("model_list:\n- model_name: m\n  litellm_params:\n    model: openai/x\n"
                   "    extra_headers:\n      X-Team: os.environ/SL_TEST_TEAM\n",
                   &cfg));
    ASSERT_STR_EQ("team-7", cfg.deployments[0].extra_headers[0].value);
    sl_config_dispose(&cfg);
}

TEST(config_env_ref_missing_names_key_and_var)
{
    const char *msg;

    unsetenv("SL_TEST_MISSING");
    msg = load_error("model_list:\n- model_name: m\n  litellm_params:\n    model: openai/x\n"
                     "    api_version: os.environ/SL_TEST_MISSING\n");
    ASSERT_STR_EQ("config.yaml:5:18: model_list[0].litellm_params.api_version: environment "
                  "variable SL_TEST_MISSING is not set (referenced as "
                  "os.environ/SL_TEST_MISSING)",
                  msg);
}

TEST(config_env_ref_missing_in_list_fails)
{
    unsetenv("SL_TEST_MISSING");
    ASSERT_CONTAINS(load_error("litellm_settings:\n  callbacks: [os.environ/SL_TEST_MISSING]\n"),
                    "litellm_settings.callbacks: environment variable SL_TEST_MISSING");
}

TEST(config_environment_variables_applied_first)
{
    struct sl_config cfg;

    setenv("SL_TEST_SOURCE", "from-source", 1);
    unsetenv("SL_TEST_SET_BY_FILE");
    unsetenv("SL_TEST_CHAINED");
    /* The section comes last in the file but is applied before model_list is read. */
    ASSERT_OK(load("model_list:\n- model_name: m\n  litellm_params:\n    model: openai/x\n"
                   "    api_base: os.environ/SL_TEST_SET_BY_FILE\n"
                   "    api_key: os.environ/SL_TEST_CHAINED\n"
                   "environment_variables:\n"
                   "  SL_TEST_SET_BY_FILE: http://127.0.0.1:1/v1\n"
                   "  SL_TEST_CHAINED: os.environ/SL_TEST_SOURCE\n",
                   &cfg));
    ASSERT_STR_EQ("http://127.0.0.1:1/v1", cfg.deployments[0].api_base);
    ASSERT_STR_EQ("from-source", cfg.deployments[0].api_key);
    ASSERT_STR_EQ("from-source", getenv("SL_TEST_CHAINED"));
    ASSERT_EQ(0, cfg.unknown_keys.n);
    sl_config_dispose(&cfg);
}

TEST(config_environment_variables_bad_name_fails)
{
    ASSERT_CONTAINS(load_error("environment_variables:\n  'A=B': x\n"),
                    "invalid variable name \"A=B\"");
}

TEST(config_env_var_overrides_file)
{
    struct sl_config cfg;

    setenv("REQUEST_TIMEOUT", "12", 1);
    setenv("LITELLM_MASTER_KEY", "sk-env", 1);
    ASSERT_OK(load("general_settings: {master_key: sk-file}\n"
                   "litellm_settings: {request_timeout: 99}\n",
                   &cfg));
    ASSERT_DBL_EQ(12, cfg.request_timeout_s);
    ASSERT_STR_EQ("sk-env", cfg.master_key);
    sl_config_dispose(&cfg);
}

TEST(config_env_var_override_invalid_fails)
{
    setenv("REQUEST_TIMEOUT", "soon", 1);
    ASSERT_STR_EQ("config.yaml: environment variable REQUEST_TIMEOUT (overrides "
                  "litellm_settings.request_timeout): invalid duration \"soon\" (expected "
                  "seconds, e.g. 30 or \"30s\")",
                  load_error("{}\n"));
}

/* ---------------------------------------------------------------------------------------- */
/* Unknown keys                                                                             */

TEST(config_unknown_keys_reported_once)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n"
                   "- model_name: a\n  litellm_params: {model: openai/a, foo: 1}\n"
                   "- model_name: b\n  litellm_params: {model: openai/b, foo: 2}\n"
                   "  model_info: {health_check_voice: x}\n"
                   "general_settings: {alerting: [slack], master_key: k}\n"
                   "callback_settings: {langfuse: {flush_interval: 5}}\n"
                   "router_settings: {polling_interval: 5}\n",
                   &cfg));
    ASSERT_EQ(5, cfg.unknown_keys.n);
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "model_list[].litellm_params.foo"));
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "model_list[].model_info.health_check_voice"));
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "general_settings.alerting"));
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "callback_settings.langfuse"));
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "router_settings.polling_interval"));
    ASSERT_EQ(2, cfg.n_deployments);
    sl_config_dispose(&cfg);
}

TEST(config_health_check_interval_in_router_fails)
{
    ASSERT_CONTAINS(load_error("router_settings:\n  health_check_interval: 30\n"),
                    "router_settings.health_check_interval: 'health_check_interval' is not a "
                    "valid router_settings parameter; move it to general_settings");
}

/* ---------------------------------------------------------------------------------------- */
/* Types and bounds                                                                         */

TEST(config_invalid_duration_names_key_value_file)
{
    ASSERT_STR_EQ("config.yaml:6:14: model_list[1].litellm_params.timeout: invalid duration "
                  "\"abc\" (expected seconds, e.g. 30 or \"30s\")",
                  load_error("model_list:\n"
                             "- model_name: a\n  litellm_params: {model: openai/a}\n"
                             "- model_name: b\n  litellm_params:\n    timeout: abc\n"
                             "    model: openai/b\n"));
}

TEST(config_invalid_bool_names_key_value)
{
    ASSERT_STR_EQ("config.yaml:1:33: litellm_settings.drop_params: invalid boolean \"maybe\" "
                  "(expected true or false)",
                  load_error("litellm_settings: {drop_params: maybe}\n"));
}

TEST(config_invalid_int_names_key_value)
{
    ASSERT_CONTAINS(load_error("model_list:\n- model_name: a\n"
                               "  litellm_params: {model: openai/a, rpm: 1.5}\n"),
                    "model_list[0].litellm_params.rpm: invalid integer \"1.5\"");
}

TEST(config_invalid_enum_lists_choices)
{
    ASSERT_CONTAINS(load_error("general_settings: {redis_failure_mode: sometimes}\n"),
                    "general_settings.redis_failure_mode: invalid value \"sometimes\" (expected "
                    "one of: fail_open, fail_closed)");
}

TEST(config_wrong_node_kind_fails)
{
    ASSERT_CONTAINS(load_error("general_settings: {master_key: [a, b]}\n"),
                    "general_settings.master_key: expected a single value, found a list");
    ASSERT_CONTAINS(load_error("litellm_settings: {callbacks: prometheus}\n"),
                    "litellm_settings.callbacks: expected a list");
    ASSERT_CONTAINS(load_error("general_settings: [a]\n"),
                    "general_settings: expected a mapping, found a list");
    ASSERT_CONTAINS(load_error("model_list: {a: b}\n"), "model_list: expected a list");
    ASSERT_CONTAINS(load_error("model_list: [a]\n"), "model_list[0]: expected a mapping");
}

TEST(config_out_of_bounds_fails)
{
    ASSERT_CONTAINS(load_error("litellm_settings: {num_retries: 1000}\n"),
                    "litellm_settings.num_retries: value \"1000\" is out of range (expected 0 "
                    "to 100)");
    ASSERT_CONTAINS(load_error("router_settings: {redis_port: 0}\n"),
                    "router_settings.redis_port: value \"0\" is out of range");
    ASSERT_CONTAINS(load_error("general_settings: {max_request_size_mb: 100000}\n"),
                    "is out of range (expected 0.001 to 4096 MiB)");
    ASSERT_CONTAINS(load_error("litellm_settings: {request_timeout: 0}\n"),
                    "request_timeout: value \"0\" is out of range");
}

TEST(config_durations_in_every_form)
{
    struct sl_config cfg;

    unsetenv("REQUEST_TIMEOUT");
    ASSERT_OK(load("litellm_settings: {request_timeout: \"5m\"}\n"
                   "router_settings: {timeout: 1.5, stream_timeout: '30'}\n",
                   &cfg));
    ASSERT_DBL_EQ(300, cfg.request_timeout_s);
    ASSERT_DBL_EQ(1.5, cfg.router_timeout_s);
    ASSERT_DBL_EQ(30, cfg.router_stream_timeout_s);
    sl_config_dispose(&cfg);
}

TEST(config_size_mb_in_bytes)
{
    struct sl_config cfg;

    ASSERT_OK(load("general_settings: {max_request_size_mb: 1.5}\n", &cfg));
    ASSERT_EQ(1572864, cfg.max_request_size_bytes);
    sl_config_dispose(&cfg);
}

TEST(config_ssl_verify_bool_or_path)
{
    struct sl_config cfg;

    ASSERT_OK(load("litellm_settings: {ssl_verify: false}\n", &cfg));
    ASSERT_EQ(0, cfg.ssl_verify);
    ASSERT_TRUE(cfg.ssl_ca_bundle == NULL);
    sl_config_dispose(&cfg);

    ASSERT_OK(load("litellm_settings: {ssl_verify: /etc/ssl/ca.pem}\n", &cfg));
    ASSERT_EQ(1, cfg.ssl_verify);
    ASSERT_STR_EQ("/etc/ssl/ca.pem", cfg.ssl_ca_bundle);
    sl_config_dispose(&cfg);
}

TEST(config_header_with_newline_fails)
{
    ASSERT_CONTAINS(load_error("model_list:\n- model_name: a\n  litellm_params:\n"
                               "    model: openai/a\n"
                               "    extra_headers: {X-A: \"v\\r\\nX-Injected: 1\"}\n"),
                    "invalid value of header \"X-A\" (control characters are not allowed)");
    ASSERT_CONTAINS(load_error("model_list:\n- model_name: a\n  litellm_params:\n"
                               "    model: openai/a\n    extra_headers: {\"X A\": v}\n"),
                    "invalid header name \"X A\"");
}

TEST(config_secret_value_not_in_message)
{
    const char *msg = load_error("general_settings: {master_key: \"sk-secret\\n\"}\n");

    ASSERT_CONTAINS(msg, "general_settings.master_key: invalid string (value hidden)");
    ASSERT_TRUE(strstr(msg, "sk-secret") == NULL);
}

TEST(config_duplicate_key_fails)
{
    ASSERT_CONTAINS(load_error("general_settings:\n  master_key: a\n  master_key: b\n"),
                    "config.yaml:3:15: general_settings.master_key: duplicate key");
    ASSERT_CONTAINS(load_error("model_list: []\nmodel_list: []\n"), "duplicate key model_list");
}

TEST(config_tls_needs_cert_and_key)
{
    ASSERT_CONTAINS(load_error("general_settings: {tls_cert_file: /c.pem}\n"),
                    "general_settings.tls_cert_file is set but tls_key_file is not");
}

/* ---------------------------------------------------------------------------------------- */
/* YAML shape                                                                               */

TEST(config_yaml_syntax_error_has_line)
{
    ASSERT_CONTAINS(load_error("model_list:\n- model_name: a\n  litellm_params: {model: [\n"),
                    "config.yaml:4:1: invalid YAML: ");
    ASSERT_CONTAINS(load_error("a: b\n  c: d\n"), "config.yaml:2:4: invalid YAML: ");
}

TEST(config_empty_file_fails)
{
    ASSERT_STR_EQ("config.yaml: the file is empty (expected a mapping with model_list and the "
                  "settings sections)",
                  load_error(""));
    ASSERT_CONTAINS(load_error("# only a comment\n"), "the file is empty");
}

TEST(config_top_level_list_fails)
{
    ASSERT_STR_EQ("config.yaml:1:1: the top level must be a mapping (model_list:, "
                  "general_settings:, ...), found a list",
                  load_error("- model_name: a\n"));
}

TEST(config_second_document_fails)
{
    ASSERT_CONTAINS(load_error("model_list: []\n---\nmodel_list: []\n"),
                    "more than one YAML document");
}

TEST(config_anchor_and_alias_work)
{
    struct sl_config cfg;

    ASSERT_OK(load("x-common: &common\n"
                   "  api_base: http://127.0.0.1:9/v1\n"
                   "  timeout: 7\n"
                   "model_list:\n"
                   "- model_name: a\n"
                   "  litellm_params:\n"
                   "    <<: *common\n"
                   "    model: openai/a\n"
                   "- model_name: b\n"
                   "  litellm_params: &b_params\n"
                   "    model: openai/b\n"
                   "    api_base: http://127.0.0.1:9/v1\n"
                   "- model_name: c\n"
                   "  litellm_params: *b_params\n",
                   &cfg));
    ASSERT_EQ(3, cfg.n_deployments);
    ASSERT_STR_EQ("http://127.0.0.1:9/v1", cfg.deployments[2].api_base);
    ASSERT_STR_EQ("b", cfg.deployments[2].provider_model);
    /* NOTE: libyaml does not implement the << merge key, so it is reported as unknown. */
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "model_list[].litellm_params.<<"));
    ASSERT_TRUE(list_contains(&cfg.unknown_keys, "x-common"));
    sl_config_dispose(&cfg);
}

TEST(config_alias_bomb_fails)
{
    ASSERT_CONTAINS(load_error("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                               "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                               "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                               "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                               "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                               "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                               "model_list:\n- model_name: m\n"
                               "  litellm_params: {model: openai/x, tags: [], z: *g}\n"),
                    "too many nodes after expanding aliases");
}

/* ---------------------------------------------------------------------------------------- */
/* Deployments                                                                              */

TEST(config_missing_model_name_fails)
{
    ASSERT_STR_EQ("config.yaml:2:3: model_list[0]: missing required key model_name",
                  load_error("model_list:\n- litellm_params: {model: openai/a}\n"));
    ASSERT_CONTAINS(load_error("model_list:\n- model_name: a\n"),
                    "model_list[0]: missing required key litellm_params.model");
}

TEST(config_provider_model_split)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n"
                   "- {model_name: a, litellm_params: {model: openai/gpt-4o-mini}}\n"
                   "- {model_name: b, litellm_params: {model: hosted_vllm/meta/llama}}\n"
                   "- {model_name: c, litellm_params: {model: gpt-4o}}\n",
                   &cfg));
    ASSERT_STR_EQ("openai", cfg.deployments[0].provider);
    ASSERT_STR_EQ("gpt-4o-mini", cfg.deployments[0].provider_model);
    ASSERT_STR_EQ("hosted_vllm", cfg.deployments[1].provider);
    ASSERT_STR_EQ("meta/llama", cfg.deployments[1].provider_model);
    ASSERT_STR_EQ("openai", cfg.deployments[2].provider);
    ASSERT_STR_EQ("gpt-4o", cfg.deployments[2].provider_model);
    sl_config_dispose(&cfg);
}

TEST(config_model_without_name_part_fails)
{
    ASSERT_CONTAINS(load_error("model_list:\n- {model_name: a, litellm_params: {model: openai/}}\n"),
                    "invalid model \"openai/\" (expected provider/name");
    ASSERT_CONTAINS(load_error("model_list:\n- {model_name: a, litellm_params: {model: /x}}\n"),
                    "invalid model \"/x\"");
}

TEST(config_deployment_id_known_digest)
{
    const char *keys[] = {"model"};
    const char *values[] = {"openai/x"};
    char id[SL_CONFIG_DEPLOYMENT_ID_LEN + 1];

    /* printf 'mmodelopenai/x' | sha256sum */
    sl_config_deployment_id("m", keys, values, 1, id);
    ASSERT_STR_EQ("2c514665f22ea568b9ce06421ef725980829ed761ab8f7abdd25205252ee39e5", id);
}

TEST(config_deployment_id_from_file_text)
{
    struct sl_config cfg;

    /* Hashed before os.environ/ resolution, so the unset key does not matter. */
    unsetenv("OPENAI_API_KEY");
    ASSERT_OK(load(example, &cfg));
    ASSERT_STR_EQ("5f328653b73140fc6ad9a81f8c7cc950f21f248d694fc2722b2d6e1d81c23519",
                  cfg.deployments[0].id);
    sl_config_dispose(&cfg);
}

TEST(config_deployment_id_equal_for_equal_params)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n"
                   "- model_name: g\n  litellm_params: {model: openai/a, extra_headers: {X: 1}}\n"
                   "- model_name: g\n  litellm_params:\n    model: openai/a\n"
                   "    extra_headers:\n      X: '1'\n",
                   &cfg));
    ASSERT_EQ(SL_CONFIG_DEPLOYMENT_ID_LEN, strlen(cfg.deployments[0].id));
    ASSERT_STR_EQ(cfg.deployments[0].id, cfg.deployments[1].id);
    sl_config_dispose(&cfg);
}

TEST(config_deployment_id_differs_for_other_params)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n"
                   "- {model_name: g, litellm_params: {model: openai/a}}\n"
                   "- {model_name: g, litellm_params: {model: openai/b}}\n"
                   "- {model_name: h, litellm_params: {model: openai/a}}\n"
                   "- {model_name: g, litellm_params: {model: openai/a, extra_headers: {X: 1}}}\n"
                   "- {model_name: g, litellm_params: {model: openai/a, extra_headers: {X: 2}}}\n",
                   &cfg));
    for (size_t i = 0; i < cfg.n_deployments; i++) {
        for (size_t j = i + 1; j < cfg.n_deployments; j++) {
            if (strcmp(cfg.deployments[i].id, cfg.deployments[j].id) == 0)
                SL_TEST_FAIL("deployments %zu and %zu share id %s", i, j, cfg.deployments[i].id);
        }
    }
    sl_config_dispose(&cfg);
}

TEST(config_model_info_id_wins)
{
    struct sl_config cfg;

    ASSERT_OK(load("model_list:\n- model_name: g\n  litellm_params: {model: openai/a}\n"
                   "  model_info: {id: my-stable-id}\n",
                   &cfg));
    ASSERT_STR_EQ("my-stable-id", cfg.deployments[0].id);
    sl_config_dispose(&cfg);
}

TEST(config_timeout_fallback_order)
{
    struct sl_config cfg;

    unsetenv("REQUEST_TIMEOUT");
    ASSERT_OK(load("model_list:\n"
                   "- {model_name: a, litellm_params: {model: x, timeout: 5, stream_timeout: 2}}\n"
                   "- {model_name: b, litellm_params: {model: x}}\n",
                   &cfg));
    ASSERT_DBL_EQ(5, sl_config_timeout_s(&cfg, &cfg.deployments[0]));
    ASSERT_DBL_EQ(2, sl_config_stream_timeout_s(&cfg, &cfg.deployments[0]));
    ASSERT_DBL_EQ(600, sl_config_timeout_s(&cfg, &cfg.deployments[1]));
    ASSERT_DBL_EQ(600, sl_config_stream_timeout_s(&cfg, &cfg.deployments[1]));
    cfg.router_timeout_s = 40;
    ASSERT_DBL_EQ(40, sl_config_timeout_s(&cfg, &cfg.deployments[1]));
    ASSERT_DBL_EQ(40, sl_config_stream_timeout_s(&cfg, &cfg.deployments[1]));
    sl_config_dispose(&cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* Files, output and docs                                                                   */

TEST(config_failed_load_leaves_out_untouched)
{
    struct sl_config cfg;

    memset(&cfg, 0xab, sizeof(cfg));
    ASSERT_EQ(SL_ERR_CONFIG, load("router_settings: {timeout: never}\n", &cfg));
    ASSERT_EQ(0xabababababababab, (unsigned long long)(uintptr_t)cfg.path);
}

TEST(config_load_reads_file)
{
    char path[] = "/tmp/sl_config_test_XXXXXX";
    int fd = mkstemp(path);
    struct sl_config cfg;

    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(strlen(example), write(fd, example, strlen(example)));
    close(fd);
    ASSERT_OK(sl_config_load(path, &cfg, &err));
    ASSERT_STR_EQ(path, cfg.path);
    ASSERT_EQ(1, cfg.n_deployments);
    sl_config_dispose(&cfg);
    unlink(path);
}

TEST(config_load_missing_file_fails)
{
    struct sl_config cfg;

    ASSERT_EQ(SL_ERR_IO, sl_config_load("/nonexistent/config.yaml", &cfg, &err));
    ASSERT_STR_EQ("/nonexistent/config.yaml: cannot open: No such file or directory", err.msg);
}

TEST(config_load_oversized_buffer_fails)
{
    struct sl_config cfg;
    size_t len = SL_CONFIG_MAX_BYTES + 1;
    char *big = calloc(1, len);

    ASSERT_TRUE(big != NULL);
    memset(big, '#', len);
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_config_load_buffer(big, len, "big.yaml", &cfg, &err));
    ASSERT_CONTAINS(err.msg, "big.yaml: file is 4194305 bytes");
    free(big);
}

TEST(config_help_lists_options)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ASSERT_TRUE(f != NULL);
    sl_config_write_help(f);
    fclose(f);
    ASSERT_CONTAINS(text, "general_settings.master_key [string; default unset; env "
                          "LITELLM_MASTER_KEY]");
    ASSERT_CONTAINS(text, "model_list[].litellm_params.timeout [duration (s)");
    free(text);
}

/* docs/configuration.md is generated from the option table; this fails while they differ.
 * With SL_UPDATE_DOCS=1 it rewrites the file instead. */
TEST(config_reference_matches_docs)
{
    const char *path = SL_SOURCE_DIR "/docs/configuration.md";
    char *expected = NULL;
    size_t expected_len = 0;
    FILE *f = open_memstream(&expected, &expected_len);
    char *actual;
    long actual_len;

    ASSERT_TRUE(f != NULL);
    sl_config_write_reference(f);
    fclose(f);

    if (getenv("SL_UPDATE_DOCS") != NULL) {
        f = fopen(path, "w");
        ASSERT_TRUE(f != NULL);
        ASSERT_EQ(expected_len, fwrite(expected, 1, expected_len, f));
        fclose(f);
    }

    f = fopen(path, "rb");
    if (f == NULL)
        SL_TEST_FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    actual_len = ftell(f);
    fseek(f, 0, SEEK_SET);
    actual = malloc((size_t)actual_len + 1);
    ASSERT_EQ(actual_len, fread(actual, 1, (size_t)actual_len, f));
    fclose(f);
    if ((size_t)actual_len != expected_len || memcmp(actual, expected, expected_len) != 0)
        SL_TEST_FAIL("%s differs from sl_config_write_reference(); regenerate it with "
                     "SL_UPDATE_DOCS=1",
                     path);
    free(actual);
    free(expected);
}
