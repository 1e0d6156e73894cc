/* SPDX-License-Identifier: Apache-2.0 */
/*
 * messages_fuzz -- libFuzzer target for the Anthropic client format (gateway/http/
 * format_anthropic*.c). The first input byte modulo 3 picks the path, written '0', '1' and '2'
 * in the seed corpus, and the rest is its input:
 *
 *   '0': a Messages request body. When it validates, convert_request either
 *       returns SL_ERR_INVALID with a message, or an OpenAI request whose messages all have a
 *       known role and whose tool messages name their tool call.
 *   '1': OpenAI SSE frames, converted in two calls split at an offset taken from the data, then
 *       ended. The output must be Anthropic events in the Messages API's order: message_start
 *       first, block indexes 0, 1, 2..., each delta inside its open block, message_delta and
 *       message_stop last. Every event's data must be a JSON object whose type is its name.
 *   '2': an OpenAI chat completion. convert_response returns SL_ERR_UPSTREAM_PROTO or a message
 *       object with a content array.
 *
 * Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/sse.h"
#include "gateway/http/format.h"
#include "gateway/http/format_anthropic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "messages_fuzz: %s\n", what);
        abort();
    }
}

static struct sl_call_ctx
make_ctx(int stream)
{
    struct sl_call_ctx ctx = {0};

    ctx.kind = SL_KIND_CHAT;
    ctx.inbound = SL_FORMAT_ANTHROPIC;
    ctx.requested_model = "fuzz \"group\"";
    ctx.stream = stream;
    return ctx;
}

static void
fuzz_request(const char *text, size_t len)
{
    const struct sl_format_ops *ops = sl_format_ops_for(SL_FORMAT_ANTHROPIC);
    struct sl_call_ctx ctx = make_ctx(0);
    struct sl_errbuf err = {{0}};
    cJSON *in = NULL;
    cJSON *out = NULL;
    const cJSON *m;
    enum sl_status rc;

    if (sl_json_parse(text, len, SL_JSON_MAX_DEPTH, &in, NULL) != SL_OK)
        return;
    if (sl_anthropic_validate(in, 0, &err) != SL_OK) {
        check(err.msg[0] != '\0', "validation failed without a message");
        cJSON_Delete(in);
        return;
    }
    rc = ops->convert_request(&ctx, in, &out, &err);
    if (rc != SL_OK) {
        check(rc == SL_ERR_INVALID, "convert_request failed with a status other than invalid");
        check(err.msg[0] != '\0', "convert_request failed without a message");
        check(out == NULL, "convert_request failed but wrote a request");
        cJSON_Delete(in);
        return;
    }
    check(cJSON_IsObject(out), "the converted request is not an object");
    check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(out, "messages")),
          "the converted request has no messages array");
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(out, "messages"))
    {
        const char *role = sl_json_get_string(m, "role");

        check(role != NULL, "a converted message has no role");
        check(strcmp(role, "system") == 0 || strcmp(role, "user") == 0 ||
                  strcmp(role, "assistant") == 0 || strcmp(role, "tool") == 0,
              "a converted message has an unknown role");
        if (strcmp(role, "tool") == 0)
            check(sl_json_get_string(m, "tool_call_id") != NULL,
                  "a tool message names no tool call");
    }
    cJSON_Delete(out);
    cJSON_Delete(in);
}

static int
event_index(const cJSON *data)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(data, "index");

    check(cJSON_IsNumber(index), "a content block event has no numeric index");
    return index->valueint;
}

/* Checks one event against the order rules; `open` is the open block or -1. */
static void
check_event(const char *name, const cJSON *data, int *open, int *next_index, int *ended)
{
    check(!*ended, "an event follows message_delta");
    check(strcmp(name, "message_start") != 0, "a second message_start");
    if (strcmp(name, "content_block_start") == 0) {
        check(*open == -1, "a block starts while another is open");
        check(event_index(data) == *next_index, "a block index is out of sequence");
        *open = (*next_index)++;
    } else if (strcmp(name, "content_block_delta") == 0) {
        check(*open != -1 && event_index(data) == *open, "a delta outside its open block");
    } else if (strcmp(name, "content_block_stop") == 0) {
        check(*open != -1 && event_index(data) == *open, "a stop for a block that is not open");
        *open = -1;
    } else {
        check(strcmp(name, "message_delta") == 0, "an unexpected event name");
        check(*open == -1, "message_delta while a block is open");
        *ended = 1;
    }
}

