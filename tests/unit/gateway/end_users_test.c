/* SPDX-License-Identifier: Apache-2.0 */
/*
 * end_users_test -- the end-user lookup of gateway/auth/end_users.c without a database: its
 * queries go to a fake that the test completes with results built by hand (libpq's
 * PQmakeEmptyPGresult), so the cache, its TTL, the cached misses, the joining of concurrent
 * lookups and the fallback to a stale entry can be checked one step at a time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "gateway/auth/end_users.h"
#include "gateway/auth/internal.h"
#include "gateway/worker.h"
#include "test.h"

#define MAX_QUERIES 8
#define MAX_ANSWERS 8

/* Queries the lookup sent that the test has not completed yet. */
static struct {
    sl_pg_query_cb cb;
    void *privdata;
    char id[SL_END_USER_ID_MAX + 1];
} queries[MAX_QUERIES];
static int n_queries;
static enum sl_status query_status = SL_OK; /* what the fake query returns */

/* Callbacks received, in order. */
static struct {
    enum sl_end_user_status status;
    int blocked;
    int64_t rpm_limit;
    double max_budget;
    int tag;
} answers[MAX_ANSWERS];
static int n_answers;

static enum sl_status
fake_query(struct sl_worker *w, const char *sql, const char *id, sl_pg_query_cb cb,
           void *privdata)
{
    (void)w;
    if (strstr(sql, "end_users") == NULL || n_queries >= MAX_QUERIES)
        abort();
    if (query_status != SL_OK)
        return query_status;
    queries[n_queries].cb = cb;
    queries[n_queries].privdata = privdata;
    strncpy(queries[n_queries].id, id, SL_END_USER_ID_MAX);
    n_queries++;
    return SL_OK;
}

static void
on_answer(enum sl_end_user_status status, const struct sl_end_user *eu, void *privdata)
{
    if (n_answers >= MAX_ANSWERS)
        abort();
    answers[n_answers].status = status;
    answers[n_answers].blocked = eu != NULL ? eu->blocked : -1;
    answers[n_answers].rpm_limit = eu != NULL ? eu->limits.rpm_limit : -2;
    answers[n_answers].max_budget = eu != NULL ? eu->limits.max_budget : -2.0;
    answers[n_answers].tag = (int)(intptr_t)privdata;
    n_answers++;
}

static void
setup(struct sl_worker *w)
{
    memset(w, 0, sizeof(*w));
    n_queries = 0;
    n_answers = 0;
    query_status = SL_OK;
    sl_end_user_worker_init(w);
    sl_end_user__set_query(w, fake_query);
}

static void
lookup(struct sl_worker *w, const char *id, int tag)
{
    sl_end_user_lookup(w, id, strlen(id), on_answer, (void *)(intptr_t)tag);
}

/* Builds the result of the end-user query: no row when `blocked` is NULL, else one row with
 * `blocked`, the budget columns of `budget` (six values, NULL for SQL NULL), and a spend and
 * period start of 0. */
static PGresult *
end_user_result(const char *blocked, const char *const budget[6])
{
    static char *names[] = {"blocked",    "rpm_limit",   "tpm_limit",
                            "max_parallel_requests", "max_budget", "soft_budget",
                            "budget_duration", "spend", "period_start"};
    PGresAttDesc attrs[9];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    memset(attrs, 0, sizeof(attrs));
    for (int i = 0; i < 9; i++)
        attrs[i].name = names[i];
    if (res == NULL || !PQsetResultAttrs(res, 9, attrs))
        abort();
    if (blocked == NULL)
        return res;
    if (!PQsetvalue(res, 0, 0, (char *)blocked, (int)strlen(blocked)) ||
        !PQsetvalue(res, 0, 7, "0", 1) || !PQsetvalue(res, 0, 8, "0", 1))
        abort();
    for (int i = 0; i < 6; i++) {
        char *v = (char *)budget[i];

        if (!PQsetvalue(res, 0, i + 1, v, v != NULL ? (int)strlen(v) : -1))
            abort();
    }
    return res;
}

/* Completes query `i` with `res` (freed here), as the PostgreSQL client would. */
static void
answer(int i, enum sl_status st, PGresult *res)
{
    queries[i].cb(st, res, st == SL_OK ? NULL : "timed out", queries[i].privdata);
    PQclear(res);
}

static const char *const budget_60[6] = {"60", NULL, NULL, "2.5", NULL, "1d"};
static const char *const no_budget[6] = {NULL, NULL, NULL, NULL, NULL, NULL};

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

