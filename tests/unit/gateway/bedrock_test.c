/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bedrock_test -- golden tests of the Bedrock family (gateway/providers/bedrock.c).
 *
 * A client request golden/bedrock/<case>.request.json must become exactly the Converse body
 * <case>.upstream.json, signed for service "bedrock"; a Converse response <case>.response.json
 * must reach the client as <case>.client.json (the random id aside). Streams are built as real
 * event-stream frames, decoded by gateway/http/decoder.c and translated. With SLUICE_FIXTURES
 * set, the ConverseStream SDK snapshot frames and the documented event sequence also go
 * through the decoder and translator.
 */
#include <limits.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/eventstream.h"
#include "common/json.h"
#include "common/sigv4.h"
#include "fixtures.h"
#include "gateway/http/decoder.h"
#include "gateway/providers/provider.h"
#include "provider_harness.h"
#include "test.h"

#ifndef SL_GOLDEN_DIR
#error "SL_GOLDEN_DIR must name tests/unit/gateway/golden"
#endif

#define NOW 1733270400 /* 2024-12-04T00:00:00Z */

static void
setup_load(struct sl_provider_setup *s, const char *params)
{
    char yaml[1024];

    snprintf(yaml, sizeof(yaml), "model_list:\n- model_name: claude\n  litellm_params:\n%s",
             params);
    sl_harness_load(s, yaml, "bedrock_test.yaml");
    ASSERT_TRUE(s->p != NULL);
}

static const char *const default_params =
    "    model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0\n"
    "    aws_access_key_id: AKIDTEST\n"
    "    aws_secret_access_key: secret/TEST+key\n"
    "    aws_region_name: eu-west-3\n";

static char *
read_golden(const char *name, size_t *len)
{
    return sl_harness_read_golden("bedrock", name, len);
}

static cJSON *
parse_json(const char *text, size_t len)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    if (sl_json_parse(text, len, SL_JSON_MAX_DEPTH, &root, &err) != SL_OK)
        SL_TEST_FAIL("JSON does not parse: %s: %.*s", err.msg, (int)len, text);
    return root;
}

static void
ctx_init(struct sl_call_ctx *ctx, const struct sl_provider_setup *s, const cJSON *body, int stream)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->kind = SL_KIND_CHAT;
    ctx->inbound = SL_FORMAT_OPENAI;
    ctx->deployment = s->d;
    ctx->requested_model = "claude";
    ctx->body = body;
    ctx->stream = stream;
    ctx->now_unix_s = NOW;
}

static const char *
find_header(const struct curl_slist *h, const char *name)
{
    size_t n = strlen(name);

    for (; h != NULL; h = h->next)
        if (strncasecmp(h->data, name, n) == 0 && h->data[n] == ':')
            return h->data + n + 2;
    return NULL;
}

static enum sl_status
build(const struct sl_provider_setup *s, const char *body_json, int stream,
      struct sl_upstream_request *up, struct sl_errbuf *err)
{
    cJSON *body = parse_json(body_json, strlen(body_json));
    struct sl_call_ctx ctx;
    enum sl_status rc;

    ctx_init(&ctx, s, body, stream);
    memset(up, 0, sizeof(*up));
    sl_buf_init(&up->url, 0);
    sl_buf_init(&up->body, 0);
    rc = s->p->build_request(&ctx, up, err);
    cJSON_Delete(body);
    return rc;
}

/* ---------------------------------------------------------------- requests */

TEST(bedrock_request_golden)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    size_t len;
    size_t want_len;
    char *request = read_golden("chat.request.json", &len);
    char *want = read_golden("chat.upstream.json", &want_len);

    setup_load(&s, default_params);
    ASSERT_OK(build(&s, request, 0, &up, &err));
    while (want_len > 0 && want[want_len - 1] == '\n')
        want_len--;
    ASSERT_MEM_EQ(want, want_len, up.body.data, up.body.len);
    ASSERT_STR_EQ("https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
                  "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
                  up.url.data);
    ASSERT_STR_EQ("bedrock-runtime.eu-west-3.amazonaws.com", find_header(up.headers, "Host"));
    ASSERT_STR_EQ("application/json", find_header(up.headers, "Accept"));
    ASSERT_STR_EQ("20241204T000000Z", find_header(up.headers, "X-Amz-Date"));
    ASSERT_TRUE(find_header(up.headers, "X-Amz-Security-Token") == NULL);
    sl_harness_upstream_dispose(&up);
    free(request);
    free(want);
    sl_config_dispose(&s.cfg);
}

