/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget_period_test -- budget_duration parsing and the UTC calendar of budget periods
 * (common/budget_period.c). Expected instants are written as Unix seconds next to their UTC
 * date. The property tests check every period against gmtime_r(), an independent calendar.
 */
#define _POSIX_C_SOURCE 200809L

#include "common/budget_period.h"

#include <time.h>

#include "test.h"

static struct sl_budget_duration
duration(const char *text)
{
    struct sl_budget_duration d = {0, SL_BUDGET_SECONDS};

    if (sl_budget_duration_parse(text, &d) != SL_OK)
        SL_TEST_FAIL("sl_budget_duration_parse(\"%s\") failed", text);
    return d;
}

/* Checks that the period of `text` containing `now` is [start, end). */
static void
check_period(const char *text, int64_t now, int64_t start, int64_t end)
{
    struct sl_budget_duration d = duration(text);
    int64_t got_end = -1;
    int64_t got_start = sl_budget_period(&d, now, &got_end);

    if (got_start != start || got_end != end)
        SL_TEST_FAIL("%s at %" PRId64 ": expected [%" PRId64 ", %" PRId64 "), got [%" PRId64
                     ", %" PRId64 ")",
                     text, now, start, end, got_start, got_end);
}

/* ---------------------------------------------------------------- parsing */

TEST(budget_parse_every_unit)
{
    static const struct {
        const char *text;
        int64_t n;
        enum sl_budget_unit unit;
    } cases[] = {
        {"30s", 30, SL_BUDGET_SECONDS}, {"30m", 30, SL_BUDGET_MINUTES},
        {"2h", 2, SL_BUDGET_HOURS},     {"1d", 1, SL_BUDGET_DAYS},
        {"30d", 30, SL_BUDGET_DAYS},    {"1w", 1, SL_BUDGET_WEEKS},
        {"2w", 2, SL_BUDGET_WEEKS},     {"1mo", 1, SL_BUDGET_MONTHS},
        {"3mo", 3, SL_BUDGET_MONTHS},   {"100000s", 100000, SL_BUDGET_SECONDS},
        {"007d", 7, SL_BUDGET_DAYS},    {"100000mo", 100000, SL_BUDGET_MONTHS},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_budget_duration d = {-1, SL_BUDGET_SECONDS};

        ASSERT_EQ(SL_OK, sl_budget_duration_parse(cases[i].text, &d));
        ASSERT_EQ(cases[i].n, d.n);
        ASSERT_EQ(cases[i].unit, d.unit);
    }
}

TEST(budget_parse_rejects_invalid_text)
{
    static const char *const bad[] = {
        "", "0", "0s", "0mo", "000d", "-1", "-1d", "+1d", " 1d", "1d ", "1 d", "1\td",
        "1hr", "1y", "mo", "d", "1", "1M", "1D", "1mon", "1month", "1.5h", "1e3s", "1dd",
        "100001s", "100001mo", "99999999999999999999999d", "1sm", "1m o", "0x10s",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_budget_duration d = {42, SL_BUDGET_HOURS};

        if (sl_budget_duration_parse(bad[i], &d) != SL_ERR_INVALID)
            SL_TEST_FAIL("\"%s\" was accepted", bad[i]);
        /* A rejected text leaves the output untouched. */
        ASSERT_EQ(42, d.n);
        ASSERT_EQ(SL_BUDGET_HOURS, d.unit);
    }
}

TEST(budget_parse_length_cap)
{
    char text[SL_BUDGET_DURATION_MAX + 2];
    struct sl_budget_duration d = {0, SL_BUDGET_SECONDS};

    /* SL_BUDGET_DURATION_MAX bytes: leading zeros, then "1d". */
    memset(text, '0', SL_BUDGET_DURATION_MAX - 2);
    memcpy(text + SL_BUDGET_DURATION_MAX - 2, "1d", 3);
    ASSERT_EQ(SL_BUDGET_DURATION_MAX, strlen(text));
    ASSERT_EQ(SL_OK, sl_budget_duration_parse(text, &d));
    ASSERT_EQ(1, d.n);
    ASSERT_EQ(SL_BUDGET_DAYS, d.unit);

    /* One byte more is rejected although the number is still 1. */
    memset(text, '0', SL_BUDGET_DURATION_MAX - 1);
    memcpy(text + SL_BUDGET_DURATION_MAX - 1, "1d", 3);
    ASSERT_EQ(SL_BUDGET_DURATION_MAX + 1, strlen(text));
    ASSERT_EQ(SL_ERR_INVALID, sl_budget_duration_parse(text, &d));
}

