/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_test -- golden tests of the Azure OpenAI family (gateway/providers/azure.c).
 *
 * golden/azure/<case>.request.json must go upstream as exactly <case>.upstream.json, and a
 * response <case>.response.json must reach the client as exactly <case>.client.json. Error
 * bodies <case>.error.json and the stream filtered.upstream.sse check the content-filter
 * mapping. With SLUICE_FIXTURES set, the content-filter examples from Microsoft's docs are read
 * as well.
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


static void
setup_load(struct sl_provider_setup *s, const char *yaml)
{
    sl_harness_load(s, yaml, "azure_test.yaml");
}

static void
setup_default(struct sl_provider_setup *s)
{
    setup_load(s, "model_list:\n- model_name: my-azure\n  litellm_params:\n"
                  "    model: azure/gpt-4o-prod\n    api_key: az-key-1\n"
                  "    api_base: 'https://example-resource.openai.azure.com/'\n");
}

static char *
read_golden(const char *name, size_t *len)
{
    return sl_harness_read_golden("azure", name, len);
}

static enum sl_status
build(const struct sl_provider_setup *s, enum sl_call_kind kind, struct sl_upstream_request *up,
      struct sl_errbuf *err)
{
    size_t len;
    char *raw = read_golden("chat.request.json", &len);
    cJSON *body = sl_harness_parse_json(raw, len, "chat.request.json");
    struct sl_call_ctx ctx = {0};
    enum sl_status rc;

    ctx.kind = kind;
    ctx.deployment = s->d;
    ctx.requested_model = "my-azure";
    ctx.body = body;
    ctx.raw_body = raw;
    ctx.raw_len = len;
    memset(up, 0, sizeof(*up));
    sl_buf_init(&up->url, 0);
    sl_buf_init(&up->body, 0);
    rc = s->p->build_request(&ctx, up, err);
    cJSON_Delete(body);
    free(raw);
    return rc;
}

/* ---------------------------------------------------------------- requests */

TEST(azure_body_model_is_deployment)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    size_t len;
    char *expected = read_golden("chat.upstream.json", &len);

    setup_default(&s);
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    ASSERT_MEM_EQ(expected, len, up.body.data, up.body.len);
    free(expected);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(azure_url_per_kind_default_version)
{
    static const struct {
        enum sl_call_kind kind;
        const char *url;
    } cases[] = {
        {SL_KIND_CHAT, "https://example-resource.openai.azure.com/openai/deployments/gpt-4o-prod"
                       "/chat/completions?api-version=2025-02-01-preview"},
        {SL_KIND_EMBEDDING, "https://example-resource.openai.azure.com/openai/deployments/"
                            "gpt-4o-prod/embeddings?api-version=2025-02-01-preview"},
        {SL_KIND_COMPLETION, "https://example-resource.openai.azure.com/openai/deployments/"
                             "gpt-4o-prod/completions?api-version=2025-02-01-preview"},
    };

    unsetenv("AZURE_API_VERSION");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_provider_setup s;
        struct sl_upstream_request up;
        struct sl_errbuf err = {{0}};

        setup_default(&s);
        ASSERT_OK(build(&s, cases[i].kind, &up, &err));
        ASSERT_STR_EQ(cases[i].url, up.url.data);
        sl_harness_upstream_dispose(&up);
        sl_config_dispose(&s.cfg);
    }
}

