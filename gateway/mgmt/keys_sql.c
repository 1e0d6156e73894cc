/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys_sql -- the SQL statements of the /key/ routes. Each is one statement whose
 * data-modifying CTEs write the key, its budget row, the audit_log row and the deleted_keys
 * copy, so a change and its records commit together. Values are always bound as text
 * parameters; only column names from fixed tables are written into the SQL text.
 */
#include "gateway/mgmt/internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- shared parts */

/*
 * Appends the ownership rule of callers who are not admins: " AND (<owner> IS NULL OR
 * <t>user_id = <owner> OR <owner> is an admin of the key's team)". `t` is the keys table's
 * qualifier ("k." or "").
 */
static void
append_owner(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c, const char *t)
{
    sl_mgmt_append(q, " AND (");
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_appendf(q, " IS NULL OR %suser_id = ", t);
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_appendf(q, " OR EXISTS (SELECT 1 FROM team_memberships tm WHERE tm.team_id = "
                       "%steam_id AND tm.role = 'admin' AND tm.user_id = ", t);
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_append(q, "))");
}

/* Form of a field's value in its column. */
enum column_form {
    COL_TEXT,    /* $n::text */
    COL_ARRAY,   /* text[] from a JSON array */
    COL_JSONB,   /* $n::jsonb */
    COL_BOOL,    /* $n::boolean */
    COL_EXPIRES, /* now() + $n::interval */
};

static const struct {
    const char *column;
    enum column_form form;
} key_columns[SL_MGMT_F_FIRST_BUDGET] = {
    [SL_MGMT_F_KEY_ALIAS] = {"key_alias", COL_TEXT},
    [SL_MGMT_F_USER_ID] = {"user_id", COL_TEXT},
    [SL_MGMT_F_TEAM_ID] = {"team_id", COL_TEXT},
    [SL_MGMT_F_ORGANIZATION_ID] = {"organization_id", COL_TEXT},
    [SL_MGMT_F_BUDGET_ID] = {"budget_id", COL_TEXT},
    [SL_MGMT_F_MODELS] = {"models", COL_ARRAY},
    [SL_MGMT_F_ALIASES] = {"aliases", COL_JSONB},
    [SL_MGMT_F_CONFIG] = {"config", COL_JSONB},
    [SL_MGMT_F_PERMISSIONS] = {"permissions", COL_JSONB},
    [SL_MGMT_F_METADATA] = {"metadata", COL_JSONB},
    [SL_MGMT_F_ALLOWED_ROUTES] = {"allowed_routes", COL_ARRAY},
    [SL_MGMT_F_ALLOWED_CACHE_CONTROLS] = {"allowed_cache_controls", COL_ARRAY},
    [SL_MGMT_F_BLOCKED] = {"blocked", COL_BOOL},
    [SL_MGMT_F_DURATION] = {"expires", COL_EXPIRES},
};

static const char *const budget_casts[SL_MGMT_F_COUNT] = {
    [SL_MGMT_F_MAX_BUDGET] = "float8",
    [SL_MGMT_F_SOFT_BUDGET] = "float8",
    [SL_MGMT_F_MAX_PARALLEL_REQUESTS] = "integer",
    [SL_MGMT_F_TPM_LIMIT] = "bigint",
    [SL_MGMT_F_RPM_LIMIT] = "bigint",
    [SL_MGMT_F_BUDGET_DURATION] = "text",
};

