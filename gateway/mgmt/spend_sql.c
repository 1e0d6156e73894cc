/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_sql -- SQL statements of the spend reporting routes. Every statement starts with the
 * CTE `f` of sl_spend_sql_filtered() and ends with one SELECT that returns one JSON value, so
 * the route sends column 0 of row 0 as it is.
 */
#include "gateway/mgmt/spend_sql.h"

#include <stddef.h>

/* A timestamp as LiteLLM's spend logs show it: ISO 8601 in UTC with microseconds. */
#define ISO_UTC(t) "to_char((" t ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The UTC day of a start time. */
#define UTC_DAY(t) "((" t ") AT TIME ZONE 'UTC')::date"

/*
 * One spend_logs row in the shape of LiteLLM's LiteLLM_SpendLogs: camelCase times, `user` for
 * the user id, cache_hit as "True"/"False", and the key's alias, team, organization and user
 * in metadata under LiteLLM's names. messages and response appear only when stored.
 */
#define SPEND_ROW_JSON(s)                                                                          \
    "jsonb_build_object('request_id', " s ".request_id, 'call_type', " s ".call_type, "            \
    "'api_key', " s ".api_key, 'spend', " s ".spend, 'total_tokens', " s ".total_tokens, "         \
    "'prompt_tokens', " s ".prompt_tokens, 'completion_tokens', " s ".completion_tokens, "         \
    "'startTime', " ISO_UTC(s ".start_time") ", 'endTime', " ISO_UTC(s ".end_time") ", "           \
    "'completionStartTime', " ISO_UTC(s ".completion_start_time") ", "                             \
    "'model', " s ".model, 'model_id', " s ".model_id, 'model_group', " s ".model_group, "         \
    "'custom_llm_provider', " s ".custom_llm_provider, 'api_base', " s ".api_base, "               \
    "'user', " s ".user_id, 'team_id', " s ".team_id, 'organization_id', " s ".organization_id, "  \
    "'end_user', " s ".end_user, 'cache_hit', CASE WHEN " s ".cache_hit THEN 'True' ELSE "         \
    "'False' END, 'requester_ip_address', " s ".requester_ip_address, 'status', " s ".status, "    \
    "'metadata', " SPEND_METADATA_JSON(s) ")"                                                      \
    " || CASE WHEN " s ".messages IS NULL THEN '{}'::jsonb ELSE "                                  \
    "jsonb_build_object('messages', " s ".messages) END"                                           \
    " || CASE WHEN " s ".response IS NULL THEN '{}'::jsonb ELSE "                                  \
    "jsonb_build_object('response', " s ".response) END"

#define SPEND_METADATA_JSON(s)                                                                     \
    "jsonb_build_object('user_api_key', " s ".api_key, 'user_api_key_alias', " s ".key_alias, "    \
    "'user_api_key_team_id', " s ".team_id, 'user_api_key_org_id', " s ".organization_id, "        \
    "'user_api_key_user_id', " s ".user_id, 'requester_ip_address', " s ".requester_ip_address, "  \
    "'status', " s ".status, 'http_status', " s ".http_status, 'user_agent', " s ".user_agent, "   \
    "'usage_estimated', " s ".usage_estimated, 'priced', " s ".priced, "                           \
    "'usage_object', jsonb_build_object('prompt_tokens', " s ".prompt_tokens, "                    \
    "'completion_tokens', " s ".completion_tokens, 'total_tokens', " s ".total_tokens), "          \
    "'additional_usage_values', jsonb_build_object('cached_tokens', " s ".cached_tokens, "         \
    "'cache_creation_tokens', " s ".cache_creation_tokens, 'reasoning_tokens', "                   \
    s ".reasoning_tokens))"

