/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bedrock -- the AWS Bedrock family: the Converse and ConverseStream APIs, signed with SigV4.
 *
 * Model ids are `bedrock/<model id>` or `bedrock/converse/<model id>`; both call
 * POST /model/{url-encoded id}/converse (or /converse-stream) on
 * https://bedrock-runtime.<region>.amazonaws.com, or on api_base / aws_bedrock_runtime_endpoint.
 * Requests arrive in OpenAI's shape and are rewritten into Converse's; responses and the
 * binary event stream (decoded by gateway/http/decoder.c) are rewritten into OpenAI's. No client
 * speaks Converse, so calls are never native. Titan text embeddings go through InvokeModel.
 * Requests are signed with the deployment's AWS credentials, or the AWS_* environment
 * variables, at ctx->now_unix_s.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/json.h"
#include "common/sigv4.h"
#include "common/xalloc.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

#define SL_BEDROCK_SIGNING_NAME   "bedrock"
#define SL_BEDROCK_DEFAULT_REGION "us-west-2"
/* Content blocks per streamed message whose tool-call index is tracked. */
#define SL_BEDROCK_MAX_BLOCKS 1024

/* ---------------------------------------------------------------- helpers */

static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
    struct sl_buf line;
    struct curl_slist *next;

    sl_buf_init(&line, 0);
    sl_buf_printf(&line, "%s: %s", name, value);
    next = curl_slist_append(list, line.data);
    sl_buf_dispose(&line);
    return next;
}

static const char *
first_env(const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *v = getenv(names[i]);

        if (v != NULL && v[0] != '\0')
            return v;
    }
    return NULL;
}

static const char *
or_env(const char *value, const char *env)
{
    const char *names[] = {env, NULL};

    return value != NULL && value[0] != '\0' ? value : first_env(names);
}

static const char *
region_of(const struct sl_deployment *d)
{
    static const char *const env[] = {"AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", NULL};
    const char *r = d->aws_region_name != NULL ? d->aws_region_name : first_env(env);

    return r != NULL ? r : SL_BEDROCK_DEFAULT_REGION;
}

/* Returns the model id without the optional "converse/" route prefix. */
static const char *
model_id_of(const struct sl_deployment *d)
{
    const char *m = d->provider_model;

    return strncmp(m, "converse/", 9) == 0 ? m + 9 : m;
}

static void
error_status(struct sl_upstream_error *e, int status, const char *message)
{
    memset(e, 0, sizeof(*e));
    e->status = status;
    snprintf(e->message, sizeof(e->message), "%s", message);
}

/* ---------------------------------------------------------------- OpenAI -> Converse */

static cJSON *
text_block(const char *text)
{
    cJSON *b = cJSON_CreateObject();

    cJSON_AddStringToObject(b, "text", text);
    return b;
}

/* Converts a data: URL image part into a Converse image block; remote URLs are rejected
 * because Converse takes image bytes, not links. */
static enum sl_status
image_block(const cJSON *part, size_t msg, cJSON **out, struct sl_errbuf *err)
{
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(part, "image_url");
    const char *url = cJSON_IsString(image) ? image->valuestring : sl_json_get_string(image, "url");
    const char *comma;
    const char *slash;
    char format[16];
    size_t n;
    cJSON *block;
    cJSON *img;

    if (url == NULL || strncmp(url, "data:image/", 11) != 0) {
        sl_errbuf_set(err,
                      "messages[%zu]: bedrock accepts images only as data:image/... URLs "
                      "with base64 content",
                      msg);
        return SL_ERR_INVALID;
    }
    slash = url + 10;
    comma = strchr(url, ',');
    n = strcspn(slash + 1, ";,");
    if (comma == NULL || n == 0 || n >= sizeof(format) || strstr(url, ";base64,") != comma - 7) {
        sl_errbuf_set(err,
                      "messages[%zu]: the image data URL is not base64 "
                      "(data:image/<format>;base64,...)",
                      msg);
        return SL_ERR_INVALID;
    }
    memcpy(format, slash + 1, n);
    format[n] = '\0';
    if (strcmp(format, "jpg") == 0)
        snprintf(format, sizeof(format), "jpeg");

    block = cJSON_CreateObject();
    img = cJSON_AddObjectToObject(block, "image");
    cJSON_AddStringToObject(img, "format", format);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(img, "source"), "bytes", comma + 1);
    *out = block;
    return SL_OK;
}

/* Appends the Converse blocks of an OpenAI `content` (string or parts) to `blocks`. */
static enum sl_status
append_content(const cJSON *content, size_t msg, int images_allowed, cJSON *blocks,
               struct sl_errbuf *err)
{
    const cJSON *part;