TEST(end_user_found_then_cached)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "customer-1", 1);
    ASSERT_EQ(1, n_queries);
    ASSERT_STR_EQ("customer-1", queries[0].id);
    ASSERT_EQ(0, n_answers);

    answer(0, SL_OK, end_user_result("t", budget_60));
    ASSERT_EQ(1, n_answers);
    ASSERT_EQ(SL_END_USER_FOUND, answers[0].status);
    ASSERT_EQ(1, answers[0].blocked);
    ASSERT_EQ(60, answers[0].rpm_limit);
    ASSERT_DBL_EQ(2.5, answers[0].max_budget);

    lookup(&w, "customer-1", 2);
    ASSERT_EQ(1, n_queries);
    ASSERT_EQ(2, n_answers);
    ASSERT_EQ(SL_END_USER_FOUND, answers[1].status);
    ASSERT_EQ(60, answers[1].rpm_limit);
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_without_budget_unset)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "customer-2", 1);
    answer(0, SL_OK, end_user_result("f", no_budget));
    ASSERT_EQ(SL_END_USER_FOUND, answers[0].status);
    ASSERT_EQ(0, answers[0].blocked);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, answers[0].rpm_limit);
    ASSERT_TRUE(isnan(answers[0].max_budget));
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_miss_is_cached)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "nobody", 1);
    answer(0, SL_OK, end_user_result(NULL, NULL));
    ASSERT_EQ(SL_END_USER_NOT_FOUND, answers[0].status);

    lookup(&w, "nobody", 2);
    ASSERT_EQ(1, n_queries);
    ASSERT_EQ(SL_END_USER_NOT_FOUND, answers[1].status);
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_concurrent_lookups_share_query)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "burst", 1);
    lookup(&w, "burst", 2);
    lookup(&w, "other", 3);
    ASSERT_EQ(2, n_queries);
    ASSERT_STR_EQ("other", queries[1].id);

    answer(0, SL_OK, end_user_result("f", budget_60));
    ASSERT_EQ(2, n_answers);
    ASSERT_EQ(1, answers[0].tag);
    ASSERT_EQ(2, answers[1].tag);
    ASSERT_EQ(60, answers[1].rpm_limit);

    answer(1, SL_OK, end_user_result(NULL, NULL));
    ASSERT_EQ(3, n_answers);
    ASSERT_EQ(3, answers[2].tag);
    ASSERT_EQ(SL_END_USER_NOT_FOUND, answers[2].status);
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_entry_expires)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "customer-3", 1);
    answer(0, SL_OK, end_user_result("f", budget_60));
    sleep_ms(SL_END_USER_LOCAL_TTL_MS + 50);

    lookup(&w, "customer-3", 2);
    ASSERT_EQ(2, n_queries);
    ASSERT_EQ(1, n_answers);
    answer(1, SL_OK, end_user_result("t", no_budget));
    ASSERT_EQ(SL_END_USER_FOUND, answers[1].status);
    ASSERT_EQ(1, answers[1].blocked);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, answers[1].rpm_limit);
    sl_end_user_worker_dispose(&w);
}

/* A failed query falls back to an expired entry, else reports UNAVAILABLE. */
TEST(end_user_failure_uses_stale_entry)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "customer-4", 1);
    answer(0, SL_OK, end_user_result("f", budget_60));
    sleep_ms(SL_END_USER_LOCAL_TTL_MS + 50);

    lookup(&w, "customer-4", 2);
    answer(1, SL_ERR_TIMEOUT, NULL);
    ASSERT_EQ(2, n_answers);
    ASSERT_EQ(SL_END_USER_FOUND, answers[1].status);
    ASSERT_EQ(60, answers[1].rpm_limit);

    lookup(&w, "customer-5", 3);
    answer(2, SL_ERR_TIMEOUT, NULL);
    ASSERT_EQ(SL_END_USER_UNAVAILABLE, answers[2].status);
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_rejected_query_unavailable)
{
    struct sl_worker w;

    setup(&w);
    query_status = SL_ERR_TOO_LARGE;
    lookup(&w, "customer-6", 1);
    ASSERT_EQ(0, n_queries);
    ASSERT_EQ(1, n_answers);
    ASSERT_EQ(SL_END_USER_UNAVAILABLE, answers[0].status);
    sl_end_user_worker_dispose(&w);
}

TEST(end_user_without_database_unavailable)
{
    struct sl_worker w;

    setup(&w);
    sl_end_user__set_query(&w, NULL);
    lookup(&w, "customer-7", 1);
    ASSERT_EQ(1, n_answers);
    ASSERT_EQ(SL_END_USER_UNAVAILABLE, answers[0].status);
    sl_end_user_worker_dispose(&w);
}

/* Ids that no end_users row can have are answered without a query. */
TEST(end_user_impossible_ids_not_found)
{
    struct sl_worker w;
    char long_id[SL_END_USER_ID_MAX + 2];

    setup(&w);
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    sl_end_user_lookup(&w, "", 0, on_answer, NULL);
    sl_end_user_lookup(&w, long_id, strlen(long_id), on_answer, NULL);
    sl_end_user_lookup(&w, "a\0b", 3, on_answer, NULL);
    sl_end_user_lookup(&w, "\xff\xfe", 2, on_answer, NULL);
    ASSERT_EQ(0, n_queries);
    ASSERT_EQ(4, n_answers);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(SL_END_USER_NOT_FOUND, answers[i].status);

    long_id[SL_END_USER_ID_MAX] = '\0';
    sl_end_user_lookup(&w, long_id, SL_END_USER_ID_MAX, on_answer, NULL);
    ASSERT_EQ(1, n_queries);
    answer(0, SL_OK, end_user_result(NULL, NULL));
    sl_end_user_worker_dispose(&w);
}

/* Disposing with a query in flight (the PostgreSQL client outlives the cache) answers it
 * UNAVAILABLE later instead of touching freed memory. */
TEST(end_user_answer_after_dispose)
{
    struct sl_worker w;

    setup(&w);
    lookup(&w, "late", 1);
    sl_end_user_worker_dispose(&w);
    answer(0, SL_OK, end_user_result("f", budget_60));
    ASSERT_EQ(1, n_answers);
    ASSERT_EQ(SL_END_USER_UNAVAILABLE, answers[0].status);
}