static void
append_value(struct sl_mgmt_sql *q, const struct sl_mgmt_key_fields *f, int field)
{
    const char *text = f->v[field].text;

    switch (key_columns[field].form) {
    case COL_TEXT:
        sl_mgmt_bind(q, text, "text");
        break;
    case COL_ARRAY:
        sl_mgmt_append(q, "ARRAY(SELECT jsonb_array_elements_text(");
        sl_mgmt_bind(q, text, "jsonb");
        sl_mgmt_append(q, "))");
        break;
    case COL_JSONB:
        sl_mgmt_append(q, "COALESCE(");
        sl_mgmt_bind(q, text, "jsonb");
        sl_mgmt_append(q, ", '{}')");
        break;
    case COL_BOOL:
        sl_mgmt_append(q, "COALESCE(");
        sl_mgmt_bind(q, text, "boolean");
        sl_mgmt_append(q, ", false)");
        break;
    case COL_EXPIRES:
        sl_mgmt_append(q, "now() + ");
        sl_mgmt_bind(q, text, "interval");
        break;
    }
}

static int
budget_sent(const struct sl_mgmt_key_fields *f)
{
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (f->v[i].set)
            return 1;
    }
    return 0;
}

void
sl_mgmt__budget_period(const struct sl_mgmt_key_fields *f, int64_t now_s,
                       struct sl_mgmt_period *out)
{
    /* An invalid text was rejected with a 400 before, and leaves `out` empty here. */
    (void)sl_mgmt_budget_period(f->v[SL_MGMT_F_BUDGET_DURATION].text, now_s, out);
}

/*
 * Appends "nb AS (INSERT INTO budgets ... RETURNING *)" with the sent budget columns and the
 * budget period `period`. The insert runs only when `where` holds.
 */
static void
append_budget_insert(struct sl_mgmt_sql *q, const struct sl_mgmt_key_fields *f,
                     const struct sl_mgmt_period *period, const char *actor, const char *where)
{
    sl_mgmt_append(q, "nb AS (INSERT INTO budgets (created_by, updated_by, budget_period_start, "
                       "budget_reset_at");
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (f->v[i].set)
            sl_buf_printf(&q->text, ", %s", sl_mgmt_field_name((enum sl_mgmt_field)i));
    }
    sl_mgmt_append(q, ") SELECT ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_sql_period_values(q, period);
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (!f->v[i].set)
            continue;
        sl_mgmt_append(q, ", ");
        sl_mgmt_bind(q, f->v[i].text, budget_casts[i]);
    }
    sl_buf_printf(&q->text, " WHERE %s RETURNING *), ", where);
}

/* Appends "u AS (...)", which creates the user row a key names, as LiteLLM does, when
 * `where` holds, and "au AS (...)", its audit_log row. */
static void
append_user_upsert(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                   const struct sl_mgmt_key_fields *f, const char *actor, const char *where)
{
    const char *user_id = f->v[SL_MGMT_F_USER_ID].text;

    sl_mgmt_append(q, "u AS (INSERT INTO users (user_id, created_by, updated_by) SELECT ");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, " WHERE ");
    sl_mgmt_bind(q, user_id, "text");
    sl_buf_printf(&q->text,
                  " IS NOT NULL AND %s ON CONFLICT (user_id) DO NOTHING RETURNING *), "
                  "au AS (INSERT INTO audit_log (changed_by, changed_by_api_key, action, "
                  "table_name, object_id, before_value, updated_values) SELECT ",
                  where);
    sl_mgmt_bind(q, c->caller.changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, c->caller.api_key_hash[0] != '\0' ? c->caller.api_key_hash : NULL, "text");
    sl_mgmt_append(q, ", 'created', 'users', u.user_id, NULL, to_jsonb(u) FROM u), ");
}

/* Appends the audit_log insert of the change to `object` (an SQL expression). */
static void
append_audit(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c, const char *action,
             const char *object, const char *before, const char *after, const char *from)
{
    sl_mgmt_append(q, "a AS (INSERT INTO audit_log (changed_by, changed_by_api_key, action, "
                       "table_name, object_id, before_value, updated_values) SELECT ");
    sl_mgmt_bind(q, c->caller.changed_by, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, c->caller.api_key_hash[0] != '\0' ? c->caller.api_key_hash : NULL, "text");
    sl_buf_printf(&q->text, ", '%s', 'keys', %s, %s, %s FROM %s) ", action, object, before, after,
                  from);
}

