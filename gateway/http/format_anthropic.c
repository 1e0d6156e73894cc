/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format_anthropic -- the response side of the Anthropic client format; see format_anthropic.h.
 *
 * Errors use Anthropic's envelope {"type":"error","error":{"type","message"}}. A whole OpenAI
 * chat.completion becomes a message (text and tool_use blocks, stop_reason, usage). OpenAI
 * chunks become Anthropic stream events in the order the Messages API sends them:
 * message_start, then per content block content_block_start, its deltas and
 * content_block_stop, then message_delta (stop_reason, usage) and message_stop. A block stays
 * open while the OpenAI deltas continue it, and is closed before the next one opens, so block
 * indexes only grow and every delta follows its block's start.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/sse.h"
#include "common/xalloc.h"
#include "gateway/http/format_anthropic.h"

/* Anthropic's error types that no status in anthropic_error_type() fixes (from the API's error
 * reference and its SDKs' ErrorType). */
static const char *const free_error_types[] = {
    "timeout_error",
    "billing_error",
    "overloaded_error",
    "api_error",
};

/* Returns Anthropic's error type for `status`. A status without a fixed type keeps `type` when
 * it is in free_error_types, because providers and the gateway core may pass types of another
 * format or another status. */
static const char *
anthropic_error_type(int status, const char *type)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    default:
        break;
    }
    for (size_t i = 0; type != NULL && i < sizeof(free_error_types) / sizeof(free_error_types[0]);
         i++)
        if (strcmp(type, free_error_types[i]) == 0)
            return type;
    return "api_error";
}

static void
error_envelope(struct sl_buf *out, int status, const char *message, const char *type,
               const char *param)
{
    (void)param; /* Anthropic's envelope has no param; field paths lead the message instead */
    sl_buf_append_str(out, "{\"type\":\"error\",\"error\":{\"type\":\"");
    sl_buf_append_str(out, anthropic_error_type(status, type));
    sl_buf_append_str(out, "\",\"message\":");
    sl_json_append_string(out, message, strlen(message));
    sl_buf_append_str(out, "}}");
}

/* ---------------------------------------------------------------- shared mappings */

