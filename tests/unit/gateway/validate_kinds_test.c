/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_kinds_test -- the embeddings and text completions request checks
 * (sl_validate_embeddings and sl_validate_completions in gateway/http/validate.c).
 *
 * Each case parses a body, runs one validator and checks the status, the field named in
 * `param` and a fragment of the message a client would read.
 */
#include "common/buf.h"
#include "common/json.h"
#include "gateway/http/validate.h"
#include "test.h"

typedef enum sl_status (*validator_fn)(const cJSON *body, const char **param,
                                       struct sl_errbuf *err);

static enum sl_status
run(validator_fn fn, const char *text, char *param, size_t param_size, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const char *p = "(unset)";
    enum sl_status rc;

    if (sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &root, err) != SL_OK)
        SL_TEST_FAIL("test input does not parse: %s: %s", err->msg, text);
    err->msg[0] = '\0';
    rc = fn(root, &p, err);
    snprintf(param, param_size, "%s", p != NULL ? p : "");
    cJSON_Delete(root);
    return rc;
}

static void
expect_invalid(validator_fn fn, const char *text, const char *param, const char *fragment)
{
    char got_param[128];
    struct sl_errbuf err;

    if (run(fn, text, got_param, sizeof(got_param), &err) != SL_ERR_INVALID)
        SL_TEST_FAIL("expected SL_ERR_INVALID for %s", text);
    if (strcmp(param, got_param) != 0)
        SL_TEST_FAIL("param for %s: expected \"%s\", got \"%s\"", text, param, got_param);
    if (strstr(err.msg, fragment) == NULL)
        SL_TEST_FAIL("message for %s: \"%s\" not found in \"%s\"", text, fragment, err.msg);
}

static void
expect_valid(validator_fn fn, const char *text)
{
    char got_param[128];
    struct sl_errbuf err;

    if (run(fn, text, got_param, sizeof(got_param), &err) != SL_OK)
        SL_TEST_FAIL("expected SL_OK for %s, got \"%s\" (param \"%s\")", text, err.msg, got_param);
    if (got_param[0] != '\0')
        SL_TEST_FAIL("param for valid %s: expected NULL, got \"%s\"", text, got_param);
}

/* Returns a body whose `member` is an array of `count` copies of `element`; caller frees. */
static char *
body_with_array(const char *head, const char *member, const char *element, int count)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    sl_buf_printf(&b, "{%s,\"%s\":[", head, member);
    for (int i = 0; i < count; i++)
        sl_buf_printf(&b, "%s%s", i > 0 ? "," : "", element);
    sl_buf_append_str(&b, "]}");
    return sl_buf_take(&b, NULL);
}

/* ---------------------------------------------------------------- embeddings */

#define EMB sl_validate_embeddings

TEST(embeddings_input_shapes_pass)
{
    expect_valid(EMB, "{\"model\":\"m\",\"input\":\"hello\"}");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":[1,2,0]}");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":[[1,2],[3]]}");
}

TEST(embeddings_all_options_pass)
{
    expect_valid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"base64\","
                      "\"dimensions\":256,\"user\":\"u-1\",\"stream\":false}");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"float\"}");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":null,"
                      "\"dimensions\":null,\"user\":null,\"stream\":null}");
}

TEST(embeddings_envelope_rejected)
{
    expect_invalid(EMB, "[]", "", "must be a JSON object");
    expect_invalid(EMB, "{\"input\":\"x\"}", "model", "Missing required parameter: 'model'");
    expect_invalid(EMB, "{\"model\":\"\",\"input\":\"x\"}", "model", "an empty string");
    expect_invalid(EMB, "{\"model\":7,\"input\":\"x\"}", "model", "got a number");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"input\":\"y\"}", "input",
                   "Duplicate field 'input'");
}

TEST(embeddings_input_missing)
{
    expect_invalid(EMB, "{\"model\":\"m\"}", "input", "Missing required parameter: 'input'");
}

TEST(embeddings_input_wrong_type)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":5}", "input",
                   "expected a string or an array, but got a number");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":{\"a\":1}}", "input", "got an object");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":null}", "input", "got null");
}

TEST(embeddings_input_empty)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"\"}", "input", "empty string");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[]}", "input", "empty array");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[\"a\",\"\"]}", "input",
                   "Invalid 'input[1]': empty string");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[[1],[]]}", "input",
                   "Invalid 'input[1]': empty array");
}

TEST(embeddings_input_mixed_elements)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[\"a\",1]}", "input",
                   "Invalid 'input[1]': expected a string like 'input[0]', but got a number");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[1,\"a\"]}", "input", "expected a token id");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[[1],2]}", "input",
                   "expected an array of token ids");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[true]}", "input",
                   "Invalid 'input[0]': expected a string, a token id or an array of token ids");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[{\"a\":1}]}", "input", "got an object");
}

TEST(embeddings_input_bad_token_ids)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[1,-1]}", "input", "Invalid 'input[1]'");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[1.5]}", "input", "Invalid 'input[0]'");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[2147483648]}", "input", "Invalid 'input[0]'");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[[1,2],[3,\"x\"]]}", "input",
                   "Invalid 'input[1][1]': expected a token id");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":[[1,[2]]]}", "input", "Invalid 'input[0][1]'");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":[2147483647]}");
}

