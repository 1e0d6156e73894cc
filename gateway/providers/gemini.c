/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemini -- the Google AI Studio family (`gemini/<model>`): the Gemini API's generateContent,
 * streamGenerateContent (SSE) and batchEmbedContents.
 *
 * OpenAI requests are rebuilt as Gemini requests (contents, systemInstruction, tools,
 * generationConfig) and Gemini responses are rebuilt as OpenAI completions and chunks. The key
 * goes in the x-goog-api-key header, never in the URL, so it cannot leak into access logs.
 * No client speaks Gemini's format, so calls are always translated and `ctx->native` is ignored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

#define SL_GEMINI_DEFAULT_BASE "https://generativelanguage.googleapis.com"

/* ---------------------------------------------------------------- request translation */

static enum sl_status
fail_invalid(struct sl_errbuf *err, const char *msg)
{
    sl_errbuf_set(err, "%s", msg);
    return SL_ERR_INVALID;
}

static cJSON *
text_part(const char *text)
{
    cJSON *part = cJSON_CreateObject();

    cJSON_AddStringToObject(part, "text", text);
    return part;
}

/* Adds an image_url part as inlineData. Other URLs are rejected, because the gateway does not
 * download images. */
static enum sl_status
add_image_part(cJSON *parts, const cJSON *image_url, struct sl_errbuf *err)
{
    const char *url =
        cJSON_IsString(image_url) ? image_url->valuestring : sl_json_get_string(image_url, "url");
    const char *comma;
    const char *marker;
    cJSON *part;
    cJSON *inline_data;

    if (url == NULL)
        return fail_invalid(err, "messages: an image_url part has no url");
    comma = strchr(url, ',');
    marker = strstr(url, ";base64,");
    if (strncmp(url, "data:", 5) != 0 || comma == NULL || marker == NULL || marker + 7 != comma ||
        marker == url + 5)
        return fail_invalid(err, "messages: gemini accepts images only as data URLs "
                                 "(data:<mime type>;base64,<data>)");

    part = cJSON_CreateObject();
    inline_data = cJSON_AddObjectToObject(part, "inlineData");
    char *mime = sl_xstrndup(url + 5, (size_t)(marker - (url + 5)));

    cJSON_AddStringToObject(inline_data, "mimeType", mime);
    free(mime);
    cJSON_AddStringToObject(inline_data, "data", comma + 1);
    cJSON_AddItemToArray(parts, part);
    return SL_OK;
}

/* Appends the parts of an OpenAI message `content` (string, array of parts, or null). */
static enum sl_status
add_content_parts(cJSON *parts, const cJSON *content, struct sl_errbuf *err)
{
    const cJSON *item;

    if (content == NULL || cJSON_IsNull(content))
        return SL_OK;
    if (cJSON_IsString(content)) {
        if (content->valuestring[0] != '\0')
            cJSON_AddItemToArray(parts, text_part(content->valuestring));
        return SL_OK;
    }
    if (!cJSON_IsArray(content))
        return fail_invalid(err, "messages: content must be a string, an array or null");
    cJSON_ArrayForEach(item, content)
    {
        const char *type = sl_json_get_string(item, "type");
        const char *text = sl_json_get_string(item, "text");

        if (type != NULL && strcmp(type, "text") == 0 && text != NULL) {
            cJSON_AddItemToArray(parts, text_part(text));
        } else if (type != NULL && strcmp(type, "image_url") == 0) {
            enum sl_status rc =
                add_image_part(parts, cJSON_GetObjectItemCaseSensitive(item, "image_url"), err);

            if (rc != SL_OK)
                return rc;
        } else {
            sl_errbuf_set(err, "messages: content part type \"%s\" is not supported for gemini",
                          type != NULL ? type : "(none)");
            return SL_ERR_INVALID;
        }
    }
    return SL_OK;
}

/* Returns the parts array of the last content when its role is `role`, else of a new one. */
static cJSON *
parts_for(cJSON *contents, const char *role)
{
    cJSON *last = cJSON_GetArrayItem(contents, cJSON_GetArraySize(contents) - 1);
    const char *last_role = sl_json_get_string(last, "role");
    cJSON *content;

    /* Consecutive messages of one role share a turn, so parallel tool results go together. */
    if (last_role != NULL && strcmp(last_role, role) == 0)
        return cJSON_GetObjectItemCaseSensitive(last, "parts");
    content = cJSON_CreateObject();
    cJSON_AddStringToObject(content, "role", role);
    cJSON_AddItemToArray(contents, content);
    return cJSON_AddArrayToObject(content, "parts");
}

static enum sl_status
add_tool_calls(cJSON *parts, const cJSON *tool_calls, struct sl_errbuf *err)
{
    const cJSON *call;

    cJSON_ArrayForEach(call, tool_calls)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        const char *name = sl_json_get_string(fn, "name");
        const char *arguments = sl_json_get_string(fn, "arguments");
        cJSON *args = NULL;
        cJSON *part;
        cJSON *fc;

        if (name == NULL)
            return fail_invalid(err, "messages: a tool call has no function.name");
        if (arguments != NULL && arguments[0] != '\0' &&
            (sl_json_parse(arguments, strlen(arguments), SL_JSON_MAX_DEPTH, &args, NULL) != SL_OK ||
             !cJSON_IsObject(args))) {
            cJSON_Delete(args);
            sl_errbuf_set(err, "messages: the arguments of tool call \"%s\" are not a JSON object",
                          name);
            return SL_ERR_INVALID;
        }
        part = cJSON_CreateObject();
        fc = cJSON_AddObjectToObject(part, "functionCall");
        cJSON_AddStringToObject(fc, "name", name);
        cJSON_AddItemToObject(fc, "args", args != NULL ? args : cJSON_CreateObject());
        cJSON_AddItemToArray(parts, part);
    }
    return SL_OK;
}

