/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits_test -- the in-memory counters (the rules of admit.lua and settle.lua for one
 * process), the prices of requests and the money format of budget messages.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gateway/limits/internal.h"
#include "gateway/limits/limits.h"
#include "tests/unit/test.h"

/* 2026-12-05 10:00:00 UTC, a multiple of 60 s. */
#define T0 1796464800000ULL

static struct sl_limits_scope *
scope(struct sl_limits *l, const char *id)
{
    struct sl_limits_scope *s = &l->scopes[l->n++];

    memset(s, 0, sizeof(*s));
    s->kind = SL_SCOPE_API_KEY;
    s->id = (char *)id; /* borrowed: the tests never free their limits */
    s->rpm = s->tpm = s->parallel = -1;
    s->max_budget = s->soft_budget = NAN;
    return s;
}

static int
admit(struct sl_limits *l, uint64_t now_ms, struct sl_limits_rejection *f)
{
    int ok = sl_limits_local_admit(l, now_ms, 60000, f);

    if (ok)
        l->in_memory = 1;
    return ok;
}

static void
settle(struct sl_limits *l, uint64_t now_ms, int64_t tokens, double cost)
{
    int64_t t[SL_SCOPE_COUNT];

    for (size_t i = 0; i < l->n; i++)
        t[i] = l->scopes[i].tpm >= 0 ? tokens : -1;
    sl_limits_local_settle(l, now_ms, t, cost);
}

TEST(rpm_admits_up_to_limit)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;

    scope(&l, "rpm-3")->rpm = 3;
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(admit(&l, T0 + 200, &f));
        ASSERT_EQ(2 - i, l.scopes[0].left_requests);
    }
    ASSERT_TRUE(!admit(&l, T0 + 300, &f));
    ASSERT_STR_EQ("requests", f.limit_type);
    ASSERT_EQ(3, f.limit);
    ASSERT_EQ(0, f.remaining);
    /* The three requests of second T0 stop counting 60 s after that second began. */
    ASSERT_EQ(60000 - 300, f.retry_ms);
}

TEST(window_slides_by_seconds)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;

    scope(&l, "slide")->rpm = 3;
    ASSERT_TRUE(admit(&l, T0, &f));
    ASSERT_TRUE(admit(&l, T0 + 500, &f));
    ASSERT_TRUE(admit(&l, T0 + 30000, &f));
    ASSERT_TRUE(!admit(&l, T0 + 59999, &f));
    /* A rejected request is not counted: one second later both of T0's requests age out. */
    ASSERT_TRUE(admit(&l, T0 + 60000, &f));
    ASSERT_TRUE(admit(&l, T0 + 60001, &f));
    ASSERT_TRUE(!admit(&l, T0 + 60002, &f));
    /* The oldest request left counts until T0 + 90 s. */
    ASSERT_EQ(90000 - 60002, f.retry_ms);
}

TEST(zero_limit_never_admits)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;

    scope(&l, "zero")->rpm = 0;
    ASSERT_TRUE(!admit(&l, T0, &f));
    ASSERT_EQ(-1, f.retry_ms);
}

TEST(tpm_counts_settled_tokens)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;

    scope(&l, "tpm-150")->tpm = 150;
    ASSERT_TRUE(admit(&l, T0, &f));
    ASSERT_EQ(150, l.scopes[0].left_tokens);
    settle(&l, T0 + 10, 95, 0);
    ASSERT_TRUE(admit(&l, T0 + 20, &f));
    ASSERT_EQ(55, l.scopes[0].left_tokens);
    settle(&l, T0 + 2000, 95, 0);
    ASSERT_TRUE(!admit(&l, T0 + 3000, &f));
    ASSERT_STR_EQ("tokens", f.limit_type);
    ASSERT_EQ(0, f.remaining);
    /* 190 counted: once the 95 of second T0 age out, 95 < 150 again. */
    ASSERT_EQ(60000 - 3000, f.retry_ms);
}

