/* SPDX-License-Identifier: Apache-2.0 */
/*
 * teams_sql -- what teams.c (the HTTP side of the /team/ routes) and teams_sql.c (their SQL
 * statements) share: the body field tables, the parsed input of one call and the statement
 * builders. Not for use outside gateway/mgmt/.
 *
 * Every statement returns one row of four columns. They are a status ('ok', 'not_found',
 * 'forbidden', 'already_member', 'not_member'), a detail (the caller's role in the team, or
 * the ids at fault) and the response body as jsonb. The last is a jsonb array with the hashes
 * of the keys whose cached auth records the change made stale.
 */
#ifndef SL_MGMT_TEAMS_SQL_H
#define SL_MGMT_TEAMS_SQL_H

#include <stddef.h>

#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/http.h"
#include "gateway/mgmt/key_auth.h"

/* Columns of every team statement's result row. */
enum sl_mgmt_team_col {
    SL_MGMT_TEAM_COL_STATUS,
    SL_MGMT_TEAM_COL_DETAIL,
    SL_MGMT_TEAM_COL_BODY,
    SL_MGMT_TEAM_COL_TOKENS,
};

/* Team columns and the team's budget row: /team/new and /team/update. */
extern const struct sl_mgmt_field_spec sl_mgmt__team_fields[];
extern const size_t sl_mgmt__n_team_fields;
/* team_member_* fields: the budget row every membership without its own budget shares. */
extern const struct sl_mgmt_field_spec sl_mgmt__member_budget_fields[];
extern const size_t sl_mgmt__n_member_budget_fields;
/* max_budget_in_team, tpm_limit, rpm_limit of /team/member_update: the membership's own row. */
extern const struct sl_mgmt_field_spec sl_mgmt__membership_fields[];
extern const size_t sl_mgmt__n_membership_fields;

/* The checked input of one call. Strings are borrowed from the body or owned by the caller of
 * the builders until the query is queued. */
struct sl_mgmt_team_input {
    const char *team_id;           /* NULL on /team/new: generated */
    struct sl_mgmt_values team;    /* parsed with sl_mgmt__team_fields */
    struct sl_mgmt_values member_budget;  /* parsed with sl_mgmt__member_budget_fields */
    struct sl_mgmt_values membership;     /* parsed with sl_mgmt__membership_fields */
    const char *metadata;       /* JSON object replacing the stored metadata, or NULL */
    const char *metadata_patch; /* JSON object merged into metadata (tags, model limits), or NULL */
    const char *members;        /* JSON array of {user_id, user_email, role}, or NULL */
    const char *max_budget_in_team; /* member_add: decimal text, or NULL */
    const char *user_id;            /* member_delete and member_update */
    const char *user_email;
    const char *role; /* member_update: "admin", "user" or NULL */
};

/*
 * The statements. Each appends one whole statement to `q`. The writes of /team/update,
 * /team/block, /team/unblock and the member routes run only when the caller is proxy_admin or
 * an admin of the team, checked in the same statement under a lock of the team row.
 */
void sl_mgmt__team_sql_new(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                           const struct sl_mgmt_team_input *in);
/* `action` is the audit_log action: "updated", "blocked" or "unblocked". */
void sl_mgmt__team_sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                              const struct sl_mgmt_team_input *in, const char *action);
/* `team_ids` is a JSON array of ids. All of them are deleted, or none. */
void sl_mgmt__team_sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                              const char *team_ids);
void sl_mgmt__team_sql_info(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                            const char *team_id);
/* `user_id` and `organization_id` filter when not NULL. */
void sl_mgmt__team_sql_list(struct sl_mgmt_sql *q, const char *user_id,
                            const char *organization_id);
void sl_mgmt__team_sql_member_add(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                                  const struct sl_mgmt_team_input *in);
void sl_mgmt__team_sql_member_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                                     const struct sl_mgmt_team_input *in);
void sl_mgmt__team_sql_member_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                                     const struct sl_mgmt_team_input *in);

#endif /* SL_MGMT_TEAMS_SQL_H */
