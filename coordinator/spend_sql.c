/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_sql -- writes one batch of spend events into PostgreSQL in one transaction.
 *
 * The batch travels as one jsonb parameter into a session temporary table (ON COMMIT DELETE
 * ROWS), so a batch of any size costs the same dozen round trips. spend_logs rows are inserted
 * with ON CONFLICT (request_id) DO NOTHING, and only the rows that were new add their cost to
 * the entity spend columns and to daily_spend: replaying an event never counts it twice. An
 * entity's spend column grows only with events of its current budget period, so the spend of a
 * period that already ended never lands in the new one.
 */
#define SL_LOG_MODULE "reconcile"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "coordinator/internal.h"

/* Columns of the batch table, in the order of the JSON objects' keys. */
#define BATCH_COLUMNS                                                                              \
    "request_id text, call_type text, api_key text, key_alias text, user_id text, "                \
    "team_id text, organization_id text, end_user text, model_group text, model text, "            \
    "model_id text, custom_llm_provider text, api_base text, requester_ip_address text, "          \
    "user_agent text, messages text, response text, start_ms bigint, end_ms bigint, "              \
    "first_ms bigint, prompt_tokens bigint, completion_tokens bigint, cached_tokens bigint, "      \
    "cache_creation_tokens bigint, reasoning_tokens bigint, usage_estimated boolean, "             \
    "priced boolean, spend double precision, success boolean, http_status integer, "               \
    "cache_hit boolean, p_api_key bigint, p_user bigint, p_team bigint, p_team_member bigint, "    \
    "p_organization bigint, p_end_user bigint"

static const char sql_create[] =
    "CREATE TEMP TABLE IF NOT EXISTS sl_spend_batch (" BATCH_COLUMNS
    ", inserted boolean NOT NULL DEFAULT false) ON COMMIT DELETE ROWS";

static const char sql_load[] = "INSERT INTO sl_spend_batch SELECT e.*, false "
                               "FROM jsonb_to_recordset($1::jsonb) AS e(" BATCH_COLUMNS ")";

static const char sql_insert_logs[] =
    "WITH ins AS (INSERT INTO spend_logs (request_id, call_type, api_key, key_alias, spend, "
    "prompt_tokens, completion_tokens, total_tokens, cached_tokens, cache_creation_tokens, "
    "reasoning_tokens, usage_estimated, priced, start_time, end_time, completion_start_time, "
    "model, model_id, model_group, custom_llm_provider, api_base, user_id, team_id, "
    "organization_id, end_user, status, http_status, cache_hit, requester_ip_address, "
    "user_agent, messages, response) "
    "SELECT request_id, coalesce(call_type, ''), coalesce(api_key, ''), key_alias, spend, "
    "prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, cached_tokens, "
    "cache_creation_tokens, reasoning_tokens, usage_estimated, priced, "
    "to_timestamp(start_ms / 1000.0), to_timestamp(end_ms / 1000.0), "
    "CASE WHEN first_ms > 0 THEN to_timestamp(first_ms / 1000.0) END, model, model_id, "
    "model_group, custom_llm_provider, api_base, user_id, team_id, organization_id, end_user, "
    "CASE WHEN success THEN 'success' ELSE 'failure' END, http_status, cache_hit, "
    "requester_ip_address, user_agent, messages, response FROM sl_spend_batch "
    "ON CONFLICT (request_id) DO NOTHING RETURNING request_id) "
    "UPDATE sl_spend_batch b SET inserted = true FROM ins WHERE b.request_id = ins.request_id";

/* LiteLLM creates an end user's row on its first spend; so does the coordinator. */
static const char sql_end_users[] =
    "INSERT INTO end_users (end_user_id) SELECT DISTINCT end_user FROM sl_spend_batch "
    "WHERE inserted AND end_user IS NOT NULL AND end_user <> '' ON CONFLICT DO NOTHING";

