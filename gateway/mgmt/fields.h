/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fields -- body fields of the management routes as data. A table names each field, its type
 * and its column. The parser checks a body against the table and turns every sent field into
 * SQL parameter text. Builders append the common statement parts: column lists, SET lists,
 * the budget row and the audit_log row.
 *
 * Values are always bound as parameters; only names from the tables reach the SQL text.
 */
#ifndef SL_MGMT_FIELDS_H
#define SL_MGMT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/status.h"
#include "gateway/mgmt/http.h"

enum sl_mgmt_kind {
    SL_MGMT_K_TEXT,     /* string -> text */
    SL_MGMT_K_MONEY,    /* number >= 0 -> float8 */
    SL_MGMT_K_COUNT,    /* whole number >= 0 -> int8 */
    SL_MGMT_K_BOOL,     /* true or false -> boolean */
    SL_MGMT_K_STRINGS,  /* array of strings -> text[] */
    SL_MGMT_K_OBJECT,   /* object -> jsonb */
    SL_MGMT_K_DURATION, /* duration ("30d", "1mo"), checked by sl_budget_duration_parse() -> text */
};

struct sl_mgmt_field_spec {
    const char *name;   /* member of the request body */
    const char *column; /* column of the entity's table, or of budgets when `budget` */
    enum sl_mgmt_kind kind;
    int budget; /* lives in the entity's budget row */
};

/* The fields every budget-carrying entity accepts, stored in its budgets row. */
#define SL_MGMT_BUDGET_FIELDS                                                                      \
    {"max_budget", "max_budget", SL_MGMT_K_MONEY, 1},                                              \
        {"soft_budget", "soft_budget", SL_MGMT_K_MONEY, 1},                                        \
        {"max_parallel_requests", "max_parallel_requests", SL_MGMT_K_COUNT, 1},                    \
        {"tpm_limit", "tpm_limit", SL_MGMT_K_COUNT, 1},                                            \
        {"rpm_limit", "rpm_limit", SL_MGMT_K_COUNT, 1},                                            \
        {"budget_duration", "budget_duration", SL_MGMT_K_DURATION, 1},                             \
        {"model_max_budget", "model_max_budget", SL_MGMT_K_OBJECT, 1}

/* Fields one table may list. */
#define SL_MGMT_MAX_FIELDS 40

/* A budget period as Unix seconds text, the parameters of to_timestamp(). */
struct sl_mgmt_period {
    char start_s[24]; /* "" when no budget_duration was sent: a lifetime budget */
    char end_s[24];
};

/*
 * Fills `out` with the period of `budget_duration` that contains `now_s`, aligned to UTC by
 * sl_budget_period(). A NULL `budget_duration` empties `out`. Returns SL_ERR_INVALID, with
 * `out` emptied, when sl_budget_duration_parse() rejects the text.
 */
enum sl_status sl_mgmt_budget_period(const char *budget_duration, int64_t now_s,
                                     struct sl_mgmt_period *out);

/* Parsed values, indexed like the field table they were parsed with. */
struct sl_mgmt_values {
    int set[SL_MGMT_MAX_FIELDS]; /* the body sent the field (JSON null counts as unsent) */
    char *text[SL_MGMT_MAX_FIELDS]; /* parameter text, owned */
    char *interval[SL_MGMT_MAX_FIELDS]; /* durations: PostgreSQL interval text, owned */
    /* The current period of the sent budget_duration, computed when the body was parsed. */
    struct sl_mgmt_period period;
    size_t n;
};

/*
 * Checks every field of `fields` that `body` sends and fills `out` (zeroed by the caller).
 * Unknown members are ignored, as LiteLLM's models ignore them. On SL_ERR_INVALID, `err` has
 * the 400 message and `*param` the field at fault. Dispose `out` either way.
 */
enum sl_status sl_mgmt_values_parse(const cJSON *body, const struct sl_mgmt_field_spec *fields,
                                    size_t n, struct sl_mgmt_values *out, const char **param,
                                    struct sl_errbuf *err);
