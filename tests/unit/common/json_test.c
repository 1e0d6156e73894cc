/* SPDX-License-Identifier: Apache-2.0 */
/* json_test -- depth-capped parsing and string escaping (common/json.c). */
#include "common/json.h"
#include "test.h"

static enum sl_status
parse(const char *text, cJSON **out, struct sl_errbuf *err)
{
    return sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, out, err);
}

TEST(json_parse_accepts_object)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    ASSERT_OK(parse("{\"model\":\"m\",\"n\":[1,2]}", &root, &err));
    ASSERT_STR_EQ("m", sl_json_get_string(root, "model"));
    ASSERT_TRUE(sl_json_get_string(root, "n") == NULL);
    cJSON_Delete(root);
}

TEST(json_parse_rejects_trailing_garbage)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    ASSERT_EQ(SL_ERR_INVALID, parse("{\"a\":1} x", &root, &err));
    ASSERT_CONTAINS(err.msg, "byte 8");
    ASSERT_TRUE(root == NULL);
}

TEST(json_parse_rejects_truncated_input)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    ASSERT_EQ(SL_ERR_INVALID, parse("{\"a\":", &root, &err));
    ASSERT_EQ(SL_ERR_INVALID, parse("", &root, &err));
    ASSERT_CONTAINS(err.msg, "invalid JSON");
}

TEST(json_parse_rejects_deep_nesting)
{
    char text[400];
    cJSON *root = NULL;
    struct sl_errbuf err;
    size_t n = 0;

    for (int i = 0; i < SL_JSON_MAX_DEPTH + 1; i++)
        text[n++] = '[';
    for (int i = 0; i < SL_JSON_MAX_DEPTH + 1; i++)
        text[n++] = ']';
    ASSERT_EQ(SL_ERR_TOO_DEEP, sl_json_parse(text, n, SL_JSON_MAX_DEPTH, &root, &err));
    ASSERT_OK(sl_json_parse(text + 1, n - 2, SL_JSON_MAX_DEPTH, &root, &err));
    cJSON_Delete(root);
}

TEST(json_depth_ignores_brackets_in_strings)
{
    const char *text = "{\"a\":\"[[[{\\\"\",\"b\":[1]}";

    ASSERT_EQ(2, sl_json_depth(text, strlen(text)));
}

TEST(json_append_string_escapes_controls)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_json_append_string(&b, "a\"b\\c\n\x01z", 8));
    ASSERT_STR_EQ("\"a\\\"b\\\\c\\n\\u0001z\"", b.data);
    sl_buf_dispose(&b);
}

/* cJSON accepts these, but a provider's strict parser would read the body differently. */
TEST(json_parse_rejects_control_bytes)
{
    static const char *const bad[] = {"\x01{}", "{\"a\":1}\x0b", "{\"a\"\x0c:1}",
                                      "{\"mod\x00l\":1}", "[\"tab\there\"]"};
    static const size_t lens[] = {3, 8, 8, 12, 12};
    cJSON *root = NULL;
    struct sl_errbuf err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_json_parse(bad[i], lens[i], SL_JSON_MAX_DEPTH, &root, &err) != SL_ERR_INVALID)
            SL_TEST_FAIL("case %zu: expected SL_ERR_INVALID", i);
        ASSERT_CONTAINS(err.msg, "control character");
    }
    ASSERT_OK(parse(" \t\r\n{\"a\":\"\\t\\u0001\"}\n", &root, &err));
    cJSON_Delete(root);
}

/* cJSON reads some escapes JSON does not have; a strict parser would see other member names. */
TEST(json_parse_rejects_bad_escapes)
{
    static const char *const bad[] = {"{\"a\\x\":1}", "[\"\\u00g0\"]", "[\"\\u12\"]", "[\"\\"};
    cJSON *root = NULL;
    struct sl_errbuf err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_json_parse(bad[i], strlen(bad[i]), SL_JSON_MAX_DEPTH, &root, &err) !=
            SL_ERR_INVALID)
            SL_TEST_FAIL("case %zu (%s): expected SL_ERR_INVALID", i, bad[i]);
    }
    ASSERT_OK(parse("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"]", &root, &err));
    cJSON_Delete(root);
}

