/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anthropic -- the Anthropic Messages API family (`anthropic/<model>`).
 *
 * OpenAI-shaped chat calls are rewritten into a Messages request (system prompt apart, tool
 * calls and results as content blocks, max_tokens always set), and Messages responses and
 * stream events are translated back into chat completions and chunks. Calls that arrive in
 * Anthropic's own format (`ctx->native`) pass through with only `model` rewritten, in both
 * directions. Per-stream translation state lives in st->family (struct anthropic_stream).
 * Everything here runs on the worker thread of the call and keeps no global state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

/* The anthropic-version header sent when the client sent none. */
#define ANTHROPIC_VERSION "2023-06-01"
/* The Messages API requires max_tokens. LiteLLM sends this value (its
 * DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS) when the client gives none. */
#define DEFAULT_MAX_TOKENS 4096
/* Nesting accepted in provider bodies and events, as for the OpenAI family. */
#define RESPONSE_MAX_DEPTH (SL_JSON_MAX_DEPTH * 4)
/* Content blocks of one streamed message whose tool index is remembered. */
#define MAX_STREAM_BLOCKS 1024
/* Tool indexes of content blocks that are not client tool calls. */
#define NOT_A_TOOL    (-1)
#define UNKNOWN_BLOCK (-2)

static const struct sl_provider *find_self(void);

/* ---------------------------------------------------------------- request: helpers */

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

static int
ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* <base>/v1/messages, or <base>/v1/messages/count_tokens for SL_KIND_COUNT_TOKENS; a base
 * that already ends in /v1 or /v1/messages is not extended twice. */
static void
append_url(struct sl_buf *url, const char *base, enum sl_call_kind kind)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    sl_buf_append(url, base, n);
    if (!ends_with(base, n, "/v1/messages"))
        sl_buf_append_str(url, ends_with(base, n, "/v1") ? "/messages" : "/v1/messages");
    if (kind == SL_KIND_COUNT_TOKENS)
        sl_buf_append_str(url, "/count_tokens");
}

/* Returns the value of the forwarded client header `name`, or NULL. */
static const char *
client_header(const struct sl_call_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_client_headers; i++)
        if (strcmp(ctx->client_headers[i].name, name) == 0)
            return ctx->client_headers[i].value;
    return NULL;
}

/* The client's anthropic-version and anthropic-beta go upstream on native and converted calls
 * alike (a converted body is a valid Messages request, so beta features apply to it too). No
 * other client header is sent. */
static struct curl_slist *
build_headers(const struct sl_call_ctx *ctx)
{
    const struct sl_deployment *d = ctx->deployment;
    const char *version = client_header(ctx, "anthropic-version");
    const char *beta = client_header(ctx, "anthropic-beta");
    struct curl_slist *h = NULL;

    h = add_header(h, "Content-Type", "application/json");
    if (d->api_key != NULL)
        h = add_header(h, "x-api-key", d->api_key);
    h = add_header(h, "anthropic-version", version != NULL ? version : ANTHROPIC_VERSION);
    if (beta != NULL)
        h = add_header(h, "anthropic-beta", beta);
    for (size_t i = 0; i < d->n_extra_headers; i++)
        h = add_header(h, d->extra_headers[i].name, d->extra_headers[i].value);
    return h;
}

static cJSON *
text_block(const char *text)
{
    cJSON *b = cJSON_CreateObject();

    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    return b;
}

/* Copies an OpenAI `cache_control` marker of a content part onto the Anthropic block. */
static void
copy_cache_control(const cJSON *part, cJSON *block)
{
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(part, "cache_control");

    if (cJSON_IsObject(cc))
        cJSON_AddItemToObject(block, "cache_control", cJSON_Duplicate(cc, 1));
}

/* ---------------------------------------------------------------- request: content */

/*
 * Converts an image_url part into an image block: a data: URL becomes a base64 source, an
 * http(s) URL a url source.
 */
static enum sl_status
image_block(const cJSON *part, size_t msg, cJSON **out, struct sl_errbuf *err)
{
    const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
    const char *url = cJSON_IsString(iu) ? iu->valuestring : sl_json_get_string(iu, "url");
    cJSON *block;
    cJSON *source;

    if (url == NULL) {
        sl_errbuf_set(err, "messages[%zu]: an image_url part needs a url string", msg);
        return SL_ERR_INVALID;
    }
    block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "image");
    source = cJSON_AddObjectToObject(block, "source");
    if (strncmp(url, "data:", 5) == 0) {
        const char *comma = strchr(url, ',');
        const char *semi = strchr(url, ';');

        if (comma == NULL || semi == NULL || semi > comma || strncmp(semi, ";base64,", 8) != 0) {
            cJSON_Delete(block);
            sl_errbuf_set(err, "messages[%zu]: an image data URL must be data:<type>;base64,...",
                          msg);
            return SL_ERR_INVALID;
        }
        char *media = sl_xstrndup(url + 5, (size_t)(semi - url - 5));

        cJSON_AddStringToObject(source, "type", "base64");
        cJSON_AddStringToObject(source, "media_type", media);
        cJSON_AddStringToObject(source, "data", comma + 1);
        free(media);
    } else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
        cJSON_AddStringToObject(source, "type", "url");
        cJSON_AddStringToObject(source, "url", url);
    } else {
        cJSON_Delete(block);
        sl_errbuf_set(err, "messages[%zu]: an image url must be a data: or http(s) URL", msg);
        return SL_ERR_INVALID;
    }
    copy_cache_control(part, block);
    *out = block;
    return SL_OK;
}

/* Appends the blocks of an OpenAI content array (text and image parts) to `blocks`. */
static enum sl_status
append_parts(const cJSON *content, size_t msg, int images_allowed, cJSON *blocks,
             struct sl_errbuf *err)
{
    const cJSON *part;

