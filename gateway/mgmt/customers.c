/* SPDX-License-Identifier: Apache-2.0 */
/*
 * customers -- the /customer/ routes, also served under /end_user/: end users are the `user`
 * values that clients send in request bodies, stored in end_users with an optional budget
 * row. new, update, delete, block and unblock are for proxy_admin; info and list also for
 * proxy_admin_viewer. Every change writes audit_log rows with table_name 'end_users'.
 *
 * The response shape is LiteLLM's LiteLLM_EndUserTable: the id is `user_id`, and the budget
 * row is `litellm_budget_table`.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/routes.h"

/* Most end users one delete, block or unblock call may name. */
#define CUSTOMER_IDS_MAX 1000

static const struct sl_mgmt_field_spec customer_fields[] = {
    {"alias", "alias", SL_MGMT_K_TEXT, 0},
    {"blocked", "blocked", SL_MGMT_K_BOOL, 0},
    {"allowed_model_region", "allowed_model_region", SL_MGMT_K_TEXT, 0},
    {"default_model", "default_model", SL_MGMT_K_TEXT, 0},
    {"spend", "spend", SL_MGMT_K_MONEY, 0},
    SL_MGMT_BUDGET_FIELDS,
};
#define N_CUSTOMER_FIELDS (sizeof(customer_fields) / sizeof(customer_fields[0]))

/* The end user `e` as the API returns it, with its budget row `b` (all NULL when none). */
#define CUSTOMER_VIEW(e, b)                                                                        \
    "jsonb_build_object('user_id', " e ".end_user_id, 'alias', " e ".alias, 'spend', " e          \
    ".spend, 'allowed_model_region', " e ".allowed_model_region, 'default_model', " e            \
    ".default_model, 'budget_id', " e ".budget_id, 'blocked', " e ".blocked, 'created_at', " e    \
    ".created_at, 'updated_at', " e ".updated_at, 'litellm_budget_table', CASE WHEN " b          \
    ".budget_id IS NULL THEN NULL ELSE to_jsonb(" b ") - 'budget_period_start' END)"

/* ---------------------------------------------------------------- results */

/* Sends column 0 of row 0 as the response, or the 404 `data` (a message) without a row. */
static void
on_row(struct sl_request *r, const PGresult *res, void *data)
{
    sl_mgmt_respond_row(r, res, "user_id", data);
}

static int
on_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    (void)data;
    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "end_users_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "An end user with this user_id already exists; use "
                              "/customer/update to change it.");
        return 1;
    }
    if (strcmp(sqlstate, "23503") == 0 && strstr(constraint, "budget_id") != NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "The budget_id given does not exist; create it with /budget/new "
                              "first.");
        return 1;
    }
    return 0;
}

static const struct sl_mgmt_query_ops row_ops = {on_row, on_db_error, free};

/*
 * Sends column 0 of row 0, a JSON object, as the response. A NULL column 0 is a 404 naming
 * the ids in column 1 that were not found.
 */
