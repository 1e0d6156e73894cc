/* SPDX-License-Identifier: Apache-2.0 */
/*
 * teams_sql -- the SQL statements of the /team/ routes. Each call is one statement whose
 * data-modifying CTEs write the team, its budget rows, the users and memberships it creates,
 * the deleted_keys copies and the audit_log rows, so a change and its records commit together.
 *
 * The values every statement needs (team id, caller, actor) are bound once in a CTE named p.
 * A write locks the team row (FOR UPDATE) and checks the caller's role in the team in the
 * same statement, so a concurrent change to the membership cannot slip between check and write.
 */
#include "gateway/mgmt/teams_sql.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/mgmt/internal.h"

const struct sl_mgmt_field_spec sl_mgmt__team_fields[] = {
    {"team_alias", "team_alias", SL_MGMT_K_TEXT, 0},
    {"organization_id", "organization_id", SL_MGMT_K_TEXT, 0},
    {"models", "models", SL_MGMT_K_STRINGS, 0},
    {"blocked", "blocked", SL_MGMT_K_BOOL, 0},
    {"model_aliases", "model_aliases", SL_MGMT_K_OBJECT, 0},
    {"team_member_permissions", "team_member_permissions", SL_MGMT_K_STRINGS, 0},
    {"router_settings", "router_settings", SL_MGMT_K_OBJECT, 0},
    SL_MGMT_BUDGET_FIELDS,
};
const size_t sl_mgmt__n_team_fields = sizeof(sl_mgmt__team_fields) / sizeof(sl_mgmt__team_fields[0]);

const struct sl_mgmt_field_spec sl_mgmt__member_budget_fields[] = {
    {"team_member_budget", "max_budget", SL_MGMT_K_MONEY, 1},
    {"team_member_tpm_limit", "tpm_limit", SL_MGMT_K_COUNT, 1},
    {"team_member_rpm_limit", "rpm_limit", SL_MGMT_K_COUNT, 1},
    {"team_member_budget_duration", "budget_duration", SL_MGMT_K_DURATION, 1},
};
const size_t sl_mgmt__n_member_budget_fields =
    sizeof(sl_mgmt__member_budget_fields) / sizeof(sl_mgmt__member_budget_fields[0]);

const struct sl_mgmt_field_spec sl_mgmt__membership_fields[] = {
    {"max_budget_in_team", "max_budget", SL_MGMT_K_MONEY, 1},
    {"tpm_limit", "tpm_limit", SL_MGMT_K_COUNT, 1},
    {"rpm_limit", "rpm_limit", SL_MGMT_K_COUNT, 1},
};
const size_t sl_mgmt__n_membership_fields =
    sizeof(sl_mgmt__membership_fields) / sizeof(sl_mgmt__membership_fields[0]);

/* A budgets row `b` as LiteLLM nests it (litellm_budget_table): NULL when there is none. */
#define BUDGET_TABLE(b)                                                                            \
    "CASE WHEN " b ".budget_id IS NULL THEN NULL ELSE to_jsonb(" b ") - 'budget_period_start' END"

/* The team row `t` with the limits of its budgets row `b` flattened in and nested. */
#define TEAM_VIEW(t, b)                                                                            \
    "(to_jsonb(" t ") || " SL_MGMT_BUDGET_JSON(b) " || jsonb_build_object('litellm_budget_table', " \
    BUDGET_TABLE(b) "))"

/* Memberships with the member's e-mail: team_id, user_id, role, user_email, created_at. */
#define MEMBERS_TABLE                                                                              \
    "(SELECT tm.team_id, tm.user_id, tm.role, u.user_email, tm.created_at FROM team_memberships " \
    "tm LEFT JOIN users u ON u.user_id = tm.user_id)"

/* The team's hashes of keys, when the write went ahead. */
#define TEAM_TOKENS                                                                                \
    "(SELECT COALESCE(jsonb_agg(k.token), '[]') FROM keys k, p WHERE k.team_id = p.team_id AND "  \
    "(SELECT ok FROM ok))"

