/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anthropic_test -- golden tests of the Anthropic family (gateway/providers/anthropic.c).
 *
 * A chat request golden/anthropic/<case>.request.json must become exactly the Messages request
 * <case>.upstream.json; a Messages response <case>.response.json must reach the client as exactly
 * <case>.client.json; a recorded event stream <case>.upstream.sse must come out as exactly the
 * chunks of <case>.client.sse. With SLUICE_FIXTURES set, recorded Anthropic streams, bodies and
 * error bodies also go through the translators.
 */
#include <limits.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "common/sse.h"
#include "fixtures.h"
#include "gateway/providers/provider.h"
#include "provider_harness.h"
#include "test.h"

#ifndef SL_GOLDEN_DIR
#error "SL_GOLDEN_DIR must name tests/unit/gateway/golden"
#endif

#define MAX_FILE_BYTES  (1024 * 1024)
#define MAX_EVENT_BYTES (256 * 1024)
#define NOW_UNIX_S      1700000000

static const char default_yaml[] = "model_list:\n"
                                   "- model_name: claude\n"
                                   "  litellm_params:\n"
                                   "    model: anthropic/claude-3-5-haiku-20241022\n"
                                   "    api_key: sk-ant-test\n";

/* A loaded one-deployment config and the family that serves it. */
static void
setup_load(struct sl_provider_setup *s, const char *yaml)
{
    sl_harness_load(s, yaml, "anthropic_test.yaml");
}

static char *
read_golden(const char *name, size_t *len)
{
    return sl_harness_read_golden("anthropic", name, len);
}

static char *
read_fixture(const char *name, size_t *len)
{
    return sl_harness_read_fixture("anthropic", name, len);
}

static cJSON *
parse_json(const char *text, size_t len, const char *what)
{
    return sl_harness_parse_json_depth(text, len, SL_JSON_MAX_DEPTH * 4, what);
}

static void
ctx_init(struct sl_call_ctx *ctx, const struct sl_provider_setup *s, const cJSON *body)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->kind = SL_KIND_CHAT;
    ctx->deployment = s->d;
    ctx->requested_model = "claude";
    ctx->body = body;
    ctx->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
    ctx->now_unix_s = NOW_UNIX_S;
}

/* Builds the request for the JSON text `raw` (OpenAI's shape) and returns its status. */
static enum sl_status
build_text(const struct sl_provider_setup *s, const char *raw, struct sl_upstream_request *up,
           struct sl_errbuf *err)
{
    cJSON *body = parse_json(raw, strlen(raw), "request");
    struct sl_call_ctx ctx;
    enum sl_status rc;

    ctx_init(&ctx, s, body);
    sl_harness_upstream_init(up);
    rc = s->p->build_request(&ctx, up, err);
    cJSON_Delete(body);
    return rc;
}

/* ---------------------------------------------------------------- request goldens */

static void
expect_upstream_body(const char *name)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    char file[128];
    size_t len, want_len;
    char *raw, *want;

    setup_load(&s, default_yaml);
    snprintf(file, sizeof(file), "%s.request.json", name);
    raw = read_golden(file, &len);
    if (build_text(&s, raw, &up, &err) != SL_OK)
        SL_TEST_FAIL("build_request on %s failed: %s", file, err.msg);
    snprintf(file, sizeof(file), "%s.upstream.json", name);
    want = read_golden(file, &want_len);
    ASSERT_MEM_EQ(want, want_len, up.body.data, up.body.len);
    free(raw);
    free(want);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(anthropic_request_system_string)
{
    expect_upstream_body("system");
}

TEST(anthropic_request_system_blocks)
{
    expect_upstream_body("system-blocks");
}

TEST(anthropic_request_max_tokens_default)
{
    expect_upstream_body("max-tokens-default");
}

TEST(anthropic_request_tools_and_results)
{
    expect_upstream_body("tools");
}

TEST(anthropic_request_images)
{
    expect_upstream_body("images");
}

TEST(anthropic_request_stop_and_params)
{
    expect_upstream_body("stop");
}

TEST(anthropic_request_tool_choice)
{
    expect_upstream_body("tool-choice");
}

/* Builds `raw` and returns the value of `key` in the upstream body, printed, or NULL. */
static char *
upstream_member(const char *raw, const char *key)
{
    const cJSON *member;
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    cJSON *root;
    char *text;

    setup_load(&s, default_yaml);
    if (build_text(&s, raw, &up, &err) != SL_OK)
        SL_TEST_FAIL("build_request failed: %s", err.msg);
    root = parse_json(up.body.data, up.body.len, "upstream body");
    member = cJSON_GetObjectItemCaseSensitive(root, key);
    text = member != NULL ? sl_json_print(member) : NULL;
    cJSON_Delete(root);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
    return text;
}