/* Returns the function name of the earlier tool call `id`, or NULL. */
static const char *
tool_name_for(const cJSON *messages, const cJSON *upto, const char *id)
{
    const cJSON *m;

    for (m = messages->child; m != NULL && m != upto; m = m->next) {
        const cJSON *call;

        cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
        {
            const char *call_id = sl_json_get_string(call, "id");

            if (call_id != NULL && strcmp(call_id, id) == 0)
                return sl_json_get_string(cJSON_GetObjectItemCaseSensitive(call, "function"),
                                          "name");
        }
    }
    return NULL;
}

/* A tool result as a functionResponse part: {"name":..., "response":{"content": <text>}}. */
static enum sl_status
add_tool_result(cJSON *parts, const cJSON *messages, const cJSON *m, struct sl_errbuf *err)
{
    const char *id = sl_json_get_string(m, "tool_call_id");
    const char *name = sl_json_get_string(m, "name");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    struct sl_buf text;
    const cJSON *item;
    cJSON *part;
    cJSON *fr;

    if (name == NULL && id != NULL)
        name = tool_name_for(messages, m, id);
    if (name == NULL)
        return fail_invalid(err, "messages: a tool message's tool_call_id matches no earlier "
                                 "assistant tool call");
    sl_buf_init(&text, 0);
    if (cJSON_IsString(content)) {
        sl_buf_append_str(&text, content->valuestring);
    } else {
        cJSON_ArrayForEach(item, content)
        {
            const char *t = sl_json_get_string(item, "text");

            if (t != NULL)
                sl_buf_append_str(&text, t);
        }
    }
    part = cJSON_CreateObject();
    fr = cJSON_AddObjectToObject(part, "functionResponse");
    cJSON_AddStringToObject(fr, "name", name);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(fr, "response"), "content",
                            text.data != NULL ? text.data : "");
    cJSON_AddItemToArray(parts, part);
    sl_buf_dispose(&text);
    return SL_OK;
}

static enum sl_status
add_message(cJSON *body, cJSON *contents, const cJSON *messages, const cJSON *m,
            struct sl_errbuf *err)
{
    const char *role = sl_json_get_string(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    cJSON *parts;
    enum sl_status rc;

    if (role == NULL)
        return fail_invalid(err, "messages: a message has no role");
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        cJSON *si = cJSON_GetObjectItemCaseSensitive(body, "systemInstruction");

        if (si == NULL)
            si = cJSON_AddObjectToObject(body, "systemInstruction");
        parts = cJSON_GetObjectItemCaseSensitive(si, "parts");
        if (parts == NULL)
            parts = cJSON_AddArrayToObject(si, "parts");
        return add_content_parts(parts, content, err);
    }
    if (strcmp(role, "user") == 0)
        return add_content_parts(parts_for(contents, "user"), content, err);
    if (strcmp(role, "assistant") == 0) {
        parts = parts_for(contents, "model");
        rc = add_content_parts(parts, content, err);
        if (rc == SL_OK)
            rc = add_tool_calls(parts, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), err);
        return rc;
    }
    if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
        return add_tool_result(parts_for(contents, "user"), messages, m, err);
    sl_errbuf_set(err, "messages: role \"%s\" is not supported for gemini", role);
    return SL_ERR_INVALID;
}

/* Removes the JSON Schema keywords Gemini's OpenAPI subset rejects, in place. Member names of
 * a "properties" object are property names, not keywords, so they are kept. */
static void
strip_schema(cJSON *node, int is_properties)
{
    static const char *const dropped[] = {"$schema", "$id", "additionalProperties", "strict"};
    cJSON *child;

    if (cJSON_IsObject(node) && !is_properties)
        for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
            cJSON_DeleteItemFromObjectCaseSensitive(node, dropped[i]);
    for (child = node->child; child != NULL; child = child->next)
        if (cJSON_IsObject(child) || cJSON_IsArray(child))
            strip_schema(child, !is_properties && cJSON_IsObject(node) && child->string != NULL &&
                                    strcmp(child->string, "properties") == 0);
}

static cJSON *
clean_schema(const cJSON *schema)
{
    cJSON *copy = cJSON_Duplicate(schema, 1);

    strip_schema(copy, 0);
    return copy;
}

