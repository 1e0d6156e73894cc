/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errors_test -- the OpenAI error envelope and the reading of provider error bodies
 * (gateway/http/errors.c). Envelopes are parsed back with cJSON, so the tests check what a
 * client library sees rather than the exact spacing.
 */
#include <cjson/cJSON.h>

#include "common/buf.h"
#include "gateway/http/errors.h"
#include "test.h"

static cJSON *
envelope(int status, const char *message, const char *type, const char *param)
{
    struct sl_buf out;
    cJSON *root;

    sl_buf_init(&out, 0);
    sl_errors_envelope(&out, status, message, type, param);
    root = cJSON_ParseWithLength(out.data, out.len);
    if (root == NULL)
        SL_TEST_FAIL("envelope is not JSON: %s", out.data);
    sl_buf_dispose(&out);
    return root;
}

static const cJSON *
error_member(const cJSON *root, const char *name)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");

    if (!cJSON_IsObject(error))
        SL_TEST_FAIL("envelope has no \"error\" object");
    return cJSON_GetObjectItemCaseSensitive(error, name);
}

static void
parse(long status, const char *body, struct sl_upstream_error *out)
{
    memset(out, 0x5a, sizeof(*out));
    sl_errors_parse_openai(status, body, strlen(body), out);
}

TEST(errors_envelope_shape)
{
    cJSON *root = envelope(429, "slow down", "rate_limit_error", "model");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");

    ASSERT_EQ(1, cJSON_GetArraySize(root));
    ASSERT_EQ(4, cJSON_GetArraySize(error));
    ASSERT_STR_EQ("slow down", cJSON_GetStringValue(error_member(root, "message")));
    ASSERT_STR_EQ("rate_limit_error", cJSON_GetStringValue(error_member(root, "type")));
    ASSERT_STR_EQ("model", cJSON_GetStringValue(error_member(root, "param")));
    cJSON_Delete(root);
}

TEST(errors_envelope_code_is_string)
{
    cJSON *root = envelope(404, "no such model", "not_found_error", NULL);
    const cJSON *code = error_member(root, "code");

    ASSERT_TRUE(cJSON_IsString(code));
    ASSERT_STR_EQ("404", code->valuestring);
    cJSON_Delete(root);
}

TEST(errors_envelope_null_type_param)
{
    cJSON *root = envelope(500, "boom", NULL, NULL);

    ASSERT_TRUE(cJSON_IsNull(error_member(root, "type")));
    ASSERT_TRUE(cJSON_IsNull(error_member(root, "param")));
    cJSON_Delete(root);
}

TEST(errors_envelope_escapes_message)
{
    static const char message[] = "quote \" backslash \\ newline \n tab \t ctl \x01 utf8 \xc3\xa9";
    cJSON *root = envelope(400, message, "invalid_request_error", "a\"b");

    ASSERT_STR_EQ(message, cJSON_GetStringValue(error_member(root, "message")));
    ASSERT_STR_EQ("a\"b", cJSON_GetStringValue(error_member(root, "param")));
    cJSON_Delete(root);
}