/* The Authorization header must verify: recompute it from the request as a server would,
 * with the same credentials, and compare. */
TEST(bedrock_request_signature_verifies)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    struct sl_sigv4_output check;
    const char *authz;
    char body_hash[SL_SIGV4_HEX_LEN + 1];

    setup_load(&s, "    model: bedrock/converse/us.amazon.nova-pro-v1:0\n"
                   "    aws_access_key_id: AKIDTEST\n"
                   "    aws_secret_access_key: secret/TEST+key\n"
                   "    aws_session_token: tok/en=\n"
                   "    aws_region_name: us-east-1\n"
                   "    api_base: http://127.0.0.1:9/prefix/\n");
    ASSERT_OK(build(&s, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 1, &up, &err));
    ASSERT_STR_EQ("http://127.0.0.1:9/prefix/model/us.amazon.nova-pro-v1%3A0/converse-stream",
                  up.url.data);
    ASSERT_STR_EQ("application/vnd.amazon.eventstream", find_header(up.headers, "Accept"));
    ASSERT_STR_EQ("tok/en=", find_header(up.headers, "X-Amz-Security-Token"));
    sl_sigv4_sha256_hex(up.body.data, up.body.len, body_hash);
    ASSERT_STR_EQ(body_hash, find_header(up.headers, "x-amz-content-sha256"));

    struct sl_sigv4_header headers[] = {
        {"host", find_header(up.headers, "Host")},
        {"content-type", find_header(up.headers, "Content-Type")},
        {"x-amz-date", find_header(up.headers, "X-Amz-Date")},
        {"x-amz-security-token", find_header(up.headers, "X-Amz-Security-Token")},
        {"x-amz-content-sha256", find_header(up.headers, "x-amz-content-sha256")},
    };
    struct sl_sigv4_input in = {
        .method = "POST",
        .path = "/prefix/model/us.amazon.nova-pro-v1%3A0/converse-stream",
        .headers = headers,
        .n_headers = 5,
        .payload = up.body.data,
        .payload_len = up.body.len,
        .access_key_id = "AKIDTEST",
        .secret_access_key = "secret/TEST+key",
        .region = "us-east-1",
        .service = "bedrock",
        .now_unix_s = NOW,
    };
    sl_sigv4_output_init(&check);
    ASSERT_OK(sl_sigv4_sign(&in, &check, &err));
    authz = find_header(up.headers, "Authorization");
    ASSERT_STR_EQ(check.authorization.data, authz);
    ASSERT_CONTAINS(authz, "Credential=AKIDTEST/20241204/us-east-1/bedrock/aws4_request, ");
    ASSERT_CONTAINS(authz, "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-security-token, ");
    sl_sigv4_output_dispose(&check);
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_request_env_credentials)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setup_load(&s, "    model: bedrock/amazon.nova-lite-v1:0\n");
    ASSERT_EQ(SL_ERR_CONFIG, build(&s, "{\"messages\":[]}", 0, &up, &err));
    ASSERT_CONTAINS(err.msg, "no AWS credentials");
    sl_harness_upstream_dispose(&up);

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_REGION", "ap-south-1", 1);
    ASSERT_OK(build(&s, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 0, &up, &err));
    ASSERT_CONTAINS(up.url.data, "https://bedrock-runtime.ap-south-1.amazonaws.com/");
    ASSERT_CONTAINS(find_header(up.headers, "Authorization"), "AKIDENV/20241204/ap-south-1/");
    sl_harness_upstream_dispose(&up);
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_request_rejects_bad_input)
{
    static const char *const bodies[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
        "\"image_url\":{\"url\":\"https://example.com/cat.png\"}}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}",
        "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
        "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
    };
    struct sl_provider_setup s;

    setup_load(&s, default_params);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct sl_upstream_request up;
        struct sl_errbuf err = {{0}};

        ASSERT_EQ(SL_ERR_INVALID, build(&s, bodies[i], 0, &up, &err));
        ASSERT_TRUE(err.msg[0] != '\0');
        sl_harness_upstream_dispose(&up);
    }
    sl_config_dispose(&s.cfg);
}