/* True when an event of period start P counts in the entity's spend column: the entity has no
 * budget, a budget that never resets, a period not started yet, or this very period. */
#define PERIOD_OK(p)                                                                               \
    "(bu.budget_duration IS NULL OR bu.budget_period_start IS NULL OR "                            \
    "extract(epoch FROM bu.budget_period_start)::bigint = " p ")"

/* Adds the batch's new spend to the spend column of one entity table with a one-column key. */
#define ENTITY_UPDATE(table, pk, column, period)                                                   \
    "UPDATE " table " t SET spend = t.spend + s.cost FROM (SELECT b." column " AS id, "            \
    "sum(b.spend) AS cost FROM sl_spend_batch b JOIN " table " e ON e." pk " = b." column " "      \
    "LEFT JOIN budgets bu ON bu.budget_id = e.budget_id WHERE b.inserted AND " PERIOD_OK(          \
        "b." period) " GROUP BY b." column ") s WHERE t." pk " = s.id"

static const char *const sql_entities[] = {
    ENTITY_UPDATE("keys", "token", "api_key", "p_api_key"),
    ENTITY_UPDATE("users", "user_id", "user_id", "p_user"),
    ENTITY_UPDATE("teams", "team_id", "team_id", "p_team"),
    ENTITY_UPDATE("organizations", "organization_id", "organization_id", "p_organization"),
    ENTITY_UPDATE("end_users", "end_user_id", "end_user", "p_end_user"),
    /* A membership's budget is its own row, else the team's member budget. */
    "UPDATE team_memberships t SET spend = t.spend + s.cost FROM (SELECT b.team_id, b.user_id, "
    "sum(b.spend) AS cost FROM sl_spend_batch b JOIN team_memberships e ON e.team_id = b.team_id "
    "AND e.user_id = b.user_id JOIN teams tm ON tm.team_id = e.team_id "
    "LEFT JOIN budgets bu ON bu.budget_id = coalesce(e.budget_id, tm.member_budget_id) "
    "WHERE b.inserted AND " PERIOD_OK("b.p_team_member") " GROUP BY b.team_id, b.user_id) s "
    "WHERE t.team_id = s.team_id AND t.user_id = s.user_id",
};

static const char sql_daily[] =
    "INSERT INTO daily_spend (date, entity_type, entity_id, model_group, custom_llm_provider, "
    "prompt_tokens, completion_tokens, cache_read_input_tokens, cache_creation_input_tokens, "
    "spend, api_requests, successful_requests, failed_requests) "
    "SELECT (to_timestamp(b.end_ms / 1000.0) AT TIME ZONE 'UTC')::date, x.entity_type, "
    "x.entity_id, coalesce(b.model_group, ''), coalesce(b.custom_llm_provider, ''), "
    "sum(b.prompt_tokens), sum(b.completion_tokens), sum(b.cached_tokens), "
    "sum(b.cache_creation_tokens), sum(b.spend), count(*), count(*) FILTER (WHERE b.success), "
    "count(*) FILTER (WHERE NOT b.success) FROM sl_spend_batch b CROSS JOIN LATERAL (VALUES "
    "('key', b.api_key), ('user', b.user_id), ('team', b.team_id), "
    "('organization', b.organization_id), ('end_user', b.end_user)) AS x(entity_type, entity_id) "
    "WHERE b.inserted AND x.entity_id IS NOT NULL AND x.entity_id <> '' "
    "GROUP BY 1, 2, 3, 4, 5 "
    "ON CONFLICT (date, entity_type, entity_id, model_group, custom_llm_provider) DO UPDATE SET "
    "prompt_tokens = daily_spend.prompt_tokens + EXCLUDED.prompt_tokens, "
    "completion_tokens = daily_spend.completion_tokens + EXCLUDED.completion_tokens, "
    "cache_read_input_tokens = daily_spend.cache_read_input_tokens + "
    "EXCLUDED.cache_read_input_tokens, "
    "cache_creation_input_tokens = daily_spend.cache_creation_input_tokens + "
    "EXCLUDED.cache_creation_input_tokens, spend = daily_spend.spend + EXCLUDED.spend, "
    "api_requests = daily_spend.api_requests + EXCLUDED.api_requests, "
    "successful_requests = daily_spend.successful_requests + EXCLUDED.successful_requests, "
    "failed_requests = daily_spend.failed_requests + EXCLUDED.failed_requests, updated_at = now()";