/* OpenAI finish_reason to Anthropic stop_reason. */
static const char *
stop_reason_for(const char *finish)
{
    if (finish == NULL || strcmp(finish, "stop") == 0)
        return "end_turn";
    if (strcmp(finish, "length") == 0)
        return "max_tokens";
    if (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0)
        return "tool_use";
    if (strcmp(finish, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

/* Returns a token count clamped to [0, 10^15 - 1]: providers' numbers are not trusted, a double
 * outside int64_t's range has no defined conversion, and cJSON prints up to 15 digits exactly. */
static int64_t
token_count(const cJSON *v)
{
    double d = v->valuedouble;

    if (!(d > 0))
        return 0; /* also NaN */
    if (d > 999999999999999.0)
        return INT64_C(999999999999999);
    return (int64_t)d;
}

static void
read_usage(const cJSON *root, struct sl_usage *usage)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    const cJSON *v;

    if (!cJSON_IsObject(u))
        return;
    usage->present = 1;
    v = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    if (cJSON_IsNumber(v))
        usage->prompt_tokens = token_count(v);
    v = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (cJSON_IsNumber(v))
        usage->completion_tokens = token_count(v);
    v = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
    v = cJSON_GetObjectItemCaseSensitive(v, "cached_tokens");
    if (cJSON_IsNumber(v))
        usage->cached_tokens = token_count(v);
}

/* Adds Anthropic's usage members: OpenAI's prompt_tokens include cache reads, Anthropic's
 * input_tokens do not. */
static void
add_usage(cJSON *obj, const struct sl_usage *usage)
{
    int64_t cached = usage->cached_tokens > 0 ? usage->cached_tokens : 0;
    int64_t input = usage->prompt_tokens - cached;

    cJSON_AddNumberToObject(obj, "input_tokens", (double)(input > 0 ? input : 0));
    if (cached > 0)
        cJSON_AddNumberToObject(obj, "cache_read_input_tokens", (double)cached);
    cJSON_AddNumberToObject(obj, "output_tokens", (double)usage->completion_tokens);
}

/* Writes Anthropic's message id for an OpenAI completion id, e.g. msg_chatcmpl-123. */
static void
message_id(struct sl_buf *out, const char *openai_id)
{
    sl_buf_append_str(out, "msg_");
    sl_buf_append_str(out, openai_id != NULL && openai_id[0] != '\0' ? openai_id : "sluice");
}

/* ---------------------------------------------------------------- whole responses */

/* Adds a tool_use block for an OpenAI tool call; its arguments must be a JSON object. */
static enum sl_status
add_tool_use(cJSON *content, const cJSON *call, struct sl_errbuf *err)
{
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const char *id = sl_json_get_string(call, "id");
    const char *name = sl_json_get_string(fn, "name");
    const char *args = sl_json_get_string(fn, "arguments");
    cJSON *input = NULL;
    cJSON *block;

    if (id == NULL || name == NULL) {
        sl_errbuf_set(err, "a tool call has no id or function name");
        return SL_ERR_UPSTREAM_PROTO;
    }
    if (args == NULL || args[strspn(args, " \t\r\n")] == '\0') {
        input = cJSON_CreateObject(); /* a tool without parameters */
    } else if (sl_json_parse(args, strlen(args), SL_JSON_MAX_DEPTH, &input, NULL) != SL_OK ||
               !cJSON_IsObject(input)) {
        cJSON_Delete(input);
        sl_errbuf_set(err, "the arguments of tool call %s are not a JSON object", id);
        return SL_ERR_UPSTREAM_PROTO;
    }
    block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "tool_use");
    cJSON_AddStringToObject(block, "id", id);
    cJSON_AddStringToObject(block, "name", name);
    cJSON_AddItemToObject(block, "input", input);
    cJSON_AddItemToArray(content, block);
    return SL_OK;
}

static void
add_text_block(cJSON *content, const char *text)
{
    cJSON *block = cJSON_CreateObject();

    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", text);
    cJSON_AddItemToArray(content, block);
}

/* Adds the message's text (a string, or the text of content parts), its refusal as text, and
 * its tool calls. */
static enum sl_status
add_content(cJSON *content, const cJSON *message, struct sl_errbuf *err)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(message, "content");
    const char *refusal = sl_json_get_string(message, "refusal");
    const cJSON *parts = cJSON_IsArray(text) ? text : NULL;
    const cJSON *item;

    if (cJSON_IsString(text) && text->valuestring[0] != '\0')
        add_text_block(content, text->valuestring);
    cJSON_ArrayForEach(item, parts)
    {
        const char *part = sl_json_get_string(item, "text");

        if (part != NULL && part[0] != '\0')
            add_text_block(content, part);
    }
    if (refusal != NULL && refusal[0] != '\0')
        add_text_block(content, refusal);
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(message, "tool_calls"))
    {
        if (add_tool_use(content, item, err) != SL_OK)
            return SL_ERR_UPSTREAM_PROTO;
    }
    return SL_OK;
}

static enum sl_status
convert_response(const struct sl_call_ctx *ctx, const char *json, size_t len, struct sl_buf *out,
                 struct sl_errbuf *err)
{
    cJSON *root = NULL;
    cJSON *msg = NULL;
    const cJSON *choice;
    struct sl_usage usage = {0};
    struct sl_buf id;
    enum sl_status rc;
    char *text;