/* ---------------------------------------------------------------- shared parts */

/*
 * Appends "WITH p AS (...)": the team id (generated when NULL and `generate`), the caller's
 * user id, whether the caller may act on every team, and the actor written to created_by.
 */
static void
append_params(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller, const char *team_id,
              int generate, int privileged)
{
    sl_mgmt_append(q, "WITH p AS (SELECT ");
    if (generate)
        sl_mgmt_append(q, "COALESCE(");
    sl_mgmt_bind(q, team_id, "text");
    if (generate)
        sl_mgmt_append(q, ", gen_random_uuid()::text)");
    sl_mgmt_append(q, " AS team_id, ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, " AS caller_id, ");
    sl_mgmt_bind(q, privileged ? "true" : "false", "boolean");
    sl_mgmt_append(q, " AS is_admin, ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, " AS actor)");
}

/*
 * Appends the team row locked for the write (old), the caller's role in the team (who) and
 * whether the write may go ahead (ok): the team exists and the caller is proxy_admin or one of
 * its admins.
 */
static void
append_team_check(struct sl_mgmt_sql *q)
{
    sl_mgmt_append(q, ", old AS (SELECT t.* FROM teams t, p WHERE t.team_id = p.team_id "
                      "FOR UPDATE OF t), "
                      "who AS (SELECT (SELECT tm.role FROM team_memberships tm, p "
                      "WHERE tm.team_id = p.team_id AND tm.user_id = p.caller_id) AS member_role), "
                      "ok AS (SELECT EXISTS (SELECT 1 FROM old) AND ((SELECT is_admin FROM p) OR "
                      "(SELECT member_role FROM who) IS NOT DISTINCT FROM 'admin') AS ok)");
}

/* Appends the status of a team write up to its route-specific cases. */
static void
append_status_start(struct sl_mgmt_sql *q)
{
    sl_mgmt_append(q, " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM old) THEN 'not_found' "
                      "WHEN NOT (SELECT ok FROM ok) THEN 'forbidden'");
}

/* Appends the members_with_roles array of team `team_sql` from `source` (see MEMBERS_TABLE). */
static void
append_members(struct sl_mgmt_sql *q, const char *source, const char *team_sql)
{
    sl_mgmt_append(q, "COALESCE((SELECT jsonb_agg(jsonb_build_object('user_id', mm.user_id, "
                      "'user_email', mm.user_email, 'role', mm.role) ORDER BY mm.created_at, "
                      "mm.user_id) FROM ");
    sl_mgmt_append(q, source);
    sl_mgmt_append(q, " mm WHERE mm.team_id = ");
    sl_mgmt_append(q, team_sql);
    sl_mgmt_append(q, "), '[]')");
}

/*
 * Appends the new metadata: `base` (SQL) or the sent metadata, merged with the sent tags and
 * model limits and with the id of a member budget created by this statement (CTE mnb).
 */
static void
append_metadata(struct sl_mgmt_sql *q, const struct sl_mgmt_team_input *in, const char *base)
{
    sl_mgmt_append(q, "COALESCE(");
    sl_mgmt_bind(q, in->metadata, "jsonb");
    sl_mgmt_append(q, ", ");
    sl_mgmt_append(q, base);
    sl_mgmt_append(q, ") || COALESCE(");
    sl_mgmt_bind(q, in->metadata_patch, "jsonb");
    sl_mgmt_append(q, ", '{}') || COALESCE((SELECT jsonb_build_object('team_member_budget_id', "
                      "budget_id) FROM mnb), '{}')");
}

/*
 * Appends the budget row `name` of the update of a team (or membership) row `owner`, whose
 * column `column` points at it: a new row when it has none (CTE <name>_new, whose id the
 * update stores), else the existing row updated. `<name>` is the row after the change and
 * `<name>_old` the row before, either possibly empty.
 */
static void
append_budget_change(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller, const char *name,
                     const char *owner, const char *column,
                     const struct sl_mgmt_field_spec *fields, const struct sl_mgmt_values *v)
{
    char part[256];
    char where[256];

    snprintf(part, sizeof(part), ", %s_old AS (SELECT b.* FROM budgets b JOIN %s o ON "
             "b.budget_id = o.%s), ", name, owner, column);
    sl_mgmt_append(q, part);
    if (!sl_mgmt_values_any_budget(v, fields)) {
        sl_mgmt_appendf(q, "%s_new AS (SELECT * FROM budgets WHERE false), "
                        "%s AS (SELECT * FROM %s_old)", name, name, name);
        return;
    }
    snprintf(part, sizeof(part), "%s_new", name);
    snprintf(where, sizeof(where), "(SELECT ok FROM ok) AND EXISTS (SELECT 1 FROM %s WHERE %s "
             "IS NULL)", owner, column);
    sl_mgmt_sql_budget_insert(q, part, NULL, fields, v, caller->user_id, where);
    sl_mgmt_appendf(q, ", %s_up AS (UPDATE budgets SET updated_at = now(), updated_by = p.actor",
                    name);
    sl_mgmt_sql_set_list(q, fields, v, 1);
    sl_mgmt_appendf(q, " FROM %s o, p WHERE (SELECT ok FROM ok) AND budgets.budget_id = o.%s "
                    "RETURNING budgets.*), %s AS (SELECT * FROM %s_new UNION ALL SELECT * FROM "
                    "%s_up)", owner, column, name, name, name);
}

/*
 * Appends the members of in->members as CTEs. mi is the input and mr resolves each member to
 * the user_id sent, else the user with that e-mail, else a new id. mr also has a new budget id
 * when max_budget_in_team is set. madd keeps the members not yet in the team. The writes nu
 * (missing users), mb (their budgets) and ntm (the memberships) run only when `go_sql` is true
 * and madd has rows, and added lists the new memberships with their e-mails. au is the
 * audit_log row of each new user.
 */
static void
append_member_inserts(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                      const struct sl_mgmt_team_input *in, const char *go_sql)
{
    sl_mgmt_append(q, ", mi AS (SELECT e.ord, e.x->>'user_id' AS want_id, e.x->>'user_email' AS "
                      "email, COALESCE(e.x->>'role', 'user') AS role FROM "
                      "jsonb_array_elements(COALESCE(");
    sl_mgmt_bind(q, in->members, "jsonb");
    sl_mgmt_append(q, ", '[]')) WITH ORDINALITY AS e(x, ord)), "
                      "mr AS (SELECT mi.*, COALESCE(mi.want_id, (SELECT u.user_id FROM users u "
                      "WHERE lower(u.user_email) = lower(mi.email) ORDER BY u.created_at, "
                      "u.user_id LIMIT 1), gen_random_uuid()::text) AS user_id, CASE WHEN ");
    sl_mgmt_bind(q, in->max_budget_in_team, "float8");
    sl_mgmt_append(q, " IS NULL THEN NULL ELSE gen_random_uuid()::text END AS budget_id FROM mi), "
                      "mx AS (SELECT mr.*, EXISTS (SELECT 1 FROM team_memberships tm, p WHERE "
                      "tm.team_id = p.team_id AND tm.user_id = mr.user_id) AS present FROM mr), "
                      "madd AS (SELECT * FROM mx WHERE NOT present), "
                      "go AS (SELECT (");
    sl_mgmt_append(q, go_sql);
    sl_mgmt_append(q, ") AND EXISTS (SELECT 1 FROM madd) AS go), "
                      "nu AS (INSERT INTO users (user_id, user_email, created_by, updated_by) "
                      "SELECT madd.user_id, madd.email, p.actor, p.actor FROM madd, p WHERE "
                      "(SELECT go FROM go) ON CONFLICT (user_id) DO NOTHING RETURNING *), "
                      "mb AS (INSERT INTO budgets (budget_id, max_budget, created_by, updated_by, "
                      "budget_period_start) SELECT madd.budget_id, ");
    sl_mgmt_bind(q, in->max_budget_in_team, "float8");
    sl_mgmt_append(q, ", p.actor, p.actor, now() FROM madd, p WHERE madd.budget_id IS NOT NULL "
                      "AND (SELECT go FROM go) RETURNING *), "
                      "ntm AS (INSERT INTO team_memberships (team_id, user_id, role, budget_id) "
                      "SELECT p.team_id, madd.user_id, madd.role, madd.budget_id FROM madd, p "
                      "WHERE (SELECT go FROM go) RETURNING *), "
                      "added AS (SELECT ntm.team_id, ntm.user_id, ntm.role, COALESCE(madd.email, "
                      "(SELECT u.user_email FROM users u WHERE u.user_id = ntm.user_id)) AS "
                      "user_email, ntm.created_at FROM ntm JOIN madd ON madd.user_id = ntm.user_id)");
    sl_mgmt_sql_audit(q, "au", caller, "created", "users", "nu", "nu.user_id", "NULL",
                      "to_jsonb(nu)");
}

/* ---------------------------------------------------------------- new, update, delete */

void
sl_mgmt__team_sql_new(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                      const struct sl_mgmt_team_input *in)
{
    struct sl_buf cols;

    append_params(q, caller, in->team_id, 1, 1);
    sl_mgmt_append(q, ", ok AS (SELECT true AS ok), ");
    if (sl_mgmt_values_any_budget(&in->team, sl_mgmt__team_fields))
        sl_mgmt_sql_budget_insert(q, "nb", NULL, sl_mgmt__team_fields, &in->team, caller->user_id,
                                  "true");
    else
        sl_mgmt_append(q, "nb AS (SELECT * FROM budgets WHERE false)");
    sl_mgmt_append(q, ", ");
    if (sl_mgmt_values_any_budget(&in->member_budget, sl_mgmt__member_budget_fields))
        sl_mgmt_sql_budget_insert(q, "mnb", NULL, sl_mgmt__member_budget_fields,
                                  &in->member_budget, caller->user_id, "true");
    else
        sl_mgmt_append(q, "mnb AS (SELECT * FROM budgets WHERE false)");

    sl_buf_init(&cols, 0);
    sl_mgmt_sql_columns(&cols, sl_mgmt__team_fields, &in->team, 0);
    sl_buf_append(&cols, "", 1);
    sl_mgmt_append(q, ", t AS (INSERT INTO teams (team_id, budget_id, member_budget_id, "
                      "created_by, updated_by, metadata");
    sl_mgmt_append(q, cols.data);
    sl_buf_dispose(&cols);
    sl_mgmt_append(q, ") SELECT p.team_id, (SELECT budget_id FROM nb), (SELECT budget_id FROM "
                      "mnb), p.actor, p.actor, ");
    append_metadata(q, in, "'{}'::jsonb");
    sl_mgmt_sql_values(q, sl_mgmt__team_fields, &in->team, 0);
    sl_mgmt_append(q, " FROM p RETURNING *)");

    append_member_inserts(q, caller, in, "true");
    sl_mgmt_sql_audit(q, "a", caller, "created", "teams", "t LEFT JOIN nb ON true", "t.team_id",
                      "NULL", TEAM_VIEW("t", "nb"));
    sl_mgmt_sql_audit(q, "am", caller, "created", "team_memberships", "ntm", "ntm.team_id", "NULL",
                      "to_jsonb(ntm)");
    sl_mgmt_append(q, " SELECT 'ok', NULL, " TEAM_VIEW("t", "nb") " || jsonb_build_object("
                      "'members_with_roles', ");
    append_members(q, "added", "t.team_id");
    sl_mgmt_append(q, "), '[]'::jsonb FROM t LEFT JOIN nb ON true");
}

void
sl_mgmt__team_sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                         const struct sl_mgmt_team_input *in, const char *action)
{
    append_params(q, caller, in->team_id, 0, strcmp(caller->role, "proxy_admin") == 0);
    append_team_check(q);
    append_budget_change(q, caller, "nb", "old", "budget_id", sl_mgmt__team_fields, &in->team);
    append_budget_change(q, caller, "mnbud", "old", "member_budget_id",
                         sl_mgmt__member_budget_fields, &in->member_budget);
    /* append_metadata() reads the created member budget under the name mnb. */
    sl_mgmt_append(q, ", mnb AS (SELECT * FROM mnbud_new)");

    sl_mgmt_append(q, ", t AS (UPDATE teams SET updated_at = now(), updated_by = p.actor, "
                      "budget_id = COALESCE((SELECT budget_id FROM nb_new), teams.budget_id), "
                      "member_budget_id = COALESCE((SELECT budget_id FROM mnb), "
                      "teams.member_budget_id), metadata = ");
    append_metadata(q, in, "teams.metadata");
    sl_mgmt_sql_set_list(q, sl_mgmt__team_fields, &in->team, 0);
    sl_mgmt_append(q, " FROM p WHERE (SELECT ok FROM ok) AND teams.team_id = p.team_id "
                      "RETURNING teams.*)");
    sl_mgmt_sql_audit(q, "a", caller, action, "teams",
                      "old JOIN t ON t.team_id = old.team_id LEFT JOIN nb_old ON true LEFT JOIN "
                      "nb ON true",
                      "t.team_id", TEAM_VIEW("old", "nb_old"), TEAM_VIEW("t", "nb"));

    append_status_start(q);
    sl_mgmt_append(q, " ELSE 'ok' END, (SELECT member_role FROM who), (SELECT " TEAM_VIEW("t", "nb")
                      " || jsonb_build_object('members_with_roles', ");
    append_members(q, MEMBERS_TABLE, "t.team_id");
    sl_mgmt_append(q, ") FROM t LEFT JOIN nb ON true), " TEAM_TOKENS);
}