#define EMBED_BODY "{\"input\":[\"hello\"],\"dimensions\":256}"

TEST(bedrock_embedding_request)
{
    struct sl_provider_setup s;
    struct sl_upstream_request up;
    struct sl_errbuf err = {{0}};
    cJSON *body = parse_json(EMBED_BODY, strlen(EMBED_BODY));
    struct sl_call_ctx ctx;

    setup_load(&s, "    model: bedrock/amazon.titan-embed-text-v2:0\n"
                   "    aws_access_key_id: AKIDTEST\n"
                   "    aws_secret_access_key: s\n"
                   "    aws_region_name: us-east-1\n");
    ctx_init(&ctx, &s, body, 0);
    ctx.kind = SL_KIND_EMBEDDING;
    memset(&up, 0, sizeof(up));
    sl_buf_init(&up.url, 0);
    sl_buf_init(&up.body, 0);
    ASSERT_OK(s.p->build_request(&ctx, &up, &err));
    ASSERT_STR_EQ("https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                  "amazon.titan-embed-text-v2%3A0/invoke",
                  up.url.data);
    ASSERT_STR_EQ("{\"inputText\":\"hello\",\"dimensions\":256}", up.body.data);
    sl_harness_upstream_dispose(&up);
    cJSON_Delete(body);
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_embedding_response_base64)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err = {{0}};
    cJSON *body = parse_json("{\"input\":\"x\",\"encoding_format\":\"base64\"}", 40);
    static const char response[] = "{\"embedding\":[1.0,-2.5],\"inputTextTokenCount\":3}";

    setup_load(&s, default_params);
    ctx_init(&ctx, &s, body, 0);
    ctx.kind = SL_KIND_EMBEDDING;
    sl_buf_init(&out, 0);
    ASSERT_OK(s.p->translate_response(&ctx, response, sizeof(response) - 1, &out, &usage, &err));
    /* 1.0f = 00 00 80 3f and -2.5f = 00 00 20 c0, little-endian, in base64. */
    ASSERT_CONTAINS(out.data, "\"embedding\":\"AACAPwAAIMA=\"");
    ASSERT_CONTAINS(out.data, "\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}");
    ASSERT_EQ(3, usage.prompt_tokens);

    cJSON_Delete(body);
    sl_buf_dispose(&out);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- responses */

static void
translate(const struct sl_provider_setup *s, const char *body, struct sl_buf *out,
          struct sl_usage *usage)
{
    struct sl_call_ctx ctx;
    struct sl_errbuf err = {{0}};
    cJSON *req = parse_json("{}", 2);

    ctx_init(&ctx, s, req, 0);
    memset(usage, 0, sizeof(*usage));
    sl_buf_init(out, 0);
    if (s->p->translate_response(&ctx, body, strlen(body), out, usage, &err) != SL_OK)
        SL_TEST_FAIL("translate_response failed: %s", err.msg);
    cJSON_Delete(req);
}

