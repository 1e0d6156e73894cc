/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_table -- every option of config.yaml in one table, the typed setters that write the
 * option slots, and the writers of docs/configuration.md and --help from the same rows.
 * The YAML walk that calls the setters is in config.c.
 */
#include "common/config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "common/xalloc.h"

/* ---------------------------------------------------------------------------------------- */
/* The table                                                                                */
/* ---------------------------------------------------------------------------------------- */

static const char *const redis_failure_modes[] = {"fail_open", "fail_closed", NULL};
static const char *const token_rate_limit_types[] = {"total", "input", "output", NULL};
static const char *const routing_strategies[] = {
    "simple-shuffle",         "least-busy",            "usage-based-routing",
    "usage-based-routing-v2", "latency-based-routing", "cost-based-routing",
    NULL,
};
/* LiteLLM's other types (local, redis-semantic, s3, disk, ...) fail the load. */
static const char *const cache_types[] = {"redis", NULL};
static const char *const cache_modes[] = {"default_on", "default_off", NULL};

#define GLOBAL(field) .scope = SL_CONFIG_GLOBAL, .offset = offsetof(struct sl_config, field)
#define DEPLOY(field) .scope = SL_CONFIG_DEPLOYMENT, .offset = offsetof(struct sl_deployment, field)
#define RELOAD SL_CONFIG_RELOADABLE
#define SECRET SL_CONFIG_SECRET
#define ENV_OPT SL_CONFIG_ENV_OPTIONAL
#define DAY_S 86400.0
#define RETRIES_MAX 100.0
#define COUNT_MAX 1e12

