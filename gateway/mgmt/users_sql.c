/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users_sql -- the SQL statements of the /user/ routes. Each is one statement whose
 * data-modifying CTEs write the user, its budget row, its memberships, its key, the
 * deleted_keys copies and the audit_log rows, so a change and its records commit together.
 * Values are always bound; only names from fixed tables are written into the SQL text.
 */
#include "gateway/mgmt/users_internal.h"

#include "gateway/mgmt/internal.h"

const struct sl_mgmt_field_spec sl_mgmt__user_fields[] = {
    {"user_email", "user_email", SL_MGMT_K_TEXT, 0},
    {"user_alias", "user_alias", SL_MGMT_K_TEXT, 0},
    {"user_role", "user_role", SL_MGMT_K_TEXT, 0},
    {"sso_user_id", "sso_user_id", SL_MGMT_K_TEXT, 0},
    {"models", "models", SL_MGMT_K_STRINGS, 0},
    SL_MGMT_BUDGET_FIELDS,
};
const size_t sl_mgmt__n_user_fields =
    sizeof(sl_mgmt__user_fields) / sizeof(sl_mgmt__user_fields[0]);

const struct sl_mgmt_field_spec sl_mgmt__user_meta_fields[] = {
    {"metadata", "metadata", SL_MGMT_K_OBJECT, 0},
};
const size_t sl_mgmt__n_user_meta_fields =
    sizeof(sl_mgmt__user_meta_fields) / sizeof(sl_mgmt__user_meta_fields[0]);

/* The column names are not used as such: the key insert writes them itself. */
const struct sl_mgmt_field_spec sl_mgmt__user_key_fields[] = {
    {"key_alias", "key_alias", SL_MGMT_K_TEXT, 0},
    {"duration", "expires", SL_MGMT_K_DURATION, 0},
};
const size_t sl_mgmt__n_user_key_fields =
    sizeof(sl_mgmt__user_key_fields) / sizeof(sl_mgmt__user_key_fields[0]);

/* The budget row `b` as an object, or JSON null when `b` is all NULL (no budget). */
#define USER_BUDGET_ROW(b)                                                                         \
    "CASE WHEN " b ".budget_id IS NULL THEN 'null'::jsonb ELSE to_jsonb(" b                        \
    ") - 'budget_period_start' END"

/*
 * The user as the API returns it: the users row `u`, the limits of its budget row `b`
 * flattened in, and the budget row itself as litellm_budget_table.
 */
#define USER_VIEW(u, b)                                                                            \
    "(to_jsonb(" u ") || " SL_MGMT_BUDGET_JSON(                                                    \
        b) " || jsonb_build_object('litellm_budget_table', " USER_BUDGET_ROW(b) "))"

/* The ids of the teams user `u` is a member of, as a JSON array. */
#define USER_TEAM_IDS(u)                                                                           \
    "(SELECT COALESCE(jsonb_agg(tm.team_id ORDER BY tm.team_id), '[]') FROM team_memberships tm "  \
    "WHERE tm.user_id = " u ".user_id)"

/* A key as /key/info shows it: the key view without the `token` member (token_id stays). */
#define USER_KEY_VIEW(k, b) "(" SL_MGMT_KEY_VIEW(k, b) " - 'token')"

/* Appends the bound metadata value of a new user: the body's metadata (or {}) with the
 * per-model limits merged in. */
static void
append_new_metadata(struct sl_mgmt_sql *q, const struct sl_mgmt_user_input *in)
{
    sl_mgmt_append(q, "COALESCE(");
    sl_mgmt_bind(q, in->meta.set[0] ? in->meta.text[0] : NULL, "jsonb");
    sl_mgmt_append(q, ", '{}') || COALESCE(");
    sl_mgmt_bind(q, in->limits_patch, "jsonb");
    sl_mgmt_append(q, ", '{}')");
}

/* ---------------------------------------------------------------- new */

/* Appends the CTEs tin (the requested memberships), oin (organizations), chk (the ids that do not
 * exist) and ok (nothing is missing, so every insert may run). */