static void
on_list_result(struct sl_request *r, const PGresult *res, void *data)
{
    cJSON *out = sl_mgmt_result_json(res, 0, 0);

    (void)data;
    if (out == NULL) {
        sl_request_respond_error(r, 404, "not_found_error", "user_ids",
                                 "End users not found: %s. Nothing was changed.",
                                 PQntuples(res) > 0 && !PQgetisnull(res, 0, 1)
                                     ? PQgetvalue(res, 0, 1)
                                     : "");
        return;
    }
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static const struct sl_mgmt_query_ops list_ops = {on_list_result, on_db_error, NULL};

/* Returns the 404 message for end user `id` (caller frees). */
static char *
not_found_message(const char *id)
{
    struct sl_buf msg;

    sl_buf_init(&msg, 0);
    sl_buf_printf(&msg, "End User Id=%s does not exist in db", id);
    sl_buf_append(&msg, "", 1);
    return sl_buf_take(&msg, NULL);
}

/* ---------------------------------------------------------------- input */

/*
 * Parses the fields of `body` and applies LiteLLM's rules on them: allowed_model_region is
 * "eu" or "us", and `budget_id` excludes the budget fields. Returns 0 with the 400 sent.
 */
static int
parse_fields(struct sl_request *r, const cJSON *body, const char *budget_id,
             struct sl_mgmt_values *v)
{
    const char *param;
    const char *region;
    struct sl_errbuf err;

    if (sl_mgmt_values_parse(body, customer_fields, N_CUSTOMER_FIELDS, v, &param, &err) !=
        SL_OK) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
        return 0;
    }
    region = sl_mgmt_value(v, customer_fields, "allowed_model_region");
    if (region != NULL && strcmp(region, "eu") != 0 && strcmp(region, "us") != 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "allowed_model_region",
                              "Invalid allowed_model_region: expected \"eu\" or \"us\".");
        return 0;
    }
    if (budget_id != NULL && sl_mgmt_value(v, customer_fields, "max_budget") != NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "max_budget",
                              "Set either 'max_budget' or 'budget_id', not both.");
        return 0;
    }
    if (budget_id != NULL && sl_mgmt_values_any_budget(v, customer_fields)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "Set either the budget fields (soft_budget, tpm_limit, ...) or "
                              "'budget_id', not both.");
        return 0;
    }
    return 1;
}

/* Returns the required user_id of `body`, or NULL with the 400 sent. */
static const char *
required_user_id(struct sl_request *r, const cJSON *body)
{
    int bad;
    const char *id = sl_mgmt_body_string(r, body, "user_id", SL_MGMT_ID_MAX, &bad);

    if (bad)
        return NULL;
    if (id == NULL)
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "user_id is required: the end-user id that clients send as "
                              "`user`.");
    return id;
}

/* Checks {"user_ids": [...]} and returns the list printed as JSON (caller frees), or NULL
 * with the 400 sent. */
static char *
user_ids_json(struct sl_request *r, const cJSON *body)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "user_ids");
    const cJSON *el;

    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0 ||
        cJSON_GetArraySize(ids) > CUSTOMER_IDS_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "user_ids",
                                 "Pass {\"user_ids\": [\"<end user id>\", ...]} with 1 to %d ids.",
                                 CUSTOMER_IDS_MAX);
        return NULL;
    }
    cJSON_ArrayForEach(el, ids)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_ID_MAX) {
            sl_request_respond_error(r, 400, "bad_request_error", "user_ids",
                                     "Field user_ids must be a list of ids of at most %d bytes.",
                                     SL_MGMT_ID_MAX);
            return NULL;
        }
    }
    return sl_json_print(ids);
}

/* ---------------------------------------------------------------- routes */

static void
customer_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_sql q;
    struct sl_buf cols;
    const char *user_id;
    const char *budget_id;
    int bad;

    user_id = required_user_id(r, body);
    if (user_id == NULL)
        return;
    budget_id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_fields(r, body, budget_id, &v))
        goto out;

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, budget_id, "text");
    sl_mgmt_append(&q, " AS budget_id), ");
    /* A budget row only when a budget field was sent. */
    sl_mgmt_sql_budget_insert(&q, "nb", NULL, customer_fields, &v, caller->changed_by,
                              sl_mgmt_values_any_budget(&v, customer_fields) ? "true" : "false");
    sl_buf_init(&cols, 0);
    sl_mgmt_sql_columns(&cols, customer_fields, &v, 0);
    sl_buf_append(&cols, "", 1);
    sl_mgmt_append(&q, ", e AS (INSERT INTO end_users (end_user_id, budget_id");
    sl_mgmt_append(&q, cols.data);
    sl_buf_dispose(&cols);
    sl_mgmt_append(&q, ") SELECT ");
    sl_mgmt_bind(&q, user_id, "text");
    sl_mgmt_append(&q, ", COALESCE((SELECT budget_id FROM arg), (SELECT budget_id FROM nb))");
    sl_mgmt_sql_values(&q, customer_fields, &v, 0);
    sl_mgmt_append(&q, " RETURNING *), eb AS (SELECT * FROM nb UNION ALL SELECT * FROM budgets "
                       "WHERE budget_id = (SELECT budget_id FROM arg))");
    sl_mgmt_sql_audit(&q, "a", caller, "created", "end_users",
                      "e LEFT JOIN eb b ON b.budget_id = e.budget_id", "e.end_user_id", "NULL",
                      CUSTOMER_VIEW("e", "b"));
    sl_mgmt_append(&q, " SELECT " CUSTOMER_VIEW("e", "b") " FROM e LEFT JOIN eb b ON b.budget_id "
                       "= e.budget_id");
    sl_mgmt_run(r, &q, &row_ops, not_found_message(user_id));