static enum sl_status
add_tools(cJSON *body, const cJSON *req, struct sl_errbuf *err)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
    const cJSON *tool;
    cJSON *decls;
    cJSON *config;
    const char *mode = NULL;
    const char *forced = NULL;

    if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0) {
        cJSON *entry = cJSON_CreateObject();

        decls = cJSON_AddArrayToObject(entry, "functionDeclarations");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "tools"), entry);
        cJSON_ArrayForEach(tool, tools)
        {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
            const char *name = sl_json_get_string(fn, "name");
            const char *description = sl_json_get_string(fn, "description");
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
            cJSON *decl;

            if (name == NULL)
                return fail_invalid(err, "tools: a tool has no function.name");
            decl = cJSON_CreateObject();
            cJSON_AddStringToObject(decl, "name", name);
            if (description != NULL)
                cJSON_AddStringToObject(decl, "description", description);
            if (cJSON_IsObject(params))
                cJSON_AddItemToObject(decl, "parameters", clean_schema(params));
            cJSON_AddItemToArray(decls, decl);
        }
    }

    if (cJSON_IsString(choice)) {
        if (strcmp(choice->valuestring, "none") == 0)
            mode = "NONE";
        else if (strcmp(choice->valuestring, "auto") == 0)
            mode = "AUTO";
        else if (strcmp(choice->valuestring, "required") == 0)
            mode = "ANY";
    } else if (cJSON_IsObject(choice)) {
        forced = sl_json_get_string(cJSON_GetObjectItemCaseSensitive(choice, "function"), "name");
        mode = forced != NULL ? "ANY" : NULL;
    }
    if (mode == NULL)
        return SL_OK;
    config = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "toolConfig"),
                                     "functionCallingConfig");
    cJSON_AddStringToObject(config, "mode", mode);
    if (forced != NULL)
        cJSON_AddItemToArray(cJSON_AddArrayToObject(config, "allowedFunctionNames"),
                             cJSON_CreateString(forced));
    return SL_OK;
}

static void
copy_number(cJSON *to, const char *to_key, const cJSON *from, const char *from_key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, from_key);

    if (cJSON_IsNumber(v) && cJSON_GetObjectItemCaseSensitive(to, to_key) == NULL)
        cJSON_AddNumberToObject(to, to_key, v->valuedouble);
}

static void
add_generation_config(cJSON *body, const cJSON *req)
{
    cJSON *gc = cJSON_CreateObject();
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(req, "stop");
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(req, "response_format");
    const char *format_type = sl_json_get_string(format, "type");

    copy_number(gc, "temperature", req, "temperature");
    copy_number(gc, "topP", req, "top_p");
    copy_number(gc, "maxOutputTokens", req, "max_completion_tokens");
    copy_number(gc, "maxOutputTokens", req, "max_tokens");
    copy_number(gc, "candidateCount", req, "n");
    copy_number(gc, "presencePenalty", req, "presence_penalty");
    copy_number(gc, "frequencyPenalty", req, "frequency_penalty");
    copy_number(gc, "seed", req, "seed");
    if (cJSON_IsString(stop)) {
        cJSON_AddItemToArray(cJSON_AddArrayToObject(gc, "stopSequences"),
                             cJSON_CreateString(stop->valuestring));
    } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
        cJSON_AddItemToObject(gc, "stopSequences", cJSON_Duplicate(stop, 1));
    }
    if (format_type != NULL &&
        (strcmp(format_type, "json_object") == 0 || strcmp(format_type, "json_schema") == 0)) {
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(format, "json_schema"), "schema");

        cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
        if (cJSON_IsObject(schema))
            cJSON_AddItemToObject(gc, "responseSchema", clean_schema(schema));
    }
    if (gc->child != NULL)
        cJSON_AddItemToObject(body, "generationConfig", gc);
    else
        cJSON_Delete(gc);
}

/* Builds the generateContent body for an OpenAI chat request. */
static enum sl_status
build_chat_body(const cJSON *req, cJSON **out, struct sl_errbuf *err)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
    cJSON *body = cJSON_CreateObject();
    cJSON *contents = cJSON_AddArrayToObject(body, "contents");
    const cJSON *m;
    enum sl_status rc = SL_OK;

    if (!cJSON_IsArray(messages)) {
        cJSON_Delete(body);
        return fail_invalid(err, "messages must be an array");
    }
    cJSON_ArrayForEach(m, messages)
    {
        rc = add_message(body, contents, messages, m, err);
        if (rc != SL_OK)
            goto out;
    }
    if (cJSON_GetArraySize(contents) == 0) {
        rc = fail_invalid(err, "messages: gemini needs at least one user or assistant message");
        goto out;
    }
    rc = add_tools(body, req, err);
    if (rc != SL_OK)
        goto out;
    add_generation_config(body, req);

out:
    if (rc != SL_OK) {
        cJSON_Delete(body);
        return rc;
    }
    *out = body;
    return SL_OK;
}

/* ---------------------------------------------------------------- request */

/* Appends base + "/v1beta" unless the base already names an API version. */
static void
append_base(struct sl_buf *url, const struct sl_deployment *d)
{
    const char *base = d->api_base != NULL ? d->api_base : SL_GEMINI_DEFAULT_BASE;
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    sl_buf_append(url, base, n);
    if (!(n >= 7 && memcmp(base + n - 7, "/v1beta", 7) == 0) &&
        !(n >= 3 && memcmp(base + n - 3, "/v1", 3) == 0))
        sl_buf_append_str(url, "/v1beta");
}

/* Returns the deployment's model id without a leading "models/", which Google's own resource
 * names carry (gemini/models/gemini-2.0-flash and gemini/gemini-2.0-flash are the same). */