/* ---------------------------------------------------------------- statements */

void
sl_mgmt__sql_generate(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                      const struct sl_mgmt_key_fields *f, const char *key_name,
                      const char *roles_json, const char *team_roles_json,
                      const struct sl_mgmt_period *period)
{
    const char *team = f->v[SL_MGMT_F_TEAM_ID].text;

    /* personal_key_generation binds callers who are not admins, by their own role. */
    sl_mgmt_append(q, "WITH chk AS (SELECT ");
    sl_mgmt_bind(q, c->caller.role, "text");
    /* A caller who is not an admin creates a team key only as a member of the team, whose
     * role is admin or whose team lets members call /key/generate, and whose role is one the
     * config allows (LiteLLM's team_key_generation). */
    sl_mgmt_append(q, " AS role, (SELECT m.role FROM team_memberships m WHERE m.team_id = ");
    sl_mgmt_bind(q, team, "text");
    sl_mgmt_append(q, " AND m.user_id = ");
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_append(q, ") AS mrole, COALESCE((SELECT '/key/generate' = ANY(t.team_member_permissions)"
                      " FROM teams t WHERE t.team_id = ");
    sl_mgmt_bind(q, team, "text");
    sl_mgmt_append(q, "), false) AS perm), tk AS (SELECT CASE WHEN ");
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_append(q, " IS NULL OR ");
    sl_mgmt_bind(q, team, "text");
    sl_mgmt_append(q, " IS NULL THEN NULL WHEN chk.mrole IS NULL THEN 'not_member' WHEN ");
    sl_mgmt_bind(q, team_roles_json, "jsonb");
    sl_mgmt_append(q, " IS NOT NULL AND chk.mrole NOT IN (SELECT jsonb_array_elements_text(");
    sl_mgmt_bind(q, team_roles_json, "jsonb");
    sl_mgmt_append(q, ")) THEN 'role' WHEN chk.mrole <> 'admin' AND NOT chk.perm THEN "
                      "'permission' END AS deny FROM chk), "
                      "ok AS (SELECT (SELECT deny FROM tk) IS NULL AND (");
    sl_mgmt_bind(q, roles_json, "jsonb");
    sl_mgmt_append(q, " IS NULL OR ");
    sl_mgmt_bind(q, c->owner, "text");
    sl_mgmt_append(q, " IS NULL OR ");
    sl_mgmt_bind(q, team, "text");
    sl_mgmt_append(q,
                    " IS NOT NULL OR (SELECT role FROM chk) IN (SELECT jsonb_array_elements_text(");
    sl_mgmt_bind(q, roles_json, "jsonb");
    sl_mgmt_append(q, "))) AS ok), ");
    append_user_upsert(q, c, f, c->caller.user_id, "(SELECT ok FROM ok)");
    if (budget_sent(f)) {
        append_budget_insert(q, f, period, c->caller.user_id, "(SELECT ok FROM ok)");
    } else {
        /* An existing budget the key points at, so that the response shows its limits. */
        sl_mgmt_append(q, "nb AS (SELECT * FROM budgets WHERE budget_id = ");
        sl_mgmt_bind(q, f->v[SL_MGMT_F_BUDGET_ID].text, "text");
        sl_mgmt_append(q, "), ");
    }

    sl_mgmt_append(q,
                    "k AS (INSERT INTO keys (token, key_name, budget_id, created_by, updated_by");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (f->v[i].set && i != SL_MGMT_F_METADATA && i != SL_MGMT_F_BUDGET_ID)
            sl_buf_printf(&q->text, ", %s", key_columns[i].column);
    }
    sl_mgmt_append(q, ", metadata) SELECT ");
    sl_mgmt_bind(q, c->hash, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, key_name, "text");
    sl_mgmt_append(q, ", COALESCE((SELECT budget_id FROM nb), ");
    sl_mgmt_bind(q, f->v[SL_MGMT_F_BUDGET_ID].text, "text");
    sl_mgmt_append(q, "), ");
    sl_mgmt_bind(q, c->caller.user_id, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, c->caller.user_id, "text");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (!f->v[i].set || i == SL_MGMT_F_METADATA || i == SL_MGMT_F_BUDGET_ID)
            continue;
        sl_mgmt_append(q, ", ");
        append_value(q, f, i);
    }
    sl_mgmt_append(q, ", COALESCE(");
    sl_mgmt_bind(q, f->v[SL_MGMT_F_METADATA].text, "jsonb");
    sl_mgmt_append(q, ", '{}') || COALESCE(");
    sl_mgmt_bind(q, f->metadata_patch, "jsonb");
    sl_mgmt_append(q, ", '{}') WHERE (SELECT ok FROM ok) RETURNING *), ");

    append_audit(q, c, "created", "k.token", "NULL", SL_MGMT_KEY_VIEW("k", "nb"),
                 "k LEFT JOIN nb ON true");
    sl_mgmt_append(q,
                    "SELECT (SELECT ok FROM ok), (SELECT role FROM chk), (SELECT " SL_MGMT_KEY_VIEW(
                        "k", "nb") " FROM k LEFT JOIN nb ON true), (SELECT deny FROM tk), "
                    "(SELECT mrole FROM chk)");
}

