/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http/litellm_metrics -- LiteLLM's Prometheus catalogue; see litellm_metrics.h.
 *
 * Every label that any metric of the catalogue uses has an index in `enum label`, and each
 * family lists its labels as indexes in LiteLLM's order. An update fills one table of label
 * values per request and picks each family's values from it, so a dropped label is one bit
 * test and no family needs code of its own for it.
 */
#define SL_LOG_MODULE "metrics"
#include "gateway/http/litellm_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/budget_period.h"
#include "common/clock.h"
#include "common/cost.h"
#include "common/log.h"
#include "common/url.h"
#include "common/metrics.h"
#include "gateway/gateway.h"
#include "gateway/http/errors.h"
#include "gateway/http/failover.h"
#include "gateway/http/request.h"
#include "gateway/limits/limits.h"
#include "gateway/providers/provider.h"
#include "gateway/upstream/upstream.h"
#include "gateway/worker.h"

enum label {
    L_END_USER,
    L_HASHED_API_KEY,
    L_API_KEY_ALIAS,
    L_REQUESTED_MODEL,
    L_TEAM,
    L_TEAM_ALIAS,
    L_USER,
    L_STATUS_CODE,
    L_USER_EMAIL,
    L_ROUTE,
    L_CLIENT_IP,
    L_USER_AGENT,
    L_MODEL_ID,
    L_EXCEPTION_STATUS,
    L_EXCEPTION_CLASS,
    L_MODEL,
    L_MODEL_GROUP,
    L_API_PROVIDER,
    L_API_BASE,
    L_LITELLM_MODEL_NAME,
    L_FALLBACK_MODEL,
    L_COUNT,
};

/* Ends a family's label list. */
#define L_END (-1)

static const char *const label_names[L_COUNT] = {
    [L_END_USER] = "end_user",
    [L_HASHED_API_KEY] = "hashed_api_key",
    [L_API_KEY_ALIAS] = "api_key_alias",
    [L_REQUESTED_MODEL] = "requested_model",
    [L_TEAM] = "team",
    [L_TEAM_ALIAS] = "team_alias",
    [L_USER] = "user",
    [L_STATUS_CODE] = "status_code",
    [L_USER_EMAIL] = "user_email",
    [L_ROUTE] = "route",
    [L_CLIENT_IP] = "client_ip",
    [L_USER_AGENT] = "user_agent",
    [L_MODEL_ID] = "model_id",
    [L_EXCEPTION_STATUS] = "exception_status",
    [L_EXCEPTION_CLASS] = "exception_class",
    [L_MODEL] = "model",
    [L_MODEL_GROUP] = "model_group",
    [L_API_PROVIDER] = "api_provider",
    [L_API_BASE] = "api_base",
    [L_LITELLM_MODEL_NAME] = "litellm_model_name",
    [L_FALLBACK_MODEL] = "fallback_model",
};

enum family {
    F_PROXY_TOTAL,
    F_PROXY_FAILED,
    F_REQUESTS,
    F_LLM_API_FAILED,
    F_SPEND,
    F_TOTAL_TOKENS,
    F_INPUT_TOKENS,
    F_OUTPUT_TOKENS,
    F_REQUEST_LATENCY,
    F_LLM_API_LATENCY,
    F_TTFT,
    F_OVERHEAD,
    F_LATENCY_PER_TOKEN,
    F_DEPLOYMENT_SUCCESS,
    F_DEPLOYMENT_FAILURE,
    F_DEPLOYMENT_TOTAL,
    F_DEPLOYMENT_STATE,
    F_DEPLOYMENT_COOLED_DOWN,
    F_DEPLOYMENT_TPM,
    F_DEPLOYMENT_RPM,
    F_REMAINING_REQUESTS,
    F_REMAINING_TOKENS,
    F_FALLBACK_SUCCEEDED,
    F_FALLBACK_FAILED,
    F_TEAM_REMAINING,
    F_TEAM_MAX,
    F_TEAM_HOURS,
    F_KEY_REMAINING,
    F_KEY_MAX,
    F_KEY_HOURS,
    F_USER_REMAINING,
    F_USER_MAX,
    F_USER_HOURS,
    F_KEY_MODEL_REQUESTS,
    F_KEY_MODEL_TOKENS,
    F_CACHE_HITS,
    F_CACHE_MISSES,
    F_CACHED_TOKENS,
    F_COUNT,
};