void
sl_spend_sql_filtered(struct sl_mgmt_sql *q, const struct sl_spend_filter *f)
{
    static const struct {
        const char *column;
        size_t offset;
    } equal[] = {
        {"api_key", offsetof(struct sl_spend_filter, api_key)},
        {"user_id", offsetof(struct sl_spend_filter, user_id)},
        {"team_id", offsetof(struct sl_spend_filter, team_id)},
        {"request_id", offsetof(struct sl_spend_filter, request_id)},
        {"end_user", offsetof(struct sl_spend_filter, end_user)},
    };

    sl_mgmt_append(q, "WITH f AS (SELECT s.* FROM spend_logs s WHERE true");
    for (size_t i = 0; i < sizeof(equal) / sizeof(equal[0]); i++) {
        const char *value = *(const char *const *)((const char *)f + equal[i].offset);

        if (value == NULL)
            continue;
        sl_mgmt_appendf(q, " AND s.%s = ", equal[i].column);
        sl_mgmt_bind(q, value, "text");
    }
    if (f->start != NULL) {
        sl_mgmt_append(q, " AND s.start_time >= ");
        sl_mgmt_bind(q, f->start, "timestamptz");
    }
    if (f->end != NULL) {
        sl_mgmt_append(q, f->end_is_date ? " AND s.start_time < " : " AND s.start_time <= ");
        sl_mgmt_bind(q, f->end, "timestamptz");
        if (f->end_is_date)
            sl_mgmt_append(q, " + interval '1 day'");
    }
    if (f->last_30_days)
        sl_mgmt_append(q, " AND s.start_time >= (((now() AT TIME ZONE 'UTC')::date - 30)"
                          "::timestamp AT TIME ZONE 'UTC')");
    if (f->owner_id != NULL) {
        /* A key's rows stay its user's after the key moved or was deleted, because the row
         * records the user it was charged to. */
        sl_mgmt_append(q, " AND (s.user_id = ");
        sl_mgmt_bind(q, f->owner_id, "text");
        sl_mgmt_append(q, " OR s.api_key IN (SELECT k.token FROM keys k WHERE k.user_id = ");
        sl_mgmt_bind(q, f->owner_id, "text");
        sl_mgmt_append(q, "))");
    }
    sl_mgmt_append(q, ")");
}

/* Appends the subquery "(SELECT ... ) p" of one page of `f`, newest first. */
static void
append_page(struct sl_mgmt_sql *q, long page, long page_size)
{
    sl_mgmt_append(q, "(SELECT " SPEND_ROW_JSON("s") " AS row, s.start_time, s.request_id "
                      "FROM f s ORDER BY s.start_time DESC, s.request_id");
    sl_mgmt_appendf(q, " LIMIT %ld OFFSET %ld) p", page_size, (page - 1) * page_size);
}

void
sl_spend_sql_rows(struct sl_mgmt_sql *q, long page, long page_size)
{
    sl_mgmt_append(q, " SELECT COALESCE(jsonb_agg(p.row ORDER BY p.start_time DESC, "
                      "p.request_id), '[]') FROM ");
    append_page(q, page, page_size);
}

void
sl_spend_sql_rows_page(struct sl_mgmt_sql *q, long page, long page_size)
{
    sl_mgmt_append(q, ", t AS (SELECT count(*) AS n FROM f) SELECT jsonb_build_object('data', "
                      "(SELECT COALESCE(jsonb_agg(p.row ORDER BY p.start_time DESC, "
                      "p.request_id), '[]') FROM ");
    append_page(q, page, page_size);
    sl_mgmt_appendf(q,
                    "), 'total', t.n, 'page', %ld, 'page_size', %ld, 'total_pages', "
                    "(t.n + %ld - 1) / %ld) FROM t",
                    page, page_size, page_size, page_size);
}

