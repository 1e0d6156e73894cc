/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config -- the gateway's config.yaml (LiteLLM's shape), loaded into one typed struct.
 *
 * Every option is a row of one table (path, env var, type, default, bounds, reloadable, doc);
 * the loader, docs/configuration.md and --help all come from that table. Loading runs at
 * startup or on reload, on one thread, before workers read the result; a loaded struct
 * sl_config is read-only and owns all its strings. Unknown keys never fail a load: they are
 * listed in `unknown_keys` for the caller to log.
 *
 * Unset values: strings and pointers are NULL, counts 0, integers SL_CONFIG_UNSET_INT (-1),
 * doubles NAN (test with isnan()). Options with a default are never unset after a load.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/status.h"

/* A config file larger than this is rejected before it is read. */
#define SL_CONFIG_MAX_BYTES (4u * 1024u * 1024u)

/* Value of an integer option that the file and the environment left unset. */
#define SL_CONFIG_UNSET_INT (-1)

/* Length of a generated deployment id: hex SHA-256, without the NUL. */
#define SL_CONFIG_DEPLOYMENT_ID_LEN 64

struct sl_strlist {
    char **items; /* owned */
    size_t n;
};

struct sl_header {
    char *name;  /* owned */
    char *value; /* owned */
};

/* One entry of a fallbacks list: the model groups tried, in order, after `group` failed. */
struct sl_fallback {
    char *group; /* owned; "*" applies to every group */
    struct sl_strlist targets;
};

/* A fallbacks option, written in YAML as [{"group": ["backup", ...]}, ...]. */
struct sl_fallbacks {
    struct sl_fallback *items; /* owned */
    size_t n;
};

/* general_settings.redis_failure_mode: what rate limits do while Redis is unreachable. */
enum sl_redis_failure_mode {
    SL_REDIS_FAIL_OPEN,   /* let requests through */
    SL_REDIS_FAIL_CLOSED, /* reject them with 503 */
};

/* general_settings.token_rate_limit_type: the tokens a tpm_limit counts. */
enum sl_token_limit_type {
    SL_TOKENS_TOTAL,  /* prompt minus cached prompt tokens, plus completion */
    SL_TOKENS_INPUT,  /* prompt minus cached prompt tokens */
    SL_TOKENS_OUTPUT, /* completion */
};

/* router_settings.routing_strategy (LiteLLM's names). */
enum sl_routing_strategy {
    SL_ROUTING_SIMPLE_SHUFFLE,
    SL_ROUTING_LEAST_BUSY,
    SL_ROUTING_USAGE_BASED,
    SL_ROUTING_USAGE_BASED_V2,
    SL_ROUTING_LATENCY_BASED,
    SL_ROUTING_COST_BASED,
};

/* litellm_settings.cache_params.type: Redis is the only response cache Sluice has. */
enum sl_cache_type {
    SL_CACHE_REDIS,
};

/* litellm_settings.cache_params.mode (LiteLLM's names). */
enum sl_cache_mode {
    SL_CACHE_DEFAULT_ON,  /* cache every supported call */
    SL_CACHE_DEFAULT_OFF, /* cache only requests that send "cache": {"use-cache": true} */
};

/* Maximum length of litellm_settings.cache_params.namespace, in bytes. */
#define SL_CONFIG_CACHE_NAMESPACE_MAX 256

/* Prices of one model in USD per token, each NAN when unset. */
struct sl_token_prices {
    double input;          /* input_cost_per_token */
    double output;         /* output_cost_per_token */
    double cache_read;     /* cache_read_input_token_cost */
    double cache_creation; /* cache_creation_input_token_cost */
    double reasoning;      /* output_cost_per_reasoning_token */
};

/* Error classes of router_settings.retry_policy and allowed_fails_policy, named after
 * LiteLLM's exceptions: a policy key is the name followed by "Retries" or "AllowedFails". */
enum sl_error_class {
    SL_ERROR_BAD_REQUEST,     /* BadRequestError: 400, 404, 413, 422, context window */
    SL_ERROR_AUTHENTICATION,  /* AuthenticationError: 401, 403 */
    SL_ERROR_TIMEOUT,         /* Timeout: 408 and upstream timeouts */
    SL_ERROR_RATE_LIMIT,      /* RateLimitError: 429 */
    SL_ERROR_CONTENT_POLICY,  /* ContentPolicyViolationError */
    SL_ERROR_INTERNAL_SERVER, /* InternalServerError: 409, 5xx and connection errors */
};
#define SL_ERROR_CLASS_COUNT 6