    cJSON_ArrayForEach(part, content)
    {
        const char *type = sl_json_get_string(part, "type");
        cJSON *block = NULL;

        if (type != NULL && strcmp(type, "text") == 0) {
            const char *text = sl_json_get_string(part, "text");

            if (text == NULL) {
                sl_errbuf_set(err, "messages[%zu]: a text part needs a text string", msg);
                return SL_ERR_INVALID;
            }
            block = text_block(text);
            copy_cache_control(part, block);
        } else if (type != NULL && strcmp(type, "image_url") == 0 && images_allowed) {
            enum sl_status rc = image_block(part, msg, &block, err);

            if (rc != SL_OK)
                return rc;
        } else {
            sl_errbuf_set(err, "messages[%zu]: content part type \"%s\" is not supported here", msg,
                          type != NULL ? type : "(none)");
            return SL_ERR_INVALID;
        }
        cJSON_AddItemToArray(blocks, block);
    }
    return SL_OK;
}

/* Returns the content of a user or assistant message: a string as is, an array as blocks. */
static enum sl_status
convert_content(const cJSON *content, size_t msg, int images_allowed, cJSON **out,
                struct sl_errbuf *err)
{
    cJSON *blocks;
    enum sl_status rc;

    if (cJSON_IsString(content)) {
        *out = cJSON_CreateString(content->valuestring);
        return SL_OK;
    }
    if (content == NULL || cJSON_IsNull(content)) {
        *out = cJSON_CreateArray();
        return SL_OK;
    }
    if (!cJSON_IsArray(content)) {
        sl_errbuf_set(err, "messages[%zu]: content must be a string or an array of parts", msg);
        return SL_ERR_INVALID;
    }
    blocks = cJSON_CreateArray();
    rc = append_parts(content, msg, images_allowed, blocks, err);
    if (rc != SL_OK) {
        cJSON_Delete(blocks);
        return rc;
    }
    *out = blocks;
    return SL_OK;
}

/* Turns `content` (a string or an array) into an array of blocks, in place. */
static cJSON *
as_blocks(cJSON *content)
{
    cJSON *blocks;

    if (cJSON_IsArray(content))
        return content;
    blocks = cJSON_CreateArray();
    if (cJSON_IsString(content) && content->valuestring[0] != '\0')
        cJSON_AddItemToArray(blocks, text_block(content->valuestring));
    cJSON_Delete(content);
    return blocks;
}

/* Adds an assistant message's tool_calls to `blocks` as tool_use blocks. */
static enum sl_status
append_tool_uses(const cJSON *calls, size_t msg, cJSON *blocks, struct sl_errbuf *err)
{
    const cJSON *call;
    size_t k = 0;

    cJSON_ArrayForEach(call, calls)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        const char *id = sl_json_get_string(call, "id");
        const char *name = sl_json_get_string(fn, "name");
        const char *args = sl_json_get_string(fn, "arguments");
        cJSON *input = NULL;
        cJSON *block;

        if (id == NULL || name == NULL) {
            sl_errbuf_set(err, "messages[%zu].tool_calls[%zu]: id and function.name are required",
                          msg, k);
            return SL_ERR_INVALID;
        }
        if (args == NULL || args[0] == '\0') {
            input = cJSON_CreateObject();
        } else if (sl_json_parse(args, strlen(args), SL_JSON_MAX_DEPTH, &input, NULL) != SL_OK) {
            sl_errbuf_set(err, "messages[%zu].tool_calls[%zu].function.arguments is not valid JSON",
                          msg, k);
            return SL_ERR_INVALID;
        }
        block = cJSON_CreateObject();
        cJSON_AddStringToObject(block, "type", "tool_use");
        cJSON_AddStringToObject(block, "id", id);
        cJSON_AddStringToObject(block, "name", name);
        cJSON_AddItemToObject(block, "input", input);
        cJSON_AddItemToArray(blocks, block);
        k++;
    }
    return SL_OK;
}

/* Returns a tool_result block for a `tool` role message. */
static enum sl_status
tool_result_block(const cJSON *m, size_t msg, cJSON **out, struct sl_errbuf *err)
{
    const char *id = sl_json_get_string(m, "tool_call_id");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    cJSON *converted = NULL;
    cJSON *block;
    enum sl_status rc;

    if (id == NULL) {
        sl_errbuf_set(err, "messages[%zu]: a tool message needs tool_call_id", msg);
        return SL_ERR_INVALID;
    }
    rc = convert_content(content, msg, 0, &converted, err);
    if (rc != SL_OK)
        return rc;
    block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "tool_result");
    cJSON_AddStringToObject(block, "tool_use_id", id);
    cJSON_AddItemToObject(block, "content", converted);
    *out = block;
    return SL_OK;
}

/* ---------------------------------------------------------------- request: messages */

/* The Messages request being built, with the system prompt kept apart until the end. */
struct conversion {
    cJSON *messages;   /* Anthropic messages */
    cJSON *system;     /* text blocks of every system message */
    int system_blocks; /* a system message had array content: `system` stays an array */
};

/* Appends `content` to the last message when it has `role`, else starts a new message. */
static void
push_turn(struct conversion *cv, const char *role, cJSON *content)
{
    cJSON *last = cJSON_GetArrayItem(cv->messages, cJSON_GetArraySize(cv->messages) - 1);
    const char *last_role = sl_json_get_string(last, "role");

    /* The API requires user and assistant turns to alternate: merge consecutive ones. */
    if (last_role != NULL && strcmp(last_role, role) == 0) {
        cJSON *prev = cJSON_DetachItemFromObjectCaseSensitive(last, "content");
        cJSON *merged = as_blocks(prev);
        cJSON *add = as_blocks(content);
        cJSON *item;

        while ((item = cJSON_DetachItemFromArray(add, 0)) != NULL)
            cJSON_AddItemToArray(merged, item);
        cJSON_Delete(add);
        cJSON_AddItemToObject(last, "content", merged);
        return;
    }
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddItemToObject(m, "content", content);
    cJSON_AddItemToArray(cv->messages, m);
}

static enum sl_status
add_system(struct conversion *cv, const cJSON *content, size_t msg, struct sl_errbuf *err)
{
    if (cJSON_IsString(content)) {
        if (content->valuestring[0] != '\0')
            cJSON_AddItemToArray(cv->system, text_block(content->valuestring));
        return SL_OK;
    }
    if (!cJSON_IsArray(content)) {
        sl_errbuf_set(err, "messages[%zu]: system content must be a string or text parts", msg);
        return SL_ERR_INVALID;
    }
    cv->system_blocks = 1;
    return append_parts(content, msg, 0, cv->system, err);
}

