/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format_anthropic_request -- the request side of the Anthropic client format: the shape check
 * of a Messages API body and its conversion into an OpenAI chat request for families that do
 * not speak Anthropic's format.
 *
 * Conversion: system becomes a system message, and tool_result blocks become `tool` messages
 * placed before the rest of their user turn. tool_use blocks become assistant tool_calls, images
 * become image_url parts, stop_sequences become stop and metadata.user_id becomes user. top_k,
 * thinking, cache_control and thinking blocks have no OpenAI counterpart and are dropped.
 */
#include <math.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/http/format_anthropic.h"
#include "gateway/http/validate.h"

/* ---------------------------------------------------------------- validation */

static int
is_integer(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
           v->valuedouble == floor(v->valuedouble);
}

static enum sl_status
check_blocks(const cJSON *blocks, const char *path, struct sl_errbuf *err)
{
    const cJSON *b;
    int j = 0;

    cJSON_ArrayForEach(b, blocks)
    {
        if (!cJSON_IsObject(b) || sl_json_get_string(b, "type") == NULL) {
            sl_errbuf_set(err, "%s.%d: expected a content block object with a string \"type\"",
                          path, j);
            return SL_ERR_INVALID;
        }
        j++;
    }
    return SL_OK;
}

static enum sl_status
check_messages(const cJSON *messages, struct sl_errbuf *err)
{
    const cJSON *m;
    int i = 0;

    if (messages == NULL) {
        sl_errbuf_set(err, "messages: Field required");
        return SL_ERR_INVALID;
    }
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
        sl_errbuf_set(err, "messages: expected a non-empty array, got %s",
                      cJSON_IsArray(messages) ? "an empty array" : sl_validate_type_name(messages));
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(m, messages)
    {
        const char *role = sl_json_get_string(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        char path[64];

        if (!cJSON_IsObject(m)) {
            sl_errbuf_set(err, "messages.%d: expected an object, got %s", i,
                          sl_validate_type_name(m));
            return SL_ERR_INVALID;
        }
        if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            sl_errbuf_set(err, "messages.%d.role: expected \"user\" or \"assistant\"", i);
            return SL_ERR_INVALID;
        }
        if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
            sl_errbuf_set(err, "messages.%d.content: expected a string or an array of content "
                               "blocks, got %s", i, sl_validate_type_name(content));
            return SL_ERR_INVALID;
        }
        snprintf(path, sizeof(path), "messages.%d.content", i);
        if (cJSON_IsArray(content) && check_blocks(content, path, err) != SL_OK)
            return SL_ERR_INVALID;
        i++;
    }
    return SL_OK;
}

