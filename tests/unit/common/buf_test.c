/* SPDX-License-Identifier: Apache-2.0 */
/* buf_test -- the capped byte buffer (common/buf.c). */
#include "common/buf.h"
#include "test.h"

TEST(buf_append_keeps_nul_terminator)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_buf_append(&b, "abc", 3));
    ASSERT_OK(sl_buf_printf(&b, "-%d", 42));
    ASSERT_EQ(6, b.len);
    ASSERT_STR_EQ("abc-42", b.data);
    sl_buf_dispose(&b);
}

TEST(buf_append_past_cap_fails_unchanged)
{
    struct sl_buf b;

    sl_buf_init(&b, 8);
    ASSERT_OK(sl_buf_append(&b, "12345678", 8));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_buf_append(&b, "9", 1));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_buf_printf(&b, "%s", "x"));
    ASSERT_STR_EQ("12345678", b.data);
    sl_buf_dispose(&b);
}

TEST(buf_consume_moves_rest_to_front)
{
    struct sl_buf b;
    char *taken;
    size_t len;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_buf_append_str(&b, "hello world"));
    sl_buf_consume(&b, 6);
    ASSERT_STR_EQ("world", b.data);
    taken = sl_buf_take(&b, &len);
    ASSERT_EQ(5, len);
    ASSERT_STR_EQ("world", taken);
    ASSERT_EQ(0, b.len);
    free(taken);
    sl_buf_dispose(&b);
}

TEST(buf_printf_grows_past_first_capacity)
{
    struct sl_buf b;
    char expected[300];

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_buf_append_str(&b, "x"));
    /* The first append allocates 64 bytes: this line needs a second pass and a bigger buffer. */
    ASSERT_OK(sl_buf_printf(&b, "%0200d", 7));
    snprintf(expected, sizeof(expected), "x%0200d", 7);
    ASSERT_STR_EQ(expected, b.data);
    ASSERT_EQ(201, b.len);
    sl_buf_dispose(&b);
}

TEST(buf_printf_over_cap_in_place_fails_unchanged)
{
    struct sl_buf b;

    sl_buf_init(&b, 10);
    ASSERT_OK(sl_buf_append_str(&b, "abc"));
    /* Fits the allocated 64 bytes but not the 10-byte cap. */
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_buf_printf(&b, "%s", "12345678"));
    ASSERT_STR_EQ("abc", b.data);
    ASSERT_EQ(3, b.len);
    sl_buf_dispose(&b);
}