const struct sl_config_option sl_config__options[] = {
    /* general_settings */
    {"general_settings.master_key", GLOBAL(master_key), .type = SL_CONFIG_T_STRING,
     .env = "LITELLM_MASTER_KEY", .flags = RELOAD | SECRET | ENV_OPT,
     .doc = "Admin key that clients send as a bearer token; unset turns authentication off."},
    {"general_settings.database_url", GLOBAL(database_url), .type = SL_CONFIG_T_STRING,
     .env = "DATABASE_URL", .flags = SECRET | ENV_OPT,
     .doc = "PostgreSQL URL for keys, teams and spend; unset runs without a database."},
    {"general_settings.max_request_size_mb", GLOBAL(max_request_size_bytes),
     .type = SL_CONFIG_T_SIZE_MB, .def = "32", .min = 0.001, .max = 4096, .flags = RELOAD,
     .doc = "Largest request body accepted, in MiB; larger bodies get 413. Bodies are buffered, "
            "so this caps memory per request."},
    {"general_settings.max_response_size_mb", GLOBAL(max_response_size_bytes),
     .type = SL_CONFIG_T_SIZE_MB, .def = "64", .min = 0.001, .max = 4096, .flags = RELOAD,
     .doc = "Largest non-streaming upstream response accepted, in MiB; larger ones fail with 502."},
    {"general_settings.redis_failure_mode", GLOBAL(redis_failure_mode), .type = SL_CONFIG_T_ENUM,
     .choices = redis_failure_modes, .def = "fail_open", .flags = RELOAD,
     .doc = "What rate limits do while Redis is unreachable: let requests through or reject "
            "them with 503."},
    {"general_settings.token_rate_limit_type", GLOBAL(token_rate_limit_type),
     .type = SL_CONFIG_T_ENUM, .choices = token_rate_limit_types, .def = "total", .flags = RELOAD,
     .doc = "Tokens that tpm_limit counts: prompt plus completion, prompt only or completion "
            "only; prompt tokens read from the provider's cache are never counted."},
    {"general_settings.global_max_parallel_requests", GLOBAL(global_max_parallel_requests),
     .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Model requests in flight at once across every gateway node; unset for no cap."},
    {"general_settings.spend_events_max_len", GLOBAL(spend_events_max_len),
     .type = SL_CONFIG_T_INT, .def = "1000000", .min = 1000, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Spend events the Redis stream keeps at most while the coordinator is away (about "
            "2.8 hours at 100 requests per second); older ones are dropped, logged and counted."},
    {"general_settings.coordinator_metrics_port", GLOBAL(coordinator_metrics_port),
     .type = SL_CONFIG_T_INT, .def = "4001", .min = 0, .max = 65535,
     .doc = "TCP port on which sluice-coordinator serves Prometheus /metrics; 0 turns it off. "
            "Its --metrics-port flag overrides this."},
    {"general_settings.background_health_checks", GLOBAL(background_health_checks),
     .type = SL_CONFIG_T_BOOL, .def = "false",
     .doc = "Let the coordinator's leader send a minimal request to every deployment each "
            "health_check_interval and share the results through Redis; each check is a paid "
            "call. Gateways then route around unhealthy deployments."},
    {"general_settings.health_check_interval", GLOBAL(health_check_interval_s),
     .type = SL_CONFIG_T_DURATION, .def = "300", .min = 1, .max = DAY_S,
     .doc = "Seconds between two background health checks of a deployment."},
    {"general_settings.user_header_name", GLOBAL(user_header_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD,
     .doc = "Request header that names the end user, read after x-litellm-customer-id and "
            "x-litellm-end-user-id and before the body's `user`."},
    {"general_settings.drain_timeout", GLOBAL(drain_timeout_s), .type = SL_CONFIG_T_DURATION,
     .env = "SLUICE_DRAIN_TIMEOUT", .def = "30", .min = 0, .max = DAY_S, .flags = RELOAD,
     .doc = "After SIGTERM, how long in-flight requests may run before the process exits."},
    {"general_settings.tls_cert_file", GLOBAL(tls_cert_file), .type = SL_CONFIG_T_STRING,
     .doc = "PEM certificate chain for TLS on the listener; needs tls_key_file."},
    {"general_settings.tls_key_file", GLOBAL(tls_key_file), .type = SL_CONFIG_T_STRING,
     .doc = "PEM private key for TLS on the listener; needs tls_cert_file."},
    {"general_settings.store_prompts_in_spend_logs", GLOBAL(store_prompts_in_spend_logs),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Keep request messages and responses in spend log rows."},
    {"general_settings.disable_spend_logs", GLOBAL(disable_spend_logs), .type = SL_CONFIG_T_BOOL,
     .def = "false", .flags = RELOAD,
     .doc = "Write no spend log rows (spend totals are still updated)."},
    {"general_settings.allow_requests_on_db_unavailable",
     GLOBAL(allow_requests_on_db_unavailable), .type = SL_CONFIG_T_BOOL, .def = "false",
     .flags = RELOAD,
     .doc = "Let a virtual key that no cache holds through without checks while PostgreSQL is "
            "unreachable, instead of answering 401."},
    {"general_settings.store_model_in_db", GLOBAL(store_model_in_db), .type = SL_CONFIG_T_BOOL,
     .env = "STORE_MODEL_IN_DB", .def = "false",
     .doc = "Allow /model/new, /model/update and /model/delete to store deployments in "
            "PostgreSQL (models in the database are served either way)."},
    {"general_settings.model_reload_interval", GLOBAL(model_reload_interval_s),
     .type = SL_CONFIG_T_DURATION, .env = "SLUICE_MODEL_RELOAD_INTERVAL", .def = "30", .min = 1,
     .max = DAY_S,
     .doc = "How often each worker reloads the models table, besides the reload that a "
            "write to the /model/ routes announces over Redis."},
    {"general_settings.maximum_spend_logs_retention_period",
     GLOBAL(spend_logs_retention_period_s), .type = SL_CONFIG_T_DURATION, .min = 3600,
     .max = 36500 * DAY_S,
     .doc = "Age after which the coordinator deletes spend log rows, e.g. \"30d\" (30 days of "
            "86400 s); unset keeps them for ever. Daily spend totals are kept. At least 1 h, so "
            "a number written without a unit cannot delete recent rows."},
    {"general_settings.maximum_spend_logs_retention_interval",
     GLOBAL(spend_logs_retention_interval_s), .type = SL_CONFIG_T_DURATION, .def = "1h",
     .min = 60, .max = 7 * DAY_S,
     .doc = "How often the coordinator deletes expired spend log rows. LiteLLM's default is 1 d; "
            "hourly runs stay short, because one run deletes for about 2 s at most."},

    /* litellm_settings */
    {"litellm_settings.callbacks", GLOBAL(callbacks), .type = SL_CONFIG_T_STRLIST,
     .doc = "Integrations called on success and failure, e.g. [prometheus]."},
    {"litellm_settings.success_callback", GLOBAL(success_callback), .type = SL_CONFIG_T_STRLIST,
     .doc = "Integrations called on success only."},
    {"litellm_settings.failure_callback", GLOBAL(failure_callback), .type = SL_CONFIG_T_STRLIST,
     .doc = "Integrations called on failure only."},
    {"litellm_settings.request_timeout", GLOBAL(request_timeout_s), .type = SL_CONFIG_T_DURATION,
     .env = "REQUEST_TIMEOUT", .def = "600", .min = 0.001, .max = DAY_S, .flags = RELOAD,
     .doc = "Upstream timeout when neither the deployment nor router_settings sets one. "
            "LiteLLM's default is 6000 s; 10 minutes frees stuck connections sooner."},
    {"litellm_settings.num_retries", GLOBAL(num_retries), .type = SL_CONFIG_T_INT, .def = "2",
     .min = 0, .max = RETRIES_MAX, .flags = RELOAD,
     .doc = "Retries within a model group when router_settings.num_retries is unset."},
    {"litellm_settings.fallbacks", GLOBAL(fallbacks), .type = SL_CONFIG_T_FALLBACKS,
     .flags = RELOAD,
     .doc = "Model groups tried in order after a group's retries fail, e.g. "
            "[{\"gpt-4o\": [\"gpt-4o-mini\"]}]; \"*\" applies to every group."},
    {"litellm_settings.context_window_fallbacks", GLOBAL(context_window_fallbacks),
     .type = SL_CONFIG_T_FALLBACKS, .flags = RELOAD,
     .doc = "Model groups tried after a context window error (the only ones tried then)."},
    {"litellm_settings.content_policy_fallbacks", GLOBAL(content_policy_fallbacks),
     .type = SL_CONFIG_T_FALLBACKS, .flags = RELOAD,
     .doc = "Model groups tried after a content policy error (the only ones tried then)."},
    {"litellm_settings.default_fallbacks", GLOBAL(default_fallbacks),
     .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Model groups tried after any group without its own fallbacks entry fails."},
    {"litellm_settings.ssl_verify", GLOBAL(ssl_verify), .aux = offsetof(struct sl_config,
                                                                      ssl_ca_bundle),
     .type = SL_CONFIG_T_BOOL_OR_PATH, .def = "true",
     .doc = "Verify upstream TLS certificates: true, false, or the path of a CA bundle."},
    {"litellm_settings.user_budget_includes_team_keys", GLOBAL(user_budget_includes_team_keys),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Count the spend of a user's team keys in the user's max_budget, not only the spend "
            "of their personal keys."},
    {"litellm_settings.prometheus_drop_labels", GLOBAL(prometheus_drop_labels),
     .type = SL_CONFIG_T_STRLIST,
     .doc = "Label names, such as [client_ip, user_agent, end_user], whose value every litellm_* "
            "metric writes as an empty string, so that they add no series. The labels stay in "
            "place."},
    {"litellm_settings.enable_end_user_cost_tracking_prometheus_only",
     GLOBAL(enable_end_user_cost_tracking_prometheus_only), .type = SL_CONFIG_T_BOOL,
     .def = "false",
     .doc = "Write the end-user id in the end_user label of the litellm_* metrics; otherwise "
            "the label is empty, as in LiteLLM."},
    {"litellm_settings.drop_params", GLOBAL(drop_params), .type = SL_CONFIG_T_BOOL,
     .env = "LITELLM_DROP_PARAMS", .def = "false", .flags = RELOAD,
     .doc = "Drop request parameters a provider does not support instead of failing with 400."},
    {"litellm_settings.turn_off_message_logging", GLOBAL(turn_off_message_logging),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Keep messages and responses out of callbacks (metadata is still sent)."},
    {"callback_settings.otel.message_logging", GLOBAL(otel_message_logging),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Record messages and responses (gen_ai.input.messages, gen_ai.output.messages) in "
            "OpenTelemetry spans. Off by default, unlike LiteLLM; turn_off_message_logging and "
            "the x-litellm-enable-message-redaction request header still turn it off."},
    {"litellm_settings.json_logs", GLOBAL(json_logs), .type = SL_CONFIG_T_BOOL,
     .env = "JSON_LOGS", .def = "false",
     .doc = "Accepted for compatibility; Sluice always logs JSON lines."},
    {"litellm_settings.model_cost_map_path", GLOBAL(model_cost_map_path),
     .type = SL_CONFIG_T_STRING,
     .doc = "JSON price file in LiteLLM's model_prices_and_context_window.json shape, read at "
            "startup. Its entries replace the built-in entries of the same name and add new "
            "ones."},
    {"litellm_settings.cache", GLOBAL(cache), .type = SL_CONFIG_T_BOOL, .def = "false",
     .doc = "Cache responses as set by cache_params."},
    {"litellm_settings.cache_params.type", GLOBAL(cache_type), .type = SL_CONFIG_T_ENUM,
     .choices = cache_types, .def = "redis",
     .doc = "Where cached responses live. Only redis is supported; LiteLLM's other types "
            "(local, s3, disk, semantic caches) fail the load."},
    /* The Redis keys have no env var: sl_redis_target_from_config() ranks REDIS_URL and
     * REDIS_HOST/PORT/PASSWORD against them, so the struct must keep the file's values. */
    {"litellm_settings.cache_params.host", GLOBAL(cache_host), .type = SL_CONFIG_T_STRING,
     .doc = "Redis host of Sluice's state; first choice after the REDIS_URL env var."},
    {"litellm_settings.cache_params.port", GLOBAL(cache_port), .type = SL_CONFIG_T_INT,
     .min = 1, .max = 65535, .doc = "Redis port that goes with cache_params.host (default 6379)."},
    {"litellm_settings.cache_params.password", GLOBAL(cache_password), .type = SL_CONFIG_T_STRING,
     .flags = SECRET | ENV_OPT, .doc = "Redis password that goes with cache_params.host."},
    {"litellm_settings.cache_params.ttl", GLOBAL(cache_ttl_s), .type = SL_CONFIG_T_DURATION,
     .def = "60", .min = 0.001, .max = 365 * DAY_S, .flags = RELOAD,
     .doc = "How long a cached response is served; a request's cache.ttl overrides it. 60 s "
            "is the default of LiteLLM's Redis cache."},
    {"litellm_settings.cache_params.namespace", GLOBAL(cache_namespace),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Prefix of every cache key, as `namespace:hash` (at most 256 bytes); a request's "
            "cache.namespace overrides it."},
    {"litellm_settings.cache_params.mode", GLOBAL(cache_mode), .type = SL_CONFIG_T_ENUM,
     .choices = cache_modes, .def = "default_on", .flags = RELOAD,
     .doc = "default_on caches every supported call; default_off caches only requests that "
            "send \"cache\": {\"use-cache\": true}."},
    {"litellm_settings.cache_params.supported_call_types", GLOBAL(cache_supported_call_types),
     .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .def = "completion, acompletion, embedding, aembedding, text_completion, atext_completion",
     .doc = "Call types whose responses are cached; an empty list turns response caching off."},
    {"litellm_settings.cache_params.shared_across_teams", GLOBAL(cache_shared_across_teams),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Let every team read the responses other teams cached (Sluice only; LiteLLM "
            "always shares). By default each team has its own entries."},
    {"litellm_settings.cache_params.max_entry_bytes", GLOBAL(cache_max_entry_bytes),
     .type = SL_CONFIG_T_INT, .def = "1048576", .min = 1024, .max = 64.0 * 1024 * 1024,
     .flags = RELOAD,
     .doc = "Largest cache entry stored, in bytes of encoded JSON; a larger response is "
            "served but not cached. At most 64 MiB, the cap of a decoded entry."},
    {"litellm_settings.upperbound_key_generate_params.max_budget", GLOBAL(key_upper_max_budget),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e15, .flags = RELOAD,
     .doc = "Largest max_budget (USD) a key may get; also the value of keys created without one."},
    {"litellm_settings.upperbound_key_generate_params.max_parallel_requests",
     GLOBAL(key_upper_max_parallel_requests), .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX,
     .flags = RELOAD, .doc = "Largest max_parallel_requests of a key, and its value when left out."},
    {"litellm_settings.upperbound_key_generate_params.tpm_limit", GLOBAL(key_upper_tpm_limit),
     .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Largest tpm_limit (tokens per minute) of a key, and its value when left out."},
    {"litellm_settings.upperbound_key_generate_params.rpm_limit", GLOBAL(key_upper_rpm_limit),
     .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Largest rpm_limit (requests per minute) of a key, and its value when left out."},
    {"litellm_settings.upperbound_key_generate_params.budget_duration",
     GLOBAL(key_upper_budget_duration), .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Longest budget_duration of a key, e.g. \"30d\" or \"1mo\"; \"-1\" sets no cap."},
    {"litellm_settings.upperbound_key_generate_params.duration", GLOBAL(key_upper_duration),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Longest lifetime (duration) of a key, e.g. \"90d\"; \"-1\" sets no cap."},
    {"litellm_settings.default_key_generate_params.max_budget", GLOBAL(key_default_max_budget),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e15, .flags = RELOAD,
     .doc = "max_budget (USD) of keys created without one."},
    {"litellm_settings.default_key_generate_params.max_parallel_requests",
     GLOBAL(key_default_max_parallel_requests), .type = SL_CONFIG_T_INT, .min = 0,
     .max = COUNT_MAX, .flags = RELOAD, .doc = "max_parallel_requests of keys created without one."},
    {"litellm_settings.default_key_generate_params.tpm_limit", GLOBAL(key_default_tpm_limit),
     .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "tpm_limit (tokens per minute) of keys created without one."},
    {"litellm_settings.default_key_generate_params.rpm_limit", GLOBAL(key_default_rpm_limit),
     .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "rpm_limit (requests per minute) of keys created without one."},
    {"litellm_settings.default_key_generate_params.budget_duration",
     GLOBAL(key_default_budget_duration), .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "budget_duration of keys created without one, e.g. \"30d\"."},
    {"litellm_settings.default_key_generate_params.duration", GLOBAL(key_default_duration),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Lifetime of keys created without a duration, e.g. \"30d\"."},
    {"litellm_settings.default_key_generate_params.user_id", GLOBAL(key_default_user_id),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD, .doc = "user_id of keys created without one."},
    {"litellm_settings.default_key_generate_params.team_id", GLOBAL(key_default_team_id),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD, .doc = "team_id of keys created without one."},
    {"litellm_settings.default_key_generate_params.models", GLOBAL(key_default_models),
     .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Models of keys created with an empty or absent models list."},
    {"litellm_settings.key_generation_settings.personal_key_generation.allowed_user_roles",
     GLOBAL(personal_key_allowed_roles), .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "User roles that may create keys without a team_id; unset or empty allows all."},
    {"litellm_settings.key_generation_settings.personal_key_generation.required_params",
     GLOBAL(personal_key_required_params), .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Body fields that a caller who is not an admin must send to create a personal key."},
    {"litellm_settings.key_generation_settings.team_key_generation.allowed_team_member_roles",
     GLOBAL(team_key_allowed_roles), .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Team roles (admin, user) whose members may create team keys; unset or empty allows "
            "both, within the team's team_member_permissions."},
    {"litellm_settings.key_generation_settings.team_key_generation.required_params",
     GLOBAL(team_key_required_params), .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Body fields that a caller who is not an admin must send to create a team key."},

    /* router_settings */
    {"router_settings.routing_strategy", GLOBAL(routing_strategy), .type = SL_CONFIG_T_ENUM,
     .choices = routing_strategies, .def = "simple-shuffle", .flags = RELOAD,
     .doc = "How a deployment is picked within a model group."},
    {"router_settings.default_max_parallel_requests", GLOBAL(default_max_parallel_requests),
     .type = SL_CONFIG_T_INT, .min = 1, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Requests in flight at once to a deployment that sets no max_parallel_requests, "
            "counted per gateway process; unset: no cap."},
    {"router_settings.routing_strategy_args.ttl", GLOBAL(routing_ttl_s),
     .type = SL_CONFIG_T_DURATION, .min = 1, .max = DAY_S, .flags = RELOAD,
     .doc = "latency-based-routing: age after which a latency sample is ignored (default 1h). "
            "usage-based-routing: lifetime of the minute counters in Redis (default 60s)."},
    {"router_settings.routing_strategy_args.lowest_latency_buffer",
     GLOBAL(routing_latency_buffer), .type = SL_CONFIG_T_DOUBLE, .def = "0", .min = 0, .max = 100,
     .flags = RELOAD,
     .doc = "latency-based-routing: pick at random among deployments whose mean latency is at "
            "most the lowest * (1 + this fraction)."},
    {"router_settings.routing_strategy_args.max_latency_list_size",
     GLOBAL(routing_max_latency_list_size), .type = SL_CONFIG_T_INT, .def = "10", .min = 1,
     .max = 1000, .flags = RELOAD,
     .doc = "latency-based-routing: latency samples kept per deployment."},
    {"router_settings.num_retries", GLOBAL(router_num_retries), .type = SL_CONFIG_T_INT,
     .min = 0, .max = RETRIES_MAX, .flags = RELOAD,
     .doc = "Retries within a model group; overrides litellm_settings.num_retries."},
    {"router_settings.fallbacks", GLOBAL(router_fallbacks), .type = SL_CONFIG_T_FALLBACKS,
     .flags = RELOAD, .doc = "As litellm_settings.fallbacks, which it replaces when not empty."},
    {"router_settings.context_window_fallbacks", GLOBAL(router_context_window_fallbacks),
     .type = SL_CONFIG_T_FALLBACKS, .flags = RELOAD,
     .doc = "As litellm_settings.context_window_fallbacks, which it replaces when not empty."},
    {"router_settings.content_policy_fallbacks", GLOBAL(router_content_policy_fallbacks),
     .type = SL_CONFIG_T_FALLBACKS, .flags = RELOAD,
     .doc = "As litellm_settings.content_policy_fallbacks, which it replaces when not empty."},
    {"router_settings.default_fallbacks", GLOBAL(router_default_fallbacks),
     .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "As litellm_settings.default_fallbacks, which it replaces when not empty."},
    {"router_settings.timeout", GLOBAL(router_timeout_s), .type = SL_CONFIG_T_DURATION,
     .min = 0.001, .max = DAY_S, .flags = RELOAD,
     .doc = "Upstream timeout for deployments that set none; overrides request_timeout."},
    {"router_settings.stream_timeout", GLOBAL(router_stream_timeout_s),
     .type = SL_CONFIG_T_DURATION, .min = 0.001, .max = DAY_S, .flags = RELOAD,
     .doc = "Idle time allowed before the first chunk and between chunks of a stream."},
    {"router_settings.redis_host", GLOBAL(redis_host), .type = SL_CONFIG_T_STRING,
     .doc = "Redis host, used when neither REDIS_URL nor cache_params.host is set; the "
            "REDIS_HOST/REDIS_PORT/REDIS_PASSWORD env vars come after it."},
    {"router_settings.redis_port", GLOBAL(redis_port), .type = SL_CONFIG_T_INT,
     .min = 1, .max = 65535, .doc = "Redis port that goes with redis_host (default 6379)."},
    {"router_settings.redis_password", GLOBAL(redis_password), .type = SL_CONFIG_T_STRING,
     .flags = SECRET | ENV_OPT, .doc = "Redis password that goes with redis_host."},
    {"router_settings.redis_url", GLOBAL(redis_url), .type = SL_CONFIG_T_STRING,
     .flags = SECRET | ENV_OPT,
     .doc = "Redis URL (redis://[[user]:password@]host[:port][/db]); wins over redis_host."},
    {"router_settings.cooldown_time", GLOBAL(cooldown_time_s), .type = SL_CONFIG_T_DURATION,
     .def = "5", .min = 0, .max = DAY_S, .flags = RELOAD,
     .doc = "How long a failing deployment is left out of routing."},
    {"router_settings.allowed_fails", GLOBAL(allowed_fails), .type = SL_CONFIG_T_INT,
     .min = 0, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Failures per minute a deployment may have before its cooldown. Unset (with no "
            "allowed_fails_policy): a 429 in a group of several deployments cools down at once, "
            "other failures after 3."},
    {"router_settings.retry_after", GLOBAL(retry_after_s), .type = SL_CONFIG_T_DURATION,
     .def = "0", .min = 0, .max = DAY_S, .flags = RELOAD,
     .doc = "Minimum wait before a retry."},
    {"router_settings.retry_policy", GLOBAL(retry_policy), .type = SL_CONFIG_T_RETRY_POLICY,
     .max = RETRIES_MAX, .flags = RELOAD,
     .doc = "Retries per error class, e.g. {RateLimitErrorRetries: 3, TimeoutErrorRetries: 1}; "
            "each class it names overrides num_retries. Keys: BadRequestErrorRetries, "
            "AuthenticationErrorRetries, TimeoutErrorRetries, RateLimitErrorRetries, "
            "ContentPolicyViolationErrorRetries, InternalServerErrorRetries."},
    {"router_settings.model_group_retry_policy", GLOBAL(model_group_retry_policy),
     .type = SL_CONFIG_T_GROUP_RETRY_POLICY, .max = RETRIES_MAX, .flags = RELOAD,
     .doc = "Map of model group to a retry_policy that replaces router_settings.retry_policy "
            "for that group."},
    {"router_settings.allowed_fails_policy", GLOBAL(allowed_fails_policy),
     .type = SL_CONFIG_T_ALLOWED_FAILS_POLICY, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Failures per minute allowed per error class before a cooldown, e.g. "
            "{RateLimitErrorAllowedFails: 10}; classes it does not name use allowed_fails. Keys: "
            "BadRequestErrorAllowedFails, AuthenticationErrorAllowedFails, "
            "TimeoutErrorAllowedFails, RateLimitErrorAllowedFails, "
            "ContentPolicyViolationErrorAllowedFails, InternalServerErrorAllowedFails."},
    {"router_settings.disable_cooldowns", GLOBAL(disable_cooldowns), .type = SL_CONFIG_T_BOOL,
     .def = "false", .flags = RELOAD,
     .doc = "Never cool a deployment down, and ignore cooldowns other gateways publish."},
    {"router_settings.enable_pre_call_checks", GLOBAL(enable_pre_call_checks),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Skip deployments whose model_info.max_input_tokens is below the request's estimated "
            "input tokens (bytes of text / 4); when none is left, use context_window_fallbacks."},
    {"router_settings.health_check_interval", .scope = SL_CONFIG_GLOBAL,
     .type = SL_CONFIG_T_MISPLACED,
     .doc = "'health_check_interval' is not a valid router_settings parameter; move it to "
            "general_settings"},

    /* model_list[] */
    {"model_name", DEPLOY(model_name), .type = SL_CONFIG_T_STRING,
     .flags = SL_CONFIG_REQUIRED | RELOAD, .doc = "Model group name that clients send as `model`."},
    {"litellm_params.model", DEPLOY(model), .type = SL_CONFIG_T_STRING,
     .flags = SL_CONFIG_REQUIRED | RELOAD,
     .doc = "provider/model, e.g. openai/gpt-4o-mini; a name without a slash means openai."},
    {"litellm_params.api_key", DEPLOY(api_key), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD | SECRET | ENV_OPT, .doc = "Provider credential, sent as a bearer token."},
    {"litellm_params.api_base", DEPLOY(api_base), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD | ENV_OPT,
     .doc = "Provider base URL, e.g. https://api.openai.com/v1; unset means the provider's own."},
    {"litellm_params.api_version", DEPLOY(api_version), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "Azure API version."},
    {"litellm_params.organization", DEPLOY(organization), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD | ENV_OPT, .doc = "OpenAI organization id."},
    {"litellm_params.timeout", DEPLOY(timeout_s), .type = SL_CONFIG_T_DURATION, .min = 0.001,
     .max = DAY_S, .flags = RELOAD, .doc = "Upstream timeout of this deployment."},
    {"litellm_params.stream_timeout", DEPLOY(stream_timeout_s), .type = SL_CONFIG_T_DURATION,
     .min = 0.001, .max = DAY_S, .flags = RELOAD,
     .doc = "Idle time allowed before the first chunk and between chunks of a stream."},
    {"litellm_params.max_retries", DEPLOY(max_retries), .type = SL_CONFIG_T_INT, .min = 0,
     .max = RETRIES_MAX, .flags = RELOAD, .doc = "Retries of one upstream call."},
    {"litellm_params.num_retries", DEPLOY(num_retries), .type = SL_CONFIG_T_INT, .min = 0,
     .max = RETRIES_MAX, .flags = RELOAD, .doc = "Retries within the group for this deployment."},
    {"litellm_params.rpm", DEPLOY(rpm), .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX,
     .flags = RELOAD, .doc = "Requests per minute this deployment accepts."},
    {"litellm_params.tpm", DEPLOY(tpm), .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX,
     .flags = RELOAD, .doc = "Tokens per minute this deployment accepts."},
    {"litellm_params.weight", DEPLOY(weight), .type = SL_CONFIG_T_DOUBLE, .min = 0,
     .max = COUNT_MAX, .flags = RELOAD, .doc = "Relative share of traffic in simple-shuffle."},
    {"litellm_params.order", DEPLOY(order), .type = SL_CONFIG_T_INT, .min = 0, .max = COUNT_MAX,
     .flags = RELOAD,
     .doc = "Priority tier: only the lowest order among the deployments that can take a request "
            "is used; unset comes after every order."},
    {"litellm_params.max_parallel_requests", DEPLOY(max_parallel_requests),
     .type = SL_CONFIG_T_INT, .min = 1, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Requests in flight at once to this deployment."},
    {"litellm_params.input_cost_per_token", DEPLOY(input_cost_per_token),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a prompt token in USD."},
    {"litellm_params.output_cost_per_token", DEPLOY(output_cost_per_token),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a completion token in USD."},
    {"litellm_params.cache_read_input_token_cost", DEPLOY(cache_read_input_token_cost),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a prompt token read from the provider's cache in USD; default: the input "
            "price."},
    {"litellm_params.cache_creation_input_token_cost", DEPLOY(cache_creation_input_token_cost),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a prompt token written to the provider's cache in USD; default: the input "
            "price."},
    {"litellm_params.output_cost_per_reasoning_token", DEPLOY(output_cost_per_reasoning_token),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a reasoning token (part of the completion) in USD; default: the output "
            "price."},
    {"litellm_params.extra_headers", DEPLOY(extra_headers),
     .aux = offsetof(struct sl_deployment, n_extra_headers), .type = SL_CONFIG_T_HEADERS,
     .flags = RELOAD, .doc = "Map of HTTP headers added to every upstream request."},
    {"litellm_params.region_name", DEPLOY(region_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "Provider region."},
    {"litellm_params.aws_access_key_id", DEPLOY(aws_access_key_id), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD | SECRET | ENV_OPT, .doc = "AWS access key id."},
    {"litellm_params.aws_secret_access_key", DEPLOY(aws_secret_access_key),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD | SECRET | ENV_OPT,
     .doc = "AWS secret access key."},
    {"litellm_params.aws_session_token", DEPLOY(aws_session_token), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD | SECRET | ENV_OPT, .doc = "AWS session token."},
    {"litellm_params.aws_region_name", DEPLOY(aws_region_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "AWS region, e.g. us-east-1."},
    {"litellm_params.aws_role_name", DEPLOY(aws_role_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "AWS role to assume."},
    {"litellm_params.aws_session_name", DEPLOY(aws_session_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "Session name when assuming aws_role_name."},
    {"litellm_params.aws_profile_name", DEPLOY(aws_profile_name), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD, .doc = "AWS profile of the shared credentials file."},
    {"litellm_params.aws_bedrock_runtime_endpoint", DEPLOY(aws_bedrock_runtime_endpoint),
     .type = SL_CONFIG_T_STRING, .flags = RELOAD, .doc = "Bedrock runtime endpoint URL."},
    {"litellm_params.tags", DEPLOY(tags), .type = SL_CONFIG_T_STRLIST, .flags = RELOAD,
     .doc = "Tags for tag-based routing."},
    {"model_info.id", DEPLOY(id), .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Stable deployment id; default: SHA-256 of the model name and litellm_params."},
    {"model_info.mode", DEPLOY(mode), .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Kind of model: chat, completion, embedding, ..."},
    {"model_info.base_model", DEPLOY(base_model), .type = SL_CONFIG_T_STRING, .flags = RELOAD,
     .doc = "Model name used to look up prices."},
    {"model_info.input_cost_per_token", DEPLOY(info_prices.input), .type = SL_CONFIG_T_DOUBLE,
     .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a prompt token in USD, when litellm_params sets none."},
    {"model_info.output_cost_per_token", DEPLOY(info_prices.output), .type = SL_CONFIG_T_DOUBLE,
     .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a completion token in USD, when litellm_params sets none."},
    {"model_info.cache_read_input_token_cost", DEPLOY(info_prices.cache_read),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a cache-read prompt token in USD, when litellm_params sets none."},
    {"model_info.cache_creation_input_token_cost", DEPLOY(info_prices.cache_creation),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a cache-write prompt token in USD, when litellm_params sets none."},
    {"model_info.output_cost_per_reasoning_token", DEPLOY(info_prices.reasoning),
     .type = SL_CONFIG_T_DOUBLE, .min = 0, .max = 1e6, .flags = RELOAD,
     .doc = "Price of a reasoning token in USD, when litellm_params sets none."},
    {"model_info.access_groups", DEPLOY(access_groups), .type = SL_CONFIG_T_STRLIST,
     .flags = RELOAD, .doc = "Access groups this deployment belongs to."},
    {"model_info.max_input_tokens", DEPLOY(max_input_tokens), .type = SL_CONFIG_T_INT,
     .min = 1, .max = COUNT_MAX, .flags = RELOAD,
     .doc = "Context window in input tokens, checked when router_settings."
            "enable_pre_call_checks is true."},
    {"model_info.health_check_model", DEPLOY(health_check_model), .type = SL_CONFIG_T_STRING,
     .flags = RELOAD,
     .doc = "Model that health checks ask for, e.g. for a wildcard deployment (`openai/*`)."},
    {"model_info.disable_background_health_check", DEPLOY(disable_background_health_check),
     .type = SL_CONFIG_T_BOOL, .def = "false", .flags = RELOAD,
     .doc = "Leave this deployment out of background health checks."},
    {"model_info.health_check_timeout", DEPLOY(health_check_timeout_s),
     .type = SL_CONFIG_T_DURATION, .def = "60", .min = 1, .max = 600, .flags = RELOAD,
     .doc = "Deadline of one health check call of this deployment."},
};

const size_t sl_config__n_options = sizeof(sl_config__options) / sizeof(sl_config__options[0]);

const struct sl_config_option *
sl_config__find(enum sl_config_scope scope, const char *path)
{
    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->scope == scope && strcmp(opt->path, path) == 0)
            return opt;
    }
    return NULL;
}

int
sl_config__is_section(enum sl_config_scope scope, const char *prefix)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->scope == scope && strncmp(opt->path, prefix, n) == 0 && opt->path[n] == '.')
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Typed setters                                                                            */
/* ---------------------------------------------------------------------------------------- */

#define SLOT(base, opt, type) ((type *)(void *)((char *)(base) + (opt)->offset))
#define AUX(base, opt, type) ((type *)(void *)((char *)(base) + (opt)->aux))

/* Quotes `text` for a message: capped, with bytes outside printable ASCII as \xNN. */
static void
quote(char *dst, size_t size, const char *text, const struct sl_config_option *opt)
{
    size_t j = 0;

    if (opt->flags & SL_CONFIG_SECRET) {
        snprintf(dst, size, "(value hidden)");
        return;
    }
    dst[j++] = '"';
    for (size_t i = 0; text[i] != '\0' && j + 8 < size; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            j += (size_t)snprintf(dst + j, size - j, "\\x%02x", c);
        else
            dst[j++] = (char)c;
        if (i >= 80) {
            j += (size_t)snprintf(dst + j, size - j, "...");
            break;
        }
    }
    dst[j++] = '"';
    dst[j] = '\0';
}

static int
parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On",
                                      "ON", "1", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off",
                                     "OFF", "0", NULL};

    for (size_t i = 0; yes[i] != NULL; i++) {
        if (strcmp(text, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcmp(text, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* Accepts an optional '-' and decimal digits only, so "0x10", " 5" and "5.0" are invalid. */
static int
parse_int(const char *text, int64_t *out)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    char *end;
    long long v;

    if (*p == '\0' || strlen(p) > 19 || strspn(p, "0123456789") != strlen(p))
        return 0;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* Accepts decimal and exponent notation; rejects hex, "inf", "nan" and spaces. */
static int
parse_double(const char *text, double *out)
{
    char *end;
    double v;

    if (*text == '\0' || strlen(text) > 64 || strspn(text, "0123456789.eE+-") != strlen(text))
        return 0;
    v = strtod(text, &end);
    if (*end != '\0' || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int
has_control_chars(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 1;
    }
    return 0;
}

static int
in_bounds(const struct sl_config_option *opt, double v)
{
    return !(opt->min < opt->max) || (v >= opt->min && v <= opt->max);
}

static enum sl_status
out_of_bounds(const struct sl_config_option *opt, const char *quoted, const char *unit,
              struct sl_errbuf *why)
{
    sl_errbuf_set(why, "value %s is out of range (expected %g to %g%s)", quoted, opt->min,
                  opt->max, unit);
    return SL_ERR_CONFIG;
}

static enum sl_status
set_number(const struct sl_config_option *opt, void *base, const char *text, const char *quoted,
           struct sl_errbuf *why)
{
    int64_t i;
    double d;
    uint64_t bytes;

    switch (opt->type) {
    case SL_CONFIG_T_INT:
        if (!parse_int(text, &i)) {
            sl_errbuf_set(why, "invalid integer %s (expected a whole number)", quoted);
            return SL_ERR_CONFIG;
        }
        if (!in_bounds(opt, (double)i))
            return out_of_bounds(opt, quoted, "", why);
        *SLOT(base, opt, int64_t) = i;
        return SL_OK;
    case SL_CONFIG_T_DOUBLE:
        if (!parse_double(text, &d)) {
            sl_errbuf_set(why, "invalid number %s (expected e.g. 0.5)", quoted);
            return SL_ERR_CONFIG;
        }
        if (!in_bounds(opt, d))
            return out_of_bounds(opt, quoted, "", why);
        *SLOT(base, opt, double) = d;
        return SL_OK;
    case SL_CONFIG_T_DURATION:
        if (sl_units_parse_duration(text, &d) != SL_OK) {
            sl_errbuf_set(why, "invalid duration %s (expected seconds, e.g. 30 or \"30s\")",
                          quoted);
            return SL_ERR_CONFIG;
        }
        if (!in_bounds(opt, d))
            return out_of_bounds(opt, quoted, " seconds", why);
        *SLOT(base, opt, double) = d;
        return SL_OK;
    case SL_CONFIG_T_SIZE_MB:
        if (sl_units_parse_size_mb(text, &bytes) != SL_OK || !parse_double(text, &d)) {
            sl_errbuf_set(why, "invalid size %s (expected mebibytes, e.g. 32)", quoted);
            return SL_ERR_CONFIG;
        }
        if (!in_bounds(opt, d))
            return out_of_bounds(opt, quoted, " MiB", why);
        *SLOT(base, opt, uint64_t) = bytes;
        return SL_OK;
    default:
        sl_errbuf_set(why, "internal error: option %s is not a number", opt->path);
        return SL_ERR_CONFIG;
    }
}

static enum sl_status
set_enum(const struct sl_config_option *opt, void *base, const char *text, const char *quoted,
         struct sl_errbuf *why)
{
    char expected[256] = "";
    size_t used = 0;

    for (int i = 0; opt->choices[i] != NULL; i++) {
        if (strcmp(text, opt->choices[i]) == 0) {
            *SLOT(base, opt, int) = i;
            return SL_OK;
        }
        used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%s%s",
                                 i > 0 ? ", " : "", opt->choices[i]);
        if (used >= sizeof(expected))
            used = sizeof(expected) - 1;
    }
    sl_errbuf_set(why, "invalid value %s (expected one of: %s)", quoted, expected);
    return SL_ERR_CONFIG;
}

enum sl_status
sl_config__set_scalar(const struct sl_config_option *opt, void *base, const char *text,
                      struct sl_errbuf *why)
{
    char quoted[128];
    int b;

    quote(quoted, sizeof(quoted), text, opt);

    switch (opt->type) {
    case SL_CONFIG_T_STRING:
        if (has_control_chars(text)) {
            sl_errbuf_set(why, "invalid string %s (control characters are not allowed)",
                          quoted);
            return SL_ERR_CONFIG;
        }
        free(*SLOT(base, opt, char *));
        /* An empty string means the same as an absent key. */
        *SLOT(base, opt, char *) = text[0] != '\0' ? sl_xstrdup(text) : NULL;
        return SL_OK;
    case SL_CONFIG_T_BOOL:
        if (!parse_bool(text, &b)) {
            sl_errbuf_set(why, "invalid boolean %s (expected true or false)", quoted);
            return SL_ERR_CONFIG;
        }
        *SLOT(base, opt, int) = b;
        return SL_OK;
    case SL_CONFIG_T_BOOL_OR_PATH:
        free(*AUX(base, opt, char *));
        *AUX(base, opt, char *) = NULL;
        if (parse_bool(text, &b)) {
            *SLOT(base, opt, int) = b;
            return SL_OK;
        }
        if (text[0] == '\0' || has_control_chars(text)) {
            sl_errbuf_set(why, "invalid value %s (expected true, false or a CA bundle path)",
                          quoted);
            return SL_ERR_CONFIG;
        }
        *SLOT(base, opt, int) = 1;
        *AUX(base, opt, char *) = sl_xstrdup(text);
        return SL_OK;
    case SL_CONFIG_T_ENUM:
        return set_enum(opt, base, text, quoted, why);
    case SL_CONFIG_T_MISPLACED:
        sl_errbuf_set(why, "%s", opt->doc);
        return SL_ERR_CONFIG;
    case SL_CONFIG_T_STRLIST:
        sl_errbuf_set(why, "invalid value %s (expected a list, e.g. [a, b])", quoted);
        return SL_ERR_CONFIG;
    case SL_CONFIG_T_HEADERS:
        sl_errbuf_set(why, "invalid value %s (expected a map of header names to values)",
                      quoted);
        return SL_ERR_CONFIG;
    case SL_CONFIG_T_FALLBACKS:
        sl_errbuf_set(why, "invalid value %s (expected a list of maps, e.g. [{a: [b, c]}])",
                      quoted);
        return SL_ERR_CONFIG;
    case SL_CONFIG_T_RETRY_POLICY:
    case SL_CONFIG_T_ALLOWED_FAILS_POLICY:
    case SL_CONFIG_T_GROUP_RETRY_POLICY:
        sl_errbuf_set(why, "invalid value %s (expected a map, e.g. {RateLimitErrorRetries: 3})",
                      quoted);
        return SL_ERR_CONFIG;
    default:
        return set_number(opt, base, text, quoted, why);
    }
}

void
sl_config__unset_string(const struct sl_config_option *opt, void *base)
{
    free(*SLOT(base, opt, char *));
    *SLOT(base, opt, char *) = NULL;
}

/* Fills an empty list from a default written as "a, b, c"; NULL leaves it empty. */
static void
set_default_strlist(struct sl_strlist *list, const char *def)
{
    const char *p = def;

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

        while (n > 0 && p[0] == ' ') {
            p++;
            n--;
        }
        list->items = sl_xrealloc(list->items, (list->n + 1) * sizeof(char *));
        list->items[list->n++] = sl_xstrndup(p, n);
        p = comma != NULL ? comma + 1 : NULL;
    }
}

void
sl_config__set_defaults(enum sl_config_scope scope, void *base)
{
    struct sl_errbuf why;

    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->scope != scope)
            continue;
        switch (opt->type) {
        case SL_CONFIG_T_INT:
            *SLOT(base, opt, int64_t) = SL_CONFIG_UNSET_INT;
            break;
        case SL_CONFIG_T_DOUBLE:
        case SL_CONFIG_T_DURATION:
            *SLOT(base, opt, double) = NAN;
            break;
        case SL_CONFIG_T_RETRY_POLICY:
        case SL_CONFIG_T_ALLOWED_FAILS_POLICY:
            sl_config__error_policy_clear(SLOT(base, opt, struct sl_error_policy));
            break;
        default:
            break; /* strings, lists and the rest start zeroed */
        }
        if (opt->type == SL_CONFIG_T_STRLIST) {
            set_default_strlist(SLOT(base, opt, struct sl_strlist), opt->def);
            continue;
        }
        if (opt->def != NULL && sl_config__set_scalar(opt, base, opt->def, &why) != SL_OK)
            abort(); /* a default that its own setter rejects is a bug in the table */
    }
}

void
sl_config__strlist_dispose(struct sl_strlist *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

void
sl_config__fallbacks_dispose(struct sl_fallbacks *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].group);
        sl_config__strlist_dispose(&list->items[i].targets);
    }
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

void
sl_config__error_policy_clear(struct sl_error_policy *policy)
{
    for (size_t i = 0; i < SL_ERROR_CLASS_COUNT; i++)
        policy->counts[i] = SL_CONFIG_UNSET_INT;
    policy->set = 0;
}

void
sl_config__group_policies_dispose(struct sl_group_policies *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i].group);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

void
sl_config__dispose_slots(enum sl_config_scope scope, void *base)
{
    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->scope != scope)
            continue;
        switch (opt->type) {
        case SL_CONFIG_T_STRING:
            sl_config__unset_string(opt, base);
            break;
        case SL_CONFIG_T_BOOL_OR_PATH:
            free(*AUX(base, opt, char *));
            *AUX(base, opt, char *) = NULL;
            break;
        case SL_CONFIG_T_STRLIST:
            sl_config__strlist_dispose(SLOT(base, opt, struct sl_strlist));
            break;
        case SL_CONFIG_T_FALLBACKS:
            sl_config__fallbacks_dispose(SLOT(base, opt, struct sl_fallbacks));
            break;
        case SL_CONFIG_T_GROUP_RETRY_POLICY:
            sl_config__group_policies_dispose(SLOT(base, opt, struct sl_group_policies));
            break;
        case SL_CONFIG_T_HEADERS: {
            struct sl_header *h = *SLOT(base, opt, struct sl_header *);
            size_t n = *AUX(base, opt, size_t);

            for (size_t j = 0; j < n; j++) {
                free(h[j].name);
                free(h[j].value);
            }
            free(h);
            *SLOT(base, opt, struct sl_header *) = NULL;
            *AUX(base, opt, size_t) = 0;
            break;
        }
        default:
            break;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Reference and --help                                                                     */
/* ---------------------------------------------------------------------------------------- */

static const char reference_intro[] =
    "# Configuration reference\n"
    "\n"
    "<!-- Generated by sl_config_write_reference() from the option table in\n"
    "     common/config_table.c. Do not edit: change the table, then run\n"
    "     `SL_UPDATE_DOCS=1 <build>/tests/config_test config_reference_matches_docs`.\n"
    "     The unit test fails while this file and the table differ. -->\n"
    "\n"
    "Sluice reads one YAML file in the shape of LiteLLM's proxy `config.yaml`, given with\n"
    "`--config FILE`. A file larger than 4 MiB, an empty file and a file whose top level is not\n"
    "a mapping are rejected. Errors name the file, the line and column, the key path (e.g.\n"
    "`model_list[1].litellm_params.timeout`) and the offending value, except for secrets.\n"
    "\n"
    "The file is read once, at start, so every change needs a restart. sluice-gateway and\n"
    "sluice-coordinator log SIGHUP (`gateway.reload_unsupported`,\n"
    "`coordinator.reload_unsupported`) and keep running with the config they started with.\n"
    "The \"Reload\" column records whether an option could change without a restart once a\n"
    "reload exists. No reload exists yet, so the column has no effect today. The `models`\n"
    "table of the database is reloaded on its own, as models-in-db.md describes.\n"
    "\n"
    "## How a value is resolved\n"
    "\n"
    "1. `environment_variables` is read first: each entry is copied into the process\n"
    "   environment with setenv(), in file order. A value may be `os.environ/NAME`.\n"
    "2. Every string of the form `os.environ/NAME`, anywhere in the file (settings, model_list\n"
    "   entries, list items, header values), is replaced by the value of the environment\n"
    "   variable `NAME`. When `NAME` is not set the load fails, naming the key and the\n"
    "   variable, except for the keys listed below, which are then left unset. Each such\n"
    "   variable is listed once in the load result, for the gateway to log as a warning.\n"
    "3. Each option starts from its default, then takes the value in the file, then the value\n"
    "   of its environment variable (column \"Env var\") when that variable is set and not\n"
    "   empty. The environment variable wins over the file. LiteLLM does it the other way\n"
    "   round for some keys (e.g. `LITELLM_MASTER_KEY` applies only when `master_key` is\n"
    "   absent), which matters only when both are set and differ.\n"
    "\n"
    "Keys that may refer to an unset variable:\n";

static const char reference_rules[] =
    "\n"
    "## Values\n"
    "\n"
    "- `~`, `null` and an empty value mean the key is absent; an empty string leaves a\n"
    "  string option unset.\n"
    "- Booleans: `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).\n"
    "- Durations are seconds: a number (`30`, `1.5`, `\"30\"`) or a number with one unit among\n"
    "  `s`, `m`, `h`, `d` and `w` (`\"30s\"`, `\"5m\"`, `\"1h\"`, `\"2d\"`, `\"1w\"`).\n"
    "- Sizes ending in `_mb` are mebibytes (1 MiB = 1048576 bytes) and may have a fraction.\n"
    "- Strings may not contain control characters other than tab.\n"
    "- Wrong types and values out of range fail the load. A key given twice in one mapping\n"
    "  fails the load.\n"
    "- Keys that Sluice does not know, including LiteLLM keys it does not implement, do not\n"
    "  fail the load: the gateway logs each one once as a `config.unknown_key` warning and\n"
    "  ignores it. `router_settings.health_check_interval` is the exception: as in LiteLLM,\n"
    "  it fails the load because it belongs in `general_settings`.\n"
    "\n"
    "## Deployments\n"
    "\n"
    "Each `model_list` entry is a deployment of the model group `model_name`.\n"
    "`litellm_params.model` is `provider/name`, split at the first slash:\n"
    "`hosted_vllm/meta/llama` is provider `hosted_vllm` and model `meta/llama`, and a name\n"
    "without a slash such as `gpt-4o` is provider `openai`.\n"
    "\n"
    "A deployment's id is `model_info.id` when given. Otherwise it is the lowercase hex\n"
    "SHA-256 of the bytes of `model_name` followed, for each `litellm_params` entry in file\n"
    "order, by the key and then the value, with no separators. Values are hashed as written\n"
    "in the file, before `os.environ/` is resolved, so rotating a secret keeps the id. A\n"
    "nested map or list is hashed as compact JSON in which every scalar is a string, e.g.\n"
    "`{\"X-Team\":\"a\"}`. LiteLLM hashes the same parts but after resolving secrets and\n"
    "with Python's rendering of values, so its ids differ from these; set `model_info.id`\n"
    "to keep ids stable across both.\n";

static const char *const sections[][2] = {
    {"general_settings.", "general_settings"},
    {"litellm_settings.", "litellm_settings"},
    {"router_settings.", "router_settings"},
};

static void
write_type(FILE *f, const struct sl_config_option *opt)
{
    static const char *const names[] = {
        [SL_CONFIG_T_STRING] = "string",         [SL_CONFIG_T_BOOL] = "boolean",
        [SL_CONFIG_T_INT] = "integer",           [SL_CONFIG_T_DOUBLE] = "number",
        [SL_CONFIG_T_DURATION] = "duration (s)", [SL_CONFIG_T_SIZE_MB] = "size (MiB)",
        [SL_CONFIG_T_ENUM] = "one of",           [SL_CONFIG_T_STRLIST] = "list of strings",
        [SL_CONFIG_T_HEADERS] = "map of strings", [SL_CONFIG_T_BOOL_OR_PATH] = "boolean or path",
        [SL_CONFIG_T_MISPLACED] = "",            [SL_CONFIG_T_FALLBACKS] = "list of maps",
        [SL_CONFIG_T_RETRY_POLICY] = "map of integers",
        [SL_CONFIG_T_ALLOWED_FAILS_POLICY] = "map of integers",
        [SL_CONFIG_T_GROUP_RETRY_POLICY] = "map of maps",
    };

    fputs(names[opt->type], f);
    if (opt->type == SL_CONFIG_T_ENUM) {
        for (size_t i = 0; opt->choices[i] != NULL; i++)
            fprintf(f, "%s`%s`", i > 0 ? ", " : " ", opt->choices[i]);
    }
    if (opt->min < opt->max)
        fprintf(f, ", %g to %g", opt->min, opt->max);
}

static void
write_row(FILE *f, const char *key_prefix, const struct sl_config_option *opt)
{
    fprintf(f, "| `%s%s` | ", key_prefix, opt->path);
    write_type(f, opt);
    if (opt->def != NULL)
        fprintf(f, " | `%s`", opt->def);
    else
        fprintf(f, " | %s", (opt->flags & SL_CONFIG_REQUIRED) ? "required" : "unset");
    fprintf(f, " | %s%s%s | %s | %s |\n", opt->env != NULL ? "`" : "",
            opt->env != NULL ? opt->env : "", opt->env != NULL ? "`" : "",
            (opt->flags & SL_CONFIG_RELOADABLE) ? "yes" : "no", opt->doc);
}

static void
write_table_head(FILE *f, const char *title)
{
    fprintf(f, "\n## `%s`\n\n", title);
    fputs("| Key | Type | Default | Env var | Reload | Description |\n", f);
    fputs("|---|---|---|---|---|---|\n", f);
}

void
sl_config_write_reference(FILE *f)
{
    fputs(reference_intro, f);
    fputs("\n", f);
    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->flags & SL_CONFIG_ENV_OPTIONAL)
            fprintf(f, "- `%s%s`\n", opt->scope == SL_CONFIG_DEPLOYMENT ? "model_list[]." : "",
                    opt->path);
    }
    fputs(reference_rules, f);

    for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
        write_table_head(f, sections[s][1]);
        for (size_t i = 0; i < sl_config__n_options; i++) {
            const struct sl_config_option *opt = &sl_config__options[i];

            if (opt->scope == SL_CONFIG_GLOBAL && opt->type != SL_CONFIG_T_MISPLACED &&
                strncmp(opt->path, sections[s][0], strlen(sections[s][0])) == 0)
                write_row(f, "", opt);
        }
    }

    write_table_head(f, "model_list[]");
    for (size_t i = 0; i < sl_config__n_options; i++) {
        if (sl_config__options[i].scope == SL_CONFIG_DEPLOYMENT)
            write_row(f, "", &sl_config__options[i]);
    }
}

void
sl_config_write_help(FILE *f)
{
    fputs("Configuration file options (config.yaml keys; an env var overrides its key):\n", f);
    for (size_t i = 0; i < sl_config__n_options; i++) {
        const struct sl_config_option *opt = &sl_config__options[i];

        if (opt->type == SL_CONFIG_T_MISPLACED)
            continue;
        fprintf(f, "  %s%s [", opt->scope == SL_CONFIG_DEPLOYMENT ? "model_list[]." : "",
                opt->path);
        write_type(f, opt);
        fprintf(f, "; default %s", opt->def != NULL ? opt->def : "unset");
        if (opt->env != NULL)
            fprintf(f, "; env %s", opt->env);
        fprintf(f, "]\n      %s\n", opt->doc);
    }
    fputs("The full reference is docs/configuration.md.\n", f);
}
