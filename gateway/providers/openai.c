/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai -- the OpenAI-compatible family: OpenAI itself and every server that speaks its
 * chat completions API (vLLM, Ollama's /v1, Groq, DeepSeek, Mistral, OpenRouter, ...).
 *
 * The client's body goes upstream byte for byte except `model`, which becomes the provider's
 * name; responses and stream chunks come back byte for byte except `model`, which becomes the
 * name the client asked for. Chunks are still parsed to track finish reasons, usage and
 * in-band errors. A streamed chat or text completion always requests
 * stream_options.include_usage, so limits see the real token usage, and the usage chunk reaches
 * the client only when the client requested it.
 */
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

static void
append_base_url(struct sl_buf *url, const struct sl_provider *p, const struct sl_deployment *d)
{
    const char *base = d->api_base != NULL ? d->api_base : p->default_api_base;
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    sl_buf_append(url, base, n);

    /* Ollama serves the OpenAI API under /v1, but LiteLLM configs give the bare server URL. */
    if ((strcmp(p->name, "ollama_chat") == 0 || strcmp(p->name, "ollama") == 0) &&
        (n < 3 || memcmp(base + n - 3, "/v1", 3) != 0))
        sl_buf_append_str(url, "/v1");
}

struct curl_slist *
sl_openai_add_header(struct curl_slist *list, const char *name, const char *value)
{
    struct sl_buf line;
    struct curl_slist *next;

    sl_buf_init(&line, 0);
    sl_buf_printf(&line, "%s: %s", name, value);
    next = curl_slist_append(list, line.data);
    sl_buf_dispose(&line);
    return next;
}

/* Writes `json` to `out` with `model` as its top-level model, every other byte unchanged. */
enum sl_status
sl_openai_set_model(const char *json, size_t len, const char *model, struct sl_buf *out,
                    struct sl_errbuf *err)
{
    enum sl_status rc = sl_json_replace_top_string(json, len, "model", model, out);

    if (rc != SL_OK)
        sl_errbuf_set(err, "the JSON is not an object");
    return rc;
}

/* ---------------------------------------------------------------- stream usage */

int
sl_openai_usage_forced(const struct sl_call_ctx *ctx)
{
    const cJSON *opts;

    if (!ctx->stream || (ctx->kind != SL_KIND_CHAT && ctx->kind != SL_KIND_COMPLETION))
        return 0;
    opts = cJSON_GetObjectItemCaseSensitive(ctx->body, "stream_options");
    return !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
}

/*
 * Writes `json` to `out` with stream_options.include_usage set to true. The other members of
 * stream_options and every other byte stay as they are. A stream_options that is not an object
 * (null, or a type the validator let through) is replaced by {"include_usage":true}.
 */
static enum sl_status
request_stream_usage(const char *json, size_t len, struct sl_buf *out)
{
    static const char fresh[] = "{\"include_usage\":true}";
    struct sl_buf opts;
    size_t start = 0;
    size_t end = 0;
    enum sl_status rc = sl_json_find_top(json, len, "stream_options", &start, &end);

    if (rc == SL_ERR_INVALID)
        return rc;
    if (rc != SL_OK || start >= end || json[start] != '{')
        return sl_json_replace_top_raw(json, len, "stream_options", fresh, sizeof(fresh) - 1,
                                       out);

    sl_buf_init(&opts, 0);
    rc = sl_json_replace_top_raw(json + start, end - start, "include_usage", "true", 4, &opts);
    if (rc == SL_OK)
        rc = sl_json_replace_top_raw(json, len, "stream_options", opts.data, opts.len, out);
    sl_buf_dispose(&opts);
    return rc;
}

enum sl_status
sl_openai_request_body(const struct sl_call_ctx *ctx, struct sl_buf *out, struct sl_errbuf *err)
{
    const char *model = ctx->deployment->provider_model;
    char *printed = NULL;
    const char *json = ctx->raw_body;
    size_t len = ctx->raw_len;
    struct sl_buf with_model;
    enum sl_status rc;

    /* A body converted from another client format has no original bytes to keep. */
    if (json == NULL) {
        printed = sl_json_print(ctx->body);
        json = printed;
        len = strlen(printed);
    }
    if (!sl_openai_usage_forced(ctx)) {
        rc = sl_openai_set_model(json, len, model, out, err);
        goto out;
    }

    sl_buf_init(&with_model, 0);
    rc = sl_openai_set_model(json, len, model, &with_model, err);
    if (rc == SL_OK)
        rc = request_stream_usage(with_model.data, with_model.len, out);
    sl_buf_dispose(&with_model);
    if (rc != SL_OK)
        sl_errbuf_set(err, "the JSON is not an object");

out:
    cJSON_free(printed);
    return rc;
}

/* Returns 1 for the chunk that include_usage adds at the end of a stream: an empty `choices`
 * array and a `usage` object. */
static int
is_usage_chunk(const cJSON *root)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");

    return cJSON_IsArray(choices) && cJSON_GetArraySize(choices) == 0 &&
           cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "usage"));
}