/* ---------------------------------------------------------------- alignment */

/* 2026-12-05 10:17:33 UTC, a Saturday. */
#define NOW 1796465853

TEST(budget_period_every_rule_on_one_instant)
{
    check_period("30s", NOW, 1796465850, 1796465880); /* 10:17:30 .. 10:18:00 */
    check_period("30m", NOW, 1796464800, 1796466600); /* 10:00 .. 10:30 */
    check_period("2h", NOW, 1796464800, 1796472000);  /* 10:00 .. 12:00 */
    check_period("1d", NOW, 1796428800, 1796515200);  /* 2026-12-05 .. 12-06 */
    check_period("7d", NOW, 1795996800, 1796601600);  /* Monday 2026-11-30 .. 12-07 */
    check_period("1w", NOW, 1795996800, 1796601600);  /* Monday 2026-11-30 .. 12-07 */
    check_period("30d", NOW, 1796083200, 1798761600); /* 2026-12-01 .. 2027-01-01 */
    check_period("3d", NOW, 1796256000, 1796515200);  /* 2026-12-03 .. 12-06 */
    check_period("2w", NOW, 1795996800, 1797206400);  /* Monday 2026-11-30 .. 12-14 */
    check_period("1mo", NOW, 1796083200, 1798761600); /* 2026-12-01 .. 2027-01-01 */
    check_period("3mo", NOW, 1790812800, 1798761600); /* 2026-10-01 .. 2027-01-01 */
    check_period("12mo", NOW, 1767225600, 1798761600); /* 2026-01-01 .. 2027-01-01 */
}

TEST(budget_period_end_is_optional)
{
    struct sl_budget_duration d = duration("1mo");

    ASSERT_EQ(1796083200, sl_budget_period(&d, NOW, NULL));
}

TEST(budget_period_month_ends)
{
    /* 2026-01-31 23:59:59 is still January. */
    check_period("1mo", 1769903999, 1767225600, 1769904000);
    check_period("30d", 1769903999, 1767225600, 1769904000);
    /* 2027-02-28 08:00, a February of 28 days. */
    check_period("1mo", 1803801600, 1801440000, 1803859200);
    check_period("1d", 1803801600, 1803801600 - 8 * 3600, 1803859200);
}

TEST(budget_period_leap_days)
{
    /* 2028-02-29 12:00: February 2028 has 29 days. */
    check_period("1mo", 1835438400, 1832976000, 1835481600);
    check_period("30d", 1835438400, 1832976000, 1835481600);
    check_period("1d", 1835438400, 1835395200, 1835481600);
    /* 2000-02-29 01:00: a century year divisible by 400 is a leap year. */
    check_period("1mo", 951786000, 949363200, 951868800);
    /* 2100-02-28 18:00: a century year not divisible by 400 is not, so March follows. */
    check_period("1mo", 4107520800, 4105123200, 4107542400);
    check_period("1d", 4107520800, 4107456000, 4107542400);
}

TEST(budget_period_year_ends)
{
    /* 2026-12-31 23:59:59 and 2027-01-01 00:00:00. */
    check_period("1mo", 1798761599, 1796083200, 1798761600);
    check_period("1d", 1798761599, 1798675200, 1798761600);
    check_period("1mo", 1798761600, 1798761600, 1801440000);
    check_period("12mo", 1798761599, 1767225600, 1798761600);
    /* 9999-12-31 23:59:59, the last instant accepted: the period ends at 10000-01-01. */
    check_period("1mo", 253402300799, 253399622400, 253402300800);
}

TEST(budget_period_boundary_starts_new_period)
{
    /* Exactly on a boundary is the first second of the new period. */
    check_period("30m", 1796466600, 1796466600, 1796466600 + 1800);
    check_period("1d", 1796428800, 1796428800, 1796515200);
    check_period("1mo", 1796083200, 1796083200, 1798761600);
    /* Monday 2026-11-30 00:00 starts a week, Sunday 23:59:59 before it ends the last one. */
    check_period("7d", 1795996800, 1795996800, 1796601600);
    check_period("7d", 1795996799, 1795392000, 1795996800);
    /* 2026-12-14 00:00 starts the next 2w period. */
    check_period("2w", 1797206400, 1797206400, 1797206400 + 14 * 86400);
}

