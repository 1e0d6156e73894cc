/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget_period -- the calendar of budget resets. A budget_duration ("30s", "30m", "2h", "1d",
 * "7d", "30d", "2w", "1mo") divides time into periods aligned to UTC boundaries, so every
 * gateway and the coordinator compute the same period for the same instant without asking
 * anyone. Live spend is kept per period (docs/limits.md), so a new period starts from zero the
 * moment it begins, and no reset job can race an increment.
 *
 * Alignment (UTC): Ns, Nm, Nh: multiples of N units since the Unix epoch. 1d: midnight. 7d and
 * Nw: Mondays 00:00, N weeks apart, counted from Monday 1969-12-29. 30d: the first of each
 * month. Other Nd: multiples of N days since the epoch. Nmo: the first of every Nth month
 * counted from January 1970. An instant exactly on a boundary starts the new period.
 */
#ifndef SL_BUDGET_PERIOD_H
#define SL_BUDGET_PERIOD_H

#include <stdint.h>

#include "common/status.h"

enum sl_budget_unit {
    SL_BUDGET_SECONDS,
    SL_BUDGET_MINUTES,
    SL_BUDGET_HOURS,
    SL_BUDGET_DAYS,
    SL_BUDGET_WEEKS,
    SL_BUDGET_MONTHS,
};

struct sl_budget_duration {
    int64_t n; /* >= 1 */
    enum sl_budget_unit unit;
};

/* Longest budget_duration text accepted, in bytes. */
#define SL_BUDGET_DURATION_MAX 32

/*
 * Parses `text` (NUL-terminated): a whole number from 1 to 100000 followed by s, m, h, d, w
 * or mo, with no spaces. Returns SL_OK, or SL_ERR_INVALID with `*out` untouched.
 */
enum sl_status sl_budget_duration_parse(const char *text, struct sl_budget_duration *out);

/*
 * Returns the start, in Unix seconds, of the period of `d` that contains `now_s`, and writes
 * the start of the next period into `*end_s` when `end_s` is not NULL: start <= now_s < end.
 * `d` comes from sl_budget_duration_parse(), and `now_s` is from 0 to 253402300799
 * (9999-12-31 23:59:59 UTC). The start of a weekly period can be before 0 (1969-12-29).
 */
int64_t sl_budget_period(const struct sl_budget_duration *d, int64_t now_s, int64_t *end_s);

#endif /* SL_BUDGET_PERIOD_H */