/* cJSON would end each of these strings at the NUL: "lb\u0000x" would read as "lb". */
TEST(json_parse_rejects_nul_escape)
{
    static const char *const bad[] = {
        "{\"model\":\"lb\\u0000x\"}",
        "{\"model\":\"openai/a\\u0000b\"}",
        "{\"mod\\u0000el\":\"x\"}",
        "[\"\\u0000\"]",
        "{\"a\":[1,{\"b\":\"\\t\\u0000\"}]}",
    };
    static const int at[] = {12, 18, 5, 2, 16};
    cJSON *root = NULL;
    struct sl_errbuf err;
    char expected[64];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = NULL;
        if (sl_json_parse(bad[i], strlen(bad[i]), SL_JSON_MAX_DEPTH, &root, &err) !=
            SL_ERR_INVALID)
            SL_TEST_FAIL("case %zu (%s): expected SL_ERR_INVALID", i, bad[i]);
        ASSERT_TRUE(root == NULL);
        snprintf(expected, sizeof(expected), "\\u0000 (found at byte %d)", at[i]);
        ASSERT_CONTAINS(err.msg, expected);
    }
}

/* Only the escape is rejected: an escaped backslash followed by "u0000", and other \u00XX
 * control escapes, stay valid. */
TEST(json_parse_accepts_near_nul_escapes)
{
    cJSON *root = NULL;
    struct sl_errbuf err;

    ASSERT_OK(parse("{\"a\":\"x\\\\u0000y\"}", &root, &err));
    ASSERT_STR_EQ("x\\u0000y", sl_json_get_string(root, "a"));
    cJSON_Delete(root);
    ASSERT_OK(parse("{\"a\":\"\\u0001\\u0100\\u1000\"}", &root, &err));
    cJSON_Delete(root);
    ASSERT_OK(parse("{\"u0000\":0}", &root, &err));
    cJSON_Delete(root);
}

TEST(utf8_accepts_ascii_and_multibyte)
{
    static const char text[] = "plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

    ASSERT_EQ(sl_utf8_valid(text, sizeof(text) - 1), 1);
    ASSERT_EQ(sl_utf8_valid("", 0), 1);
}

TEST(utf8_rejects_malformed_sequences)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\xc3",             /* cut after the lead byte */
        "\xe2\x82",         /* cut inside */
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong slash */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "a\x80",            /* continuation without a lead */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_EQ(sl_utf8_valid(bad[i], strlen(bad[i])), 0);
}

TEST(json_nul_escape_found_in_strings)
{
    static const char with[] = "{\"a\":\"x\\u0000y\"}";
    static const char escaped_backslash[] = "{\"a\":\"x\\\\u0000y\"}";
    static const char other[] = "{\"a\":\"\\u0001\"}";
    static const char cut[] = "{\"a\":\"\\u000";

    ASSERT_EQ(sl_json_has_nul_escape(with, sizeof(with) - 1), 1);
    ASSERT_EQ(sl_json_has_nul_escape(escaped_backslash, sizeof(escaped_backslash) - 1), 0);
    ASSERT_EQ(sl_json_has_nul_escape(other, sizeof(other) - 1), 0);
    ASSERT_EQ(sl_json_has_nul_escape(cut, sizeof(cut) - 1), 0);
}

TEST(json_duplicate_key_found_at_any_depth)
{
    static const char *const dup[] = {
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":2}}",
        "{\"a\":[{\"c\":1},{\"d\":1,\"d\":2}]}",
        "[{\"e\":1,\"e\":1}]",
    };
    static const char *const unique[] = {"{\"a\":{\"a\":1}}", "[{\"a\":1},{\"a\":2}]", "{}"};
    cJSON *item;

    for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        ASSERT_OK(parse(dup[i], &item, NULL));
        ASSERT_EQ(sl_json_has_duplicate_key(item), 1);
        cJSON_Delete(item);
    }
    for (size_t i = 0; i < sizeof(unique) / sizeof(unique[0]); i++) {
        ASSERT_OK(parse(unique[i], &item, NULL));
        ASSERT_EQ(sl_json_has_duplicate_key(item), 0);
        cJSON_Delete(item);
    }
}