TEST(anthropic_request_tool_choice_values)
{
    static const struct {
        const char *choice;
        const char *want;
    } cases[] = {
        {"\"auto\"", "{\"type\":\"auto\"}"},
        {"\"none\"", "{\"type\":\"none\"}"},
        {"\"required\"", "{\"type\":\"any\"}"},
        {"{\"type\":\"function\",\"function\":{\"name\":\"f\"}}",
         "{\"type\":\"tool\",\"name\":\"f\"}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char raw[512];
        char *got;

        snprintf(raw, sizeof(raw),
                 "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                 "\"tool_choice\":%s}",
                 cases[i].choice);
        got = upstream_member(raw, "tool_choice");
        ASSERT_STR_EQ(cases[i].want, got);
        cJSON_free(got);
    }
}

TEST(anthropic_request_max_completion_tokens_wins)
{
    char *got = upstream_member("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"x\"}],\"max_tokens\":7,"
                                "\"max_completion_tokens\":9}",
                                "max_tokens");

    ASSERT_STR_EQ("9", got);
    cJSON_free(got);
}

TEST(anthropic_request_email_user_dropped)
{
    char *got = upstream_member("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"x\"}],\"user\":\"a@example.com\"}",
                                "metadata");

    ASSERT_TRUE(got == NULL);
}

/* Expects build_request to reject `raw` with a 400 whose message contains `needle`. */
static void
expect_invalid(const char *raw, const char *needle)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    setup_load(&s, default_yaml);
    ASSERT_EQ(SL_ERR_INVALID, build_text(&s, raw, &up, &err));
    ASSERT_CONTAINS(err.msg, needle);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(anthropic_request_bad_arguments_rejected)
{
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                   "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t\","
                   "\"type\":\"function\",\"function\":{\"name\":\"f\","
                   "\"arguments\":\"{oops\"}}]}]}",
                   "messages[1].tool_calls[0].function.arguments is not valid JSON");
}

TEST(anthropic_request_only_system_rejected)
{
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
                   "at least one message that is not a system message");
}

TEST(anthropic_request_bad_image_rejected)
{
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                   "\"image_url\",\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]}",
                   "data: or http(s) URL");
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                   "\"image_url\",\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
                   "data:<type>;base64");
}

TEST(anthropic_request_n_above_one_rejected)
{
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"n\":2}",
                   "n must be 1");
}

TEST(anthropic_request_bad_tool_choice_rejected)
{
    expect_invalid("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"tool_choice\":\"sometimes\"}",
                   "tool_choice \"sometimes\"");
}

TEST(anthropic_request_url_and_headers)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    struct sl_buf text;

    setup_load(&s, default_yaml);
    ASSERT_OK(build_text(&s,
                         "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":"
                         "\"x\"}]}",
                         &up, &err));
    ASSERT_STR_EQ("https://api.anthropic.com/v1/messages", up.url.data);
    sl_buf_init(&text, 0);
    for (const struct curl_slist *h = up.headers; h != NULL; h = h->next)
        sl_buf_printf(&text, "%s\n", h->data);
    ASSERT_STR_EQ("Content-Type: application/json\n"
                  "x-api-key: sk-ant-test\n"
                  "anthropic-version: 2023-06-01\n",
                  text.data);
    sl_buf_dispose(&text);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

static void
expect_url(const char *base, const char *want)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    char yaml[512];

    snprintf(yaml, sizeof(yaml),
             "model_list:\n- model_name: claude\n  litellm_params:\n"
             "    model: anthropic/claude-x\n    api_base: \"%s\"\n",
             base);
    setup_load(&s, yaml);
    ASSERT_OK(build_text(&s,
                         "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":"
                         "\"x\"}]}",
                         &up, &err));
    ASSERT_STR_EQ(want, up.url.data);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(anthropic_request_api_base_forms)
{
    expect_url("http://127.0.0.1:9", "http://127.0.0.1:9/v1/messages");
    expect_url("http://127.0.0.1:9/", "http://127.0.0.1:9/v1/messages");
    expect_url("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/messages");
    expect_url("http://127.0.0.1:9/v1/messages", "http://127.0.0.1:9/v1/messages");
}