    if (sl_json_parse(json, len, SL_JSON_MAX_DEPTH * 4, &root, NULL) != SL_OK ||
        !cJSON_IsObject(root)) {
        sl_errbuf_set(err, "the chat completion is not a JSON object");
        rc = SL_ERR_UPSTREAM_PROTO;
        goto out;
    }
    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(choice, "message"))) {
        sl_errbuf_set(err, "the chat completion has no choices[0].message");
        rc = SL_ERR_UPSTREAM_PROTO;
        goto out;
    }

    msg = cJSON_CreateObject();
    sl_buf_init(&id, 0);
    message_id(&id, sl_json_get_string(root, "id"));
    cJSON_AddStringToObject(msg, "id", id.data);
    sl_buf_dispose(&id);
    cJSON_AddStringToObject(msg, "type", "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "model", ctx->requested_model);
    rc = add_content(cJSON_AddArrayToObject(msg, "content"),
                     cJSON_GetObjectItemCaseSensitive(choice, "message"), err);
    if (rc != SL_OK)
        goto out;
    if (sl_json_get_string(cJSON_GetObjectItemCaseSensitive(choice, "message"), "refusal") != NULL)
        cJSON_AddStringToObject(msg, "stop_reason", "refusal");
    else
        cJSON_AddStringToObject(msg, "stop_reason",
                                stop_reason_for(sl_json_get_string(choice, "finish_reason")));
    cJSON_AddNullToObject(msg, "stop_sequence");
    read_usage(root, &usage);
    add_usage(cJSON_AddObjectToObject(msg, "usage"), &usage);

    text = sl_json_print(msg);
    sl_buf_append_str(out, text);
    cJSON_free(text);
out:
    cJSON_Delete(msg);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- streams */

/* Per-stream conversion state, kept in the request's format_state. */
struct stream_state {
    int started;      /* message_start was written */
    int block_open;   /* content block `block_index` is open */
    int block_tool;   /* the open block is a tool_use block */
    int block_index;  /* index of the open or last block; -1 before the first */
    int tool_index;   /* OpenAI tool_calls index of the open tool_use block */
    char *tool_id;    /* id of the open tool_use block; NULL when none is open */
    char *message_id; /* msg_... */
    char finish[32];  /* the last finish_reason seen; "" before one */
    struct sl_usage usage;
};

static void
free_state(void *state)
{
    struct stream_state *s = state;

    if (s == NULL)
        return;
    free(s->tool_id);
    free(s->message_id);
    free(s);
}

static struct stream_state *
get_state(void **state)
{
    struct stream_state *s = *state;

    if (s == NULL) {
        s = sl_xcalloc(1, sizeof(*s));
        s->block_index = -1;
        *state = s;
    }
    return s;
}

/* Writes one event; its data is `obj` printed, and `obj` is freed. */
static void
write_event(struct sl_buf *out, const char *name, cJSON *obj)
{
    char *text = sl_json_print(obj);

    sl_sse_write_event(out, name, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(obj);
}

static void
start_message(const struct sl_call_ctx *ctx, struct stream_state *s, const char *openai_id,
              struct sl_buf *out)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON *msg;
    cJSON *usage;
    struct sl_buf id;

    sl_buf_init(&id, 0);
    message_id(&id, openai_id);
    s->message_id = sl_buf_take(&id, NULL);
    s->started = 1;

    cJSON_AddStringToObject(ev, "type", "message_start");
    msg = cJSON_AddObjectToObject(ev, "message");
    cJSON_AddStringToObject(msg, "id", s->message_id);
    cJSON_AddStringToObject(msg, "type", "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "model", ctx->requested_model);
    cJSON_AddArrayToObject(msg, "content");
    cJSON_AddNullToObject(msg, "stop_reason");
    cJSON_AddNullToObject(msg, "stop_sequence");
    /* OpenAI streams report usage only at the end: message_delta carries the real counts. */
    usage = cJSON_AddObjectToObject(msg, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", 0);
    cJSON_AddNumberToObject(usage, "output_tokens", 0);
    write_event(out, "message_start", ev);
}

static void
close_block(struct stream_state *s, struct sl_buf *out)
{
    cJSON *ev;

    if (!s->block_open)
        return;
    ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "content_block_stop");
    cJSON_AddNumberToObject(ev, "index", s->block_index);
    write_event(out, "content_block_stop", ev);
    s->block_open = 0;
}

/* Opens the next block: `block` is its content_block object, taken over. */
static void
open_block(struct stream_state *s, cJSON *block, int tool, int tool_index, struct sl_buf *out)
{
    cJSON *ev = cJSON_CreateObject();

    close_block(s, out);
    s->block_index++;
    s->block_open = 1;
    s->block_tool = tool;
    s->tool_index = tool_index;
    cJSON_AddStringToObject(ev, "type", "content_block_start");
    cJSON_AddNumberToObject(ev, "index", s->block_index);
    cJSON_AddItemToObject(ev, "content_block", block);
    write_event(out, "content_block_start", ev);
}

static void
write_delta(struct stream_state *s, const char *kind, const char *field, const char *value,
            struct sl_buf *out)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON *delta;

    cJSON_AddStringToObject(ev, "type", "content_block_delta");
    cJSON_AddNumberToObject(ev, "index", s->block_index);
    delta = cJSON_AddObjectToObject(ev, "delta");
    cJSON_AddStringToObject(delta, "type", kind);
    cJSON_AddStringToObject(delta, field, value);
    write_event(out, "content_block_delta", ev);
}

static void
on_text(struct stream_state *s, const char *text, struct sl_buf *out)
{
    if (!s->block_open || s->block_tool) {
        cJSON *block = cJSON_CreateObject();

        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddStringToObject(block, "text", "");
        open_block(s, block, 0, 0, out);
    }
    write_delta(s, "text_delta", "text", text, out);
}

/* Returns 1 when a delta.tool_calls entry starts a call other than the open tool_use block's:
 * another index, or another id (servers that omit `index` send one whole call per entry). */
static int
starts_new_call(const struct stream_state *s, int index, const char *id)
{
    if (!s->block_open || !s->block_tool || s->tool_index != index)
        return 1;
    return id != NULL && s->tool_id != NULL && strcmp(id, s->tool_id) != 0;
}

/*
 * One entry of delta.tool_calls. A new call opens a tool_use block; later entries of the same
 * call add input_json_delta to it.
 * NOTE: OpenAI sends each call's deltas contiguously. A server that interleaves two calls would
 * get a new block each time the call changes, because a closed block cannot be reopened.
 */
static void
on_tool_call(struct stream_state *s, const cJSON *call, int position, struct sl_buf *out)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(call, "index");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const char *args = sl_json_get_string(fn, "arguments");
    const char *id = sl_json_get_string(call, "id");
    int i = cJSON_IsNumber(index) ? index->valueint : position;

    if (starts_new_call(s, i, id)) {
        const char *name = sl_json_get_string(fn, "name");
        cJSON *block = cJSON_CreateObject();
        char fallback_id[160];

        snprintf(fallback_id, sizeof(fallback_id), "toolu_%s_%d", s->message_id,
                 s->block_index + 1);
        cJSON_AddStringToObject(block, "type", "tool_use");
        cJSON_AddStringToObject(block, "id", id != NULL ? id : fallback_id);
        cJSON_AddStringToObject(block, "name", name != NULL ? name : "");
        cJSON_AddObjectToObject(block, "input");
        open_block(s, block, 1, i, out);
        free(s->tool_id);
        s->tool_id = sl_xstrdup(id != NULL ? id : fallback_id);
    }
    if (args != NULL && args[0] != '\0')
        write_delta(s, "input_json_delta", "partial_json", args, out);
}