enum buckets {
    B_NONE,
    B_LATENCY, /* LiteLLM's LATENCY_BUCKETS */
    B_DEFAULT, /* the Prometheus client defaults */
};

struct family_def {
    const char *name;
    enum sl_metric_type type;
    enum buckets buckets;
    const char *help;
    signed char labels[SL_METRICS_MAX_LABELS + 1]; /* enum label values, then L_END */
};

#define PROXY_TOTAL_LABELS                                                                        \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_REQUESTED_MODEL, L_TEAM, L_TEAM_ALIAS,      \
     L_USER, L_STATUS_CODE, L_USER_EMAIL, L_ROUTE, L_CLIENT_IP, L_USER_AGENT, L_MODEL_ID, L_END}
#define PROXY_FAILED_LABELS                                                                       \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_REQUESTED_MODEL, L_TEAM, L_TEAM_ALIAS,      \
     L_USER, L_USER_EMAIL, L_EXCEPTION_STATUS, L_EXCEPTION_CLASS, L_ROUTE, L_CLIENT_IP,           \
     L_USER_AGENT, L_MODEL_ID, L_END}
#define SPEND_LABELS                                                                              \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_MODEL, L_TEAM, L_TEAM_ALIAS, L_USER,        \
     L_USER_EMAIL, L_CLIENT_IP, L_USER_AGENT, L_MODEL_ID, L_END}
#define LLM_API_FAILED_LABELS                                                                     \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_MODEL, L_TEAM, L_TEAM_ALIAS, L_USER,        \
     L_MODEL_ID, L_END}
#define TOKEN_LABELS                                                                              \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_MODEL, L_TEAM, L_TEAM_ALIAS, L_USER,        \
     L_USER_EMAIL, L_REQUESTED_MODEL, L_MODEL_ID, L_END}
#define REQUEST_LATENCY_LABELS                                                                    \
    {L_END_USER, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_REQUESTED_MODEL, L_TEAM, L_TEAM_ALIAS,      \
     L_USER, L_MODEL, L_MODEL_ID, L_END}
#define LLM_API_LATENCY_LABELS                                                                    \
    {L_MODEL, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_TEAM, L_TEAM_ALIAS, L_REQUESTED_MODEL,         \
     L_END_USER, L_USER, L_MODEL_ID, L_END}
#define MODEL_GROUP_LABELS                                                                        \
    {L_MODEL_GROUP, L_API_PROVIDER, L_API_BASE, L_LITELLM_MODEL_NAME, L_HASHED_API_KEY,           \
     L_API_KEY_ALIAS, L_MODEL_ID, L_END}
#define PER_TOKEN_LABELS                                                                          \
    {L_LITELLM_MODEL_NAME, L_MODEL_ID, L_API_BASE, L_API_PROVIDER, L_HASHED_API_KEY,              \
     L_API_KEY_ALIAS, L_TEAM, L_TEAM_ALIAS, L_END}
#define DEPLOYMENT_LABELS                                                                         \
    {L_REQUESTED_MODEL, L_LITELLM_MODEL_NAME, L_MODEL_ID, L_API_BASE, L_API_PROVIDER,             \
     L_HASHED_API_KEY, L_API_KEY_ALIAS, L_TEAM, L_TEAM_ALIAS, L_CLIENT_IP, L_USER_AGENT, L_END}
#define DEPLOYMENT_FAILURE_LABELS                                                                 \
    {L_REQUESTED_MODEL, L_LITELLM_MODEL_NAME, L_MODEL_ID, L_API_BASE, L_API_PROVIDER,             \
     L_EXCEPTION_STATUS, L_EXCEPTION_CLASS, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_TEAM,            \
     L_TEAM_ALIAS, L_CLIENT_IP, L_USER_AGENT, L_END}
#define DEPLOYMENT_ONLY_LABELS {L_LITELLM_MODEL_NAME, L_MODEL_ID, L_API_BASE, L_API_PROVIDER, L_END}
#define COOLED_DOWN_LABELS                                                                        \
    {L_LITELLM_MODEL_NAME, L_MODEL_ID, L_API_BASE, L_API_PROVIDER, L_EXCEPTION_STATUS, L_END}
#define FALLBACK_LABELS                                                                           \
    {L_REQUESTED_MODEL, L_FALLBACK_MODEL, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_TEAM,              \
     L_TEAM_ALIAS, L_EXCEPTION_STATUS, L_EXCEPTION_CLASS, L_MODEL_ID, L_END}
