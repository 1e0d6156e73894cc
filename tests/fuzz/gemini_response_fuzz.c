/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemini_response_fuzz -- libFuzzer target for the Gemini family (gateway/providers/gemini.c):
 * its response and stream translators, its error reader and its request builder.
 *
 * The input is used as a generateContent body, as a batchEmbedContents body, as an SSE stream of
 * GenerateContentResponse events, as an error body and as an OpenAI chat request. Whatever the
 * bytes, a successful translation must be an OpenAI completion (or chunk frames) for the requested
 * model, with well-formed choices and tool-call arguments that parse as JSON. A failed event
 * appends nothing and carries an HTTP error status. A built request is a JSON object with
 * contents. Violations abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "common/sse.h"
#include "gateway/providers/provider.h"

#define MAX_DEPTH       (SL_JSON_MAX_DEPTH * 4)
#define MAX_EVENT_BYTES (64 * 1024)

/* The requested model has a quote, a backslash and a non-ASCII letter, so escaping is tested. */
static const char requested_model[] = "my \"model\" \\ caf\xc3\xa9";

static const char config_yaml[] = "model_list:\n"
                                  "- model_name: fuzz\n"
                                  "  litellm_params: {model: gemini/gemini-2.0-flash, "
                                  "api_key: k}\n";

static struct sl_config config;
static const struct sl_provider *provider;
static cJSON *request_body;
static cJSON *embed_floats;
static cJSON *embed_base64;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gemini_response_fuzz: %s\n", what);
        abort();
    }
}

static void
load_once(void)
{
    struct sl_errbuf err;

    if (provider != NULL)
        return;
    check(sl_config_load_buffer(config_yaml, strlen(config_yaml), "gemini_response_fuzz.yaml",
                                &config, &err) == SL_OK,
          "the built-in config did not load");
    provider = sl_provider_find(config.deployments[0].provider);
    check(provider != NULL, "no provider family for the built-in config");
    request_body = cJSON_Parse("{\"n\":2,\"stream_options\":{\"include_usage\":true}}");
    embed_floats = cJSON_Parse("{\"input\":\"a\"}");
    embed_base64 = cJSON_Parse("{\"input\":\"a\",\"encoding_format\":\"base64\"}");
}

/* Checks one choice of a completion (`delta` 0) or chunk (`delta` 1). */
static void
check_choice(const cJSON *choice, int delta)
{
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
    const cJSON *finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, delta ? "delta" : "message");
    const cJSON *call;

    check(cJSON_IsNumber(index), "a choice has no numeric index");
    check(cJSON_IsString(finish) || cJSON_IsNull(finish), "finish_reason is not string or null");
    check(cJSON_IsObject(message), "a choice has no message or delta object");
    if (!delta) {
        const char *role = sl_json_get_string(message, "role");

        check(role != NULL && strcmp(role, "assistant") == 0, "the message role is not assistant");
    }
    cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(message, "tool_calls"))
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        const char *arguments = sl_json_get_string(fn, "arguments");
        const char *id = sl_json_get_string(call, "id");
        cJSON *parsed = NULL;

        check(sl_json_get_string(fn, "name") != NULL, "a tool call has no name");
        check(id != NULL && strncmp(id, "call_", 5) == 0, "a tool call id is not call_...");
        check(arguments != NULL && sl_json_parse(arguments, strlen(arguments), MAX_DEPTH + 8,
                                                 &parsed, NULL) == SL_OK,
              "tool call arguments are not JSON");
        cJSON_Delete(parsed);
    }
}

/* Checks that `text` is an OpenAI object of type `object` for the requested model. */
static void
check_object(const char *text, size_t len, const char *object)
{
    cJSON *root = NULL;
    const cJSON *choice;
    int delta = strcmp(object, "chat.completion.chunk") == 0;

    check(sl_json_parse(text, len, MAX_DEPTH + 8, &root, NULL) == SL_OK,
          "the translated output is not JSON");
    check(cJSON_IsObject(root), "the translated output is not an object");
    check(sl_json_get_string(root, "model") != NULL &&
              strcmp(sl_json_get_string(root, "model"), requested_model) == 0,
          "the model is not the requested model");
    check(sl_json_get_string(root, "object") != NULL &&
              strcmp(sl_json_get_string(root, "object"), object) == 0,
          "wrong object type");
    check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "choices")), "no choices array");
    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(root, "choices"))
        check_choice(choice, delta);
    cJSON_Delete(root);
}

static void
make_ctx(struct sl_call_ctx *ctx, int stream)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->kind = SL_KIND_CHAT;
    ctx->deployment = &config.deployments[0];
    ctx->requested_model = requested_model;
    ctx->body = request_body;
    ctx->stream = stream;
    ctx->now_unix_s = 1700000000;
}

static void
fuzz_body(const char *body, size_t len)
{
    struct sl_call_ctx ctx;
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err;

    make_ctx(&ctx, 0);
    sl_buf_init(&out, 0);
    if (provider->translate_response(&ctx, body, len, &out, &usage, &err) == SL_OK)
        check_object(out.data, out.len, "chat.completion");
    sl_buf_dispose(&out);
}