static void
append_new_checks(struct sl_mgmt_sql *q, const struct sl_mgmt_user_input *in)
{
    /* A membership budget id is generated here, once, so the budget insert and the membership
     * insert agree on it (a CTE with a volatile function is evaluated once). */
    sl_mgmt_append(q, "WITH tin AS (SELECT e.x->>'team_id' AS team_id, e.x->>'role' AS role, "
                      "(e.x->>'max_budget')::float8 AS max_budget, CASE WHEN e.x ? 'max_budget' "
                      "THEN gen_random_uuid()::text END AS budget_id, e.n "
                      "FROM jsonb_array_elements(COALESCE(");
    sl_mgmt_bind(q, in->teams, "jsonb");
    sl_mgmt_append(q, ", '[]')) WITH ORDINALITY AS e(x, n)), "
                      "oin AS (SELECT e.x AS organization_id, e.n "
                      "FROM jsonb_array_elements_text(COALESCE(");
    sl_mgmt_bind(q, in->organizations, "jsonb");
    sl_mgmt_append(q, ", '[]')) WITH ORDINALITY AS e(x, n)), "
                      "chk AS (SELECT (SELECT jsonb_agg(tin.team_id ORDER BY tin.n) FROM tin "
                      "WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.team_id = tin.team_id)) "
                      "AS missing_teams, (SELECT jsonb_agg(oin.organization_id ORDER BY oin.n) "
                      "FROM oin WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE "
                      "o.organization_id = oin.organization_id)) AS missing_orgs), "
                      "ok AS (SELECT missing_teams IS NULL AND missing_orgs IS NULL AS ok "
                      "FROM chk)");
}

/* Appends ", u AS (INSERT INTO users ...)", the user row pointing at budget row nb. */
static void
append_new_user(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller, const char *user_id,
                const struct sl_mgmt_user_input *in)
{
    struct sl_buf cols;

    sl_buf_init(&cols, 0);
    sl_mgmt_sql_columns(&cols, sl_mgmt__user_fields, &in->user, 0);
    sl_buf_append(&cols, "", 1);
    sl_mgmt_append(q, ", u AS (INSERT INTO users (user_id, budget_id, created_by, updated_by, "
                      "metadata");
    sl_mgmt_append(q, cols.data);
    sl_mgmt_append(q, ") SELECT COALESCE(");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, ", gen_random_uuid()::text), (SELECT budget_id FROM nb), ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", ");
    append_new_metadata(q, in);
    sl_mgmt_sql_values(q, sl_mgmt__user_fields, &in->user, 0);
    sl_mgmt_append(q, " WHERE (SELECT ok FROM ok) RETURNING *)");
    sl_buf_dispose(&cols);
}

/* Appends the membership CTEs: mb (a budget row per membership with max_budget_in_team), tm
 * (team_memberships) and om (organization_memberships, with the user's role). */
static void
append_new_memberships(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller)
{
    sl_mgmt_append(q, ", mb AS (INSERT INTO budgets (budget_id, max_budget, budget_period_start, "
                      "created_by, updated_by) SELECT tin.budget_id, tin.max_budget, now(), ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, " FROM tin WHERE tin.budget_id IS NOT NULL AND (SELECT ok FROM ok) "
                      "RETURNING budget_id), "
                      "tm AS (INSERT INTO team_memberships (team_id, user_id, role, budget_id) "
                      "SELECT tin.team_id, u.user_id, tin.role, tin.budget_id FROM tin, u "
                      "RETURNING *), "
                      "om AS (INSERT INTO organization_memberships (organization_id, user_id, "
                      "user_role) SELECT oin.organization_id, u.user_id, u.user_role FROM oin, u "
                      "RETURNING *)");
}

/*
 * Appends ", k AS (...)": the user's key, which carries no limits of its own (the user's
 * budget row and models apply to it through the user), or an empty k when there is no key.
 */
static void
append_new_key(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
               const struct sl_mgmt_user_input *in, const struct sl_mgmt_user_key *key)
{
    if (key == NULL) {
        sl_mgmt_append(q, ", k AS (SELECT * FROM keys WHERE false)");
        return;
    }
    sl_mgmt_append(q, ", k AS (INSERT INTO keys (token, key_name, key_alias, user_id, expires, "
                      "created_by, updated_by) SELECT ");
    sl_mgmt_bind(q, key->hash, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, key->key_name, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, in->key.set[0] ? in->key.text[0] : NULL, "text");
    /* now() + NULL is NULL: without a duration the key never expires. */
    sl_mgmt_append(q, ", u.user_id, now() + ");
    sl_mgmt_bind(q, in->key.set[1] ? in->key.interval[1] : NULL, "interval");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, " FROM u RETURNING *)");
}