TEST(budget_period_at_epoch)
{
    check_period("1d", 0, 0, 86400);
    check_period("1mo", 0, 0, 31 * 86400);
    /* The epoch's week started on Monday 1969-12-29, three days before. */
    check_period("7d", 0, -3 * 86400, 4 * 86400);
    check_period("2w", 0, -3 * 86400, 11 * 86400);
}

/* ---------------------------------------------------------------- properties */

static struct tm
utc(int64_t s)
{
    time_t t = (time_t)s;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        SL_TEST_FAIL("gmtime_r(%" PRId64 ") failed", s);
    return tm;
}

/* Checks the calendar rule of `text` on the period [start, end) with gmtime_r(). */
static void
check_alignment(const char *text, const struct sl_budget_duration *d, int64_t start, int64_t end)
{
    struct tm s = utc(start);
    struct tm e = utc(end);
    int weekly = d->unit == SL_BUDGET_WEEKS || (d->unit == SL_BUDGET_DAYS && d->n == 7);
    int monthly = d->unit == SL_BUDGET_MONTHS || (d->unit == SL_BUDGET_DAYS && d->n == 30);

    if (monthly) {
        int64_t months = ((int64_t)e.tm_year - s.tm_year) * 12 + (e.tm_mon - s.tm_mon);
        int64_t from_1970 = ((int64_t)s.tm_year - 70) * 12 + s.tm_mon;

        if (s.tm_mday != 1 || s.tm_hour != 0 || s.tm_min != 0 || s.tm_sec != 0 || e.tm_mday != 1)
            SL_TEST_FAIL("%s: period %" PRId64 " does not start on the first", text, start);
        ASSERT_EQ(d->unit == SL_BUDGET_MONTHS ? d->n : 1, months);
        ASSERT_EQ(0, from_1970 % months);
    } else if (weekly) {
        int64_t weeks = d->unit == SL_BUDGET_WEEKS ? d->n : 1;

        if (s.tm_wday != 1 || s.tm_hour != 0 || s.tm_min != 0 || s.tm_sec != 0)
            SL_TEST_FAIL("%s: period %" PRId64 " does not start on a Monday", text, start);
        ASSERT_EQ(weeks * 7 * 86400, end - start);
        ASSERT_EQ(0, (start + 3 * 86400) % (weeks * 7 * 86400));
    } else {
        ASSERT_EQ(0, start % (end - start));
        if (d->unit == SL_BUDGET_DAYS && (s.tm_hour != 0 || s.tm_min != 0 || s.tm_sec != 0))
            SL_TEST_FAIL("%s: period %" PRId64 " does not start at midnight", text, start);
    }
}

TEST(budget_period_properties_many_instants)
{
    static const char *const texts[] = {
        "1s", "30s", "7s", "1m", "30m", "45m", "1h", "2h", "5h", "1d", "3d", "7d", "14d",
        "30d", "31d", "1w", "2w", "3w", "1mo", "2mo", "3mo", "5mo", "12mo", "100000mo",
    };
    uint64_t state = 0x9e3779b97f4a7c15u;

    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        struct sl_budget_duration d = duration(texts[t]);

        for (int i = 0; i < 4000; i++) {
            int64_t now, start, end = 0, next_end = 0;

            /* xorshift64, scaled to 0 .. 9999-12-31 23:59:59 */
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            now = (int64_t)(state % 253402300800u);
            if (i < 16)
                now = i; /* the first seconds after the epoch */

            start = sl_budget_period(&d, now, &end);
            if (!(start <= now && now < end))
                SL_TEST_FAIL("%s at %" PRId64 ": [%" PRId64 ", %" PRId64 ") misses it",
                             texts[t], now, start, end);
            /* The end is the start of the next period, and the start is its own period's. */
            ASSERT_EQ(end, sl_budget_period(&d, end, &next_end));
            ASSERT_TRUE(next_end > end);
            ASSERT_EQ(start, sl_budget_period(&d, start, NULL));
            ASSERT_EQ(start, sl_budget_period(&d, end - 1, NULL));
            if (start >= 0)
                check_alignment(texts[t], &d, start, end);
        }
    }
}
