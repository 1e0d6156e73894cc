/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobs_test -- what the budget reset and spend log retention jobs (coordinator/resets.c,
 * coordinator/retention.c) check before they touch the database, and the config keys that
 * schedule retention. The database side is tested by integration/89-resets-retention.
 */
#include <math.h>
#include <string.h>

#include "common/budget_period.h"
#include "common/config.h"
#include "common/units.h"
#include "coordinator/resets.h"
#include "coordinator/retention.h"
#include "test.h"

static struct sl_errbuf err;

static enum sl_status
load(const char *yaml, struct sl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    return sl_config_load_buffer(yaml, strlen(yaml), "config.yaml", cfg, &err);
}

/* The arguments are checked first, so a NULL connection is never used. */
TEST(retention_rejects_bad_arguments)
{
    size_t deleted = 7;

    ASSERT_EQ(SL_ERR_INVALID, sl_coord_retention(NULL, 1000, 0, 10, &deleted, &err));
    ASSERT_CONTAINS(err.msg, "retention period 0 s is invalid");
    ASSERT_EQ(SL_ERR_INVALID, sl_coord_retention(NULL, 1000, -5, 10, &deleted, &err));
    ASSERT_EQ(SL_ERR_INVALID, sl_coord_retention(NULL, 1000, NAN, 10, &deleted, &err));
    ASSERT_EQ(SL_ERR_INVALID, sl_coord_retention(NULL, 1000, INFINITY, 10, &deleted, &err));
    ASSERT_EQ(SL_ERR_INVALID, sl_coord_retention(NULL, 1000, 60, 0, &deleted, &err));
    ASSERT_CONTAINS(err.msg, "batch of 0 rows is invalid");
    ASSERT_EQ(SL_ERR_INVALID,
              sl_coord_retention(NULL, 1000, 60, SL_COORD_RETENTION_BATCH_MAX + 1, &deleted, &err));
    ASSERT_EQ(7, deleted);
}

TEST(reset_rejects_time_outside_calendar)
{
    size_t count = 7;

    ASSERT_EQ(SL_ERR_INVALID, sl_coord_reset_budgets(NULL, -1, &count, &err));
    ASSERT_CONTAINS(err.msg, "budget reset time -1 is outside 0 to 253402300799");
    ASSERT_EQ(SL_ERR_INVALID, sl_coord_reset_budgets(NULL, INT64_C(253402300800), &count, &err));
    ASSERT_EQ(7, count);
}

/* Unset retention keeps spend logs for ever; the interval has a default. */
TEST(retention_config_defaults)
{
    struct sl_config cfg;

    ASSERT_OK(load("general_settings:\n  master_key: sk-x\n", &cfg));
    ASSERT_TRUE(isnan(cfg.spend_logs_retention_period_s));
    ASSERT_DBL_EQ(3600.0, cfg.spend_logs_retention_interval_s);
    sl_config_dispose(&cfg);
}

TEST(retention_config_reads_days)
{
    struct sl_config cfg;

    ASSERT_OK(load("general_settings:\n"
                   "  maximum_spend_logs_retention_period: 30d\n"
                   "  maximum_spend_logs_retention_interval: 1d\n",
                   &cfg));
    ASSERT_DBL_EQ(30.0 * 86400, cfg.spend_logs_retention_period_s);
    ASSERT_DBL_EQ(86400.0, cfg.spend_logs_retention_interval_s);
    sl_config_dispose(&cfg);
}

/* A bare number is seconds, so "30" (meant as days) must fail instead of deleting rows. */
TEST(retention_config_rejects_short_period)
{
    struct sl_config cfg;

    ASSERT_EQ(SL_ERR_CONFIG,
              load("general_settings:\n  maximum_spend_logs_retention_period: 30\n", &cfg));
    ASSERT_CONTAINS(err.msg, "maximum_spend_logs_retention_period");
}

/*
 * "30d" is 30 days of 86400 s to the config parser but a calendar month to a budget, and "1mo"
 * is a budget duration only, so a retention period of about a month is written "30d".
 */
TEST(duration_syntax_of_config_and_budgets)
{
    struct sl_budget_duration d;
    double seconds = 0;
    int64_t end_s = 0;

    ASSERT_OK(sl_units_parse_duration("30d", &seconds));
    ASSERT_DBL_EQ(2592000.0, seconds);
    ASSERT_OK(sl_budget_duration_parse("30d", &d));
    /* 2026-02-10: the budget period is February, 28 days. */
    ASSERT_EQ(INT64_C(1769904000), sl_budget_period(&d, INT64_C(1770681600), &end_s));
    ASSERT_EQ(INT64_C(1772323200), end_s);

    ASSERT_EQ(SL_ERR_INVALID, sl_units_parse_duration("1mo", &seconds));
    ASSERT_OK(sl_budget_duration_parse("1mo", &d));
    ASSERT_EQ(SL_ERR_INVALID, sl_budget_duration_parse("1.5d", &d));
    ASSERT_OK(sl_units_parse_duration("1.5d", &seconds));
}
