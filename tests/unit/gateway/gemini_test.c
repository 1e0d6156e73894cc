/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemini_test -- golden tests of the Gemini family (gateway/providers/gemini.c).
 *
 * golden/gemini/<case>.request.json must become exactly <case>.upstream.json; a provider body
 * <case>.response.json must reach the client as exactly <case>.client.json; a provider stream
 * <case>.upstream.sse must come out as exactly <case>.client.sse. With SLUICE_FIXTURES set,
 * recorded Gemini bodies, streams and errors are translated and checked field by field.
 * Set SL_GOLDEN_DUMP to a directory to also write each actual output there for review.
 */
#include <limits.h>
#include <stdlib.h>

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

#define MAX_EVENT_BYTES (256 * 1024)
#define NOW_S           1700000000

static void
setup_load(struct sl_provider_setup *s, const char *yaml)
{
    sl_harness_load(s, yaml, "gemini_test.yaml");
}

static void
setup_default(struct sl_provider_setup *s)
{
    setup_load(s, "model_list:\n- model_name: flash\n  litellm_params:\n"
                  "    model: gemini/gemini-2.0-flash\n    api_key: test-key-123\n");
}

static char *
read_golden(const char *name, size_t *len)
{
    return sl_harness_read_golden("gemini", name, len);
}

static char *
read_fixture(const char *name, size_t *len)
{
    return sl_harness_read_fixture("gemini", name, len);
}

/* Compares `actual` with golden `name`, after writing it to $SL_GOLDEN_DUMP when set. */
static void
expect_golden(const char *name, const char *actual, size_t actual_len)
{
    const char *dump = getenv("SL_GOLDEN_DUMP");
    size_t len;
    char *expected;

    if (dump != NULL && dump[0] != '\0') {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dump, name);
        f = fopen(path, "wb");
        if (f != NULL) {
            fwrite(actual, 1, actual_len, f);
            fclose(f);
        }
    }
    expected = read_golden(name, &len);
    ASSERT_MEM_EQ(expected, len, actual, actual_len);
    free(expected);
}

/* Runs build_request on `raw` and returns its status. */
static enum sl_status
build_raw(const struct sl_provider_setup *s, const char *raw, enum sl_call_kind kind, int stream,
          struct sl_upstream_request *up, struct sl_errbuf *err)
{
    cJSON *body = sl_harness_parse_json(raw, strlen(raw), "request");
    struct sl_call_ctx ctx = {0};
    enum sl_status rc;

    ctx.kind = kind;
    ctx.deployment = s->d;
    ctx.requested_model = "flash";
    ctx.body = body;
    ctx.raw_body = raw;
    ctx.raw_len = strlen(raw);
    ctx.stream = stream;
    ctx.now_unix_s = NOW_S;
    sl_harness_upstream_init(up);
    rc = s->p->build_request(&ctx, up, err);
    cJSON_Delete(body);
    return rc;
}

static void
expect_request_golden(const char *name)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    char file[128];
    size_t len;
    char *raw;

    setup_default(&s);
    snprintf(file, sizeof(file), "%s.request.json", name);
    raw = read_golden(file, &len);
    if (build_raw(&s, raw, SL_KIND_CHAT, 0, &up, &err) != SL_OK)
        SL_TEST_FAIL("build_request on %s failed: %s", file, err.msg);
    snprintf(file, sizeof(file), "%s.upstream.json", name);
    expect_golden(file, up.body.data, up.body.len);
    free(raw);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- requests */

TEST(gemini_request_system_roles_and_config)
{
    expect_request_golden("chat-basic");
}

TEST(gemini_request_tools_and_results)
{
    expect_request_golden("tools");
}

TEST(gemini_request_image_and_json_mode)
{
    expect_request_golden("image");
}