TEST(parallel_slot_released_on_settle)
{
    struct sl_limits a = {0};
    struct sl_limits b = {0};
    struct sl_limits_rejection f;

    scope(&a, "par-1")->parallel = 1;
    scope(&b, "par-1")->parallel = 1;
    ASSERT_TRUE(admit(&a, T0, &f));
    ASSERT_EQ(0, a.scopes[0].left_parallel);
    ASSERT_TRUE(!admit(&b, T0 + 1, &f));
    ASSERT_STR_EQ("max_parallel_requests", f.limit_type);
    settle(&a, T0 + 2, 0, 0);
    ASSERT_TRUE(admit(&b, T0 + 3, &f));
}

TEST(budget_resets_with_period)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;
    struct sl_limits_scope *s = scope(&l, "budget-3s");

    s->max_budget = 1.0;
    s->count_spend = 1;
    ASSERT_OK(sl_budget_duration_parse("3s", &s->period));
    s->has_period = 1;
    ASSERT_TRUE(admit(&l, T0, &f));
    settle(&l, T0 + 100, 0, 0.5);
    ASSERT_TRUE(admit(&l, T0 + 200, &f));
    ASSERT_DBL_EQ(0.5, l.scopes[0].spend);
    settle(&l, T0 + 300, 0, 0.5);
    ASSERT_TRUE(!admit(&l, T0 + 400, &f));
    ASSERT_STR_EQ("budget", f.limit_type);
    ASSERT_DBL_EQ(1.0, f.spend);
    ASSERT_STR_EQ("1", f.limit_text);
    /* T0 is a multiple of 3 s: the next period starts at T0 + 3 s with nothing spent. */
    ASSERT_TRUE(!admit(&l, T0 + 2999, &f));
    ASSERT_TRUE(admit(&l, T0 + 3000, &f));
    ASSERT_DBL_EQ(0.0, l.scopes[0].spend);
}

TEST(budgets_checked_before_limits)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;
    struct sl_limits_scope *limited = scope(&l, "order-limit");
    struct sl_limits_scope *budget = scope(&l, "order-budget");

    limited->rpm = 0;
    budget->max_budget = 0.0;
    ASSERT_TRUE(!admit(&l, T0, &f));
    ASSERT_STR_EQ("budget", f.limit_type);
    ASSERT_EQ(1, f.scope);
}

TEST(soft_budget_crossed_once_per_period)
{
    struct sl_limits l = {0};
    struct sl_limits_rejection f;
    struct sl_limits_scope *s = scope(&l, "soft");
    int64_t tokens[1] = {-1};

    s->soft_budget = 1.0;
    s->count_spend = 1;
    ASSERT_OK(sl_budget_duration_parse("1m", &s->period));
    s->has_period = 1;
    ASSERT_TRUE(admit(&l, T0, &f));
    ASSERT_EQ(0, sl_limits_local_settle(&l, T0 + 1, tokens, 0.6));
    ASSERT_EQ(1, sl_limits_local_settle(&l, T0 + 2, tokens, 0.6));
    ASSERT_EQ(0, sl_limits_local_settle(&l, T0 + 3, tokens, 0.6));
    ASSERT_EQ(0, sl_limits_local_settle(&l, T0 + 60000, tokens, 0.6));
    ASSERT_EQ(1, sl_limits_local_settle(&l, T0 + 60001, tokens, 0.6));
}

TEST(rejection_counts_nothing)
{
    struct sl_limits l = {0};
    struct sl_limits one = {0};
    struct sl_limits_rejection f;

    scope(&l, "all-or-none-a")->rpm = 5;
    scope(&l, "all-or-none-b")->rpm = 0;
    ASSERT_TRUE(!admit(&l, T0, &f));
    scope(&one, "all-or-none-a")->rpm = 5;
    ASSERT_TRUE(admit(&one, T0, &f));
    ASSERT_EQ(4, one.scopes[0].left_requests);
}