out:
    sl_mgmt_values_dispose(&v);
}

static void
customer_info(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *id = NULL;

    (void)caller;
    (void)body;
    if (!sl_mgmt_query_param(r, "end_user_id", &id))
        return;
    if (id == NULL || strlen(id) > SL_MGMT_ID_MAX) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "end_user_id",
                              "Pass ?end_user_id=<id> (at most 255 bytes).");
        free(id);
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT " CUSTOMER_VIEW("e", "b") " FROM end_users e LEFT JOIN budgets b "
                       "ON b.budget_id = e.budget_id WHERE e.end_user_id = ");
    sl_mgmt_bind(&q, id, "text");
    sl_mgmt_run(r, &q, &row_ops, not_found_message(id));
    free(id);
}

/*
 * POST {"user_id", ...}: a sent budget field changes the end user's budget row, or creates
 * one when it has none; a sent budget_id points it at another budget. Null leaves a field as
 * it is.
 */
static void
customer_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_sql q;
    const char *user_id;
    const char *budget_id;
    int bad;

    user_id = required_user_id(r, body);
    if (user_id == NULL)
        return;
    budget_id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_fields(r, body, budget_id, &v))
        goto out;

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH old AS (SELECT e.*, " CUSTOMER_VIEW("e", "b") " AS view FROM "
                       "end_users e LEFT JOIN budgets b ON b.budget_id = e.budget_id WHERE "
                       "e.end_user_id = ");
    sl_mgmt_bind(&q, user_id, "text");
    sl_mgmt_append(&q, " FOR UPDATE OF e), ");
    if (sl_mgmt_values_any_budget(&v, customer_fields)) {
        sl_mgmt_sql_budget_insert(&q, "nb", NULL, customer_fields, &v, caller->changed_by,
                                  "EXISTS (SELECT 1 FROM old WHERE old.budget_id IS NULL)");
        sl_mgmt_append(&q, ", ub AS (UPDATE budgets SET updated_at = now(), updated_by = ");
        sl_mgmt_bind(&q, caller->changed_by, "text");
        sl_mgmt_sql_set_list(&q, customer_fields, &v, 1);
        sl_mgmt_append(&q, " FROM old WHERE budgets.budget_id = old.budget_id RETURNING "
                           "budgets.*)");
    } else {
        sl_mgmt_append(&q, "nb AS (SELECT * FROM budgets WHERE false), ub AS (SELECT * FROM "
                           "budgets WHERE false)");
    }
    sl_mgmt_append(&q, ", up AS (UPDATE end_users SET updated_at = now()");
    sl_mgmt_sql_set_list(&q, customer_fields, &v, 0);
    sl_mgmt_append(&q, ", budget_id = COALESCE(");
    sl_mgmt_bind(&q, budget_id, "text");
    sl_mgmt_append(&q, ", (SELECT budget_id FROM nb), end_users.budget_id) FROM old WHERE "
                       "end_users.end_user_id = old.end_user_id RETURNING end_users.*), nbud AS "
                       "(SELECT * FROM nb UNION ALL SELECT * FROM ub UNION ALL SELECT b.* FROM "
                       "budgets b JOIN up ON b.budget_id = up.budget_id WHERE NOT EXISTS (SELECT "
                       "1 FROM nb) AND NOT EXISTS (SELECT 1 FROM ub))");
    sl_mgmt_sql_audit(&q, "a", caller, "updated", "end_users",
                      "old JOIN up USING (end_user_id) LEFT JOIN nbud b ON b.budget_id = "
                      "up.budget_id",
                      "up.end_user_id", "old.view", CUSTOMER_VIEW("up", "b"));
    sl_mgmt_append(&q, " SELECT " CUSTOMER_VIEW("up", "b") " FROM up LEFT JOIN nbud b ON "
                       "b.budget_id = up.budget_id");
    sl_mgmt_run(r, &q, &row_ops, not_found_message(user_id));
