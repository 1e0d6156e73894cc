/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anthropic -- request parsing and response bodies in the Anthropic Messages format.
 *
 * Field order follows Messages responses recorded from the Anthropic API: model, id, type,
 * role, content, stop_reason, stop_sequence, usage. Stream events carry an `event:` line with
 * the same name as the data's `type`.
 */
#include "bench/mock/anthropic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/sse.h"
#include "common/xalloc.h"

/* Adds the bytes of a content value: a string, or the text (and tool_result text) of blocks. */
static size_t
content_bytes(const cJSON *content)
{
    const cJSON *block;
    size_t n = 0;

    if (cJSON_IsString(content))
        return strlen(content->valuestring);
    cJSON_ArrayForEach(block, content)
    {
        const char *text = sl_json_get_string(block, "text");

        if (text != NULL)
            n += strlen(text);
        else if (cJSON_IsObject(block))
            n += content_bytes(cJSON_GetObjectItemCaseSensitive(block, "content"));
    }
    return n;
}

/* Parses a Messages or count_tokens body into `chat`; max_tokens is required for a message. */
static enum sl_status
parse_request(const char *body, size_t len, int count_tokens, struct sl_mock_chat *chat,
              const char **param, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const cJSON *messages, *msg;
    const char *model;
    size_t bytes;
    enum sl_status rc;

    memset(chat, 0, sizeof(*chat));
    *param = NULL;
    rc = sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, err);
    if (rc != SL_OK) {
        sl_errbuf_set(err, "the request body is not valid JSON");
        goto out;
    }
    rc = SL_ERR_INVALID;
    if (!cJSON_IsObject(root)) {
        sl_errbuf_set(err, "the request body must be a JSON object");
        goto out;
    }
    model = sl_json_get_string(root, "model");
    if (model == NULL) {
        *param = "model";
        sl_errbuf_set(err, "model: Field required");
        goto out;
    }
    messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(messages)) {
        *param = "messages";
        sl_errbuf_set(err, "messages: Field required");
        goto out;
    }
    if (!count_tokens && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))) {
        *param = "max_tokens";
        sl_errbuf_set(err, "max_tokens: Field required");
        goto out;
    }
    bytes = content_bytes(cJSON_GetObjectItemCaseSensitive(root, "system"));
    cJSON_ArrayForEach(msg, messages) bytes +=
        content_bytes(cJSON_GetObjectItemCaseSensitive(msg, "content"));
    chat->n = 1;
    chat->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
    chat->model = sl_xstrdup(model);
    chat->prompt_tokens = (int64_t)((bytes + 3) / 4);
    rc = SL_OK;
out:
    cJSON_Delete(root);
    return rc;
}

enum sl_status
sl_mock_messages_parse(const char *body, size_t len, struct sl_mock_chat *chat, const char **param,
                       struct sl_errbuf *err)
{
    return parse_request(body, len, 0, chat, param, err);
}

enum sl_status
sl_mock_count_tokens_parse(const char *body, size_t len, struct sl_mock_chat *chat,
                           const char **param, struct sl_errbuf *err)
{
    return parse_request(body, len, 1, chat, param, err);
}

enum sl_status
sl_mock_count_tokens_json(struct sl_buf *out, const struct sl_mock_chat *chat)
{
    return sl_buf_printf(out, "{\"input_tokens\":%" PRId64 "}", chat->prompt_tokens);
}