TEST(bedrock_response_golden)
{
    struct sl_provider_setup s;
    struct sl_buf out;
    struct sl_usage usage;
    size_t len;
    char *response = read_golden("tool-use.response.json", &len);
    char *want_text = read_golden("tool-use.client.json", &len);
    cJSON *got;
    cJSON *want = parse_json(want_text, len);
    const char *id;

    setup_load(&s, default_params);
    translate(&s, response, &out, &usage);
    got = parse_json(out.data, out.len);
    id = sl_json_get_string(got, "id");
    ASSERT_TRUE(id != NULL);
    ASSERT_EQ(0, strncmp(id, "chatcmpl-", 9));
    ASSERT_EQ(33, (int)strlen(id));
    cJSON_ReplaceItemInObjectCaseSensitive(got, "id", cJSON_CreateString("<id>"));
    ASSERT_TRUE(cJSON_Compare(want, got, 1));
    ASSERT_EQ(25, usage.prompt_tokens);
    ASSERT_EQ(7, usage.completion_tokens);
    ASSERT_EQ(5, usage.cached_tokens);

    cJSON_Delete(got);
    cJSON_Delete(want);
    sl_buf_dispose(&out);
    free(response);
    free(want_text);
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_stop_reasons_mapped)
{
    static const char *const table[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"max_tokens", "length"},
        {"tool_use", "tool_calls"},
        {"content_filtered", "content_filter"},
        {"guardrail_intervened", "content_filter"},
    };
    struct sl_provider_setup s;

    setup_load(&s, default_params);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char body[256];
        struct sl_buf out;
        struct sl_usage usage;
        char want[64];

        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"x\"}]"
                 "}},\"stopReason\":\"%s\"}",
                 table[i][0]);
        translate(&s, body, &out, &usage);
        snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", table[i][1]);
        ASSERT_CONTAINS(out.data, want);
        sl_buf_dispose(&out);
    }
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_response_not_converse_is_502)
{
    struct sl_provider_setup s;
    struct sl_call_ctx ctx;
    struct sl_buf out;
    struct sl_usage usage = {0};
    struct sl_errbuf err = {{0}};
    static const char *const bodies[] = {"[1]", "{\"output\":{}}", "not json"};

    setup_load(&s, default_params);
    ctx_init(&ctx, &s, NULL, 0);
    for (size_t i = 0; i < 3; i++) {
        sl_buf_init(&out, 0);
        ASSERT_EQ(SL_ERR_UPSTREAM_PROTO,
                  s.p->translate_response(&ctx, bodies[i], strlen(bodies[i]), &out, &usage, &err));
        sl_buf_dispose(&out);
    }
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_error_body_parsed)
{
    struct sl_provider_setup s;
    struct sl_upstream_error e;
    static const char body[] = "{\"message\":\"The security token included in the request is "
                               "invalid.\"}";

    setup_load(&s, default_params);
    s.p->parse_error(403, body, sizeof(body) - 1, &e);
    ASSERT_EQ(403, e.status);
    ASSERT_STR_EQ("The security token included in the request is invalid.", e.message);
    s.p->parse_error(429, "{\"Message\":\"Too many requests\"}", 31, &e);
    ASSERT_EQ(429, e.status);
    ASSERT_STR_EQ("Too many requests", e.message);
    s.p->parse_error(502, "<html>bad gateway</html>", 24, &e);
    ASSERT_EQ(502, e.status);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- streams */

struct frame {
    const char *message_type; /* "event", "exception" or "error" */
    const char *name;
    const char *payload;
};

static void
encode_frames(const struct frame *frames, size_t n, struct sl_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        struct sl_es_header h[3];
        int exception = strcmp(frames[i].message_type, "exception") == 0;
        int error = strcmp(frames[i].message_type, "error") == 0;

        h[0] = sl_es_string_header(exception ? ":exception-type"
                                   : error   ? ":error-code"
                                             : ":event-type",
                                   frames[i].name);
        h[1] = sl_es_string_header(":message-type", frames[i].message_type);
        h[2] = error ? sl_es_string_header(":error-message", frames[i].payload)
                     : sl_es_string_header(":content-type", "application/json");
        ASSERT_OK(sl_es_encode(out, h, 3, error ? "" : frames[i].payload,
                               error ? 0 : strlen(frames[i].payload)));
    }
}

struct stream_result {
    struct sl_buf sse; /* the client frames, ids replaced by <id> */
    enum sl_stream_verdict last;
    struct sl_upstream_error err;
    struct sl_stream_state st;
};

/* Decodes `bytes` fed `step` bytes at a time and translates every event. */
static void
run_stream(const struct sl_provider_setup *s, const char *request, const struct sl_buf *bytes,
           size_t step, struct stream_result *r)
{
    struct sl_decoder dec;
    struct sl_stream_event ev;
    struct sl_call_ctx ctx;
    cJSON *body = parse_json(request, strlen(request));
    struct sl_buf raw;
    int done = 0;

    memset(r, 0, sizeof(*r));
    sl_buf_init(&r->sse, 0);
    sl_buf_init(&raw, 0);
    ctx_init(&ctx, s, body, 1);
    sl_decoder_init(&dec, s->p->framing, 1024 * 1024);
    r->last = SL_STREAM_CONTINUE;
    for (size_t off = 0; off < bytes->len && !done; off += step) {
        size_t n = bytes->len - off < step ? bytes->len - off : step;

        ASSERT_OK(sl_decoder_feed(&dec, bytes->data + off, n));
        while (!done && sl_decoder_next(&dec, &ev) == 1) {
            r->last = s->p->translate_event(&ctx, &r->st, &ev, &raw, &r->err);
            done = r->last != SL_STREAM_CONTINUE;
        }
        ASSERT_OK(sl_decoder_status(&dec));
    }

    /* Frames carry a random id: replace it so outputs compare across runs. */
    const char *id = strstr(raw.data != NULL ? raw.data : "", "chatcmpl-");
    for (const char *p = raw.data; p != NULL && p < raw.data + raw.len;) {
        const char *hit = id != NULL ? strstr(p, "chatcmpl-") : NULL;

        if (hit == NULL) {
            sl_buf_append_str(&r->sse, p);
            break;
        }
        sl_buf_append(&r->sse, p, (size_t)(hit - p));
        sl_buf_append_str(&r->sse, "<id>");
        p = hit + 33;
    }
    if (r->st.family_free != NULL)
        r->st.family_free(r->st.family);
    sl_decoder_dispose(&dec);
    sl_buf_dispose(&raw);
    cJSON_Delete(body);
}