void
sl_spend_sql_summary(struct sl_mgmt_sql *q, const char *end)
{
    /* LiteLLM keys "users" and "models" by value; a missing one is its Python None, which
     * JSON writes as "null". */
    sl_mgmt_append(
        q, ", d AS (SELECT " UTC_DAY("s.start_time") " AS day, s.api_key, "
           "COALESCE(s.user_id, 'null') AS u, COALESCE(s.model, 'null') AS m, s.spend FROM f s), "
           "days AS (SELECT day, sum(spend) AS spend FROM d GROUP BY day), "
           "obj AS (SELECT days.day, "
           "(SELECT jsonb_object_agg(k.api_key, k.spend) FROM (SELECT api_key, sum(spend) AS "
           "spend FROM d WHERE d.day = days.day GROUP BY api_key) k) || "
           "jsonb_build_object('startTime', to_char(days.day, 'YYYY-MM-DD'), 'spend', days.spend, "
           "'users', (SELECT jsonb_object_agg(x.u, x.spend) FROM (SELECT u, sum(spend) AS spend "
           "FROM d WHERE d.day = days.day GROUP BY u) x), "
           "'models', (SELECT jsonb_object_agg(y.m, y.spend) FROM (SELECT m, sum(spend) AS spend "
           "FROM d WHERE d.day = days.day GROUP BY m) y)) AS o FROM days "
           "UNION ALL SELECT g::date, jsonb_build_object('startTime', to_char(g, 'YYYY-MM-DD'), "
           "'spend', 0, 'users', '{}'::jsonb, 'models', '{}'::jsonb) FROM generate_series("
           "((SELECT max(day) FROM days) + 1)::timestamp, ((");
    sl_mgmt_bind(q, end, "timestamptz");
    sl_mgmt_append(q, ") AT TIME ZONE 'UTC')::date::timestamp, interval '1 day') g) "
                      "SELECT COALESCE(jsonb_agg(o ORDER BY day), '[]') FROM obj");
}

/* Appends the report grouped by day and by `column` (an SQL expression named `name`). */
static void
append_daily_report(struct sl_mgmt_sql *q, const char *column, const char *join, const char *name,
                    const char *list)
{
    sl_mgmt_appendf(q,
                    ", g AS (SELECT " UTC_DAY("s.start_time") " AS day, %s AS who, s.model, "
                    "s.api_key, sum(s.spend) AS spend, sum(s.total_tokens) AS tokens "
                    "FROM f s %s GROUP BY 1, 2, 3, 4), ",
                    column, join);
    sl_mgmt_append(q, "a AS (SELECT day, who, sum(spend) AS total, jsonb_agg(jsonb_build_object("
                      "'model', model, 'api_key', api_key, 'spend', spend, 'total_tokens', tokens) "
                      "ORDER BY spend DESC, model, api_key) AS metadata FROM g "
                      "GROUP BY day, who) ");
    sl_mgmt_appendf(q,
                    "SELECT COALESCE(jsonb_agg(x.o ORDER BY x.day), '[]') FROM (SELECT day, "
                    "jsonb_build_object('group_by_day', " ISO_UTC("day::timestamp AT TIME ZONE "
                                                                  "'UTC'") ", "
                    "'%s', jsonb_agg(jsonb_build_object('%s', who, 'total_spend', total, "
                    "'metadata', metadata) ORDER BY total DESC, who)) AS o FROM a GROUP BY day) x",
                    list, name);
}

