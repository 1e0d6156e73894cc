/* SPDX-License-Identifier: Apache-2.0 */
/*
 * orgs -- the /organization/ routes: organizations, their budget row and their members
 * (organization_memberships). proxy_admin may do everything and proxy_admin_viewer may read
 * everything. An org_admin (a membership with user_role 'org_admin') may update, delete and
 * manage the members of that organization, and every member may read it. Each statement
 * checks that right itself, so a membership removed concurrently cannot be used.
 *
 * Cached key auth records carry the organization's models. So a change of models, or a
 * delete, returns the tokens of the organization's keys and of its teams' keys, and each of
 * them is invalidated, even when the client left before the statement finished.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/routes.h"

/* Most organizations one /organization/delete call may name. */
#define ORG_DELETE_MAX 100
/* Most members one /organization/member_add call may add. */
#define ORG_MEMBERS_MAX 100
/* Maximum length of a member's user_email. */
#define ORG_EMAIL_MAX 320

static const struct sl_mgmt_field_spec org_fields[] = {
    {"organization_alias", "organization_alias", SL_MGMT_K_TEXT, 0},
    {"models", "models", SL_MGMT_K_STRINGS, 0},
    SL_MGMT_BUDGET_FIELDS,
};
#define N_ORG_FIELDS (sizeof(org_fields) / sizeof(org_fields[0]))

/* Fields stored in organizations.metadata, in this order in the statements. */
static const struct sl_mgmt_field_spec org_metadata_fields[] = {
    {"metadata", "metadata", SL_MGMT_K_OBJECT, 0},
    {"model_rpm_limit", "model_rpm_limit", SL_MGMT_K_OBJECT, 0},
    {"model_tpm_limit", "model_tpm_limit", SL_MGMT_K_OBJECT, 0},
};
#define N_ORG_METADATA_FIELDS (sizeof(org_metadata_fields) / sizeof(org_metadata_fields[0]))

/* The budget row `b` as litellm_budget_table shows it (NULL when the join found none). */
#define ORG_BUDGET_TABLE(b)                                                                        \
    "CASE WHEN " b ".budget_id IS NULL THEN NULL ELSE to_jsonb(" b ") - 'budget_period_start' END"

/* The organization `o` as the API returns it, with the limits of its budget row `b`. */
#define ORG_VIEW(o, b)                                                                             \
    "(to_jsonb(" o ") || " SL_MGMT_BUDGET_JSON(b) " || jsonb_build_object('litellm_budget_table', " \
    ORG_BUDGET_TABLE(b) "))"

/* ORG_VIEW plus the members (with their user_email) and the teams of the organization. */
#define ORG_DETAIL(o, b)                                                                           \
    "(" ORG_VIEW(o, b) " || jsonb_build_object('members', (SELECT COALESCE(jsonb_agg("           \
    "to_jsonb(m) || jsonb_build_object('user_email', u.user_email) ORDER BY m.created_at, "       \
    "m.user_id), '[]') FROM organization_memberships m LEFT JOIN users u ON u.user_id = "          \
    "m.user_id WHERE m.organization_id = " o ".organization_id), 'teams', (SELECT COALESCE("     \
    "jsonb_agg(to_jsonb(t) ORDER BY t.created_at, t.team_id), '[]') FROM teams t WHERE "          \
    "t.organization_id = " o ".organization_id)))"

/* Tokens (comma-separated) of the keys of organization `id` and of its teams' keys. */
#define ORG_KEY_TOKENS(id)                                                                         \
    "(SELECT string_agg(k.token, ',') FROM keys k WHERE k.organization_id = " id " OR k.team_id " \
    "IN (SELECT t.team_id FROM teams t WHERE t.organization_id = " id "))"

/*
 * The single result row of every statement here. Column 0 is one of these words, column 1 the
 * response JSON on "ok" or else an optional detail (the ids at fault), column 2 the tokens of
 * keys to invalidate (NULL for none).
 */
struct org_call {
    char *org_id; /* owned; for messages, NULL when the call names several organizations */
    char role[32];
};

/* ---------------------------------------------------------------- results */