/* A retry_policy or allowed_fails_policy: a count per error class. */
struct sl_error_policy {
    int64_t counts[SL_ERROR_CLASS_COUNT]; /* SL_CONFIG_UNSET_INT where the policy names none */
    int set;                              /* 1 when the policy was given, even empty */
};

/* One entry of router_settings.model_group_retry_policy. */
struct sl_group_policy {
    char *group; /* owned */
    struct sl_error_policy policy;
};

struct sl_group_policies {
    struct sl_group_policy *items; /* owned */
    size_t n;
};

/* One entry of model_list: a deployment of a model group. */
struct sl_deployment {
    char *id;             /* model_info.id, else sl_config_deployment_id(); never NULL */
    char *model_name;     /* the model group clients ask for; never NULL */
    char *model;          /* litellm_params.model as written, e.g. "openai/gpt-4o-mini" */
    char *provider;       /* text before the first '/', or "openai" when there is none */
    char *provider_model; /* text after the first '/', e.g. "gpt-4o-mini", "meta/llama" */

    /* litellm_params */
    char *api_key; /* NULL when absent or when its os.environ/ variable is unset */
    char *api_base;
    char *api_version;
    char *organization;
    double timeout_s;        /* seconds, NAN when unset: see sl_config_timeout_s() */
    double stream_timeout_s; /* seconds, NAN when unset: see sl_config_stream_timeout_s() */
    int64_t max_retries;
    int64_t num_retries;
    int64_t rpm;
    int64_t tpm;
    double weight; /* NAN when unset */
    int64_t order;
    int64_t max_parallel_requests;
    double input_cost_per_token;  /* USD per token, NAN when unset */
    double output_cost_per_token; /* USD per token, NAN when unset */
    double cache_read_input_token_cost;     /* USD per token, NAN when unset */
    double cache_creation_input_token_cost; /* USD per token, NAN when unset */
    double output_cost_per_reasoning_token; /* USD per token, NAN when unset */
    struct sl_header *extra_headers;
    size_t n_extra_headers;
    char *region_name;
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *aws_session_token;
    char *aws_region_name;
    char *aws_role_name;
    char *aws_session_name;
    char *aws_profile_name;
    char *aws_bedrock_runtime_endpoint;
    struct sl_strlist tags;

    /* model_info */
    char *mode; /* e.g. "chat"; NULL when unset */
    char *base_model;
    struct sl_token_prices info_prices; /* model_info's prices: litellm_params' take precedence */
    struct sl_strlist access_groups;
    int64_t max_input_tokens; /* SL_CONFIG_UNSET_INT when unset; read by pre-call checks */
    /* model_info: background and /health checks */
    char *health_check_model;           /* model named in the check's request; NULL: provider_model */
    int disable_background_health_check; /* 0 or 1 */
    double health_check_timeout_s;      /* seconds */
};

struct sl_config {
    char *path; /* the file name given to the loader; owned */
    struct sl_deployment *deployments;
    size_t n_deployments;

    /* general_settings */
    char *master_key;               /* NULL: authentication is off */
    char *database_url;             /* NULL: no database */
    uint64_t max_request_size_bytes; /* never 0 after a load */
    uint64_t max_response_size_bytes;
    enum sl_redis_failure_mode redis_failure_mode;
    enum sl_token_limit_type token_rate_limit_type;
    int64_t global_max_parallel_requests; /* SL_CONFIG_UNSET_INT: no cap */
    char *user_header_name;               /* NULL: none */
    int64_t spend_events_max_len;         /* cap of the spend event stream, in entries */
    double drain_timeout_s; /* seconds */
    char *tls_cert_file;    /* both NULL or both set: listener TLS */
    char *tls_key_file;
    int store_prompts_in_spend_logs; /* 0 or 1 */
    int disable_spend_logs;          /* 0 or 1 */
    int allow_requests_on_db_unavailable; /* 0 or 1 */
    int store_model_in_db;                /* 0 or 1: writes to /model/ routes are allowed */
    double model_reload_interval_s;       /* seconds between reloads of the models table */
    double spend_logs_retention_period_s;   /* seconds; NAN: spend logs are kept for ever */
    double spend_logs_retention_interval_s; /* seconds between retention runs */
    int64_t coordinator_metrics_port;     /* sluice-coordinator's /metrics port; 0: none */
    /* general_settings: health checks of deployments */
    int background_health_checks; /* 0 or 1: the coordinator's leader checks every deployment */
    double health_check_interval_s; /* seconds between two checks of a deployment */