#define TEAM_LABELS {L_TEAM, L_TEAM_ALIAS, L_END}
#define KEY_LABELS {L_HASHED_API_KEY, L_API_KEY_ALIAS, L_END}
#define USER_LABELS {L_USER, L_END}
#define KEY_MODEL_LABELS {L_HASHED_API_KEY, L_API_KEY_ALIAS, L_MODEL, L_MODEL_ID, L_END}
#define CACHE_LABELS                                                                              \
    {L_MODEL, L_HASHED_API_KEY, L_API_KEY_ALIAS, L_TEAM, L_TEAM_ALIAS, L_END_USER, L_USER,        \
     L_MODEL_ID, L_END}

#define C SL_METRIC_COUNTER
#define G SL_METRIC_GAUGE
#define H SL_METRIC_HISTOGRAM

static const struct family_def defs[F_COUNT] = {
    [F_PROXY_TOTAL] = {"litellm_proxy_total_requests_metric_total", C, B_NONE,
        "Model requests finished, successful or not, by status code.", PROXY_TOTAL_LABELS},
    [F_PROXY_FAILED] = {"litellm_proxy_failed_requests_metric_total", C, B_NONE,
        "Model requests that ended without a successful response.", PROXY_FAILED_LABELS},
    [F_REQUESTS] = {"litellm_requests_metric_total", C, B_NONE,
        "Successful model requests (deprecated name; use litellm_proxy_total_requests_metric).",
        SPEND_LABELS},
    [F_LLM_API_FAILED] = {"litellm_llm_api_failed_requests_metric_total", C, B_NONE,
        "Failed provider calls (deprecated name; use litellm_proxy_failed_requests_metric).",
        LLM_API_FAILED_LABELS},
    [F_SPEND] = {"litellm_spend_metric_total", C, B_NONE,
        "Cost of successful model requests in USD.", SPEND_LABELS},
    [F_TOTAL_TOKENS] = {"litellm_total_tokens_metric_total", C, B_NONE,
        "Prompt plus completion tokens of successful model requests.", TOKEN_LABELS},
    [F_INPUT_TOKENS] = {"litellm_input_tokens_metric_total", C, B_NONE,
        "Prompt tokens of successful model requests.", TOKEN_LABELS},
    [F_OUTPUT_TOKENS] = {"litellm_output_tokens_metric_total", C, B_NONE,
        "Completion tokens of successful model requests.", TOKEN_LABELS},
    [F_REQUEST_LATENCY] = {"litellm_request_total_latency_metric", H, B_LATENCY,
        "Seconds from a model request's arrival to its end.", REQUEST_LATENCY_LABELS},
    [F_LLM_API_LATENCY] = {"litellm_llm_api_latency_metric", H, B_LATENCY,
        "Seconds of the last provider call of a model request.", LLM_API_LATENCY_LABELS},
    [F_TTFT] = {"litellm_llm_api_time_to_first_token_metric", H, B_LATENCY,
        "Seconds from the start of a streamed provider call to its first byte to the client.",
        LLM_API_LATENCY_LABELS},
    [F_OVERHEAD] = {"litellm_overhead_latency_metric", H, B_LATENCY,
        "Seconds of a model request spent outside the last provider call.", MODEL_GROUP_LABELS},
    [F_LATENCY_PER_TOKEN] = {"litellm_deployment_latency_per_output_token", H, B_DEFAULT,
        "Provider seconds (time to first token for streams) per completion token.",
        PER_TOKEN_LABELS},
    [F_DEPLOYMENT_SUCCESS] = {"litellm_deployment_success_responses_total", C, B_NONE,
        "Successful model requests per deployment.", DEPLOYMENT_LABELS},
    [F_DEPLOYMENT_FAILURE] = {"litellm_deployment_failure_responses_total", C, B_NONE,
        "Failed provider calls per deployment, retries included.", DEPLOYMENT_FAILURE_LABELS},
    [F_DEPLOYMENT_TOTAL] = {"litellm_deployment_total_requests_total", C, B_NONE,
        "Successful requests plus failed calls per deployment.", DEPLOYMENT_LABELS},
    [F_DEPLOYMENT_STATE] = {"litellm_deployment_state", G, B_NONE,
        "Deployment health: 0 healthy, 1 last call failed, 2 cooling down.",
        DEPLOYMENT_ONLY_LABELS},
    [F_DEPLOYMENT_COOLED_DOWN] = {"litellm_deployment_cooled_down_total", C, B_NONE,
        "Cooldowns started by this process, by the status that started them.", COOLED_DOWN_LABELS},
    [F_DEPLOYMENT_TPM] = {"litellm_deployment_tpm_limit", G, B_NONE,
        "Tokens per minute configured for the deployment.", DEPLOYMENT_ONLY_LABELS},
    [F_DEPLOYMENT_RPM] = {"litellm_deployment_rpm_limit", G, B_NONE,
        "Requests per minute configured for the deployment.", DEPLOYMENT_ONLY_LABELS},
    [F_REMAINING_REQUESTS] = {"litellm_remaining_requests_metric", G, B_NONE,
        "Requests the provider reports left in its rate limit window.", MODEL_GROUP_LABELS},
    [F_REMAINING_TOKENS] = {"litellm_remaining_tokens_metric", G, B_NONE,
        "Tokens the provider reports left in its rate limit window.", MODEL_GROUP_LABELS},
    [F_FALLBACK_SUCCEEDED] = {"litellm_deployment_successful_fallbacks_total", C, B_NONE,
        "Model requests that a fallback model group served successfully.", FALLBACK_LABELS},
    [F_FALLBACK_FAILED] = {"litellm_deployment_failed_fallbacks_total", C, B_NONE,
        "Model requests that failed although a fallback model group was tried.", FALLBACK_LABELS},
    [F_TEAM_REMAINING] = {"litellm_remaining_team_budget_metric", G, B_NONE,
        "Team max_budget minus its spend in the current period, in USD.", TEAM_LABELS},
    [F_TEAM_MAX] = {"litellm_team_max_budget_metric", G, B_NONE,
        "Team max_budget in USD.", TEAM_LABELS},
    [F_TEAM_HOURS] = {"litellm_team_budget_remaining_hours_metric", G, B_NONE,
        "Hours until the team's budget period resets.", TEAM_LABELS},
    [F_KEY_REMAINING] = {"litellm_remaining_api_key_budget_metric", G, B_NONE,
        "Key max_budget minus its spend in the current period, in USD.", KEY_LABELS},
    [F_KEY_MAX] = {"litellm_api_key_max_budget_metric", G, B_NONE,
        "Key max_budget in USD.", KEY_LABELS},
    [F_KEY_HOURS] = {"litellm_api_key_budget_remaining_hours_metric", G, B_NONE,
        "Hours until the key's budget period resets.", KEY_LABELS},
    [F_USER_REMAINING] = {"litellm_remaining_user_budget_metric", G, B_NONE,
        "User max_budget minus its spend in the current period, in USD.", USER_LABELS},
    [F_USER_MAX] = {"litellm_user_max_budget_metric", G, B_NONE,
        "User max_budget in USD.", USER_LABELS},
    [F_USER_HOURS] = {"litellm_user_budget_remaining_hours_metric", G, B_NONE,
        "Hours until the user's budget period resets.", USER_LABELS},
    [F_KEY_MODEL_REQUESTS] = {"litellm_remaining_api_key_requests_for_model", G, B_NONE,
        "Requests left in the key's per-model rpm limit.", KEY_MODEL_LABELS},
    [F_KEY_MODEL_TOKENS] = {"litellm_remaining_api_key_tokens_for_model", G, B_NONE,
        "Tokens left in the key's per-model tpm limit.", KEY_MODEL_LABELS},
    [F_CACHE_HITS] = {"litellm_cache_hits_metric_total", C, B_NONE,
        "Model requests answered from the response cache.", CACHE_LABELS},
    [F_CACHE_MISSES] = {"litellm_cache_misses_metric_total", C, B_NONE,
        "Model requests that read the response cache and found no entry.", CACHE_LABELS},
    [F_CACHED_TOKENS] = {"litellm_cached_tokens_metric_total", C, B_NONE,
        "Tokens of the responses served from the response cache.", CACHE_LABELS},
};

