/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace -- the spans of a model request and the attributes LiteLLM sets on them; see trace.h.
 * Attribute names follow LiteLLM 1.81's OpenTelemetry callback and the OpenTelemetry GenAI
 * semantic conventions; names under "sluice." are Sluice's own.
 */
#define SL_LOG_MODULE "trace"
#include "gateway/http/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/cost.h"
#include "common/json.h"
#include "common/log.h"
#include "common/otel_exporter.h"
#include "common/otlp.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/errors.h"
#include "gateway/http/request.h"
#include "gateway/limits/limits.h"
#include "gateway/worker.h"

#define SL_TRACE_SERVER_SPAN_NAME "Received Proxy Server Request"
/* Provider calls recorded per request at most; later attempts are not traced. */
#define SL_TRACE_MAX_ATTEMPTS 16u
/* Store spans kept per request: the key lookup, the end-user lookup, admission. */
#define SL_TRACE_MAX_STORES 8u
/* Finish reasons kept from a whole response. */
#define SL_TRACE_MAX_FINISH_REASONS 8u

struct sl_trace {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    int has_parent;
    int content; /* message content may be recorded */
    uint64_t start_ns;
    struct sl_otlp_span attempts[SL_TRACE_MAX_ATTEMPTS];
    size_t n_attempts;
    struct sl_otlp_span stores[SL_TRACE_MAX_STORES];
    size_t n_stores;
    int attempt_open;     /* attempts[n_attempts - 1] has not ended */
    uint64_t upstream_ns; /* time spent in provider calls, for the overhead */

    /* From a whole response. */
    char *response_id;
    char *response_model;
    char *finish_reasons[SL_TRACE_MAX_FINISH_REASONS];
    size_t n_finish_reasons;
    char *output_messages; /* JSON, only when content applies */
};

static uint64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
lists_otel(const struct sl_strlist *list)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i], "otel") == 0)
            return 1;
    return 0;
}

enum sl_status
sl_trace_start(const struct sl_config *cfg, struct sl_errbuf *err)
{
    struct sl_otel_config otel;
    enum sl_status rc;

    if (!lists_otel(&cfg->callbacks) && !lists_otel(&cfg->success_callback))
        return SL_OK;
    rc = sl_otel_config_from_env(&otel, (sl_otel_getenv_fn)getenv, err);
    if (rc != SL_OK)
        return rc;
    if (otel.endpoint == NULL) {
        sl_log(SL_LOG_WARN, NULL, "otel.disabled",
               SL_LOG_STR("message", "the otel callback is configured but neither "
                                     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor "
                                     "OTEL_EXPORTER_OTLP_ENDPOINT is set; traces are off"));
        sl_otel_config_dispose(&otel);
        return SL_OK;
    }
    return sl_otel_start(&otel, err);
}

void
sl_trace_stop(uint64_t deadline_ms)
{
    sl_otel_stop(deadline_ms);
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

static int
header_is_true(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

    return i != -1 && req->headers.entries[i].value.len == 4 &&
           h2o_lcstris(req->headers.entries[i].value.base, 4, H2O_STRLIT("true"));
}

/* Message content is off unless callback_settings.otel.message_logging is on; then
 * turn_off_message_logging or a request's redaction header still turn it off. */
static int
content_allowed(const struct sl_request *r)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;

    if (!cfg->otel_message_logging || cfg->turn_off_message_logging)
        return 0;
    return !header_is_true(r->req, "x-litellm-enable-message-redaction") &&
           !header_is_true(r->req, "litellm-enable-message-redaction");
}