/* ---------------------------------------------------------------- family */

static const struct sl_provider *find_self(const struct sl_deployment *d);

static const char *
path_for(enum sl_call_kind kind)
{
    switch (kind) {
    case SL_KIND_COMPLETION:
        return "/completions";
    case SL_KIND_EMBEDDING:
        return "/embeddings";
    case SL_KIND_COUNT_TOKENS: /* not started here: only Anthropic-format families count */
    case SL_KIND_CHAT:
        break;
    }
    return "/chat/completions";
}

static enum sl_status
build_request(const struct sl_call_ctx *ctx, struct sl_upstream_request *out,
              struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;
    const struct sl_provider *p = find_self(d);
    struct curl_slist *h = NULL;

    if (d->api_base == NULL && p->default_api_base == NULL) {
        sl_errbuf_set(err, "deployment %s has no api_base", d->id);
        return SL_ERR_CONFIG;
    }
    append_base_url(&out->url, p, d);
    sl_buf_append_str(&out->url, path_for(ctx->kind));

    h = sl_openai_add_header(h, "Content-Type", "application/json");
    if (d->api_key != NULL) {
        struct sl_buf bearer;

        sl_buf_init(&bearer, 0);
        sl_buf_printf(&bearer, "Bearer %s", d->api_key);
        h = sl_openai_add_header(h, "Authorization", bearer.data);
        sl_buf_dispose(&bearer);
    }
    if (d->organization != NULL)
        h = sl_openai_add_header(h, "OpenAI-Organization", d->organization);
    for (size_t i = 0; i < d->n_extra_headers; i++)
        h = sl_openai_add_header(h, d->extra_headers[i].name, d->extra_headers[i].value);
    out->headers = h;
    return sl_openai_request_body(ctx, &out->body, err);
}

/* Largest token count taken from a provider: far above any real count, and it keeps sums and
 * conversions to int64_t defined whatever number a provider sends. */
#define SL_OPENAI_MAX_TOKENS 1e15

/* Reads a token count; a missing, negative or non-number value leaves `*out` as it was. */
static void
read_tokens(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
        return;
    *out = v->valuedouble > SL_OPENAI_MAX_TOKENS ? (int64_t)SL_OPENAI_MAX_TOKENS
                                                 : (int64_t)v->valuedouble;
}

void
sl_openai_read_usage(const cJSON *root, struct sl_usage *usage)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *details;

    if (!cJSON_IsObject(u))
        return;
    usage->present = 1;
    read_tokens(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens"), &usage->prompt_tokens);
    read_tokens(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens"),
                &usage->completion_tokens);
    usage->total_tokens = usage->prompt_tokens + usage->completion_tokens;
    read_tokens(cJSON_GetObjectItemCaseSensitive(u, "total_tokens"), &usage->total_tokens);
    details = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    read_tokens(cJSON_GetObjectItemCaseSensitive(details, "cached_tokens"), &usage->cached_tokens);
    details = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
    read_tokens(cJSON_GetObjectItemCaseSensitive(details, "reasoning_tokens"),
                &usage->reasoning_tokens);
}

