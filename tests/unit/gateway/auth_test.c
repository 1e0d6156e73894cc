/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_test -- key lookup across the four key headers, the master key comparison and key
 * masking (gateway/auth/auth.c).
 */
#include "gateway/auth/auth.h"
#include "test.h"

#define SET(h, field, value)                                                                       \
    do {                                                                                           \
        (h).field = (value);                                                                       \
        (h).field##_len = strlen(value);                                                           \
    } while (0)

/* Extracts the key of `h` into `out` (NUL-terminated) and returns the result. */
static enum sl_auth_result
extract(const struct sl_auth_headers *h, char *out, size_t size)
{
    const char *key = NULL;
    size_t len = 0;
    enum sl_auth_result r = sl_auth_extract(h, &key, &len);

    out[0] = '\0';
    if (r == SL_AUTH_OK)
        snprintf(out, size, "%.*s", (int)len, key);
    return r;
}

TEST(auth_no_header_is_missing)
{
    struct sl_auth_headers h = {0};
    char key[64];

    ASSERT_EQ(SL_AUTH_MISSING, extract(&h, key, sizeof(key)));
}

TEST(auth_litellm_header_wins)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, litellm_api_key, "sk-litellm");
    SET(h, authorization, "Bearer sk-authorization");
    SET(h, api_key, "sk-api-key");
    SET(h, x_api_key, "sk-x-api-key");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-litellm", key);
}

TEST(auth_authorization_beats_api_key)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, authorization, "Bearer sk-authorization");
    SET(h, api_key, "sk-api-key");
    SET(h, x_api_key, "sk-x-api-key");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-authorization", key);
}

TEST(auth_api_key_beats_x_api_key)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, api_key, "sk-api-key");
    SET(h, x_api_key, "sk-x-api-key");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-api-key", key);
}

TEST(auth_x_api_key_alone)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, x_api_key, "sk-x-api-key");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-x-api-key", key);
}

TEST(auth_bearer_prefix_any_case)
{
    static const char *const values[] = {"Bearer sk-1", "bearer sk-1", "BEARER sk-1",
                                         "bEaReR sk-1"};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct sl_auth_headers h = {0};
        char key[64];

        SET(h, authorization, values[i]);
        if (extract(&h, key, sizeof(key)) != SL_AUTH_OK)
            SL_TEST_FAIL("Authorization \"%s\" was not accepted", values[i]);
        if (strcmp(key, "sk-1") != 0)
            SL_TEST_FAIL("Authorization \"%s\": expected key \"sk-1\", got \"%s\"", values[i], key);
    }
}

TEST(auth_litellm_header_optional_bearer)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, litellm_api_key, "Bearer sk-1");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-1", key);

    SET(h, litellm_api_key, "sk-2");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-2", key);
}

TEST(auth_authorization_without_bearer_malformed)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, authorization, "sk-1");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
    SET(h, authorization, "Basic dXNlcjpwYXNz");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
    SET(h, authorization, "Bearer");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
}

TEST(auth_malformed_authorization_not_bypassed)
{
    struct sl_auth_headers h = {0};
    char key[64];

    /* A lower-priority header does not rescue a malformed Authorization. */
    SET(h, authorization, "sk-1");
    SET(h, api_key, "sk-2");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
}

TEST(auth_empty_bearer_malformed)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, authorization, "Bearer ");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
    SET(h, authorization, "Bearer  \t ");
    ASSERT_EQ(SL_AUTH_MALFORMED, extract(&h, key, sizeof(key)));
}

TEST(auth_empty_key_missing)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, api_key, "");
    ASSERT_EQ(SL_AUTH_MISSING, extract(&h, key, sizeof(key)));
    SET(h, api_key, "  \t");
    ASSERT_EQ(SL_AUTH_MISSING, extract(&h, key, sizeof(key)));
}

TEST(auth_key_trimmed)
{
    struct sl_auth_headers h = {0};
    char key[64];

    SET(h, authorization, "Bearer \t sk-1 \t");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-1", key);

    memset(&h, 0, sizeof(h));
    SET(h, x_api_key, "  sk-2  ");
    ASSERT_EQ(SL_AUTH_OK, extract(&h, key, sizeof(key)));
    ASSERT_STR_EQ("sk-2", key);
}

TEST(auth_key_not_nul_terminated)
{
    struct sl_auth_headers h = {0};
    const char *key = NULL;
    size_t len = 0;

    /* Header values point into a request buffer: only `len` bytes belong to the key. */
    h.api_key = "sk-1234TRAILING";
    h.api_key_len = 7;
    ASSERT_EQ(SL_AUTH_OK, sl_auth_extract(&h, &key, &len));
    ASSERT_MEM_EQ("sk-1234", 7, key, len);
}

TEST(auth_master_equal)
{
    ASSERT_EQ(1, sl_auth_is_master("sk-master-1234", "sk-master-1234", 14));
}

TEST(auth_master_different)
{
    ASSERT_EQ(0, sl_auth_is_master("sk-master-1234", "sk-master-1235", 14));
    ASSERT_EQ(0, sl_auth_is_master("sk-master-1234", "SK-MASTER-1234", 14));
}

TEST(auth_master_prefix_rejected)
{
    ASSERT_EQ(0, sl_auth_is_master("sk-master-1234", "sk-master-123", 13));
    ASSERT_EQ(0, sl_auth_is_master("sk-master-1234", "", 0));
}

TEST(auth_master_longer_rejected)
{
    ASSERT_EQ(0, sl_auth_is_master("sk-master-1234", "sk-master-12345", 15));
    /* Only `len` bytes count: the same text with a longer length is a different key. */
    ASSERT_EQ(1, sl_auth_is_master("sk-master-1234", "sk-master-12345", 14));
}

/* Counts the longest run of `key` bytes that appears in `masked`. */
static size_t
longest_shared_run(const char *key, const char *masked)
{
    size_t best = 0;
    size_t klen = strlen(key);

    for (size_t start = 0; start < klen; start++)
        for (size_t n = best + 1; start + n <= klen; n++) {
            char piece[64];

            snprintf(piece, sizeof(piece), "%.*s", (int)n, key + start);
            if (strstr(masked, piece) == NULL)
                break;
            best = n;
        }
    return best;
}

TEST(auth_mask_shows_last_four)
{
    char out[16];

    sl_auth_mask("sk-abcdefgh1234", 15, out);
    ASSERT_STR_EQ("sk-...1234", out);
}

TEST(auth_mask_short_key_hidden)
{
    char out[16];

    sl_auth_mask("sk-12345", 8, out);
    ASSERT_STR_EQ("****", out);
    sl_auth_mask("", 0, out);
    ASSERT_STR_EQ("****", out);
}

TEST(auth_mask_never_more_than_four)
{
    /* Keys without the "sk-" prefix, so the mask's own prefix cannot count as key bytes. */
    static const char *const keys[] = {"x", "abcdefgh", "abcdefghi", "zyxwvutsrqponmlk",
                                       "0123456789012345678901234567890123456789"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char out[16];
        size_t run;

        sl_auth_mask(keys[i], strlen(keys[i]), out);
        run = longest_shared_run(keys[i], out);
        if (run > 4)
            SL_TEST_FAIL("mask of a %zu-byte key \"%s\" shows %zu key bytes", strlen(keys[i]), out,
                         run);
    }
}
