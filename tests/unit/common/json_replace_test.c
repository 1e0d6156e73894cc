/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_replace_test -- the byte-preserving rewrite of one top-level string member and the
 * duplicate member check (sl_json_replace_top_string, sl_json_duplicate_key in common/json.c).
 */
#include "common/buf.h"
#include "common/json.h"
#include "test.h"

/* Replaces "model" in `json` with `value`, checking the status, and returns the bytes. */
static void
expect_replaced(const char *json, const char *value, const char *expected)
{
    struct sl_buf out;
    enum sl_status rc;

    sl_buf_init(&out, 0);
    rc = sl_json_replace_top_string(json, strlen(json), "model", value, &out);
    if (rc != SL_OK)
        SL_TEST_FAIL("replace in %s: expected SL_OK, got %d", json, (int)rc);
    ASSERT_MEM_EQ(expected, strlen(expected), out.data, out.len);
    sl_buf_dispose(&out);
}

static void
expect_status(const char *json, enum sl_status expected)
{
    struct sl_buf out;
    enum sl_status rc;

    sl_buf_init(&out, 0);
    rc = sl_json_replace_top_string(json, strlen(json), "model", "new", &out);
    if (rc != expected)
        SL_TEST_FAIL("replace in %s: expected status %d, got %d", json, (int)expected, (int)rc);
    sl_buf_dispose(&out);
}

TEST(replace_simple)
{
    expect_replaced("{\"model\":\"old\",\"n\":1}", "new", "{\"model\":\"new\",\"n\":1}");
}

TEST(replace_keeps_other_bytes)
{
    expect_replaced(
        "{ \"a\" : [1, 2.50, {\"b\":\"\\u00e9\"}],\n\t\"model\" : \"old\" ,\"z\":null }", "new",
        "{ \"a\" : [1, 2.50, {\"b\":\"\\u00e9\"}],\n\t\"model\" : \"new\" ,\"z\":null }");
}

TEST(replace_whitespace_around_colon)
{
    expect_replaced("{\"model\"\r\n :\t\r\n\"old\"}", "new", "{\"model\"\r\n :\t\r\n\"new\"}");
}

TEST(replace_leading_whitespace)
{
    expect_replaced(" \n{\"model\":\"old\"}\n", "new", " \n{\"model\":\"new\"}\n");
}

TEST(replace_value_with_escapes)
{
    expect_replaced("{\"model\":\"o\\\"l\\\\d\",\"x\":1}", "new", "{\"model\":\"new\",\"x\":1}");
}

TEST(replace_new_value_escaped)
{
    expect_replaced("{\"model\":\"old\"}", "a\"b\\c\n", "{\"model\":\"a\\\"b\\\\c\\n\"}");
}

TEST(replace_skips_nested_model)
{
    expect_replaced(
        "{\"meta\":{\"model\":\"inner\"},\"list\":[{\"model\":\"x\"}],\"model\":\"old\"}", "new",
        "{\"meta\":{\"model\":\"inner\"},\"list\":[{\"model\":\"x\"}],\"model\":\"new\"}");
}

TEST(replace_skips_model_inside_string_value)
{
    expect_replaced("{\"note\":\"\\\"model\\\":\\\"fake\\\"\",\"model\":\"old\"}", "new",
                    "{\"note\":\"\\\"model\\\":\\\"fake\\\"\",\"model\":\"new\"}");
}

TEST(replace_skips_model_as_value)
{
    expect_replaced("{\"kind\":\"model\",\"model\":\"old\"}", "new",
                    "{\"kind\":\"model\",\"model\":\"new\"}");
}

TEST(replace_skips_longer_key)
{
    expect_replaced("{\"model_x\":\"keep\",\"modelx\":\"keep\",\"model\":\"old\"}", "new",
                    "{\"model_x\":\"keep\",\"modelx\":\"keep\",\"model\":\"new\"}");
}

TEST(replace_skips_shorter_key)
{
    expect_replaced("{\"mode\":\"keep\",\"model\":\"old\"}", "new",
                    "{\"mode\":\"keep\",\"model\":\"new\"}");
}

TEST(replace_after_escaped_quotes)
{
    expect_replaced("{\"a\":\"x\\\\\",\"b\":\"\\\\\\\"\",\"model\":\"old\"}", "new",
                    "{\"a\":\"x\\\\\",\"b\":\"\\\\\\\"\",\"model\":\"new\"}");
}

TEST(replace_key_after_nested_close)
{
    expect_replaced("{\"a\":{\"b\":[{}]},\"model\":\"old\"}", "new",
                    "{\"a\":{\"b\":[{}]},\"model\":\"new\"}");
}

TEST(replace_every_duplicate_member)
{
    /* Readers disagree on which duplicate wins, so none may keep the old value. */
    expect_replaced("{\"model\":\"a\",\"n\":1,\"model\":\"b\"}", "new",
                    "{\"model\":\"new\",\"n\":1,\"model\":\"new\"}");
}

TEST(replace_missing_key_inserted_first)
{
    expect_replaced("{\"messages\":[]}", "new", "{\"model\":\"new\",\"messages\":[]}");
    expect_replaced(" { \"a\" : 1 }", "new", " {\"model\":\"new\", \"a\" : 1 }");
}

TEST(replace_into_empty_object)
{
    expect_replaced("{}", "new", "{\"model\":\"new\"}");
    expect_replaced("{ }", "new", "{\"model\":\"new\" }");
}

