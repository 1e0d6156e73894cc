/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resets -- budget resets on a blocking PostgreSQL connection; see resets.h.
 *
 * A run is two statements. The first lists the distinct budget_duration values of the budgets
 * that are due, so each period is computed once in C by common/budget_period.c, the same code
 * the gateways use. The second moves those budgets and zeroes their entities' spend in one
 * statement, with the periods bound as arrays.
 */
#define SL_LOG_MODULE "resets"
#include "coordinator/resets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/budget_period.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"

/* Last second sl_budget_period() accepts: 9999-12-31 23:59:59 UTC. */
#define NOW_MAX_S INT64_C(253402300799)

/* A warning about budgets skipped for an invalid duration repeats at most this often. */
#define SKIPPED_LOG_INTERVAL_MS (10 * 60 * 1000)

/* The due periods bound into the reset statement as three parallel arrays. */
struct due_periods {
    /* Array literals without their closing brace until close_literals() adds it. */
    struct sl_buf durations; /* text[]: {1d,30d} */
    struct sl_buf starts;    /* bigint[] of period starts, Unix seconds */
    struct sl_buf ends;      /* bigint[] of period ends (the next reset) */
    size_t n;
    size_t skipped_budgets; /* due budgets whose duration the parser rejects */
};

/* Rows that one reset statement changed, in the order of its result columns. */
struct reset_counts {
    int64_t budgets;
    int64_t keys;
    int64_t users;
    int64_t teams;
    int64_t team_memberships;
    int64_t organizations;
    int64_t organization_memberships;
    int64_t end_users;
};

/*
 * $1 durations, $2 period starts, $3 period ends, $4 now. Data-modifying CTEs all see the
 * snapshot taken at the start of the statement, so `due` is the one list every entity update
 * reads. Rows whose spend is already 0 are not rewritten: a short period with many keys would
 * otherwise write every key at every reset.
 */