static enum sl_status
add_assistant(struct conversion *cv, const cJSON *m, size_t msg, struct sl_errbuf *err)
{
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
    cJSON *content = NULL;
    enum sl_status rc;

    rc = convert_content(cJSON_GetObjectItemCaseSensitive(m, "content"), msg, 0, &content, err);
    if (rc != SL_OK)
        return rc;
    if (cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0) {
        content = as_blocks(content);
        rc = append_tool_uses(calls, msg, content, err);
        if (rc != SL_OK) {
            cJSON_Delete(content);
            return rc;
        }
    }
    push_turn(cv, "assistant", content);
    return SL_OK;
}

static enum sl_status
add_message(struct conversion *cv, const cJSON *m, size_t msg, struct sl_errbuf *err)
{
    const char *role = sl_json_get_string(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    cJSON *converted = NULL;
    enum sl_status rc;

    if (role == NULL) {
        sl_errbuf_set(err, "messages[%zu]: role is missing", msg);
        return SL_ERR_INVALID;
    }
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return add_system(cv, content, msg, err);
    if (strcmp(role, "assistant") == 0)
        return add_assistant(cv, m, msg, err);
    if (strcmp(role, "tool") == 0) {
        rc = tool_result_block(m, msg, &converted, err);
        if (rc != SL_OK)
            return rc;
        cJSON *blocks = cJSON_CreateArray();

        cJSON_AddItemToArray(blocks, converted);
        push_turn(cv, "user", blocks);
        return SL_OK;
    }
    if (strcmp(role, "user") != 0) {
        sl_errbuf_set(err, "messages[%zu]: role \"%s\" is not supported by Anthropic", msg, role);
        return SL_ERR_INVALID;
    }
    rc = convert_content(content, msg, 1, &converted, err);
    if (rc != SL_OK)
        return rc;
    push_turn(cv, "user", converted);
    return SL_OK;
}

/* The system prompt: one string when every system message was a string, else text blocks. */
static cJSON *
take_system(struct conversion *cv)
{
    struct sl_buf joined;
    const cJSON *block;
    cJSON *s;

    if (cJSON_GetArraySize(cv->system) == 0)
        return NULL;
    if (cv->system_blocks) {
        s = cv->system;
        cv->system = NULL;
        return s;
    }
    sl_buf_init(&joined, 0);
    cJSON_ArrayForEach(block, cv->system)
    {
        if (joined.len > 0)
            sl_buf_append_str(&joined, "\n\n");
        sl_buf_append_str(&joined, sl_json_get_string(block, "text"));
    }
    s = cJSON_CreateString(joined.data);
    sl_buf_dispose(&joined);
    return s;
}

/* ---------------------------------------------------------------- request: parameters */

static enum sl_status
add_tools(const cJSON *body, cJSON *req, struct sl_errbuf *err)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
    const cJSON *tool;
    cJSON *out;
    size_t k = 0;

    if (tools == NULL || cJSON_IsNull(tools))
        return SL_OK;
    out = cJSON_AddArrayToObject(req, "tools");
    cJSON_ArrayForEach(tool, tools)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
        const char *type = sl_json_get_string(tool, "type");
        const char *name = sl_json_get_string(fn, "name");
        const char *desc = sl_json_get_string(fn, "description");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        cJSON *t;

        if (type == NULL || strcmp(type, "function") != 0 || name == NULL) {
            sl_errbuf_set(err, "tools[%zu]: only function tools with a name are supported", k);
            return SL_ERR_INVALID;
        }
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", name);
        if (desc != NULL)
            cJSON_AddStringToObject(t, "description", desc);
        if (cJSON_IsObject(params)) {
            cJSON_AddItemToObject(t, "input_schema", cJSON_Duplicate(params, 1));
        } else {
            cJSON *schema = cJSON_AddObjectToObject(t, "input_schema");

            cJSON_AddStringToObject(schema, "type", "object");
            cJSON_AddObjectToObject(schema, "properties");
        }
        copy_cache_control(tool, t);
        cJSON_AddItemToArray(out, t);
        k++;
    }
    return SL_OK;
}

static enum sl_status
add_tool_choice(const cJSON *body, cJSON *req, struct sl_errbuf *err)
{
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(body, "tool_choice");
    const cJSON *parallel = cJSON_GetObjectItemCaseSensitive(body, "parallel_tool_calls");
    cJSON *out = NULL;

    if (cJSON_IsString(choice)) {
        const char *s = choice->valuestring;
        const char *type = strcmp(s, "required") == 0 ? "any" : s;

        if (strcmp(s, "auto") != 0 && strcmp(s, "none") != 0 && strcmp(s, "required") != 0) {
            sl_errbuf_set(err, "tool_choice \"%s\" is not one of auto, none, required", s);
            return SL_ERR_INVALID;
        }
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "type", type);
    } else if (cJSON_IsObject(choice)) {
        const char *name =
            sl_json_get_string(cJSON_GetObjectItemCaseSensitive(choice, "function"), "name");

        if (name == NULL) {
            sl_errbuf_set(err, "tool_choice needs function.name");
            return SL_ERR_INVALID;
        }
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "type", "tool");
        cJSON_AddStringToObject(out, "name", name);
    }
    if (cJSON_IsFalse(parallel)) {
        if (out == NULL) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "type", "auto");
        }
        cJSON_AddBoolToObject(out, "disable_parallel_tool_use", 1);
    }
    if (out != NULL)
        cJSON_AddItemToObject(req, "tool_choice", out);
    return SL_OK;
}