void sl_mgmt_values_dispose(struct sl_mgmt_values *v);

/* Returns the index of the field `name` in `fields`, or -1. */
int sl_mgmt_field_index(const struct sl_mgmt_field_spec *fields, size_t n, const char *name);

/* Returns the value text of field `name` when it was sent, else NULL. */
const char *sl_mgmt_value(const struct sl_mgmt_values *v, const struct sl_mgmt_field_spec *fields,
                          const char *name);

/* Returns 1 when any budget field was sent. */
int sl_mgmt_values_any_budget(const struct sl_mgmt_values *v, const struct sl_mgmt_field_spec *fields);

/*
 * Appends ", <column>" to `cols` for every sent field (budget fields when `budget`, else the
 * others), and sl_mgmt_sql_values() appends ", <bound value>" for the same fields in the same
 * order, so a caller writes "INSERT INTO t (id<cols>) SELECT $1<values>".
 */
void sl_mgmt_sql_columns(struct sl_buf *cols, const struct sl_mgmt_field_spec *fields,
                         const struct sl_mgmt_values *v, int budget);
void sl_mgmt_sql_values(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                        const struct sl_mgmt_values *v, int budget);

/* Appends "<start>, <end>" of `p` as timestamptz values: now() and NULL when `p` is empty. */
void sl_mgmt_sql_period_values(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p);

/* Appends ", budget_period_start = <start>, budget_reset_at = <end>" of `p` to a SET list. */
void sl_mgmt_sql_period_set(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p);

/* Appends the bound value of field `i` with its cast (text[] is converted from a JSON array). */
void sl_mgmt_sql_value(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                       const struct sl_mgmt_values *v, size_t i);

/*
 * Appends "<name> AS (INSERT INTO budgets (...) SELECT ... WHERE <where> RETURNING *)" with
 * the sent budget fields, the id `id` (NULL: generated), `actor` as creator, and the period
 * of budget_duration that contains the time of parsing (`v->period`). Without a
 * budget_duration the period starts now() and never resets. `where` is SQL text ("true" to
 * always insert).
 */
void sl_mgmt_sql_budget_insert(struct sl_mgmt_sql *q, const char *name, const char *id,
                               const struct sl_mgmt_field_spec *fields, const struct sl_mgmt_values *v,
                               const char *actor, const char *where);

/*
 * Appends ", <column> = <value>" for every sent field (budget fields when `budget`, else the
 * others), for a SET list that starts with "updated_at = now()". A sent budget_duration also
 * moves the row to the period of the new duration that contains the time of parsing.
 */
void sl_mgmt_sql_set_list(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                          const struct sl_mgmt_values *v, int budget);

/*
 * Appends ", <name> AS (INSERT INTO audit_log ... SELECT ... FROM <from>)": one row per row of
 * `from` (SQL text, e.g. a CTE name), recording `action` on `table_name` for the object whose
 * id is the SQL expression `id_sql`, with before and after values as SQL jsonb expressions
 * over `from` (or "NULL"), attributed to `caller`.
 */
void sl_mgmt_sql_audit(struct sl_mgmt_sql *q, const char *name, const struct sl_mgmt_caller *caller,
                       const char *action, const char *table_name, const char *from,
                       const char *id_sql, const char *before_sql, const char *after_sql);

/* SQL jsonb expression with the limit columns of budgets row `b`, merged into an entity's
 * JSON as LiteLLM flattens them. */
#define SL_MGMT_BUDGET_JSON(b)                                                                     \
    "jsonb_build_object('max_budget', " b ".max_budget, 'soft_budget', " b ".soft_budget, "        \
    "'max_parallel_requests', " b ".max_parallel_requests, 'tpm_limit', " b ".tpm_limit, "         \
    "'rpm_limit', " b ".rpm_limit, 'budget_duration', " b ".budget_duration, "                     \
    "'budget_reset_at', " b ".budget_reset_at, 'model_max_budget', " b ".model_max_budget)"

#endif /* SL_MGMT_FIELDS_H */