TEST(anthropic_request_native_rewrites_model_only)
{
    static const char raw[] = "{ \"max_tokens\": 5, \"model\" : \"claude\",\n"
                              "  \"messages\": [{\"role\":\"user\",\"content\":\"hi\"}] }";
    static const char want[] = "{ \"max_tokens\": 5, \"model\" : "
                               "\"claude-3-5-haiku-20241022\",\n"
                               "  \"messages\": [{\"role\":\"user\",\"content\":\"hi\"}] }";
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    struct sl_call_ctx ctx;
    cJSON *body = parse_json(raw, strlen(raw), "request");

    setup_load(&s, default_yaml);
    ctx_init(&ctx, &s, body);
    ctx.native = 1;
    ctx.inbound = SL_FORMAT_ANTHROPIC;
    ctx.raw_body = raw;
    ctx.raw_len = strlen(raw);
    sl_harness_upstream_init(&up);
    ASSERT_OK(s.p->build_request(&ctx, &up, &err));
    ASSERT_MEM_EQ(want, strlen(want), up.body.data, up.body.len);
    sl_harness_upstream_dispose(&up);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- count_tokens, headers */

/* Builds a native count_tokens request from `raw` on a deployment with api_base `base`. */
static enum sl_status
build_count_tokens(const char *base, const char *raw, int native, struct sl_upstream_request *up,
                   struct sl_errbuf *err)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    char yaml[512];
    cJSON *body = parse_json(raw, strlen(raw), "request");
    enum sl_status rc;

    snprintf(yaml, sizeof(yaml),
             "model_list:\n- model_name: claude\n  litellm_params:\n"
             "    model: anthropic/claude-x\n    api_base: \"%s\"\n",
             base);
    setup_load(&s, yaml);
    ctx_init(&ctx, &s, body);
    ctx.kind = SL_KIND_COUNT_TOKENS;
    ctx.inbound = SL_FORMAT_ANTHROPIC;
    ctx.native = native;
    ctx.raw_body = raw;
    ctx.raw_len = strlen(raw);
    sl_harness_upstream_init(up);
    rc = s.p->build_request(&ctx, up, err);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
    return rc;
}

TEST(count_tokens_request_rewrites_model)
{
    static const char raw[] = "{\"model\": \"claude\", \"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]}";
    static const char want[] = "{\"model\": \"claude-x\", \"messages\":[{\"role\":\"user\","
                               "\"content\":\"hi\"}]}";
    struct sl_upstream_request up;
    struct sl_errbuf err;

    ASSERT_OK(build_count_tokens("http://127.0.0.1:9", raw, 1, &up, &err));
    ASSERT_STR_EQ("http://127.0.0.1:9/v1/messages/count_tokens", up.url.data);
    ASSERT_MEM_EQ(want, strlen(want), up.body.data, up.body.len);
    sl_harness_upstream_dispose(&up);
}

static void
expect_count_tokens_url(const char *base, const char *want)
{
    struct sl_upstream_request up;
    struct sl_errbuf err;

    ASSERT_OK(build_count_tokens(base, "{\"model\":\"claude\",\"messages\":[]}", 1, &up, &err));
    ASSERT_STR_EQ(want, up.url.data);
    sl_harness_upstream_dispose(&up);
}

TEST(count_tokens_api_base_forms)
{
    expect_count_tokens_url("http://127.0.0.1:9/", "http://127.0.0.1:9/v1/messages/count_tokens");
    expect_count_tokens_url("http://127.0.0.1:9/v1",
                            "http://127.0.0.1:9/v1/messages/count_tokens");
    expect_count_tokens_url("http://127.0.0.1:9/v1/messages",
                            "http://127.0.0.1:9/v1/messages/count_tokens");
}

TEST(count_tokens_converted_rejected)
{
    struct sl_upstream_request up;
    struct sl_errbuf err;

    ASSERT_EQ(SL_ERR_INVALID,
              build_count_tokens("http://127.0.0.1:9", "{\"model\":\"claude\",\"messages\":[]}",
                                 0, &up, &err));
    ASSERT_CONTAINS(err.msg, "Messages API");
    sl_harness_upstream_dispose(&up);
}

static enum sl_status
translate_count(const char *body, struct sl_buf *out, struct sl_errbuf *err)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    struct sl_usage usage;
    enum sl_status rc;

    setup_load(&s, default_yaml);
    ctx_init(&ctx, &s, NULL);
    ctx.kind = SL_KIND_COUNT_TOKENS;
    ctx.inbound = SL_FORMAT_ANTHROPIC;
    ctx.native = 1;
    memset(&usage, 0, sizeof(usage));
    sl_buf_init(out, 0);
    rc = s.p->translate_response(&ctx, body, strlen(body), out, &usage, err);
    ASSERT_EQ(0, usage.present);
    sl_config_dispose(&s.cfg);
    return rc;
}

TEST(count_tokens_response_unchanged)
{
    static const char body[] = "{\"input_tokens\": 2095 }";
    struct sl_buf out;
    struct sl_errbuf err;

    ASSERT_OK(translate_count(body, &out, &err));
    ASSERT_MEM_EQ(body, strlen(body), out.data, out.len);
    sl_buf_dispose(&out);
}

TEST(count_tokens_response_malformed)
{
    static const char *const bodies[] = {"", "[1]", "{\"input_tokens\":\"7\"}", "{}", "{\"x\":1"};
    struct sl_buf out;
    struct sl_errbuf err;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        ASSERT_EQ(SL_ERR_UPSTREAM_PROTO, translate_count(bodies[i], &out, &err));
        sl_buf_dispose(&out);
    }
}