#undef C
#undef G
#undef H

static struct sl_metric_family *families[F_COUNT];
/* Bits of enum label whose values are always written empty. Set before the workers start. */
static unsigned dropped_labels;
/* enable_end_user_cost_tracking_prometheus_only: end_user gets the end-user id. */
static int end_user_enabled;

/* The label values of one update, indexed by enum label; NULL is written as "". */
struct label_values {
    const char *v[L_COUNT];
    char status[16];
    char exception_status[16];
    char exception_class[96];
    char api_base[256];
};

/* ---------------------------------------------------------------- pure parts */

unsigned
sl_litellm_label_bit(const char *name)
{
    for (unsigned i = 0; i < L_COUNT; i++)
        if (strcmp(label_names[i], name) == 0)
            return 1u << i;
    return 0;
}

/* LiteLLM's exception class for an HTTP status, as its exception mapping raises them. */
static const char *
class_of_status(int status)
{
    switch (status) {
    case 400:
        return "BadRequestError";
    case 401:
        return "AuthenticationError";
    case 403:
        return "PermissionDeniedError";
    case 404:
        return "NotFoundError";
    case 408:
        return "Timeout";
    case 422:
        return "UnprocessableEntityError";
    case 429:
        return "RateLimitError";
    case 500:
        return "InternalServerError";
    case 503:
        return "ServiceUnavailableError";
    default:
        return status >= 400 && status < 500 ? "BadRequestError" : "APIError";
    }
}