    if (cJSON_IsString(content)) {
        if (content->valuestring[0] != '\0')
            cJSON_AddItemToArray(blocks, text_block(content->valuestring));
        return SL_OK;
    }
    if (content == NULL || cJSON_IsNull(content))
        return SL_OK;
    if (!cJSON_IsArray(content)) {
        sl_errbuf_set(err, "messages[%zu].content must be a string or an array", msg);
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(part, content)
    {
        const char *type = sl_json_get_string(part, "type");

        if (type != NULL && strcmp(type, "text") == 0 && sl_json_get_string(part, "text")) {
            cJSON_AddItemToArray(blocks, text_block(sl_json_get_string(part, "text")));
        } else if (type != NULL && strcmp(type, "image_url") == 0 && images_allowed) {
            cJSON *block = NULL;
            enum sl_status rc = image_block(part, msg, &block, err);

            if (rc != SL_OK)
                return rc;
            cJSON_AddItemToArray(blocks, block);
        } else {
            sl_errbuf_set(err,
                          "messages[%zu].content has a part of type \"%s\" that bedrock "
                          "does not accept here",
                          msg, type != NULL ? type : "(none)");
            return SL_ERR_INVALID;
        }
    }
    return SL_OK;
}

static enum sl_status
append_tool_uses(const cJSON *calls, size_t msg, cJSON *blocks, struct sl_errbuf *err)
{
    const cJSON *call;

    cJSON_ArrayForEach(call, calls)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        const char *id = sl_json_get_string(call, "id");
        const char *name = sl_json_get_string(fn, "name");
        const char *args = sl_json_get_string(fn, "arguments");
        cJSON *input = NULL;
        cJSON *block;
        cJSON *use;

        if (id == NULL || name == NULL) {
            sl_errbuf_set(err, "messages[%zu].tool_calls needs id and function.name", msg);
            return SL_ERR_INVALID;
        }
        if (args != NULL && args[0] != '\0' &&
            sl_json_parse(args, strlen(args), SL_JSON_MAX_DEPTH, &input, NULL) != SL_OK) {
            sl_errbuf_set(err, "messages[%zu].tool_calls[].function.arguments is not JSON", msg);
            return SL_ERR_INVALID;
        }
        if (input == NULL)
            input = cJSON_CreateObject();
        block = cJSON_CreateObject();
        use = cJSON_AddObjectToObject(block, "toolUse");
        cJSON_AddStringToObject(use, "toolUseId", id);
        cJSON_AddStringToObject(use, "name", name);
        cJSON_AddItemToObject(use, "input", input);
        cJSON_AddItemToArray(blocks, block);
    }
    return SL_OK;
}

/* The Converse messages being built: consecutive turns of one role share a message, because
 * Converse requires user and assistant turns to alternate. */
struct conversation {
    cJSON *system;   /* array of {text} blocks */
    cJSON *messages; /* array of {role, content} */
};

static cJSON *
turn_for(struct conversation *cv, const char *role)
{
    cJSON *last = cJSON_GetArrayItem(cv->messages, cJSON_GetArraySize(cv->messages) - 1);
    cJSON *turn;

    if (last != NULL && strcmp(sl_json_get_string(last, "role"), role) == 0)
        return cJSON_GetObjectItemCaseSensitive(last, "content");
    turn = cJSON_CreateObject();
    cJSON_AddStringToObject(turn, "role", role);
    cJSON_AddItemToArray(cv->messages, turn);
    return cJSON_AddArrayToObject(turn, "content");
}

static enum sl_status
add_tool_result(struct conversation *cv, const cJSON *m, size_t msg, struct sl_errbuf *err)
{
    const char *id = sl_json_get_string(m, "tool_call_id");
    cJSON *content = cJSON_CreateArray();
    cJSON *block;
    cJSON *result;
    enum sl_status rc;

    if (id == NULL) {
        sl_errbuf_set(err, "messages[%zu]: a tool message needs tool_call_id", msg);
        cJSON_Delete(content);
        return SL_ERR_INVALID;
    }
    rc = append_content(cJSON_GetObjectItemCaseSensitive(m, "content"), msg, 0, content, err);
    if (rc != SL_OK) {
        cJSON_Delete(content);
        return rc;
    }
    if (cJSON_GetArraySize(content) == 0)
        cJSON_AddItemToArray(content, text_block(""));

    block = cJSON_CreateObject();
    result = cJSON_AddObjectToObject(block, "toolResult");
    cJSON_AddStringToObject(result, "toolUseId", id);
    cJSON_AddItemToObject(result, "content", content);
    cJSON_AddItemToArray(turn_for(cv, "user"), block);
    return SL_OK;
}

static enum sl_status
add_message(struct conversation *cv, const cJSON *m, size_t msg, struct sl_errbuf *err)
{
    const char *role = sl_json_get_string(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    enum sl_status rc;

    if (role == NULL) {
        sl_errbuf_set(err, "messages[%zu] has no role", msg);
        return SL_ERR_INVALID;
    }
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return append_content(content, msg, 0, cv->system, err);
    if (strcmp(role, "tool") == 0)
        return add_tool_result(cv, m, msg, err);
    if (strcmp(role, "user") == 0)
        return append_content(content, msg, 1, turn_for(cv, "user"), err);
    if (strcmp(role, "assistant") == 0) {
        cJSON *blocks = turn_for(cv, "assistant");

        rc = append_content(content, msg, 0, blocks, err);
        if (rc == SL_OK)
            rc = append_tool_uses(cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), msg, blocks,
                                  err);
        return rc;
    }
    sl_errbuf_set(err, "messages[%zu] has role \"%s\", which bedrock does not accept", msg, role);
    return SL_ERR_INVALID;
}