/* An embeddings response must be a list whose entries carry a vector or a base64 string. */
static void
fuzz_embeddings(const char *body, size_t len, const cJSON *request)
{
    struct sl_call_ctx ctx;
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err;
    cJSON *root = NULL;
    const cJSON *item;

    make_ctx(&ctx, 0);
    ctx.kind = SL_KIND_EMBEDDING;
    ctx.body = request;
    sl_buf_init(&out, 0);
    if (provider->translate_response(&ctx, body, len, &out, &usage, &err) == SL_OK) {
        check(sl_json_parse(out.data, out.len, MAX_DEPTH + 8, &root, NULL) == SL_OK,
              "the embeddings output is not JSON");
        check(sl_json_get_string(root, "object") != NULL &&
                  strcmp(sl_json_get_string(root, "object"), "list") == 0,
              "embeddings: not a list");
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data"))
        {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "embedding");

            check(cJSON_IsArray(e) || cJSON_IsString(e),
                  "an embedding is neither array nor string");
        }
        cJSON_Delete(root);
    }
    sl_buf_dispose(&out);
}

/* Checks every frame appended by one translate_event call. */
static void
check_frames(const struct sl_buf *frames)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    if (frames->len == 0)
        return;
    sl_sse_init(&p, frames->len + 16);
    check(sl_sse_feed(&p, frames->data, frames->len) == SL_OK, "frames do not parse as SSE");
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT)
        check_object(ev.data, ev.data_len, "chat.completion.chunk");
    check(sl_sse_status(&p) == SL_OK, "frames end in an SSE error");
    sl_sse_dispose(&p);
}

static void
fuzz_stream(const char *bytes, size_t len)
{
    struct sl_call_ctx ctx;
    struct sl_stream_state st;
    struct sl_sse_parser p;
    struct sl_sse_event ev;
    enum sl_stream_verdict v = SL_STREAM_CONTINUE;

    make_ctx(&ctx, 1);
    memset(&st, 0, sizeof(st));
    sl_sse_init(&p, MAX_EVENT_BYTES);
    if (sl_sse_feed(&p, bytes, len) == SL_OK)
        sl_sse_finish(&p);
    while (v == SL_STREAM_CONTINUE && sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        struct sl_stream_event e = {ev.event, ev.event_len, ev.data, ev.data_len};
        struct sl_upstream_error uerr;
        struct sl_buf out;
        int finished = 0;

        sl_buf_init(&out, 0);
        v = provider->translate_event(&ctx, &st, &e, &out, &uerr);
        if (v == SL_STREAM_FAILED) {
            check(out.len == 0, "a failed event appended frames");
            check(uerr.status >= 400 && uerr.status <= 599, "a failed event has no error status");
        } else {
            check_frames(&out);
        }
        for (int i = 0; i < SL_STREAM_MAX_CHOICES; i++)
            finished += st.finished[i];
        check(finished == st.finish_count, "finish_count does not match the finished flags");
        if (v == SL_STREAM_END)
            check(st.finish_count >= 2, "the stream ended before both requested choices finished");
        sl_buf_dispose(&out);
    }
    sl_sse_dispose(&p);
    if (st.family_free != NULL)
        st.family_free(st.family);
}

static void
fuzz_error(const char *body, size_t len)
{
    struct sl_upstream_error e;

    provider->parse_error(429, body, len, &e);
    check(e.status >= 400 && e.status <= 599, "an error body changed the status out of range");
    check(memchr(e.message, '\0', sizeof(e.message)) != NULL, "the message is not terminated");
}

static void
fuzz_request(const char *body, size_t len)
{
    struct sl_call_ctx ctx;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    cJSON *req = NULL;
    cJSON *built = NULL;

    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &req, NULL) != SL_OK)
        return;
    make_ctx(&ctx, 0);
    ctx.body = req;
    memset(&up, 0, sizeof(up));
    sl_buf_init(&up.url, 0);
    sl_buf_init(&up.body, 0);
    if (provider->build_request(&ctx, &up, &err) == SL_OK) {
        check(sl_json_parse(up.body.data, up.body.len, MAX_DEPTH + 8, &built, NULL) == SL_OK,
              "the built request is not JSON");
        check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(built, "contents")),
              "the built request has no contents array");
        cJSON_Delete(built);
    }
    sl_buf_dispose(&up.url);
    sl_buf_dispose(&up.body);
    curl_slist_free_all(up.headers);
    cJSON_Delete(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bytes = (const char *)data;

    load_once();
    fuzz_body(bytes, size);
    fuzz_embeddings(bytes, size, embed_floats);
    fuzz_embeddings(bytes, size, embed_base64);
    fuzz_stream(bytes, size);
    fuzz_error(bytes, size);
    fuzz_request(bytes, size);
    return 0;
}