static void
invalidate_tokens(struct sl_request *r, const PGresult *res, int col)
{
    const char *p;

    if (PQntuples(res) == 0 || PQnfields(res) <= col || PQgetisnull(res, 0, col))
        return;
    p = PQgetvalue(res, 0, col);
    while (*p != '\0') {
        char token[SL_MGMT_HASH_LEN + 1];
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

        /* keys.token is checked to be 64 hex characters by the schema. */
        if (len == SL_MGMT_HASH_LEN) {
            memcpy(token, p, len);
            token[len] = '\0';
            sl_mgmt_invalidate_key(r->worker, token);
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

static void
respond_status(struct sl_request *r, const struct org_call *c, const char *status,
               const char *detail)
{
    const char *org = detail;

    if (org == NULL)
        org = c->org_id != NULL ? c->org_id : "";

    if (strcmp(status, "no_org") == 0) {
        sl_request_respond_error(r, 404, "not_found_error", "organization_id",
                                 "Organization not found: %s. Pass an existing organization_id.",
                                 org);
    } else if (strcmp(status, "forbidden") == 0) {
        sl_request_respond_error(r, 403, "auth_error", "organization_id",
                                 "Only proxy_admin or an org_admin of organization %s may call "
                                 "%s. Your role=%s.",
                                 org, r->path, c->role[0] != '\0' ? c->role : "None");
    } else if (strcmp(status, "in_use") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "organization_ids",
                                 "Organization %s still has teams or keys; delete them or move "
                                 "them to another organization first.",
                                 org);
    } else if (strcmp(status, "no_member") == 0) {
        sl_request_respond_error(r, 404, "not_found_error", "user_id",
                                 "The user is not a member of organization %s.", org);
    } else {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "Internal Server Error, unexpected result of the statement.");
    }
}

static void
on_org_done(struct sl_request *r, const PGresult *res, void *data)
{
    struct org_call *c = data;
    const char *status;
    cJSON *out;

    invalidate_tokens(r, res, 2);
    if (r->req == NULL)
        return;
    if (PQntuples(res) == 0) {
        respond_status(r, c, "no_org", NULL);
        return;
    }
    status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") != 0) {
        respond_status(r, c, status, PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
        return;
    }
    out = sl_mgmt_result_json(res, 0, 1);
    if (out == NULL)
        out = cJSON_CreateArray();
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static int
on_org_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    struct org_call *c = data;

    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "organizations_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "organization_id",
                              "An organization with this organization_id already exists.");
        return 1;
    }
    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "organization_memberships_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "member",
                              "The user is already a member of this organization (or is listed "
                              "twice); use /organization/member_update to change a role.");
        return 1;
    }
    if (strcmp(sqlstate, "23503") == 0 && strstr(constraint, "budget_id") != NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "The budget_id given does not exist; create it with /budget/new "
                              "first.");
        return 1;
    }
    /* A team or key added to the organization while it was being deleted. */
    if (strcmp(sqlstate, "23503") == 0 && strstr(constraint, "organization_id") != NULL) {
        respond_status(r, c, "in_use", NULL);
        return 1;
    }
    return 0;
}

static void
org_call_free(void *data)
{
    struct org_call *c = data;

    free(c->org_id);
    free(c);
}

static const struct sl_mgmt_query_ops org_ops = {on_org_done, on_org_db_error, org_call_free};

static struct org_call *
org_call_create(const struct sl_mgmt_caller *caller, const char *org_id)
{
    struct org_call *c = sl_xcalloc(1, sizeof(*c));

    c->org_id = org_id != NULL ? sl_xstrdup(org_id) : NULL;
    memcpy(c->role, caller->role, sizeof(c->role));
    return c;
}

/* ---------------------------------------------------------------- checks */

/*
 * Rejects writes of callers who can never be an org_admin: proxy_admin_viewer (403) and keys
 * without a user role (401). Returns 1 when the statement should go on to check membership.
 */
static int
may_try_write(struct sl_request *r, const struct sl_mgmt_caller *caller)
{
    struct sl_errbuf err;
    int status;

    if (strcmp(caller->role, "proxy_admin_viewer") != 0 && caller->role[0] != '\0')
        return 1;
    status = sl_mgmt_access_status(caller->role, SL_MGMT_ADMIN, r->path, &err);
    sl_request_respond_error(r, status, "auth_error", "None", "%s", err.msg);
    return 0;
}

/* Appends a boolean SQL expression: the caller is proxy_admin or an org_admin of the
 * organization whose id is the SQL expression `org_sql`. */
static void
append_may_manage(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller, const char *org_sql)
{
    sl_mgmt_append(q, "(");
    sl_mgmt_bind(q, strcmp(caller->role, "proxy_admin") == 0 ? "true" : "false", "boolean");
    sl_mgmt_append(q, " OR EXISTS (SELECT 1 FROM organization_memberships am WHERE "
                      "am.organization_id = ");
    sl_mgmt_append(q, org_sql);
    sl_mgmt_append(q, " AND am.user_role = 'org_admin' AND am.user_id = ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, "))");
}

/* Appends a boolean SQL expression: the caller may read every organization or is a member
 * of the one whose id is `org_sql`. */
static void
append_may_read(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller, const char *org_sql)
{
    sl_mgmt_append(q, "(");
    sl_mgmt_bind(q, caller->admin ? "true" : "false", "boolean");
    sl_mgmt_append(q, " OR EXISTS (SELECT 1 FROM organization_memberships rm WHERE "
                      "rm.organization_id = ");
    sl_mgmt_append(q, org_sql);
    sl_mgmt_append(q, " AND rm.user_id = ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, "))");
}

/* Parses the organization fields and the metadata fields of `body`. Returns 0 with the 400
 * sent. */