/* Optional members: their JSON type when present (null is not accepted, as Anthropic does). */
static enum sl_status
check_optional(const cJSON *body, struct sl_errbuf *err)
{
    static const struct {
        const char *name;
        int (*ok)(const cJSON *);
        const char *expected;
    } rules[] = {
        {"stream", cJSON_IsBool, "a boolean"},
        {"temperature", cJSON_IsNumber, "a number"},
        {"top_p", cJSON_IsNumber, "a number"},
        {"top_k", is_integer, "an integer"},
        {"stop_sequences", cJSON_IsArray, "an array of strings"},
        {"tools", cJSON_IsArray, "an array"},
        {"tool_choice", cJSON_IsObject, "an object"},
        {"metadata", cJSON_IsObject, "an object"},
        {"thinking", cJSON_IsObject, "an object"},
    };
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(body, "system");
    const cJSON *v;

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, rules[i].name);
        if (v != NULL && !rules[i].ok(v)) {
            sl_errbuf_set(err, "%s: expected %s, got %s", rules[i].name, rules[i].expected,
                          sl_validate_type_name(v));
            return SL_ERR_INVALID;
        }
    }
    if (system != NULL && !cJSON_IsString(system) && !cJSON_IsArray(system)) {
        sl_errbuf_set(err, "system: expected a string or an array of text blocks, got %s",
                      sl_validate_type_name(system));
        return SL_ERR_INVALID;
    }
    if (cJSON_IsArray(system) && check_blocks(system, "system", err) != SL_OK)
        return SL_ERR_INVALID;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(body, "stop_sequences"))
    {
        if (!cJSON_IsString(v)) {
            sl_errbuf_set(err, "stop_sequences: expected an array of strings");
            return SL_ERR_INVALID;
        }
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(body, "tools"))
    {
        if (!cJSON_IsObject(v) || sl_json_get_string(v, "name") == NULL) {
            sl_errbuf_set(err, "tools: every tool must be an object with a string \"name\"");
            return SL_ERR_INVALID;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "tool_choice");
    if (v != NULL && sl_json_get_string(v, "type") == NULL) {
        sl_errbuf_set(err, "tool_choice.type: Field required");
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

enum sl_status
sl_anthropic_validate(const cJSON *body, int count_tokens, struct sl_errbuf *err)
{
    const cJSON *model;
    const cJSON *max_tokens;
    const char *dup;

    switch (sl_validate_envelope(body, SL_ANTHROPIC_MAX_MEMBERS, &dup)) {
    case SL_VALIDATE_OK:
        break;
    case SL_VALIDATE_NOT_OBJECT:
        sl_errbuf_set(err, "The request body must be a JSON object, got %s",
                      sl_validate_type_name(body));
        return SL_ERR_INVALID;
    case SL_VALIDATE_TOO_MANY_MEMBERS:
        sl_errbuf_set(err, "The request body has more than %d top-level fields",
                      SL_ANTHROPIC_MAX_MEMBERS);
        return SL_ERR_INVALID;
    case SL_VALIDATE_DUPLICATE_KEY:
        sl_errbuf_set(err, "%s: duplicate field in the request body", dup);
        return SL_ERR_INVALID;
    case SL_VALIDATE_MODEL_MISSING:
        sl_errbuf_set(err, "model: Field required");
        return SL_ERR_INVALID;
    case SL_VALIDATE_MODEL_INVALID:
        model = cJSON_GetObjectItemCaseSensitive(body, "model");
        sl_errbuf_set(err, "model: expected a non-empty string, got %s",
                      cJSON_IsString(model) ? "an empty string" : sl_validate_type_name(model));
        return SL_ERR_INVALID;
    }

    max_tokens = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (max_tokens == NULL && !count_tokens) {
        sl_errbuf_set(err, "max_tokens: Field required");
        return SL_ERR_INVALID;
    }
    if (max_tokens != NULL && (!is_integer(max_tokens) || max_tokens->valuedouble < 1)) {
        sl_errbuf_set(err, "max_tokens: expected an integer of at least 1, got %s",
                      is_integer(max_tokens) ? "a smaller integer"
                                             : sl_validate_type_name(max_tokens));
        return SL_ERR_INVALID;
    }

    if (check_messages(cJSON_GetObjectItemCaseSensitive(body, "messages"), err) != SL_OK)
        return SL_ERR_INVALID;
    return check_optional(body, err);
}

/* ---------------------------------------------------------------- conversion helpers */

/* Appends the text of a string or of the text blocks of an array, joined by `sep`. */
static void
append_texts(struct sl_buf *out, const cJSON *content, const char *sep)
{
    const cJSON *b;

    if (cJSON_IsString(content)) {
        sl_buf_append_str(out, content->valuestring);
        return;
    }
    cJSON_ArrayForEach(b, content)
    {
        const char *type = sl_json_get_string(b, "type");
        const char *text = sl_json_get_string(b, "text");

        if (type == NULL || strcmp(type, "text") != 0 || text == NULL)
            continue;
        if (out->len > 0)
            sl_buf_append_str(out, sep);
        sl_buf_append_str(out, text);
    }
}

/* Returns an OpenAI image_url part for an Anthropic image block, or NULL with `err` set. */
static cJSON *
convert_image(const cJSON *block, const char *path, struct sl_errbuf *err)
{
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(block, "source");
    const char *kind = sl_json_get_string(source, "type");
    struct sl_buf url;
    cJSON *part;
    cJSON *image_url;

    sl_buf_init(&url, 0);
    if (kind != NULL && strcmp(kind, "base64") == 0 &&
        sl_json_get_string(source, "media_type") != NULL &&
        sl_json_get_string(source, "data") != NULL) {
        sl_buf_printf(&url, "data:%s;base64,", sl_json_get_string(source, "media_type"));
        sl_buf_append_str(&url, sl_json_get_string(source, "data"));
    } else if (kind != NULL && strcmp(kind, "url") == 0 &&
               sl_json_get_string(source, "url") != NULL) {
        sl_buf_append_str(&url, sl_json_get_string(source, "url"));
    } else {
        sl_errbuf_set(err, "%s.source: expected a base64 source with media_type and data, or a "
                           "url source", path);
        sl_buf_dispose(&url);
        return NULL;
    }
    part = cJSON_CreateObject();
    cJSON_AddStringToObject(part, "type", "image_url");
    image_url = cJSON_AddObjectToObject(part, "image_url");
    cJSON_AddStringToObject(image_url, "url", url.data);
    sl_buf_dispose(&url);
    return part;
}

static void
add_text_part(cJSON *parts, const char *text)
{
    cJSON *part = cJSON_CreateObject();

    cJSON_AddStringToObject(part, "type", "text");
    cJSON_AddStringToObject(part, "text", text);
    cJSON_AddItemToArray(parts, part);
}

/* A tool_result block becomes a `tool` message; its images join the user's parts. */
static enum sl_status
convert_tool_result(const cJSON *block, const char *path, cJSON *messages, cJSON *parts,
                    struct sl_errbuf *err)
{
    const char *id = sl_json_get_string(block, "tool_use_id");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(block, "content");
    const cJSON *b;
    struct sl_buf text;
    cJSON *msg;

    if (id == NULL) {
        sl_errbuf_set(err, "%s.tool_use_id: Field required", path);
        return SL_ERR_INVALID;
    }
    sl_buf_init(&text, 0);
    append_texts(&text, content, "\n");
    const cJSON *blocks = cJSON_IsArray(content) ? content : NULL;

    cJSON_ArrayForEach(b, blocks)
    {
        const char *type = sl_json_get_string(b, "type");
        cJSON *image;

        if (type == NULL || strcmp(type, "image") != 0)
            continue;
        image = convert_image(b, path, err);
        if (image == NULL) {
            sl_buf_dispose(&text);
            return SL_ERR_INVALID;
        }
        cJSON_AddItemToArray(parts, image);
    }
    msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "tool");
    cJSON_AddStringToObject(msg, "tool_call_id", id);
    cJSON_AddStringToObject(msg, "content", text.data != NULL ? text.data : "");
    cJSON_AddItemToArray(messages, msg);
    sl_buf_dispose(&text);
    return SL_OK;
}

/* Adds `parts` as one user message: a plain string when it is a single text part. */
static void
add_user_parts(cJSON *messages, cJSON *parts)
{
    cJSON *msg;
    const cJSON *first = cJSON_GetArrayItem(parts, 0);

    if (cJSON_GetArraySize(parts) == 0) {
        cJSON_Delete(parts);
        return;
    }
    msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    if (cJSON_GetArraySize(parts) == 1 && strcmp(sl_json_get_string(first, "type"), "text") == 0) {
        cJSON_AddStringToObject(msg, "content", sl_json_get_string(first, "text"));
        cJSON_Delete(parts);
    } else {
        cJSON_AddItemToObject(msg, "content", parts);
    }
    cJSON_AddItemToArray(messages, msg);
}

static enum sl_status
convert_user(const cJSON *content, int index, cJSON *messages, struct sl_errbuf *err)
{
    cJSON *parts = cJSON_CreateArray();
    const cJSON *b;
    int j = 0;

    cJSON_ArrayForEach(b, content)
    {
        const char *type = sl_json_get_string(b, "type") != NULL ? sl_json_get_string(b, "type")
                                                                 : "";
        char path[64];
        cJSON *image;

        snprintf(path, sizeof(path), "messages.%d.content.%d", index, j++);
        if (strcmp(type, "text") == 0 && sl_json_get_string(b, "text") != NULL) {
            add_text_part(parts, sl_json_get_string(b, "text"));
        } else if (strcmp(type, "image") == 0) {
            image = convert_image(b, path, err);
            if (image == NULL)
                goto fail;
            cJSON_AddItemToArray(parts, image);
        } else if (strcmp(type, "tool_result") == 0) {
            if (convert_tool_result(b, path, messages, parts, err) != SL_OK)
                goto fail;
        } else {
            sl_errbuf_set(err, "%s: content block type \"%s\" cannot be sent to this model "
                               "group's provider, which does not speak Anthropic's format",
                          path, type);
            goto fail;
        }
    }
    add_user_parts(messages, parts);
    return SL_OK;
fail:
    cJSON_Delete(parts);
    return SL_ERR_INVALID;
}

static cJSON *
convert_tool_use(const cJSON *block, const char *path, struct sl_errbuf *err)
{
    const char *id = sl_json_get_string(block, "id");
    const char *name = sl_json_get_string(block, "name");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
    cJSON *call;
    cJSON *fn;
    char *args;

    if (id == NULL || name == NULL) {
        sl_errbuf_set(err, "%s: a tool_use block needs a string \"id\" and \"name\"", path);
        return NULL;
    }
    call = cJSON_CreateObject();
    cJSON_AddStringToObject(call, "id", id);
    cJSON_AddStringToObject(call, "type", "function");
    fn = cJSON_AddObjectToObject(call, "function");
    cJSON_AddStringToObject(fn, "name", name);
    args = input != NULL ? sl_json_print(input) : sl_xstrdup("{}");
    cJSON_AddStringToObject(fn, "arguments", args);
    cJSON_free(args);
    return call;
}

static enum sl_status
convert_assistant(const cJSON *content, int index, cJSON *messages, struct sl_errbuf *err)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON *calls = cJSON_CreateArray();
    struct sl_buf text;
    const cJSON *b;
    int j = 0;

    sl_buf_init(&text, 0);
    cJSON_ArrayForEach(b, content)
    {
        const char *type = sl_json_get_string(b, "type") != NULL ? sl_json_get_string(b, "type")
                                                                 : "";
        char path[64];
        cJSON *call;

        snprintf(path, sizeof(path), "messages.%d.content.%d", index, j++);
        if (strcmp(type, "text") == 0) {
            sl_buf_append_str(&text, sl_json_get_string(b, "text") != NULL
                                         ? sl_json_get_string(b, "text") : "");
        } else if (strcmp(type, "tool_use") == 0) {
            call = convert_tool_use(b, path, err);
            if (call == NULL)
                goto fail;
            cJSON_AddItemToArray(calls, call);
        } else if (strcmp(type, "thinking") != 0 && strcmp(type, "redacted_thinking") != 0) {
            /* Thinking blocks only mean something to the model that wrote them: dropped. */
            sl_errbuf_set(err, "%s: content block type \"%s\" cannot be sent to this model "
                               "group's provider, which does not speak Anthropic's format",
                          path, type);
            goto fail;
        }
    }
    cJSON_AddStringToObject(msg, "role", "assistant");
    if (text.len > 0 || cJSON_GetArraySize(calls) == 0)
        cJSON_AddStringToObject(msg, "content", text.data != NULL ? text.data : "");
    else
        cJSON_AddNullToObject(msg, "content");
    if (cJSON_GetArraySize(calls) > 0)
        cJSON_AddItemToObject(msg, "tool_calls", calls);
    else
        cJSON_Delete(calls);
    cJSON_AddItemToArray(messages, msg);
    sl_buf_dispose(&text);
    return SL_OK;
fail:
    cJSON_Delete(calls);
    cJSON_Delete(msg);
    sl_buf_dispose(&text);
    return SL_ERR_INVALID;
}

