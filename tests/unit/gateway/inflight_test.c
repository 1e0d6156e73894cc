/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inflight_test -- the process-wide table of deployment state (gateway/router/inflight.c):
 * entries by id, capped in-flight slots under contention from several threads, latency
 * samples and minute counts.
 */
#include <pthread.h>
#include <stdio.h>

#include "gateway/router/inflight.h"
#include "test.h"

#define THREADS 4
#define ROUNDS  200000
#define CAP     3

TEST(inflight_same_id_same_entry)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *a = sl_inflight_get(t, "dep-a");
    struct sl_inflight_entry *b = sl_inflight_get(t, "dep-b");

    ASSERT_TRUE(a != NULL);
    ASSERT_TRUE(b != NULL);
    ASSERT_TRUE(a != b);
    ASSERT_TRUE(sl_inflight_get(t, "dep-a") == a);
    ASSERT_STR_EQ("dep-a", atomic_load(&a->id));
    sl_inflight_destroy(t);
}

TEST(inflight_rejects_long_id)
{
    struct sl_inflight *t = sl_inflight_create();
    char id[SL_INFLIGHT_ID_MAX + 2];

    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    ASSERT_TRUE(sl_inflight_get(t, id) == NULL);
    id[SL_INFLIGHT_ID_MAX] = '\0';
    ASSERT_TRUE(sl_inflight_get(t, id) != NULL);
    ASSERT_TRUE(sl_inflight_get(NULL, "a") == NULL);
    sl_inflight_destroy(t);
}

/* A full table returns NULL for a new id and still finds the ids it has. */
TEST(inflight_full_table_returns_null)
{
    struct sl_inflight *t = sl_inflight_create();
    char id[32];

    for (unsigned i = 0; i < SL_INFLIGHT_CAPACITY; i++) {
        snprintf(id, sizeof(id), "dep-%u", i);
        if (sl_inflight_get(t, id) == NULL)
            SL_TEST_FAIL("entry %u of %u was not added", i, SL_INFLIGHT_CAPACITY);
    }
    ASSERT_TRUE(sl_inflight_get(t, "one-more") == NULL);
    ASSERT_TRUE(sl_inflight_get(t, "dep-17") != NULL);
    sl_inflight_destroy(t);
}

TEST(inflight_take_respects_cap)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *e = sl_inflight_get(t, "dep");

    ASSERT_EQ(1, sl_inflight_take(e, 2));
    ASSERT_EQ(1, sl_inflight_take(e, 2));
    ASSERT_EQ(0, sl_inflight_take(e, 2));
    ASSERT_EQ(2, sl_inflight_count(e));
    sl_inflight_put(e);
    ASSERT_EQ(1, sl_inflight_count(e));
    ASSERT_EQ(1, sl_inflight_take(e, 2));
    ASSERT_EQ(1, sl_inflight_take(e, 0)); /* no cap */
    ASSERT_EQ(3, sl_inflight_count(e));
    sl_inflight_put(e);
    sl_inflight_put(e);
    sl_inflight_put(e);
    ASSERT_EQ(0, sl_inflight_count(e));
    sl_inflight_destroy(t);
}

TEST(inflight_null_entry_is_uncapped)
{
    ASSERT_EQ(1, sl_inflight_take(NULL, 1));
    ASSERT_EQ(0, sl_inflight_count(NULL));
    sl_inflight_put(NULL);
}

struct contender {
    struct sl_inflight *table;
    atomic_int *over_cap; /* set when a thread saw more than CAP slots taken */
    long taken;
};

static void *
contend(void *arg)
{
    struct contender *c = arg;

    for (int i = 0; i < ROUNDS; i++) {
        /* Every thread looks the id up, so concurrent insertion is exercised too. */
        struct sl_inflight_entry *e = sl_inflight_get(c->table, "shared");

        if (!sl_inflight_take(e, CAP))
            continue;
        c->taken++;
        if (sl_inflight_count(e) > CAP)
            atomic_store(c->over_cap, 1);
        sl_inflight_put(e);
    }
    return NULL;
}