void
sl_mgmt__team_sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                         const char *team_ids)
{
    /* All or nothing: when a named team is missing, ok is false and nothing is deleted. The
     * keys go first, into deleted_keys, because keys.team_id restricts deleting the team. */
    sl_mgmt_append(q, "WITH want AS (SELECT DISTINCT x AS team_id FROM "
                      "jsonb_array_elements_text(");
    sl_mgmt_bind(q, team_ids, "jsonb");
    sl_mgmt_append(q, ") AS x), missing AS (SELECT team_id FROM want WHERE team_id NOT IN "
                      "(SELECT team_id FROM teams)), "
                      "ok AS (SELECT NOT EXISTS (SELECT 1 FROM missing) AS ok), "
                      "dkeys AS (DELETE FROM keys WHERE (SELECT ok FROM ok) AND team_id IN "
                      "(SELECT team_id FROM want) RETURNING *), "
                      "dk AS (INSERT INTO deleted_keys (token, key_alias, user_id, team_id, "
                      "organization_id, key_row, deleted_by, deleted_by_api_key, changed_by) "
                      "SELECT d.token, d.key_alias, d.user_id, d.team_id, d.organization_id, "
                      "to_jsonb(d), ");
    sl_mgmt_bind(q, caller->user_id, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->api_key_hash[0] != '\0' ? caller->api_key_hash : NULL, "text");
    sl_mgmt_append(q, ", ");
    sl_mgmt_bind(q, caller->changed_by_header ? caller->changed_by : NULL, "text");
    sl_mgmt_append(q, " FROM dkeys d)");
    sl_mgmt_sql_audit(q, "ak", caller, "deleted", "keys", "dkeys", "dkeys.token",
                      "to_jsonb(dkeys)", "NULL");
    /* NOTE: the team's budget rows and those of its memberships are left in budgets. */
    sl_mgmt_append(q, ", d AS (DELETE FROM teams WHERE (SELECT ok FROM ok) AND team_id IN "
                      "(SELECT team_id FROM want) RETURNING *)");
    sl_mgmt_sql_audit(q, "a", caller, "deleted", "teams", "d", "d.team_id", "to_jsonb(d)", "NULL");
    sl_mgmt_append(q, " SELECT CASE WHEN (SELECT ok FROM ok) THEN 'ok' ELSE 'not_found' END, "
                      "(SELECT string_agg(team_id, ', ' ORDER BY team_id) FROM missing), "
                      "(SELECT COALESCE(jsonb_agg(to_jsonb(d) ORDER BY d.team_id), '[]') FROM d), "
                      "(SELECT COALESCE(jsonb_agg(token), '[]') FROM dkeys)");
}