void
sl_mgmt__user_sql_new(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                      const char *user_id, const struct sl_mgmt_user_input *in,
                      const struct sl_mgmt_user_key *key)
{
    append_new_checks(q, in);
    if (sl_mgmt_values_any_budget(&in->user, sl_mgmt__user_fields)) {
        sl_mgmt_append(q, ", ");
        sl_mgmt_sql_budget_insert(q, "nb", NULL, sl_mgmt__user_fields, &in->user,
                                  caller->changed_by, "(SELECT ok FROM ok)");
    } else {
        sl_mgmt_append(q, ", nb AS (SELECT * FROM budgets WHERE false)");
    }
    append_new_user(q, caller, user_id, in);
    append_new_memberships(q, caller);
    append_new_key(q, caller, in, key);
    sl_mgmt_sql_audit(q, "au", caller, "created", "users", "u LEFT JOIN nb ON true", "u.user_id",
                      "NULL", USER_VIEW("u", "nb"));
    sl_mgmt_sql_audit(q, "ak", caller, "created", "keys",
                      "k LEFT JOIN budgets kb ON kb.budget_id = k.budget_id", "k.token", "NULL",
                      SL_MGMT_KEY_VIEW("k", "kb"));

    /* Memberships written by this statement are not visible to it, so the response lists the
     * teams and organizations from the input. */
    sl_mgmt_append(
        q,
        " SELECT (SELECT ok FROM ok), (SELECT missing_teams FROM chk), "
        "(SELECT missing_orgs FROM chk), (SELECT " USER_VIEW(
            "u", "nb") " || jsonb_build_object('teams', COALESCE((SELECT jsonb_agg(team_id ORDER "
                       "BY n) FROM tin), '[]'), 'organizations', COALESCE((SELECT "
                       "jsonb_agg(organization_id ORDER BY n) FROM oin), '[]')) || COALESCE("
                       "(SELECT jsonb_build_object('token', k.token, 'token_id', k.token, "
                       "'key_name', k.key_name, 'key_alias', k.key_alias, 'expires', k.expires) "
                       "FROM k), '{}') FROM u LEFT JOIN nb ON true)");
}

/* ---------------------------------------------------------------- info */

void
sl_mgmt__user_sql_info(struct sl_mgmt_sql *q, const char *user_id)
{
    sl_mgmt_append(
        q,
        "SELECT jsonb_build_object('user_id', u.user_id, 'user_info', " USER_VIEW(
            "u",
            "b") " || jsonb_build_object('teams', " USER_TEAM_IDS("u") "), "
                                                                       "'keys', (SELECT "
                                                                       "COALESCE(jsonb_"
                                                                       "agg(" USER_KEY_VIEW(
                                                                           "k",
                                                                           "kb") " ORDER BY "
                                                                                 "k.created_at, "
                                                                                 "k.token), '[]') "
                                                                                 "FROM keys k LEFT "
                                                                                 "JOIN budgets kb "
                                                                                 "ON kb.budget_id "
                                                                                 "= k.budget_id "
                                                                                 "WHERE k.user_id "
                                                                                 "= u.user_id), "
                                                                                 "'teams', (SELECT "
                                                                                 "COALESCE(jsonb_"
                                                                                 "agg(to_jsonb(t) "
                                                                                 "ORDER BY "
                                                                                 "t.team_id), "
                                                                                 "'[]') FROM teams "
                                                                                 "t JOIN "
                                                                                 "team_memberships "
                                                                                 "tm ON tm.team_id "
                                                                                 "= t.team_id "
                                                                                 "WHERE tm.user_id "
                                                                                 "= u.user_id)) "
                                                                                 "FROM users u "
                                                                                 "LEFT JOIN "
                                                                                 "budgets b ON "
                                                                                 "b.budget_id = "
                                                                                 "u.budget_id "
                                                                                 "WHERE u.user_id "
                                                                                 "= ");
    sl_mgmt_bind(q, user_id, "text");
}

/* ---------------------------------------------------------------- update */

/* Appends the budget CTEs of an update: nb creates a budget row for a user without one, ub
 * changes the existing row, nbud is the user's budget row after the statement. */
