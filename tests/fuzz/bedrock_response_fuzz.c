/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bedrock_response_fuzz -- libFuzzer target for the Bedrock family's response translators
 * (translate_response and translate_event in gateway/providers/bedrock.c).
 *
 * The input is used twice. First it is a complete Converse body. Then it is a stream of
 * events, one per line: the first byte of a line picks the event name (a ConverseStream event,
 * an exception, or an unknown name) and the rest is the payload. A successful translation must
 * be a JSON object for the requested model, and every stream frame a chat.completion.chunk for
 * it. FAILED must append nothing and carry an HTTP error status, and the finish bookkeeping
 * must stay within the one choice Bedrock returns. Mismatches abort.
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

#define MAX_DEPTH (SL_JSON_MAX_DEPTH * 4)

static const char requested_model[] = "my \"model\" caf\xc3\xa9";

static const char config_yaml[] = "model_list:\n"
                                  "- model_name: fuzz\n"
                                  "  litellm_params:\n"
                                  "    model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n"
                                  "    aws_access_key_id: AKIDFUZZ\n"
                                  "    aws_secret_access_key: fuzz\n";

static const char *const event_names[] = {
    "messageStart",        "contentBlockStart",
    "contentBlockDelta",   "contentBlockStop",
    "messageStop",         "metadata",
    "throttlingException", "validationException",
    "InternalFailure",     "modelStreamErrorException",
    "somethingNew",
};

static struct sl_config config;
static const struct sl_provider *provider;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bedrock_response_fuzz: %s\n", what);
        abort();
    }
}

static void
load_config_once(void)
{
    struct sl_errbuf err;

    if (provider != NULL)
        return;
    check(sl_config_load_buffer(config_yaml, strlen(config_yaml), "bedrock_response_fuzz.yaml",
                                &config, &err) == SL_OK,
          "the built-in config did not load");
    provider = sl_provider_find(config.deployments[0].provider);
    check(provider != NULL, "no provider family for the built-in config");
}

/* Parses `text` as a JSON object for the requested model; returns it (caller frees). */
static cJSON *
parse_for_model(const char *text, size_t len)
{
    cJSON *root = NULL;
    const char *model;

    check(sl_json_parse(text, len, MAX_DEPTH, &root, NULL) == SL_OK, "output is not JSON");
    check(cJSON_IsObject(root), "output is not an object");
    model = sl_json_get_string(root, "model");
    check(model != NULL && strcmp(model, requested_model) == 0, "output model differs");
    return root;
}

static void
fuzz_body(const struct sl_call_ctx *ctx, const char *body, size_t len)
{
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err;

    sl_buf_init(&out, 0);
    if (provider->translate_response(ctx, body, len, &out, &usage, &err) == SL_OK) {
        cJSON *root = parse_for_model(out.data, out.len);
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
        const cJSON *choice = cJSON_GetArrayItem(choices, 0);

        check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason")),
              "a response without a finish_reason");
        check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
              "usage totals do not add up");
        cJSON_Delete(root);
    }
    sl_buf_dispose(&out);
}

static void
check_frames(const char *frames, size_t len)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_sse_init(&p, len + 1);
    check(sl_sse_feed(&p, frames, len) == SL_OK, "frames do not parse as SSE");
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        cJSON *root = parse_for_model(ev.data, ev.data_len);

        check(strcmp(sl_json_get_string(root, "object"), "chat.completion.chunk") == 0,
              "a frame that is not a chunk");
        cJSON_Delete(root);
    }
    check(!sl_sse_pending(&p), "the output ends inside a frame");
    sl_sse_dispose(&p);
}

static void
fuzz_stream(const struct sl_call_ctx *ctx, const char *s, size_t len)
{
    struct sl_stream_state st;
    struct sl_upstream_error err;
    struct sl_buf out;
    enum sl_stream_verdict v = SL_STREAM_CONTINUE;
    size_t pos = 0;

    memset(&st, 0, sizeof(st));
    sl_buf_init(&out, 0);
    while (v == SL_STREAM_CONTINUE && pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t line = nl != NULL ? (size_t)(nl - (s + pos)) : len - pos;
        const char *name =
            event_names[(unsigned char)s[pos] % (sizeof(event_names) / sizeof(event_names[0]))];
        struct sl_stream_event ev = {name, strlen(name), s + pos + (line > 0 ? 1 : 0),
                                     line > 0 ? line - 1 : 0};
        size_t before = out.len;

        v = provider->translate_event(ctx, &st, &ev, &out, &err);
        if (v == SL_STREAM_FAILED) {
            check(out.len == before, "FAILED appended frames");
            check(err.status >= 400 && err.status <= 599, "an error without an error status");
        } else if (out.len > before) {
            check_frames(out.data + before, out.len - before);
        }
        check(st.finish_count == st.finished[0], "finish bookkeeping beyond one choice");
        pos += line + 1;
    }
    if (st.family_free != NULL)
        st.family_free(st.family);
    sl_buf_dispose(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_call_ctx ctx;
    cJSON *request = cJSON_Parse("{\"stream\":true,\"stream_options\":{\"include_usage\":true}}");

    load_config_once();
    memset(&ctx, 0, sizeof(ctx));
    ctx.kind = SL_KIND_CHAT;
    ctx.deployment = &config.deployments[0];
    ctx.requested_model = requested_model;
    ctx.body = request;
    ctx.now_unix_s = 1733270400;

    fuzz_body(&ctx, (const char *)data, size);
    ctx.stream = 1;
    fuzz_stream(&ctx, (const char *)data, size);
    cJSON_Delete(request);
    return 0;
}