TEST(gemini_url_and_key_header)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    struct sl_buf text;
    static const char raw[] =
        "{\"model\":\"flash\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";

    setup_default(&s);
    ASSERT_OK(build_raw(&s, raw, SL_KIND_CHAT, 0, &up, &err));
    ASSERT_STR_EQ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash"
                  ":generateContent",
                  up.url.data);
    sl_buf_init(&text, 0);
    sl_harness_headers_text(up.headers, &text);
    ASSERT_STR_EQ("Content-Type: application/json\nx-goog-api-key: test-key-123\n", text.data);
    sl_buf_dispose(&text);
    sl_harness_upstream_dispose(&up);

    ASSERT_OK(build_raw(&s, raw, SL_KIND_CHAT, 1, &up, &err));
    ASSERT_STR_EQ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash"
                  ":streamGenerateContent?alt=sse",
                  up.url.data);
    if (strstr(up.url.data, "test-key-123") != NULL)
        SL_TEST_FAIL("the API key is in the URL: %s", up.url.data);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(gemini_url_api_base_forms)
{
    static const char *const cases[][2] = {
        {"http://127.0.0.1:9/", "http://127.0.0.1:9/v1beta/models/m%2Fx:generateContent"},
        {"http://127.0.0.1:9/v1beta", "http://127.0.0.1:9/v1beta/models/m%2Fx:generateContent"},
        {"http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1/models/m%2Fx:generateContent"},
    };
    static const char raw[] =
        "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_provider_setup s;
        struct sl_upstream_request up;
        struct sl_errbuf err = {{0}};
        char yaml[256];

        snprintf(yaml, sizeof(yaml),
                 "model_list:\n- model_name: g\n  litellm_params:\n    model: gemini/m/x\n"
                 "    api_base: '%s'\n",
                 cases[i][0]);
        setup_load(&s, yaml);
        ASSERT_OK(build_raw(&s, raw, SL_KIND_CHAT, 0, &up, &err));
        ASSERT_STR_EQ(cases[i][1], up.url.data);
        sl_harness_upstream_dispose(&up);
        sl_config_dispose(&s.cfg);
    }
}

TEST(gemini_url_strips_models_prefix)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    static const char raw[] =
        "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";

    setup_load(
        &s, "model_list:\n- model_name: g\n  litellm_params: {model: gemini/models/gemini-pro}\n");
    ASSERT_OK(build_raw(&s, raw, SL_KIND_CHAT, 0, &up, &err));
    ASSERT_STR_EQ(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent",
        up.url.data);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(gemini_key_from_google_api_key)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    struct sl_buf text;
    static const char raw[] =
        "{\"model\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";

    setenv("GOOGLE_API_KEY", "google-key-9", 1);
    setup_load(&s, "model_list:\n- model_name: g\n  litellm_params: {model: gemini/m}\n");
    ASSERT_OK(build_raw(&s, raw, SL_KIND_CHAT, 0, &up, &err));
    sl_buf_init(&text, 0);
    sl_harness_headers_text(up.headers, &text);
    ASSERT_CONTAINS(text.data, "x-goog-api-key: google-key-9\n");
    unsetenv("GOOGLE_API_KEY");
    sl_buf_dispose(&text);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

static void
expect_invalid(const char *raw, enum sl_call_kind kind, const char *message)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    setup_default(&s);
    ASSERT_EQ(SL_ERR_INVALID, build_raw(&s, raw, kind, 0, &up, &err));
    ASSERT_CONTAINS(err.msg, message);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(gemini_request_rejects_unsupported)
{
    expect_invalid("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                   "\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}",
                   SL_KIND_CHAT, "data URLs");
    expect_invalid("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
                   "\"function\":{\"name\":\"f\",\"arguments\":\"[1\"}}]}]}",
                   SL_KIND_CHAT, "not a JSON object");
    expect_invalid(
        "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
        SL_KIND_CHAT, "matches no earlier");
    expect_invalid("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", SL_KIND_CHAT,
                   "role \"wizard\"");
    expect_invalid("{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", SL_KIND_CHAT,
                   "at least one user");
    expect_invalid("{\"prompt\":\"x\"}", SL_KIND_COMPLETION, "/v1/completions");
    expect_invalid("{\"input\":[[1,2]]}", SL_KIND_EMBEDDING, "token arrays");
}