/* ---------------------------------------------------------------- info, list */

void
sl_mgmt__team_sql_info(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                       const char *team_id)
{
    /* As in LiteLLM, a key of the team may read the team too. */
    append_params(q, caller, team_id, 0, caller->admin);
    sl_mgmt_append(q, ", old AS (SELECT t.* FROM teams t, p WHERE t.team_id = p.team_id), "
                      "ok AS (SELECT (SELECT is_admin FROM p) OR EXISTS (SELECT 1 FROM "
                      "team_memberships tm, p WHERE tm.team_id = p.team_id AND tm.user_id = "
                      "p.caller_id) OR EXISTS (SELECT 1 FROM keys k, p WHERE k.team_id = "
                      "p.team_id AND k.token = ");
    sl_mgmt_bind(q, caller->api_key_hash[0] != '\0' ? caller->api_key_hash : NULL, "text");
    sl_mgmt_append(q, ") AS ok)");
    append_status_start(q);
    sl_mgmt_append(q, " ELSE 'ok' END, NULL, (SELECT jsonb_build_object('team_id', t.team_id, "
                      "'team_info', " TEAM_VIEW("t", "b") " || jsonb_build_object("
                      "'members_with_roles', ");
    append_members(q, MEMBERS_TABLE, "t.team_id");
    sl_mgmt_append(q, ", 'team_member_budget_table', " BUDGET_TABLE("mb") "), "
                      "'keys', (SELECT COALESCE(jsonb_agg(" SL_MGMT_KEY_VIEW("k", "kb")
                      " ORDER BY k.created_at, k.token), '[]') FROM keys k LEFT JOIN budgets kb ON "
                      "kb.budget_id = k.budget_id WHERE k.team_id = t.team_id), "
                      "'team_memberships', (SELECT COALESCE(jsonb_agg(to_jsonb(m) || "
                      "jsonb_build_object('litellm_budget_table', " BUDGET_TABLE("mbt")
                      ") ORDER BY m.created_at, m.user_id), '[]') FROM team_memberships m LEFT "
                      "JOIN budgets mbt ON mbt.budget_id = COALESCE(m.budget_id, "
                      "t.member_budget_id) WHERE m.team_id = t.team_id)) "
                      "FROM old t LEFT JOIN budgets b ON b.budget_id = t.budget_id LEFT JOIN "
                      "budgets mb ON mb.budget_id = t.member_budget_id WHERE (SELECT ok FROM ok)), "
                      "'[]'::jsonb");
}