TEST(errors_default_types)
{
    static const struct {
        int status;
        const char *type;
    } cases[] = {
        {400, "invalid_request_error"},     {401, "authentication_error"},
        {403, "permission_denied_error"},   {404, "not_found_error"},
        {405, "method_not_allowed"},        {408, "timeout"},
        {413, "request_too_large"},         {422, "unprocessable_entity_error"},
        {429, "rate_limit_error"},          {502, "api_connection_error"},
        {503, "service_unavailable_error"}, {500, "internal_server_error"},
        {504, "internal_server_error"},     {418, "invalid_request_error"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = sl_errors_default_type(cases[i].status);

        if (strcmp(got, cases[i].type) != 0)
            SL_TEST_FAIL("status %d: expected \"%s\", got \"%s\"", cases[i].status, cases[i].type,
                         got);
    }
}

TEST(errors_parse_openai_object)
{
    struct sl_upstream_error e;

    parse(400,
          "{\"error\":{\"message\":\"Invalid 'temperature'\",\"type\":\"invalid_request_error\","
          "\"param\":\"temperature\",\"code\":\"invalid_value\"}}",
          &e);
    ASSERT_EQ(400, e.status);
    ASSERT_STR_EQ("Invalid 'temperature'", e.message);
    ASSERT_STR_EQ("invalid_request_error", e.type);
    ASSERT_STR_EQ("temperature", e.param);
}

TEST(errors_parse_openai_null_param)
{
    struct sl_upstream_error e;

    parse(429, "{\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\",\"param\":null}}", &e);
    ASSERT_STR_EQ("Rate limit", e.message);
    ASSERT_STR_EQ("requests", e.type);
    ASSERT_STR_EQ("", e.param);
}

TEST(errors_parse_error_string)
{
    struct sl_upstream_error e;

    parse(404, "{\"error\":\"model 'llama9' not found\"}", &e);
    ASSERT_EQ(404, e.status);
    ASSERT_STR_EQ("model 'llama9' not found", e.message);
    ASSERT_STR_EQ("", e.type);
    ASSERT_STR_EQ("", e.param);
}

TEST(errors_parse_top_message)
{
    struct sl_upstream_error e;

    parse(500, "{\"message\":\"x\"}", &e);
    ASSERT_STR_EQ("x", e.message);
    ASSERT_STR_EQ("", e.type);
}

TEST(errors_parse_json_without_message)
{
    struct sl_upstream_error e;

    parse(503, "{\"detail\":\"busy\"}", &e);
    ASSERT_EQ(503, e.status);
    ASSERT_CONTAINS(e.message, "the provider returned HTTP 503");
    ASSERT_CONTAINS(e.message, "{\"detail\":\"busy\"}");
}

TEST(errors_parse_html_body)
{
    struct sl_upstream_error e;

    parse(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n", &e);
    ASSERT_EQ(502, e.status);
    ASSERT_STR_EQ("the provider returned HTTP 502: <html>  <head><title>502 Bad Gateway</title>"
                  "</head>  </html>  ",
                  e.message);
}

TEST(errors_parse_summary_printable_only)
{
    static const char body[] = "bad\x01\x7f\xff\xc3\xa9\tend";
    struct sl_upstream_error e;

    sl_errors_parse_openai(500, body, sizeof(body) - 1, &e);
    for (const char *p = e.message; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            SL_TEST_FAIL("byte 0x%02x at offset %td of the summary is not printable",
                         (unsigned char)*p, p - e.message);
    ASSERT_STR_EQ("the provider returned HTTP 500: bad      end", e.message);
}

TEST(errors_parse_summary_capped)
{
    char body[5000];
    struct sl_upstream_error e;
    const char *colon;

    memset(body, 'A', sizeof(body));
    sl_errors_parse_openai(500, body, sizeof(body), &e);
    colon = strstr(e.message, ": ");
    ASSERT_TRUE(colon != NULL);
    ASSERT_EQ(200, strlen(colon + 2));
}

TEST(errors_parse_body_with_nul)
{
    static const char body[] = "abc\0def";
    struct sl_upstream_error e;

    sl_errors_parse_openai(500, body, sizeof(body) - 1, &e);
    ASSERT_STR_EQ("the provider returned HTTP 500: abc def", e.message);
}

TEST(errors_parse_empty_body)
{
    struct sl_upstream_error e;

    parse(503, "", &e);
    ASSERT_EQ(503, e.status);
    ASSERT_STR_EQ("the provider returned HTTP 503", e.message);
    ASSERT_STR_EQ("", e.type);
    ASSERT_STR_EQ("", e.param);
}

TEST(errors_parse_invalid_json)
{
    struct sl_upstream_error e;

    parse(500, "{\"error\":{\"message\":\"cut", &e);
    ASSERT_STR_EQ("the provider returned HTTP 500: {\"error\":{\"message\":\"cut", e.message);
    ASSERT_STR_EQ("", e.type);
}

TEST(errors_parse_deep_nesting)
{
    char body[4096];
    struct sl_upstream_error e;
    size_t depth = 1500;

    /* Deeper than the parser allows: summarised, not parsed (and no stack overflow). */
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    sl_errors_parse_openai(500, body, 2 * depth, &e);
    ASSERT_CONTAINS(e.message, "the provider returned HTTP 500: [[[[");
}

TEST(errors_parse_long_message_truncated)
{
    char body[3000];
    struct sl_upstream_error e;
    int n = snprintf(body, sizeof(body), "{\"error\":{\"message\":\"");

    memset(body + n, 'm', 2000);
    snprintf(body + n + 2000, sizeof(body) - (size_t)n - 2000, "\",\"type\":\"%0100d\"}}", 7);
    sl_errors_parse_openai(400, body, strlen(body), &e);
    ASSERT_EQ(sizeof(e.message) - 1, strlen(e.message));
    ASSERT_EQ(sizeof(e.type) - 1, strlen(e.type));
}