static void
check_stream(const char *bytes, size_t len)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;
    int count = 0;
    int open = -1;
    int next_index = 0;
    int ended = 0;
    int stopped = 0;

    sl_sse_init(&p, len + 1);
    check(sl_sse_feed(&p, bytes, len) == SL_OK, "the converted stream does not parse as SSE");
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        char name[32];
        cJSON *data = NULL;

        check(!stopped, "an event follows message_stop");
        check(ev.event_len < sizeof(name), "an event name is too long");
        memcpy(name, ev.event, ev.event_len);
        name[ev.event_len] = '\0';
        check(sl_json_parse(ev.data, ev.data_len, SL_JSON_MAX_DEPTH * 4, &data, NULL) == SL_OK &&
                  cJSON_IsObject(data),
              "an event's data is not a JSON object");
        check(sl_json_get_string(data, "type") != NULL &&
                  strcmp(sl_json_get_string(data, "type"), name) == 0,
              "an event's type differs from its name");
        if (count == 0)
            check(strcmp(name, "message_start") == 0, "the first event is not message_start");
        else if (strcmp(name, "message_stop") == 0)
            stopped = 1;
        else
            check_event(name, data, &open, &next_index, &ended);
        if (strcmp(name, "message_stop") == 0)
            check(ended, "message_stop before message_delta");
        cJSON_Delete(data);
        count++;
    }
    check(stopped, "the stream does not end with message_stop");
    sl_sse_dispose(&p);
}

static void
fuzz_stream(const char *text, size_t len)
{
    const struct sl_format_ops *ops = sl_format_ops_for(SL_FORMAT_ANTHROPIC);
    struct sl_call_ctx ctx = make_ctx(1);
    struct sl_buf out;
    void *state = NULL;
    size_t cut = len > 0 ? (unsigned char)text[len / 2] % (len + 1) : 0;

    sl_buf_init(&out, 0);
    (void)ops->convert_frames(&ctx, &state, text, cut, &out);
    (void)ops->convert_frames(&ctx, &state, text + cut, len - cut, &out);
    ops->stream_end(&ctx, &state, 0, NULL, &out);
    ops->free_state(state);
    check_stream(out.data, out.len);
    sl_buf_dispose(&out);
}

static void
fuzz_response(const char *text, size_t len)
{
    const struct sl_format_ops *ops = sl_format_ops_for(SL_FORMAT_ANTHROPIC);
    struct sl_call_ctx ctx = make_ctx(0);
    struct sl_errbuf err = {{0}};
    struct sl_buf out;
    cJSON *msg = NULL;
    enum sl_status rc;

    sl_buf_init(&out, 0);
    rc = ops->convert_response(&ctx, text, len, &out, &err);
    if (rc != SL_OK) {
        check(rc == SL_ERR_UPSTREAM_PROTO, "convert_response failed with another status");
        sl_buf_dispose(&out);
        return;
    }
    check(sl_json_parse(out.data, out.len, SL_JSON_MAX_DEPTH * 4, &msg, NULL) == SL_OK,
          "the converted message is not JSON");
    check(strcmp(sl_json_get_string(msg, "type"), "message") == 0, "type is not message");
    check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(msg, "content")), "no content array");
    check(sl_json_get_string(msg, "stop_reason") != NULL, "no stop_reason");
    cJSON_Delete(msg);
    sl_buf_dispose(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;

    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_request(text, size - 1);
        break;
    case 1:
        fuzz_stream(text, size - 1);
        break;
    default:
        fuzz_response(text, size - 1);
        break;
    }
    return 0;
}
