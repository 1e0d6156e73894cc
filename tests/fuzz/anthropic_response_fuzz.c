/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anthropic_response_fuzz -- libFuzzer target for the Anthropic family's response translators
 * (translate_response and translate_event in gateway/providers/anthropic.c).
 *
 * The input is used as a complete Messages body and as an SSE stream of Messages events, each
 * both for an OpenAI client (translated) and for an Anthropic client (passed through). Whatever
 * a translator writes must parse: translated bodies and chunks as JSON objects whose model is
 * the requested model, passed-through frames as SSE events. FAILED must append nothing, END
 * requires saw_done, and the finish bookkeeping must match its flags. Mismatches abort.
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

#define RESPONSE_MAX_DEPTH (SL_JSON_MAX_DEPTH * 4)
#define MAX_EVENT_BYTES    (64 * 1024)

/* The requested model has a quote, a backslash and a non-ASCII letter, so escaping is tested. */
static const char requested_model[] = "my \"claude\" \\ caf\xc3\xa9";

static const char config_yaml[] = "model_list:\n"
                                  "- model_name: fuzz\n"
                                  "  litellm_params: {model: anthropic/claude-3-5-haiku}\n";

/* The client request of the translated stream: it asks for the usage chunk. */
static const char client_request[] = "{\"model\":\"fuzz\",\"messages\":[],\"stream\":true,"
                                     "\"stream_options\":{\"include_usage\":true}}";

static struct sl_config config;
static const struct sl_provider *provider;
static cJSON *client_body;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "anthropic_response_fuzz: %s\n", what);
        abort();
    }
}

static void
load_config_once(void)
{
    struct sl_errbuf err;

    if (provider != NULL)
        return;
    check(sl_config_load_buffer(config_yaml, strlen(config_yaml), "anthropic_response_fuzz.yaml",
                                &config, &err) == SL_OK,
          "the built-in config did not load");
    provider = sl_provider_find(config.deployments[0].provider);
    check(provider != NULL, "no provider family for the built-in config");
    check(sl_json_parse(client_request, strlen(client_request), SL_JSON_MAX_DEPTH, &client_body,
                        NULL) == SL_OK,
          "the built-in client request did not parse");
}

/* Checks that `json` is an object whose model is the requested model and whose `object` is
 * `object`. */
static void
check_openai_object(const char *json, size_t len, const char *object)
{
    cJSON *root = NULL;
    const char *model;
    const char *kind;

    check(sl_json_parse(json, len, RESPONSE_MAX_DEPTH, &root, NULL) == SL_OK,
          "a translated object is not JSON");
    check(cJSON_IsObject(root), "a translated value is not an object");
    model = sl_json_get_string(root, "model");
    kind = sl_json_get_string(root, "object");
    check(model != NULL && strcmp(model, requested_model) == 0,
          "a translated object does not carry the requested model");
    check(kind != NULL && strcmp(kind, object) == 0, "a translated object has the wrong type");
    check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "choices")),
          "a translated object has no choices array");
    cJSON_Delete(root);
}

static void
fuzz_body(const struct sl_call_ctx *ctx, const char *body, size_t len)
{
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err;
    enum sl_status rc;

    sl_buf_init(&out, 0);
    rc = provider->translate_response(ctx, body, len, &out, &usage, &err);
    check(rc == SL_OK || rc == SL_ERR_UPSTREAM_PROTO, "an unexpected status from a body");
    if (rc == SL_OK && !ctx->native) {
        check_openai_object(out.data, out.len, "chat.completion");
    } else if (rc == SL_OK) {
        cJSON *root = NULL;

        check(sl_json_parse(out.data, out.len, RESPONSE_MAX_DEPTH, &root, NULL) == SL_OK,
              "a passed-through body is not JSON");
        cJSON_Delete(root);
    }
    if (usage.present)
        check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
              "total_tokens is not the sum of prompt and completion tokens");
    sl_buf_dispose(&out);
}

/* Checks frames appended for one event: whole SSE events, chunks when translated. */
static void
check_frames(const struct sl_call_ctx *ctx, const char *frames, size_t len)
{
    struct sl_sse_parser p;
    struct sl_sse_event frame;

    if (len == 0)
        return;
    sl_sse_init(&p, len + 1);
    check(sl_sse_feed(&p, frames, len) == SL_OK, "the output frames do not parse as SSE");
    while (sl_sse_next(&p, &frame) == SL_SSE_EVENT) {
        if (!ctx->native)
            check_openai_object(frame.data, frame.data_len, "chat.completion.chunk");
        else
            check(frame.event != NULL, "a passed-through frame has no event name");
    }
    check(!sl_sse_pending(&p), "the output ends inside a frame");
    sl_sse_dispose(&p);
}

static void
check_finish_state(const struct sl_stream_state *st)
{
    int flagged = 0;

    for (int i = 0; i < SL_STREAM_MAX_CHOICES; i++)
        flagged += st->finished[i] != 0;
    check(flagged == st->finish_count, "finish_count differs from the finished flags");
    check(st->finish_count <= 1, "a single-choice stream finished more than once");
}

static void
fuzz_stream(const struct sl_call_ctx *ctx, const char *stream, size_t len)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;
    struct sl_stream_state st;
    struct sl_upstream_error err;
    struct sl_buf out;
    enum sl_stream_verdict v = SL_STREAM_CONTINUE;

    memset(&st, 0, sizeof(st));
    sl_buf_init(&out, 0);
    sl_sse_init(&p, MAX_EVENT_BYTES);
    if (sl_sse_feed(&p, stream, len) == SL_OK)
        sl_sse_finish(&p);
    while (v == SL_STREAM_CONTINUE && sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        struct sl_stream_event sev = {ev.event, ev.event_len, ev.data, ev.data_len};
        size_t before = out.len;

        memset(&err, 0, sizeof(err));
        v = provider->translate_event(ctx, &st, &sev, &out, &err);
        if (v == SL_STREAM_FAILED) {
            check(out.len == before, "FAILED appended bytes");
            check(err.message[0] != '\0', "FAILED without a message");
            check(err.status >= 400 && err.status <= 599, "FAILED with a status outside 4xx-5xx");
        } else if (out.len > before) {
            check_frames(ctx, out.data + before, out.len - before);
        }
        if (v == SL_STREAM_END)
            check(st.saw_done, "END without saw_done");
        check_finish_state(&st);
    }
    if (st.family_free != NULL)
        st.family_free(st.family);
    sl_sse_dispose(&p);
    sl_buf_dispose(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_call_ctx ctx = {0};

    load_config_once();
    ctx.kind = SL_KIND_CHAT;
    ctx.deployment = &config.deployments[0];
    ctx.requested_model = requested_model;
    ctx.body = client_body;
    ctx.now_unix_s = 1700000000;

    for (int native = 0; native <= 1; native++) {
        ctx.native = native;
        ctx.inbound = native ? SL_FORMAT_ANTHROPIC : SL_FORMAT_OPENAI;
        ctx.stream = 0;
        fuzz_body(&ctx, (const char *)data, size);
        ctx.stream = 1;
        fuzz_stream(&ctx, (const char *)data, size);
    }
    return 0;
}
