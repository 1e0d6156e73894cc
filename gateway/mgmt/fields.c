/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fields -- table-driven checks of management request bodies and the statement parts built
 * from them.
 */
#include "gateway/mgmt/fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/budget_period.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/mgmt/key_fields.h"

/* Maximum length of a text value and of a list entry. */
#define FIELD_TEXT_MAX 1024
/* Maximum amount of money and maximum count a field accepts. */
#define FIELD_MONEY_MAX 1e15
#define FIELD_COUNT_MAX 9007199254740991.0 /* 2^53 - 1: exact in a double */

static char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
text_printf(const char *fmt, ...)
{
    char buf[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return sl_xstrdup(buf);
}

static enum sl_status
parse_strings(const cJSON *item, const char *name, struct sl_errbuf *err)
{
    const cJSON *el;

    if (!cJSON_IsArray(item)) {
        sl_errbuf_set(err, "%s must be a list of strings.", name);
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > FIELD_TEXT_MAX) {
            sl_errbuf_set(err, "%s must be a list of strings of at most %d characters.", name,
                          FIELD_TEXT_MAX);
            return SL_ERR_INVALID;
        }
    }
    return SL_OK;
}

static enum sl_status
parse_number(const cJSON *item, const struct sl_mgmt_field_spec *f, char **text, struct sl_errbuf *err)
{
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;

    if (!isfinite(v)) {
        sl_errbuf_set(err, "%s must be a number.", f->name);
        return SL_ERR_INVALID;
    }
    if (v < 0) {
        sl_errbuf_set(err, "%s cannot be negative. Received: %g", f->name, v);
        return SL_ERR_INVALID;
    }
    if (f->kind == SL_MGMT_K_MONEY) {
        if (v > FIELD_MONEY_MAX) {
            sl_errbuf_set(err, "%s must be at most %g.", f->name, FIELD_MONEY_MAX);
            return SL_ERR_INVALID;
        }
        *text = text_printf("%.17g", v);
        return SL_OK;
    }
    if (v > FIELD_COUNT_MAX || v != floor(v)) {
        sl_errbuf_set(err, "%s must be a whole number of at most %.0f.", f->name, FIELD_COUNT_MAX);
        return SL_ERR_INVALID;
    }
    *text = text_printf("%lld", (long long)v);
    return SL_OK;
}

static enum sl_status
parse_one(const cJSON *item, const struct sl_mgmt_field_spec *f, struct sl_mgmt_values *out, size_t i,
          struct sl_errbuf *err)
{
    struct sl_mgmt_duration d;

    switch (f->kind) {
    case SL_MGMT_K_TEXT:
        if (!cJSON_IsString(item) || strlen(item->valuestring) > FIELD_TEXT_MAX) {
            sl_errbuf_set(err, "%s must be a string of at most %d characters.", f->name,
                          FIELD_TEXT_MAX);
            return SL_ERR_INVALID;
        }
        out->text[i] = sl_xstrdup(item->valuestring);
        return SL_OK;
    case SL_MGMT_K_MONEY:
    case SL_MGMT_K_COUNT:
        return parse_number(item, f, &out->text[i], err);
    case SL_MGMT_K_BOOL:
        if (!cJSON_IsBool(item)) {
            sl_errbuf_set(err, "%s must be true or false.", f->name);
            return SL_ERR_INVALID;
        }
        out->text[i] = sl_xstrdup(cJSON_IsTrue(item) ? "true" : "false");
        return SL_OK;
    case SL_MGMT_K_STRINGS:
        if (parse_strings(item, f->name, err) != SL_OK)
            return SL_ERR_INVALID;
        out->text[i] = sl_json_print(item);
        return SL_OK;
    case SL_MGMT_K_OBJECT:
        if (!cJSON_IsObject(item)) {
            sl_errbuf_set(err, "%s must be a JSON object.", f->name);
            return SL_ERR_INVALID;
        }
        out->text[i] = sl_json_print(item);
        return SL_OK;
    case SL_MGMT_K_DURATION:
        if (!cJSON_IsString(item)) {
            sl_errbuf_set(err, "Invalid %s: expected a string such as \"30d\".", f->name);
            return SL_ERR_INVALID;
        }
        /* A budget_duration also fixes the budget period that contains the current time. */
        if (sl_mgmt_parse_duration(item->valuestring, &d) != SL_OK ||
            (f->budget && sl_mgmt_budget_period(item->valuestring, (int64_t)(sl_wall_ms() / 1000),
                                                &out->period) != SL_OK)) {
            sl_errbuf_set(err,
                          "Invalid %s \"%.64s\": expected a whole number from 1 to 100000 "
                          "followed by s, m, h, d, w or mo, e.g. \"30d\".",
                          f->name, item->valuestring);
            return SL_ERR_INVALID;
        }
        out->text[i] = sl_xstrdup(item->valuestring);
        out->interval[i] = text_printf("%lld %s", d.count, d.unit);
        return SL_OK;
    }
    return SL_ERR_INVALID;
}