static void
on_chunk(const struct sl_call_ctx *ctx, struct stream_state *s, const cJSON *chunk,
         struct sl_buf *out)
{
    const cJSON *choice = NULL;
    const cJSON *c;
    const cJSON *delta;
    const cJSON *call;
    const char *text;
    const char *finish;
    int position = 0;

    if (!s->started)
        start_message(ctx, s, sl_json_get_string(chunk, "id"), out);
    read_usage(chunk, &s->usage);

    /* Anthropic messages have one choice: only index 0 is converted. */
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(chunk, "choices"))
    {
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(c, "index");

        if (!cJSON_IsNumber(index) || index->valueint == 0) {
            choice = c;
            break;
        }
    }
    if (choice == NULL)
        return;
    delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    text = sl_json_get_string(delta, "content");
    if (text != NULL && text[0] != '\0')
        on_text(s, text, out);
    text = sl_json_get_string(delta, "refusal");
    if (text != NULL && text[0] != '\0')
        on_text(s, text, out);
    cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"))
        on_tool_call(s, call, position++, out);
    finish = sl_json_get_string(choice, "finish_reason");
    if (finish != NULL)
        snprintf(s->finish, sizeof(s->finish), "%s", finish);
}

static enum sl_status
convert_frames(const struct sl_call_ctx *ctx, void **state, const char *frames, size_t len,
               struct sl_buf *out)
{
    struct stream_state *s = get_state(state);
    struct sl_sse_parser parser;
    struct sl_sse_event ev;
    enum sl_status rc;