void
sl_trace_begin(struct sl_request *r)
{
    struct sl_trace *t;
    ssize_t i;
    uint8_t flags;

    if (!sl_otel_enabled() || !is_model_route(r->route))
        return;
    t = sl_xcalloc(1, sizeof(*t));
    t->start_ns = wall_ns();
    t->content = content_allowed(r);
    i = h2o_find_header_by_str(&r->req->headers, H2O_STRLIT("traceparent"), -1);
    if (i != -1) {
        const h2o_iovec_t *v = &r->req->headers.entries[i].value;

        t->has_parent = sl_otlp_traceparent_parse(v->base, v->len, t->trace_id, t->parent_id,
                                                  &flags) == SL_OK;
    }
    if (!t->has_parent)
        sl_otlp_random_id(t->trace_id, sizeof(t->trace_id));
    sl_otlp_random_id(t->span_id, sizeof(t->span_id));
    r->trace = t;
}

/* ---------------------------------------------------------------- attempts */

/* The GenAI operation name of the request's route. */
static const char *
operation_of(const struct sl_request *r)
{
    if (strcmp(r->route, "/embeddings") == 0)
        return "embeddings";
    if (strcmp(r->route, "/completions") == 0)
        return "text_completion";
    return "chat";
}

/* Writes the deployment's api_base, or the family's default, without its query or
 * credentials. */
static void
api_base_of(const struct sl_request *r, char *out, size_t len)
{
    const char *base = r->deployment->api_base;

    if (base == NULL && r->provider != NULL)
        base = r->provider->default_api_base;
    sl_url_write_base(base != NULL ? base : "", out, len);
}

void
sl_trace_attempt_begin(struct sl_request *r, struct curl_slist **headers)
{
    struct sl_trace *t = r->trace;
    const struct sl_deployment *d = r->deployment;
    struct sl_otlp_span *s;
    char name[256];
    char base[512];
    char traceparent[SL_OTLP_TRACEPARENT_LEN + 1];
    char line[sizeof(traceparent) + 16];

    if (t == NULL || t->n_attempts == SL_TRACE_MAX_ATTEMPTS)
        return;
    sl_trace_attempt_end(r, NULL);

    s = &t->attempts[t->n_attempts];
    snprintf(name, sizeof(name), "%s %s", operation_of(r), d->provider_model);
    sl_otlp_span_init(s, name, SL_OTLP_KIND_CLIENT);
    memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
    sl_otlp_random_id(s->span_id, sizeof(s->span_id));
    memcpy(s->parent_span_id, t->span_id, sizeof(s->parent_span_id));
    s->has_parent = 1;
    s->start_unix_ns = wall_ns();
    sl_otlp_span_add_str(s, "gen_ai.operation.name", operation_of(r));
    sl_otlp_span_add_str(s, "gen_ai.system", d->provider);
    sl_otlp_span_add_str(s, "gen_ai.request.model", d->provider_model);
    sl_otlp_span_add_str(s, "sluice.model_group", d->model_name);
    sl_otlp_span_add_str(s, "sluice.model_id", d->id);
    api_base_of(r, base, sizeof(base));
    if (base[0] != '\0')
        sl_otlp_span_add_str(s, "sluice.api_base", base);
    sl_otlp_span_add_int(s, "sluice.attempt", (int64_t)t->n_attempts);
    sl_otlp_span_add_int(s, "sluice.attempted_retries", r->attempted_retries);
    sl_otlp_span_add_int(s, "sluice.attempted_fallbacks", r->attempted_fallbacks);
    t->n_attempts++;
    t->attempt_open = 1;

    /* The provider treats this call as the parent of whatever it traces. Sampled, since the
     * gateway records every request. */
    sl_otlp_traceparent_format(s->trace_id, s->span_id, 1, traceparent);
    snprintf(line, sizeof(line), "traceparent: %s", traceparent);
    *headers = curl_slist_append(*headers, line);
}