cJSON *
sl_openai_usage_json(const struct sl_usage *usage)
{
    cJSON *u = cJSON_CreateObject();

    cJSON_AddNumberToObject(u, "prompt_tokens", (double)usage->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)usage->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)usage->total_tokens);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "prompt_tokens_details"), "cached_tokens",
                            (double)usage->cached_tokens);
    return u;
}

/* Returns an object with `id`, `object` set to `type`, `created` and the requested model. */
static cJSON *
new_chat_object(const struct sl_call_ctx *ctx, const char *id, const char *type)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", type);
    cJSON_AddNumberToObject(o, "created", (double)ctx->now_unix_s);
    cJSON_AddStringToObject(o, "model", ctx->requested_model);
    return o;
}

cJSON *
sl_openai_response_new(const struct sl_call_ctx *ctx, const char *id)
{
    return new_chat_object(ctx, id, "chat.completion");
}

cJSON *
sl_openai_chunk_new(const struct sl_call_ctx *ctx, const char *id)
{
    cJSON *chunk = new_chat_object(ctx, id, "chat.completion.chunk");

    cJSON_AddArrayToObject(chunk, "choices");
    return chunk;
}

cJSON *
sl_openai_chunk_choice(int index, cJSON *delta, int with_logprobs, const char *finish_reason)
{
    cJSON *choice = cJSON_CreateObject();

    cJSON_AddNumberToObject(choice, "index", index);
    cJSON_AddItemToObject(choice, "delta", delta);
    if (with_logprobs)
        cJSON_AddNullToObject(choice, "logprobs");
    if (finish_reason != NULL)
        cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    return choice;
}

enum sl_status
sl_openai_parse_response(const char *body, size_t len, cJSON **root, struct sl_errbuf *err)
{
    *root = NULL;
    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH * 4, root, NULL) != SL_OK ||
        !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        sl_errbuf_set(err, "the provider's response is not a JSON object");
        return SL_ERR_UPSTREAM_PROTO;
    }
    return SL_OK;
}

void
sl_openai_append_json(struct sl_buf *out, cJSON *json)
{
    char *text = sl_json_print(json);

    sl_buf_append_str(out, text);
    cJSON_free(text);
    cJSON_Delete(json);
}

void
sl_openai_write_chunk(struct sl_buf *out, cJSON *chunk)
{
    char *text = sl_json_print(chunk);

    sl_sse_write_data(out, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(chunk);
}

void
sl_openai_write_delta(const struct sl_call_ctx *ctx, const char *id, cJSON *delta,
                      const char *finish_reason, struct sl_buf *out)
{
    cJSON *chunk = sl_openai_chunk_new(ctx, id);

    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(chunk, "choices"),
                         sl_openai_chunk_choice(0, delta, 0, finish_reason));
    sl_openai_write_chunk(out, chunk);
}

enum sl_status
sl_openai_translate_response(const struct sl_call_ctx *ctx, const char *body, size_t len,
                             struct sl_buf *out, struct sl_usage *usage, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    enum sl_status rc = sl_json_parse(body, len, SL_JSON_MAX_DEPTH * 4, &root, err);

    if (rc != SL_OK || !cJSON_IsObject(root)) {
        sl_errbuf_set(err, "the provider's response is not a JSON object");
        cJSON_Delete(root);
        return SL_ERR_UPSTREAM_PROTO;
    }
    sl_openai_read_usage(root, usage);
    /* Some OpenAI-compatible servers omit usage: estimate it so the call still counts. */
    sl_usage_estimate(usage, sl_usage_request_chars(ctx->body), sl_usage_response_chars(root));
    cJSON_Delete(root);
    rc = sl_openai_set_model(body, len, ctx->requested_model, out, err);
    return rc == SL_OK ? SL_OK : SL_ERR_UPSTREAM_PROTO;
}

static void
track_finish(struct sl_stream_state *st, const cJSON *root)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *choice;

    cJSON_ArrayForEach(choice, choices)
    {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
        int i = cJSON_IsNumber(index) ? index->valueint : 0;

        if (!cJSON_IsString(reason) || i < 0 || i >= SL_STREAM_MAX_CHOICES || st->finished[i])
            continue;
        st->finished[i] = 1;
        st->finish_count++;
        sl_stream_note_finish(st, reason->valuestring);
    }
}

