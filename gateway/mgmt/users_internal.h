/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users_internal -- what users.c (the HTTP side of the /user/ routes) and users_sql.c (the SQL
 * statements they run) share: the body field tables, the parsed input of /user/new and
 * /user/update, and the statement builders. Not for use outside gateway/mgmt/.
 */
#ifndef SL_MGMT_USERS_INTERNAL_H
#define SL_MGMT_USERS_INTERNAL_H

#include <stddef.h>

#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/http.h"
#include "gateway/mgmt/key_fields.h"

/* Body fields stored in users columns or in the user's budget row. */
extern const struct sl_mgmt_field_spec sl_mgmt__user_fields[];
extern const size_t sl_mgmt__n_user_fields;

/* The body's `metadata`, which replaces the stored object. */
extern const struct sl_mgmt_field_spec sl_mgmt__user_meta_fields[];
extern const size_t sl_mgmt__n_user_meta_fields;

/* Fields of the key /user/new creates: key_alias and duration. */
extern const struct sl_mgmt_field_spec sl_mgmt__user_key_fields[];
extern const size_t sl_mgmt__n_user_key_fields;

/* Checked input of /user/new and /user/update; every pointer is owned. */
struct sl_mgmt_user_input {
    struct sl_mgmt_values user; /* indexed like sl_mgmt__user_fields */
    struct sl_mgmt_values meta; /* indexed like sl_mgmt__user_meta_fields */
    struct sl_mgmt_values key;  /* indexed like sl_mgmt__user_key_fields */
    /* model_rpm_limit and model_tpm_limit as a JSON object merged into metadata; NULL when
     * neither was sent. */
    char *limits_patch;
    /* /user/new: [{"team_id", "role", "max_budget"?}, ...] in the order sent, or NULL. */
    char *teams;
    /* /user/new: JSON array of organization ids, or NULL. */
    char *organizations;
};

/* The new user's key, when /user/new creates one. */
struct sl_mgmt_user_key {
    const char *hash;     /* SHA-256 hex of the plaintext */
    const char *key_name; /* "sk-..." and the last 4 characters */
};

/* Filters of /user/list, each NULL when absent; borrowed until the query is queued. */
struct sl_mgmt_user_filter {
    const char *role;
    const char *user_ids;   /* comma-separated */
    const char *user_email; /* case-insensitive substring */
    const char *team;
};

/*
 * The statements. Each borrows its arguments until the query is queued. Result rows:
 *  new     ok (bool), missing team ids (jsonb), missing organization ids (jsonb), the user
 *          view with the key's fields (jsonb, NULL unless ok)
 *  info    one row {"user_id", "user_info", "keys", "teams"}, or no row for a missing user
 *  update  users matched (int8), the new user view (jsonb), the user's key hashes (jsonb)
 *  delete  ok (bool), deleted key hashes (jsonb), deleted user ids (jsonb)
 *  list    the response object
 */
void sl_mgmt__user_sql_new(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                           const char *user_id, const struct sl_mgmt_user_input *in,
                           const struct sl_mgmt_user_key *key);
void sl_mgmt__user_sql_info(struct sl_mgmt_sql *q, const char *user_id);
void sl_mgmt__user_sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                              const char *user_id, const char *user_email,
                              const struct sl_mgmt_user_input *in);
void sl_mgmt__user_sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_caller *caller,
                              const char *user_ids_json);
void sl_mgmt__user_sql_list(struct sl_mgmt_sql *q, const struct sl_mgmt_user_filter *f,
                            const char *page, const char *size, const char *offset);

#endif /* SL_MGMT_USERS_INTERNAL_H */