void
sl_trace_attempt_end(struct sl_request *r, const struct sl_upstream_error *e)
{
    struct sl_trace *t = r->trace;
    struct sl_otlp_span *s;
    int status;

    if (t == NULL || !t->attempt_open)
        return;
    s = &t->attempts[t->n_attempts - 1];
    t->attempt_open = 0;
    s->end_unix_ns = wall_ns();
    t->upstream_ns += s->end_unix_ns - s->start_unix_ns;

    status = 0;
    if (e != NULL)
        status = e->status;
    else if (r->call != NULL)
        status = (int)r->call->status;
    if (status > 0)
        sl_otlp_span_add_int(s, "http.response.status_code", status);
    if (e != NULL) {
        const char *type = e->type[0] != '\0' ? e->type : sl_errors_default_type(e->status);

        sl_otlp_span_add_str(s, "error.type", type);
        /* A provider's error message may quote the prompt. */
        if (t->content)
            sl_otlp_span_add_str(s, "error.message", e->message);
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_ERROR, type);
    } else if (r->client_gone) {
        sl_otlp_span_add_str(s, "error.type", "client_gone");
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_ERROR, "the client went away");
    } else if (status >= 200 && status < 300) {
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_OK, NULL);
    } else {
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_ERROR, NULL);
    }
}

int
sl_trace_store_begin(struct sl_request *r, const char *name)
{
    struct sl_trace *t = r->trace;
    struct sl_otlp_span *s;

    if (t == NULL || t->n_stores == SL_TRACE_MAX_STORES)
        return -1;
    s = &t->stores[t->n_stores];
    sl_otlp_span_init(s, name, SL_OTLP_KIND_CLIENT);
    memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
    sl_otlp_random_id(s->span_id, sizeof(s->span_id));
    memcpy(s->parent_span_id, t->span_id, sizeof(s->parent_span_id));
    s->has_parent = 1;
    s->start_unix_ns = wall_ns();
    return (int)t->n_stores++;
}

int
sl_trace_ids(const struct sl_request *r, uint8_t trace_id[16], uint8_t span_id[8])
{
    const struct sl_trace *t = r->trace;

    if (t == NULL)
        return 0;
    memcpy(trace_id, t->trace_id, 16);
    memcpy(span_id, t->span_id, 8);
    return 1;
}

void
sl_trace_store_end(struct sl_request *r, int index, const char *system, const char *error)
{
    struct sl_trace *t = r->trace;
    struct sl_otlp_span *s;

    if (t == NULL || index < 0 || (size_t)index >= t->n_stores)
        return;
    s = &t->stores[index];
    if (s->end_unix_ns != 0)
        return;
    s->end_unix_ns = wall_ns();
    if (system != NULL)
        sl_otlp_span_add_str(s, "db.system", system);
    if (error != NULL) {
        sl_otlp_span_add_str(s, "error.type", error);
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_ERROR, error);
    } else {
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_OK, NULL);
    }
}

/* ---------------------------------------------------------------- response */

/* Rewrites messages as the GenAI "parts" layout: [{"role", "parts": [{"type", "content"}]}]. */
static char *
messages_in_parts(const cJSON *messages, const char *fallback_role)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *m;
    char *text;

    cJSON_ArrayForEach(m, messages) {
        const char *role = sl_json_get_string(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        cJSON *msg = cJSON_CreateObject();
        cJSON *parts;
        const cJSON *item;

        cJSON_AddItemToArray(out, msg);
        cJSON_AddStringToObject(msg, "role", role != NULL ? role : fallback_role);
        parts = cJSON_AddArrayToObject(msg, "parts");
        if (cJSON_IsString(content)) {
            cJSON *part = cJSON_CreateObject();

            cJSON_AddStringToObject(part, "type", "text");
            cJSON_AddStringToObject(part, "content", content->valuestring);
            cJSON_AddItemToArray(parts, part);
        }
        const cJSON *items = cJSON_IsArray(content) ? content : NULL;

        cJSON_ArrayForEach(item, items) {
            const char *type = sl_json_get_string(item, "type");
            const char *value = sl_json_get_string(item, "text");
            cJSON *part = cJSON_CreateObject();

            cJSON_AddStringToObject(part, "type", type != NULL ? type : "unknown");
            if (value != NULL)
                cJSON_AddStringToObject(part, "content", value);
            cJSON_AddItemToArray(parts, part);
        }
    }
    text = sl_json_print(out);
    cJSON_Delete(out);
    return text;
}