void
sl_mgmt__team_sql_list(struct sl_mgmt_sql *q, const char *user_id, const char *organization_id)
{
    sl_mgmt_append(q, "WITH f AS (SELECT ");
    sl_mgmt_bind(q, user_id, "text");
    sl_mgmt_append(q, " AS user_id, ");
    sl_mgmt_bind(q, organization_id, "text");
    sl_mgmt_append(q, " AS organization_id) SELECT 'ok', NULL, COALESCE(jsonb_agg(" TEAM_VIEW("t", "b")
                      " || jsonb_build_object('members_with_roles', ");
    append_members(q, MEMBERS_TABLE, "t.team_id");
    sl_mgmt_append(q, ") ORDER BY t.created_at, t.team_id), '[]'), '[]'::jsonb FROM teams t "
                      "CROSS JOIN f LEFT JOIN budgets b ON b.budget_id = t.budget_id "
                      "WHERE (f.user_id IS NULL OR EXISTS (SELECT 1 FROM team_memberships m "
                      "WHERE m.team_id = t.team_id AND m.user_id = f.user_id)) AND "
                      "(f.organization_id IS NULL OR t.organization_id = f.organization_id)");
}

/* ---------------------------------------------------------------- members */

void
sl_mgmt__team_sql_member_add(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                             const struct sl_mgmt_team_input *in)
{
    append_params(q, caller, in->team_id, 0, strcmp(caller->role, "proxy_admin") == 0);
    append_team_check(q);
    append_member_inserts(q, caller, in, "SELECT ok FROM ok");
    sl_mgmt_sql_audit(q, "am", caller, "created", "team_memberships", "ntm", "ntm.team_id", "NULL",
                      "to_jsonb(ntm)");

    append_status_start(q);
    sl_mgmt_append(q, " WHEN NOT EXISTS (SELECT 1 FROM madd) THEN 'already_member' ELSE 'ok' END, "
                      "CASE WHEN NOT (SELECT ok FROM ok) THEN (SELECT member_role FROM who) ELSE "
                      "(SELECT string_agg(COALESCE(user_id, email), ', ' ORDER BY ord) FROM mx "
                      "WHERE present) END, "
                      "(SELECT " TEAM_VIEW("t", "b") " || jsonb_build_object('members_with_roles', ");
    append_members(q, "(SELECT * FROM " MEMBERS_TABLE " x UNION ALL SELECT * FROM added)",
                   "t.team_id");
    sl_mgmt_append(q, ", 'updated_users', (SELECT COALESCE(jsonb_agg(to_jsonb(x) ORDER BY "
                      "x.user_id), '[]') FROM (SELECT * FROM nu UNION ALL SELECT u.* FROM users u "
                      "JOIN ntm ON ntm.user_id = u.user_id) x), "
                      "'updated_team_memberships', (SELECT COALESCE(jsonb_agg(to_jsonb(ntm) || "
                      "jsonb_build_object('litellm_budget_table', " BUDGET_TABLE("mb")
                      ") ORDER BY ntm.user_id), '[]') FROM ntm LEFT JOIN (SELECT * FROM mb UNION ALL "
                      "SELECT sb.* FROM budgets sb JOIN old ON sb.budget_id = "
                      "old.member_budget_id) mb ON mb.budget_id = COALESCE(ntm.budget_id, "
                      "(SELECT member_budget_id FROM old)))) FROM old t LEFT JOIN budgets b ON "
                      "b.budget_id = "
                      "t.budget_id WHERE (SELECT go FROM go)), " TEAM_TOKENS);
}

