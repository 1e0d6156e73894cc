/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cooldown_test -- the pure parts of gateway/router/cooldown.c: the worker's table (set,
 * expiry, local failure counts, a full table), which errors count, LiteLLM's message, and the
 * router's choice that leaves out unusable deployments (gateway/router/router.c).
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/router/cooldown.h"
#include "gateway/router/router.h"
#include "test.h"

static struct sl_cooldown_table *
table_new(void)
{
    struct sl_cooldown_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        abort();
    return t;
}

TEST(table_set_and_expire)
{
    struct sl_cooldown_table *t = table_new();

    sl_cooldown_table_set(t, "dep-a", 5000, 1000);
    ASSERT_EQ(5000, sl_cooldown_table_until(t, "dep-a", 1000));
    ASSERT_EQ(5000, sl_cooldown_table_until(t, "dep-a", 4999));
    ASSERT_EQ(0, sl_cooldown_table_until(t, "dep-a", 5000));
    ASSERT_EQ(0, sl_cooldown_table_until(t, "dep-b", 1000));
    free(t);
}

TEST(table_set_keeps_later_end)
{
    struct sl_cooldown_table *t = table_new();

    sl_cooldown_table_set(t, "dep-a", 9000, 1000);
    sl_cooldown_table_set(t, "dep-a", 4000, 1000);
    ASSERT_EQ(9000, sl_cooldown_table_until(t, "dep-a", 1000));
    sl_cooldown_table_set(t, "dep-a", 12000, 1000);
    ASSERT_EQ(12000, sl_cooldown_table_until(t, "dep-a", 1000));
    free(t);
}

TEST(table_set_ignores_past_and_bad_ids)
{
    struct sl_cooldown_table *t = table_new();
    char long_id[SL_COOLDOWN_ID_MAX + 2];

    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    sl_cooldown_table_set(t, "dep-a", 1000, 2000);
    sl_cooldown_table_set(t, "", 9000, 2000);
    sl_cooldown_table_set(t, long_id, 9000, 2000);
    ASSERT_EQ(0, t->n);
    free(t);
}

TEST(table_fail_counts_past_allowed)
{
    struct sl_cooldown_table *t = table_new();
    uint64_t now = 60000 * 10 + 5;

    ASSERT_EQ(0, sl_cooldown_table_fail(t, "dep-a", 2, 3000, now));
    ASSERT_EQ(0, sl_cooldown_table_fail(t, "dep-a", 2, 3000, now + 1));
    ASSERT_EQ(now + 2 + 3000, sl_cooldown_table_fail(t, "dep-a", 2, 3000, now + 2));
    ASSERT_EQ(now + 2 + 3000, sl_cooldown_table_until(t, "dep-a", now + 10));
    ASSERT_EQ(0, sl_cooldown_table_until(t, "dep-a", now + 2 + 3000));
    free(t);
}

TEST(table_fail_count_resets_each_minute)
{
    struct sl_cooldown_table *t = table_new();
    uint64_t minute = 60000 * 7;

    ASSERT_EQ(0, sl_cooldown_table_fail(t, "dep-a", 1, 1000, minute + 59000));
    ASSERT_EQ(0, sl_cooldown_table_fail(t, "dep-a", 1, 1000, minute + 60000));
    ASSERT_EQ(minute + 60001 + 1000, sl_cooldown_table_fail(t, "dep-a", 1, 1000, minute + 60001));
    free(t);
}

TEST(table_fail_zero_cooldown_disabled)
{
    struct sl_cooldown_table *t = table_new();

    ASSERT_EQ(1000 + 500, sl_cooldown_table_fail(t, "dep-a", 0, 500, 1000));
    ASSERT_EQ(0, sl_cooldown_table_fail(t, "dep-b", 0, 0, 1000));
    ASSERT_EQ(0, sl_cooldown_table_until(t, "dep-b", 1000));
    free(t);
}

TEST(table_full_replaces_ended_entry)
{
    struct sl_cooldown_table *t = table_new();
    char id[32];

    for (unsigned i = 0; i < SL_COOLDOWN_MAX_ENTRIES; i++) {
        snprintf(id, sizeof(id), "dep-%u", i);
        sl_cooldown_table_set(t, id, 100000 + i, 1000);
    }
    ASSERT_EQ(SL_COOLDOWN_MAX_ENTRIES, t->n);
    /* At 100005, dep-0 to dep-5 have ended: a new id takes one of their entries. */
    sl_cooldown_table_set(t, "dep-new", 200000, 100005);
    ASSERT_EQ(SL_COOLDOWN_MAX_ENTRIES, t->n);
    ASSERT_EQ(200000, sl_cooldown_table_until(t, "dep-new", 100005));
    ASSERT_EQ(100010, sl_cooldown_table_until(t, "dep-10", 100005));
    free(t);
}

TEST(counts_cooldown_statuses)
{
    static const int counted[] = {401, 403, 408, 429, 500, 502, 503, 504};
    static const int ignored[] = {400, 404, 409, 413, 422};

    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
        ASSERT_EQ(1, sl_cooldown_counts(counted[i]));
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        ASSERT_EQ(0, sl_cooldown_counts(ignored[i]));
}

TEST(message_lists_cooling_ids)
{
    static const char *const ids[] = {"dep-a", "dep-b"};
    struct sl_buf b;

    sl_buf_init(&b, 0);
    sl_cooldown_message(&b, "gpt-4o", 5, ids, 2);
    ASSERT_STR_EQ("No deployments available for selected model, Try again in 5 seconds. "
                  "Passed model=gpt-4o. pre-call-checks=False, cooldown_list=['dep-a', 'dep-b']",
                  b.data);
    sl_buf_dispose(&b);
}

static int
is_not_first(const struct sl_deployment *d, void *arg)
{
    return d != arg;
}

TEST(router_pick_usable_skips_unusable)
{
    struct sl_deployment d[3];
    const struct sl_deployment *list[3] = {&d[0], &d[1], &d[2]};
    struct sl_model_group g = {.name = "m", .deployments = list, .n = 3, .total_weight = 3};
    const struct sl_deployment *skip[1] = {&d[1]};
    uint64_t rng = 42;

    memset(d, 0, sizeof(d));
    for (int i = 0; i < 3; i++) {
        d[i].weight = 1.0;
        d[i].id = (char *)"id";
    }
    for (int i = 0; i < 50; i++)
        ASSERT_TRUE(sl_router_pick_usable(&g, &rng, skip, 1, is_not_first, &d[0]) == &d[2]);
    ASSERT_TRUE(sl_router_pick_usable(&g, &rng, list, 2, is_not_first, &d[2]) == NULL);
}