/* Builds a request with the given forwarded client headers; returns its header lines. */
static char *
build_with_client_headers(const struct sl_header *hdrs, size_t n, int native)
{
    static const char raw[] = "{\"model\":\"claude\",\"max_tokens\":5,"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    struct sl_upstream_request up;
    struct sl_errbuf err;
    struct sl_buf text;
    cJSON *body = parse_json(raw, strlen(raw), "request");

    setup_load(&s, default_yaml);
    ctx_init(&ctx, &s, body);
    ctx.native = native;
    ctx.inbound = native ? SL_FORMAT_ANTHROPIC : SL_FORMAT_OPENAI;
    ctx.raw_body = native ? raw : NULL;
    ctx.raw_len = native ? strlen(raw) : 0;
    ctx.client_headers = hdrs;
    ctx.n_client_headers = n;
    sl_harness_upstream_init(&up);
    if (s.p->build_request(&ctx, &up, &err) != SL_OK)
        SL_TEST_FAIL("build_request failed: %s", err.msg);
    sl_buf_init(&text, 0);
    for (const struct curl_slist *h = up.headers; h != NULL; h = h->next)
        sl_buf_printf(&text, "%s\n", h->data);
    sl_harness_upstream_dispose(&up);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
    return sl_buf_take(&text, NULL);
}

TEST(client_headers_forwarded_native)
{
    struct sl_header hdrs[] = {
        {"anthropic-beta", "x,y"},
        {"anthropic-version", "2099-01-01"},
        {"x-foo", "bar"},
    };
    char *text = build_with_client_headers(hdrs, 3, 1);

    ASSERT_STR_EQ("Content-Type: application/json\n"
                  "x-api-key: sk-ant-test\n"
                  "anthropic-version: 2099-01-01\n"
                  "anthropic-beta: x,y\n",
                  text);
    free(text);
}

TEST(client_headers_forwarded_converted)
{
    struct sl_header hdrs[] = {{"anthropic-beta", "z"}};
    char *text = build_with_client_headers(hdrs, 1, 0);

    ASSERT_STR_EQ("Content-Type: application/json\n"
                  "x-api-key: sk-ant-test\n"
                  "anthropic-version: 2023-06-01\n"
                  "anthropic-beta: z\n",
                  text);
    free(text);
}

TEST(client_headers_absent_default_version)
{
    char *text = build_with_client_headers(NULL, 0, 1);

    ASSERT_STR_EQ("Content-Type: application/json\n"
                  "x-api-key: sk-ant-test\n"
                  "anthropic-version: 2023-06-01\n",
                  text);
    free(text);
}

/* ---------------------------------------------------------------- responses */

static enum sl_status
translate(const char *body, size_t len, int native, struct sl_buf *out, struct sl_usage *usage,
          struct sl_errbuf *err)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    enum sl_status rc;

    setup_load(&s, default_yaml);
    ctx_init(&ctx, &s, NULL);
    ctx.native = native;
    memset(usage, 0, sizeof(*usage));
    sl_buf_init(out, 0);
    rc = s.p->translate_response(&ctx, body, len, out, usage, err);
    sl_config_dispose(&s.cfg);
    return rc;
}

static void
expect_client_body(const char *name)
{
    struct sl_buf out;
    struct sl_usage usage;
    struct sl_errbuf err;
    char file[128];
    size_t len, want_len;
    char *body, *want;

    snprintf(file, sizeof(file), "%s.response.json", name);
    body = read_golden(file, &len);
    if (translate(body, len, 0, &out, &usage, &err) != SL_OK)
        SL_TEST_FAIL("translate_response on %s failed: %s", file, err.msg);
    snprintf(file, sizeof(file), "%s.client.json", name);
    want = read_golden(file, &want_len);
    ASSERT_MEM_EQ(want, want_len, out.data, out.len);
    free(body);
    free(want);
    sl_buf_dispose(&out);
}

TEST(anthropic_response_text)
{
    expect_client_body("text");
}

TEST(anthropic_response_tool_use)
{
    expect_client_body("tool-use");
}

TEST(anthropic_response_usage_with_cache)
{
    struct sl_buf out;
    struct sl_usage usage;
    struct sl_errbuf err;
    size_t len;
    char *body = read_golden("text.response.json", &len);

    ASSERT_OK(translate(body, len, 0, &out, &usage, &err));
    ASSERT_EQ(1, usage.present);
    ASSERT_EQ(20, usage.prompt_tokens); /* 12 input + 5 read + 3 written */
    ASSERT_EQ(4, usage.completion_tokens);
    ASSERT_EQ(24, usage.total_tokens);
    ASSERT_EQ(5, usage.cached_tokens);
    ASSERT_EQ(3, usage.cache_creation_tokens);
    free(body);
    sl_buf_dispose(&out);
}