static void
add_inference_config(const cJSON *body, cJSON *req)
{
    cJSON *cfg = cJSON_CreateObject();
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop");

    if (!cJSON_IsNumber(v))
        v = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (cJSON_IsNumber(v))
        cJSON_AddNumberToObject(cfg, "maxTokens", v->valuedouble);
    v = cJSON_GetObjectItemCaseSensitive(body, "temperature");
    if (cJSON_IsNumber(v))
        cJSON_AddNumberToObject(cfg, "temperature", v->valuedouble);
    v = cJSON_GetObjectItemCaseSensitive(body, "top_p");
    if (cJSON_IsNumber(v))
        cJSON_AddNumberToObject(cfg, "topP", v->valuedouble);
    if (cJSON_IsString(stop)) {
        cJSON_AddItemToArray(cJSON_AddArrayToObject(cfg, "stopSequences"),
                             cJSON_CreateString(stop->valuestring));
    } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
        cJSON_AddItemToObject(cfg, "stopSequences", cJSON_Duplicate(stop, 1));
    }

    if (cfg->child != NULL)
        cJSON_AddItemToObject(req, "inferenceConfig", cfg);
    else
        cJSON_Delete(cfg);
}

static enum sl_status
add_tool_choice(const cJSON *choice, cJSON *tool_config, struct sl_errbuf *err)
{
    const char *name =
        sl_json_get_string(cJSON_GetObjectItemCaseSensitive(choice, "function"), "name");
    cJSON *out;

    if (choice == NULL || (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0))
        return SL_OK; /* NOTE: Converse has no "none"; the model may still call a tool. */
    out = cJSON_AddObjectToObject(tool_config, "toolChoice");
    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "auto") == 0) {
        cJSON_AddObjectToObject(out, "auto");
    } else if (cJSON_IsString(choice) && strcmp(choice->valuestring, "required") == 0) {
        cJSON_AddObjectToObject(out, "any");
    } else if (name != NULL) {
        cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "tool"), "name", name);
    } else {
        sl_errbuf_set(err, "tool_choice must be \"none\", \"auto\", \"required\" or "
                           "{\"type\":\"function\",\"function\":{\"name\":...}}");
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

static enum sl_status
add_tools(const cJSON *body, cJSON *req, struct sl_errbuf *err)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
    const cJSON *tool;
    cJSON *config;
    cJSON *specs;

    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
        return SL_OK;
    config = cJSON_AddObjectToObject(req, "toolConfig");
    specs = cJSON_AddArrayToObject(config, "tools");
    cJSON_ArrayForEach(tool, tools)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        const char *name = sl_json_get_string(fn, "name");
        const char *description = sl_json_get_string(fn, "description");
        cJSON *spec;

        if (name == NULL) {
            sl_errbuf_set(err, "tools[].function.name is required");
            return SL_ERR_INVALID;
        }
        spec = cJSON_CreateObject();
        cJSON_AddItemToObject(spec, "toolSpec", cJSON_CreateObject());
        cJSON *ts = cJSON_GetObjectItemCaseSensitive(spec, "toolSpec");
        cJSON_AddStringToObject(ts, "name", name);
        if (description != NULL)
            cJSON_AddStringToObject(ts, "description", description);
        cJSON_AddItemToObject(cJSON_AddObjectToObject(ts, "inputSchema"), "json",
                              cJSON_IsObject(params) ? cJSON_Duplicate(params, 1)
                                                     : cJSON_CreateObject());
        cJSON_AddItemToArray(specs, spec);
    }
    return add_tool_choice(cJSON_GetObjectItemCaseSensitive(body, "tool_choice"), config, err);
}

static enum sl_status
convert_chat(const cJSON *body, struct sl_buf *out, struct sl_errbuf *err)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");
    const cJSON *m;
    struct conversation cv;
    cJSON *req = cJSON_CreateObject();
    size_t i = 0;
    enum sl_status rc = SL_OK;
    char *text;

    cv.system = cJSON_CreateArray();
    cv.messages = cJSON_CreateArray();
    if (cJSON_IsNumber(n) && n->valuedouble != 1) {
        sl_errbuf_set(err, "bedrock returns one choice: n must be 1");
        rc = SL_ERR_INVALID;
        goto out;
    }
    cJSON_ArrayForEach(m, messages)
    {
        rc = add_message(&cv, m, i++, err);
        if (rc != SL_OK)
            goto out;
    }

    cJSON_AddItemToObject(req, "messages", cv.messages);
    cv.messages = NULL;
    if (cJSON_GetArraySize(cv.system) > 0) {
        cJSON_AddItemToObject(req, "system", cv.system);
        cv.system = NULL;
    }
    add_inference_config(body, req);
    rc = add_tools(body, req, err);
    if (rc != SL_OK)
        goto out;

    text = sl_json_print(req);
    sl_buf_append_str(out, text);
    cJSON_free(text);

out:
    cJSON_Delete(cv.system);
    cJSON_Delete(cv.messages);
    cJSON_Delete(req);
    return rc;
}