/*
 * Builds the update of the key `c->hash` with the sent fields. A sent budget field updates
 * the key's budget row, or creates one when the key has none. The result row is the new view,
 * or no row when the key does not exist or belongs to another user than a non-admin caller.
 */
void
sl_mgmt__sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                    const struct sl_mgmt_key_fields *f, const char *action,
                    const struct sl_mgmt_period *period)
{
    const char *actor = c->caller.user_id;
    int budget = budget_sent(f);

    sl_mgmt_append(
        q, "WITH old AS (SELECT k.budget_id, " SL_MGMT_KEY_VIEW(
               "k", "b") " AS view FROM keys k "
                         "LEFT JOIN budgets b ON b.budget_id = k.budget_id WHERE k.token = ");
    sl_mgmt_bind(q, c->hash, "text");
    append_owner(q, c, "k.");
    sl_mgmt_append(q, " FOR UPDATE OF k), ");
    if (f->v[SL_MGMT_F_USER_ID].set)
        append_user_upsert(q, c, f, actor, "EXISTS (SELECT 1 FROM old)");
    if (budget) {
        append_budget_insert(q, f, period, actor,
                             "EXISTS (SELECT 1 FROM old WHERE budget_id IS NULL)");
        sl_mgmt_append(q, "ub AS (UPDATE budgets SET updated_at = now(), updated_by = ");
        sl_mgmt_bind(q, actor, "text");
        for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
            if (!f->v[i].set)
                continue;
            sl_buf_printf(&q->text, ", %s = ", sl_mgmt_field_name((enum sl_mgmt_field)i));
            sl_mgmt_bind(q, f->v[i].text, budget_casts[i]);
        }
        if (f->v[SL_MGMT_F_BUDGET_DURATION].set)
            sl_mgmt_sql_period_set(q, period);
        sl_mgmt_append(q,
                        " FROM old WHERE budgets.budget_id = old.budget_id RETURNING budgets.*), "
                        "nbud AS (SELECT * FROM nb UNION ALL SELECT * FROM ub), ");
    } else {
        sl_mgmt_append(q, "nb AS (SELECT * FROM budgets WHERE false), nbud AS (SELECT b.* FROM "
                           "budgets b JOIN old ON b.budget_id = COALESCE(");
        sl_mgmt_bind(q, f->v[SL_MGMT_F_BUDGET_ID].text, "text");
        sl_mgmt_append(q, ", old.budget_id)), ");
    }

    sl_mgmt_append(q, "k AS (UPDATE keys SET updated_at = now(), updated_by = ");
    sl_mgmt_bind(q, actor, "text");
    sl_mgmt_append(q, ", budget_id = COALESCE((SELECT budget_id FROM nb), ");
    sl_mgmt_bind(q, f->v[SL_MGMT_F_BUDGET_ID].text, "text");
    sl_mgmt_append(q, ", keys.budget_id)");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (!f->v[i].set || i == SL_MGMT_F_METADATA || i == SL_MGMT_F_BUDGET_ID)
            continue;
        sl_buf_printf(&q->text, ", %s = ", key_columns[i].column);
        append_value(q, f, i);
    }
    if (f->v[SL_MGMT_F_METADATA].set || f->metadata_patch != NULL) {
        sl_mgmt_append(q, ", metadata = COALESCE(");
        sl_mgmt_bind(q, f->v[SL_MGMT_F_METADATA].text, "jsonb");
        sl_mgmt_append(q, ", keys.metadata) || COALESCE(");
        sl_mgmt_bind(q, f->metadata_patch, "jsonb");
        sl_mgmt_append(q, ", '{}')");
    }
    sl_mgmt_append(q, " FROM old WHERE keys.token = ");
    sl_mgmt_bind(q, c->hash, "text");
    sl_mgmt_append(q, " RETURNING keys.*), ");
    append_audit(q, c, action, "k.token", "old.view", SL_MGMT_KEY_VIEW("k", "nbud"),
                 "old, k LEFT JOIN nbud ON true");
    sl_mgmt_append(q, "SELECT " SL_MGMT_KEY_VIEW("k", "nbud") " FROM k LEFT JOIN nbud ON true");
}