static void
keep_finish_reason(struct sl_trace *t, const char *reason)
{
    if (reason != NULL && t->n_finish_reasons < SL_TRACE_MAX_FINISH_REASONS)
        t->finish_reasons[t->n_finish_reasons++] = sl_xstrdup(reason);
}

void
sl_trace_response(struct sl_request *r, const char *body, size_t len)
{
    struct sl_trace *t = r->trace;
    struct sl_errbuf err = {{0}};
    cJSON *root = NULL;
    const cJSON *choices;
    const cJSON *choice;

    if (t == NULL || sl_json_parse(body, len, 64, &root, &err) != SL_OK)
        return;
    free(t->response_id);
    free(t->response_model);
    t->response_id = NULL;
    t->response_model = NULL;
    if (sl_json_get_string(root, "id") != NULL)
        t->response_id = sl_xstrdup(sl_json_get_string(root, "id"));
    if (sl_json_get_string(root, "model") != NULL)
        t->response_model = sl_xstrdup(sl_json_get_string(root, "model"));

    /* OpenAI's choices, or Anthropic's single stop_reason. */
    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!cJSON_IsArray(choices))
        choices = NULL;
    cJSON_ArrayForEach(choice, choices)
        keep_finish_reason(t, sl_json_get_string(choice, "finish_reason"));
    keep_finish_reason(t, sl_json_get_string(root, "stop_reason"));

    if (t->content && t->output_messages == NULL) {
        cJSON *messages = cJSON_CreateArray();

        cJSON_ArrayForEach(choice, choices) {
            const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");

            if (cJSON_IsObject(message))
                cJSON_AddItemToArray(messages, cJSON_Duplicate(message, 1));
        }
        if (cJSON_GetArraySize(messages) == 0 && cJSON_IsArray(cJSON_GetObjectItem(root, "content"))) {
            cJSON *message = cJSON_CreateObject();

            cJSON_AddStringToObject(message, "role", "assistant");
            cJSON_AddItemToObject(message, "content",
                                  cJSON_Duplicate(cJSON_GetObjectItem(root, "content"), 1));
            cJSON_AddItemToArray(messages, message);
        }
        t->output_messages = messages_in_parts(messages, "assistant");
        cJSON_Delete(messages);
    }
    cJSON_Delete(root);
}

/* ---------------------------------------------------------------- server span */

/* The metadata.* attributes of LiteLLM's StandardLoggingPayload that Sluice has values for. */
static void
add_metadata(struct sl_otlp_span *s, const struct sl_request *r)
{
    const struct sl_limits *l = r->limits;

    sl_otlp_span_add_str(s, "metadata.user_api_key_request_route", r->route);
    if (l == NULL)
        return;
    sl_otlp_span_add_str(s, "metadata.user_api_key_hash", l->key_hash);
    sl_otlp_span_add_str(s, "metadata.user_api_key_alias", l->key_alias);
    sl_otlp_span_add_str(s, "metadata.user_api_key_user_id", l->user_id);
    sl_otlp_span_add_str(s, "metadata.user_api_key_team_id", l->team_id);
    sl_otlp_span_add_str(s, "metadata.user_api_key_org_id", l->org_id);
    sl_otlp_span_add_str(s, "metadata.user_api_key_end_user_id", l->end_user);
    sl_otlp_span_add_str(s, "metadata.requester_ip_address", l->client_ip);
    sl_otlp_span_add_str(s, "metadata.user_agent", l->user_agent);
}