/* Titan text embeddings take one input per InvokeModel call. */
static enum sl_status
convert_embedding(const cJSON *body, struct sl_buf *out, struct sl_errbuf *err)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
    cJSON *req;
    char *text;

    if (cJSON_IsArray(input) && cJSON_GetArraySize(input) == 1)
        input = cJSON_GetArrayItem(input, 0);
    if (!cJSON_IsString(input)) {
        sl_errbuf_set(err, "bedrock embeddings take one string as input");
        return SL_ERR_INVALID;
    }
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "inputText", input->valuestring);
    if (cJSON_IsNumber(dims))
        cJSON_AddNumberToObject(req, "dimensions", dims->valuedouble);
    text = sl_json_print(req);
    sl_buf_append_str(out, text);
    cJSON_free(text);
    cJSON_Delete(req);
    return SL_OK;
}

/* ---------------------------------------------------------------- request */

/* The parts of the endpoint URL that the signature covers. */
struct endpoint {
    struct sl_buf host; /* host[:port] as sent in the Host header */
    struct sl_buf path; /* base path plus the operation's path, percent-encoded */
};

static enum sl_status
split_base(const char *base, struct endpoint *ep, struct sl_buf *url, struct sl_errbuf *err)
{
    const char *scheme_end = strstr(base, "://");
    const char *host;
    size_t host_len;
    size_t path_len;

    if (scheme_end == NULL || scheme_end[3] == '\0') {
        sl_errbuf_set(err, "bedrock endpoint \"%s\" is not an http(s) URL", base);
        return SL_ERR_CONFIG;
    }
    host = scheme_end + 3;
    host_len = strcspn(host, "/?#");
    path_len = strcspn(host + host_len, "?#");
    while (path_len > 0 && host[host_len + path_len - 1] == '/')
        path_len--;
    sl_buf_append(&ep->host, host, host_len);
    sl_buf_append(&ep->path, host + host_len, path_len);
    sl_buf_append(url, base, (size_t)(host - base) + host_len);
    return SL_OK;
}

static const char *
operation_for(const struct sl_call_ctx *ctx)
{
    if (ctx->kind == SL_KIND_EMBEDDING)
        return "/invoke";
    return ctx->stream ? "/converse-stream" : "/converse";
}

static enum sl_status
sign_into(const struct sl_call_ctx *ctx, const struct endpoint *ep, const struct sl_buf *body,
          struct curl_slist **headers, struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;
    struct sl_sigv4_header signed_headers[2] = {
        {"Host", ep->host.data},
        {"Content-Type", "application/json"},
    };
    struct sl_sigv4_input in = {
        .method = "POST",
        .path = ep->path.data,
        .headers = signed_headers,
        .n_headers = 2,
        .payload = body->data,
        .payload_len = body->len,
        .access_key_id = or_env(d->aws_access_key_id, "AWS_ACCESS_KEY_ID"),
        .secret_access_key = or_env(d->aws_secret_access_key, "AWS_SECRET_ACCESS_KEY"),
        .session_token = or_env(d->aws_session_token, "AWS_SESSION_TOKEN"),
        .region = region_of(d),
        .service = SL_BEDROCK_SIGNING_NAME,
        .now_unix_s = ctx->now_unix_s,
        .sign_content_sha256 = 1,
    };
    struct sl_sigv4_output sig;
    enum sl_status rc;

    if (in.access_key_id == NULL || in.secret_access_key == NULL) {
        sl_errbuf_set(err,
                      "deployment %s has no AWS credentials: set aws_access_key_id and "
                      "aws_secret_access_key, or AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY",
                      d->id);
        return SL_ERR_CONFIG;
    }
    sl_sigv4_output_init(&sig);
    rc = sl_sigv4_sign(&in, &sig, err);
    if (rc == SL_OK) {
        /* Host is set explicitly so curl sends exactly the value that was signed. */
        *headers = add_header(*headers, "Host", ep->host.data);
        for (size_t i = 0; i < sig.n_added; i++)
            *headers = add_header(*headers, sig.added[i].name, sig.added[i].value);
        *headers = add_header(*headers, "Authorization", sig.authorization.data);
    }
    sl_sigv4_output_dispose(&sig);
    return rc == SL_OK ? SL_OK : SL_ERR_CONFIG;
}