static enum sl_status
convert_messages(const cJSON *in, cJSON *out, struct sl_errbuf *err)
{
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(in, "system");
    cJSON *messages = cJSON_AddArrayToObject(out, "messages");
    const cJSON *m;
    int i = 0;

    if (system != NULL) {
        struct sl_buf text;

        /* System blocks join into one string: not every OpenAI-compatible server takes
         * content parts in a system message. */
        sl_buf_init(&text, 0);
        append_texts(&text, system, "\n");
        if (text.len > 0) {
            cJSON *msg = cJSON_CreateObject();

            cJSON_AddStringToObject(msg, "role", "system");
            cJSON_AddStringToObject(msg, "content", text.data);
            cJSON_AddItemToArray(messages, msg);
        }
        sl_buf_dispose(&text);
    }

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(in, "messages"))
    {
        const char *role = sl_json_get_string(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        enum sl_status rc = SL_OK;

        if (cJSON_IsString(content)) {
            cJSON *msg = cJSON_CreateObject();

            cJSON_AddStringToObject(msg, "role", role);
            cJSON_AddStringToObject(msg, "content", content->valuestring);
            cJSON_AddItemToArray(messages, msg);
        } else if (strcmp(role, "user") == 0) {
            rc = convert_user(content, i, messages, err);
        } else {
            rc = convert_assistant(content, i, messages, err);
        }
        if (rc != SL_OK)
            return rc;
        i++;
    }
    return SL_OK;
}