TEST(embeddings_input_count_limit)
{
    char *ok = body_with_array("\"model\":\"m\"", "input", "\"w\"", SL_VALIDATE_MAX_INPUTS);
    char *over = body_with_array("\"model\":\"m\"", "input", "\"w\"", SL_VALIDATE_MAX_INPUTS + 1);

    expect_valid(EMB, ok);
    expect_invalid(EMB, over, "input", "at most 2048");
    free(ok);
    free(over);
}

TEST(embeddings_stream_rejected)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"stream\":true}", "stream",
                   "embeddings cannot be streamed");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"stream\":\"yes\"}", "stream",
                   "expected a boolean, but got a string");
}

TEST(embeddings_encoding_format_checked)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"int8\"}",
                   "encoding_format", "expected 'float' or 'base64', but got 'int8'");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":1}",
                   "encoding_format", "expected a string");
}

TEST(embeddings_dimensions_checked)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}", "dimensions",
                   "Invalid 'dimensions': 0 is out of range");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":-3}", "dimensions",
                   "out of range");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":1.5}", "dimensions",
                   "expected an integer");
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":\"8\"}", "dimensions",
                   "expected an integer, but got a string");
    expect_valid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":1}");
}

TEST(embeddings_user_checked)
{
    expect_invalid(EMB, "{\"model\":\"m\",\"input\":\"x\",\"user\":42}", "user",
                   "expected a string, but got a number");
}

/* ---------------------------------------------------------------- completions */

#define CMP sl_validate_completions

TEST(completions_prompt_shapes_pass)
{
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":\"Say hi\"}");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":\"\"}");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":[\"a\",\"\"]}");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":[10,20]}");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":[[10],[20,30]]}");
}

TEST(completions_all_options_pass)
{
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"stream\":true,\"echo\":false,"
                      "\"best_of\":3,\"n\":2,\"suffix\":\"end\",\"logprobs\":5,"
                      "\"temperature\":0.2,\"top_p\":1,\"presence_penalty\":0,"
                      "\"frequency_penalty\":-1,\"max_tokens\":16,\"seed\":-3,\"user\":\"u\","
                      "\"stop\":[\"\\n\"],\"logit_bias\":{\"50256\":-100},"
                      "\"stream_options\":{\"include_usage\":true}}");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"stop\":\"x\",\"logprobs\":0,"
                      "\"suffix\":null,\"best_of\":null}");
}

TEST(completions_envelope_rejected)
{
    expect_invalid(CMP, "\"text\"", "", "must be a JSON object");
    expect_invalid(CMP, "{\"prompt\":\"p\"}", "model", "Missing required parameter: 'model'");
    expect_invalid(CMP, "{\"model\":[],\"prompt\":\"p\"}", "model", "got an array");
}

TEST(completions_prompt_checked)
{
    expect_invalid(CMP, "{\"model\":\"m\"}", "prompt", "Missing required parameter: 'prompt'");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":3}", "prompt",
                   "expected a string or an array, but got a number");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":[]}", "prompt", "empty array");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":[\"a\",[1]]}", "prompt",
                   "Invalid 'prompt[1]': expected a string like 'prompt[0]'");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":[[1],[]]}", "prompt",
                   "Invalid 'prompt[1]': empty array");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":[null]}", "prompt", "got null");
}

TEST(completions_field_types_checked)
{
    static const struct {
        const char *member;
        const char *expected;
    } cases[] = {
        {"\"stream\":1", "stream"},
        {"\"echo\":\"yes\"", "echo"},
        {"\"best_of\":1.5", "best_of"},
        {"\"logprobs\":true", "logprobs"},
        {"\"suffix\":5", "suffix"},
        {"\"temperature\":\"hot\"", "temperature"},
        {"\"max_tokens\":2.5", "max_tokens"},
        {"\"n\":\"2\"", "n"},
        {"\"stop\":5", "stop"},
        {"\"logit_bias\":[]", "logit_bias"},
        {"\"user\":false", "user"},
        {"\"stream_options\":true", "stream_options"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];

        snprintf(body, sizeof(body), "{\"model\":\"m\",\"prompt\":\"p\",%s}", cases[i].member);
        expect_invalid(CMP, body, cases[i].expected, "Invalid type for");
    }
}

TEST(completions_ranges_checked)
{
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":0}", "n", "out of range");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":129}", "n", "expected 1 to 128");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"best_of\":0}", "best_of",
                   "out of range");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"logprobs\":-1}", "logprobs",
                   "out of range");
    expect_invalid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":3,\"best_of\":2}", "best_of",
                   "best_of must be at least n");
    expect_valid(CMP, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":128,\"best_of\":128}");
}

TEST(completions_chat_body_rejected)
{
    /* A chat body sent to /completions names the missing prompt, not the extra messages. */
    expect_invalid(CMP, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   "prompt", "Missing required parameter: 'prompt'");
}