static const struct frame text_and_tool[] = {
    {"event", "messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}"},
    {"event", "contentBlockDelta", "{\"delta\":{\"text\":\"Hello\"},\"contentBlockIndex\":0}"},
    {"event", "contentBlockDelta", "{\"delta\":{\"text\":\" there.\"},\"contentBlockIndex\":0}"},
    {"event", "contentBlockStop", "{\"contentBlockIndex\":0}"},
    {"event", "contentBlockStart",
     "{\"start\":{\"toolUse\":{\"toolUseId\":\"tooluse_1\",\"name\":\"get_weather\"}},"
     "\"contentBlockIndex\":1}"},
    {"event", "contentBlockDelta",
     "{\"delta\":{\"toolUse\":{\"input\":\"{\\\"city\\\":\"}},\"contentBlockIndex\":1}"},
    {"event", "contentBlockDelta",
     "{\"delta\":{\"toolUse\":{\"input\":\"\\\"Paris\\\"}\"}},\"contentBlockIndex\":1}"},
    {"event", "contentBlockStop", "{\"contentBlockIndex\":1}"},
    {"event", "messageStop", "{\"stopReason\":\"tool_use\"}"},
    {"event", "metadata",
     "{\"usage\":{\"inputTokens\":12,\"outputTokens\":9,\"totalTokens\":21},"
     "\"metrics\":{\"latencyMs\":300}}"},
};

TEST(bedrock_stream_golden)
{
    struct sl_provider_setup s;
    struct sl_buf bytes;
    struct stream_result r;
    size_t len;
    char *want = read_golden("text-tool.client.sse", &len);

    setup_load(&s, default_params);
    sl_buf_init(&bytes, 0);
    encode_frames(text_and_tool, sizeof(text_and_tool) / sizeof(text_and_tool[0]), &bytes);

    /* Whole, then in 7-byte pieces: the client sees the same frames. */
    for (size_t step = bytes.len; step >= 7; step = step == bytes.len ? 7 : 0) {
        run_stream(&s, "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}", &bytes,
                   step, &r);
        ASSERT_EQ(SL_STREAM_END, r.last);
        ASSERT_MEM_EQ(want, len, r.sse.data, r.sse.len);
        ASSERT_EQ(1, r.st.finish_count);
        ASSERT_EQ(1, r.st.saw_done);
        ASSERT_EQ(12, r.st.usage.prompt_tokens);
        ASSERT_EQ(9, r.st.usage.completion_tokens);
        sl_buf_dispose(&r.sse);
        if (step == 7)
            break;
    }
    sl_buf_dispose(&bytes);
    free(want);
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_stream_exceptions_mapped)
{
    static const struct {
        const char *message_type;
        const char *name;
        int status;
    } table[] = {
        {"exception", "throttlingException", 429},
        {"exception", "validationException", 400},
        {"exception", "modelStreamErrorException", 424},
        {"exception", "internalServerException", 500},
        {"exception", "serviceUnavailableException", 503},
        /* The SDK snapshot's form: an exception named by :event-type. */
        {"event", "throttlingException", 429},
        {"error", "InternalFailure", 502},
        {"event", "somethingNew", 502},
    };
    struct sl_provider_setup s;

    setup_load(&s, default_params);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct frame frames[2] = {
            {"event", "messageStart", "{\"role\":\"assistant\"}"},
            {table[i].message_type, table[i].name, "{\"message\":\"Too many tokens\"}"},
        };
        struct sl_buf bytes;
        struct stream_result r;

        sl_buf_init(&bytes, 0);
        encode_frames(frames, 2, &bytes);
        run_stream(&s, "{\"stream\":true}", &bytes, bytes.len, &r);
        ASSERT_EQ(SL_STREAM_FAILED, r.last);
        ASSERT_EQ(table[i].status, r.err.status);
        if (table[i].status != 502)
            ASSERT_STR_EQ("Too many tokens", r.err.message);
        else
            ASSERT_CONTAINS(r.err.message, table[i].name);
        sl_buf_dispose(&r.sse);
        sl_buf_dispose(&bytes);
    }
    sl_config_dispose(&s.cfg);
}