/* ---------------------------------------------------------------- the batch as JSON */

/* Appends `s` as a JSON string, or null. Bytes of invalid UTF-8 become '?', because
 * PostgreSQL rejects them and one such event would otherwise block the stream. */
static void
append_text(struct sl_buf *b, const char *s)
{
    size_t n;

    if (s == NULL) {
        sl_buf_append_str(b, "null");
        return;
    }
    n = strlen(s);
    if (sl_utf8_valid(s, n)) {
        sl_json_append_string(b, s, n);
        return;
    }
    char *copy = sl_xstrndup(s, n);

    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)copy[i] >= 0x80)
            copy[i] = '?';
    }
    sl_json_append_string(b, copy, n);
    free(copy);
}

/* Appends the period start the event carries for `scope` and entity `id`, or null. */
static void
append_period(struct sl_buf *b, const struct sl_spend_event *ev, const char *scope,
              const char *id)
{
    if (id != NULL) {
        for (size_t i = 0; i < ev->n_periods; i++) {
            const struct sl_spend_period *p = &ev->periods[i];

            if (p->scope != NULL && p->id != NULL && strcmp(p->scope, scope) == 0 &&
                strcmp(p->id, id) == 0) {
                sl_buf_printf(b, "%" PRId64, p->start_s);
                return;
            }
        }
    }
    sl_buf_append_str(b, "null");
}

static void
append_event(struct sl_buf *b, const struct sl_spend_event *ev)
{
    const char *strings[] = {
        ev->request_id, ev->call_type,   ev->key_hash, ev->key_alias,    ev->user_id,
        ev->team_id,    ev->org_id,      ev->end_user, ev->model_group,  ev->model,
        ev->model_id,   ev->provider,    ev->api_base, ev->client_ip,    ev->user_agent,
        ev->request_body, ev->response_body,
    };
    static const char *const string_keys[] = {
        "request_id", "call_type", "api_key",    "key_alias",           "user_id",
        "team_id",    "organization_id", "end_user", "model_group",     "model",
        "model_id",   "custom_llm_provider", "api_base", "requester_ip_address", "user_agent",
        "messages",   "response",
    };
    char member[512];

    sl_buf_append_str(b, "{");
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        sl_buf_printf(b, "%s\"%s\":", i == 0 ? "" : ",", string_keys[i]);
        append_text(b, strings[i]);
    }
    sl_buf_printf(b,
                  ",\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 ",\"first_ms\":%" PRId64
                  ",\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
                  ",\"cached_tokens\":%" PRId64 ",\"cache_creation_tokens\":%" PRId64
                  ",\"reasoning_tokens\":%" PRId64,
                  ev->start_ms, ev->end_ms, ev->first_byte_ms, ev->prompt_tokens,
                  ev->completion_tokens, ev->cached_tokens, ev->cache_creation_tokens,
                  ev->reasoning_tokens);
    sl_buf_printf(b,
                  ",\"usage_estimated\":%s,\"priced\":%s,\"spend\":%.17g,\"success\":%s"
                  ",\"http_status\":%d,\"cache_hit\":%s",
                  ev->usage_estimated ? "true" : "false", ev->priced ? "true" : "false",
                  ev->cost, ev->success ? "true" : "false", ev->http_status,
                  ev->cache_hit ? "true" : "false");

    sl_buf_append_str(b, ",\"p_api_key\":");
    append_period(b, ev, "api_key", ev->key_hash);
    sl_buf_append_str(b, ",\"p_user\":");
    append_period(b, ev, "user", ev->user_id);
    sl_buf_append_str(b, ",\"p_team\":");
    append_period(b, ev, "team", ev->team_id);
    sl_buf_append_str(b, ",\"p_team_member\":");
    if (ev->team_id != NULL && ev->user_id != NULL &&
        (size_t)snprintf(member, sizeof(member), "%s:%s", ev->team_id, ev->user_id) <
            sizeof(member))
        append_period(b, ev, "team_member", member);
    else
        append_period(b, ev, "team_member", NULL);
    sl_buf_append_str(b, ",\"p_organization\":");
    append_period(b, ev, "organization", ev->org_id);
    sl_buf_append_str(b, ",\"p_end_user\":");
    append_period(b, ev, "end_user", ev->end_user);
    sl_buf_append_str(b, "}");
}