static enum sl_status
build_request(const struct sl_call_ctx *ctx, struct sl_upstream_request *out, struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;
    const char *model = model_id_of(d);
    struct endpoint ep;
    struct sl_buf default_base;
    const char *base = d->api_base != NULL ? d->api_base : d->aws_bedrock_runtime_endpoint;
    struct curl_slist *h = NULL;
    enum sl_status rc;

    sl_buf_init(&ep.host, 0);
    sl_buf_init(&ep.path, 0);
    sl_buf_init(&default_base, 0);

    if (ctx->kind == SL_KIND_COMPLETION) {
        sl_errbuf_set(err, "bedrock serves chat completions and embeddings, not "
                           "/v1/completions");
        rc = SL_ERR_INVALID;
        goto out;
    }
    if (strncmp(d->provider_model, "invoke/", 7) == 0 && ctx->kind == SL_KIND_CHAT) {
        /* TODO: InvokeModel chat bodies are model-specific; only Converse is built. */
        sl_errbuf_set(err, "bedrock/invoke/ chat models are not supported: use bedrock/<id> "
                           "or bedrock/converse/<id>");
        rc = SL_ERR_INVALID;
        goto out;
    }
    if (ctx->kind == SL_KIND_EMBEDDING && strncmp(model, "invoke/", 7) == 0)
        model += 7;

    rc = ctx->kind == SL_KIND_EMBEDDING ? convert_embedding(ctx->body, &out->body, err)
                                        : convert_chat(ctx->body, &out->body, err);
    if (rc != SL_OK)
        goto out;

    if (base == NULL) {
        sl_buf_printf(&default_base, "https://bedrock-runtime.%s.amazonaws.com", region_of(d));
        base = default_base.data;
    }
    rc = split_base(base, &ep, &out->url, err);
    if (rc != SL_OK)
        goto out;
    sl_buf_append_str(&ep.path, "/model/");
    sl_sigv4_uri_encode(&ep.path, model, strlen(model));
    sl_buf_append_str(&ep.path, operation_for(ctx));
    sl_buf_append(&out->url, ep.path.data, ep.path.len);

    h = add_header(h, "Content-Type", "application/json");
    h = add_header(h, "Accept",
                   ctx->stream && ctx->kind == SL_KIND_CHAT ? "application/vnd.amazon.eventstream"
                                                            : "application/json");
    rc = sign_into(ctx, &ep, &out->body, &h, err);
    for (size_t i = 0; rc == SL_OK && i < d->n_extra_headers; i++)
        h = add_header(h, d->extra_headers[i].name, d->extra_headers[i].value);
    out->headers = h;

out:
    sl_buf_dispose(&ep.host);
    sl_buf_dispose(&ep.path);
    sl_buf_dispose(&default_base);
    return rc;
}

/* ---------------------------------------------------------------- Converse -> OpenAI */

static const char *
finish_reason_for(const char *stop)
{
    if (stop == NULL || strcmp(stop, "end_turn") == 0 || strcmp(stop, "stop_sequence") == 0)
        return "stop";
    if (strcmp(stop, "max_tokens") == 0 || strcmp(stop, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(stop, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop, "content_filtered") == 0 || strcmp(stop, "guardrail_intervened") == 0)
        return "content_filter";
    return stop; /* e.g. malformed_model_output: passed through as LiteLLM does */
}

static int64_t
get_int(const cJSON *obj, const char *key)
{
    return sl_usage_count(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Reads Converse's TokenUsage. OpenAI's prompt_tokens include cached tokens, so cache reads
 * and writes are added to inputTokens, which excludes them. */
static void
read_usage(const cJSON *usage, struct sl_usage *u)
{
    if (!cJSON_IsObject(usage))
        return;
    u->present = 1;
    u->cached_tokens = get_int(usage, "cacheReadInputTokens");
    u->cache_creation_tokens = get_int(usage, "cacheWriteInputTokens");
    u->prompt_tokens = get_int(usage, "inputTokens") + u->cached_tokens + u->cache_creation_tokens;
    u->completion_tokens = get_int(usage, "outputTokens");
    u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

/* Writes "chatcmpl-" and 24 random hex digits: Converse responses carry no id in the body. */
static void
make_id(char out[40])
{
    unsigned char r[12];
    static const char hex[] = "0123456789abcdef";

    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    memcpy(out, "chatcmpl-", 9);
    for (size_t i = 0; i < sizeof(r); i++) {
        out[9 + 2 * i] = hex[r[i] >> 4];
        out[10 + 2 * i] = hex[r[i] & 15];
    }
    out[9 + 2 * sizeof(r)] = '\0';
}

static cJSON *
tool_call_json(const cJSON *tool_use, int index, int streaming)
{
    cJSON *call = cJSON_CreateObject();
    cJSON *fn;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(tool_use, "input");
    char *args;

    if (streaming)
        cJSON_AddNumberToObject(call, "index", index);
    cJSON_AddStringToObject(call, "id", sl_json_get_string(tool_use, "toolUseId"));
    cJSON_AddStringToObject(call, "type", "function");
    fn = cJSON_AddObjectToObject(call, "function");
    cJSON_AddStringToObject(fn, "name", sl_json_get_string(tool_use, "name"));
    args = streaming || input == NULL ? NULL : sl_json_print(input);
    cJSON_AddStringToObject(fn, "arguments", args != NULL ? args : "");
    cJSON_free(args);
    return call;
}

static enum sl_status
translate_chat(const struct sl_call_ctx *ctx, const cJSON *root, struct sl_buf *out,
               struct sl_usage *usage, struct sl_errbuf *err)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "output"), "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *block;
    struct sl_buf text;
    cJSON *resp;
    cJSON *choice;
    cJSON *message;
    cJSON *calls = cJSON_CreateArray();
    char id[40];

    if (!cJSON_IsArray(content)) {
        cJSON_Delete(calls);
        sl_errbuf_set(err, "the response has no output.message.content array");
        return SL_ERR_UPSTREAM_PROTO;
    }
    sl_buf_init(&text, 0);
    cJSON_ArrayForEach(block, content)
    {
        const char *t = sl_json_get_string(block, "text");
        const cJSON *tool_use = cJSON_GetObjectItemCaseSensitive(block, "toolUse");

        if (t != NULL)
            sl_buf_append_str(&text, t);
        else if (cJSON_IsObject(tool_use) && sl_json_get_string(tool_use, "toolUseId") != NULL &&
                 sl_json_get_string(tool_use, "name") != NULL)
            cJSON_AddItemToArray(calls, tool_call_json(tool_use, 0, 0));
    }
    read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), usage);

    make_id(id);
    resp = sl_openai_response_new(ctx, id);
    choice = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(resp, "choices"), choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(message, "role", "assistant");
    if (text.len > 0 || cJSON_GetArraySize(calls) == 0)
        cJSON_AddStringToObject(message, "content", text.data != NULL ? text.data : "");
    else
        cJSON_AddNullToObject(message, "content");
    if (cJSON_GetArraySize(calls) > 0)
        cJSON_AddItemToObject(message, "tool_calls", calls);
    else
        cJSON_Delete(calls);
    cJSON_AddStringToObject(choice, "finish_reason",
                            finish_reason_for(sl_json_get_string(root, "stopReason")));
    if (usage->present)
        cJSON_AddItemToObject(resp, "usage", sl_openai_usage_json(usage));

    sl_openai_append_json(out, resp);
    sl_buf_dispose(&text);
    return SL_OK;
}