static const char *
model_id(const struct sl_deployment *d)
{
    const char *m = d->provider_model;

    return strncmp(m, "models/", 7) == 0 ? m + 7 : m;
}

/* Appends a model name, percent-encoding bytes that could change the path. */
static void
append_model(struct sl_buf *url, const char *model)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *model != '\0'; model++) {
        unsigned char c = (unsigned char)*model;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            sl_buf_append(url, model, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

            sl_buf_append(url, enc, sizeof(enc));
        }
    }
}

static struct curl_slist *
build_headers(const struct sl_deployment *d)
{
    struct curl_slist *h = NULL;

    const char *key = d->api_key != NULL ? d->api_key : getenv("GOOGLE_API_KEY");

    h = sl_openai_add_header(h, "Content-Type", "application/json");
    /* The gateway reads GEMINI_API_KEY at load. GOOGLE_API_KEY is the second choice. */
    if (key != NULL && key[0] != '\0')
        h = sl_openai_add_header(h, "x-goog-api-key", key);
    for (size_t i = 0; i < d->n_extra_headers; i++)
        h = sl_openai_add_header(h, d->extra_headers[i].name, d->extra_headers[i].value);
    return h;
}

/* {"requests":[{"model":"models/<m>","content":{"parts":[{"text":...}]}}, ...]} */
static enum sl_status
build_embedding_body(const struct sl_call_ctx *ctx, cJSON **out, struct sl_errbuf *err)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(ctx->body, "input");
    cJSON *body = cJSON_CreateObject();
    cJSON *requests = cJSON_AddArrayToObject(body, "requests");
    struct sl_buf model;
    const cJSON *item;

    if (!cJSON_IsString(input) && !cJSON_IsArray(input)) {
        cJSON_Delete(body);
        return fail_invalid(err, "input must be a string or an array of strings for gemini "
                                 "embeddings");
    }
    sl_buf_init(&model, 0);
    sl_buf_printf(&model, "models/%s", model_id(ctx->deployment));
    for (item = cJSON_IsString(input) ? input : input->child; item != NULL;
         item = cJSON_IsString(input) ? NULL : item->next) {
        cJSON *req;
        cJSON *parts;

        if (!cJSON_IsString(item)) {
            sl_buf_dispose(&model);
            cJSON_Delete(body);
            return fail_invalid(err, "input must be a string or an array of strings for gemini "
                                     "embeddings (token arrays are not supported)");
        }
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "model", model.data);
        parts = cJSON_AddArrayToObject(cJSON_AddObjectToObject(req, "content"), "parts");
        cJSON_AddItemToArray(parts, text_part(item->valuestring));
        cJSON_AddItemToArray(requests, req);
    }
    sl_buf_dispose(&model);
    *out = body;
    return SL_OK;
}

static enum sl_status
build_request(const struct sl_call_ctx *ctx, struct sl_upstream_request *out, struct sl_errbuf *err)
{
    const struct sl_deployment *d = ctx->deployment;
    cJSON *body = NULL;
    enum sl_status rc;

    switch (ctx->kind) {
    case SL_KIND_COMPLETION:
        return fail_invalid(err, "gemini models do not serve /v1/completions: use "
                                 "/v1/chat/completions");
    case SL_KIND_EMBEDDING:
        rc = build_embedding_body(ctx, &body, err);
        break;
    case SL_KIND_CHAT:
    default:
        rc = build_chat_body(ctx->body, &body, err);
        break;
    }
    if (rc != SL_OK)
        return rc;

    append_base(&out->url, d);
    sl_buf_append_str(&out->url, "/models/");
    append_model(&out->url, model_id(d));
    if (ctx->kind == SL_KIND_EMBEDDING)
        sl_buf_append_str(&out->url, ":batchEmbedContents");
    else if (ctx->stream)
        sl_buf_append_str(&out->url, ":streamGenerateContent?alt=sse");
    else
        sl_buf_append_str(&out->url, ":generateContent");
    out->headers = build_headers(d);

    char *text = sl_json_print(body);

    sl_buf_append_str(&out->body, text);
    cJSON_free(text);
    cJSON_Delete(body);
    return SL_OK;
}

/* ---------------------------------------------------------------- errors */

/* Reads Google's {"error":{"code","message","status"}}; other bodies are read as OpenAI's. */
static void
parse_error(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    cJSON *root = NULL;
    const cJSON *error;
    const cJSON *code;
    const char *message;

    sl_errors_parse_openai(status, body, len, out);
    if (len == 0 || sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, NULL) != SL_OK)
        return;
    error = cJSON_GetObjectItemCaseSensitive(root, "error");
    message = sl_json_get_string(error, "message");
    code = cJSON_GetObjectItemCaseSensitive(error, "code");
    if (message != NULL && sl_json_get_string(error, "status") != NULL) {
        /* An in-band stream error has no HTTP status of its own: take Google's code. */
        if ((status < 400 || status > 599) && cJSON_IsNumber(code) && code->valuedouble >= 400 &&
            code->valuedouble <= 599)
            out->status = (int)code->valuedouble;
        snprintf(out->message, sizeof(out->message), "%s", message);
        snprintf(out->type, sizeof(out->type), "%s", sl_errors_default_type(out->status));
        out->param[0] = '\0';
    }
    cJSON_Delete(root);
}