void
sl_litellm_exception_class(int status, const char *error_type, const char *provider, char *out,
                           size_t size)
{
    const char *cls = class_of_status(status);
    char prefix[64];

    if (error_type != NULL) {
        if (strcmp(error_type, "content_policy_violation") == 0)
            cls = "ContentPolicyViolationError";
        else if (strcmp(error_type, "context_length_exceeded") == 0)
            cls = "ContextWindowExceededError";
        else if (strcmp(error_type, "api_connection_error") == 0)
            cls = "APIConnectionError";
        else if (strcmp(error_type, "timeout") == 0)
            cls = "Timeout";
    }
    /* Sluice's own code for a client that left: no LiteLLM exception matches it. */
    if (status == 499)
        cls = "ClientDisconnected";
    if (provider == NULL || provider[0] == '\0') {
        snprintf(out, size, "%s", cls);
        return;
    }
    snprintf(prefix, sizeof(prefix), "%s", provider);
    if (prefix[0] >= 'a' && prefix[0] <= 'z')
        prefix[0] = (char)(prefix[0] - 'a' + 'A');
    snprintf(out, size, "%s.%s", prefix, cls);
}

int
sl_litellm_parse_remaining(const char *value, double *out)
{
    char copy[33];
    char *end;
    size_t len = strlen(value);
    size_t digits = 0;
    double v;

    /* Only plain decimals: strtod would also take "inf", "nan", hex and exponents. */
    if (len == 0 || len >= sizeof(copy))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] >= '0' && value[i] <= '9')
            digits++;
        else if (value[i] != '.')
            return 0;
    }
    if (digits == 0)
        return 0;
    memcpy(copy, value, len + 1);
    v = strtod(copy, &end);
    if (*end != '\0' || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* ---------------------------------------------------------------- registration */

void
sl_litellm_metrics_register(const struct sl_config *cfg)
{
    for (size_t f = 0; f < F_COUNT; f++) {
        const struct family_def *d = &defs[f];
        const char *names[SL_METRICS_MAX_LABELS + 1];
        size_t n = 0;
        struct sl_metric_spec spec = {.name = d->name, .help = d->help, .labels = names};

        while (d->labels[n] != L_END) {
            names[n] = label_names[d->labels[n]];
            n++;
        }
        names[n] = NULL;
        if (d->buckets == B_LATENCY) {
            spec.buckets = sl_metrics_latency_buckets;
            spec.n_buckets = sl_metrics_latency_buckets_n;
        } else if (d->buckets == B_DEFAULT) {
            spec.buckets = sl_metrics_default_buckets;
            spec.n_buckets = sl_metrics_default_buckets_n;
        }
        families[f] = sl_metrics_register(d->type, &spec);
    }

    dropped_labels = 0;
    for (size_t i = 0; i < cfg->prometheus_drop_labels.n; i++) {
        const char *name = cfg->prometheus_drop_labels.items[i];
        unsigned bit = sl_litellm_label_bit(name);

        if (bit == 0)
            sl_log(SL_LOG_WARN, NULL, "metrics.unknown_label", SL_LOG_STR("label", name),
                   SL_LOG_STR("message", "litellm_settings.prometheus_drop_labels names a label "
                                         "that no metric has; it is ignored"));
        dropped_labels |= bit;
    }
    end_user_enabled = cfg->enable_end_user_cost_tracking_prometheus_only;
}

/* ---------------------------------------------------------------- updates */

static void
update(enum family f, const struct label_values *lv, double v)
{
    const struct family_def *d = &defs[f];
    const char *values[SL_METRICS_MAX_LABELS];
    size_t n = 0;

    if (families[f] == NULL)
        return;
    for (; d->labels[n] != L_END; n++) {
        int id = d->labels[n];

        values[n] = (dropped_labels & (1u << id)) != 0 ? NULL : lv->v[id];
    }
    switch (d->type) {
    case SL_METRIC_COUNTER:
        sl_metrics_counter_add(families[f], values, v);
        break;
    case SL_METRIC_GAUGE:
        sl_metrics_gauge_set(families[f], values, v);
        break;
    case SL_METRIC_HISTOGRAM:
        sl_metrics_observe(families[f], values, v);
        break;
    }
}

/* The deployment's api_base without a query or credentials, else its provider's default; ""
 * when neither. */
static void
api_base_of(const struct sl_deployment *d, char *out, size_t size)
{
    const struct sl_provider *p;

    out[0] = '\0';
    if (d->api_base != NULL) {
        sl_url_write_base(d->api_base, out, size);
    } else {
        p = sl_provider_find(d->provider);
        if (p != NULL && p->default_api_base != NULL)
            sl_url_write_base(p->default_api_base, out, size);
    }
}

static void
set_deployment(struct label_values *lv, const struct sl_deployment *d)
{
    if (d == NULL)
        return;
    api_base_of(d, lv->api_base, sizeof(lv->api_base));
    lv->v[L_MODEL] = d->provider_model;
    lv->v[L_LITELLM_MODEL_NAME] = d->provider_model;
    lv->v[L_MODEL_ID] = d->id;
    lv->v[L_API_BASE] = lv->api_base;
    lv->v[L_API_PROVIDER] = d->provider;
}

/* Fills the labels that the request and its key give. */
static void
set_request(struct label_values *lv, const struct sl_request *r)
{
    const struct sl_limits *l = r->limits;

    memset(lv->v, 0, sizeof(lv->v));
    lv->v[L_REQUESTED_MODEL] = r->model;
    lv->v[L_MODEL_GROUP] = r->model;
    lv->v[L_ROUTE] = r->route;
    if (l != NULL) {
        lv->v[L_HASHED_API_KEY] = l->key_hash;
        lv->v[L_API_KEY_ALIAS] = l->key_alias;
        lv->v[L_USER] = l->user_id;
        lv->v[L_TEAM] = l->team_id;
        lv->v[L_TEAM_ALIAS] = l->team_alias;
        lv->v[L_USER_EMAIL] = l->user_email;
        lv->v[L_CLIENT_IP] = l->client_ip;
        lv->v[L_USER_AGENT] = l->user_agent;
        if (end_user_enabled)
            lv->v[L_END_USER] = l->end_user;
    }
    set_deployment(lv, r->deployment);
}

static void
set_exception(struct label_values *lv, int status, const char *error_type, const char *provider)
{
    snprintf(lv->exception_status, sizeof(lv->exception_status), "%d", status);
    sl_litellm_exception_class(status, error_type, provider, lv->exception_class,
                               sizeof(lv->exception_class));
    lv->v[L_EXCEPTION_STATUS] = lv->exception_status;
    lv->v[L_EXCEPTION_CLASS] = lv->exception_class;
}

void
sl_litellm_metrics_call_failed(const struct sl_request *r, const struct sl_upstream_error *e)
{
    struct label_values lv;
    const struct sl_deployment *d = r->deployment;

    if (d == NULL)
        return;
    set_request(&lv, r);
    /* A retry or fallback changes r->model's group: the call belongs to the current one. */
    lv.v[L_REQUESTED_MODEL] = sl_failover_group_name(r);
    set_exception(&lv, e->status, e->type[0] != '\0' ? e->type : NULL, d->provider);
    update(F_DEPLOYMENT_FAILURE, &lv, 1);
    update(F_DEPLOYMENT_TOTAL, &lv, 1);
    update(F_LLM_API_FAILED, &lv, 1);
    update(F_DEPLOYMENT_STATE, &lv, 1);
}

void
sl_litellm_metrics_provider_headers(const struct sl_request *r, const struct sl_call *call)
{
    struct label_values lv;
    size_t pos = 0;
    const char *name;
    const char *value;
    double v;

    if (r->deployment == NULL || call == NULL)
        return;
    set_request(&lv, r);
    lv.v[L_MODEL_GROUP] = sl_failover_group_name(r);
    /* OpenAI's names, and Anthropic's, which LiteLLM maps to OpenAI's. */
    while (sl_call_next_header(call, &pos, &name, &value)) {
        if (strcmp(name, "x-ratelimit-remaining-requests") == 0 ||
            strcmp(name, "anthropic-ratelimit-requests-remaining") == 0) {
            if (sl_litellm_parse_remaining(value, &v))
                update(F_REMAINING_REQUESTS, &lv, v);
        } else if (strcmp(name, "x-ratelimit-remaining-tokens") == 0 ||
                   strcmp(name, "anthropic-ratelimit-tokens-remaining") == 0) {
            if (sl_litellm_parse_remaining(value, &v))
                update(F_REMAINING_TOKENS, &lv, v);
        }
    }
}

void
sl_litellm_metrics_deployment_down(const struct sl_deployment *d)
{
    struct label_values lv;

    memset(lv.v, 0, sizeof(lv.v));
    set_deployment(&lv, d);
    update(F_DEPLOYMENT_STATE, &lv, 2);
}

void
sl_litellm_metrics_deployment_checked(const struct sl_deployment *d, int healthy)
{
    struct label_values lv;

    memset(lv.v, 0, sizeof(lv.v));
    set_deployment(&lv, d);
    update(F_DEPLOYMENT_STATE, &lv, healthy ? 0 : 1);
}

void
sl_litellm_metrics_cooled_down(const struct sl_deployment *d, int status)
{
    struct label_values lv;

    memset(lv.v, 0, sizeof(lv.v));
    set_deployment(&lv, d);
    snprintf(lv.exception_status, sizeof(lv.exception_status), "%d", status);
    lv.v[L_EXCEPTION_STATUS] = lv.exception_status;
    update(F_DEPLOYMENT_COOLED_DOWN, &lv, 1);
    update(F_DEPLOYMENT_STATE, &lv, 2);
}

static int
is_model_route(const char *route)
{
    static const char *const routes[] = {"/chat/completions", "/completions", "/embeddings",
                                         "/v1/messages"};

    for (size_t i = 0; route != NULL && i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(route, routes[i]) == 0)
            return 1;
    return 0;
}

/* Sets the remaining, maximum and hours-to-reset gauges of each budget scope of `r`. */
static void
update_budgets(const struct sl_request *r, struct label_values *lv, double cost)
{
    const struct sl_limits *l = r->limits;
    int64_t now_s = (int64_t)(sl_wall_ms() / 1000);

    if (l == NULL || !l->scopes_read)
        return;
    for (size_t i = 0; i < l->n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];
        enum family remaining;
        double spend = s->spend + (s->count_spend ? cost : 0.0);

        switch (s->kind) {
        case SL_SCOPE_API_KEY:
            remaining = F_KEY_REMAINING;
            break;
        case SL_SCOPE_USER:
            remaining = F_USER_REMAINING;
            break;
        case SL_SCOPE_TEAM:
            remaining = F_TEAM_REMAINING;
            break;
        case SL_SCOPE_MODEL_PER_KEY:
            if (s->rpm >= 0 && s->left_requests >= 0)
                update(F_KEY_MODEL_REQUESTS, lv, (double)s->left_requests);
            if (s->tpm >= 0 && s->left_tokens >= 0)
                update(F_KEY_MODEL_TOKENS, lv, (double)s->left_tokens);
            continue;
        default:
            continue;
        }
        if (isnan(s->max_budget))
            continue;
        /* The families of one scope follow each other: remaining, max, hours. */
        update(remaining, lv, s->max_budget - spend);
        update((enum family)(remaining + 1), lv, s->max_budget);
        if (s->has_period) {
            int64_t end_s = 0;

            sl_budget_period(&s->period, now_s, &end_s);
            update((enum family)(remaining + 2), lv, (double)(end_s - now_s) / 3600.0);
        }
    }
}