/* Encodes a JSON number array as OpenAI's base64 form: little-endian float32 values. */
static cJSON *
base64_vector(const cJSON *vector)
{
    int n = cJSON_GetArraySize(vector);
    unsigned char *raw = sl_xcalloc((size_t)n + 1, 4);
    unsigned char *text = sl_xcalloc(((size_t)n * 4 + 2) / 3 * 4 + 1, 1);
    const cJSON *v;
    size_t i = 0;
    cJSON *out;

    cJSON_ArrayForEach(v, vector)
    {
        float f = cJSON_IsNumber(v) ? (float)v->valuedouble : 0.0f;
        uint32_t bits;

        memcpy(&bits, &f, sizeof(bits));
        for (int b = 0; b < 4; b++)
            raw[i * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b));
        i++;
    }
    EVP_EncodeBlock(text, raw, n * 4);
    out = cJSON_CreateString((const char *)text);
    free(raw);
    free(text);
    return out;
}

static enum sl_status
translate_embedding(const struct sl_call_ctx *ctx, const cJSON *root, struct sl_buf *out,
                    struct sl_usage *usage, struct sl_errbuf *err)
{
    const cJSON *vector = cJSON_GetObjectItemCaseSensitive(root, "embedding");
    const char *encoding = sl_json_get_string(ctx->body, "encoding_format");
    cJSON *resp;
    cJSON *item;
    cJSON *u;

    if (!cJSON_IsArray(vector)) {
        sl_errbuf_set(err, "the response has no embedding array");
        return SL_ERR_UPSTREAM_PROTO;
    }
    usage->present = 1;
    usage->prompt_tokens = get_int(root, "inputTextTokenCount");
    usage->total_tokens = usage->prompt_tokens;

    resp = cJSON_CreateObject();
    cJSON_AddStringToObject(resp, "object", "list");
    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "object", "embedding");
    cJSON_AddNumberToObject(item, "index", 0);
    /* Titan returns floats only, so the base64 form OpenAI SDKs ask for is built here. */
    if (encoding != NULL && strcmp(encoding, "base64") == 0)
        cJSON_AddItemToObject(item, "embedding", base64_vector(vector));
    else
        cJSON_AddItemToObject(item, "embedding", cJSON_Duplicate(vector, 1));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(resp, "data"), item);
    cJSON_AddStringToObject(resp, "model", ctx->requested_model);
    u = cJSON_AddObjectToObject(resp, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)usage->prompt_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)usage->total_tokens);

    sl_openai_append_json(out, resp);
    return SL_OK;
}

static enum sl_status
translate_response(const struct sl_call_ctx *ctx, const char *body, size_t len, struct sl_buf *out,
                   struct sl_usage *usage, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    enum sl_status rc;

    if (sl_openai_parse_response(body, len, &root, err) != SL_OK)
        return SL_ERR_UPSTREAM_PROTO;
    rc = ctx->kind == SL_KIND_EMBEDDING ? translate_embedding(ctx, root, out, usage, err)
                                        : translate_chat(ctx, root, out, usage, err);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- errors */

/* Bedrock's exceptions and their HTTP statuses, from the Bedrock Runtime service model
 * (botocore bedrock-runtime 2023-09-30). Names compare case-insensitively because HTTP
 * errors spell them "ThrottlingException" and stream events "throttlingException". */
static const struct {
    const char *name;
    int status;
} exceptions[] = {
    {"throttlingException", 429},         {"serviceQuotaExceededException", 429},
    {"modelNotReadyException", 429},      {"validationException", 400},
    {"accessDeniedException", 403},       {"resourceNotFoundException", 404},
    {"modelTimeoutException", 408},       {"modelErrorException", 424},
    {"modelStreamErrorException", 424},   {"internalServerException", 500},
    {"serviceUnavailableException", 503},
};

static int
status_for_exception(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
        if (strlen(exceptions[i].name) == len && strncasecmp(exceptions[i].name, name, len) == 0)
            return exceptions[i].status;
    return 0;
}

/* Fills `out` from an error body {"message": "..."} (or "Message"); other bodies become a
 * short summary through the OpenAI reader. */
static void
read_error_body(int status, const char *body, size_t len, struct sl_upstream_error *out)
{
    cJSON *root = NULL;
    const char *message = NULL;

    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, NULL) == SL_OK) {
        message = sl_json_get_string(root, "message");
        if (message == NULL)
            message = sl_json_get_string(root, "Message");
    }
    if (message != NULL)
        error_status(out, status, message);
    else
        sl_errors_parse_openai(status, body, len, out);
    out->status = status;
    cJSON_Delete(root);
}