static void
append_update_budget(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                     const struct sl_mgmt_user_input *in)
{
    if (!sl_mgmt_values_any_budget(&in->user, sl_mgmt__user_fields)) {
        sl_mgmt_append(q, ", nb AS (SELECT * FROM budgets WHERE false), nbud AS (SELECT b.* "
                          "FROM budgets b JOIN old ON b.budget_id = old.budget_id)");
        return;
    }
    sl_mgmt_append(q, ", ");
    sl_mgmt_sql_budget_insert(q, "nb", NULL, sl_mgmt__user_fields, &in->user, caller->changed_by,
                              "(SELECT n FROM n) = 1 AND EXISTS (SELECT 1 FROM old WHERE "
                              "budget_id IS NULL)");
    sl_mgmt_append(q, ", ub AS (UPDATE budgets SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_sql_set_list(q, sl_mgmt__user_fields, &in->user, 1);
    sl_mgmt_append(q, " FROM old WHERE budgets.budget_id = old.budget_id AND (SELECT n FROM n) = 1 "
                      "RETURNING budgets.*), nbud AS (SELECT * FROM nb UNION ALL SELECT * FROM "
                      "ub)");
}

void
sl_mgmt__user_sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                         const char *user_id, const char *user_email,
                         const struct sl_mgmt_user_input *in)
{
    /* The user is found by user_id, or else by exact user_email; `n` counts the matches so
     * that nothing changes unless exactly one user matched. */
    sl_mgmt_append(
        q, "WITH old AS (SELECT u.user_id, u.budget_id, " USER_VIEW(
               "u", "b") " AS view FROM users u LEFT JOIN budgets b ON b.budget_id = u.budget_id "
                         "WHERE CASE WHEN ");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, " IS NOT NULL THEN u.user_id = ");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, " ELSE u.user_email = ");
    sl_mgmt_bind(q, user_email, "text");
    sl_mgmt_append(q, " END FOR UPDATE OF u), n AS (SELECT count(*) AS n FROM old)");
    append_update_budget(q, caller, in);

    sl_mgmt_append(q, ", up AS (UPDATE users SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(q, caller->changed_by, "text");
    sl_mgmt_append(q, ", budget_id = COALESCE((SELECT budget_id FROM nb), users.budget_id)");
    sl_mgmt_sql_set_list(q, sl_mgmt__user_fields, &in->user, 0);
    if (in->meta.set[0] || in->limits_patch != NULL) {
        sl_mgmt_append(q, ", metadata = COALESCE(");
        sl_mgmt_bind(q, in->meta.set[0] ? in->meta.text[0] : NULL, "jsonb");
        sl_mgmt_append(q, ", users.metadata) || COALESCE(");
        sl_mgmt_bind(q, in->limits_patch, "jsonb");
        sl_mgmt_append(q, ", '{}')");
    }
    sl_mgmt_append(q, " FROM old WHERE users.user_id = old.user_id AND (SELECT n FROM n) = 1 "
                      "RETURNING users.*)");
    sl_mgmt_sql_audit(q, "a", caller, "updated", "users",
                      "old JOIN up USING (user_id) LEFT JOIN nbud ON true", "up.user_id",
                      "old.view", USER_VIEW("up", "nbud"));

    sl_mgmt_append(
        q,
        " SELECT (SELECT n FROM n), (SELECT " USER_VIEW(
            "up",
            "nbud") " || jsonb_build_object('teams', " USER_TEAM_IDS("up") ") FROM up LEFT "
                                                                           "JOIN nbud ON true), "
                                                                           "(SELECT "
                                                                           "COALESCE(jsonb_agg(k."
                                                                           "token), '[]') FROM "
                                                                           "keys "
                                                                           "k JOIN up ON k.user_id "
                                                                           "= up.user_id)");
}

/* ---------------------------------------------------------------- delete */