TEST(gemini_embedding_request)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    setup_load(&s, "model_list:\n- model_name: emb\n  litellm_params: {model: "
                   "gemini/text-embedding-004, api_key: k}\n");
    ASSERT_OK(build_raw(&s, "{\"input\":[\"a\",\"b\"]}", SL_KIND_EMBEDDING, 0, &up, &err));
    ASSERT_STR_EQ("https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004"
                  ":batchEmbedContents",
                  up.url.data);
    ASSERT_STR_EQ("{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":"
                  "[{\"text\":\"a\"}]}},{\"model\":\"models/text-embedding-004\",\"content\":"
                  "{\"parts\":[{\"text\":\"b\"}]}}]}",
                  up.body.data);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- responses */

static enum sl_status
translate_text(const char *request, enum sl_call_kind kind, const char *body, size_t len,
               struct sl_buf *out, struct sl_usage *usage, struct sl_errbuf *err)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx = {0};
    cJSON *req = sl_harness_parse_json(request, strlen(request), "request");
    enum sl_status rc;

    setup_default(&s);
    ctx.kind = kind;
    ctx.deployment = s.d;
    ctx.requested_model = "flash";
    ctx.body = req;
    ctx.now_unix_s = NOW_S;
    memset(usage, 0, sizeof(*usage));
    rc = s.p->translate_response(&ctx, body, len, out, usage, err);
    cJSON_Delete(req);
    sl_config_dispose(&s.cfg);
    return rc;
}

static void
expect_response_golden(const char *name, struct sl_usage *usage)
{
    struct sl_buf out;
    struct sl_errbuf err = {{0}};
    char file[128];
    size_t len;
    char *body;

    snprintf(file, sizeof(file), "%s.response.json", name);
    body = read_golden(file, &len);
    sl_buf_init(&out, 0);
    if (translate_text("{}", SL_KIND_CHAT, body, len, &out, usage, &err) != SL_OK)
        SL_TEST_FAIL("translate_response on %s failed: %s", file, err.msg);
    snprintf(file, sizeof(file), "%s.client.json", name);
    expect_golden(file, out.data, out.len);
    sl_buf_dispose(&out);
    free(body);
}

TEST(gemini_response_text_two_candidates)
{
    struct sl_usage usage;

    expect_response_golden("text", &usage);
    ASSERT_EQ(1, usage.present);
    ASSERT_EQ(7, usage.prompt_tokens);
    ASSERT_EQ(5, usage.completion_tokens);
    ASSERT_EQ(12, usage.total_tokens);
    ASSERT_EQ(3, usage.cached_tokens);
    ASSERT_EQ(0, usage.reasoning_tokens);
}

TEST(gemini_response_function_calls)
{
    struct sl_usage usage;

    expect_response_golden("tools", &usage);
    ASSERT_EQ(12, usage.completion_tokens);
    ASSERT_EQ(32, usage.total_tokens);
    /* thoughtsTokenCount is part of the completion and reported as reasoning. */
    ASSERT_EQ(4, usage.reasoning_tokens);
}

TEST(gemini_response_prompt_blocked)
{
    struct sl_usage usage;

    expect_response_golden("blocked", &usage);
}

TEST(gemini_response_finish_safety)
{
    struct sl_usage usage;

    expect_response_golden("safety", &usage);
    ASSERT_EQ(0, usage.present);
}

TEST(gemini_response_bad_bodies)
{
    static const char *const bodies[] = {
        "[]",
        "{\"candidates\":[]}",
        "not json",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct sl_buf out;
        struct sl_usage usage;
        struct sl_errbuf err = {{0}};

        sl_buf_init(&out, 0);
        ASSERT_EQ(SL_ERR_UPSTREAM_PROTO, translate_text("{}", SL_KIND_CHAT, bodies[i],
                                                        strlen(bodies[i]), &out, &usage, &err));
        sl_buf_dispose(&out);
    }
}

TEST(gemini_embedding_response)
{
    static const char body[] = "{\"embeddings\":[{\"values\":[0.5,-1]},{\"values\":[2]}]}";
    struct sl_buf out;
    struct sl_usage usage;
    struct sl_errbuf err = {{0}};

    sl_buf_init(&out, 0);
    ASSERT_OK(translate_text("{\"input\":[\"a\",\"b\"]}", SL_KIND_EMBEDDING, body, strlen(body),
                             &out, &usage, &err));
    ASSERT_STR_EQ("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                  "\"embedding\":[0.5,-1]},{\"object\":\"embedding\",\"index\":1,\"embedding\":"
                  "[2]}],\"model\":\"flash\",\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}",
                  out.data);
    sl_buf_dispose(&out);
}