/* NOTE: the x-amzn-ErrorType response header is not visible here (parse_error takes no
 * headers), so the HTTP status alone picks the error type. */
static void
parse_error(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    read_error_body((int)status, body, len, out);
}

/* ---------------------------------------------------------------- streams */

struct bedrock_stream {
    char id[40];
    int include_usage;
    int tool_count;                            /* tool calls started so far */
    int role_pending; /* messageStart seen: the next chunk carries the assistant role */
    int16_t block_tool[SL_BEDROCK_MAX_BLOCKS]; /* contentBlockIndex -> tool index, or -1 */
};

static void
free_stream(void *p)
{
    free(p);
}

static struct bedrock_stream *
stream_state(const struct sl_call_ctx *ctx, struct sl_stream_state *st)
{
    struct bedrock_stream *s = st->family;
    const cJSON *opts;

    if (s != NULL)
        return s;
    s = sl_xcalloc(1, sizeof(*s));
    make_id(s->id);
    opts = cJSON_GetObjectItemCaseSensitive(ctx->body, "stream_options");
    s->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    for (size_t i = 0; i < SL_BEDROCK_MAX_BLOCKS; i++)
        s->block_tool[i] = -1;
    st->family = s;
    st->family_free = free_stream;
    return s;
}

/* Returns an empty delta for the next chunk. The first chunk written carries the role, so
 * messageStart alone sends the client nothing: an exception or a corrupt frame right after it
 * still becomes a real HTTP error status. */
static cJSON *
new_delta(struct bedrock_stream *s)
{
    cJSON *delta = cJSON_CreateObject();

    if (s->role_pending) {
        cJSON_AddStringToObject(delta, "role", "assistant");
        s->role_pending = 0;
    }
    return delta;
}

static enum sl_stream_verdict
proto_error(struct sl_upstream_error *err, const char *message)
{
    error_status(err, 502, message);
    return SL_STREAM_FAILED;
}

/* Returns the tool index of content block `block`, or -1 when it is not a tool block. */
static int
tool_index(const struct bedrock_stream *s, const cJSON *payload)
{
    int64_t block = get_int(payload, "contentBlockIndex");

    if (block < 0 || block >= SL_BEDROCK_MAX_BLOCKS)
        return -1;
    return s->block_tool[block];
}

static enum sl_stream_verdict
on_block_start(const struct sl_call_ctx *ctx, struct bedrock_stream *s, const cJSON *payload,
               struct sl_buf *out, struct sl_upstream_error *err)
{
    const cJSON *tool_use = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(payload, "start"), "toolUse");
    int64_t block = get_int(payload, "contentBlockIndex");
    cJSON *delta;

    if (!cJSON_IsObject(tool_use))
        return SL_STREAM_CONTINUE;
    if (block < 0 || block >= SL_BEDROCK_MAX_BLOCKS || s->block_tool[block] >= 0 ||
        sl_json_get_string(tool_use, "toolUseId") == NULL ||
        sl_json_get_string(tool_use, "name") == NULL)
        return proto_error(err, "the provider sent an invalid contentBlockStart event");
    s->block_tool[block] = (int16_t)s->tool_count++;

    delta = new_delta(s);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"),
                         tool_call_json(tool_use, s->block_tool[block], 1));
    sl_openai_write_delta(ctx, s->id, delta, NULL, out);
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_block_delta(const struct sl_call_ctx *ctx, struct bedrock_stream *s, const cJSON *payload,
               struct sl_buf *out, struct sl_upstream_error *err)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(payload, "delta");
    const char *text = sl_json_get_string(d, "text");
    const char *input = sl_json_get_string(cJSON_GetObjectItemCaseSensitive(d, "toolUse"), "input");
    const char *reasoning =
        sl_json_get_string(cJSON_GetObjectItemCaseSensitive(d, "reasoningContent"), "text");
    cJSON *delta;

    if (text == NULL && input == NULL && reasoning == NULL)
        return SL_STREAM_CONTINUE; /* e.g. a reasoning signature: nothing to show */
    delta = new_delta(s);
    if (text != NULL) {
        cJSON_AddStringToObject(delta, "content", text);
    } else if (reasoning != NULL) {
        cJSON_AddStringToObject(delta, "reasoning_content", reasoning);
    } else {
        int index = tool_index(s, payload);
        cJSON *call;

        if (index < 0) {
            cJSON_Delete(delta);
            return proto_error(err, "the provider sent tool input for a block it never started");
        }
        call = cJSON_CreateObject();
        cJSON_AddNumberToObject(call, "index", index);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(call, "function"), "arguments", input);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), call);
    }
    sl_openai_write_delta(ctx, s->id, delta, NULL, out);
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_message_stop(const struct sl_call_ctx *ctx, struct sl_stream_state *st, struct bedrock_stream *s,
                const cJSON *payload, struct sl_buf *out)
{
    if (st->finished[0])
        return SL_STREAM_CONTINUE;
    st->finished[0] = 1;
    st->finish_count++;
    sl_stream_note_finish(st, finish_reason_for(sl_json_get_string(payload, "stopReason")));
    sl_openai_write_delta(ctx, s->id, new_delta(s),
                          finish_reason_for(sl_json_get_string(payload, "stopReason")), out);
    return SL_STREAM_CONTINUE;
}