TEST(anthropic_response_stop_reasons)
{
    static const struct {
        const char *stop;
        const char *want;
    } cases[] = {
        {"end_turn", "stop"},       {"stop_sequence", "stop"}, {"max_tokens", "length"},
        {"tool_use", "tool_calls"}, {"refusal", "refusal"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        char want[64];
        struct sl_buf out;
        struct sl_usage usage;
        struct sl_errbuf err;

        snprintf(body, sizeof(body),
                 "{\"id\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}],"
                 "\"stop_reason\":\"%s\"}",
                 cases[i].stop);
        ASSERT_OK(translate(body, strlen(body), 0, &out, &usage, &err));
        snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", cases[i].want);
        ASSERT_CONTAINS(out.data, want);
        sl_buf_dispose(&out);
    }
}

TEST(anthropic_response_native_model_rewritten)
{
    static const char body[] = "{\"model\":\"claude-3-5-haiku-20241022\",\"id\":\"m\","
                               "\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}";
    static const char want[] = "{\"model\":\"claude\",\"id\":\"m\",\"content\":[],"
                               "\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}";
    struct sl_buf out;
    struct sl_usage usage;
    struct sl_errbuf err;

    ASSERT_OK(translate(body, strlen(body), 1, &out, &usage, &err));
    ASSERT_MEM_EQ(want, strlen(want), out.data, out.len);
    ASSERT_EQ(5, usage.total_tokens);
    sl_buf_dispose(&out);
}

TEST(anthropic_response_malformed)
{
    static const char *const bodies[] = {
        "",
        "[1]",
        "<html></html>",
        "{\"a\":",
        "{\"id\":\"m\"}",
        "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\"}]}",
        "{\"content\":[{}]}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct sl_buf out;
        struct sl_usage usage;
        struct sl_errbuf err;
        enum sl_status rc = translate(bodies[i], strlen(bodies[i]), 0, &out, &usage, &err);

        if (rc != SL_ERR_UPSTREAM_PROTO)
            SL_TEST_FAIL("body \"%s\": expected SL_ERR_UPSTREAM_PROTO, got %d", bodies[i], (int)rc);
        sl_buf_dispose(&out);
    }
}

/* ---------------------------------------------------------------- streams */

/* Feeds `stream` in `step`-byte pieces for a client request `request` (JSON text). */
static void
run_stream(const char *request, int native, const char *stream, size_t len, size_t step,
           struct sl_stream_run *run)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    cJSON *body = parse_json(request, strlen(request), "request");

    setup_load(&s, default_yaml);
    ctx_init(&ctx, &s, body);
    ctx.stream = 1;
    ctx.native = native;
    sl_harness_run_stream(s.p, &ctx, stream, len, step, run);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
}

static const char usage_request[] = "{\"model\":\"claude\",\"messages\":[],\"stream\":true,"
                                    "\"stream_options\":{\"include_usage\":true}}";
static const char plain_request[] = "{\"model\":\"claude\",\"messages\":[],\"stream\":true}";

TEST(anthropic_stream_golden)
{
    static const size_t steps[] = {1, 7, 64, MAX_FILE_BYTES};
    size_t in_len, want_len;
    char *in = read_golden("tool-text.upstream.sse", &in_len);
    char *want = read_golden("tool-text.client.sse", &want_len);

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct sl_stream_run run;

        run_stream(usage_request, 0, in, in_len, steps[i], &run);
        ASSERT_EQ(SL_STREAM_END, run.last);
        if (run.out.len != want_len || memcmp(run.out.data, want, want_len) != 0)
            SL_TEST_FAIL("fed in %zu-byte pieces: expected\n%s\ngot\n%.*s", steps[i], want,
                         (int)run.out.len, run.out.data ? run.out.data : "");
        ASSERT_EQ(1, run.st.finish_count);
        ASSERT_EQ(1, run.st.saw_done);
        ASSERT_EQ(42, run.st.usage.prompt_tokens);
        ASSERT_EQ(15, run.st.usage.completion_tokens);
        ASSERT_EQ(2, run.st.usage.cached_tokens);
        sl_buf_dispose(&run.out);
    }
    free(in);
    free(want);
}

