/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_sql -- the SQL of the spend reporting routes (spend.c): the filter over spend_logs that
 * every route starts from, the row as LiteLLM's /spend/logs returns it, and the aggregates.
 * Every statement reads spend_logs, which sluice-coordinator fills from the gateways' spend
 * events. Values are bound, never formatted into the text. Loop thread only.
 */
#ifndef SL_MGMT_SPEND_SQL_H
#define SL_MGMT_SPEND_SQL_H

#include "gateway/mgmt/http.h"

/* A filter over spend_logs. NULL members do not filter. Strings are borrowed until the
 * statement is queued. */
struct sl_spend_filter {
    const char *api_key;    /* the stored hash */
    const char *user_id;
    const char *team_id;
    const char *request_id;
    const char *end_user;
    const char *start;      /* timestamptz text, inclusive */
    const char *end;        /* timestamptz text */
    int end_is_date;        /* `end` is a day's midnight: the whole day is included */
    int last_30_days;       /* only rows since the UTC midnight 30 days ago */
    const char *owner_id;   /* non-admin caller: only rows of this user or of its keys */
};

/* Appends "WITH f AS (SELECT s.* FROM spend_logs s WHERE ...)". */
void sl_spend_sql_filtered(struct sl_mgmt_sql *q, const struct sl_spend_filter *f);

/* Appends the SELECT of one page of rows of `f`, newest first, as a JSON array. */
void sl_spend_sql_rows(struct sl_mgmt_sql *q, long page, long page_size);

/* Appends the SELECT of {data, total, page, page_size, total_pages} over `f`. */
void sl_spend_sql_rows_page(struct sl_mgmt_sql *q, long page, long page_size);

/* Appends the SELECT of LiteLLM's daily summary of `f`: one object per UTC day with spend,
 * its spend per api_key, "users" and "models", then zero days up to the day of `end`. */
void sl_spend_sql_summary(struct sl_mgmt_sql *q, const char *end);

/* Report groupings of /global/spend/report. */
enum sl_spend_group {
    SL_SPEND_BY_TEAM,
    SL_SPEND_BY_CUSTOMER,
    SL_SPEND_BY_API_KEY,
};

/* Appends the SELECT of /global/spend/report over `f` grouped by `group`. */
void sl_spend_sql_report(struct sl_mgmt_sql *q, enum sl_spend_group group);

/* Appends the SELECT of the top `limit` keys of `f` by spend, with alias and name. */
void sl_spend_sql_top_keys(struct sl_mgmt_sql *q, long limit);

/* Appends the SELECT of the top `limit` models of `f` by spend. */
void sl_spend_sql_top_models(struct sl_mgmt_sql *q, long limit);

/* Appends the SELECT of /global/spend/teams over `f`. */
void sl_spend_sql_teams(struct sl_mgmt_sql *q);

/* Appends the SELECT of /global/spend over `f`. */
void sl_spend_sql_total(struct sl_mgmt_sql *q);

#endif /* SL_MGMT_SPEND_SQL_H */