enum sl_stream_verdict
sl_openai_translate_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                          const struct sl_stream_event *ev, struct sl_buf *out,
                          struct sl_upstream_error *err)
{
    cJSON *root = NULL;
    const cJSON *error;
    struct sl_buf frame;

    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        st->saw_done = 1;
        return SL_STREAM_END;
    }
    if (sl_json_parse(ev->data, ev->data_len, SL_JSON_MAX_DEPTH * 4, &root, NULL) != SL_OK ||
        !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        memset(err, 0, sizeof(*err));
        err->status = 502;
        snprintf(err->message, sizeof(err->message), "the provider sent a stream event that is not a JSON object");
        return SL_STREAM_FAILED;
    }

    error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (error != NULL && !cJSON_IsNull(error)) {
        sl_errors_parse_openai(500, ev->data, ev->data_len, err);
        cJSON_Delete(root);
        return SL_STREAM_FAILED;
    }

    track_finish(st, root);
    st->generated_chars += sl_usage_response_chars(root);
    sl_openai_read_usage(root, &st->usage);

    /* The usage chunk of a stream whose client did not request usage was requested by
     * sl_openai_request_body() for the limits: record it, but do not send it.
     * NOTE: the "usage": null that OpenAI adds to every other chunk once usage is requested
     * still reaches that client. */
    if (sl_openai_usage_forced(ctx) && is_usage_chunk(root)) {
        cJSON_Delete(root);
        return SL_STREAM_CONTINUE;
    }
    cJSON_Delete(root);
    sl_buf_init(&frame, 0);
    sl_openai_set_model(ev->data, ev->data_len, ctx->requested_model, &frame, NULL);
    sl_sse_write_data(out, frame.data, frame.len);
    sl_buf_dispose(&frame);
    return SL_STREAM_CONTINUE;
}

static void
parse_error(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    sl_errors_parse_openai(status, body, len, out);
}

#define SL_OPENAI_FAMILY(prefix, base, key_env)                                                    \
    {                                                                                              \
        .name = (prefix), .default_api_base = (base), .api_key_env = (key_env),                    \
        .native_format = SL_FORMAT_OPENAI, .framing = SL_FRAMING_SSE,                             \
        .build_request = build_request, .translate_response = sl_openai_translate_response,        \
        .translate_event = sl_openai_translate_event, .parse_error = parse_error,                  \
    }

/* Prefixes served by this family, with the base URL used when a deployment sets none. */
const struct sl_provider sl_openai_families[] = {
    SL_OPENAI_FAMILY("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    SL_OPENAI_FAMILY("hosted_vllm", NULL, "HOSTED_VLLM_API_KEY"),
    SL_OPENAI_FAMILY("vllm", NULL, NULL),
    SL_OPENAI_FAMILY("ollama_chat", "http://localhost:11434", NULL),
    SL_OPENAI_FAMILY("ollama", "http://localhost:11434", NULL),
    SL_OPENAI_FAMILY("lm_studio", "http://localhost:1234/v1", "LM_STUDIO_API_KEY"),
    SL_OPENAI_FAMILY("openai_like", NULL, NULL),
    SL_OPENAI_FAMILY("custom_openai", NULL, NULL),
    SL_OPENAI_FAMILY("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    SL_OPENAI_FAMILY("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    SL_OPENAI_FAMILY("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    SL_OPENAI_FAMILY("together_ai", "https://api.together.xyz/v1", "TOGETHERAI_API_KEY"),
    SL_OPENAI_FAMILY("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    SL_OPENAI_FAMILY("fireworks_ai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_KEY"),
    SL_OPENAI_FAMILY("perplexity", "https://api.perplexity.ai", "PERPLEXITYAI_API_KEY"),
    SL_OPENAI_FAMILY("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
};

const size_t sl_openai_family_count = sizeof(sl_openai_families) / sizeof(sl_openai_families[0]);

static const struct sl_provider *
find_self(const struct sl_deployment *d)
{
    const struct sl_provider *p = sl_provider_find(d->provider);

    return p != NULL ? p : &sl_openai_families[0];
}