/* Appends "target AS (...)": the membership named by in->user_id or in->user_email. */
static void
append_target(struct sl_mgmt_sql *q, const struct sl_mgmt_team_input *in)
{
    sl_mgmt_append(q, ", target AS (SELECT tm.*, u.user_email FROM team_memberships tm JOIN p ON "
                      "tm.team_id = p.team_id LEFT JOIN users u ON u.user_id = tm.user_id WHERE ");
    if (in->user_id != NULL) {
        sl_mgmt_append(q, "tm.user_id = ");
        sl_mgmt_bind(q, in->user_id, "text");
    } else {
        sl_mgmt_append(q, "lower(u.user_email) = lower(");
        sl_mgmt_bind(q, in->user_email, "text");
        sl_mgmt_append(q, ")");
    }
    sl_mgmt_append(q, " ORDER BY tm.created_at LIMIT 1)");
}

void
sl_mgmt__team_sql_member_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                                const struct sl_mgmt_team_input *in)
{
    append_params(q, caller, in->team_id, 0, strcmp(caller->role, "proxy_admin") == 0);
    append_team_check(q);
    append_target(q, in);
    sl_mgmt_append(q, ", d AS (DELETE FROM team_memberships tm USING target WHERE (SELECT ok FROM "
                      "ok) AND tm.team_id = target.team_id AND tm.user_id = target.user_id "
                      "RETURNING tm.*)");
    sl_mgmt_sql_audit(q, "am", caller, "deleted", "team_memberships", "d", "d.team_id",
                      "to_jsonb(d)", "NULL");

    append_status_start(q);
    sl_mgmt_append(q, " WHEN NOT EXISTS (SELECT 1 FROM target) THEN 'not_member' ELSE 'ok' END, "
                      "(SELECT member_role FROM who), (SELECT " TEAM_VIEW("t", "b")
                      " || jsonb_build_object('members_with_roles', ");
    append_members(q, "(SELECT * FROM " MEMBERS_TABLE " x WHERE x.user_id NOT IN (SELECT user_id "
                      "FROM d))", "t.team_id");
    sl_mgmt_append(q, ") FROM old t LEFT JOIN budgets b ON b.budget_id = t.budget_id), "
                      "(SELECT COALESCE(jsonb_agg(k.token), '[]') FROM keys k, p WHERE k.team_id "
                      "= p.team_id AND EXISTS (SELECT 1 FROM d))");
}