static void
update_success(const struct sl_request *r, struct label_values *lv, double cost)
{
    const struct sl_usage *u = &r->usage;

    update(F_REQUESTS, lv, 1);
    if (r->cache_hit)
        return;
    update(F_SPEND, lv, cost);
    if (u->present) {
        int64_t total = u->total_tokens > 0 ? u->total_tokens
                                            : u->prompt_tokens + u->completion_tokens;

        update(F_INPUT_TOKENS, lv, (double)u->prompt_tokens);
        update(F_OUTPUT_TOKENS, lv, (double)u->completion_tokens);
        update(F_TOTAL_TOKENS, lv, (double)total);
    }
    if (r->deployment != NULL) {
        update(F_DEPLOYMENT_SUCCESS, lv, 1);
        update(F_DEPLOYMENT_TOTAL, lv, 1);
        update(F_DEPLOYMENT_STATE, lv, 0);
        if (r->deployment->tpm >= 0)
            update(F_DEPLOYMENT_TPM, lv, (double)r->deployment->tpm);
        if (r->deployment->rpm >= 0)
            update(F_DEPLOYMENT_RPM, lv, (double)r->deployment->rpm);
    }
}

/* The latencies of the last provider call of a request that reached a provider. */
static void
update_latency(const struct sl_request *r, struct label_values *lv, int ok, double total_s)
{
    double api_s;
    double per_token_s;

    if (r->deployment == NULL || r->cache_hit || r->upstream_start_us == 0 ||
        r->upstream_end_us < r->upstream_start_us)
        return;
    api_s = (double)(r->upstream_end_us - r->upstream_start_us) / 1e6;
    update(F_LLM_API_LATENCY, lv, api_s);
    update(F_OVERHEAD, lv, total_s > api_s ? total_s - api_s : 0.0);
    per_token_s = api_s;
    if (r->stream && r->first_byte_us >= r->upstream_start_us && r->first_byte_us != 0) {
        per_token_s = (double)(r->first_byte_us - r->upstream_start_us) / 1e6;
        update(F_TTFT, lv, per_token_s);
    }
    if (ok && r->usage.present && r->usage.completion_tokens > 0)
        update(F_LATENCY_PER_TOKEN, lv, per_token_s / (double)r->usage.completion_tokens);
}

