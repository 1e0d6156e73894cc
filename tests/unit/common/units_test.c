/* SPDX-License-Identifier: Apache-2.0 */
/* units_test -- durations and sizes written by operators (common/units.c). */
#include "common/units.h"
#include "test.h"

static double
duration(const char *text)
{
    double s = -1;

    ASSERT_OK(sl_units_parse_duration(text, &s));
    return s;
}

TEST(units_duration_plain_seconds)
{
    ASSERT_DBL_EQ(30, duration("30"));
    ASSERT_DBL_EQ(1.5, duration("1.5"));
    ASSERT_DBL_EQ(0, duration("0"));
}

TEST(units_duration_suffixes)
{
    ASSERT_DBL_EQ(30, duration("30s"));
    ASSERT_DBL_EQ(300, duration("5m"));
    ASSERT_DBL_EQ(3600, duration("1h"));
    ASSERT_DBL_EQ(2 * 86400, duration("2d"));
    ASSERT_DBL_EQ(7 * 86400, duration("1w"));
    ASSERT_DBL_EQ(90, duration("1.5m"));
}

TEST(units_duration_rejects_bad_text)
{
    static const char *const bad[] = {"",   "abc", "-5",  "5x",  "5mo", " 5",  "5 ",  "1e3",
                                      "inf", "nan", "5.",  ".5",  "0x10", "5ss", "s",   "+5",
                                      "12345678901234567890123456789012345678901234567890"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double s = 42;

        if (sl_units_parse_duration(bad[i], &s) != SL_ERR_INVALID)
            SL_TEST_FAIL("duration \"%s\" was accepted", bad[i]);
        ASSERT_DBL_EQ(42, s);
    }
}

TEST(units_size_mb_to_bytes)
{
    uint64_t bytes = 0;

    ASSERT_OK(sl_units_parse_size_mb("32", &bytes));
    ASSERT_EQ(32ull * 1024 * 1024, bytes);
    ASSERT_OK(sl_units_parse_size_mb("0.5", &bytes));
    ASSERT_EQ(512ull * 1024, bytes);
}

TEST(units_size_rejects_bad_text_and_overflow)
{
    static const char *const bad[] = {"", "-1", "32MB", "1e3", "abc", "99999999999999999999"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t bytes = 7;

        if (sl_units_parse_size_mb(bad[i], &bytes) != SL_ERR_INVALID)
            SL_TEST_FAIL("size \"%s\" was accepted", bad[i]);
        ASSERT_EQ(7, bytes);
    }
}