TEST(gemini_embedding_response_base64)
{
    static const char body[] = "{\"embeddings\":[{\"values\":[0.5,-1]}]}";
    struct sl_buf out;
    struct sl_usage usage;
    struct sl_errbuf err = {{0}};

    /* 0.5 and -1 as little-endian float32 are 00 00 00 3f and 00 00 80 bf. */
    sl_buf_init(&out, 0);
    ASSERT_OK(translate_text("{\"input\":\"a\",\"encoding_format\":\"base64\"}", SL_KIND_EMBEDDING,
                             body, strlen(body), &out, &usage, &err));
    ASSERT_CONTAINS(out.data, "\"embedding\":\"AAAAPwAAgL8=\"");
    sl_buf_dispose(&out);
}

/* ---------------------------------------------------------------- streams */

/* Feeds `stream` through the SSE parser and translate_event until it ends or fails. */
static void
run_stream(const char *request, const char *stream, size_t len, struct sl_stream_run *run)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx = {0};
    cJSON *req = sl_harness_parse_json(request, strlen(request), "request");

    setup_default(&s);
    ctx.deployment = s.d;
    ctx.requested_model = "flash";
    ctx.body = req;
    ctx.stream = 1;
    ctx.now_unix_s = NOW_S;
    sl_harness_run_stream(s.p, &ctx, stream, len, 0, run);
    cJSON_Delete(req);
    sl_config_dispose(&s.cfg);
}