/* Replaces the key's hash and name in place; the old hash stops matching at commit. */
void
sl_mgmt__sql_regenerate(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c, const char *new_hash,
                        const char *key_name)
{
    sl_mgmt_append(
        q, "WITH old AS (SELECT k.token, " SL_MGMT_KEY_VIEW(
               "k", "b") " AS view FROM keys k "
                         "LEFT JOIN budgets b ON b.budget_id = k.budget_id WHERE k.token = ");
    sl_mgmt_bind(q, c->hash, "text");
    append_owner(q, c, "k.");
    sl_mgmt_append(q, " FOR UPDATE OF k), k AS (UPDATE keys SET token = ");
    sl_mgmt_bind(q, new_hash, "text");
    sl_mgmt_append(q, ", key_name = ");
    sl_mgmt_bind(q, key_name, "text");
    sl_mgmt_append(q, ", rotation_count = keys.rotation_count + 1, last_rotation_at = now(), "
                       "updated_at = now(), updated_by = ");
    sl_mgmt_bind(q, c->caller.user_id, "text");
    sl_mgmt_append(q, " FROM old WHERE keys.token = old.token RETURNING keys.*), "
                       "nbud AS (SELECT b.* FROM budgets b JOIN k ON b.budget_id = k.budget_id), ");
    append_audit(q, c, "rotated", "k.token", "old.view", SL_MGMT_KEY_VIEW("k", "nbud"),
                 "old, k LEFT JOIN nbud ON true");
    sl_mgmt_append(q, "SELECT " SL_MGMT_KEY_VIEW("k", "nbud") " FROM k LEFT JOIN nbud ON true");
}