static int
parse_org_fields(struct sl_request *r, const cJSON *body, struct sl_mgmt_values *v,
                 struct sl_mgmt_values *meta)
{
    const char *param;
    struct sl_errbuf err;

    if (sl_mgmt_values_parse(body, org_fields, N_ORG_FIELDS, v, &param, &err) != SL_OK ||
        sl_mgmt_values_parse(body, org_metadata_fields, N_ORG_METADATA_FIELDS, meta, &param,
                             &err) != SL_OK) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
        return 0;
    }
    return 1;
}

/* Returns 1 when any field of organizations.metadata was sent. */
static int
metadata_sent(const struct sl_mgmt_values *meta)
{
    for (size_t i = 0; i < meta->n; i++) {
        if (meta->set[i])
            return 1;
    }
    return 0;
}

/*
 * Appends the new metadata: the sent metadata object (else `base_sql`) with the sent
 * model_rpm_limit and model_tpm_limit merged in, where LiteLLM keeps them.
 */
static void
append_metadata(struct sl_mgmt_sql *q, const struct sl_mgmt_values *meta, const char *base_sql)
{
    sl_mgmt_append(q, "(COALESCE(");
    sl_mgmt_bind(q, meta->set[0] ? meta->text[0] : NULL, "jsonb");
    sl_mgmt_appendf(q, ", %s) || jsonb_strip_nulls(jsonb_build_object('model_rpm_limit', ",
                    base_sql);
    sl_mgmt_bind(q, meta->set[1] ? meta->text[1] : NULL, "jsonb");
    sl_mgmt_append(q, ", 'model_tpm_limit', ");
    sl_mgmt_bind(q, meta->set[2] ? meta->text[2] : NULL, "jsonb");
    sl_mgmt_append(q, ")))");
}

/* Sends the 400 for a budget_id sent together with budget fields. Returns 1 when sent. */
static int
reject_budget_mix(struct sl_request *r, const char *budget_id, const struct sl_mgmt_values *v)
{
    if (budget_id == NULL || !sl_mgmt_values_any_budget(v, org_fields))
        return 0;
    sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                          "Set either 'budget_id' or the budget fields (max_budget, tpm_limit, "
                          "...), not both.");
    return 1;
}

/*
 * Checks that member `name` of `body` is a list of 1 to `max` strings of at most
 * SL_MGMT_ID_MAX bytes. Returns the list printed as JSON (caller frees), or NULL with the 400
 * sent.
 */
static char *
id_list_json(struct sl_request *r, const cJSON *body, const char *name, int max)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, name);
    const cJSON *el;

    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0 || cJSON_GetArraySize(ids) > max) {
        sl_request_respond_error(r, 400, "bad_request_error", name,
                                 "Pass {\"%s\": [\"<id>\", ...]} with 1 to %d ids.", name, max);
        return NULL;
    }
    cJSON_ArrayForEach(el, ids)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_ID_MAX) {
            sl_request_respond_error(r, 400, "bad_request_error", name,
                                     "Field %s must be a list of ids of at most %d bytes.", name,
                                     SL_MGMT_ID_MAX);
            return NULL;
        }
    }
    return sl_json_print(ids);
}

/* Returns the required organization_id of `body`, or NULL with the 400 sent. */
static const char *
required_org_id(struct sl_request *r, const cJSON *body)
{
    int bad;
    const char *id = sl_mgmt_body_string(r, body, "organization_id", SL_MGMT_ID_MAX, &bad);

    if (bad)
        return NULL;
    if (id == NULL)
        sl_mgmt_respond_error(r, 400, "bad_request_error", "organization_id",
                              "organization_id is required.");
    return id;
}

/* ---------------------------------------------------------------- new, update, delete */

static void
org_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_values meta = {0};
    struct sl_mgmt_sql q;
    struct sl_buf cols;
    const char *org_id;
    const char *budget_id;
    int bad;

    org_id = sl_mgmt_body_string(r, body, "organization_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return;
    budget_id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_org_fields(r, body, &v, &meta))
        goto out;
    if (sl_mgmt_value(&v, org_fields, "organization_alias") == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "organization_alias",
                              "organization_alias is required to create an organization.");
        goto out;
    }
    if (reject_budget_mix(r, budget_id, &v))
        goto out;

    /* Without a budget_id the organization gets a budget row of its own, as in LiteLLM. */
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, budget_id, "text");
    sl_mgmt_append(&q, " AS budget_id, ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS organization_id), ");
    sl_mgmt_sql_budget_insert(&q, "nb", NULL, org_fields, &v, caller->changed_by,
                              "(SELECT budget_id FROM arg) IS NULL");

    sl_buf_init(&cols, 0);
    sl_mgmt_sql_columns(&cols, org_fields, &v, 0);
    sl_buf_append(&cols, "", 1);
    sl_mgmt_append(&q, ", o AS (INSERT INTO organizations (organization_id, budget_id, metadata, "
                       "created_by, updated_by");
    sl_mgmt_append(&q, cols.data);
    sl_buf_dispose(&cols);
    sl_mgmt_append(&q, ") SELECT COALESCE((SELECT organization_id FROM arg), "
                       "gen_random_uuid()::text), COALESCE((SELECT budget_id FROM arg), "
                       "(SELECT budget_id FROM nb)), ");
    append_metadata(&q, &meta, "'{}'::jsonb");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_sql_values(&q, org_fields, &v, 0);
    sl_mgmt_append(&q, " RETURNING *), ob AS (SELECT * FROM nb UNION ALL SELECT * FROM budgets "
                       "WHERE budget_id = (SELECT budget_id FROM arg))");
    sl_mgmt_sql_audit(&q, "a", caller, "created", "organizations",
                      "o LEFT JOIN ob b ON b.budget_id = o.budget_id", "o.organization_id",
                      "NULL", ORG_VIEW("o", "b"));
    sl_mgmt_append(&q, " SELECT 'ok', " ORG_VIEW("o", "b") ", NULL::text FROM o LEFT JOIN ob b "
                       "ON b.budget_id = o.budget_id");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
