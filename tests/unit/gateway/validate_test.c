/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_test -- every rule of the chat request checks (gateway/http/validate.c).
 *
 * Each case parses a body, runs sl_validate_chat() and checks the status, the field named in
 * `param` and a fragment of the message a client would read.
 */
#include "common/buf.h"
#include "common/json.h"
#include "gateway/http/validate.h"
#include "test.h"

/* The smallest body that passes; cases add or replace members of it. */
#define VALID_HEAD "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static cJSON *
parse_or_die(const char *text)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    if (sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &root, &err) != SL_OK)
        SL_TEST_FAIL("test input does not parse: %s: %s", err.msg, text);
    return root;
}

/* Validates `text` and copies the reported field into `param` ("" for NULL). */
static enum sl_status
validate(const char *text, char *param, size_t param_size, struct sl_errbuf *err)
{
    cJSON *root = parse_or_die(text);
    const char *p = "(unset)";
    enum sl_status rc;

    err->msg[0] = '\0';
    rc = sl_validate_chat(root, &p, err);
    snprintf(param, param_size, "%s", p != NULL ? p : "");
    cJSON_Delete(root);
    return rc;
}

static void
expect_invalid(const char *text, const char *param, const char *fragment)
{
    char got_param[128];
    struct sl_errbuf err;

    if (validate(text, got_param, sizeof(got_param), &err) != SL_ERR_INVALID)
        SL_TEST_FAIL("expected SL_ERR_INVALID for %s", text);
    if (strcmp(param, got_param) != 0)
        SL_TEST_FAIL("param for %s: expected \"%s\", got \"%s\"", text, param, got_param);
    if (strstr(err.msg, fragment) == NULL)
        SL_TEST_FAIL("message for %s: \"%s\" not found in \"%s\"", text, fragment, err.msg);
}

static void
expect_valid(const char *text)
{
    char got_param[128];
    struct sl_errbuf err;

    if (validate(text, got_param, sizeof(got_param), &err) != SL_OK)
        SL_TEST_FAIL("expected SL_OK for %s, got \"%s\" (param \"%s\")", text, err.msg, got_param);
    if (got_param[0] != '\0')
        SL_TEST_FAIL("param for valid %s: expected NULL, got \"%s\"", text, got_param);
}

TEST(validate_minimal_body_passes)
{
    expect_valid("{" VALID_HEAD "}");
}

TEST(validate_full_body_passes)
{
    expect_valid("{" VALID_HEAD ",\"stream\":true,\"temperature\":0.5,\"top_p\":1,"
                 "\"presence_penalty\":-0.5,\"frequency_penalty\":0,\"max_tokens\":16,"
                 "\"max_completion_tokens\":32,\"n\":2,\"seed\":-7,\"top_logprobs\":3,"
                 "\"logprobs\":false,\"parallel_tool_calls\":true,\"user\":\"u-1\","
                 "\"stream_options\":{\"include_usage\":true},"
                 "\"response_format\":{\"type\":\"json_object\"},\"logit_bias\":{\"50256\":-100},"
                 "\"metadata\":{\"k\":\"v\"},\"tools\":[],\"functions\":[],\"stop\":[\"\\n\"],"
                 "\"tool_choice\":\"auto\",\"function_call\":{\"name\":\"f\"},"
                 "\"unknown_extension\":{\"kept\":1}}");
}

TEST(validate_body_not_object)
{
    expect_invalid("[1,2]", "", "must be a JSON object, but got an array");
    expect_invalid("\"text\"", "", "but got a string");
    expect_invalid("null", "", "but got null");
    expect_invalid("42", "", "but got a number");
}