/* ---------------------------------------------------------------- response translation */

/* Maps a Gemini finishReason to OpenAI's as LiteLLM 1.81.13 does. Names it does not list are
 * passed on in lowercase. */
static void
map_finish(const char *reason, int had_tool_calls, char *out, size_t size)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION",   "LANGUAGE",
        "OTHER",  "BLOCKLIST",    "PROHIBITED_CONTENT",
        "SPII",   "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
    };
    size_t i;

    if (strcmp(reason, "STOP") == 0) {
        snprintf(out, size, "%s", had_tool_calls ? "tool_calls" : "stop");
        return;
    }
    if (strcmp(reason, "MAX_TOKENS") == 0) {
        snprintf(out, size, "length");
        return;
    }
    for (i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++) {
        if (strcmp(reason, filtered[i]) == 0) {
            snprintf(out, size, "content_filter");
            return;
        }
    }
    for (i = 0; reason[i] != '\0' && i + 1 < size; i++)
        out[i] = (reason[i] >= 'A' && reason[i] <= 'Z') ? (char)(reason[i] - 'A' + 'a') : reason[i];
    out[i] = '\0';
}

/* FNV-1a, to derive stable ids from the provider's bytes. */
static uint64_t
hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Writes the chat completion id: chatcmpl-<responseId>, or a hash of the body without one. */
static void
make_id(const cJSON *root, const char *body, size_t len, char *out, size_t size)
{
    const char *rid = sl_json_get_string(root, "responseId");

    if (rid != NULL && rid[0] != '\0' && strlen(rid) < 64)
        snprintf(out, size, "chatcmpl-%s", rid);
    else
        snprintf(out, size, "chatcmpl-%016llx", (unsigned long long)hash_bytes(body, len));
}

/* Reads usageMetadata into `usage` and returns thoughtsTokenCount, which counts as completion. */
static int64_t
read_usage_metadata(const cJSON *root, struct sl_usage *usage)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usageMetadata");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(u, "promptTokenCount");
    const cJSON *candidates = cJSON_GetObjectItemCaseSensitive(u, "candidatesTokenCount");
    const cJSON *thoughts = cJSON_GetObjectItemCaseSensitive(u, "thoughtsTokenCount");
    const cJSON *cached = cJSON_GetObjectItemCaseSensitive(u, "cachedContentTokenCount");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(u, "totalTokenCount");
    int64_t thought_tokens = sl_usage_count(thoughts);

    if (!cJSON_IsObject(u))
        return 0;
    usage->present = 1;
    usage->prompt_tokens = sl_usage_count(prompt);
    usage->completion_tokens = sl_usage_count(candidates) + thought_tokens;
    usage->cached_tokens = sl_usage_count(cached);
    usage->reasoning_tokens = thought_tokens;
    usage->total_tokens = cJSON_IsNumber(total) ? sl_usage_count(total)
                                                : usage->prompt_tokens + usage->completion_tokens;
    return thought_tokens;
}

static cJSON *
usage_json(const struct sl_usage *usage, int64_t thought_tokens)
{
    cJSON *u = sl_openai_usage_json(usage);

    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "completion_tokens_details"),
                            "reasoning_tokens", (double)thought_tokens);
    return u;
}

/* The parts of one candidate, in OpenAI's terms. */
struct candidate_parts {
    struct sl_buf text;
    struct sl_buf thought;
    cJSON *tool_calls; /* array, or NULL when there are none */
};

/*
 * Splits a candidate's parts into text, thought summary and tool calls. Tool call ids are
 * call_<id_seed in hex>_<n>, with n counted from `*next_tool`. Returns 0 when a functionCall
 * has no name.
 * NOTE: thoughtSignature is dropped, so a later turn cannot send it back to Gemini.
 */
static int
read_parts(const cJSON *candidate, uint64_t id_seed, int *next_tool, int with_index,
           struct candidate_parts *out)
{
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(candidate, "content"), "parts");
    const cJSON *part;

    sl_buf_init(&out->text, 0);
    sl_buf_init(&out->thought, 0);
    out->tool_calls = NULL;
    cJSON_ArrayForEach(part, parts)
    {
        const char *text = sl_json_get_string(part, "text");
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(part, "functionCall");

        if (text != NULL) {
            int thought = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "thought"));

            sl_buf_append_str(thought ? &out->thought : &out->text, text);
        } else if (cJSON_IsObject(fc)) {
            const char *name = sl_json_get_string(fc, "name");
            const cJSON *args = cJSON_GetObjectItemCaseSensitive(fc, "args");
            char id[64];
            cJSON *call;
            cJSON *fn;

            if (name == NULL)
                return 0;
            if (out->tool_calls == NULL)
                out->tool_calls = cJSON_CreateArray();
            snprintf(id, sizeof(id), "call_%016llx_%d", (unsigned long long)id_seed, *next_tool);
            call = cJSON_CreateObject();
            if (with_index)
                cJSON_AddNumberToObject(call, "index", *next_tool);
            (*next_tool)++;
            cJSON_AddStringToObject(call, "id", id);
            cJSON_AddStringToObject(call, "type", "function");
            fn = cJSON_AddObjectToObject(call, "function");
            cJSON_AddStringToObject(fn, "name", name);
            if (args != NULL) {
                char *printed = sl_json_print(args);

                cJSON_AddStringToObject(fn, "arguments", printed);
                cJSON_free(printed);
            } else {
                cJSON_AddStringToObject(fn, "arguments", "{}");
            }
            cJSON_AddItemToArray(out->tool_calls, call);
        }
    }
    return 1;
}