/* ---------------------------------------------------------------- the transaction */

/* Runs one statement; on failure sets `err` and returns SL_ERR_STORE for a data error (SQLSTATE
 * class 22 or 23, which a retry cannot fix) or SL_ERR_UNAVAILABLE for anything else. */
static enum sl_status
exec(PGconn *conn, const char *sql, int nparams, const char *const *params, long *rows,
     struct sl_errbuf *err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    enum sl_status rc = SL_OK;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);

        rc = state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
                 ? SL_ERR_STORE
                 : SL_ERR_UNAVAILABLE;
        sl_errbuf_set(err, "%s (SQLSTATE %s)", msg[0] != '\0' ? msg : "no reply",
                      state != NULL ? state : "none");
        /* libpq ends messages with a newline; keep the log field on one line. */
        err->msg[strcspn(err->msg, "\n")] = '\0';
    } else if (rows != NULL) {
        *rows = strtol(PQcmdTuples(res), NULL, 10);
    }
    PQclear(res);
    return rc;
}

enum sl_status
sl_coord__spend_commit(PGconn *conn, struct sl_spend_event *const *events, size_t n,
                       struct sl_coord_spend_result *out, struct sl_errbuf *err)
{
    struct sl_buf json;
    const char *params[1];
    long inserted = 0;
    enum sl_status rc;

    sl_buf_init(&json, 0);
    sl_buf_append_str(&json, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sl_buf_append_str(&json, ",");
        append_event(&json, events[i]);
    }
    sl_buf_append_str(&json, "]");
    params[0] = json.data;

    rc = exec(conn, "BEGIN", 0, NULL, NULL, err);
    if (rc != SL_OK)
        goto out;
    rc = exec(conn, sql_create, 0, NULL, NULL, err);
    if (rc == SL_OK)
        rc = exec(conn, sql_load, 1, params, NULL, err);
    if (rc == SL_OK)
        rc = exec(conn, sql_insert_logs, 0, NULL, &inserted, err);
    if (rc == SL_OK)
        rc = exec(conn, sql_end_users, 0, NULL, NULL, err);
    for (size_t i = 0; rc == SL_OK && i < sizeof(sql_entities) / sizeof(sql_entities[0]); i++)
        rc = exec(conn, sql_entities[i], 0, NULL, NULL, err);
    if (rc == SL_OK)
        rc = exec(conn, sql_daily, 0, NULL, NULL, err);
    if (rc == SL_OK)
        rc = exec(conn, "COMMIT", 0, NULL, NULL, err);
    if (rc != SL_OK) {
        /* The connection may be gone; the server rolls back on its own then. */
        if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
            PQclear(PQexec(conn, "ROLLBACK"));
        goto out;
    }
    out->inserted = inserted > 0 ? (size_t)inserted : 0;
    out->duplicate = n - out->inserted;

out:
    sl_buf_dispose(&json);
    return rc;
}