out:
    sl_mgmt_values_dispose(&v);
}

/*
 * POST {"user_ids": [...]}: all or nothing, so an unknown id deletes nothing. The budget rows
 * of the deleted end users stay, since other objects may share them.
 * TODO: budget rows created for one end user are never deleted with it.
 */
static void
customer_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *ids = user_ids_json(r, body);

    if (ids == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH ids AS (SELECT DISTINCT jsonb_array_elements_text(");
    sl_mgmt_bind(&q, ids, "jsonb");
    sl_mgmt_append(
        &q, ") AS id), target AS (SELECT e.*, " CUSTOMER_VIEW("e", "b") " AS view FROM "
            "end_users e LEFT JOIN budgets b ON b.budget_id = e.budget_id WHERE e.end_user_id IN "
            "(SELECT id FROM ids) FOR UPDATE OF e), complete AS (SELECT (SELECT count(*) FROM "
            "target) = (SELECT count(*) FROM ids) AS ok), gone AS (DELETE FROM end_users e USING "
            "target t WHERE e.end_user_id = t.end_user_id AND (SELECT ok FROM complete) "
            "RETURNING t.end_user_id, t.view)");
    sl_mgmt_sql_audit(&q, "a", caller, "deleted", "end_users", "gone", "gone.end_user_id",
                      "gone.view", "NULL");
    /* LiteLLM's message prints the ids as a Python list. */
    sl_mgmt_append(
        &q, " SELECT CASE WHEN c.ok THEN jsonb_build_object('deleted_customers', (SELECT "
            "count(*) FROM gone), 'message', 'Successfully deleted customers with ids: [' || "
            "(SELECT string_agg('''' || end_user_id || '''', ', ' ORDER BY end_user_id) FROM "
            "gone) || ']') END, (SELECT string_agg(id, ', ' ORDER BY id) FROM ids WHERE id NOT "
            "IN (SELECT end_user_id FROM target)) FROM complete c");
    sl_mgmt_run(r, &q, &list_ops, NULL);
    free(ids);
}

/*
 * POST {"user_ids": [...]}: blocks the end users, creating the ones that do not exist yet as
 * LiteLLM does, and returns {"blocked_users": [...]}.
 */
static void
customer_block(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *ids = user_ids_json(r, body);

    if (ids == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH ids AS (SELECT DISTINCT jsonb_array_elements_text(");
    sl_mgmt_bind(&q, ids, "jsonb");
    sl_mgmt_append(&q, ") AS id), old AS (SELECT e.* FROM end_users e WHERE e.end_user_id IN "
                       "(SELECT id FROM ids) FOR UPDATE), up AS (INSERT INTO end_users "
                       "(end_user_id, blocked) SELECT id, true FROM ids ON CONFLICT (end_user_id) "
                       "DO UPDATE SET blocked = true, updated_at = now() RETURNING *)");
    sl_mgmt_sql_audit(&q, "a", caller, "blocked", "end_users",
                      "up LEFT JOIN old ON old.end_user_id = up.end_user_id", "up.end_user_id",
                      "CASE WHEN old.end_user_id IS NULL THEN NULL ELSE to_jsonb(old) END",
                      "to_jsonb(up)");
    sl_mgmt_append(&q, " SELECT jsonb_build_object('blocked_users', COALESCE(jsonb_agg("
                       CUSTOMER_VIEW("up", "b") " ORDER BY up.end_user_id), '[]')), NULL FROM up "
                       "LEFT JOIN budgets b ON b.budget_id = up.budget_id");
    sl_mgmt_run(r, &q, &list_ops, NULL);
    free(ids);
}

/*
 * POST {"user_ids": [...]}: unblocks the end users, all or nothing, and returns
 * {"unblocked_users": [...]}.
 * NOTE: LiteLLM 1.81.13 unblocks through an in-memory list of its enterprise blocked-user
 * hook, not the table; the table-based form here mirrors /customer/block.
 */
static void
customer_unblock(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *ids = user_ids_json(r, body);

    if (ids == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(
        &q, "WITH ids AS (SELECT DISTINCT jsonb_array_elements_text(");
    sl_mgmt_bind(&q, ids, "jsonb");
    sl_mgmt_append(
        &q, ") AS id), old AS (SELECT e.* FROM end_users e WHERE e.end_user_id IN (SELECT id "
            "FROM ids) FOR UPDATE), complete AS (SELECT (SELECT count(*) FROM old) = (SELECT "
            "count(*) FROM ids) AS ok), up AS (UPDATE end_users e SET blocked = false, updated_at "
            "= now() FROM old WHERE e.end_user_id = old.end_user_id AND (SELECT ok FROM complete) "
            "RETURNING e.*)");
    sl_mgmt_sql_audit(&q, "a", caller, "unblocked", "end_users",
                      "up JOIN old ON old.end_user_id = up.end_user_id", "up.end_user_id",
                      "to_jsonb(old)", "to_jsonb(up)");
    sl_mgmt_append(
        &q, " SELECT CASE WHEN c.ok THEN (SELECT jsonb_build_object('unblocked_users', "
            "COALESCE(jsonb_agg(" CUSTOMER_VIEW("up", "b") " ORDER BY up.end_user_id), '[]')) "
            "FROM up LEFT JOIN budgets b ON b.budget_id = up.budget_id) END, (SELECT "
            "string_agg(id, ', ' ORDER BY id) FROM ids WHERE id NOT IN (SELECT end_user_id FROM "
            "old)) FROM complete c");
    sl_mgmt_run(r, &q, &list_ops, NULL);
    free(ids);
}

static void
customer_list(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;

    (void)caller;
    (void)body;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT COALESCE(jsonb_agg(" CUSTOMER_VIEW("e", "b") " ORDER BY "
                       "e.created_at, e.end_user_id), '[]'), NULL FROM end_users e LEFT JOIN "
                       "budgets b ON b.budget_id = e.budget_id");
    sl_mgmt_run(r, &q, &list_ops, NULL);
}

/* Every route under both prefixes, as LiteLLM serves them. */
#define CUSTOMER_ROUTES(prefix)                                                                    \
    {prefix "/new", "POST", SL_MGMT_ADMIN, customer_new},                                          \
        {prefix "/info", "GET", SL_MGMT_ADMIN_READ, customer_info},                                \
        {prefix "/update", "POST", SL_MGMT_ADMIN, customer_update},                                \
        {prefix "/delete", "POST", SL_MGMT_ADMIN, customer_delete},                                \
        {prefix "/block", "POST", SL_MGMT_ADMIN, customer_block},                                  \
        {prefix "/unblock", "POST", SL_MGMT_ADMIN, customer_unblock},                              \
        {prefix "/list", "GET", SL_MGMT_ADMIN_READ, customer_list}

const struct sl_mgmt_route sl_mgmt_customer_routes[] = {
    CUSTOMER_ROUTES("/customer"),
    CUSTOMER_ROUTES("/end_user"),
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