void
sl_mgmt__sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c, const char *hashes,
                    const char *aliases)
{
    /* All or nothing: when a named key is missing, `ok` is false and no row is deleted. */
    sl_mgmt_append(q, "WITH want AS (SELECT DISTINCT x FROM jsonb_array_elements_text(COALESCE(");
    sl_mgmt_bind(q, hashes != NULL ? hashes : aliases, "jsonb");
    sl_mgmt_append(q, ", '[]')) AS x), ok AS (SELECT (SELECT count(*) FROM keys WHERE ");
    sl_mgmt_append(q, hashes != NULL ? "token" : "key_alias");
    sl_mgmt_append(q, " IN (SELECT x FROM want)");
    append_owner(q, c, "");
    sl_mgmt_append(q, ") = (SELECT count(*) FROM want) AS ok), "
                       "d AS (DELETE FROM keys WHERE (SELECT ok FROM ok) AND ");
    sl_mgmt_append(q, hashes != NULL ? "token" : "key_alias");
    sl_mgmt_append(q, " IN (SELECT x FROM want)");
    append_owner(q, c, "");
    sl_mgmt_append(q, " RETURNING *), dk AS (INSERT INTO deleted_keys "
                       "(token, key_alias, user_id, team_id, organization_id, key_row, deleted_by, "
                       "deleted_by_api_key, changed_by) SELECT d.token, d.key_alias, d.user_id, "
                       "d.team_id, d.organization_id, to_jsonb(d), ");
    sl_mgmt_bind(q, c->caller.user_id, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, c->caller.api_key_hash[0] != '\0' ? c->caller.api_key_hash : NULL, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, c->caller.changed_by_header ? c->caller.changed_by : NULL, "text");
    sl_mgmt_append(q, " FROM d), ");
    append_audit(q, c, "deleted", "d.token", "to_jsonb(d)", "NULL", "d");
    sl_mgmt_append(q, "SELECT token FROM d");
}

void
sl_mgmt__sql_info(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c)
{
    sl_mgmt_append(
        q, "SELECT " SL_MGMT_KEY_VIEW("k", "b") " FROM keys k LEFT JOIN budgets b ON "
                                                "b.budget_id = k.budget_id WHERE k.token = ");
    sl_mgmt_bind(q, c->hash, "text");
    append_owner(q, c, "k.");
}

void
sl_mgmt__sql_list(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                  const char *const values[SL_MGMT_LIST_N_FILTERS], const char *page,
                  const char *size, const char *offset)
{
    static const char *const filters[] = {SL_MGMT_LIST_FILTERS};

    /* The filters are bound once and referenced by number from both subqueries. */
    sl_mgmt_append(q, "WITH f AS (SELECT ");
    for (size_t i = 0; i < SL_MGMT_LIST_N_FILTERS; i++) {
        sl_mgmt_bind(q, values[i], "text");
        sl_buf_printf(&q->text, " AS %s%s", filters[i], i + 1 < SL_MGMT_LIST_N_FILTERS ? ", " : "");
    }
    sl_mgmt_append(q, "), m AS (SELECT k.* FROM keys k, f WHERE (f.user_id IS NULL OR k.user_id = "
                       "f.user_id) AND (f.team_id IS NULL OR k.team_id = f.team_id) AND "
                       "(f.organization_id IS NULL OR k.organization_id = f.organization_id) AND "
                       "(f.key_alias IS NULL OR k.key_alias = f.key_alias)");
    append_owner(q, c, "k.");
    sl_mgmt_append(q, "), "
                       "t AS (SELECT count(*) AS n FROM m), "
                       "p AS (SELECT m.*, ");
    sl_mgmt_append(q, c->full_object ? SL_MGMT_KEY_VIEW("m", "b") : "to_jsonb(m.token)");
    sl_mgmt_append(q, " AS item FROM m LEFT JOIN budgets b ON b.budget_id = m.budget_id "
                       "ORDER BY m.created_at DESC, m.token LIMIT ");
    sl_mgmt_bind(q, size, "bigint");
    sl_mgmt_append(q, " OFFSET ");
    sl_mgmt_bind(q, offset, "bigint");
    sl_mgmt_append(q,
                    ") SELECT jsonb_build_object('keys', COALESCE((SELECT jsonb_agg(item ORDER BY "
                    "created_at DESC, token) FROM p), '[]'), 'total_count', (SELECT n FROM t), "
                    "'current_page', ");
    sl_mgmt_bind(q, page, "bigint");
    sl_mgmt_append(q, ", 'total_pages', ceil((SELECT n FROM t)::numeric / ");
    sl_mgmt_bind(q, size, "bigint");
    sl_mgmt_append(q, ")::bigint)");
}