static enum sl_status
add_stop(const cJSON *body, cJSON *req, struct sl_errbuf *err)
{
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop");
    const cJSON *s;
    cJSON *out;

    if (stop == NULL || cJSON_IsNull(stop))
        return SL_OK;
    if (cJSON_IsString(stop)) {
        out = cJSON_AddArrayToObject(req, "stop_sequences");
        cJSON_AddItemToArray(out, cJSON_CreateString(stop->valuestring));
        return SL_OK;
    }
    if (!cJSON_IsArray(stop)) {
        sl_errbuf_set(err, "stop must be a string or an array of strings");
        return SL_ERR_INVALID;
    }
    out = cJSON_AddArrayToObject(req, "stop_sequences");
    cJSON_ArrayForEach(s, stop)
    {
        if (!cJSON_IsString(s)) {
            sl_errbuf_set(err, "stop must be a string or an array of strings");
            return SL_ERR_INVALID;
        }
        cJSON_AddItemToArray(out, cJSON_CreateString(s->valuestring));
    }
    return SL_OK;
}

static void
add_number(const cJSON *body, const char *key, cJSON *req)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    if (cJSON_IsNumber(v))
        cJSON_AddItemToObject(req, key, cJSON_Duplicate(v, 0));
}

/* `user` becomes metadata.user_id, except an e-mail address, which the API rejects. */
static void
add_user(const cJSON *body, cJSON *req)
{
    const char *user = sl_json_get_string(body, "user");
    cJSON *meta;

    if (user == NULL || user[0] == '\0' || strchr(user, '@') != NULL)
        return;
    meta = cJSON_AddObjectToObject(req, "metadata");
    cJSON_AddStringToObject(meta, "user_id", user);
}

static void
add_max_tokens(const cJSON *body, cJSON *req)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens");

    if (!cJSON_IsNumber(v))
        v = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (cJSON_IsNumber(v))
        cJSON_AddItemToObject(req, "max_tokens", cJSON_Duplicate(v, 0));
    else
        cJSON_AddNumberToObject(req, "max_tokens", DEFAULT_MAX_TOKENS);
}

/* Builds the Messages request for an OpenAI-shaped chat body into `out`. */
static enum sl_status
convert_chat(const struct sl_call_ctx *ctx, struct sl_buf *out, struct sl_errbuf *err)
{
    const cJSON *body = ctx->body;
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");
    struct conversion cv = {cJSON_CreateArray(), cJSON_CreateArray(), 0};
    cJSON *req = cJSON_CreateObject();
    cJSON *system = NULL;
    const cJSON *m;
    size_t i = 0;
    enum sl_status rc = SL_OK;
    char *text = NULL;

    if (!cJSON_IsArray(messages)) {
        sl_errbuf_set(err, "messages must be an array");
        rc = SL_ERR_INVALID;
        goto out;
    }
    if (cJSON_IsNumber(n) && n->valuedouble > 1) {
        sl_errbuf_set(err, "n must be 1: Anthropic returns one choice per request");
        rc = SL_ERR_INVALID;
        goto out;
    }
    cJSON_ArrayForEach(m, messages)
    {
        rc = add_message(&cv, m, i++, err);
        if (rc != SL_OK)
            goto out;
    }
    if (cJSON_GetArraySize(cv.messages) == 0) {
        sl_errbuf_set(err, "Anthropic needs at least one message that is not a system message");
        rc = SL_ERR_INVALID;
        goto out;
    }

    cJSON_AddStringToObject(req, "model", ctx->deployment->provider_model);
    add_max_tokens(body, req);
    system = take_system(&cv);
    if (system != NULL)
        cJSON_AddItemToObject(req, "system", system);
    cJSON_AddItemToObject(req, "messages", cv.messages);
    cv.messages = NULL;
    rc = add_tools(body, req, err);
    if (rc == SL_OK)
        rc = add_tool_choice(body, req, err);
    if (rc == SL_OK)
        rc = add_stop(body, req, err);
    if (rc != SL_OK)
        goto out;
    /* NOTE: response_format, reasoning_effort, logprobs, seed and the penalties have no mapping
     * here yet and are dropped, not rejected. */
    add_number(body, "temperature", req);
    add_number(body, "top_p", req);
    add_user(body, req);
    if (ctx->stream)
        cJSON_AddBoolToObject(req, "stream", 1);

    text = sl_json_print(req);
    sl_buf_append_str(out, text);
out:
    cJSON_free(text);
    cJSON_Delete(req);
    cJSON_Delete(cv.messages);
    cJSON_Delete(cv.system);
    return rc;
}

static enum sl_status
build_request(const struct sl_call_ctx *ctx, struct sl_upstream_request *out, struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;

    if (ctx->kind != SL_KIND_CHAT && !(ctx->kind == SL_KIND_COUNT_TOKENS && ctx->native)) {
        sl_errbuf_set(err, "deployment %s (anthropic) serves chat and Messages API requests "
                           "only", d->id);
        return SL_ERR_INVALID;
    }
    append_url(&out->url, d->api_base != NULL ? d->api_base : find_self()->default_api_base,
               ctx->kind);
    out->headers = build_headers(ctx);

    if (!ctx->native)
        return convert_chat(ctx, &out->body, err);

    /* The client already speaks the Messages API: only the model name changes. */
    if (ctx->raw_body != NULL) {
        if (sl_json_replace_top_string(ctx->raw_body, ctx->raw_len, "model", d->provider_model,
                                       &out->body) != SL_OK) {
            sl_errbuf_set(err, "the request body is not a JSON object");
            return SL_ERR_INVALID;
        }
        return SL_OK;
    }
    char *text = sl_json_print(ctx->body);
    enum sl_status rc =
        sl_json_replace_top_string(text, strlen(text), "model", d->provider_model, &out->body);

    cJSON_free(text);
    if (rc != SL_OK)
        sl_errbuf_set(err, "the request body is not a JSON object");
    return rc;
}

/* ---------------------------------------------------------------- responses */

static int64_t
get_tokens(const cJSON *usage, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, key);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 1e15)
        return -1;
    return (int64_t)v->valuedouble;
}

/*
 * Updates `u` from an Anthropic usage object. Fields absent from it keep their value, because
 * a stream reports input tokens in message_start and output tokens in message_delta. Cached
 * prompt tokens, read or written, count as prompt tokens as they do in OpenAI's usage.
 */