    /* The frames were written by a family, so their size is already bounded by the relay. */
    sl_sse_init(&parser, len + 1);
    rc = sl_sse_feed(&parser, frames, len);
    sl_sse_finish(&parser);
    while (rc == SL_OK && sl_sse_next(&parser, &ev) == SL_SSE_EVENT) {
        cJSON *chunk = NULL;

        if (sl_json_parse(ev.data, ev.data_len, SL_JSON_MAX_DEPTH * 4, &chunk, NULL) != SL_OK ||
            !cJSON_IsObject(chunk)) {
            cJSON_Delete(chunk);
            continue; /* the family already turned bad provider events into errors */
        }
        on_chunk(ctx, s, chunk, out);
        cJSON_Delete(chunk);
    }
    sl_sse_dispose(&parser);
    return rc;
}

static void
stream_end(const struct sl_call_ctx *ctx, void **state, int native, const struct sl_usage *usage,
           struct sl_buf *out)
{
    struct stream_state *s;
    cJSON *ev;
    cJSON *delta;

    if (native)
        return; /* the family passed Anthropic's own message_stop through */
    s = get_state(state);
    if (!s->started)
        start_message(ctx, s, NULL, out);
    close_block(s, out);

    ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "message_delta");
    delta = cJSON_AddObjectToObject(ev, "delta");
    cJSON_AddStringToObject(delta, "stop_reason", stop_reason_for(s->finish[0] ? s->finish : NULL));
    cJSON_AddNullToObject(delta, "stop_sequence");
    add_usage(cJSON_AddObjectToObject(ev, "usage"),
              usage != NULL && usage->present ? usage : &s->usage);
    write_event(out, "message_delta", ev);

    ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "message_stop");
    write_event(out, "message_stop", ev);
}

/* Anthropic ends a failed stream with one error event and nothing after it. */
static void
stream_error(const struct sl_call_ctx *ctx, void **state, const struct sl_upstream_error *e,
             struct sl_buf *out)
{
    struct sl_buf envelope;

    (void)ctx;
    (void)state;
    sl_buf_init(&envelope, 0);
    error_envelope(&envelope, e->status, e->message, e->type[0] != '\0' ? e->type : NULL, NULL);
    sl_sse_write_event(out, "error", envelope.data, envelope.len);
    sl_buf_dispose(&envelope);
}

static const struct sl_format_ops anthropic_format = {
    .format = SL_FORMAT_ANTHROPIC,
    .error_envelope = error_envelope,
    .convert_request = sl_anthropic_convert_request,
    .convert_response = convert_response,
    .convert_frames = convert_frames,
    .stream_end = stream_end,
    .stream_error = stream_error,
    .free_state = free_state,
};

const struct sl_format_ops *
sl_format_anthropic_ops(void)
{
    return &anthropic_format;
}