enum sl_status
sl_mgmt_values_parse(const cJSON *body, const struct sl_mgmt_field_spec *fields, size_t n,
                     struct sl_mgmt_values *out, const char **param, struct sl_errbuf *err)
{
    *param = NULL;
    if (n > SL_MGMT_MAX_FIELDS)
        abort();
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, fields[i].name);

        /* Null is LiteLLM's default of every optional field: the same as leaving it out. */
        if (item == NULL || cJSON_IsNull(item))
            continue;
        if (parse_one(item, &fields[i], out, i, err) != SL_OK) {
            *param = fields[i].name;
            return SL_ERR_INVALID;
        }
        out->set[i] = 1;
    }
    return SL_OK;
}

void
sl_mgmt_values_dispose(struct sl_mgmt_values *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->text[i]);
        free(v->interval[i]);
        v->text[i] = NULL;
        v->interval[i] = NULL;
        v->set[i] = 0;
    }
}

int
sl_mgmt_field_index(const struct sl_mgmt_field_spec *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

const char *
sl_mgmt_value(const struct sl_mgmt_values *v, const struct sl_mgmt_field_spec *fields, const char *name)
{
    int i = sl_mgmt_field_index(fields, v->n, name);

    return i >= 0 && v->set[i] ? v->text[i] : NULL;
}

int
sl_mgmt_values_any_budget(const struct sl_mgmt_values *v, const struct sl_mgmt_field_spec *fields)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->set[i] && fields[i].budget)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- budget periods */

enum sl_status
sl_mgmt_budget_period(const char *budget_duration, int64_t now_s, struct sl_mgmt_period *out)
{
    struct sl_budget_duration d;
    int64_t start;
    int64_t end;

    out->start_s[0] = '\0';
    out->end_s[0] = '\0';
    if (budget_duration == NULL)
        return SL_OK;
    if (sl_budget_duration_parse(budget_duration, &d) != SL_OK)
        return SL_ERR_INVALID;
    start = sl_budget_period(&d, now_s, &end);
    snprintf(out->start_s, sizeof(out->start_s), "%lld", (long long)start);
    snprintf(out->end_s, sizeof(out->end_s), "%lld", (long long)end);
    return SL_OK;
}

/* Appends the start of `p` as a timestamptz, now() when `p` is empty. */
static void
append_period_start(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p)
{
    /* to_timestamp(NULL) is NULL, which COALESCE replaces. */
    sl_mgmt_append(q, "COALESCE(to_timestamp(");
    sl_mgmt_bind(q, p->start_s[0] != '\0' ? p->start_s : NULL, "float8");
    sl_mgmt_append(q, "), now())");
}

/* Appends the end of `p` as a timestamptz, NULL (never resets) when `p` is empty. */
static void
append_period_end(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p)
{
    sl_mgmt_append(q, "to_timestamp(");
    sl_mgmt_bind(q, p->end_s[0] != '\0' ? p->end_s : NULL, "float8");
    sl_mgmt_append(q, ")");
}

void
sl_mgmt_sql_period_values(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p)
{
    append_period_start(q, p);
    sl_mgmt_append(q, ", ");
    append_period_end(q, p);
}

void
sl_mgmt_sql_period_set(struct sl_mgmt_sql *q, const struct sl_mgmt_period *p)
{
    sl_mgmt_append(q, ", budget_period_start = ");
    append_period_start(q, p);
    sl_mgmt_append(q, ", budget_reset_at = ");
    append_period_end(q, p);
}

/* ---------------------------------------------------------------- statement parts */