TEST(anthropic_stream_usage_chunk_only_when_asked)
{
    struct sl_stream_run run;
    size_t len;
    char *in = read_golden("tool-text.upstream.sse", &len);

    run_stream(plain_request, 0, in, len, 64, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_TRUE(strstr(run.out.data, "\"usage\"") == NULL);
    /* The usage is still tracked for spend and logs. */
    ASSERT_EQ(57, run.st.usage.total_tokens);
    sl_buf_dispose(&run.out);
    free(in);
}

TEST(anthropic_stream_error_event_fails)
{
    static const char stream[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{}}}\n\n"
        "event: error\n"
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
        "\"Overloaded\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct sl_stream_run run;
    size_t before;

    run_stream(plain_request, 0, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(2, run.events);
    ASSERT_EQ(529, run.err.status);
    ASSERT_STR_EQ("overloaded_error", run.err.type);
    ASSERT_STR_EQ("Overloaded", run.err.message);
    before = run.out.len;
    ASSERT_TRUE(before > 0); /* only the role chunk */
    ASSERT_TRUE(strstr(run.out.data, "error") == NULL);
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_error_types_map_to_status)
{
    static const struct {
        const char *type;
        int status;
    } cases[] = {
        {"invalid_request_error", 400},
        {"authentication_error", 401},
        {"permission_error", 403},
        {"not_found_error", 404},
        {"request_too_large", 413},
        {"rate_limit_error", 429},
        {"api_error", 500},
        {"overloaded_error", 529},
        {"something_new", 500},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char stream[256];
        struct sl_stream_run run;

        snprintf(stream, sizeof(stream),
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"%s\","
                 "\"message\":\"m\"}}\n\n",
                 cases[i].type);
        run_stream(plain_request, 0, stream, strlen(stream), 64, &run);
        ASSERT_EQ(SL_STREAM_FAILED, run.last);
        ASSERT_EQ(cases[i].status, run.err.status);
        ASSERT_EQ(0, run.out.len);
        sl_buf_dispose(&run.out);
    }
}

TEST(anthropic_stream_non_json_fails)
{
    static const char stream[] = "event: message_start\ndata: <html>\n\n";
    struct sl_stream_run run;

    run_stream(plain_request, 0, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(502, run.err.status);
    ASSERT_EQ(0, run.out.len);
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_json_delta_without_tool_fails)
{
    static const char stream[] =
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{\"}}\n\n";
    struct sl_stream_run run;

    run_stream(plain_request, 0, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(502, run.err.status);
    ASSERT_EQ(0, run.out.len);
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_two_tools_indexed)
{
    static const char stream[] =
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"t0\",\"name\":\"a\",\"input\":{}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"t1\",\"name\":\"b\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n";
    struct sl_stream_run run;

    run_stream(plain_request, 0, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_CONTINUE, run.last);
    ASSERT_CONTAINS(run.out.data, "\"tool_calls\":[{\"index\":0,\"id\":\"t0\"");
    ASSERT_CONTAINS(run.out.data, "\"tool_calls\":[{\"index\":1,\"id\":\"t1\"");
    ASSERT_CONTAINS(run.out.data,
                    "\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]");
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_server_tool_input_skipped)
{
    static const char stream[] =
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
        "\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{\\\"query\\\":1}\"}}\n\n";
    struct sl_stream_run run;

    run_stream(plain_request, 0, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_CONTINUE, run.last);
    ASSERT_EQ(2, run.events);
    ASSERT_EQ(0, run.out.len);
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_native_passthrough)
{
    static const char stream[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-x\","
        "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}  }\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
        "\"usage\":{\"output_tokens\":4}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    static const char want[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude\","
        "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}  }\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
        "\"usage\":{\"output_tokens\":4}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct sl_stream_run run;

    run_stream("{\"model\":\"claude\",\"messages\":[]}", 1, stream, sizeof(stream) - 1, 5, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_MEM_EQ(want, strlen(want), run.out.data, run.out.len);
    ASSERT_EQ(1, run.st.finish_count);
    ASSERT_STR_EQ("stop", run.st.finish_reason);
    ASSERT_EQ(13, run.st.usage.total_tokens);
    sl_buf_dispose(&run.out);
}

TEST(anthropic_stream_native_error_not_written)
{
    static const char stream[] = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                 "\"rate_limit_error\",\"message\":\"slow down\"}}\n\n";
    struct sl_stream_run run;

    run_stream("{\"model\":\"claude\",\"messages\":[]}", 1, stream, sizeof(stream) - 1, 64, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(429, run.err.status);
    ASSERT_STR_EQ("slow down", run.err.message);
    ASSERT_EQ(0, run.out.len);
    sl_buf_dispose(&run.out);
}

/* ---------------------------------------------------------------- errors */

TEST(anthropic_error_envelope_read)
{
    static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                               "\"message\":\"max_tokens: too big\"},\"request_id\":\"req_1\"}";
    struct sl_provider_setup s;
    struct sl_upstream_error e;

    setup_load(&s, default_yaml);
    s.p->parse_error(400, body, strlen(body), &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("invalid_request_error", e.type);
    ASSERT_STR_EQ("max_tokens: too big", e.message);
    s.p->parse_error(502, "<html>bad gateway</html>", 24, &e);
    ASSERT_EQ(502, e.status);
    sl_config_dispose(&s.cfg);
}

TEST(anthropic_error_without_message)
{
    static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}";
    struct sl_provider_setup s;
    struct sl_upstream_error e;

    setup_load(&s, default_yaml);
    s.p->parse_error(500, body, strlen(body), &e);
    ASSERT_EQ(500, e.status);
    ASSERT_STR_EQ("api_error", e.type);
    ASSERT_CONTAINS(e.message, "without a message");
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- recorded fixtures */

/* Checks that every frame of `out` is a chunk for model "claude", and collects the content,
 * the tool-call arguments and the number of finish reasons. */
static void
check_chunks(const struct sl_buf *out, struct sl_buf *text, struct sl_buf *args, int *finishes)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_sse_init(&p, MAX_EVENT_BYTES);
    ASSERT_OK(sl_sse_feed(&p, out->data != NULL ? out->data : "", out->len));
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        cJSON *c = parse_json(ev.data, ev.data_len, "chunk");
        const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "choices"), 0);
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
        const char *content = sl_json_get_string(delta, "content");
        const cJSON *call =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"), 0);
        const char *arg =
            sl_json_get_string(cJSON_GetObjectItemCaseSensitive(call, "function"), "arguments");

        ASSERT_STR_EQ("claude", sl_json_get_string(c, "model"));
        ASSERT_STR_EQ("chat.completion.chunk", sl_json_get_string(c, "object"));
        if (content != NULL)
            sl_buf_append_str(text, content);
        if (arg != NULL)
            sl_buf_append_str(args, arg);
        if (sl_json_get_string(choice, "finish_reason") != NULL)
            (*finishes)++;
        cJSON_Delete(c);
    }
    sl_sse_dispose(&p);
}

static void
expect_fixture_stream(const char *file, const char *want_text, const char *want_args,
                      const char *want_finish, int crlf)
{
    struct sl_buf text, args, input;
    size_t len;
    char *raw = read_fixture(file, &len);
    struct sl_stream_run run;
    int finishes = 0;

    sl_buf_init(&input, 0);
    for (size_t i = 0; i < len; i++) {
        if (crlf && raw[i] == '\n')
            sl_buf_append(&input, "\r", 1);
        sl_buf_append(&input, raw + i, 1);
    }
    run_stream(usage_request, 0, input.data, input.len, 13, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_EQ(1, run.st.finish_count);
    sl_buf_init(&text, 0);
    sl_buf_init(&args, 0);
    check_chunks(&run.out, &text, &args, &finishes);
    ASSERT_STR_EQ(want_text, text.data != NULL ? text.data : "");
    ASSERT_STR_EQ(want_args, args.data != NULL ? args.data : "");
    ASSERT_EQ(1, finishes);
    ASSERT_CONTAINS(run.out.data, want_finish);
    sl_buf_dispose(&text);
    sl_buf_dispose(&args);
    sl_buf_dispose(&input);
    sl_buf_dispose(&run.out);
    free(raw);
}

TEST(anthropic_fixture_stream_text_captured)
{
    expect_fixture_stream("stream-text.captured.txt", "[12345,67890]", "",
                          "\"finish_reason\":\"stop\"", 0);
}

TEST(anthropic_fixture_stream_text_sdk)
{
    expect_fixture_stream("stream-text.sdk-fixture.txt", "Hello there!", "",
                          "\"finish_reason\":\"stop\"", 0);
}

TEST(anthropic_fixture_stream_text_crlf)
{
    expect_fixture_stream("stream-text.sdk-fixture.txt", "Hello there!", "",
                          "\"finish_reason\":\"stop\"", 1);
}

TEST(anthropic_fixture_stream_tool_use)
{
    expect_fixture_stream("stream-tool-use.sdk-fixture.txt",
                          "I'll check the current weather in Paris for you.",
                          "{\"location\": \"Paris\"}", "\"finish_reason\":\"tool_calls\"", 0);
}

TEST(anthropic_fixture_stream_usage)
{
    size_t len;
    char *raw = read_fixture("stream-text.captured.txt", &len);
    struct sl_stream_run run;

    run_stream(usage_request, 0, raw, len, 64, &run);
    ASSERT_EQ(135, run.st.usage.prompt_tokens);
    ASSERT_EQ(10, run.st.usage.completion_tokens);
    ASSERT_CONTAINS(run.out.data, "\"prompt_tokens\":135,\"completion_tokens\":10");
    sl_buf_dispose(&run.out);
    free(raw);
}

TEST(anthropic_fixture_stream_error_event)
{
    size_t len;
    char *raw = read_fixture("stream-error-event.sdk-test.txt", &len);
    struct sl_stream_run run;

    run_stream(plain_request, 0, raw, len, 64, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(529, run.err.status);
    ASSERT_STR_EQ("overloaded_error", run.err.type);
    ASSERT_STR_EQ("Overloaded", run.err.message);
    ASSERT_EQ(0, run.out.len);
    sl_buf_dispose(&run.out);
    free(raw);
}

TEST(anthropic_fixture_stream_native_byte_faithful)
{
    size_t len;
    char *raw = read_fixture("stream-tool-use.sdk-fixture.txt", &len);
    struct sl_stream_run run;
    cJSON *start;
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    run_stream("{\"model\":\"claude\",\"messages\":[]}", 1, raw, len, 64, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_EQ(1, run.st.finish_count);
    /* Every event after message_start is written as received. */
    ASSERT_CONTAINS(run.out.data, strstr(raw, "event: content_block_start"));
    sl_sse_init(&p, MAX_EVENT_BYTES);
    ASSERT_OK(sl_sse_feed(&p, run.out.data, run.out.len));
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    start = parse_json(ev.data, ev.data_len, "message_start");
    ASSERT_STR_EQ("claude",
                  sl_json_get_string(cJSON_GetObjectItemCaseSensitive(start, "message"), "model"));
    cJSON_Delete(start);
    sl_sse_dispose(&p);
    sl_buf_dispose(&run.out);
    free(raw);
}

/* Translates the `body` member of a JSON fixture file. */
static void
translate_fixture(const char *file, struct sl_buf *out, struct sl_usage *usage)
{
    size_t len;
    char *raw = read_fixture(file, &len);
    cJSON *root = parse_json(raw, len, file);
    char *body = sl_json_print(cJSON_GetObjectItemCaseSensitive(root, "body"));
    struct sl_errbuf err;

    if (translate(body, strlen(body), 0, out, usage, &err) != SL_OK)
        SL_TEST_FAIL("translate_response on %s failed: %s", file, err.msg);
    cJSON_free(body);
    cJSON_Delete(root);
    free(raw);
}

TEST(anthropic_fixture_message_text)
{
    struct sl_buf out;
    struct sl_usage usage;

    translate_fixture("message-text.captured.json", &out, &usage);
    ASSERT_CONTAINS(out.data, "\"content\":\"The weather in SF is currently **20\xc2\xb0"
                              "C** (68\xc2\xb0"
                              "F) and **Sunny**!\"");
    ASSERT_CONTAINS(out.data, "\"finish_reason\":\"stop\"");
    ASSERT_CONTAINS(out.data, "\"model\":\"claude\"");
    ASSERT_EQ(705, usage.prompt_tokens);
    ASSERT_EQ(25, usage.completion_tokens);
    sl_buf_dispose(&out);
}

TEST(anthropic_fixture_message_tool_use)
{
    struct sl_buf out;
    struct sl_usage usage;

    translate_fixture("message-tool-use.captured.json", &out, &usage);
    ASSERT_CONTAINS(out.data, "\"tool_calls\":[{\"id\":\"toolu_013DU6hV4C1M8dJ32ybQFAFi\","
                              "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                              "\"arguments\":\"{\\\"location\\\":\\\"SF\\\",\\\"units\\\":"
                              "\\\"c\\\"}\"}}]");
    ASSERT_CONTAINS(out.data, "\"content\":null");
    ASSERT_CONTAINS(out.data, "\"finish_reason\":\"tool_calls\"");
    sl_buf_dispose(&out);
}

static void
expect_fixture_error(const char *file, int status, const char *type, const char *prefix)
{
    struct sl_provider_setup s;
    struct sl_upstream_error e;
    size_t len;
    char *raw = read_fixture(file, &len);
    cJSON *root = parse_json(raw, len, file);
    char *body = sl_json_print(cJSON_GetObjectItemCaseSensitive(root, "body"));

    setup_load(&s, default_yaml);
    s.p->parse_error(status, body, strlen(body), &e);
    ASSERT_EQ(status, e.status);
    ASSERT_STR_EQ(type, e.type);
    if (strncmp(e.message, prefix, strlen(prefix)) != 0)
        SL_TEST_FAIL("%s: message \"%s\" does not start with \"%s\"", file, e.message, prefix);
    cJSON_free(body);
    cJSON_Delete(root);
    free(raw);
    sl_config_dispose(&s.cfg);
}

TEST(anthropic_fixture_error_400)
{
    expect_fixture_error("error-400-invalid-request.captured.json", 400, "invalid_request_error",
                         "messages.0.content.1: unexpected `tool_use_id`");
}

TEST(anthropic_fixture_error_429)
{
    expect_fixture_error("error-429-rate-limit.captured.json", 429, "rate_limit_error",
                         "This request would exceed your organization's rate limit");
}

TEST(anthropic_fixture_error_529)
{
    expect_fixture_error("error-529-overloaded.sdk-test.json", 529, "overloaded_error",
                         "Overloaded");
}