static void
read_usage(const cJSON *usage, struct sl_usage *u, int64_t *input)
{
    int64_t v;

    if (!cJSON_IsObject(usage))
        return;
    u->present = 1;
    v = get_tokens(usage, "input_tokens");
    if (v >= 0)
        *input = v;
    v = get_tokens(usage, "cache_read_input_tokens");
    if (v >= 0)
        u->cached_tokens = v;
    v = get_tokens(usage, "cache_creation_input_tokens");
    if (v >= 0)
        u->cache_creation_tokens = v;
    v = get_tokens(usage, "output_tokens");
    if (v >= 0)
        u->completion_tokens = v;
    u->prompt_tokens = *input + u->cached_tokens + u->cache_creation_tokens;
    u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

static cJSON *
usage_json(const struct sl_usage *u)
{
    cJSON *o = sl_openai_usage_json(u);

    cJSON_AddNumberToObject(o, "cache_creation_input_tokens", (double)u->cache_creation_tokens);
    cJSON_AddNumberToObject(o, "cache_read_input_tokens", (double)u->cached_tokens);
    return o;
}

/* Maps a stop_reason to a finish_reason; reasons without an OpenAI twin pass unchanged. */
static const char *
finish_reason(const char *stop)
{
    if (strcmp(stop, "end_turn") == 0 || strcmp(stop, "stop_sequence") == 0)
        return "stop";
    if (strcmp(stop, "max_tokens") == 0)
        return "length";
    if (strcmp(stop, "tool_use") == 0)
        return "tool_calls";
    return stop;
}

static cJSON *
tool_call_json(const char *id, const char *name, const char *arguments)
{
    cJSON *call = cJSON_CreateObject();
    cJSON *fn;

    cJSON_AddStringToObject(call, "id", id);
    cJSON_AddStringToObject(call, "type", "function");
    fn = cJSON_AddObjectToObject(call, "function");
    cJSON_AddStringToObject(fn, "name", name);
    cJSON_AddStringToObject(fn, "arguments", arguments);
    return call;
}

/* Builds the chat.completion message from the response's content blocks. */
static enum sl_status
read_content(const cJSON *content, cJSON *message, struct sl_errbuf *err)
{
    struct sl_buf text;
    struct sl_buf reasoning;
    cJSON *calls = cJSON_CreateArray();
    const cJSON *block;
    enum sl_status rc = SL_OK;

    sl_buf_init(&text, 0);
    sl_buf_init(&reasoning, 0);
    cJSON_ArrayForEach(block, content)
    {
        const char *type = sl_json_get_string(block, "type");

        if (type == NULL) {
            sl_errbuf_set(err, "a content block has no type");
            rc = SL_ERR_UPSTREAM_PROTO;
            goto out;
        }
        if (strcmp(type, "text") == 0 && sl_json_get_string(block, "text") != NULL) {
            sl_buf_append_str(&text, sl_json_get_string(block, "text"));
        } else if (strcmp(type, "thinking") == 0 && sl_json_get_string(block, "thinking") != NULL) {
            sl_buf_append_str(&reasoning, sl_json_get_string(block, "thinking"));
        } else if (strcmp(type, "tool_use") == 0) {
            const char *id = sl_json_get_string(block, "id");
            const char *name = sl_json_get_string(block, "name");
            const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");

            if (id == NULL || name == NULL || input == NULL) {
                sl_errbuf_set(err, "a tool_use block lacks id, name or input");
                rc = SL_ERR_UPSTREAM_PROTO;
                goto out;
            }
            char *args = sl_json_print(input);

            cJSON_AddItemToArray(calls, tool_call_json(id, name, args));
            cJSON_free(args);
        }
    }
    cJSON_AddStringToObject(message, "role", "assistant");
    if (text.len > 0 || cJSON_GetArraySize(calls) == 0)
        cJSON_AddStringToObject(message, "content", text.data != NULL ? text.data : "");
    else
        cJSON_AddNullToObject(message, "content");
    if (reasoning.len > 0)
        cJSON_AddStringToObject(message, "reasoning_content", reasoning.data);
    if (cJSON_GetArraySize(calls) > 0) {
        cJSON_AddItemToObject(message, "tool_calls", calls);
        calls = NULL;
    }
out:
    cJSON_Delete(calls);
    sl_buf_dispose(&text);
    sl_buf_dispose(&reasoning);
    return rc;
}

static enum sl_status
translate_message(const struct sl_call_ctx *ctx, const cJSON *root, struct sl_buf *out,
                  struct sl_usage *usage, struct sl_errbuf *err)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    const char *id = sl_json_get_string(root, "id");
    const char *stop = sl_json_get_string(root, "stop_reason");
    cJSON *chat;
    cJSON *choice;
    int64_t input = 0;
    enum sl_status rc;

    if (!cJSON_IsArray(content)) {
        sl_errbuf_set(err, "the provider's message has no content array");
        return SL_ERR_UPSTREAM_PROTO;
    }
    chat = sl_openai_response_new(ctx, id != NULL ? id : "");
    choice = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(chat, "choices"), choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    rc = read_content(content, cJSON_AddObjectToObject(choice, "message"), err);
    if (rc != SL_OK) {
        cJSON_Delete(chat);
        return rc;
    }
    if (stop != NULL)
        cJSON_AddStringToObject(choice, "finish_reason", finish_reason(stop));
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), usage, &input);
    if (usage->present)
        cJSON_AddItemToObject(chat, "usage", usage_json(usage));

    sl_openai_append_json(out, chat);
    return SL_OK;
}

static enum sl_status
translate_response(const struct sl_call_ctx *ctx, const char *body, size_t len, struct sl_buf *out,
                   struct sl_usage *usage, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    enum sl_status rc;
    int64_t input = 0;

    if (sl_openai_parse_response(body, len, &root, err) != SL_OK)
        return SL_ERR_UPSTREAM_PROTO;
    if (ctx->kind == SL_KIND_COUNT_TOKENS) {
        /* A token count carries no model member, and sl_json_replace_top_string would add one:
         * the response goes to the client byte for byte. */
        rc = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "input_tokens"))
                 ? SL_OK
                 : SL_ERR_UPSTREAM_PROTO;
        cJSON_Delete(root);
        if (rc != SL_OK) {
            sl_errbuf_set(err, "the provider's token count has no numeric input_tokens");
            return rc;
        }
        sl_buf_append(out, body, len);
        return SL_OK;
    }
    if (!ctx->native) {
        rc = translate_message(ctx, root, out, usage, err);
        cJSON_Delete(root);
        return rc;
    }
    read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), usage, &input);
    cJSON_Delete(root);
    if (sl_json_replace_top_string(body, len, "model", ctx->requested_model, out) != SL_OK) {
        sl_errbuf_set(err, "the provider's response is not a JSON object");
        return SL_ERR_UPSTREAM_PROTO;
    }
    return SL_OK;
}