void
sl_mgmt__user_sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                         const char *user_ids_json)
{
    /* All or nothing: when a named user is missing, `ok` is false and no row is deleted. The
     * users' keys are deleted (and copied to deleted_keys) by the same statement, because
     * keys.user_id rejects deleting a user that still has keys. Memberships go with the user
     * (ON DELETE CASCADE).
     * NOTE: the budget rows of the user and of its memberships stay, because a budget row may
     * be shared and nothing records which rows were made for this user alone. */
    sl_mgmt_append(q, "WITH want AS (SELECT DISTINCT x FROM jsonb_array_elements_text(");
    sl_mgmt_bind(q, user_ids_json, "jsonb");
    sl_mgmt_append(q, ") AS x), ok AS (SELECT (SELECT count(*) FROM users WHERE user_id IN "
                      "(SELECT x FROM want)) = (SELECT count(*) FROM want) AS ok), "
                      "dk0 AS (DELETE FROM keys WHERE (SELECT ok FROM ok) AND user_id IN "
                      "(SELECT x FROM want) RETURNING *), "
                      "dk AS (INSERT INTO deleted_keys (token, key_alias, user_id, team_id, "
                      "organization_id, key_row, deleted_by, deleted_by_api_key, changed_by) "
                      "SELECT d.token, d.key_alias, d.user_id, d.team_id, d.organization_id, "
                      "to_jsonb(d), ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->api_key_hash[0] != '\0' ? caller->api_key_hash : NULL, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by_header ? caller->changed_by : NULL, "text");
    sl_mgmt_append(q, " FROM dk0 d), du AS (DELETE FROM users WHERE (SELECT ok FROM ok) AND "
                      "user_id IN (SELECT x FROM want) RETURNING *)");
    sl_mgmt_sql_audit(q, "ak", caller, "deleted", "keys", "dk0", "dk0.token", "to_jsonb(dk0)",
                      "NULL");
    sl_mgmt_sql_audit(q, "au", caller, "deleted", "users", "du", "du.user_id", "to_jsonb(du)",
                      "NULL");
    sl_mgmt_append(q, " SELECT (SELECT ok FROM ok), (SELECT COALESCE(jsonb_agg(token), '[]') FROM "
                      "dk0), (SELECT COALESCE(jsonb_agg(user_id ORDER BY user_id), '[]') FROM "
                      "du)");
}

/* ---------------------------------------------------------------- list */

void
sl_mgmt__user_sql_list(struct sl_mgmt_sql *q, const struct sl_mgmt_user_filter *f, const char *page,
                       const char *size, const char *offset)
{
    /* The filters are bound once, in f, and referenced by name. */
    sl_mgmt_append(q, "WITH f AS (SELECT ");
    sl_mgmt_bind(q, f->role, "text");
    sl_mgmt_append(q, " AS role, ");
    sl_mgmt_bind(q, f->user_ids, "text");
    sl_mgmt_append(q, " AS ids, ");
    sl_mgmt_bind(q, f->user_email, "text");
    sl_mgmt_append(q, " AS email, ");
    sl_mgmt_bind(q, f->team, "text");
    sl_mgmt_append(
        q,
        " AS team), m AS (SELECT u.* FROM users u, f WHERE (f.role IS NULL OR "
        "u.user_role = f.role) AND (f.ids IS NULL OR u.user_id IN (SELECT "
        "btrim(x) FROM unnest(string_to_array(f.ids, ',')) AS x)) AND (f.email IS "
        "NULL OR strpos(lower(u.user_email), lower(f.email)) > 0) AND (f.team IS "
        "NULL OR EXISTS (SELECT 1 FROM team_memberships tm WHERE tm.user_id = "
        "u.user_id AND tm.team_id = f.team))), t AS (SELECT count(*) AS n FROM m), "
        "p AS (SELECT m.created_at, m.user_id, " USER_VIEW(
            "m",
            "b") " || jsonb_build_object('teams', " USER_TEAM_IDS("m") ") AS item FROM m "
                                                                       "LEFT JOIN budgets b ON "
                                                                       "b.budget_id = m.budget_id "
                                                                       "ORDER BY m.created_at "
                                                                       "DESC, m.user_id LIMIT ");
    sl_mgmt_bind(q, size, "bigint");
    sl_mgmt_append(q, " OFFSET ");
    sl_mgmt_bind(q, offset, "bigint");
    sl_mgmt_append(q, ") SELECT jsonb_build_object('users', COALESCE((SELECT jsonb_agg(item ORDER "
                      "BY created_at DESC, user_id) FROM p), '[]'), 'total', (SELECT n FROM t), "
                      "'page', ");
    sl_mgmt_bind(q, page, "bigint");
    sl_mgmt_append(q, ", 'page_size', ");
    sl_mgmt_bind(q, size, "bigint");
    sl_mgmt_append(q, ", 'total_pages', ceil((SELECT n FROM t)::numeric / ");
    sl_mgmt_bind(q, size, "bigint");
    sl_mgmt_append(q, ")::bigint)");
}