out:
    sl_mgmt_values_dispose(&v);
    sl_mgmt_values_dispose(&meta);
}

/*
 * Appends the CTEs nb (a budget row created for an organization that has none), ub (its
 * budget row updated) and nbud (the budget row the organization points at afterwards) for an
 * update whose old row is the CTE `old`.
 */
static void
append_budget_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                     const struct sl_mgmt_values *v)
{
    if (!sl_mgmt_values_any_budget(v, org_fields)) {
        sl_mgmt_append(q, ", nb AS (SELECT * FROM budgets WHERE false), ub AS (SELECT * FROM "
                          "budgets WHERE false)");
        return;
    }
    sl_mgmt_append(q, ", ");
    sl_mgmt_sql_budget_insert(q, "nb", NULL, org_fields, v, caller->changed_by,
                              "EXISTS (SELECT 1 FROM old WHERE old.budget_id IS NULL)");
    sl_mgmt_append(q, ", ub AS (UPDATE budgets SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_sql_set_list(q, org_fields, v, 1);
    sl_mgmt_append(q, " FROM old WHERE budgets.budget_id = old.budget_id RETURNING budgets.*)");
}

/*
 * Rejects an /organization/update by an org_admin that changes more than the organization's
 * name: models, budgets, limits, metadata and the budget row are proxy_admin's, or an
 * org_admin could lift its own organization's limits. Returns 0 with the 403 sent.
 */
static int
check_org_admin_fields(struct sl_request *r, const struct sl_mgmt_caller *caller,
                       const cJSON *body)
{
    const cJSON *item;

    if (strcmp(caller->role, "proxy_admin") == 0)
        return 1;
    cJSON_ArrayForEach(item, body)
    {
        if (cJSON_IsNull(item) || strcmp(item->string, "organization_id") == 0 ||
            strcmp(item->string, "organization_alias") == 0)
            continue;
        if (sl_mgmt_field_index(org_fields, N_ORG_FIELDS, item->string) < 0 &&
            sl_mgmt_field_index(org_metadata_fields, N_ORG_METADATA_FIELDS, item->string) < 0 &&
            strcmp(item->string, "budget_id") != 0)
            continue;
        sl_request_respond_error(r, 403, "auth_error", item->string,
                                 "Only proxy_admin may change %s of an organization. "
                                 "Organization admins may change organization_alias.",
                                 item->string);
        return 0;
    }
    return 1;
}

static void
org_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_values v = {0};
    struct sl_mgmt_values meta = {0};
    struct sl_mgmt_sql q;
    const char *org_id;
    const char *budget_id;
    int models_sent;
    int bad;

    if (!may_try_write(r, caller) || !check_org_admin_fields(r, caller, body))
        return;
    org_id = required_org_id(r, body);
    if (org_id == NULL)
        return;
    budget_id = sl_mgmt_body_string(r, body, "budget_id", SL_MGMT_ID_MAX, &bad);
    if (bad || !parse_org_fields(r, body, &v, &meta) || reject_budget_mix(r, budget_id, &v))
        goto out;
    models_sent = sl_mgmt_value(&v, org_fields, "models") != NULL;

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS id), old AS (SELECT o.*, " ORG_VIEW("o", "b") " AS view FROM "
                       "organizations o LEFT JOIN budgets b ON b.budget_id = o.budget_id WHERE "
                       "o.organization_id = (SELECT id FROM arg) AND ");
    append_may_manage(&q, caller, "o.organization_id");
    sl_mgmt_append(&q, " FOR UPDATE OF o)");
    append_budget_update(&q, caller, &v);

    sl_mgmt_append(&q, ", up AS (UPDATE organizations SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_sql_set_list(&q, org_fields, &v, 0);
    if (metadata_sent(&meta)) {
        sl_mgmt_append(&q, ", metadata = ");
        append_metadata(&q, &meta, "organizations.metadata");
    }
    sl_mgmt_append(&q, ", budget_id = COALESCE(");
    sl_mgmt_bind(&q, budget_id, "text");
    sl_mgmt_append(&q, ", (SELECT budget_id FROM nb), organizations.budget_id) FROM old WHERE "
                       "organizations.organization_id = old.organization_id RETURNING "
                       "organizations.*), nbud AS (SELECT * FROM nb UNION ALL SELECT * FROM ub "
                       "UNION ALL SELECT b.* FROM budgets b JOIN up ON b.budget_id = up.budget_id "
                       "WHERE NOT EXISTS (SELECT 1 FROM nb) AND NOT EXISTS (SELECT 1 FROM ub))");
    sl_mgmt_sql_audit(&q, "a", caller, "updated", "organizations",
                      "old JOIN up USING (organization_id) LEFT JOIN nbud b ON b.budget_id = "
                      "up.budget_id",
                      "up.organization_id", "old.view", ORG_VIEW("up", "b"));
    sl_mgmt_append(&q, " SELECT CASE WHEN EXISTS (SELECT 1 FROM up) THEN 'ok' WHEN EXISTS (SELECT "
                       "1 FROM organizations WHERE organization_id = (SELECT id FROM arg)) THEN "
                       "'forbidden' ELSE 'no_org' END, (SELECT " ORG_VIEW("up", "b") "::text FROM "
                       "up LEFT JOIN nbud b ON b.budget_id = up.budget_id), ");
    /* Only the models of an organization reach the cached auth records of its keys. */
    if (models_sent)
        sl_mgmt_append(&q, "CASE WHEN EXISTS (SELECT 1 FROM up) THEN " ORG_KEY_TOKENS(
                           "(SELECT id FROM arg)") " END");
    else
        sl_mgmt_append(&q, "NULL::text");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
out:
    sl_mgmt_values_dispose(&v);
    sl_mgmt_values_dispose(&meta);
}

