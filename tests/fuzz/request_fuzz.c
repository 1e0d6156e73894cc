/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request_fuzz -- libFuzzer target for the client request path: sl_json_parse, then
 * sl_validate_chat, then the OpenAI family's build_request (gateway/providers/openai.c).
 *
 * The input is a client body. When it validates, build_request must succeed and its upstream body
 * must parse as JSON, carry the deployment's provider model as "model", and equal the input in
 * every other member (compared after deleting "model" from both). Any mismatch aborts.
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
#include "gateway/http/validate.h"
#include "gateway/providers/openai_compat.h"
#include "gateway/providers/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The provider model has a quote, a backslash and a non-ASCII letter, so escaping is tested. */
static const char config_yaml[] = "model_list:\n"
                                  "- model_name: fuzz\n"
                                  "  litellm_params:\n"
                                  "    model: 'openai/gpt \"4o\" \\ caf\xc3\xa9'\n"
                                  "    api_base: 'http://127.0.0.1:9/v1'\n"
                                  "    api_key: sk-fuzz\n";

static struct sl_config config;
static const struct sl_provider *provider;

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "request_fuzz: %s\n", what);
        abort();
    }
}

static void
load_config_once(void)
{
    struct sl_errbuf err;

    if (provider != NULL)
        return;
    check(sl_config_load_buffer(config_yaml, strlen(config_yaml), "request_fuzz.yaml", &config,
                                &err) == SL_OK,
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

/*
 * Checks the stream_options of an upstream body whose stream asks the provider for usage:
 * include_usage is true and every other member of the client's stream_options is kept. Then
 * removes stream_options from both bodies, so the caller compares the rest.
 */
static void
check_forced_usage(cJSON *expected, cJSON *out)
{
    cJSON *in_opts = cJSON_GetObjectItemCaseSensitive(expected, "stream_options");
    cJSON *out_opts = cJSON_GetObjectItemCaseSensitive(out, "stream_options");

    check(cJSON_IsObject(out_opts), "the upstream stream_options is not an object");
    check(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out_opts, "include_usage")),
          "the upstream stream does not ask for usage");
    cJSON_DeleteItemFromObjectCaseSensitive(out_opts, "include_usage");
    if (cJSON_IsObject(in_opts)) {
        cJSON_DeleteItemFromObjectCaseSensitive(in_opts, "include_usage");
        check(json_equal(in_opts, out_opts), "the client's other stream_options were changed");
    } else {
        check(out_opts->child == NULL, "stream_options has members the client did not send");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(expected, "stream_options");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "stream_options");
}

/* Checks that `body` is `input` with "model" replaced by `model`, and with usage asked for in
 * a stream when `forced`. */
static void
check_upstream_body(const cJSON *input, const struct sl_buf *body, const char *model,
                    int forced)
{
    cJSON *out = NULL;
    cJSON *expected;

    check(sl_json_parse(body->data, body->len, SL_JSON_MAX_DEPTH, &out, NULL) == SL_OK,
          "the upstream body is not JSON");
    check(cJSON_IsObject(out), "the upstream body is not an object");
    check(sl_json_get_string(out, "model") != NULL, "the upstream body has no string model");
    check(strcmp(sl_json_get_string(out, "model"), model) == 0,
          "the upstream model is not the provider model");
    check(sl_json_duplicate_key(out) == NULL, "the upstream body has a duplicate member");

    expected = cJSON_Duplicate(input, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(expected, "model");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "model");
    if (forced)
        check_forced_usage(expected, out);
    check(json_equal(expected, out), "the upstream body changed a member other than model");
    cJSON_Delete(expected);
    cJSON_Delete(out);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct sl_deployment *d;
    struct sl_upstream_request up;
    struct sl_call_ctx ctx = {0};
    struct sl_errbuf err;
    const char *param = NULL;
    cJSON *body = NULL;

    load_config_once();
    d = &config.deployments[0];
    if (sl_json_parse((const char *)data, size, SL_JSON_MAX_DEPTH, &body, &err) != SL_OK)
        return 0;
    if (has_infinite_number(body)) {
        cJSON_Delete(body);
        return 0;
    }
    if (sl_validate_chat(body, &param, &err) != SL_OK) {
        check(err.msg[0] != '\0', "a rejected body has no message");
        cJSON_Delete(body);
        return 0;
    }
    check(param == NULL, "a valid body names a param");

    ctx.deployment = d;
    ctx.requested_model = sl_json_get_string(body, "model");
    ctx.body = body;
    ctx.raw_body = (const char *)data;
    ctx.raw_len = size;
    ctx.stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
    memset(&up, 0, sizeof(up));
    sl_buf_init(&up.url, 0);
    sl_buf_init(&up.body, 0);
    check(provider->build_request(&ctx, &up, &err) == SL_OK, "build_request failed on a valid body");
    check(strcmp(up.url.data, "http://127.0.0.1:9/v1/chat/completions") == 0,
          "the upstream URL is wrong");
    check_upstream_body(body, &up.body, d->provider_model, sl_openai_usage_forced(&ctx));

    sl_buf_dispose(&up.url);
    sl_buf_dispose(&up.body);
    curl_slist_free_all(up.headers);
    cJSON_Delete(body);
    return 0;
}