void
sl_litellm_metrics_request_end(const struct sl_request *r)
{
    struct label_values lv;
    int status = r->client_gone && r->status == 0 ? 499 : r->status;
    int failed_status;
    int ok;
    double cost;
    double total_s = (double)(sl_now_us() - r->start_us) / 1e6;

    /* LiteLLM counts no request that an invalid key got a 401 for. */
    if (!is_model_route(r->route) || status == 401)
        return;

    /* A stream that ended with an error event or lost its client failed after its 200. */
    failed_status = status;
    if (r->stream_error_status != 0)
        failed_status = r->stream_error_status;
    else if (r->client_gone)
        failed_status = 499;
    ok = failed_status >= 200 && failed_status < 300;
    cost = ok ? sl_limits_request_cost(r, NULL) : 0.0;

    set_request(&lv, r);
    snprintf(lv.status, sizeof(lv.status), "%d", failed_status);
    lv.v[L_STATUS_CODE] = lv.status;
    update(F_PROXY_TOTAL, &lv, 1);
    if (ok) {
        update_success(r, &lv, cost);
    } else {
        set_exception(&lv, failed_status, r->error_type[0] != '\0' ? r->error_type : NULL,
                      r->deployment != NULL && r->upstream_start_us != 0 ? r->deployment->provider
                                                                         : NULL);
        update(F_PROXY_FAILED, &lv, 1);
    }
    update(F_REQUEST_LATENCY, &lv, total_s);
    update_latency(r, &lv, ok, total_s);
    update_budgets(r, &lv, cost);

    if (r->cache_looked_up) {
        update(r->cache_hit ? F_CACHE_HITS : F_CACHE_MISSES, &lv, 1);
        if (r->cache_hit && r->usage.present)
            update(F_CACHED_TOKENS, &lv, (double)(r->usage.prompt_tokens +
                                                  r->usage.completion_tokens));
    }

    if (r->attempted_fallbacks > 0) {
        struct label_values fb = lv;

        fb.v[L_FALLBACK_MODEL] = sl_failover_group_name(r);
        set_exception(&fb, r->fallback_error_status, NULL, r->fallback_error_provider);
        update(ok ? F_FALLBACK_SUCCEEDED : F_FALLBACK_FAILED, &fb, 1);
    }
}