/* metadata is the last event of a ConverseStream response: it carries the usage. */
static enum sl_stream_verdict
on_metadata(const struct sl_call_ctx *ctx, struct sl_stream_state *st, struct bedrock_stream *s,
            const cJSON *payload, struct sl_buf *out)
{
    read_usage(cJSON_GetObjectItemCaseSensitive(payload, "usage"), &st->usage);
    if (s->include_usage && st->usage.present) {
        cJSON *chunk = sl_openai_chunk_new(ctx, s->id);

        cJSON_AddItemToObject(chunk, "usage", sl_openai_usage_json(&st->usage));
        sl_openai_write_chunk(out, chunk);
    }
    if (st->finish_count == 0)
        return SL_STREAM_CONTINUE; /* usage before messageStop: wait for the stop */
    st->saw_done = 1;
    return SL_STREAM_END;
}

static enum sl_stream_verdict
on_exception(const struct sl_stream_event *ev, struct sl_upstream_error *err)
{
    int status = status_for_exception(ev->event, ev->event_len);
    struct sl_buf name;

    sl_buf_init(&name, 0);
    sl_buf_append(&name, ev->event, ev->event_len);
    if (status == 0) {
        /* An unmodeled error (:error-code) or an event this family does not know. */
        error_status(err, 502, "");
        snprintf(err->message, sizeof(err->message), "The provider's stream failed: %s: %.*s",
                 name.data, (int)(ev->data_len > 512 ? 512 : ev->data_len),
                 ev->data != NULL ? ev->data : "");
    } else {
        read_error_body(status, ev->data, ev->data_len, err);
        if (err->message[0] == '\0')
            snprintf(err->message, sizeof(err->message), "%s", name.data);
    }
    sl_buf_dispose(&name);
    return SL_STREAM_FAILED;
}

static int
event_is(const struct sl_stream_event *ev, const char *name)
{
    return ev->event_len == strlen(name) && memcmp(ev->event, name, ev->event_len) == 0;
}

static enum sl_stream_verdict
translate_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                const struct sl_stream_event *ev, struct sl_buf *out, struct sl_upstream_error *err)
{
    struct bedrock_stream *s = stream_state(ctx, st);
    cJSON *payload = NULL;
    enum sl_stream_verdict v;

    if (ev->event_len > 9 && strncasecmp(ev->event + ev->event_len - 9, "Exception", 9) == 0)
        return on_exception(ev, err);
    if (!event_is(ev, "messageStart") && !event_is(ev, "contentBlockStart") &&
        !event_is(ev, "contentBlockDelta") && !event_is(ev, "contentBlockStop") &&
        !event_is(ev, "messageStop") && !event_is(ev, "metadata"))
        return on_exception(ev, err);

    if (sl_json_parse(ev->data, ev->data_len, SL_JSON_MAX_DEPTH * 4, &payload, NULL) != SL_OK ||
        !cJSON_IsObject(payload)) {
        cJSON_Delete(payload);
        return proto_error(err, "the provider sent a stream event that is not a JSON object");
    }

    if (event_is(ev, "messageStart")) {
        s->role_pending = 1;
        v = SL_STREAM_CONTINUE;
    } else if (event_is(ev, "contentBlockStart")) {
        v = on_block_start(ctx, s, payload, out, err);
    } else if (event_is(ev, "contentBlockDelta")) {
        v = on_block_delta(ctx, s, payload, out, err);
    } else if (event_is(ev, "messageStop")) {
        v = on_message_stop(ctx, st, s, payload, out);
    } else if (event_is(ev, "metadata")) {
        v = on_metadata(ctx, st, s, payload, out);
    } else {
        v = SL_STREAM_CONTINUE; /* contentBlockStop */
    }
    cJSON_Delete(payload);
    return v;
}

/* ---------------------------------------------------------------- family */

const struct sl_provider sl_bedrock_families[] = {
    {
        .name = "bedrock",
        .default_api_base = NULL, /* built from the region */
        .api_key_env = NULL,      /* SigV4 credentials, not an API key */
        .derives_api_base = 1,
        .native_format = SL_FORMAT_NONE,
        .framing = SL_FRAMING_AWS_EVENTSTREAM,
        .build_request = build_request,
        .translate_response = translate_response,
        .translate_event = translate_event,
        .parse_error = parse_error,
    },
};

const size_t sl_bedrock_family_count = sizeof(sl_bedrock_families) / sizeof(sl_bedrock_families[0]);