static void
expect_stream_golden(const char *name, const char *request)
{
    struct sl_stream_run run;
    char file[128];
    size_t len;
    char *stream;

    snprintf(file, sizeof(file), "%s.upstream.sse", name);
    stream = read_golden(file, &len);
    run_stream(request, stream, len, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    snprintf(file, sizeof(file), "%s.client.sse", name);
    expect_golden(file, run.out.data, run.out.len);
    sl_buf_dispose(&run.out);
    free(stream);
}

TEST(gemini_stream_text_with_usage)
{
    expect_stream_golden("text", "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
}

TEST(gemini_stream_tool_calls)
{
    expect_stream_golden("tools", "{\"stream\":true}");
}

TEST(gemini_stream_prompt_blocked)
{
    expect_stream_golden("blocked", "{\"stream\":true}");
}

TEST(gemini_stream_waits_for_all_choices)
{
    static const char stream[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":"
        "\"STOP\",\"index\":0}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":"
        "\"MAX_TOKENS\",\"index\":1}]}\n\n";
    struct sl_stream_run run;

    run_stream("{\"n\":2}", stream, strlen(stream), &run);
    ASSERT_EQ(2, run.events);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_EQ(2, run.st.finish_count);
    ASSERT_STR_EQ("stop", run.st.finish_reason);
    ASSERT_CONTAINS(run.out.data, "\"finish_reason\":\"length\"");
    sl_buf_dispose(&run.out);
}

TEST(gemini_stream_in_band_error)
{
    static const char stream[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0}]}\n\n"
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":"
        "\"UNAVAILABLE\"}}\n\n";
    struct sl_stream_run run;

    run_stream("{}", stream, strlen(stream), &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(503, run.err.status);
    ASSERT_STR_EQ("The model is overloaded.", run.err.message);
    ASSERT_STR_EQ("service_unavailable_error", run.err.type);
    sl_buf_dispose(&run.out);
}

TEST(gemini_stream_bad_event)
{
    static const char stream[] = "data: [1,2]\n\n";
    struct sl_stream_run run;

    run_stream("{}", stream, strlen(stream), &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(502, run.err.status);
    sl_buf_dispose(&run.out);
}

/* ---------------------------------------------------------------- errors */

TEST(gemini_error_google_envelope)
{
    static const char body[] = "{\"error\":{\"code\":429,\"message\":\"Quota "
                               "exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\"}}";
    struct sl_provider_setup s;
    struct sl_upstream_error e;

    setup_default(&s);
    s.p->parse_error(429, body, strlen(body), &e);
    ASSERT_EQ(429, e.status);
    ASSERT_STR_EQ("Quota exceeded.", e.message);
    ASSERT_STR_EQ("rate_limit_error", e.type);
    s.p->parse_error(502, "<html>bad gateway</html>", 24, &e);
    ASSERT_EQ(502, e.status);
    ASSERT_CONTAINS(e.message, "bad gateway");
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- recorded fixtures */

/* Collects the content, the finish reasons (as "reason;" each) and the tool calls of `frames`. */
static void
collect_stream(const struct sl_buf *frames, struct sl_buf *content, struct sl_buf *finish,
               cJSON **tool_calls)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    *tool_calls = cJSON_CreateArray();
    sl_sse_init(&p, MAX_EVENT_BYTES);
    ASSERT_OK(sl_sse_feed(&p, frames->data, frames->len));
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        cJSON *chunk = sl_harness_parse_json(ev.data, ev.data_len, "client chunk");
        const cJSON *choice =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
        const char *text = sl_json_get_string(delta, "content");
        const char *reason = sl_json_get_string(choice, "finish_reason");
        const cJSON *call;

        ASSERT_STR_EQ("chat.completion.chunk", sl_json_get_string(chunk, "object"));
        ASSERT_STR_EQ("flash", sl_json_get_string(chunk, "model"));
        if (text != NULL)
            sl_buf_append_str(content, text);
        if (reason != NULL)
            sl_buf_printf(finish, "%s;", reason);
        cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"))
            cJSON_AddItemToArray(*tool_calls, cJSON_Duplicate(call, 1));
        cJSON_Delete(chunk);
    }
    sl_sse_dispose(&p);
}

struct stream_facts {
    struct sl_buf content;
    struct sl_buf finish;
    cJSON *tool_calls;
    struct sl_stream_run run;
};

static void
run_fixture_stream(const char *name, struct stream_facts *f)
{
    size_t len;
    char *stream = read_fixture(name, &len);

    run_stream("{\"stream\":true}", stream, len, &f->run);
    sl_buf_init(&f->content, 0);
    sl_buf_init(&f->finish, 0);
    collect_stream(&f->run.out, &f->content, &f->finish, &f->tool_calls);
    free(stream);
}

static void
stream_facts_dispose(struct stream_facts *f)
{
    sl_buf_dispose(&f->content);
    sl_buf_dispose(&f->finish);
    sl_buf_dispose(&f->run.out);
    cJSON_Delete(f->tool_calls);
}

TEST(gemini_fixture_stream_text)
{
    struct stream_facts f;

    run_fixture_stream("stream-text.sdk-testdata.txt", &f);
    ASSERT_EQ(SL_STREAM_END, f.run.last);
    ASSERT_STR_EQ("The capital of Wyoming is **Cheyenne**.\n", f.content.data);
    ASSERT_STR_EQ("stop;", f.finish.data);
    ASSERT_EQ(7, f.run.st.usage.prompt_tokens);
    ASSERT_EQ(10, f.run.st.usage.completion_tokens);
    ASSERT_EQ(17, f.run.st.usage.total_tokens);
    ASSERT_CONTAINS(f.run.out.data, "\"role\":\"assistant\"");
    stream_facts_dispose(&f);
}

TEST(gemini_fixture_stream_function_call)
{
    struct stream_facts f;
    const cJSON *call;
    const cJSON *fn;

    run_fixture_stream("stream-function-call.sdk-testdata.txt", &f);
    ASSERT_EQ(SL_STREAM_END, f.run.last);
    ASSERT_STR_EQ("tool_calls;", f.finish.data);
    ASSERT_EQ(1, cJSON_GetArraySize(f.tool_calls));
    call = cJSON_GetArrayItem(f.tool_calls, 0);
    fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    ASSERT_STR_EQ("getTemperature", sl_json_get_string(fn, "name"));
    ASSERT_STR_EQ("{\"city\":\"San Jose\"}", sl_json_get_string(fn, "arguments"));
    ASSERT_STR_EQ("function", sl_json_get_string(call, "type"));
    ASSERT_TRUE(strncmp(sl_json_get_string(call, "id"), "call_", 5) == 0);
    stream_facts_dispose(&f);
}

TEST(gemini_fixture_stream_finish_safety)
{
    struct stream_facts f;

    run_fixture_stream("stream-finish-safety.sdk-testdata.txt", &f);
    ASSERT_EQ(SL_STREAM_END, f.run.last);
    ASSERT_STR_EQ("No", f.content.data);
    ASSERT_STR_EQ("content_filter;", f.finish.data);
    stream_facts_dispose(&f);
}

TEST(gemini_fixture_stream_prompt_blocked)
{
    struct stream_facts f;

    run_fixture_stream("stream-prompt-blocked.sdk-testdata.txt", &f);
    ASSERT_EQ(SL_STREAM_END, f.run.last);
    ASSERT_EQ(0, (int)f.content.len);
    ASSERT_STR_EQ("content_filter;", f.finish.data);
    stream_facts_dispose(&f);
}

static cJSON *
translate_fixture(const char *name, struct sl_usage *usage)
{
    struct sl_buf out;
    struct sl_errbuf err = {{0}};
    size_t len;
    char *body = read_fixture(name, &len);
    cJSON *root;

    sl_buf_init(&out, 0);
    if (translate_text("{}", SL_KIND_CHAT, body, len, &out, usage, &err) != SL_OK)
        SL_TEST_FAIL("translate_response on %s failed: %s", name, err.msg);
    root = sl_harness_parse_json(out.data, out.len, name);
    sl_buf_dispose(&out);
    free(body);
    return root;
}

TEST(gemini_fixture_generate_content)
{
    struct sl_usage usage;
    cJSON *root = translate_fixture("generate-content.sdk-testdata.json", &usage);
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");

    ASSERT_STR_EQ("chat.completion", sl_json_get_string(root, "object"));
    ASSERT_STR_EQ("Google's headquarters, also known as the Googleplex, is located in "
                  "**Mountain View, California**.\n",
                  sl_json_get_string(message, "content"));
    ASSERT_STR_EQ("stop", sl_json_get_string(choice, "finish_reason"));
    ASSERT_EQ(7, usage.prompt_tokens);
    ASSERT_EQ(22, usage.completion_tokens);
    ASSERT_EQ(29, usage.total_tokens);
    cJSON_Delete(root);
}

TEST(gemini_fixture_generate_content_function_call)
{
    struct sl_usage usage;
    cJSON *root = translate_fixture("generate-content-function-call.sdk-testdata.json", &usage);
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *call =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(message, "tool_calls"), 0);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");

    ASSERT_STR_EQ("chatcmpl-38CHaLjMG6TujrEPtvTiuQk", sl_json_get_string(root, "id"));
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(message, "content")));
    ASSERT_CONTAINS(sl_json_get_string(message, "reasoning_content"), "New Year's Eve");
    ASSERT_STR_EQ("now", sl_json_get_string(fn, "name"));
    ASSERT_STR_EQ("{}", sl_json_get_string(fn, "arguments"));
    ASSERT_STR_EQ("tool_calls", sl_json_get_string(choice, "finish_reason"));
    ASSERT_EQ(38, usage.prompt_tokens);
    ASSERT_EQ(509, usage.completion_tokens);
    ASSERT_EQ(547, usage.total_tokens);
    cJSON_Delete(root);
}

static void
expect_fixture_error(const char *name, int status, const char *type, const char *message)
{
    struct sl_provider_setup s;
    struct sl_upstream_error e;
    size_t len;
    char *body = read_fixture(name, &len);

    setup_default(&s);
    s.p->parse_error(status, body, len, &e);
    ASSERT_EQ(status, e.status);
    ASSERT_STR_EQ(type, e.type);
    ASSERT_CONTAINS(e.message, message);
    free(body);
    sl_config_dispose(&s.cfg);
}

TEST(gemini_fixture_errors)
{
    expect_fixture_error("error-400-api-key.sdk-testdata.json", 400, "invalid_request_error",
                         "API key not valid");
    expect_fixture_error("error-404-unknown-model.sdk-testdata.json", 404, "not_found_error",
                         "not found");
    expect_fixture_error("error-429-quota.sdk-testdata.json", 429, "rate_limit_error",
                         "Quota exceeded for quota metric");
}