char *
sl_mock_messages_usage_json(const cJSON *overrides, int64_t input_tokens, int64_t output_tokens)
{
    cJSON *u = cJSON_CreateObject();
    const cJSON *item;
    char *text;

    cJSON_AddNumberToObject(u, "input_tokens", (double)input_tokens);
    cJSON_AddNumberToObject(u, "cache_creation_input_tokens", 0);
    cJSON_AddNumberToObject(u, "cache_read_input_tokens", 0);
    cJSON_AddNumberToObject(u, "output_tokens", (double)output_tokens);
    cJSON_AddStringToObject(u, "service_tier", "standard");
    cJSON_ArrayForEach(item, overrides)
    {
        cJSON *copy = cJSON_Duplicate(item, 1);

        if (cJSON_HasObjectItem(u, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive(u, item->string, copy);
        else
            cJSON_AddItemToObject(u, item->string, copy);
    }
    text = sl_json_print(u);
    cJSON_Delete(u);
    return text;
}

/* The stop_reason for the script: OpenAI names are mapped, Anthropic names pass through. */
static const char *
stop_reason(const struct sl_mock_script *script)
{
    const char *r = script->finish_reason;

    if (r == NULL)
        return NULL;
    if (strcmp(r, "stop") == 0)
        return cJSON_GetArraySize(script->tool_calls) > 0 ? "tool_use" : "end_turn";
    if (strcmp(r, "length") == 0)
        return "max_tokens";
    if (strcmp(r, "tool_calls") == 0)
        return "tool_use";
    return r;
}

/* The id of scripted tool call `k`: its own, or toolu_mock<seq>_<k>. */
static void
tool_id(const cJSON *call, uint64_t seq, int k, char *id, size_t size)
{
    const char *own = sl_json_get_string(call, "id");

    if (own != NULL)
        snprintf(id, size, "%s", own);
    else
        snprintf(id, size, "toolu_mock%" PRIu64 "_%d", seq, k);
}

/* Returns the tool call's input: its `input` object, or an empty object. Caller deletes. */
static cJSON *
tool_input(const cJSON *call)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(call, "input");

    return cJSON_IsObject(input) ? cJSON_Duplicate(input, 1) : cJSON_CreateObject();
}

static char *
message_id(uint64_t seq)
{
    char id[64];

    snprintf(id, sizeof(id), "msg_mock%" PRIu64, seq);
    return sl_xstrdup(id);
}

/* The Message object with every field but content, usage and the stop fields. */
static cJSON *
message_head(uint64_t seq, const struct sl_mock_chat *chat)
{
    cJSON *m = cJSON_CreateObject();
    char *id = message_id(seq);

    cJSON_AddStringToObject(m, "model", chat->model != NULL ? chat->model : "");
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    free(id);
    return m;
}

static cJSON *
parse_usage(const char *usage_json)
{
    cJSON *u = cJSON_Parse(usage_json);

    return u != NULL ? u : cJSON_CreateObject();
}

static enum sl_status
append_printed(struct sl_buf *out, cJSON *item)
{
    char *text = sl_json_print(item);
    enum sl_status rc = sl_buf_append_str(out, text);

    cJSON_free(text);
    cJSON_Delete(item);
    return rc;
}

enum sl_status
sl_mock_message_json(struct sl_buf *out, uint64_t seq, const struct sl_mock_chat *chat,
                     const struct sl_mock_script *script, const struct sl_mock_content *content,
                     const char *usage_json)
{
    cJSON *m = message_head(seq, chat);
    cJSON *blocks = cJSON_AddArrayToObject(m, "content");
    const char *reason = stop_reason(script);
    const cJSON *call;
    struct sl_buf text;
    int k = 0;

    sl_buf_init(&text, SL_MOCK_MAX_FILLER_BODY);
    for (int64_t i = 0; i < content->pieces; i++) {
        const char *piece;
        size_t len;

        sl_mock_content_piece(content, i, &piece, &len);
        if (sl_buf_append(&text, piece, len) != SL_OK) {
            sl_buf_dispose(&text);
            cJSON_Delete(m);
            return SL_ERR_TOO_LARGE;
        }
    }
    if (text.len > 0) {
        cJSON *b = cJSON_CreateObject();

        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", text.data);
        cJSON_AddItemToArray(blocks, b);
    }
    sl_buf_dispose(&text);
    cJSON_ArrayForEach(call, script->tool_calls)
    {
        cJSON *b = cJSON_CreateObject();
        char id[128];

        tool_id(call, seq, k++, id, sizeof(id));
        cJSON_AddStringToObject(b, "type", "tool_use");
        cJSON_AddStringToObject(b, "id", id);
        cJSON_AddStringToObject(b, "name", sl_json_get_string(call, "name"));
        cJSON_AddItemToObject(b, "input", tool_input(call));
        cJSON_AddItemToArray(blocks, b);
    }
    if (reason != NULL)
        cJSON_AddStringToObject(m, "stop_reason", reason);
    else
        cJSON_AddNullToObject(m, "stop_reason");
    cJSON_AddNullToObject(m, "stop_sequence");
    cJSON_AddItemToObject(m, "usage", parse_usage(usage_json));
    return append_printed(out, m);
}

/* Appends `event: <type>` and the data line of `data` (deleted). */
static enum sl_status
write_event(struct sl_buf *out, const char *type, cJSON *data)
{
    char *text = sl_json_print(data);
    enum sl_status rc = sl_sse_write_event(out, type, text, strlen(text));

    cJSON_free(text);
    cJSON_Delete(data);
    return rc;
}

static cJSON *
event_object(const char *type)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "type", type);
    return e;
}

static enum sl_status
write_block_start(struct sl_buf *out, int index, cJSON *block)
{
    cJSON *e = event_object("content_block_start");

    cJSON_AddNumberToObject(e, "index", index);
    cJSON_AddItemToObject(e, "content_block", block);
    return write_event(out, "content_block_start", e);
}

static enum sl_status
write_block_stop(struct sl_buf *out, int index)
{
    cJSON *e = event_object("content_block_stop");

    cJSON_AddNumberToObject(e, "index", index);
    return write_event(out, "content_block_stop", e);
}

/* Writes a content_block_delta whose delta has `type` and the string member `key`. */
static enum sl_status
write_block_delta(struct sl_buf *out, int index, const char *type, const char *key,
                  const char *value, size_t len)
{
    cJSON *e = event_object("content_block_delta");
    cJSON *delta;
    char *copy = sl_xstrndup(value, len);

    cJSON_AddNumberToObject(e, "index", index);
    delta = cJSON_AddObjectToObject(e, "delta");
    cJSON_AddStringToObject(delta, "type", type);
    cJSON_AddStringToObject(delta, key, copy);
    free(copy);
    return write_event(out, "content_block_delta", e);
}

