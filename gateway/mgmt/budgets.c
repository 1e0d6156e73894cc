/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budgets -- the /budget/ routes: budgets as objects of their own that keys, users, teams,
 * organizations and end users point at by budget_id. new, update and delete are for
 * proxy_admin. info and list are also open to proxy_admin_viewer, because a viewer reads
 * everything an admin may change (LiteLLM 1.81.13 lets viewers read no budget route).
 *
 * A budget that something still points at cannot be deleted (the schema's ON DELETE
 * RESTRICT); the caller gets a 400 with that reason.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/routes.h"

/* Most budget ids one /budget/info call may name. */
#define BUDGET_INFO_MAX 100

static const struct sl_mgmt_field_spec budget_fields[] = {
    SL_MGMT_BUDGET_FIELDS,
};
#define N_BUDGET_FIELDS (sizeof(budget_fields) / sizeof(budget_fields[0]))

/* The budget as the API returns it: the row without the internal period start. */
#define BUDGET_VIEW(b) "(to_jsonb(" b ") - 'budget_period_start')"

static void
on_row(struct sl_request *r, const PGresult *res, void *data)
{
    (void)data;
    sl_mgmt_respond_row(r, res, "budget_id", "Budget not found. Pass an existing budget_id.");
}

static int
on_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    (void)data;
    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "budgets_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "A budget with this budget_id already exists.");
        return 1;
    }
    if (strcmp(sqlstate, "23503") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "id",
                              "The budget is still used by a key, user, team, organization, "
                              "membership or end user; point them at another budget first.");
        return 1;
    }
    if (strcmp(sqlstate, "23514") == 0 && strstr(constraint, "_not_empty") == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "None",
                              "A budget limit is out of range.");
        return 1;
    }
    return 0;
}

static const struct sl_mgmt_query_ops row_ops = {on_row, on_db_error, NULL};

/* Parses the budget fields of `body`. Returns 0 with the 400 sent. */
static int
parse_fields(struct sl_request *r, const cJSON *body, struct sl_mgmt_values *v)
{
    const char *param;
    struct sl_errbuf err;

    if (sl_mgmt_values_parse(body, budget_fields, N_BUDGET_FIELDS, v, &param, &err) == SL_OK)
        return 1;
    sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
    return 0;
}

static void
budget_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_sql q;
    const char *id;
    int bad;

    id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_fields(r, body, &v))
        goto out;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH ");
    sl_mgmt_sql_budget_insert(&q, "nb", id, budget_fields, &v, caller->changed_by, "true");
    sl_mgmt_sql_audit(&q, "a", caller, "created", "budgets", "nb", "nb.budget_id", "NULL",
                      BUDGET_VIEW("nb"));
    sl_mgmt_append(&q, " SELECT " BUDGET_VIEW("nb") " FROM nb");
    sl_mgmt_run(r, &q, &row_ops, NULL);
out:
    sl_mgmt_values_dispose(&v);
}

static void
budget_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_sql q;
    const char *id;
    int bad;

    id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return;
    if (id == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "budget_id is required to update a budget.");
        return;
    }
    if (!parse_fields(r, body, &v))
        goto out;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH old AS (SELECT * FROM budgets WHERE budget_id = ");
    sl_mgmt_bind(&q, id, "text");
    sl_mgmt_append(&q, " FOR UPDATE), up AS (UPDATE budgets SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_sql_set_list(&q, budget_fields, &v, 1);
    sl_mgmt_append(&q, " FROM old WHERE budgets.budget_id = old.budget_id RETURNING budgets.*)");
    sl_mgmt_sql_audit(&q, "a", caller, "updated", "budgets", "old JOIN up USING (budget_id)",
                      "up.budget_id", BUDGET_VIEW("old"), BUDGET_VIEW("up"));
    sl_mgmt_append(&q, " SELECT " BUDGET_VIEW("up") " FROM up");
    sl_mgmt_run(r, &q, &row_ops, NULL);
out:
    sl_mgmt_values_dispose(&v);
}

static void
budget_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    const char *id;
    int bad;

    id = sl_mgmt_body_string(r, body, "id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return;
    if (id == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "id",
                              "Pass {\"id\": \"<budget_id>\"} to delete a budget.");
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH gone AS (DELETE FROM budgets WHERE budget_id = ");
    sl_mgmt_bind(&q, id, "text");
    sl_mgmt_append(&q, " RETURNING *)");
    sl_mgmt_sql_audit(&q, "a", caller, "deleted", "budgets", "gone", "gone.budget_id",
                      BUDGET_VIEW("gone"), "NULL");
    sl_mgmt_append(&q, " SELECT " BUDGET_VIEW("gone") " FROM gone");
    sl_mgmt_run(r, &q, &row_ops, NULL);
}

static void
on_list(struct sl_request *r, const PGresult *res, void *data)
{
    cJSON *list = sl_mgmt_result_json(res, 0, 0);

    (void)data;
    if (list == NULL)
        list = cJSON_CreateArray();
    sl_mgmt_respond_json(r, list);
    cJSON_Delete(list);
}

static const struct sl_mgmt_query_ops list_ops = {on_list, NULL, NULL};

/* POST {"budgets": [ids]}: the rows found, in id order. */
static void
budget_info(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "budgets");
    const cJSON *el;
    struct sl_mgmt_sql q;
    char *text;

    (void)caller;
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0 ||
        cJSON_GetArraySize(ids) > BUDGET_INFO_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "budgets",
                                 "Pass {\"budgets\": [\"<budget_id>\", ...]} with 1 to %d ids.",
                                 BUDGET_INFO_MAX);
        return;
    }
    cJSON_ArrayForEach(el, ids)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_ID_MAX) {
            sl_mgmt_respond_bad_field(r, "budgets", "a list of budget ids");
            return;
        }
    }
    text = sl_json_print(ids);
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT COALESCE(jsonb_agg(" BUDGET_VIEW("b") " ORDER BY b.budget_id), "
                       "'[]') FROM budgets b WHERE b.budget_id IN "
                       "(SELECT jsonb_array_elements_text(");
    sl_mgmt_bind(&q, text, "jsonb");
    sl_mgmt_append(&q, "))");
    sl_mgmt_run(r, &q, &list_ops, NULL);
    free(text);
}

static void
budget_list(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;

    (void)caller;
    (void)body;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT COALESCE(jsonb_agg(" BUDGET_VIEW("b") " ORDER BY b.created_at, "
                       "b.budget_id), '[]') FROM budgets b");
    sl_mgmt_run(r, &q, &list_ops, NULL);
}

const struct sl_mgmt_route sl_mgmt_budget_routes[] = {
    {"/budget/new", "POST", SL_MGMT_ADMIN, budget_new},
    {"/budget/update", "POST", SL_MGMT_ADMIN, budget_update},
    {"/budget/delete", "POST", SL_MGMT_ADMIN, budget_delete},
    {"/budget/info", "POST", SL_MGMT_ADMIN_READ, budget_info},
    {"/budget/list", "GET", SL_MGMT_ADMIN_READ, budget_list},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