TEST(money_prints_like_python)
{
    char out[32];

    sl_limits_format_money(0.0, out);
    ASSERT_STR_EQ("0.0", out);
    sl_limits_format_money(1e-05, out);
    ASSERT_STR_EQ("1e-05", out);
    sl_limits_format_money(0.095, out);
    ASSERT_STR_EQ("0.095", out);
    sl_limits_format_money(3.7e-05, out);
    ASSERT_STR_EQ("3.7e-05", out);
    sl_limits_format_money(10.0, out);
    ASSERT_STR_EQ("10.0", out);
    sl_limits_format_money(0.1 + 0.2, out);
    ASSERT_STR_EQ("0.30000000000000004", out);
}

/* The shortest "%.*g" text that reads back as `v`, found by trying every digit count: what
 * sl_limits_format_money() must print for a value that is not a whole number. */
static void
shortest_round_trip(double v, char out[32])
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

TEST(money_is_shortest_round_trip)
{
    static const double samples[] = {
        1e-05, 9.5e-06, 0.123456789012345, 0.1234567890123456, 1234567.25, 3.14159,
        12.345678901234567, 1.5e20, 2.5e-300, 0.3, 7e-07 * 3, 1234567890123.5,
    };
    char got[32];
    char want[32];
    uint64_t state = 88172645463325252ULL;

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        sl_limits_format_money(samples[i], got);
        shortest_round_trip(samples[i], want);
        ASSERT_STR_EQ(want, got);
    }
    /* Sums of prices, as spend grows: xorshift-chosen costs added up. */
    double spend = 0.0;
    for (int i = 0; i < 20000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        spend += (double)(state % 100000) * 1e-9;
        if (spend == floor(spend))
            continue;
        sl_limits_format_money(spend, got);
        shortest_round_trip(spend, want);
        ASSERT_STR_EQ(want, got);
    }
}

TEST(script_numbers_match_printf)
{
    static const int64_t ints[] = {0, 1, -1, 9, 10, 1796464800000, INT64_MAX, INT64_MIN};
    static const double numbers[] = {0.0, 1.0, 1e9, 2.5, 0.0000095, 1e-300, 123456789.125,
                                     9007199254740991.0, 9007199254740992.0, 1e20, -3.0};
    char got[32];
    char want[32];

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        sl_limits__format_int(ints[i], got);
        snprintf(want, sizeof(want), "%lld", (long long)ints[i]);
        ASSERT_STR_EQ(want, got);
    }
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        sl_limits__format_number(numbers[i], got);
        snprintf(want, sizeof(want), "%.17g", numbers[i]);
        ASSERT_STR_EQ(want, got);
    }
    sl_limits__format_number(NAN, got);
    ASSERT_STR_EQ("-1", got);
}

TEST(money_whole_numbers_match_printf)
{
    static const double samples[] = {0.0, -0.0, 1.0, -5.0, 1e9, 1e15, 9007199254740991.0,
                                     9007199254740992.0, 9.5e15};
    char got[32];
    char want[32];

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        sl_limits_format_money(samples[i], got);
        snprintf(want, sizeof(want), "%.1f", samples[i]);
        ASSERT_STR_EQ(want, got);
    }
}

TEST(seed_only_for_current_period)
{
    struct sl_limits l = {0};
    struct sl_limits_scope *s = scope(&l, "seed");

    s->pg_spend = 3.5;
    ASSERT_DBL_EQ(-1.0, sl_limits_seed(s, T0));
    s->max_budget = 10.0;
    ASSERT_DBL_EQ(3.5, sl_limits_seed(s, T0));
    ASSERT_OK(sl_budget_duration_parse("1d", &s->period));
    s->has_period = 1;
    s->pg_period_start = (int64_t)(T0 / 1000) - 36000; /* 2026-12-05 00:00 UTC */
    ASSERT_DBL_EQ(3.5, sl_limits_seed(s, T0));
    s->pg_period_start -= 86400; /* the coordinator has not moved the row yet */
    ASSERT_DBL_EQ(-1.0, sl_limits_seed(s, T0));
}