TEST(replace_nested_only_inserts_top)
{
    expect_replaced("{\"a\":{\"model\":\"x\"}}", "new",
                    "{\"model\":\"new\",\"a\":{\"model\":\"x\"}}");
}

TEST(replace_non_string_value)
{
    expect_replaced("{\"model\":7,\"n\":1}", "new", "{\"model\":\"new\",\"n\":1}");
    expect_replaced("{\"model\":null}", "new", "{\"model\":\"new\"}");
    expect_replaced("{\"model\":[\"a\"] ,\"n\":1}", "new", "{\"model\":\"new\" ,\"n\":1}");
    expect_replaced("{\"model\":{\"model\":\"a\"}}", "new", "{\"model\":\"new\"}");
}

TEST(replace_escaped_key_decoded)
{
    expect_replaced("{\"mod\\u0065l\":\"old\"}", "new", "{\"mod\\u0065l\":\"new\"}");
    expect_replaced("{\"mod\\u0065L\":\"keep\"}", "new",
                    "{\"model\":\"new\",\"mod\\u0065L\":\"keep\"}");
}

TEST(replace_non_object_invalid)
{
    expect_status("[{\"model\":\"x\"}]", SL_ERR_INVALID);
    expect_status("\"model\"", SL_ERR_INVALID);
    expect_status("", SL_ERR_INVALID);
    expect_status("   ", SL_ERR_INVALID);
}

TEST(replace_output_parses_back)
{
    static const char json[] = "{\"model\":\"old\",\"x\":\"\\ud83d\\ude00\",\"y\":[1,{\"z\":[]}]}";
    struct sl_buf out;
    cJSON *before = cJSON_Parse(json);
    cJSON *after;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_json_replace_top_string(json, strlen(json), "model", "gpt-\xc3\xa9", &out));
    after = cJSON_ParseWithLength(out.data, out.len);
    ASSERT_TRUE(after != NULL);
    ASSERT_STR_EQ("gpt-\xc3\xa9", sl_json_get_string(after, "model"));
    cJSON_DeleteItemFromObjectCaseSensitive(before, "model");
    cJSON_DeleteItemFromObjectCaseSensitive(after, "model");
    ASSERT_TRUE(cJSON_Compare(before, after, 1));
    cJSON_Delete(before);
    cJSON_Delete(after);
    sl_buf_dispose(&out);
}

TEST(duplicate_key_found)
{
    cJSON *root = cJSON_Parse("{\"a\":1,\"b\":2,\"c\":3,\"b\":4,\"a\":5}");

    /* The first member that appears twice, in member order. */
    ASSERT_STR_EQ("a", sl_json_duplicate_key(root));
    cJSON_Delete(root);
}

TEST(duplicate_key_none)
{
    cJSON *root = cJSON_Parse("{\"a\":{\"x\":1},\"b\":{\"x\":2},\"A\":3}");

    ASSERT_TRUE(sl_json_duplicate_key(root) == NULL);
    cJSON_Delete(root);
}

TEST(duplicate_key_nested_ignored)
{
    cJSON *root = cJSON_Parse("{\"a\":{\"x\":1,\"x\":2}}");

    ASSERT_TRUE(sl_json_duplicate_key(root) == NULL);
    cJSON_Delete(root);
}

TEST(duplicate_key_escaped_spelling)
{
    cJSON *root = cJSON_Parse("{\"model\":\"a\",\"mod\\u0065l\":\"b\"}");

    ASSERT_STR_EQ("model", sl_json_duplicate_key(root));
    cJSON_Delete(root);
}

TEST(duplicate_key_empty_object)
{
    cJSON *root = cJSON_Parse("{}");

    ASSERT_TRUE(sl_json_duplicate_key(root) == NULL);
    cJSON_Delete(root);
}

TEST(replace_raw_object_value)
{
    static const char json[] = "{\"a\":1, \"stream_options\" : null ,\"z\":[]}";
    static const char want[] = "{\"a\":1, \"stream_options\" : {\"include_usage\":true} ,\"z\":[]}";
    static const char raw[] = "{\"include_usage\":true}";
    struct sl_buf out;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_json_replace_top_raw(json, strlen(json), "stream_options", raw, strlen(raw), &out));
    ASSERT_MEM_EQ(want, strlen(want), out.data, out.len);
    sl_buf_dispose(&out);
}

TEST(replace_raw_inserts_first)
{
    static const char json[] = "{ \"a\":1}";
    struct sl_buf out;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_json_replace_top_raw(json, strlen(json), "include_usage", "true", 4, &out));
    /* The member goes right after the brace, and a comma before the next member. */
    ASSERT_MEM_EQ("{\"include_usage\":true, \"a\":1}", strlen("{\"include_usage\":true, \"a\":1}"),
                  out.data, out.len);
    sl_buf_dispose(&out);
}

TEST(find_top_member_range)
{
    static const char json[] = "{\"x\":{\"stream_options\":1}, \"stream_options\" : {\"a\": [1]} }";
    size_t start = 0, end = 0;

    ASSERT_OK(sl_json_find_top(json, strlen(json), "stream_options", &start, &end));
    ASSERT_MEM_EQ("{\"a\": [1]}", strlen("{\"a\": [1]}"), json + start, end - start);
    ASSERT_EQ(SL_ERR_NOT_FOUND, sl_json_find_top(json, strlen(json), "a", &start, &end));
    ASSERT_EQ(SL_ERR_INVALID, sl_json_find_top("[1]", 3, "a", &start, &end));
}