static void
candidate_parts_dispose(struct candidate_parts *p)
{
    sl_buf_dispose(&p->text);
    sl_buf_dispose(&p->thought);
    cJSON_Delete(p->tool_calls);
}

/* Returns the `n` of the client's request (1 when absent or out of range). */
static int
requested_choices(const struct sl_call_ctx *ctx)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(ctx->body, "n");

    if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= SL_STREAM_MAX_CHOICES)
        return (int)n->valuedouble;
    return 1;
}

static const char *
block_reason(const cJSON *root)
{
    return sl_json_get_string(cJSON_GetObjectItemCaseSensitive(root, "promptFeedback"),
                              "blockReason");
}

static cJSON *
completion_choice(int index, const struct candidate_parts *parts, const char *finish)
{
    cJSON *choice = cJSON_CreateObject();
    cJSON *message;

    cJSON_AddNumberToObject(choice, "index", index);
    message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(message, "role", "assistant");
    if (parts != NULL && parts->text.len > 0)
        cJSON_AddStringToObject(message, "content", parts->text.data);
    else
        cJSON_AddNullToObject(message, "content");
    if (parts != NULL && parts->thought.len > 0)
        cJSON_AddStringToObject(message, "reasoning_content", parts->thought.data);
    if (parts != NULL && parts->tool_calls != NULL)
        cJSON_AddItemToObject(message, "tool_calls", cJSON_Duplicate(parts->tool_calls, 1));
    cJSON_AddNullToObject(choice, "logprobs");
    if (finish != NULL)
        cJSON_AddStringToObject(choice, "finish_reason", finish);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    return choice;
}

/* Adds one choice per candidate. A prompt blocked before any candidate gets one content_filter
 * choice per requested choice. Returns 0 when there is nothing to translate. */
static int
add_completion_choices(const struct sl_call_ctx *ctx, const cJSON *root, uint64_t seed,
                       cJSON *choices, struct sl_errbuf *err)
{
    const cJSON *candidates = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    const cJSON *c;
    int position = 0;

    if (cJSON_GetArraySize(candidates) == 0) {
        if (block_reason(root) == NULL) {
            sl_errbuf_set(err, "the provider's response has no candidates");
            return 0;
        }
        for (int i = 0; i < requested_choices(ctx); i++)
            cJSON_AddItemToArray(choices, completion_choice(i, NULL, "content_filter"));
        return 1;
    }
    cJSON_ArrayForEach(c, candidates)
    {
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");
        const char *reason = sl_json_get_string(c, "finishReason");
        struct candidate_parts parts;
        int next_tool = 0;
        char finish[48];

        if (!read_parts(c, seed + (uint64_t)position, &next_tool, 0, &parts)) {
            candidate_parts_dispose(&parts);
            sl_errbuf_set(err, "a functionCall part has no name");
            return 0;
        }
        if (reason != NULL)
            map_finish(reason, parts.tool_calls != NULL, finish, sizeof(finish));
        cJSON_AddItemToArray(choices,
                             completion_choice(cJSON_IsNumber(index) ? index->valueint : position,
                                               &parts, reason != NULL ? finish : NULL));
        candidate_parts_dispose(&parts);
        position++;
    }
    return 1;
}

static enum sl_status
translate_completion(const struct sl_call_ctx *ctx, const cJSON *root, const char *body, size_t len,
                     struct sl_buf *out, struct sl_usage *usage, struct sl_errbuf *err)
{
    cJSON *resp;
    char id[96];
    int64_t thoughts;

    make_id(root, body, len, id, sizeof(id));
    resp = sl_openai_response_new(ctx, id);
    if (!add_completion_choices(ctx, root, hash_bytes(body, len),
                                cJSON_AddArrayToObject(resp, "choices"), err)) {
        cJSON_Delete(resp);
        return SL_ERR_UPSTREAM_PROTO;
    }
    thoughts = read_usage_metadata(root, usage);
    if (usage->present)
        cJSON_AddItemToObject(resp, "usage", usage_json(usage, thoughts));

    sl_openai_append_json(out, resp);
    return SL_OK;
}

/* ---------------------------------------------------------------- stream translation */

/* Per-stream state, in sl_stream_state.family. */
struct gemini_stream {
    char id[96];
    uint64_t seed;
    int include_usage;
    int expected; /* choices the client asked for: the stream ends when all have finished */
    int64_t thought_tokens;
    int next_tool[SL_STREAM_MAX_CHOICES];
    uint8_t role_sent[SL_STREAM_MAX_CHOICES];
    uint8_t saw_tool[SL_STREAM_MAX_CHOICES];
};