/*
 * DELETE {"organization_ids": [...]}: all or nothing. Every organization must exist, the
 * caller must manage each of them, and none may still have teams or keys. The schema's
 * RESTRICT would reject that delete too, but checking first gives a clearer message.
 * Memberships go with the organization. Its budget row stays, because other objects may
 * share it.
 */
static void
org_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *ids;

    if (!may_try_write(r, caller))
        return;
    ids = id_list_json(r, body, "organization_ids", ORG_DELETE_MAX);
    if (ids == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH ids AS (SELECT DISTINCT jsonb_array_elements_text(");
    sl_mgmt_bind(&q, ids, "jsonb");
    sl_mgmt_append(&q, ") AS id), target AS (SELECT o.*, " ORG_VIEW("o", "b") " AS view, ");
    append_may_manage(&q, caller, "o.organization_id");
    sl_mgmt_append(
        &q, " AS allowed, EXISTS (SELECT 1 FROM teams t WHERE t.organization_id = "
            "o.organization_id) OR EXISTS (SELECT 1 FROM keys k WHERE k.organization_id = "
            "o.organization_id) AS in_use FROM organizations o LEFT JOIN budgets b ON "
            "b.budget_id = o.budget_id WHERE o.organization_id IN (SELECT id FROM ids) FOR UPDATE "
            "OF o), verdict AS (SELECT CASE WHEN (SELECT count(*) FROM target) < (SELECT count(*) "
            "FROM ids) THEN 'no_org' WHEN EXISTS (SELECT 1 FROM target WHERE NOT allowed) THEN "
            "'forbidden' WHEN EXISTS (SELECT 1 FROM target WHERE in_use) THEN 'in_use' ELSE 'ok' "
            "END AS status), gone AS (DELETE FROM organizations o USING target t WHERE "
            "o.organization_id = t.organization_id AND (SELECT status FROM verdict) = 'ok' "
            "RETURNING t.organization_id, t.view)");
    sl_mgmt_sql_audit(&q, "a", caller, "deleted", "organizations", "gone",
                      "gone.organization_id", "gone.view", "NULL");
    sl_mgmt_append(
        &q, " SELECT v.status, CASE v.status WHEN 'ok' THEN (SELECT COALESCE(jsonb_agg(gone.view "
            "ORDER BY gone.organization_id), '[]')::text FROM gone) WHEN 'no_org' THEN (SELECT "
            "string_agg(id, ', ' ORDER BY id) FROM ids WHERE id NOT IN (SELECT organization_id "
            "FROM target)) WHEN 'forbidden' THEN (SELECT string_agg(organization_id, ', ' ORDER "
            "BY organization_id) FROM target WHERE NOT allowed) WHEN 'in_use' THEN (SELECT "
            "string_agg(organization_id, ', ' ORDER BY organization_id) FROM target WHERE "
            "in_use) END, CASE WHEN v.status = 'ok' THEN (SELECT string_agg(k.token, ',') FROM "
            "keys k WHERE k.organization_id IN (SELECT organization_id FROM gone) OR k.team_id "
            "IN (SELECT t.team_id FROM teams t WHERE t.organization_id IN (SELECT "
            "organization_id FROM gone))) END FROM verdict v");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, NULL));
    free(ids);
}