/* Workers take and give back slots at once: the cap is never passed and no slot is lost. */
TEST(inflight_cap_holds_across_threads)
{
    struct sl_inflight *t = sl_inflight_create();
    pthread_t threads[THREADS];
    struct contender c[THREADS];
    atomic_int over_cap = 0;
    long taken = 0;

    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct contender){.table = t, .over_cap = &over_cap};
        ASSERT_EQ(0, pthread_create(&threads[i], NULL, contend, &c[i]));
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        taken += c[i].taken;
    }
    ASSERT_EQ(0, atomic_load(&over_cap));
    ASSERT_TRUE(taken > 0);
    ASSERT_EQ(0, sl_inflight_count(sl_inflight_get(t, "shared")));
    sl_inflight_destroy(t);
}

TEST(inflight_latency_mean_within_ttl)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *e = sl_inflight_get(t, "dep");
    double mean = -1;

    ASSERT_EQ(0, sl_inflight_mean_latency(e, 1000, 0, &mean));
    ASSERT_DBL_EQ(-1.0, mean);

    sl_inflight_add_latency(e, 100.0, 1000, 10);
    sl_inflight_add_latency(e, 300.0, 5000, 10);
    ASSERT_EQ(2, sl_inflight_mean_latency(e, 6000, 0, &mean));
    ASSERT_DBL_EQ(200.0, mean);

    /* With a ttl of 2 s at 6 s, only the sample of 5 s counts. */
    ASSERT_EQ(1, sl_inflight_mean_latency(e, 6000, 2000, &mean));
    ASSERT_DBL_EQ(300.0, mean);
    sl_inflight_destroy(t);
}

/* Only the last max_samples samples count. */
TEST(inflight_latency_keeps_last_samples)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *e = sl_inflight_get(t, "dep");
    double mean = 0;

    for (int i = 1; i <= 5; i++)
        sl_inflight_add_latency(e, (double)i * 10.0, 1000, 3);
    ASSERT_EQ(3, sl_inflight_mean_latency(e, 1000, 0, &mean));
    ASSERT_DBL_EQ(40.0, mean); /* 30, 40, 50 */
    sl_inflight_destroy(t);
}

TEST(inflight_minute_counts_rpm)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *e = sl_inflight_get(t, "dep");
    int64_t requests;
    int64_t tokens;

    ASSERT_EQ(1, sl_inflight_minute_take(e, 7, 2, 0, 0));
    ASSERT_EQ(1, sl_inflight_minute_take(e, 7, 2, 0, 0));
    ASSERT_EQ(0, sl_inflight_minute_take(e, 7, 2, 0, 0));
    sl_inflight_minute_usage(e, 7, &requests, &tokens);
    ASSERT_EQ(2, requests);
    ASSERT_EQ(0, tokens);

    /* A new minute starts from zero. */
    ASSERT_EQ(1, sl_inflight_minute_take(e, 8, 2, 0, 0));
    sl_inflight_minute_usage(e, 8, &requests, &tokens);
    ASSERT_EQ(1, requests);
    sl_inflight_minute_usage(e, 7, &requests, &tokens);
    ASSERT_EQ(0, requests);
    sl_inflight_destroy(t);
}

TEST(inflight_minute_counts_tpm)
{
    struct sl_inflight *t = sl_inflight_create();
    struct sl_inflight_entry *e = sl_inflight_get(t, "dep");
    int64_t requests;
    int64_t tokens;

    ASSERT_EQ(1, sl_inflight_minute_take(e, 3, 0, 100, 10));
    sl_inflight_minute_add_tokens(e, 3, 85);
    sl_inflight_minute_usage(e, 3, &requests, &tokens);
    ASSERT_EQ(85, tokens);
    ASSERT_EQ(1, sl_inflight_minute_take(e, 3, 0, 100, 15)); /* 85 + 15 = 100 fits */
    ASSERT_EQ(0, sl_inflight_minute_take(e, 3, 0, 100, 16));
    sl_inflight_destroy(t);
}