static struct gemini_stream *
stream_state(const struct sl_call_ctx *ctx, struct sl_stream_state *st, const cJSON *root,
             const char *data, size_t len)
{
    struct gemini_stream *gs = st->family;
    const cJSON *options;

    if (gs != NULL)
        return gs;
    gs = sl_xcalloc(1, sizeof(*gs));
    make_id(root, data, len, gs->id, sizeof(gs->id));
    gs->seed = hash_bytes(data, len);
    options = cJSON_GetObjectItemCaseSensitive(ctx->body, "stream_options");
    gs->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(options, "include_usage"));
    gs->expected = requested_choices(ctx);
    st->family = gs;
    st->family_free = free;
    return gs;
}

/* Appends one chunk frame. `choice` (taken over) is NULL for the usage chunk. */
static void
write_chunk(const struct sl_call_ctx *ctx, const struct gemini_stream *gs, cJSON *choice,
            cJSON *usage, struct sl_buf *out)
{
    cJSON *chunk = sl_openai_chunk_new(ctx, gs->id);

    if (choice != NULL)
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), choice);
    if (usage != NULL)
        cJSON_AddItemToObject(chunk, "usage", usage);
    sl_openai_write_chunk(out, chunk);
}

/* Writes the delta of choice `i` (with the role on its first chunk). */
static void
write_delta(const struct sl_call_ctx *ctx, struct gemini_stream *gs, int i,
            struct candidate_parts *parts, struct sl_buf *out)
{
    cJSON *delta = cJSON_CreateObject();

    if (!gs->role_sent[i]) {
        cJSON_AddStringToObject(delta, "role", "assistant");
        gs->role_sent[i] = 1;
    }
    if (parts != NULL && parts->text.len > 0)
        cJSON_AddStringToObject(delta, "content", parts->text.data);
    if (parts != NULL && parts->thought.len > 0)
        cJSON_AddStringToObject(delta, "reasoning_content", parts->thought.data);
    if (parts != NULL && parts->tool_calls != NULL) {
        cJSON_AddItemToObject(delta, "tool_calls", parts->tool_calls);
        parts->tool_calls = NULL;
        gs->saw_tool[i] = 1;
    }
    if (delta->child == NULL) {
        cJSON_Delete(delta);
        return;
    }
    write_chunk(ctx, gs, sl_openai_chunk_choice(i, delta, 1, NULL), NULL, out);
}

static void
write_finish(const struct sl_call_ctx *ctx, struct sl_stream_state *st, struct gemini_stream *gs,
             int i, const char *finish, struct sl_buf *out)
{
    if (st->finished[i])
        return;
    write_delta(ctx, gs, i, NULL, out);
    write_chunk(ctx, gs, sl_openai_chunk_choice(i, cJSON_CreateObject(), 1, finish), NULL, out);
    st->finished[i] = 1;
    st->finish_count++;
    sl_stream_note_finish(st, finish);
}

/* Returns 0 when a candidate cannot be read. */
static int
translate_candidates(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                     struct gemini_stream *gs, const cJSON *candidates, struct sl_buf *out)
{
    const cJSON *c;
    int position = 0;

    cJSON_ArrayForEach(c, candidates)
    {
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");
        const char *reason = sl_json_get_string(c, "finishReason");
        int i = cJSON_IsNumber(index) ? index->valueint : position;
        struct candidate_parts parts;
        char finish[48];

        position++;
        if (i < 0 || i >= SL_STREAM_MAX_CHOICES || st->finished[i])
            continue;
        if (!read_parts(c, gs->seed + (uint64_t)i, &gs->next_tool[i], 1, &parts)) {
            candidate_parts_dispose(&parts);
            return 0;
        }
        write_delta(ctx, gs, i, &parts, out);
        candidate_parts_dispose(&parts);
        if (reason != NULL) {
            map_finish(reason, gs->saw_tool[i], finish, sizeof(finish));
            write_finish(ctx, st, gs, i, finish, out);
        }
    }
    return 1;
}

/*
 * Translates one GenerateContentResponse of a stream. The stream has no end marker: it ends
 * (SL_STREAM_END) once every requested choice has a finishReason, or at once when the prompt
 * was blocked, which becomes a content_filter finish for every choice.
 */
static enum sl_stream_verdict
translate_chunk(const struct sl_call_ctx *ctx, struct sl_stream_state *st, const cJSON *root,
                const char *data, size_t len, struct sl_buf *out, struct sl_upstream_error *err)
{
    struct gemini_stream *gs = stream_state(ctx, st, root, data, len);
    const cJSON *candidates = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    int64_t thoughts = read_usage_metadata(root, &st->usage);

    if (thoughts > 0)
        gs->thought_tokens = thoughts;
    if (cJSON_GetArraySize(candidates) == 0 && block_reason(root) != NULL) {
        for (int i = 0; i < gs->expected; i++)
            write_finish(ctx, st, gs, i, "content_filter", out);
    } else if (!translate_candidates(ctx, st, gs, candidates, out)) {
        sl_buf_reset(out);
        memset(err, 0, sizeof(*err));
        err->status = 502;
        snprintf(err->message, sizeof(err->message),
                 "the provider sent a functionCall part without a name");
        return SL_STREAM_FAILED;
    }
    if (st->finish_count < gs->expected)
        return SL_STREAM_CONTINUE;
    if (gs->include_usage && st->usage.present)
        write_chunk(ctx, gs, NULL, usage_json(&st->usage, gs->thought_tokens), out);
    st->saw_done = 1;
    return SL_STREAM_END;
}