/* ---------------------------------------------------------------- info, list */

static void
run_info(struct sl_request *r, const struct sl_mgmt_caller *caller, const char *org_id)
{
    struct sl_mgmt_sql q;

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS id) SELECT CASE WHEN o.organization_id IS NULL THEN 'no_org' WHEN ");
    append_may_read(&q, caller, "o.organization_id");
    sl_mgmt_append(&q, " THEN 'ok' ELSE 'forbidden' END, CASE WHEN o.organization_id IS NOT "
                       "NULL AND ");
    append_may_read(&q, caller, "o.organization_id");
    sl_mgmt_append(&q, " THEN " ORG_DETAIL("o", "b") " END, NULL::text FROM arg LEFT JOIN "
                       "organizations o ON o.organization_id = arg.id LEFT JOIN budgets b ON "
                       "b.budget_id = o.budget_id");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
}

static void
org_info_get(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    char *org_id = NULL;

    (void)body;
    if (!sl_mgmt_query_param(r, "organization_id", &org_id))
        return;
    if (org_id == NULL || strlen(org_id) > SL_MGMT_ID_MAX) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "organization_id",
                              "Pass ?organization_id=<id> (at most 255 bytes).");
        free(org_id);
        return;
    }
    run_info(r, caller, org_id);
    free(org_id);
}

/* The deprecated POST form takes the id from the body. */
static void
org_info_post(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    const char *org_id = required_org_id(r, body);

    if (org_id != NULL)
        run_info(r, caller, org_id);
}

static void
org_list(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    char *org_id = NULL;
    char *alias = NULL;

    (void)body;
    if (!sl_mgmt_query_param(r, "org_id", &org_id) || !sl_mgmt_query_param(r, "org_alias", &alias))
        goto out;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT 'ok', COALESCE(jsonb_agg(" ORG_DETAIL("o", "b") " ORDER BY "
                       "o.created_at, o.organization_id), '[]'), NULL::text FROM organizations o "
                       "LEFT JOIN budgets b ON b.budget_id = o.budget_id WHERE ");
    append_may_read(&q, caller, "o.organization_id");
    sl_mgmt_append(&q, " AND (");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " IS NULL OR o.organization_id = ");
    sl_mgmt_bind(&q, org_id, "text");
    /* org_alias matches a part of the alias, ignoring case. */
    sl_mgmt_append(&q, ") AND (");
    sl_mgmt_bind(&q, alias, "text");
    sl_mgmt_append(&q, " IS NULL OR strpos(lower(o.organization_alias), lower(");
    sl_mgmt_bind(&q, alias, "text");
    sl_mgmt_append(&q, ")) > 0)");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, NULL));
out:
    free(org_id);
    free(alias);
}

/* ---------------------------------------------------------------- members */

static int
is_member_role(const char *role)
{
    return strcmp(role, "org_admin") == 0 || strcmp(role, "internal_user") == 0 ||
           strcmp(role, "internal_user_viewer") == 0;
}

static void
respond_bad_member(struct sl_request *r, const char *why)
{
    sl_request_respond_error(r, 400, "bad_request_error", "member",
                             "Invalid member: %s. Pass {\"user_id\" or \"user_email\", \"role\": "
                             "\"org_admin\" | \"internal_user\" | \"internal_user_viewer\"}.",
                             why);
}

/* Appends one checked member to `out`. Returns 0 with the 400 sent. */
static int
add_member(struct sl_request *r, const cJSON *m, cJSON *out)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "user_id");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(m, "user_email");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    cJSON *item;

    if (!cJSON_IsObject(m)) {
        respond_bad_member(r, "each member must be a JSON object");
        return 0;
    }
    if (cJSON_IsNull(id))
        id = NULL;
    if (cJSON_IsNull(email))
        email = NULL;
    if ((id != NULL && (!cJSON_IsString(id) || strlen(id->valuestring) > SL_MGMT_ID_MAX)) ||
        (email != NULL &&
         (!cJSON_IsString(email) || strlen(email->valuestring) > ORG_EMAIL_MAX))) {
        respond_bad_member(r, "user_id and user_email must be strings");
        return 0;
    }
    if (id == NULL && email == NULL) {
        respond_bad_member(r, "user_id or user_email is required");
        return 0;
    }
    if (!cJSON_IsString(role) || !is_member_role(role->valuestring)) {
        respond_bad_member(r, "role is missing or not an organization role");
        return 0;
    }
    item = cJSON_CreateObject();
    if (id != NULL)
        cJSON_AddStringToObject(item, "user_id", id->valuestring);
    if (email != NULL)
        cJSON_AddStringToObject(item, "user_email", email->valuestring);
    cJSON_AddStringToObject(item, "role", role->valuestring);
    cJSON_AddItemToArray(out, item);
    return 1;
}