static enum sl_status
convert_tools(const cJSON *tools, cJSON *out, struct sl_errbuf *err)
{
    cJSON *list = cJSON_AddArrayToObject(out, "tools");
    const cJSON *t;
    int i = 0;

    cJSON_ArrayForEach(t, tools)
    {
        const char *type = sl_json_get_string(t, "type");
        const char *description = sl_json_get_string(t, "description");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
        cJSON *tool;
        cJSON *fn;

        /* Server tools (web_search_..., bash_..., text_editor_...) run at Anthropic only. */
        if ((type != NULL && strcmp(type, "custom") != 0) || !cJSON_IsObject(schema)) {
            sl_errbuf_set(err, "tools.%d: tool \"%s\" has no input_schema or is an Anthropic "
                               "server tool (type \"%s\"), which only Anthropic's API can run",
                          i, sl_json_get_string(t, "name"), type != NULL ? type : "custom");
            return SL_ERR_INVALID;
        }
        tool = cJSON_CreateObject();
        cJSON_AddStringToObject(tool, "type", "function");
        fn = cJSON_AddObjectToObject(tool, "function");
        cJSON_AddStringToObject(fn, "name", sl_json_get_string(t, "name"));
        if (description != NULL)
            cJSON_AddStringToObject(fn, "description", description);
        cJSON_AddItemToObject(fn, "parameters", cJSON_Duplicate(schema, 1));
        cJSON_AddItemToArray(list, tool);
        i++;
    }
    return SL_OK;
}