TEST(azure_api_version_param_then_env)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    setenv("AZURE_API_VERSION", "2024-10-21", 1);
    setup_default(&s);
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    ASSERT_CONTAINS(up.url.data, "/chat/completions?api-version=2024-10-21");
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);

    setup_load(&s, "model_list:\n- model_name: m\n  litellm_params:\n    model: azure/d 1\n"
                   "    api_base: http://127.0.0.1:9\n    api_version: 2024-06-01\n");
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    ASSERT_STR_EQ("http://127.0.0.1:9/openai/deployments/d%201/chat/completions"
                  "?api-version=2024-06-01",
                  up.url.data);
    unsetenv("AZURE_API_VERSION");
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(azure_api_base_from_env)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    unsetenv("AZURE_API_BASE");
    setup_load(&s, "model_list:\n- model_name: m\n  litellm_params: {model: azure/dep}\n");
    ASSERT_EQ(SL_ERR_CONFIG, build(&s, SL_KIND_CHAT, &up, &err));
    ASSERT_CONTAINS(err.msg, "AZURE_API_BASE");
    sl_harness_upstream_dispose(&up);

    setenv("AZURE_API_BASE", "http://127.0.0.1:7/", 1);
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    ASSERT_CONTAINS(up.url.data, "http://127.0.0.1:7/openai/deployments/dep/chat/completions");
    unsetenv("AZURE_API_BASE");
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(azure_auth_headers)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    struct sl_buf text;

    setup_default(&s);
    setenv("AZURE_AD_TOKEN", "entra-token", 1);
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    sl_buf_init(&text, 0);
    sl_harness_headers_text(up.headers, &text);
    /* An api_key wins over the Entra ID token. */
    ASSERT_STR_EQ("Content-Type: application/json\napi-key: az-key-1\n", text.data);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);

    setup_load(&s, "model_list:\n- model_name: m\n  litellm_params:\n    model: azure/dep\n"
                   "    api_base: http://127.0.0.1:9\n    extra_headers: {X-Team: blue}\n");
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    sl_buf_reset(&text);
    sl_harness_headers_text(up.headers, &text);
    ASSERT_STR_EQ("Content-Type: application/json\nAuthorization: Bearer entra-token\n"
                  "X-Team: blue\n",
                  text.data);
    sl_harness_upstream_dispose(&up);

    unsetenv("AZURE_AD_TOKEN");
    ASSERT_OK(build(&s, SL_KIND_CHAT, &up, &err));
    sl_buf_reset(&text);
    sl_harness_headers_text(up.headers, &text);
    ASSERT_STR_EQ("Content-Type: application/json\nX-Team: blue\n", text.data);
    sl_buf_dispose(&text);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- responses and errors */

TEST(azure_response_model_rewritten)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx = {0};
    struct sl_errbuf err = {{0}};
    struct sl_usage usage = {0};
    struct sl_buf out;
    size_t len;
    size_t expected_len;
    char *body = read_golden("chat.response.json", &len);
    char *expected = read_golden("chat.client.json", &expected_len);

    setup_default(&s);
    ctx.deployment = s.d;
    ctx.requested_model = "my-azure";
    sl_buf_init(&out, 0);
    ASSERT_OK(s.p->translate_response(&ctx, body, len, &out, &usage, &err));
    ASSERT_MEM_EQ(expected, expected_len, out.data, out.len);
    ASSERT_EQ(4, usage.total_tokens);
    sl_buf_dispose(&out);
    free(body);
    free(expected);
    sl_config_dispose(&s.cfg);
}

static void
parse_golden_error(const char *name, long status, struct sl_upstream_error *e)
{
    struct sl_provider_setup s;
    size_t len;
    char *body = read_golden(name, &len);

    setup_default(&s);
    s.p->parse_error(status, body, len, e);
    free(body);
    sl_config_dispose(&s.cfg);
}