    /* litellm_settings */
    struct sl_strlist callbacks;
    struct sl_strlist success_callback;
    struct sl_strlist failure_callback;
    double request_timeout_s; /* seconds */
    int64_t num_retries;
    struct sl_fallbacks fallbacks;
    struct sl_fallbacks context_window_fallbacks;
    struct sl_fallbacks content_policy_fallbacks;
    struct sl_strlist default_fallbacks;
    int ssl_verify;      /* 0 or 1 */
    char *ssl_ca_bundle; /* set when ssl_verify was given as a path; ssl_verify is then 1 */
    int user_budget_includes_team_keys; /* 0 or 1 */
    struct sl_strlist prometheus_drop_labels; /* label names written empty in every metric */
    int enable_end_user_cost_tracking_prometheus_only; /* 0 or 1: fill the end_user label */
    int drop_params;
    int turn_off_message_logging;
    int otel_message_logging; /* callback_settings.otel.message_logging; 0 or 1 */
    int json_logs;
    /* Price file overlaid on the embedded table at startup (see common/cost.h); NULL: none */
    char *model_cost_map_path;
    int cache; /* 0 or 1 */
    enum sl_cache_type cache_type;
    char *cache_host;
    int64_t cache_port;
    char *cache_password;
    double cache_ttl_s; /* seconds */
    char *cache_namespace; /* prefix of every cache key; NULL for none */
    enum sl_cache_mode cache_mode;
    struct sl_strlist cache_supported_call_types; /* empty: no response caching */
    int cache_shared_across_teams;                /* 0 or 1 */
    int64_t cache_max_entry_bytes; /* larger encoded entries are not stored */

    /* litellm_settings.upperbound_key_generate_params: caps on /key/generate and /key/update.
     * Durations are kept as written ("30d", "-1" for no cap) and parsed by the key API. */
    double key_upper_max_budget; /* USD, NAN when unset */
    int64_t key_upper_max_parallel_requests;
    int64_t key_upper_tpm_limit;
    int64_t key_upper_rpm_limit;
    char *key_upper_budget_duration;
    char *key_upper_duration;

    /* litellm_settings.default_key_generate_params: values of /key/generate fields left out. */
    double key_default_max_budget; /* USD, NAN when unset */
    int64_t key_default_max_parallel_requests;
    int64_t key_default_tpm_limit;
    int64_t key_default_rpm_limit;
    char *key_default_budget_duration;
    char *key_default_duration;
    char *key_default_user_id;
    char *key_default_team_id;
    struct sl_strlist key_default_models;

    /* litellm_settings.key_generation_settings.personal_key_generation.allowed_user_roles:
     * roles that may create keys without a team_id; empty allows every role. */
    struct sl_strlist personal_key_allowed_roles;
    /* ...personal_key_generation.required_params: body fields a personal key needs. */
    struct sl_strlist personal_key_required_params;
    /* ...team_key_generation.allowed_team_member_roles and .required_params: the team roles
     * whose members may create team keys (empty: all) and the body fields a team key needs. */
    struct sl_strlist team_key_allowed_roles;
    struct sl_strlist team_key_required_params;

    /* router_settings */
    enum sl_routing_strategy routing_strategy;
    /* Deployment selection (gateway/router/strategy.h) and its routing_strategy_args. */
    int64_t default_max_parallel_requests; /* SL_CONFIG_UNSET_INT: no cap */
    double routing_ttl_s;                  /* seconds; NAN: the strategy's own default */
    double routing_latency_buffer;         /* lowest_latency_buffer, a fraction >= 0 */
    int64_t routing_max_latency_list_size; /* latency samples kept per deployment */
    int64_t router_num_retries; /* SL_CONFIG_UNSET_INT: use num_retries above */
    /* Each list below, when not empty, replaces the litellm_settings list of the same name. */
    struct sl_fallbacks router_fallbacks;
    struct sl_fallbacks router_context_window_fallbacks;
    struct sl_fallbacks router_content_policy_fallbacks;
    struct sl_strlist router_default_fallbacks;
    double router_timeout_s;    /* seconds, NAN when unset */
    double router_stream_timeout_s;
    char *redis_host;
    int64_t redis_port;
    char *redis_password;
    char *redis_url;
    double cooldown_time_s; /* seconds */
    int64_t allowed_fails;
    double retry_after_s; /* seconds */
    /* Retry and cooldown policies per error class (see gateway/http/failover.h and
     * gateway/router/cooldown.h). allowed_fails above is SL_CONFIG_UNSET_INT when unset. */
    struct sl_error_policy retry_policy;
    struct sl_group_policies model_group_retry_policy;
    struct sl_error_policy allowed_fails_policy;
    int disable_cooldowns;      /* 0 or 1 */
    int enable_pre_call_checks; /* 0 or 1: skip deployments whose context window is too small */