/* LiteLLM's hidden_params: one JSON string. */
static void
add_hidden_params(struct sl_otlp_span *s, const struct sl_request *r, double cost,
                  double overhead_ms)
{
    const struct sl_deployment *d = r->deployment;
    cJSON *hp = cJSON_CreateObject();
    char base[512];
    char *text;

    if (d != NULL) {
        cJSON_AddStringToObject(hp, "model_id", d->id);
        api_base_of(r, base, sizeof(base));
        if (base[0] != '\0')
            cJSON_AddStringToObject(hp, "api_base", base);
        cJSON_AddStringToObject(hp, "litellm_model_name", d->model);
    }
    cJSON_AddNumberToObject(hp, "response_cost", cost);
    cJSON_AddNumberToObject(hp, "litellm_overhead_time_ms", overhead_ms);
    text = sl_json_print(hp);
    sl_otlp_span_add_str(s, "hidden_params", text);
    free(text);
    cJSON_Delete(hp);
}

static const char *
call_type_of(const struct sl_request *r)
{
    if (strcmp(r->route, "/embeddings") == 0)
        return "aembedding";
    if (strcmp(r->route, "/completions") == 0)
        return "atext_completion";
    if (strcmp(r->route, "/v1/messages") == 0)
        return "anthropic_messages";
    return "acompletion";
}

static void
add_usage_and_cost(struct sl_otlp_span *s, const struct sl_request *r, double *cost)
{
    struct sl_cost_tokens input;
    double input_cost = 0;

    *cost = 0;
    if (!r->usage.present)
        return;
    sl_otlp_span_add_int(s, "gen_ai.usage.input_tokens", r->usage.prompt_tokens);
    sl_otlp_span_add_int(s, "gen_ai.usage.output_tokens", r->usage.completion_tokens);
    sl_otlp_span_add_int(s, "gen_ai.usage.total_tokens",
                         r->usage.total_tokens > 0
                             ? r->usage.total_tokens
                             : r->usage.prompt_tokens + r->usage.completion_tokens);
    if (r->deployment == NULL || r->cache_hit)
        return;
    *cost = sl_limits_request_cost(r, NULL);
    /* The formula adds the prompt's cost to the completion's, so pricing the prompt alone
     * splits the total. */
    memset(&input, 0, sizeof(input));
    input.prompt = r->usage.prompt_tokens;
    input.cached = r->usage.cached_tokens;
    input.cache_creation = r->usage.cache_creation_tokens;
    input.embedding = r->ctx.kind == SL_KIND_EMBEDDING;
    sl_cost_compute(r->deployment, &input, &input_cost);
    sl_otlp_span_add_double(s, "gen_ai.cost.input_cost", input_cost);
    sl_otlp_span_add_double(s, "gen_ai.cost.output_cost", *cost - input_cost);
    sl_otlp_span_add_double(s, "gen_ai.cost.total_cost", *cost);
}

static void
add_content(struct sl_otlp_span *s, const struct sl_request *r, const struct sl_trace *t)
{
    const cJSON *body = r->original != NULL ? r->original : r->body;
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const char *system = sl_json_get_string(body, "system");

    if (cJSON_IsArray(messages)) {
        char *text = messages_in_parts(messages, "user");

        sl_otlp_span_add_str(s, "gen_ai.input.messages", text);
        free(text);
    }
    if (system != NULL)
        sl_otlp_span_add_str(s, "gen_ai.system_instructions", system);
    sl_otlp_span_add_str(s, "gen_ai.output.messages", t->output_messages);
}

static void
add_outcome(struct sl_otlp_span *s, const struct sl_request *r)
{
    int status = r->client_gone && r->status == 0 ? 499 : r->status;

    sl_otlp_span_add_int(s, "http.response.status_code", status);
    if (r->error_type[0] != '\0' || status >= 400 || r->client_gone) {
        const char *type = r->error_type[0] != '\0' ? r->error_type
                           : r->client_gone         ? "client_gone"
                                                    : sl_errors_default_type(status);

        sl_otlp_span_add_int(s, "error.code", status);
        sl_otlp_span_add_str(s, "error.type", type);
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_ERROR, type);
    } else {
        sl_otlp_span_set_status(s, SL_OTLP_STATUS_OK, NULL);
    }
}