/* ---------------------------------------------------------------- errors */

/* Returns the HTTP status that goes with an Anthropic error type (for in-band errors). */
static int
status_for_type(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
        {"permission_error", 403},      {"not_found_error", 404},      {"timeout_error", 408},
        {"request_too_large", 413},     {"rate_limit_error", 429},     {"api_error", 500},
        {"overloaded_error", 529},
    };

    for (size_t i = 0; type != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].type, type) == 0)
            return map[i].status;
    return 500;
}

/* Fills `out` from {"type":"error","error":{"type","message"}}; returns 0 for another shape. */
static int
read_error_envelope(const cJSON *root, long status, struct sl_upstream_error *out)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *type = sl_json_get_string(error, "type");
    const char *message = sl_json_get_string(error, "message");

    if (!cJSON_IsObject(error) || (type == NULL && message == NULL))
        return 0;
    memset(out, 0, sizeof(*out));
    out->status = status > 0 ? (int)status : status_for_type(type);
    if (message != NULL && message[0] != '\0')
        snprintf(out->message, sizeof(out->message), "%s", message);
    else
        snprintf(out->message, sizeof(out->message),
                 "The provider returned an error without a message (type \"%s\").",
                 type != NULL ? type : "");
    if (type != NULL)
        snprintf(out->type, sizeof(out->type), "%s", type);
    return 1;
}

static void
parse_error(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    cJSON *root = NULL;

    if (sl_json_parse(body, len, RESPONSE_MAX_DEPTH, &root, NULL) == SL_OK &&
        read_error_envelope(root, status, out)) {
        cJSON_Delete(root);
        return;
    }
    cJSON_Delete(root);
    sl_errors_parse_openai(status, body, len, out);
}

static void
proto_error(struct sl_upstream_error *err, const char *message)
{
    memset(err, 0, sizeof(*err));
    err->status = 502;
    snprintf(err->type, sizeof(err->type), "api_error");
    snprintf(err->message, sizeof(err->message), "%s", message);
}

/* ---------------------------------------------------------------- streams */

/* Translation state of one stream (st->family). */
struct anthropic_stream {
    char id[128];
    int include_usage;
    int64_t input_tokens;
    int tools;                         /* tool calls started so far */
    size_t blocks;                     /* entries in block_tool */
    int block_tool[MAX_STREAM_BLOCKS]; /* content block index -> tool index, or NOT_A_TOOL */
};

static struct anthropic_stream *
stream_state(const struct sl_call_ctx *ctx, struct sl_stream_state *st)
{
    struct anthropic_stream *as = st->family;

    if (as != NULL)
        return as;
    as = sl_xcalloc(1, sizeof(*as));
    if (!ctx->native) {
        const cJSON *opts = cJSON_GetObjectItemCaseSensitive(ctx->body, "stream_options");

        as->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    }
    st->family = as;
    st->family_free = free;
    return as;
}

static void
count_finish(struct sl_stream_state *st)
{
    if (st->finished[0])
        return;
    st->finished[0] = 1;
    st->finish_count++;
}

/* Appends a chunk with one choice carrying `delta` (taken over) and `reason` (may be NULL). */
static void
write_delta(const struct sl_call_ctx *ctx, const struct anthropic_stream *as, cJSON *delta,
            const char *reason, struct sl_buf *out)
{
    sl_openai_write_delta(ctx, as->id, delta, reason, out);
}

static void
write_text_delta(const struct sl_call_ctx *ctx, const struct anthropic_stream *as, const char *key,
                 const char *text, struct sl_buf *out)
{
    cJSON *delta = cJSON_CreateObject();

    cJSON_AddStringToObject(delta, key, text);
    write_delta(ctx, as, delta, NULL, out);
}

static void
write_tool_delta(const struct sl_call_ctx *ctx, const struct anthropic_stream *as, int index,
                 const char *id, const char *name, const char *arguments, struct sl_buf *out)
{
    cJSON *delta = cJSON_CreateObject();
    cJSON *call = cJSON_CreateObject();
    cJSON *fn;

    cJSON_AddNumberToObject(call, "index", index);
    if (id != NULL) {
        cJSON_AddStringToObject(call, "id", id);
        cJSON_AddStringToObject(call, "type", "function");
    }
    fn = cJSON_AddObjectToObject(call, "function");
    if (name != NULL)
        cJSON_AddStringToObject(fn, "name", name);
    cJSON_AddStringToObject(fn, "arguments", arguments);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), call);
    write_delta(ctx, as, delta, NULL, out);
}

static int
block_index(const cJSON *ev)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(ev, "index");

    if (!cJSON_IsNumber(index) || index->valuedouble < 0 || index->valuedouble >= MAX_STREAM_BLOCKS)
        return -1;
    return (int)index->valuedouble;
}

/* Returns the tool index of content block `block`, NOT_A_TOOL for another started block, or
 * UNKNOWN_BLOCK when the block was never started. */
static int
tool_of_block(const struct anthropic_stream *as, int block)
{
    if (block < 0 || (size_t)block >= as->blocks)
        return UNKNOWN_BLOCK;
    return as->block_tool[block];
}