TEST(bedrock_stream_bad_tool_delta_is_502)
{
    struct frame frames[] = {
        {"event", "contentBlockDelta",
         "{\"delta\":{\"toolUse\":{\"input\":\"{}\"}},\"contentBlockIndex\":3}"},
    };
    struct sl_provider_setup s;
    struct sl_buf bytes;
    struct stream_result r;

    setup_load(&s, default_params);
    sl_buf_init(&bytes, 0);
    encode_frames(frames, 1, &bytes);
    run_stream(&s, "{\"stream\":true}", &bytes, bytes.len, &r);
    ASSERT_EQ(SL_STREAM_FAILED, r.last);
    ASSERT_EQ(502, r.err.status);
    sl_buf_dispose(&r.sse);
    sl_buf_dispose(&bytes);
    sl_config_dispose(&s.cfg);
}

static uint8_t *
read_hex(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct sl_buf hex;
    char chunk[4096];
    size_t n;
    uint8_t *bytes;

    ASSERT_TRUE(f != NULL);
    sl_buf_init(&hex, 0);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sl_buf_append(&hex, chunk, n);
    fclose(f);
    bytes = malloc(hex.len / 2 + 1);
    for (size_t i = 0; i < hex.len / 2; i++) {
        unsigned v;

        ASSERT_EQ(1, sscanf(hex.data + 2 * i, "%2x", &v));
        bytes[i] = (uint8_t)v;
    }
    *len = hex.len / 2;
    sl_buf_dispose(&hex);
    return bytes;
}

/* The SDK snapshot's frames (placeholder values) decode and translate without an error, and
 * its messageStop ends the one choice. */
TEST(bedrock_stream_sdk_snapshot)
{
    char path[PATH_MAX];
    struct sl_provider_setup s;
    struct sl_buf bytes;
    struct stream_result r;
    size_t len;
    uint8_t *raw;

    snprintf(path, sizeof(path), "%s/aws-eventstream/bedrock-conversestream.sdk-snapshot.hex",
             sl_test_fixtures_dir());
    raw = read_hex(path, &len);
    setup_load(&s, default_params);
    sl_buf_init(&bytes, 0);
    sl_buf_append(&bytes, raw, len);
    run_stream(&s, "{\"stream\":true}", &bytes, 1, &r);
    ASSERT_EQ(SL_STREAM_CONTINUE, r.last);
    ASSERT_EQ(1, r.st.finish_count);
    ASSERT_TRUE(r.st.finish_reason[0] != '\0');
    ASSERT_CONTAINS(r.sse.data, "\"delta\":{\"role\":\"assistant\"");
    sl_buf_dispose(&r.sse);
    sl_buf_dispose(&bytes);
    free(raw);
    sl_config_dispose(&s.cfg);
}

/* One message of the documented ConverseStream sequence: string headers and a payload. */
struct text_frame {
    struct sl_es_header headers[4];
    char names[4][64];
    char values[4][128];
    size_t n_headers;
    char payload[512];
};

/* Reads the blocks of bedrock/conversestream-sequence.from-model.txt: "# " comment lines,
 * ":name: value" header lines, a blank line, then the JSON payload (absent for an error). */