/* Returns the members of `body` ("member": one object or a list) as a checked JSON array
 * text (caller frees), or NULL with the 400 sent. */
static char *
parse_members(struct sl_request *r, const cJSON *body)
{
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(body, "member");
    const cJSON *el;
    cJSON *out;
    char *text = NULL;

    if (cJSON_IsArray(member) &&
        (cJSON_GetArraySize(member) == 0 || cJSON_GetArraySize(member) > ORG_MEMBERS_MAX)) {
        sl_request_respond_error(r, 400, "bad_request_error", "member",
                                 "Pass 1 to %d members.", ORG_MEMBERS_MAX);
        return NULL;
    }
    if (!cJSON_IsArray(member) && !cJSON_IsObject(member)) {
        respond_bad_member(r, "member is missing");
        return NULL;
    }
    out = cJSON_CreateArray();
    if (cJSON_IsObject(member)) {
        if (!add_member(r, member, out))
            goto out;
    } else {
        cJSON_ArrayForEach(el, member)
        {
            if (!add_member(r, el, out))
                goto out;
        }
    }
    text = sl_json_print(out);
out:
    cJSON_Delete(out);
    return text;
}

/* Appends the CTE `allowed`: organization `arg.id` when the caller may manage it. */
static void
append_allowed(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller)
{
    sl_mgmt_append(q, ", allowed AS (SELECT o.organization_id FROM organizations o WHERE "
                      "o.organization_id = (SELECT id FROM arg) AND ");
    append_may_manage(q, caller, "o.organization_id");
    sl_mgmt_append(q, ")");
}

/* The first result column of a member statement whose change is the CTE `change`. */
#define MEMBER_STATUS(change)                                                                      \
    "CASE WHEN NOT EXISTS (SELECT 1 FROM organizations WHERE organization_id = (SELECT id FROM "   \
    "arg)) THEN 'no_org' WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'forbidden' WHEN NOT "       \
    "EXISTS (SELECT 1 FROM " change ") THEN 'no_member' ELSE 'ok' END"

/*
 * POST {"organization_id", "member": {...} or [...]}: adds memberships. A member named by a
 * user_id that does not exist, or by a user_email no user has, is created as a user first,
 * as LiteLLM does. Such users get the default role of a new user, internal_user.
 */
static void
org_member_add(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    const char *org_id;
    char *members;

    if (!may_try_write(r, caller))
        return;
    org_id = required_org_id(r, body);
    if (org_id == NULL)
        return;
    members = parse_members(r, body);
    if (members == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS id)");
    append_allowed(&q, caller);
    sl_mgmt_append(&q, ", req AS (SELECT x.e->>'user_id' AS user_id, x.e->>'user_email' AS "
                       "user_email, x.e->>'role' AS role FROM jsonb_array_elements(");
    sl_mgmt_bind(&q, members, "jsonb");
    sl_mgmt_append(
        &q, ") AS x(e)), res AS (SELECT req.*, COALESCE((SELECT u.user_id FROM users u WHERE "
            "u.user_id = req.user_id), (SELECT u.user_id FROM users u WHERE req.user_id IS NULL "
            "AND lower(u.user_email) = lower(req.user_email) ORDER BY u.created_at, u.user_id "
            "LIMIT 1)) AS existing, COALESCE(req.user_id, gen_random_uuid()::text) AS new_id FROM "
            "req WHERE EXISTS (SELECT 1 FROM allowed)), nu AS (INSERT INTO users (user_id, "
            "user_email, created_by, updated_by) SELECT new_id, user_email, ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_append(&q, " FROM res WHERE existing IS NULL RETURNING *), nm AS (INSERT INTO "
                       "organization_memberships (organization_id, user_id, user_role) SELECT "
                       "(SELECT id FROM arg), COALESCE(existing, new_id), role FROM res RETURNING "
                       "*)");
    sl_mgmt_sql_audit(&q, "au", caller, "created", "users", "nu", "nu.user_id", "NULL",
                      "to_jsonb(nu)");
    sl_mgmt_sql_audit(&q, "am", caller, "created", "organization_memberships", "nm",
                      "nm.organization_id || '/' || nm.user_id", "NULL", "to_jsonb(nm)");
    sl_mgmt_append(&q, " SELECT " MEMBER_STATUS("nm") ", CASE WHEN EXISTS (SELECT 1 FROM nm) "
                       "THEN jsonb_build_object('organization_id', "
                       "(SELECT id FROM arg), 'updated_users', (SELECT COALESCE(jsonb_agg(to_jsonb("
                       "u) ORDER BY u.user_id), '[]') FROM (SELECT * FROM nu UNION ALL SELECT * "
                       "FROM users WHERE user_id IN (SELECT existing FROM res)) u), "
                       "'updated_organization_memberships', (SELECT COALESCE(jsonb_agg(to_jsonb("
                       "nm) ORDER BY nm.user_id), '[]') FROM nm)) END, NULL::text");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
    free(members);
}