void
sl_mgmt_sql_value(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                  const struct sl_mgmt_values *v, size_t i)
{
    switch (fields[i].kind) {
    case SL_MGMT_K_TEXT:
    case SL_MGMT_K_DURATION:
        sl_mgmt_bind(q, v->text[i], "text");
        break;
    case SL_MGMT_K_MONEY:
        sl_mgmt_bind(q, v->text[i], "float8");
        break;
    case SL_MGMT_K_COUNT:
        sl_mgmt_bind(q, v->text[i], "int8");
        break;
    case SL_MGMT_K_BOOL:
        sl_mgmt_bind(q, v->text[i], "boolean");
        break;
    case SL_MGMT_K_STRINGS:
        sl_mgmt_append(q, "ARRAY(SELECT jsonb_array_elements_text(");
        sl_mgmt_bind(q, v->text[i], "jsonb");
        sl_mgmt_append(q, "))");
        break;
    case SL_MGMT_K_OBJECT:
        sl_mgmt_bind(q, v->text[i], "jsonb");
        break;
    }
}

void
sl_mgmt_sql_columns(struct sl_buf *cols, const struct sl_mgmt_field_spec *fields,
                    const struct sl_mgmt_values *v, int budget)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->set[i] && fields[i].budget == budget)
            sl_buf_printf(cols, ", %s", fields[i].column);
    }
}

void
sl_mgmt_sql_values(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                   const struct sl_mgmt_values *v, int budget)
{
    for (size_t i = 0; i < v->n; i++) {
        if (!v->set[i] || fields[i].budget != budget)
            continue;
        sl_mgmt_append(q, ", ");
        sl_mgmt_sql_value(q, fields, v, i);
    }
}

void
sl_mgmt_sql_budget_insert(struct sl_mgmt_sql *q, const char *name, const char *id,
                          const struct sl_mgmt_field_spec *fields, const struct sl_mgmt_values *v,
                          const char *actor, const char *where)
{
    struct sl_buf cols;

    sl_buf_init(&cols, 0);
    sl_mgmt_sql_columns(&cols, fields, v, 1);
    sl_buf_append(&cols, "", 1);
    sl_mgmt_appendf(q, "%s AS (INSERT INTO budgets (budget_id, created_by, updated_by, ", name);
    sl_mgmt_append(q, "budget_period_start, budget_reset_at");
    sl_mgmt_append(q, cols.data);
    sl_mgmt_append(q, ") SELECT COALESCE(");
    sl_mgmt_bind(q, id, "text");
    sl_mgmt_append(q, ", gen_random_uuid()::text), ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_sql_period_values(q, &v->period);
    sl_mgmt_sql_values(q, fields, v, 1);
    sl_mgmt_append(q, " WHERE ");
    sl_mgmt_append(q, where);
    sl_mgmt_append(q, " RETURNING *)");
    sl_buf_dispose(&cols);
}

void
sl_mgmt_sql_set_list(struct sl_mgmt_sql *q, const struct sl_mgmt_field_spec *fields,
                     const struct sl_mgmt_values *v, int budget)
{
    for (size_t i = 0; i < v->n; i++) {
        if (!v->set[i] || fields[i].budget != budget)
            continue;
        sl_mgmt_appendf(q, ", %s = ", fields[i].column);
        sl_mgmt_sql_value(q, fields, v, i);
        if (fields[i].budget && fields[i].kind == SL_MGMT_K_DURATION)
            sl_mgmt_sql_period_set(q, &v->period);
    }
}

void
sl_mgmt_sql_audit(struct sl_mgmt_sql *q, const char *name, const struct sl_mgmt_caller *caller,
                  const char *action, const char *table_name, const char *from,
                  const char *id_sql, const char *before_sql, const char *after_sql)
{
    sl_mgmt_appendf(q,
                    ", %s AS (INSERT INTO audit_log (changed_by, changed_by_api_key, action, "
                    "table_name, object_id, before_value, updated_values) SELECT ",
                    name);
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->api_key_hash[0] != '\0' ? caller->api_key_hash : NULL, "text");
    sl_mgmt_appendf(q, ", '%s', '%s', ", action, table_name);
    sl_mgmt_append(q, id_sql);
    sl_mgmt_append(q, ", ");
    sl_mgmt_append(q, before_sql);
    sl_mgmt_append(q, ", ");
    sl_mgmt_append(q, after_sql);
    sl_mgmt_append(q, " FROM ");
    sl_mgmt_append(q, from);
    sl_mgmt_append(q, ")");
}