static enum sl_status
convert_tool_choice(const cJSON *choice, int have_tools, cJSON *out, struct sl_errbuf *err)
{
    const char *type = sl_json_get_string(choice, "type");
    const char *name = sl_json_get_string(choice, "name");

    if (type == NULL)
        type = "";
    if (strcmp(type, "auto") == 0) {
        cJSON_AddStringToObject(out, "tool_choice", "auto");
    } else if (strcmp(type, "any") == 0) {
        cJSON_AddStringToObject(out, "tool_choice", "required");
    } else if (strcmp(type, "none") == 0) {
        cJSON_AddStringToObject(out, "tool_choice", "none");
    } else if (strcmp(type, "tool") == 0 && name != NULL) {
        cJSON *c = cJSON_AddObjectToObject(out, "tool_choice");

        cJSON_AddStringToObject(c, "type", "function");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "function"), "name", name);
    } else {
        sl_errbuf_set(err, "tool_choice: expected type \"auto\", \"any\", \"none\", or \"tool\" "
                           "with a name");
        return SL_ERR_INVALID;
    }
    if (have_tools &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(choice, "disable_parallel_tool_use")))
        cJSON_AddFalseToObject(out, "parallel_tool_calls");
    return SL_OK;
}

static void
copy_member(const cJSON *in, const char *from, cJSON *out, const char *to)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, from);

    if (v != NULL)
        cJSON_AddItemToObject(out, to, cJSON_Duplicate(v, 1));
}

/* ---------------------------------------------------------------- conversion */

enum sl_status
sl_anthropic_convert_request(const struct sl_call_ctx *ctx, const cJSON *in, cJSON **out,
                             struct sl_errbuf *err)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(in, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(in, "tool_choice");
    const char *user = sl_json_get_string(cJSON_GetObjectItemCaseSensitive(in, "metadata"),
                                          "user_id");
    cJSON *req = cJSON_CreateObject();
    enum sl_status rc;

    (void)ctx;
    copy_member(in, "model", req, "model");
    rc = convert_messages(in, req, err);
    if (rc != SL_OK)
        goto fail;
    copy_member(in, "max_tokens", req, "max_tokens");
    copy_member(in, "temperature", req, "temperature");
    copy_member(in, "top_p", req, "top_p");
    copy_member(in, "stop_sequences", req, "stop");
    if (cJSON_GetArraySize(tools) > 0) {
        rc = convert_tools(tools, req, err);
        if (rc != SL_OK)
            goto fail;
    }
    if (choice != NULL) {
        rc = convert_tool_choice(choice, cJSON_GetArraySize(tools) > 0, req, err);
        if (rc != SL_OK)
            goto fail;
    }
    if (user != NULL)
        cJSON_AddStringToObject(req, "user", user);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "stream"))) {
        /* message_delta reports usage, which OpenAI streams only send when asked. */
        cJSON_AddTrueToObject(req, "stream");
        cJSON_AddTrueToObject(cJSON_AddObjectToObject(req, "stream_options"), "include_usage");
    }
    *out = req;
    return SL_OK;
fail:
    cJSON_Delete(req);
    return rc;
}