/*
 * Appends the CTE `target`: the memberships in organization arg.id of the user named by
 * user_id, or else by user_email, when the caller may manage the organization. Returns 0
 * with the 400 sent when the body names no user.
 */
static int
append_member_target(struct sl_request *r, struct sl_mgmt_sql *q, const cJSON *body)
{
    const char *user_id;
    const char *email;
    int bad;

    user_id = sl_mgmt_body_string(r, body, "user_id", SL_MGMT_ID_MAX, &bad);
    if (bad)
        return 0;
    email = sl_mgmt_body_string(r, body, "user_email", ORG_EMAIL_MAX, &bad);
    if (bad)
        return 0;
    if (user_id == NULL && email == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "user_id",
                              "Pass the member's user_id or user_email.");
        return 0;
    }
    sl_mgmt_append(q, ", target AS (SELECT m.* FROM organization_memberships m JOIN users u ON "
                      "u.user_id = m.user_id WHERE m.organization_id IN (SELECT organization_id "
                      "FROM allowed) AND (u.user_id = ");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, " OR (");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, " IS NULL AND lower(u.user_email) = lower(");
    sl_mgmt_bind(q, email, "text");
    sl_mgmt_append(q, "))) FOR UPDATE OF m)");
    return 1;
}

static void
org_member_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    const char *org_id;
    const char *role;
    int bad;

    if (!may_try_write(r, caller))
        return;
    org_id = required_org_id(r, body);
    if (org_id == NULL)
        return;
    role = sl_mgmt_body_string(r, body, "role", 32, &bad);
    if (bad)
        return;
    if (role == NULL || !is_member_role(role)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "role",
                              "role must be \"org_admin\", \"internal_user\" or "
                              "\"internal_user_viewer\".");
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS id)");
    append_allowed(&q, caller);
    if (!append_member_target(r, &q, body)) {
        sl_buf_dispose(&q.text);
        return;
    }
    sl_mgmt_append(&q, ", up AS (UPDATE organization_memberships m SET updated_at = now(), "
                       "user_role = ");
    sl_mgmt_bind(&q, role, "text");
    sl_mgmt_append(&q, " FROM target t WHERE m.organization_id = t.organization_id AND m.user_id "
                       "= t.user_id RETURNING m.*)");
    sl_mgmt_sql_audit(&q, "a", caller, "updated", "organization_memberships",
                      "target JOIN up USING (organization_id, user_id)",
                      "up.organization_id || '/' || up.user_id", "to_jsonb(target)",
                      "to_jsonb(up)");
    sl_mgmt_append(&q, " SELECT " MEMBER_STATUS("up") ", (SELECT to_jsonb(up) FROM up ORDER BY "
                       "up.user_id LIMIT 1), NULL::text");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
}

static void
org_member_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    const char *org_id;

    if (!may_try_write(r, caller))
        return;
    org_id = required_org_id(r, body);
    if (org_id == NULL)
        return;
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH arg AS (SELECT ");
    sl_mgmt_bind(&q, org_id, "text");
    sl_mgmt_append(&q, " AS id)");
    append_allowed(&q, caller);
    if (!append_member_target(r, &q, body)) {
        sl_buf_dispose(&q.text);
        return;
    }
    sl_mgmt_append(&q, ", gone AS (DELETE FROM organization_memberships m USING target t WHERE "
                       "m.organization_id = t.organization_id AND m.user_id = t.user_id "
                       "RETURNING m.*)");
    sl_mgmt_sql_audit(&q, "a", caller, "deleted", "organization_memberships", "gone",
                      "gone.organization_id || '/' || gone.user_id", "to_jsonb(gone)", "NULL");
    sl_mgmt_append(&q, " SELECT " MEMBER_STATUS("gone") ", (SELECT to_jsonb(gone) FROM gone "
                       "ORDER BY gone.user_id LIMIT 1), NULL::text");
    sl_mgmt_run(r, &q, &org_ops, org_call_create(caller, org_id));
}

const struct sl_mgmt_route sl_mgmt_org_routes[] = {
    {"/organization/new", "POST", SL_MGMT_ADMIN, org_new},
    {"/organization/update", "PATCH", SL_MGMT_SELF, org_update},
    {"/organization/delete", "DELETE", SL_MGMT_SELF, org_delete},
    {"/organization/info", "GET", SL_MGMT_SELF, org_info_get},
    {"/organization/info", "POST", SL_MGMT_SELF, org_info_post},
    {"/organization/list", "GET", SL_MGMT_INFO, org_list},
    {"/organization/member_add", "POST", SL_MGMT_SELF, org_member_add},
    {"/organization/member_update", "PATCH", SL_MGMT_SELF, org_member_update},
    {"/organization/member_delete", "DELETE", SL_MGMT_SELF, org_member_delete},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