static size_t
read_sequence(const char *text, struct text_frame *frames, size_t max)
{
    size_t n = 0;
    const char *p = text;

    while (*p != '\0' && n < max) {
        const char *end = strstr(p, "\n-----");
        size_t block_len = end != NULL ? (size_t)(end - p) : strlen(p);
        struct text_frame *f = &frames[n];
        const char *line = p;

        memset(f, 0, sizeof(*f));
        while (line < p + block_len) {
            const char *nl = memchr(line, '\n', (size_t)(p + block_len - line));
            size_t len = nl != NULL ? (size_t)(nl - line) : (size_t)(p + block_len - line);

            if (len > 1 && line[0] == ':' && f->n_headers < 4) {
                const char *sep = strstr(line + 1, ": ");
                size_t name_len = (size_t)(sep - line);

                ASSERT_TRUE(sep != NULL);
                ASSERT_TRUE(sep < line + len);
                snprintf(f->names[f->n_headers], 64, "%.*s", (int)name_len, line);
                snprintf(f->values[f->n_headers], 128, "%.*s", (int)(len - name_len - 2), sep + 2);
                f->n_headers++;
            } else if (len > 0 && line[0] == '{') {
                snprintf(f->payload, sizeof(f->payload), "%.*s", (int)len, line);
            }
            line += len + 1;
        }
        for (size_t i = 0; i < f->n_headers; i++)
            f->headers[i] = sl_es_string_header(f->names[i], f->values[i]);
        if (f->n_headers > 0)
            n++;
        if (end == NULL)
            break;
        p = strchr(end + 1, '\n');
        if (p == NULL)
            break;
        p++;
    }
    return n;
}

static void
encode_text_frames(const struct text_frame *frames, size_t from, size_t to, struct sl_buf *out)
{
    for (size_t i = from; i < to; i++)
        ASSERT_OK(sl_es_encode(out, frames[i].headers, frames[i].n_headers, frames[i].payload,
                               strlen(frames[i].payload)));
}

/* The documented event order (composed from the service model, not captured) translates to
 * OpenAI chunks: text, one tool call with its arguments, finish tool_calls, then usage. The
 * spec-form modeled and unmodeled errors map to 429 and 502. */
TEST(bedrock_stream_documented_sequence)
{
    char path[PATH_MAX];
    FILE *f;
    struct sl_buf text;
    struct sl_buf bytes;
    char chunk[4096];
    size_t n;
    struct text_frame frames[16];
    size_t count;
    struct sl_provider_setup s;
    struct stream_result r;

    snprintf(path, sizeof(path), "%s/bedrock/conversestream-sequence.from-model.txt",
             sl_test_fixtures_dir());
    f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    sl_buf_init(&text, 0);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sl_buf_append(&text, chunk, n);
    fclose(f);
    count = read_sequence(strstr(text.data, "\n-----") + 1, frames, 16);
    ASSERT_EQ(12, (int)count); /* ten events, then an exception and an error */

    setup_load(&s, default_params);
    sl_buf_init(&bytes, 0);
    encode_text_frames(frames, 0, 10, &bytes);
    run_stream(&s, "{\"stream\":true}", &bytes, 5, &r);
    ASSERT_EQ(SL_STREAM_END, r.last);
    ASSERT_CONTAINS(r.sse.data, "\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"}");
    ASSERT_CONTAINS(r.sse.data, "\"delta\":{\"content\":\" there.\"}");
    ASSERT_CONTAINS(r.sse.data, "{\"index\":0,\"id\":\"tooluse_EXAMPLE\",\"type\":\"function\","
                                "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}");
    ASSERT_CONTAINS(r.sse.data, "\"arguments\":\"{\\\"city\\\":\"");
    ASSERT_CONTAINS(r.sse.data, "\"arguments\":\"\\\"Paris\\\"}\"");
    ASSERT_CONTAINS(r.sse.data, "\"finish_reason\":\"tool_calls\"");
    ASSERT_EQ(25, r.st.usage.prompt_tokens);
    ASSERT_EQ(40, r.st.usage.completion_tokens);
    sl_buf_dispose(&r.sse);

    for (size_t i = 10; i < 12; i++) {
        sl_buf_reset(&bytes);
        encode_text_frames(frames, i, i + 1, &bytes);
        run_stream(&s, "{\"stream\":true}", &bytes, bytes.len, &r);
        ASSERT_EQ(SL_STREAM_FAILED, r.last);
        ASSERT_EQ(i == 10 ? 429 : 502, r.err.status);
        if (i == 11)
            ASSERT_CONTAINS(r.err.message, "InternalError: An internal server error occurred.");
        sl_buf_dispose(&r.sse);
    }

    sl_buf_dispose(&bytes);
    sl_buf_dispose(&text);
    sl_config_dispose(&s.cfg);
}
