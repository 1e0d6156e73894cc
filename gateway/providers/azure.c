/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure -- the Azure OpenAI family (`azure/<deployment>`).
 *
 * Bodies, responses and stream chunks are OpenAI's and go through the OpenAI family's
 * translators, which also request and hold back the usage chunk of a stream (openai.c). Only the URL (deployment and api-version in it), the authentication header and
 * the reading of content-filter refusals differ. A content-filter error body, or a stream chunk
 * that finishes with content_filter, becomes a 400 `content_policy_violation`, the type a
 * router matches for content_policy_fallbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

/* The api-version LiteLLM 1.81.13 sends when neither the deployment nor the environment sets
 * one. */
#define SL_AZURE_DEFAULT_API_VERSION "2025-02-01-preview"

#define SL_AZURE_FILTER_MESSAGE                                                                    \
    "The response was filtered by Azure OpenAI's content management policy "                       \
    "(finish_reason content_filter)."

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

/* Appends `s` with every byte outside RFC 3986's unreserved set percent-encoded. */
static void
append_escaped(struct sl_buf *url, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            sl_buf_append(url, s, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

            sl_buf_append(url, enc, sizeof(enc));
        }
    }
}

/*
 * Returns the deployment's api_base. The gateway copies AZURE_API_BASE into deployments
 * without one when it loads its config. A config loaded elsewhere (tests, tools) reads the
 * variable here, when the request is built.
 */
static const char *
api_base_of(const struct sl_deployment *d)
{
    return d->api_base != NULL ? d->api_base : getenv("AZURE_API_BASE");
}

static const char *
api_version_of(const struct sl_deployment *d)
{
    const char *env = getenv("AZURE_API_VERSION");

    if (d->api_version != NULL)
        return d->api_version;
    return env != NULL && env[0] != '\0' ? env : SL_AZURE_DEFAULT_API_VERSION;
}

static struct curl_slist *
add_auth(struct curl_slist *h, const struct sl_deployment *d)
{
    const char *token = getenv("AZURE_AD_TOKEN");
    struct sl_buf bearer;

    if (d->api_key != NULL)
        return sl_openai_add_header(h, "api-key", d->api_key);
    if (token == NULL || token[0] == '\0')
        return h;
    /* NOTE: an Entra ID token is read from AZURE_AD_TOKEN only. litellm_params.azure_ad_token
     * and the client-credentials flow are not supported. */
    sl_buf_init(&bearer, 0);
    sl_buf_printf(&bearer, "Bearer %s", token);
    h = sl_openai_add_header(h, "Authorization", bearer.data);
    sl_buf_dispose(&bearer);
    return h;
}

static enum sl_status
build_request(const struct sl_call_ctx *ctx, struct sl_upstream_request *out, struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;
    const char *base = api_base_of(d);
    struct curl_slist *h = NULL;
    size_t n;

    if (base == NULL || base[0] == '\0') {
        sl_errbuf_set(err,
                      "deployment %s has no api_base: set litellm_params.api_base or "
                      "AZURE_API_BASE",
                      d->id);
        return SL_ERR_CONFIG;
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    sl_buf_append(&out->url, base, n);
    sl_buf_append_str(&out->url, "/openai/deployments/");
    append_escaped(&out->url, d->provider_model);
    sl_buf_append_str(&out->url, path_for(ctx->kind));
    sl_buf_append_str(&out->url, "?api-version=");
    append_escaped(&out->url, api_version_of(d));

    h = sl_openai_add_header(h, "Content-Type", "application/json");
    h = add_auth(h, d);
    for (size_t i = 0; i < d->n_extra_headers; i++)
        h = sl_openai_add_header(h, d->extra_headers[i].name, d->extra_headers[i].value);
    out->headers = h;
    return sl_openai_request_body(ctx, &out->body, err);
}

/*
 * Returns 1 when an error object is a content-filter refusal: `code` "content_filter", or an
 * inner error with code "ResponsibleAIPolicyViolation". Azure's docs spell the inner object
 * `innererror` and its REST spec `inner_error`, so both are read.
 */
static int
is_filter_error(const cJSON *error)
{
    static const char *const inner_names[] = {"innererror", "inner_error"};
    const char *code = sl_json_get_string(error, "code");

    if (code != NULL && strcmp(code, "content_filter") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(inner_names) / sizeof(inner_names[0]); i++) {
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(error, inner_names[i]);
        const char *inner_code = sl_json_get_string(inner, "code");

        if (inner_code != NULL && strcmp(inner_code, "ResponsibleAIPolicyViolation") == 0)
            return 1;
    }
    return 0;
}

/* Returns 1 when `needle` occurs in the `len` bytes of `hay`. */
static int
contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static void
mark_filtered(struct sl_upstream_error *out)
{
    out->status = 400;
    snprintf(out->type, sizeof(out->type), "content_policy_violation");
}

static void
parse_error(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    cJSON *root = NULL;

    sl_errors_parse_openai(status, body, len, out);
    if (len > 0 && sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, NULL) == SL_OK) {
        if (is_filter_error(cJSON_GetObjectItemCaseSensitive(root, "error")))
            mark_filtered(out);
        cJSON_Delete(root);
        return;
    }
    /* A body that is not JSON is matched by text, as LiteLLM matches exception strings. */
    if (contains(body, len, "ResponsibleAIPolicyViolation"))
        mark_filtered(out);
}