void
sl_mgmt__team_sql_member_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                                const struct sl_mgmt_team_input *in)
{
    append_params(q, caller, in->team_id, 0, strcmp(caller->role, "proxy_admin") == 0);
    append_team_check(q);
    append_target(q, in);
    /* A member on the team's shared member budget gets a row of their own. */
    append_budget_change(q, caller, "nb", "target", "budget_id", sl_mgmt__membership_fields,
                         &in->membership);
    sl_mgmt_append(q, ", up AS (UPDATE team_memberships tm SET updated_at = now(), role = "
                      "COALESCE(");
    sl_mgmt_bind(q, in->role, "text");
    sl_mgmt_append(q, ", tm.role), budget_id = COALESCE((SELECT budget_id FROM nb_new), "
                      "tm.budget_id) FROM target WHERE (SELECT ok FROM ok) AND tm.team_id = "
                      "target.team_id AND tm.user_id = target.user_id RETURNING tm.*)");
    sl_mgmt_sql_audit(q, "am", caller, "updated", "team_memberships",
                      "target JOIN up ON up.user_id = target.user_id", "up.team_id",
                      "to_jsonb(target) - 'user_email'", "to_jsonb(up)");

    append_status_start(q);
    sl_mgmt_append(q, " WHEN NOT EXISTS (SELECT 1 FROM target) THEN 'not_member' ELSE 'ok' END, "
                      "(SELECT member_role FROM who), (SELECT jsonb_build_object('team_id', "
                      "up.team_id, 'user_id', up.user_id, 'user_email', target.user_email, "
                      "'role', up.role, 'max_budget_in_team', nb.max_budget, 'tpm_limit', "
                      "nb.tpm_limit, 'rpm_limit', nb.rpm_limit, 'budget_id', up.budget_id) FROM up "
                      "JOIN target ON target.user_id = up.user_id LEFT JOIN nb ON true), "
                      "(SELECT COALESCE(jsonb_agg(k.token), '[]') FROM keys k, p WHERE k.team_id "
                      "= p.team_id AND EXISTS (SELECT 1 FROM up))");
}