static enum sl_stream_verdict
on_message_start(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                 struct anthropic_stream *as, const cJSON *ev, struct sl_buf *out)
{
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(ev, "message");
    const char *id = sl_json_get_string(message, "id");
    cJSON *delta = cJSON_CreateObject();

    snprintf(as->id, sizeof(as->id), "%s", id != NULL ? id : "");
    read_usage(cJSON_GetObjectItemCaseSensitive(message, "usage"), &st->usage, &as->input_tokens);
    cJSON_AddStringToObject(delta, "role", "assistant");
    cJSON_AddStringToObject(delta, "content", "");
    write_delta(ctx, as, delta, NULL, out);
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_block_start(const struct sl_call_ctx *ctx, struct anthropic_stream *as, const cJSON *ev,
               struct sl_buf *out, struct sl_upstream_error *err)
{
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(ev, "content_block");
    const char *type = sl_json_get_string(block, "type");
    int index = block_index(ev);

    if (index < 0 || type == NULL) {
        proto_error(err, "the provider sent a content_block_start without index or type");
        return SL_STREAM_FAILED;
    }
    while (as->blocks <= (size_t)index)
        as->block_tool[as->blocks++] = NOT_A_TOOL;
    if (strcmp(type, "tool_use") == 0) {
        const char *id = sl_json_get_string(block, "id");
        const char *name = sl_json_get_string(block, "name");

        if (id == NULL || name == NULL) {
            proto_error(err, "the provider sent a tool_use block without id or name");
            return SL_STREAM_FAILED;
        }
        as->block_tool[index] = as->tools++;
        write_tool_delta(ctx, as, as->block_tool[index], id, name, "", out);
    } else if (strcmp(type, "text") == 0) {
        const char *text = sl_json_get_string(block, "text");

        if (text != NULL && text[0] != '\0')
            write_text_delta(ctx, as, "content", text, out);
    }
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_block_delta(const struct sl_call_ctx *ctx, struct anthropic_stream *as, const cJSON *ev,
               struct sl_buf *out, struct sl_upstream_error *err)
{
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(ev, "delta");
    const char *type = sl_json_get_string(delta, "type");
    const char *s;

    if (type == NULL) {
        proto_error(err, "the provider sent a content_block_delta without a type");
        return SL_STREAM_FAILED;
    }
    if (strcmp(type, "text_delta") == 0) {
        s = sl_json_get_string(delta, "text");
        if (s != NULL && s[0] != '\0')
            write_text_delta(ctx, as, "content", s, out);
    } else if (strcmp(type, "thinking_delta") == 0) {
        s = sl_json_get_string(delta, "thinking");
        if (s != NULL && s[0] != '\0')
            write_text_delta(ctx, as, "reasoning_content", s, out);
    } else if (strcmp(type, "input_json_delta") == 0) {
        int tool = tool_of_block(as, block_index(ev));

        s = sl_json_get_string(delta, "partial_json");
        if (tool == UNKNOWN_BLOCK) {
            proto_error(err, "the provider sent input_json_delta for a block it never started");
            return SL_STREAM_FAILED;
        }
        /* Server-side tools (server_tool_use blocks) stream their input too: the client did
         * not define them, so they are not its tool calls. */
        if (tool >= 0 && s != NULL && s[0] != '\0')
            write_tool_delta(ctx, as, tool, NULL, NULL, s, out);
    }
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_message_delta(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                 struct anthropic_stream *as, const cJSON *ev, struct sl_buf *out)
{
    const char *stop =
        sl_json_get_string(cJSON_GetObjectItemCaseSensitive(ev, "delta"), "stop_reason");

    read_usage(cJSON_GetObjectItemCaseSensitive(ev, "usage"), &st->usage, &as->input_tokens);
    if (stop == NULL || st->finished[0])
        return SL_STREAM_CONTINUE;
    count_finish(st);
    sl_stream_note_finish(st, finish_reason(stop));
    write_delta(ctx, as, cJSON_CreateObject(), finish_reason(stop), out);
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
on_message_stop(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                struct anthropic_stream *as, struct sl_buf *out)
{
    st->saw_done = 1;
    if (as->include_usage && st->usage.present) {
        cJSON *c = sl_openai_chunk_new(ctx, as->id);

        cJSON_AddItemToObject(c, "usage", usage_json(&st->usage));
        sl_openai_write_chunk(out, c);
    }
    return SL_STREAM_END;
}

/* Fills `err` from an in-band error event; its status comes from the error type. */
static void
read_stream_error(const cJSON *root, struct sl_upstream_error *err)
{
    if (!read_error_envelope(root, 0, err))
        proto_error(err, "the provider sent an error event without an error object");
}

/* Parses an event's data; returns NULL (with `err` filled) when it is not a JSON object. */
static cJSON *
parse_event(const struct sl_stream_event *ev, struct sl_upstream_error *err)
{
    cJSON *root = NULL;

    if (sl_json_parse(ev->data, ev->data_len, RESPONSE_MAX_DEPTH, &root, NULL) != SL_OK ||
        !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        proto_error(err, "the provider sent a stream event that is not a JSON object");
        return NULL;
    }
    return root;
}

/* The event's type: the data's `type`, else the SSE event name, copied into `name`. */
static const char *
event_type(const struct sl_stream_event *ev, const cJSON *root, char *name, size_t size)
{
    const char *type = sl_json_get_string(root, "type");

    if (type != NULL)
        snprintf(name, size, "%s", type);
    else if (ev->event != NULL && ev->event_len > 0)
        snprintf(name, size, "%.*s", (int)(ev->event_len < size ? ev->event_len : size - 1),
                 ev->event);
    else
        name[0] = '\0';
    return name;
}

static enum sl_stream_verdict
translate_openai_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st, const char *type,
                       const cJSON *root, struct sl_buf *out, struct sl_upstream_error *err)
{
    struct anthropic_stream *as = stream_state(ctx, st);

    if (strcmp(type, "message_start") == 0)
        return on_message_start(ctx, st, as, root, out);
    if (strcmp(type, "content_block_start") == 0)
        return on_block_start(ctx, as, root, out, err);
    if (strcmp(type, "content_block_delta") == 0)
        return on_block_delta(ctx, as, root, out, err);
    if (strcmp(type, "message_delta") == 0)
        return on_message_delta(ctx, st, as, root, out);
    if (strcmp(type, "message_stop") == 0)
        return on_message_stop(ctx, st, as, out);
    /* ping, content_block_stop and event types added later carry nothing to translate. */
    return SL_STREAM_CONTINUE;
}

/*
 * Finds the value of the top-level member `key` in the JSON object `json` and stores its byte
 * range in [*start, *end). Returns 0 when there is no such member. Member names are compared
 * as raw bytes, so a name written with escapes is not found.
 */
static int
find_top_member(const char *json, size_t len, const char *key, size_t *start, size_t *end)
{
    size_t klen = strlen(key);
    int depth = 0;
    int expect_key = 0;
    size_t value_at = 0;
    int in_value = 0;

    for (size_t i = 0; i < len; i++) {
        char c = json[i];

        if (c == '"') {
            size_t s = i + 1;

            for (i = s; i < len && json[i] != '"'; i++)
                if (json[i] == '\\')
                    i++;
            if (i >= len)
                return 0;
            if (depth == 1 && expect_key) {
                expect_key = 0;
                if (i - s == klen && memcmp(json + s, key, klen) == 0) {
                    size_t j = i + 1;

                    while (j < len && json[j] != ':')
                        j++;
                    j++;
                    while (j < len && (json[j] == ' ' || json[j] == '\t' || json[j] == '\n' ||
                                       json[j] == '\r'))
                        j++;
                    value_at = j;
                    in_value = 1;
                }
            }
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            if (depth == 1 && c == '{')
                expect_key = 1;
        } else if (c == '}' || c == ']') {
            depth--;
            if (in_value && depth == 1) {
                *start = value_at;
                *end = i + 1;
                return 1;
            }
        } else if (c == ',' && depth == 1) {
            expect_key = 1;
            if (in_value) {
                *start = value_at;
                *end = i;
                return 1;
            }
        }
    }
    return 0;
}

/* Appends message_start's data with `model` of its `message` set to the requested model. */
static void
rewrite_message_start(const struct sl_call_ctx *ctx, const struct sl_stream_event *ev,
                      struct sl_buf *data)
{
    size_t start;
    size_t end;

    if (find_top_member(ev->data, ev->data_len, "message", &start, &end) &&
        ev->data[start] == '{') {
        struct sl_buf message;

        sl_buf_init(&message, 0);
        if (sl_json_replace_top_string(ev->data + start, end - start, "model", ctx->requested_model,
                                       &message) == SL_OK) {
            sl_buf_append(data, ev->data, start);
            sl_buf_append(data, message.data, message.len);
            sl_buf_append(data, ev->data + end, ev->data_len - end);
            sl_buf_dispose(&message);
            return;
        }
        sl_buf_dispose(&message);
    }
    sl_buf_append(data, ev->data, ev->data_len);
}

/* Passes an event of a native stream through, tracking its finish and usage. */
static enum sl_stream_verdict
pass_native_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st, const char *type,
                  const cJSON *root, const struct sl_stream_event *ev, struct sl_buf *out)
{
    struct anthropic_stream *as = stream_state(ctx, st);
    struct sl_buf data;
    char name[64];

    sl_buf_init(&data, 0);
    if (strcmp(type, "message_start") == 0) {
        read_usage(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(root, "message"), "usage"),
                   &st->usage, &as->input_tokens);
        rewrite_message_start(ctx, ev, &data);
    } else {
        sl_buf_append(&data, ev->data, ev->data_len);
    }
    if (strcmp(type, "message_delta") == 0) {
        const char *stop =
            sl_json_get_string(cJSON_GetObjectItemCaseSensitive(root, "delta"), "stop_reason");

        read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &st->usage, &as->input_tokens);
        if (stop != NULL) {
            if (!st->finished[0])
                sl_stream_note_finish(st, finish_reason(stop));
            count_finish(st);
        }
    }
    /* Keep the event name as sent, or use the data's type when there was none. */
    if (ev->event != NULL && ev->event_len > 0 && ev->event_len < sizeof(name) &&
        memchr(ev->event, '\n', ev->event_len) == NULL &&
        memchr(ev->event, '\r', ev->event_len) == NULL)
        snprintf(name, sizeof(name), "%.*s", (int)ev->event_len, ev->event);
    else
        snprintf(name, sizeof(name), "%s", type);
    if (name[0] != '\0')
        sl_sse_write_event(out, name, data.data != NULL ? data.data : "", data.len);
    else
        sl_sse_write_data(out, data.data != NULL ? data.data : "", data.len);
    sl_buf_dispose(&data);
    if (strcmp(type, "message_stop") == 0) {
        st->saw_done = 1;
        return SL_STREAM_END;
    }
    return SL_STREAM_CONTINUE;
}