enum sl_status
sl_mock_messages_stream_start(struct sl_buf *out, uint64_t seq, const struct sl_mock_chat *chat,
                              const struct sl_mock_content *content, const char *usage_json)
{
    cJSON *e = event_object("message_start");
    cJSON *m = message_head(seq, chat);
    cJSON *usage = parse_usage(usage_json);
    enum sl_status rc;

    /* message_start reports the input; the output count arrives in message_delta. */
    if (cJSON_HasObjectItem(usage, "output_tokens"))
        cJSON_ReplaceItemInObjectCaseSensitive(usage, "output_tokens", cJSON_CreateNumber(1));
    else
        cJSON_AddNumberToObject(usage, "output_tokens", 1);
    cJSON_AddArrayToObject(m, "content");
    cJSON_AddNullToObject(m, "stop_reason");
    cJSON_AddNullToObject(m, "stop_sequence");
    cJSON_AddItemToObject(m, "usage", usage);
    cJSON_AddItemToObject(e, "message", m);
    rc = write_event(out, "message_start", e);
    if (rc == SL_OK && content->pieces > 0) {
        cJSON *block = cJSON_CreateObject();

        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddStringToObject(block, "text", "");
        rc = write_block_start(out, 0, block);
    }
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    return rc;
}

enum sl_status
sl_mock_messages_stream_text(struct sl_buf *out, const char *piece, size_t len)
{
    return write_block_delta(out, 0, "text_delta", "text", piece, len);
}

/* Writes one tool_use block: start, an empty input_json_delta, the input JSON in two halves,
 * stop. */
static enum sl_status
write_tool_block(struct sl_buf *out, int index, const cJSON *call, const char *id)
{
    cJSON *block = cJSON_CreateObject();
    cJSON *input = tool_input(call);
    char *json = sl_json_print(input);
    size_t len = strlen(json);
    size_t half = len / 2;
    enum sl_status rc;

    cJSON_Delete(input);
    cJSON_AddStringToObject(block, "type", "tool_use");
    cJSON_AddStringToObject(block, "id", id);
    cJSON_AddStringToObject(block, "name", sl_json_get_string(call, "name"));
    cJSON_AddObjectToObject(block, "input");
    rc = write_block_start(out, index, block);
    /* The API starts every tool input with an empty piece. */
    if (rc == SL_OK)
        rc = write_block_delta(out, index, "input_json_delta", "partial_json", "", 0);
    if (rc == SL_OK)
        rc = write_block_delta(out, index, "input_json_delta", "partial_json", json, half);
    if (rc == SL_OK)
        rc = write_block_delta(out, index, "input_json_delta", "partial_json", json + half,
                               len - half);
    if (rc == SL_OK)
        rc = write_block_stop(out, index);
    cJSON_free(json);
    return rc;
}

enum sl_status
sl_mock_messages_stream_tail(struct sl_buf *out, uint64_t seq, const struct sl_mock_script *script,
                             const struct sl_mock_content *content, const char *usage_json)
{
    const char *reason = stop_reason(script);
    cJSON *usage = parse_usage(usage_json);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(usage, "output_tokens");
    const cJSON *call;
    cJSON *e, *delta, *u;
    int index = content->pieces > 0 ? 1 : 0;
    int k = 0;
    enum sl_status rc = SL_OK;

    if (content->pieces > 0)
        rc = write_block_stop(out, 0);
    cJSON_ArrayForEach(call, script->tool_calls)
    {
        char id[128];

        tool_id(call, seq, k++, id, sizeof(id));
        if (rc == SL_OK)
            rc = write_tool_block(out, index++, call, id);
    }

    e = event_object("message_delta");
    delta = cJSON_AddObjectToObject(e, "delta");
    if (reason != NULL)
        cJSON_AddStringToObject(delta, "stop_reason", reason);
    else
        cJSON_AddNullToObject(delta, "stop_reason");
    cJSON_AddNullToObject(delta, "stop_sequence");
    u = cJSON_AddObjectToObject(e, "usage");
    cJSON_AddItemToObject(u, "output_tokens",
                          cJSON_IsNumber(output) ? cJSON_Duplicate(output, 0)
                                                 : cJSON_CreateNumber(0));
    cJSON_Delete(usage);
    if (rc == SL_OK)
        rc = write_event(out, "message_delta", e);
    else
        cJSON_Delete(e);
    if (rc == SL_OK && !script->omit_done)
        rc = write_event(out, "message_stop", event_object("message_stop"));
    return rc;
}

enum sl_status
sl_mock_messages_error_event(struct sl_buf *out)
{
    return sl_buf_append_str(out, "event: error\n"
                                  "data: {\"type\":\"error\",\"error\":{\"type\":"
                                  "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
}

/* The Anthropic error type for an HTTP status. */
static const char *
error_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 504:
        return "timeout_error";
    case 529:
        return "overloaded_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

enum sl_status
sl_mock_messages_error_json(struct sl_buf *out, int status, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *error;

    cJSON_AddStringToObject(root, "type", "error");
    error = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(error, "type", error_type(status));
    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(root, "request_id", "req_mock");
    return append_printed(out, root);
}