static void
build_server_span(struct sl_otlp_span *s, struct sl_request *r, struct sl_trace *t)
{
    const struct sl_deployment *d = r->deployment;
    double cost;
    double overhead_ms;

    sl_otlp_span_init(s, SL_TRACE_SERVER_SPAN_NAME, SL_OTLP_KIND_SERVER);
    memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
    memcpy(s->span_id, t->span_id, sizeof(s->span_id));
    memcpy(s->parent_span_id, t->parent_id, sizeof(s->parent_span_id));
    s->has_parent = t->has_parent;
    s->start_unix_ns = t->start_ns;
    s->end_unix_ns = wall_ns();
    overhead_ms = (double)(s->end_unix_ns - s->start_unix_ns - t->upstream_ns) / 1e6;

    sl_otlp_span_add_str(s, "gen_ai.request.model", r->model);
    sl_otlp_span_add_str(s, "gen_ai.operation.name", operation_of(r));
    sl_otlp_span_add_str(s, "llm.request.type", call_type_of(r));
    sl_otlp_span_add_str(s, "gen_ai.system", d != NULL ? d->provider : "Unknown");
    sl_otlp_span_add_str(s, "llm.is_streaming", r->stream ? "True" : "False");
    sl_otlp_span_add_str(s, "gen_ai.response.id", t->response_id);
    /* A stream's chunks carry the model the client asked for, as whole responses do. */
    sl_otlp_span_add_str(s, "gen_ai.response.model",
                         t->response_model != NULL ? t->response_model
                         : r->stream && r->status == 200 ? r->model
                                                         : NULL);
    if (t->n_finish_reasons > 0) {
        sl_otlp_span_add_str_array(s, "gen_ai.response.finish_reasons",
                                   (const char *const *)t->finish_reasons, t->n_finish_reasons);
    } else if (r->stream && r->st.finish_reason[0] != '\0') {
        const char *reason = r->st.finish_reason;

        sl_otlp_span_add_str_array(s, "gen_ai.response.finish_reasons", &reason, 1);
    }
    add_usage_and_cost(s, r, &cost);
    add_metadata(s, r);
    add_hidden_params(s, r, cost, overhead_ms);
    sl_otlp_span_add_str(s, "sluice.call_id", r->call_id);
    sl_otlp_span_add_bool(s, "sluice.cache_hit", r->cache_hit);
    sl_otlp_span_add_int(s, "sluice.attempted_retries", r->attempted_retries);
    sl_otlp_span_add_int(s, "sluice.attempted_fallbacks", r->attempted_fallbacks);
    if (t->content)
        add_content(s, r, t);
    add_outcome(s, r);
}

void
sl_trace_end(struct sl_request *r)
{
    struct sl_trace *t = r->trace;
    struct sl_otlp_span server;

    if (t == NULL)
        return;
    sl_trace_attempt_end(r, NULL);
    /* A request rejected before its body named a model is no model request. */
    if (r->model != NULL) {
        build_server_span(&server, r, t);
        sl_otel_submit(&server);
        sl_otlp_span_dispose(&server);
    }
    for (size_t i = 0; i < t->n_attempts; i++)
        sl_otel_submit(&t->attempts[i]);
    t->n_attempts = 0;
    for (size_t i = 0; i < t->n_stores; i++) {
        /* A store call still waiting when the request ended, e.g. after the client left. */
        if (t->stores[i].end_unix_ns == 0)
            sl_trace_store_end(r, (int)i, NULL, "unfinished");
        sl_otel_submit(&t->stores[i]);
    }
    t->n_stores = 0;
}

void
sl_trace_free(struct sl_trace *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_attempts; i++)
        sl_otlp_span_dispose(&t->attempts[i]);
    for (size_t i = 0; i < t->n_stores; i++)
        sl_otlp_span_dispose(&t->stores[i]);
    for (size_t i = 0; i < t->n_finish_reasons; i++)
        free(t->finish_reasons[i]);
    free(t->response_id);
    free(t->response_model);
    free(t->output_messages);
    free(t);
}
