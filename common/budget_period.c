/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget_period -- budget_duration parsing and the UTC period that contains an instant; see
 * budget_period.h. Calendar dates come from day counts with the proleptic Gregorian rules, so
 * nothing here reads the time zone or the C library's time functions.
 */
#include "common/budget_period.h"

#include <stddef.h>
#include <string.h>

#define SL_BUDGET_COUNT_MAX 100000
#define DAY_S               86400
#define DAYS_PER_ERA        146097 /* days in 400 Gregorian years */

/* 1970-01-01 was a Thursday, so the Monday that starts the epoch's week is day -3. */
#define MONDAY_BEFORE_EPOCH_DAY (-3)

enum sl_status
sl_budget_duration_parse(const char *text, struct sl_budget_duration *out)
{
    size_t len = strnlen(text, SL_BUDGET_DURATION_MAX + 1);
    int64_t n = 0;
    size_t i = 0;
    enum sl_budget_unit unit;
    const char *rest;

    if (len > SL_BUDGET_DURATION_MAX)
        return SL_ERR_INVALID;

    /* The cap is checked at every digit, so a long run of digits cannot overflow `n`. */
    while (text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + (text[i] - '0');
        if (n > SL_BUDGET_COUNT_MAX)
            return SL_ERR_INVALID;
        i++;
    }
    if (i == 0 || n < 1)
        return SL_ERR_INVALID;

    rest = text + i;
    if (strcmp(rest, "s") == 0)
        unit = SL_BUDGET_SECONDS;
    else if (strcmp(rest, "m") == 0)
        unit = SL_BUDGET_MINUTES;
    else if (strcmp(rest, "h") == 0)
        unit = SL_BUDGET_HOURS;
    else if (strcmp(rest, "d") == 0)
        unit = SL_BUDGET_DAYS;
    else if (strcmp(rest, "w") == 0)
        unit = SL_BUDGET_WEEKS;
    else if (strcmp(rest, "mo") == 0)
        unit = SL_BUDGET_MONTHS;
    else
        return SL_ERR_INVALID;

    out->n = n;
    out->unit = unit;
    return SL_OK;
}

/* ---------------------------------------------------------------- calendar */

/* Returns the largest multiple of `step` (> 0) that is <= `x`, for negative `x` too. */
static int64_t
floor_multiple(int64_t x, int64_t step)
{
    int64_t r = x % step;

    return r < 0 ? x - r - step : x - r;
}

/*
 * Returns the days from 1970-01-01 to year `y`, month `m` (1-12), day `d`. The year is counted
 * from March so that February 29 is the last day of its year, and 400-year eras repeat exactly.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t year = m <= 2 ? y - 1 : y;
    int64_t era = floor_multiple(year, 400) / 400;
    int64_t year_of_era = year - era * 400;             /* 0..399 */
    int month_from_march = m > 2 ? m - 3 : m + 9;         /* 0..11 */
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    /* 719468 is the number of days from 0000-03-01 to 1970-01-01. */
    return era * DAYS_PER_ERA + day_of_era - 719468;
}

/* Writes the year and month (1-12) of day `days` since 1970-01-01. */
static void
civil_from_days(int64_t days, int64_t *y, int *m)
{
    int64_t z = days + 719468;
    int64_t era = floor_multiple(z, DAYS_PER_ERA) / DAYS_PER_ERA;
    int64_t day_of_era = z - era * DAYS_PER_ERA; /* 0..146096 */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153; /* 0..11 */
    int month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);

    *y = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
    *m = month;
}

/* Returns the Unix seconds of 00:00 UTC on the first day of `index` months after 1970-01. */
static int64_t
month_start_s(int64_t index)
{
    int64_t year_offset = floor_multiple(index, 12) / 12;
    int month = (int)(index - year_offset * 12) + 1;

    return days_from_civil(1970 + year_offset, month, 1) * DAY_S;
}

/* Period of `months` months counted from January 1970. */
static int64_t
month_period(int64_t months, int64_t now_s, int64_t *end_s)
{
    int64_t y;
    int m;
    int64_t index;
    int64_t first;

    civil_from_days(floor_multiple(now_s, DAY_S) / DAY_S, &y, &m);
    index = (y - 1970) * 12 + (m - 1);
    first = floor_multiple(index, months);
    *end_s = month_start_s(first + months);
    return month_start_s(first);
}

/* Period of `weeks` weeks starting on Mondays, counted from the Monday of the epoch's week. */
static int64_t
week_period(int64_t weeks, int64_t now_s, int64_t *end_s)
{
    int64_t span_s = weeks * 7 * DAY_S;
    int64_t anchor_s = (int64_t)MONDAY_BEFORE_EPOCH_DAY * DAY_S;
    int64_t start = anchor_s + floor_multiple(now_s - anchor_s, span_s);

    *end_s = start + span_s;
    return start;
}

/* Period of `span_s` seconds counted from the epoch. */
static int64_t
fixed_period(int64_t span_s, int64_t now_s, int64_t *end_s)
{
    int64_t start = floor_multiple(now_s, span_s);

    *end_s = start + span_s;
    return start;
}

int64_t
sl_budget_period(const struct sl_budget_duration *d, int64_t now_s, int64_t *end_s)
{
    int64_t end = 0;
    int64_t start;

    switch (d->unit) {
    case SL_BUDGET_SECONDS:
        start = fixed_period(d->n, now_s, &end);
        break;
    case SL_BUDGET_MINUTES:
        start = fixed_period(d->n * 60, now_s, &end);
        break;
    case SL_BUDGET_HOURS:
        start = fixed_period(d->n * 3600, now_s, &end);
        break;
    case SL_BUDGET_DAYS:
        /* 7d and 30d keep their calendar meaning, a week and a month (docs/limits.md). */
        if (d->n == 7)
            start = week_period(1, now_s, &end);
        else if (d->n == 30)
            start = month_period(1, now_s, &end);
        else
            start = fixed_period(d->n * DAY_S, now_s, &end);
        break;
    case SL_BUDGET_WEEKS:
        start = week_period(d->n, now_s, &end);
        break;
    case SL_BUDGET_MONTHS:
    default:
        start = month_period(d->n, now_s, &end);
        break;
    }
    if (end_s != NULL)
        *end_s = end;
    return start;
}