/* ---------------------------------------------------------------- responses */

/* Returns `values` as OpenAI's base64 embedding: the little-endian float32 bytes, base64. */
static cJSON *
encode_float32_base64(const cJSON *values)
{
    size_t count = (size_t)cJSON_GetArraySize(values);
    unsigned char *bytes = sl_xcalloc(count + 1, 4);
    unsigned char *text = sl_xcalloc((count * 4 + 2) / 3 * 4 + 1, 1);
    const cJSON *v;
    size_t at = 0;
    cJSON *out;

    cJSON_ArrayForEach(v, values)
    {
        float value = cJSON_IsNumber(v) ? (float)v->valuedouble : 0.0f;
        uint32_t bits;

        memcpy(&bits, &value, sizeof(bits));
        for (unsigned shift = 0; shift < 32; shift += 8)
            bytes[at++] = (unsigned char)(bits >> shift);
    }
    EVP_EncodeBlock(text, bytes, (int)at);
    out = cJSON_CreateString((const char *)text);
    free(bytes);
    free(text);
    return out;
}

/* {"embeddings":[{"values":[...]}]} -> OpenAI's embedding list, as floats or, when the client
 * asked for encoding_format "base64", as base64 strings. */
static enum sl_status
translate_embeddings(const struct sl_call_ctx *ctx, const cJSON *root, struct sl_buf *out,
                     struct sl_usage *usage, struct sl_errbuf *err)
{
    const cJSON *embeddings = cJSON_GetObjectItemCaseSensitive(root, "embeddings");
    const char *format = sl_json_get_string(ctx->body, "encoding_format");
    int base64 = format != NULL && strcmp(format, "base64") == 0;
    cJSON *resp = cJSON_CreateObject();
    cJSON *data;
    cJSON *u;
    const cJSON *e;
    int index = 0;

    if (!cJSON_IsArray(embeddings)) {
        cJSON_Delete(resp);
        sl_errbuf_set(err, "the provider's response has no embeddings array");
        return SL_ERR_UPSTREAM_PROTO;
    }
    cJSON_AddStringToObject(resp, "object", "list");
    data = cJSON_AddArrayToObject(resp, "data");
    cJSON_ArrayForEach(e, embeddings)
    {
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
        cJSON *item;

        if (!cJSON_IsArray(values)) {
            cJSON_Delete(resp);
            sl_errbuf_set(err, "embedding %d has no values array", index);
            return SL_ERR_UPSTREAM_PROTO;
        }
        item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "object", "embedding");
        cJSON_AddNumberToObject(item, "index", index++);
        if (base64)
            cJSON_AddItemToObject(item, "embedding", encode_float32_base64(values));
        else
            cJSON_AddItemToObject(item, "embedding", cJSON_Duplicate(values, 1));
        cJSON_AddItemToArray(data, item);
    }
    cJSON_AddStringToObject(resp, "model", ctx->requested_model);
    /* NOTE: batchEmbedContents reports no token counts, so usage is zero. */
    u = cJSON_AddObjectToObject(resp, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", 0);
    cJSON_AddNumberToObject(u, "total_tokens", 0);
    usage->present = 1;

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
    if (ctx->kind == SL_KIND_EMBEDDING)
        rc = translate_embeddings(ctx, root, out, usage, err);
    else
        rc = translate_completion(ctx, root, body, len, out, usage, err);
    cJSON_Delete(root);
    return rc;
}

static void
parse_stream_error(const char *data, size_t len, struct sl_upstream_error *err)
{
    parse_error(0, data, len, err);
    if (err->status < 400 || err->status > 599) {
        err->status = 502;
        snprintf(err->type, sizeof(err->type), "%s", sl_errors_default_type(502));
    }
}

static enum sl_stream_verdict
translate_event(const struct sl_call_ctx *ctx, struct sl_stream_state *st,
                const struct sl_stream_event *ev, struct sl_buf *out, struct sl_upstream_error *err)
{
    cJSON *root = NULL;
    enum sl_stream_verdict v;

    if (sl_json_parse(ev->data, ev->data_len, SL_JSON_MAX_DEPTH * 4, &root, NULL) != SL_OK ||
        !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        memset(err, 0, sizeof(*err));
        err->status = 502;
        snprintf(err->message, sizeof(err->message),
                 "the provider sent a stream event that is not a JSON object");
        return SL_STREAM_FAILED;
    }
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "error"))) {
        cJSON_Delete(root);
        parse_stream_error(ev->data, ev->data_len, err);
        return SL_STREAM_FAILED;
    }
    v = translate_chunk(ctx, st, root, ev->data, ev->data_len, out, err);
    cJSON_Delete(root);
    return v;
}

const struct sl_provider sl_gemini_families[] = {
    {
        .name = "gemini",
        .default_api_base = SL_GEMINI_DEFAULT_BASE,
        .api_key_env = "GEMINI_API_KEY",
        .native_format = SL_FORMAT_OPENAI,
        .framing = SL_FRAMING_SSE,
        .build_request = build_request,
        .translate_response = translate_response,
        .translate_event = translate_event,
        .parse_error = parse_error,
    },
};

const size_t sl_gemini_family_count = sizeof(sl_gemini_families) / sizeof(sl_gemini_families[0]);