static enum sl_stream_verdict
translate_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                const struct sl_stream_event *ev, struct sl_buf *out, struct sl_upstream_error *err)
{
    cJSON *root = parse_event(ev, err);
    enum sl_stream_verdict v;
    char type[64];

    if (root == NULL)
        return SL_STREAM_FAILED;
    event_type(ev, root, type, sizeof(type));
    if (strcmp(type, "error") == 0) {
        read_stream_error(root, err);
        v = SL_STREAM_FAILED;
    } else if (ctx->native) {
        v = pass_native_event(ctx, st, type, root, ev, out);
    } else {
        size_t before = out->len;

        v = translate_openai_event(ctx, st, type, root, out, err);
        if (v == SL_STREAM_FAILED && out->data != NULL) {
            out->len = before; /* FAILED appends nothing */
            out->data[before] = '\0';
        }
    }
    cJSON_Delete(root);
    return v;
}

/* ---------------------------------------------------------------- registration */

const struct sl_provider sl_anthropic_families[] = {
    {
        .name = "anthropic",
        .default_api_base = "https://api.anthropic.com",
        .api_key_env = "ANTHROPIC_API_KEY",
        .native_format = SL_FORMAT_ANTHROPIC,
        .framing = SL_FRAMING_SSE,
        .build_request = build_request,
        .translate_response = translate_response,
        .translate_event = translate_event,
        .parse_error = parse_error,
    },
};

const size_t sl_anthropic_family_count =
    sizeof(sl_anthropic_families) / sizeof(sl_anthropic_families[0]);

static const struct sl_provider *
find_self(void)
{
    return &sl_anthropic_families[0];
}