TEST(azure_error_content_filter)
{
    struct sl_upstream_error e;

    parse_golden_error("content-filter.error.json", 400, &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("content_policy_violation", e.type);
    ASSERT_STR_EQ("The response was filtered due to the prompt triggering content management "
                  "policy.",
                  e.message);
    ASSERT_STR_EQ("prompt", e.param);
}

TEST(azure_error_inner_error_spelling)
{
    struct sl_upstream_error e;

    parse_golden_error("inner-error.error.json", 400, &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("content_policy_violation", e.type);
    ASSERT_STR_EQ("Filtered by policy.", e.message);
}

TEST(azure_error_other_stays_openai)
{
    struct sl_upstream_error e;

    parse_golden_error("rate-limit.error.json", 429, &e);
    ASSERT_EQ(429, e.status);
    ASSERT_STR_EQ("", e.type);
    ASSERT_STR_EQ("Rate limit is exceeded. Try again in 7 seconds.", e.message);
}

/* ---------------------------------------------------------------- streams */

static void
run_stream(const char *stream, size_t len, struct sl_stream_run *run)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx = {0};

    setup_default(&s);
    ctx.deployment = s.d;
    ctx.requested_model = "my-azure";
    ctx.stream = 1;
    sl_harness_run_stream(s.p, &ctx, stream, len, 0, run);
    sl_config_dispose(&s.cfg);
}

TEST(azure_stream_content_filter_finish)
{
    struct sl_stream_run run;
    size_t len;
    char *stream = read_golden("filtered.upstream.sse", &len);

    run_stream(stream, len, &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(3, run.events);
    ASSERT_EQ(400, run.err.status);
    ASSERT_STR_EQ("content_policy_violation", run.err.type);
    ASSERT_CONTAINS(run.err.message, "content_filter");
    /* The chunks before the filtered one went through with the client's model name. */
    ASSERT_CONTAINS(run.out.data, "\"content\":\"Hel\"");
    ASSERT_CONTAINS(run.out.data, "\"model\":\"my-azure\"");
    sl_buf_dispose(&run.out);
    free(stream);
}

TEST(azure_stream_in_band_filter_error)
{
    static const char stream[] =
        "data: "
        "{\"error\":{\"message\":\"Filtered.\",\"code\":\"content_filter\",\"status\":400}}\n\n";
    struct sl_stream_run run;

    run_stream(stream, strlen(stream), &run);
    ASSERT_EQ(SL_STREAM_FAILED, run.last);
    ASSERT_EQ(400, run.err.status);
    ASSERT_STR_EQ("content_policy_violation", run.err.type);
    ASSERT_STR_EQ("Filtered.", run.err.message);
    sl_buf_dispose(&run.out);
}

TEST(azure_stream_plain_ends_on_done)
{
    static const char stream[] =
        "data: "
        "{\"id\":\"c\",\"model\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
        "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    struct sl_stream_run run;

    run_stream(stream, strlen(stream), &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_EQ(1, run.st.finish_count);
    sl_buf_dispose(&run.out);
}

/* ---------------------------------------------------------------- stream usage */

/* Builds the upstream body of a streamed chat call whose client body is `raw`. */
static void
build_stream_body(const char *raw, struct sl_buf *out)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_call_ctx ctx = {0};
    struct sl_errbuf err = {{0}};
    cJSON *body = sl_harness_parse_json(raw, strlen(raw), "request body");

    setup_default(&s);
    ctx.kind = SL_KIND_CHAT;
    ctx.deployment = s.d;
    ctx.requested_model = "my-azure";
    ctx.body = body;
    ctx.raw_body = raw;
    ctx.raw_len = strlen(raw);
    ctx.stream = 1;
    sl_harness_upstream_init(&up);
    if (s.p->build_request(&ctx, &up, &err) != SL_OK)
        SL_TEST_FAIL("build_request on %s failed: %s", raw, err.msg);
    sl_buf_init(out, 0);
    sl_buf_append(out, up.body.data, up.body.len);
    sl_harness_upstream_dispose(&up);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
}

TEST(azure_stream_body_requests_usage)
{
    static const char expected[] =
        "{\"model\":\"gpt-4o-prod\",\"stream\":true,\"stream_options\":{\"include_usage\":true,"
        "\"x_opt\":1}}";
    struct sl_buf out;

    build_stream_body("{\"model\":\"my-azure\",\"stream\":true,\"stream_options\":{\"x_opt\":1}}",
                      &out);
    ASSERT_MEM_EQ(expected, strlen(expected), out.data, out.len);
    sl_buf_dispose(&out);
}

TEST(azure_stream_body_unchanged_when_requested)
{
    static const char expected[] =
        "{\"model\":\"gpt-4o-prod\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    struct sl_buf out;

    build_stream_body("{\"model\":\"my-azure\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true}}",
                      &out);
    ASSERT_MEM_EQ(expected, strlen(expected), out.data, out.len);
    sl_buf_dispose(&out);
}

/* Runs `stream` as a streamed chat call whose client body is `body_json`. */
static void
run_stream_for_body(const char *body_json, const char *stream, struct sl_stream_run *run)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx = {0};
    cJSON *body = sl_harness_parse_json(body_json, strlen(body_json), "request body");

    setup_default(&s);
    ctx.kind = SL_KIND_CHAT;
    ctx.deployment = s.d;
    ctx.requested_model = "my-azure";
    ctx.body = body;
    ctx.stream = 1;
    sl_harness_run_stream(s.p, &ctx, stream, strlen(stream), 0, run);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
}

/* Azure's first chunk carries prompt_filter_results with no choices; its last one is usage. */
static const char usage_stream[] =
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
    "\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\n"
    "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":1,\"total_tokens\":10}}\n\n"
    "data: [DONE]\n\n";

TEST(azure_stream_usage_chunk_held_back)
{
    struct sl_stream_run run;

    run_stream_for_body("{\"stream\":true}", usage_stream, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_CONTAINS(run.out.data, "prompt_filter_results");
    ASSERT_CONTAINS(run.out.data, "\"content\":\"a\"");
    ASSERT_TRUE(strstr(run.out.data, "\"usage\"") == NULL);
    ASSERT_EQ(1, run.st.usage.present);
    ASSERT_EQ(9, run.st.usage.prompt_tokens);
    ASSERT_EQ(1, run.st.usage.completion_tokens);
    ASSERT_EQ(10, run.st.usage.total_tokens);
    sl_buf_dispose(&run.out);
}

TEST(azure_stream_usage_chunk_sent_when_requested)
{
    struct sl_stream_run run;

    run_stream_for_body("{\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                        usage_stream, &run);
    ASSERT_EQ(SL_STREAM_END, run.last);
    ASSERT_CONTAINS(run.out.data, "\"choices\":[],\"usage\":{\"prompt_tokens\":9");
    ASSERT_EQ(10, run.st.usage.total_tokens);
    sl_buf_dispose(&run.out);
}

/* ---------------------------------------------------------------- recorded examples */

/* Reads a docs example without its leading '#' comment lines. */
static char *
read_docs_fixture(const char *name, size_t *len)
{
    char path[PATH_MAX];
    size_t raw_len;
    char *raw;
    struct sl_buf b;
    const char *p;

    snprintf(path, sizeof(path), "%s/azure-openai/%s", sl_test_fixtures_dir(), name);
    raw = sl_harness_read_path(path, &raw_len);
    sl_buf_init(&b, 0);
    p = raw;
    while (p < raw + raw_len) {
        const char *nl = memchr(p, '\n', (size_t)(raw + raw_len - p));
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(raw + raw_len - p);

        if (p[0] != '#')
            sl_buf_append(&b, p, n);
        p += n;
    }
    free(raw);
    return sl_buf_take(&b, len);
}

TEST(azure_fixture_content_filter_short)
{
    struct sl_provider_setup s;
    struct sl_upstream_error e;
    struct sl_buf body;
    size_t len;
    char *fragment = read_docs_fixture("content-filter-error-short.docs.txt", &len);

    /* The docs print this body without its enclosing braces. */
    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{");
    sl_buf_append(&body, fragment, len);
    sl_buf_append_str(&body, "}");
    setup_default(&s);
    s.p->parse_error(400, body.data, body.len, &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("content_policy_violation", e.type);
    ASSERT_STR_EQ("The response was filtered", e.message);
    sl_buf_dispose(&body);
    free(fragment);
    sl_config_dispose(&s.cfg);
}

TEST(azure_fixture_content_filter_full)
{
    struct sl_provider_setup s;
    struct sl_upstream_error e;
    size_t len;
    char *body = read_docs_fixture("content-filter-error.docs.txt", &len);

    /* As published, this example has raw line breaks inside a string, which strict JSON
     * forbids. The refusal must be recognised either way. */
    setup_default(&s);
    s.p->parse_error(400, body, len, &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("content_policy_violation", e.type);
    ASSERT_CONTAINS(e.message, "The response was filtered due to the prompt triggering Azure");
    free(body);
    sl_config_dispose(&s.cfg);
}