static const char RESET_SQL[] =
    "WITH period AS ("
    "  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
    "    AS p(duration, start_s, end_s)"
    "), due AS ("
    "  UPDATE budgets b SET budget_period_start = to_timestamp(p.start_s),"
    "                       budget_reset_at = to_timestamp(p.end_s)"
    "  FROM period p"
    "  WHERE b.budget_duration = p.duration AND b.budget_reset_at <= to_timestamp($4::bigint)"
    "  RETURNING b.budget_id"
    "), key_rows AS ("
    "  UPDATE keys SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    "), user_rows AS ("
    "  UPDATE users SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    "), team_rows AS ("
    "  UPDATE teams SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    "), team_membership_rows AS ("
    "  UPDATE team_memberships m SET spend = 0"
    "  WHERE m.spend <> 0 AND (m.budget_id IN (SELECT budget_id FROM due)"
    "    OR (m.budget_id IS NULL AND m.team_id IN (SELECT t.team_id FROM teams t"
    "        WHERE t.member_budget_id IN (SELECT budget_id FROM due))))"
    "  RETURNING 1"
    "), organization_rows AS ("
    "  UPDATE organizations SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    "), organization_membership_rows AS ("
    "  UPDATE organization_memberships SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    "), end_user_rows AS ("
    "  UPDATE end_users SET spend = 0"
    "  WHERE budget_id IN (SELECT budget_id FROM due) AND spend <> 0 RETURNING 1"
    ")"
    " SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM key_rows),"
    "  (SELECT count(*) FROM user_rows), (SELECT count(*) FROM team_rows),"
    "  (SELECT count(*) FROM team_membership_rows), (SELECT count(*) FROM organization_rows),"
    "  (SELECT count(*) FROM organization_membership_rows), (SELECT count(*) FROM end_user_rows)";

static void
due_periods_init(struct due_periods *p)
{
    /* max_len 0 caps the buffers at SIZE_MAX / 2, far beyond these lists, so appends succeed. */
    sl_buf_init(&p->durations, 0);
    sl_buf_init(&p->starts, 0);
    sl_buf_init(&p->ends, 0);
    (void)sl_buf_append_str(&p->durations, "{");
    (void)sl_buf_append_str(&p->starts, "{");
    (void)sl_buf_append_str(&p->ends, "{");
    p->n = 0;
    p->skipped_budgets = 0;
}

static void
due_periods_dispose(struct due_periods *p)
{
    sl_buf_dispose(&p->durations);
    sl_buf_dispose(&p->starts);
    sl_buf_dispose(&p->ends);
}

/*
 * Appends one duration and its period. The text goes into the array literal unquoted, which is
 * safe only because sl_budget_duration_parse() accepted it: digits followed by letters.
 */
static void
due_periods_add(struct due_periods *p, const char *duration, int64_t start_s, int64_t end_s)
{
    const char *sep = p->n == 0 ? "" : ",";

    (void)sl_buf_printf(&p->durations, "%s%s", sep, duration);
    (void)sl_buf_printf(&p->starts, "%s%" PRId64, sep, start_s);
    (void)sl_buf_printf(&p->ends, "%s%" PRId64, sep, end_s);
    p->n++;
}

static void
close_literals(struct due_periods *p)
{
    (void)sl_buf_append_str(&p->durations, "}");
    (void)sl_buf_append_str(&p->starts, "}");
    (void)sl_buf_append_str(&p->ends, "}");
}

/* Lists the durations of the due budgets and computes the period of `now_s` for each. */
static enum sl_status
collect_due_periods(PGconn *conn, const char *now_text, int64_t now_s, struct due_periods *out,
                    struct sl_errbuf *err)
{
    const char *params[1] = {now_text};
    PGresult *res = NULL;
    enum sl_status rc;

    rc = sl_pg_exec_sync(conn,
                         "SELECT budget_duration, count(*) FROM budgets"
                         " WHERE budget_reset_at <= to_timestamp($1::bigint)"
                         " AND budget_duration IS NOT NULL GROUP BY budget_duration",
                         1, params, &res, err);
    if (rc != SL_OK)
        return rc;

    for (int row = 0; row < PQntuples(res); row++) {
        const char *text = PQgetvalue(res, row, 0);
        long long budgets = strtoll(PQgetvalue(res, row, 1), NULL, 10);
        struct sl_budget_duration d;
        int64_t end_s;
        int64_t start_s;

        if (sl_budget_duration_parse(text, &d) != SL_OK) {
            out->skipped_budgets += budgets > 0 ? (size_t)budgets : 0;
            continue;
        }
        start_s = sl_budget_period(&d, now_s, &end_s);
        due_periods_add(out, text, start_s, end_s);
    }
    PQclear(res);
    return SL_OK;
}

static enum sl_status
run_reset(PGconn *conn, const char *now_text, struct due_periods *due, struct reset_counts *out,
          struct sl_errbuf *err)
{
    const char *params[4];
    PGresult *res = NULL;
    enum sl_status rc;
    int64_t *fields[] = {
        &out->budgets,
        &out->keys,
        &out->users,
        &out->teams,
        &out->team_memberships,
        &out->organizations,
        &out->organization_memberships,
        &out->end_users,
    };

    close_literals(due);
    params[0] = due->durations.data;
    params[1] = due->starts.data;
    params[2] = due->ends.data;
    params[3] = now_text;

    rc = sl_pg_exec_sync(conn, RESET_SQL, 4, params, &res, err);
    if (rc != SL_OK)
        goto out;
    if (PQntuples(res) != 1 || PQnfields(res) != (int)(sizeof(fields) / sizeof(fields[0]))) {
        sl_errbuf_set(err, "budget reset returned %d rows of %d columns, expected 1 of %zu",
                      PQntuples(res), PQnfields(res), sizeof(fields) / sizeof(fields[0]));
        rc = SL_ERR_STORE;
        goto out;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        *fields[i] = strtoll(PQgetvalue(res, 0, (int)i), NULL, 10);

out:
    PQclear(res);
    return rc;
}

/*
 * Budgets skipped for an invalid duration stay due, so every run would report them again. The
 * line is a warning at most once per SKIPPED_LOG_INTERVAL_MS, and otherwise info when budgets
 * were reset and debug when none were.
 */
static void
log_run(int64_t now_s, const struct reset_counts *c, size_t skipped, uint64_t elapsed_ms)
{
    static _Thread_local struct sl_log_limiter skipped_log;
    enum sl_log_level level = c->budgets > 0 ? SL_LOG_INFO : SL_LOG_DEBUG;
    uint64_t suppressed = 0;

    if (skipped > 0 && sl_log_limiter_allow(&skipped_log, sl_now_ms(), SKIPPED_LOG_INTERVAL_MS)) {
        level = SL_LOG_WARN;
        suppressed = skipped_log.suppressed;
    }

    sl_log(level, NULL, "budget.reset", SL_LOG_INT("now", now_s), SL_LOG_INT("budgets", c->budgets),
           SL_LOG_INT("keys", c->keys), SL_LOG_INT("users", c->users),
           SL_LOG_INT("teams", c->teams), SL_LOG_INT("team_memberships", c->team_memberships),
           SL_LOG_INT("organizations", c->organizations),
           SL_LOG_INT("organization_memberships", c->organization_memberships),
           SL_LOG_INT("end_users", c->end_users), SL_LOG_INT("skipped_invalid_duration", skipped),
           SL_LOG_INT("suppressed", suppressed), SL_LOG_INT("elapsed_ms", elapsed_ms));
}

enum sl_status
sl_coord_reset_budgets(PGconn *conn, int64_t now_s, size_t *reset_count, struct sl_errbuf *err)
{
    struct due_periods due;
    struct reset_counts counts = {0};
    uint64_t started_ms = sl_now_ms();
    char now_text[24];
    enum sl_status rc;

    if (now_s < 0 || now_s > NOW_MAX_S) {
        sl_errbuf_set(err, "budget reset time %" PRId64 " is outside 0 to %" PRId64, now_s,
                      NOW_MAX_S);
        return SL_ERR_INVALID;
    }
    snprintf(now_text, sizeof(now_text), "%" PRId64, now_s);
    due_periods_init(&due);

    rc = collect_due_periods(conn, now_text, now_s, &due, err);
    if (rc != SL_OK)
        goto out;

    if (due.n > 0) {
        rc = run_reset(conn, now_text, &due, &counts, err);
        if (rc != SL_OK)
            goto out;
    }

    log_run(now_s, &counts, due.skipped_budgets, sl_now_ms() - started_ms);
    if (reset_count != NULL)
        *reset_count = (size_t)counts.budgets;

out:
    due_periods_dispose(&due);
    return rc;
}