TEST(validate_too_many_members)
{
    struct sl_buf body;

    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{" VALID_HEAD);
    for (int i = 0; i < SL_VALIDATE_MAX_MEMBERS - 1; i++)
        sl_buf_printf(&body, ",\"x%d\":%d", i, i);
    sl_buf_append_str(&body, "}");
    expect_invalid(body.data, "", "more than 256 top-level fields");
    sl_buf_dispose(&body);
}

TEST(validate_member_limit_is_inclusive)
{
    struct sl_buf body;

    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{" VALID_HEAD);
    for (int i = 0; i < SL_VALIDATE_MAX_MEMBERS - 2; i++)
        sl_buf_printf(&body, ",\"x%d\":%d", i, i);
    sl_buf_append_str(&body, "}");
    expect_valid(body.data);
    sl_buf_dispose(&body);
}

TEST(validate_duplicate_key)
{
    expect_invalid("{" VALID_HEAD ",\"temperature\":1,\"temperature\":\"hot\"}", "temperature",
                   "Duplicate field 'temperature'");
    expect_invalid("{\"model\":\"a\"," VALID_HEAD "}", "model", "Duplicate field 'model'");
}

TEST(validate_model_missing)
{
    expect_invalid("{\"messages\":[{\"role\":\"user\"}]}", "model",
                   "Missing required parameter: 'model'");
}

TEST(validate_model_not_string)
{
    expect_invalid("{\"model\":7,\"messages\":[{\"role\":\"user\"}]}", "model",
                   "expected a non-empty string, but got a number");
    expect_invalid("{\"model\":null,\"messages\":[{\"role\":\"user\"}]}", "model", "but got null");
    expect_invalid("{\"model\":[\"m\"],\"messages\":[{\"role\":\"user\"}]}", "model",
                   "but got an array");
}

TEST(validate_model_empty)
{
    expect_invalid("{\"model\":\"\",\"messages\":[{\"role\":\"user\"}]}", "model",
                   "but got an empty string");
}

TEST(validate_messages_missing)
{
    expect_invalid("{\"model\":\"m\"}", "messages", "Missing required parameter: 'messages'");
}

TEST(validate_messages_not_array)
{
    expect_invalid("{\"model\":\"m\",\"messages\":{\"role\":\"user\"}}", "messages",
                   "expected an array, but got an object");
    expect_invalid("{\"model\":\"m\",\"messages\":\"hi\"}", "messages",
                   "expected an array, but got a string");
}

TEST(validate_messages_empty)
{
    expect_invalid("{\"model\":\"m\",\"messages\":[]}", "messages", "empty array");
}

TEST(validate_message_not_object)
{
    expect_invalid("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},\"hi\"]}", "messages",
                   "'messages[1]': expected an object, but got a string");
}

TEST(validate_message_role_missing)
{
    expect_invalid("{\"model\":\"m\",\"messages\":[{\"content\":\"hi\"}]}", "messages",
                   "'messages[0].role'");
}

TEST(validate_message_role_not_string)
{
    expect_invalid("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},{\"role\":1}]}", "messages",
                   "'messages[1].role': expected a string");
}

/* One optional field with a value of the wrong type, and the type the message must name. */
struct wrong_type_case {
    const char *field;
    const char *value;
    const char *expected;
    const char *got;
};

static const struct wrong_type_case wrong_types[] = {
    {"stream", "\"yes\"", "a boolean", "a string"},
    {"stream", "1", "a boolean", "a number"},
    {"temperature", "\"0.5\"", "a number", "a string"},
    {"top_p", "true", "a number", "a boolean"},
    {"presence_penalty", "[]", "a number", "an array"},
    {"frequency_penalty", "{}", "a number", "an object"},
    {"max_tokens", "1.5", "an integer", "a number"},
    {"max_tokens", "\"16\"", "an integer", "a string"},
    {"max_completion_tokens", "2.25", "an integer", "a number"},
    {"n", "1.5", "an integer", "a number"},
    {"seed", "false", "an integer", "a boolean"},
    {"top_logprobs", "0.1", "an integer", "a number"},
    {"logprobs", "0", "a boolean", "a number"},
    {"parallel_tool_calls", "\"true\"", "a boolean", "a string"},
    {"user", "42", "a string", "a number"},
    {"stream_options", "[]", "an object", "an array"},
    {"response_format", "\"json\"", "an object", "a string"},
    {"logit_bias", "[1]", "an object", "an array"},
    {"metadata", "true", "an object", "a boolean"},
    {"tools", "{}", "an array", "an object"},
    {"functions", "\"f\"", "an array", "a string"},
    {"stop", "1", "a string or an array", "a number"},
    {"stop", "{}", "a string or an array", "an object"},
    {"tool_choice", "[]", "a string or an object", "an array"},
    {"function_call", "3", "a string or an object", "a number"},
};

TEST(validate_optional_field_wrong_type)
{
    for (size_t i = 0; i < sizeof(wrong_types) / sizeof(wrong_types[0]); i++) {
        const struct wrong_type_case *c = &wrong_types[i];
        char body[512];
        char fragment[160];

        snprintf(body, sizeof(body), "{" VALID_HEAD ",\"%s\":%s}", c->field, c->value);
        snprintf(fragment, sizeof(fragment), "Invalid type for '%s': expected %s, but got %s",
                 c->field, c->expected, c->got);
        expect_invalid(body, c->field, fragment);
    }
}

TEST(validate_optional_field_null_accepted)
{
    for (size_t i = 0; i < sizeof(wrong_types) / sizeof(wrong_types[0]); i++) {
        char body[512];

        snprintf(body, sizeof(body), "{" VALID_HEAD ",\"%s\":null}", wrong_types[i].field);
        expect_valid(body);
    }
}

TEST(validate_integer_fields_accept_whole_doubles)
{
    expect_valid("{" VALID_HEAD ",\"max_tokens\":16.0,\"n\":2e0,\"seed\":-3}");
}

TEST(validate_n_below_range)
{
    expect_invalid("{" VALID_HEAD ",\"n\":0}", "n", "Invalid 'n': 0 is out of range; expected 1");
    expect_invalid("{" VALID_HEAD ",\"n\":-2}", "n", "-2 is out of range");
}

TEST(validate_n_above_range)
{
    expect_invalid("{" VALID_HEAD ",\"n\":129}", "n", "129 is out of range; expected 1 to 128");
}

TEST(validate_n_at_bounds)
{
    expect_valid("{" VALID_HEAD ",\"n\":1}");
    expect_valid("{" VALID_HEAD ",\"n\":128}");
}