/* Returns 1 when a chunk or response has a choice that finished with "content_filter". */
static int
has_filter_finish(const cJSON *root)
{
    const cJSON *choice;

    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(root, "choices"))
    {
        const char *reason = sl_json_get_string(choice, "finish_reason");

        if (reason != NULL && strcmp(reason, "content_filter") == 0)
            return 1;
    }
    return 0;
}

/* Passes the response through the OpenAI translator; a choice that finished with
 * content_filter refuses the whole response, as a streamed one fails its stream. */
static enum sl_status
translate_response(const struct sl_call_ctx *ctx, const char *body, size_t len, struct sl_buf *out,
                   struct sl_usage *usage, struct sl_errbuf *err)
{
    enum sl_status rc = sl_openai_translate_response(ctx, body, len, out, usage, err);
    cJSON *root = NULL;
    int filtered = 0;

    if (rc != SL_OK)
        return rc;
    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH * 4, &root, NULL) == SL_OK)
        filtered = has_filter_finish(root);
    cJSON_Delete(root);
    if (!filtered)
        return SL_OK;
    sl_errbuf_set(err, "%s", SL_AZURE_FILTER_MESSAGE);
    return SL_ERR_REFUSED;
}

/* Like the OpenAI family, but a chunk that finishes a choice with content_filter, or an in-band
 * content-filter error, fails the stream with a 400 content_policy_violation. */
static enum sl_stream_verdict
translate_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                const struct sl_stream_event *ev, struct sl_buf *out, struct sl_upstream_error *err)
{
    cJSON *root = NULL;
    int filter_error = 0;
    int filter_finish = 0;

    if (sl_json_parse(ev->data, ev->data_len, SL_JSON_MAX_DEPTH * 4, &root, NULL) == SL_OK &&
        cJSON_IsObject(root)) {
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");

        if (cJSON_IsObject(error))
            filter_error = is_filter_error(error);
        else
            filter_finish = has_filter_finish(root);
    }
    cJSON_Delete(root);

    if (filter_error) {
        sl_errors_parse_openai(400, ev->data, ev->data_len, err);
        mark_filtered(err);
        return SL_STREAM_FAILED;
    }
    if (filter_finish) {
        memset(err, 0, sizeof(*err));
        snprintf(err->message, sizeof(err->message), "%s", SL_AZURE_FILTER_MESSAGE);
        mark_filtered(err);
        return SL_STREAM_FAILED;
    }
    return sl_openai_translate_event(ctx, st, ev, out, err);
}

const struct sl_provider sl_azure_families[] = {
    {
        .name = "azure",
        .default_api_base = NULL,
        .api_key_env = "AZURE_API_KEY",
        .api_base_env = "AZURE_API_BASE",
        .native_format = SL_FORMAT_OPENAI,
        .framing = SL_FRAMING_SSE,
        .build_request = build_request,
        .translate_response = translate_response,
        .translate_event = translate_event,
        .parse_error = parse_error,
    },
};

const size_t sl_azure_family_count = sizeof(sl_azure_families) / sizeof(sl_azure_families[0]);