    /* Warnings for the caller to log after a successful load, each entry once. */
    struct sl_strlist unknown_keys; /* key paths, e.g. "model_list[].litellm_params.foo" */
    struct sl_strlist unset_env;    /* names of unset env vars that left an optional key unset */
};

/*
 * Loads the YAML file at `path` into `*out`.
 *
 * The `environment_variables` map is copied into the process environment with setenv() first.
 * Then every `os.environ/NAME` string is replaced by getenv(NAME). Each option takes its
 * default, then the file's value, then the value of its env var, so the env var wins.
 *
 * Returns SL_OK, SL_ERR_IO (cannot read), SL_ERR_TOO_LARGE (over SL_CONFIG_MAX_BYTES) or
 * SL_ERR_CONFIG (YAML syntax, wrong type, out of bounds, missing env var) with one line in
 * `err` naming the file, the key path and the value. `*out` is written only on success and
 * the caller frees it with sl_config_dispose(); the environment stays changed on failure.
 * Not thread-safe (setenv, getenv).
 */
enum sl_status sl_config_load(const char *path, struct sl_config *out, struct sl_errbuf *err);

/* As sl_config_load() for `len` bytes of `text` (need not be NUL-terminated); `name` is the
 * file name used in messages and copied into out->path. */
enum sl_status sl_config_load_buffer(const char *text, size_t len, const char *name,
                                     struct sl_config *out, struct sl_errbuf *err);

/* Frees everything `cfg` owns and zeroes it; a zeroed struct may be disposed again. */
void sl_config_dispose(struct sl_config *cfg);

/*
 * Reads one deployment, given as a model_list item (a mapping with model_name, litellm_params
 * and model_info) in YAML or JSON, which is YAML's flow style, into `*out`. The item is
 * checked by the same option table and walk as config.yaml: os.environ/ references are
 * resolved and the id is computed when model_info.id is absent. Unknown keys are listed in
 * `*unknown_keys` (owned by the caller; NULL drops them). `name` prefixes messages. Returns
 * SL_OK, SL_ERR_TOO_LARGE or SL_ERR_CONFIG with the reason in `err`. `*out` is written only on
 * success; free it with sl_config_deployment_dispose(). Not thread-safe against setenv().
 */
enum sl_status sl_config_parse_deployment(const char *text, size_t len, const char *name,
                                          struct sl_deployment *out,
                                          struct sl_strlist *unknown_keys, struct sl_errbuf *err);

/* Frees everything `d` owns and zeroes it. */
void sl_config_deployment_dispose(struct sl_deployment *d);

/*
 * Computes a deployment's id when model_info.id is absent: the hex SHA-256 of `model_name`
 * followed by keys[i] then values[i] for each of the `n` litellm_params entries in file order,
 * with no separators. Values are the text as written in the file, before os.environ/
 * resolution. Nested maps and lists are given as compact JSON with every scalar a string.
 * Writes SL_CONFIG_DEPLOYMENT_ID_LEN hex digits and a NUL into `out`.
 */
void sl_config_deployment_id(const char *model_name, const char *const *keys,
                             const char *const *values, size_t n,
                             char out[SL_CONFIG_DEPLOYMENT_ID_LEN + 1]);

/* Returns the upstream timeout for `d` in seconds: litellm_params.timeout, else
 * router_settings.timeout, else litellm_settings.request_timeout. */
double sl_config_timeout_s(const struct sl_config *cfg, const struct sl_deployment *d);

/* Returns the idle time allowed before the first chunk and between chunks of a stream, in
 * seconds: litellm_params.stream_timeout, else router_settings.stream_timeout, else
 * sl_config_timeout_s(). */
double sl_config_stream_timeout_s(const struct sl_config *cfg, const struct sl_deployment *d);

/* Returns the name of error class `c` as policy keys spell it, e.g. "RateLimitError". */
const char *sl_config_error_class_name(enum sl_error_class c);

/* Returns the retry_policy that applies to model group `group`: its model_group_retry_policy
 * entry when there is one, else router_settings.retry_policy (which may be unset). */
const struct sl_error_policy *sl_config_retry_policy(const struct sl_config *cfg,
                                                     const char *group);

/* Writes the Markdown reference of every option (docs/configuration.md). */
void sl_config_write_reference(FILE *f);

/* Writes a plain-text summary of the options and their env vars, for --help. */
void sl_config_write_help(FILE *f);

#endif /* SL_CONFIG_H */