void
sl_spend_sql_report(struct sl_mgmt_sql *q, enum sl_spend_group group)
{
    switch (group) {
    case SL_SPEND_BY_TEAM:
        append_daily_report(q, "COALESCE(t.team_alias, 'Unassigned Team')",
                            "LEFT JOIN teams t ON t.team_id = s.team_id", "team_name", "teams");
        return;
    case SL_SPEND_BY_CUSTOMER:
        append_daily_report(q, "s.end_user", "", "customer", "customers");
        return;
    case SL_SPEND_BY_API_KEY:
        break;
    }
    sl_mgmt_append(q, ", m AS (SELECT api_key, model, sum(spend) AS cost, sum(prompt_tokens) AS "
                      "input, sum(completion_tokens) AS output FROM f GROUP BY api_key, model) "
                      "SELECT COALESCE(jsonb_agg(x.o ORDER BY x.cost DESC, x.api_key), '[]') FROM "
                      "(SELECT api_key, sum(cost) AS cost, jsonb_build_object('api_key', api_key, "
                      "'total_cost', sum(cost), 'total_input_tokens', sum(input), "
                      "'total_output_tokens', sum(output), 'model_details', jsonb_agg("
                      "jsonb_build_object('model', model, 'total_cost', cost, "
                      "'total_input_tokens', input, 'total_output_tokens', output) ORDER BY cost "
                      "DESC, model)) AS o FROM m GROUP BY api_key) x");
}

void
sl_spend_sql_top_keys(struct sl_mgmt_sql *q, long limit)
{
    sl_mgmt_appendf(q,
                    " SELECT COALESCE(jsonb_agg(jsonb_build_object('api_key', t.api_key, "
                    "'total_spend', t.total, 'key_alias', k.key_alias, 'key_name', k.key_name) "
                    "ORDER BY t.total DESC, t.api_key), '[]') FROM (SELECT api_key, sum(spend) AS "
                    "total FROM f GROUP BY api_key ORDER BY total DESC, api_key LIMIT %ld) t "
                    "LEFT JOIN keys k ON k.token = t.api_key",
                    limit);
}

void
sl_spend_sql_top_models(struct sl_mgmt_sql *q, long limit)
{
    sl_mgmt_appendf(q,
                    " SELECT COALESCE(jsonb_agg(jsonb_build_object('model', t.model, "
                    "'total_spend', t.total, 'total_tokens', t.tokens) ORDER BY t.total DESC, "
                    "t.model), '[]') FROM (SELECT model, sum(spend) AS total, sum(total_tokens) "
                    "AS tokens FROM f WHERE model <> '' GROUP BY model ORDER BY total DESC, model "
                    "LIMIT %ld) t",
                    limit);
}

void
sl_spend_sql_teams(struct sl_mgmt_sql *q)
{
    /* LiteLLM rounds each day's team spend to cents and adds the rounded values up. */
    sl_mgmt_append(
        q, ", g AS (SELECT " UTC_DAY("s.start_time") " AS day, COALESCE(t.team_alias, "
           "'Unassigned') AS alias, round(sum(s.spend)::numeric, 2)::float8 AS spend FROM f s "
           "LEFT JOIN teams t ON t.team_id = s.team_id GROUP BY 1, 2) "
           "SELECT jsonb_build_object('daily_spend', COALESCE((SELECT jsonb_agg(x.o ORDER BY "
           "x.day) FROM (SELECT day, jsonb_build_object('date', to_char(day, 'YYYY-MM-DD')) || "
           "jsonb_object_agg(alias, spend) AS o FROM g GROUP BY day) x), '[]'), "
           "'teams', COALESCE((SELECT jsonb_agg(DISTINCT alias ORDER BY alias) FROM g), '[]'), "
           "'total_spend_per_team', COALESCE((SELECT jsonb_agg(jsonb_build_object('team_id', "
           "y.alias, 'total_spend', y.total) ORDER BY y.total DESC, y.alias) FROM (SELECT alias, "
           "sum(spend) AS total FROM g GROUP BY alias ORDER BY total DESC, alias LIMIT 10) y), "
           "'[]'))");
}

void
sl_spend_sql_total(struct sl_mgmt_sql *q)
{
    /* NOTE: Sluice has no proxy-wide budget (LiteLLM's litellm_settings.max_budget), so
     * max_budget is LiteLLM's value when that setting is unset. */
    sl_mgmt_append(q, " SELECT jsonb_build_object('spend', COALESCE(sum(spend), 0), "
                      "'max_budget', 0.0) FROM f");
}
