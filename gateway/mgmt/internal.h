/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal -- what keys.c (the HTTP side of the /key/ routes) and keys_sql.c (the SQL
 * statements they run) share. Not for use outside gateway/mgmt/.
 */
#ifndef SL_MGMT_INTERNAL_H
#define SL_MGMT_INTERNAL_H

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/http.h"
#include "gateway/mgmt/key_auth.h"
#include "gateway/mgmt/key_fields.h"

/* Keys or aliases one /key/delete call may name. */
#define SL_MGMT_DELETE_MAX 1000
#define SL_MGMT_LIST_MAX_SIZE     100
#define SL_MGMT_LIST_DEFAULT_SIZE 10

/*
 * The key as the API returns it: every column of keys, plus the limits of its budget row and
 * the per-model limits kept in metadata, flattened as LiteLLM's key rows have them. `k` is a
 * keys row and `b` a budgets row, which may be all NULL.
 */
#define SL_MGMT_KEY_VIEW(k, b)                                                                     \
    "(to_jsonb(" k ") || jsonb_build_object('token_id', " k ".token, "                             \
    "'max_budget', " b ".max_budget, 'soft_budget', " b ".soft_budget, "                           \
    "'max_parallel_requests', " b ".max_parallel_requests, 'tpm_limit', " b ".tpm_limit, "         \
    "'rpm_limit', " b ".rpm_limit, 'budget_duration', " b ".budget_duration, "                     \
    "'budget_reset_at', " b ".budget_reset_at, "                                                   \
    "'model_rpm_limit', " k ".metadata->'model_rpm_limit', "                                       \
    "'model_tpm_limit', " k ".metadata->'model_tpm_limit'))"

/* Names of the /key/list query filters, in the order sl_mgmt__sql_list() takes them. */
#define SL_MGMT_LIST_FILTERS   "user_id", "team_id", "organization_id", "key_alias"
#define SL_MGMT_LIST_N_FILTERS 4

enum sl_mgmt_op {
    SL_MGMT_OP_GENERATE,
    SL_MGMT_OP_UPDATE,
    SL_MGMT_OP_BLOCK,
    SL_MGMT_OP_UNBLOCK,
    SL_MGMT_OP_DELETE,
    SL_MGMT_OP_INFO,
    SL_MGMT_OP_LIST,
    SL_MGMT_OP_REGENERATE,
};

/* State of one management call, from the handler to the SQL result. */
struct sl_mgmt_call {
    struct sl_request *r;
    enum sl_mgmt_op op;
    struct sl_mgmt_caller caller;
    const char *owner; /* caller.user_id when the caller may touch only its own keys, else NULL */
    char hash[SL_MGMT_HASH_LEN + 1]; /* the key the call is about, when there is one */
    char *plaintext;                 /* generate and regenerate: the new key; wiped on free */
    char *key_ref;                   /* info: the ?key= value; wiped on free */
    char *alias;                     /* generate and update: for the duplicate alias message */
    char *key_type;                  /* generate: echoed in the response */
    char *team_id;                   /* generate: the team of a team key, for messages */
    cJSON *delete_list;              /* delete: hashes or aliases, echoed in the response */
    int full_object;                 /* list */
};

/*
 * Fills `out` with the period of the sent budget_duration that contains `now_s`, or empties it
 * when none was sent. The text was checked when the body was parsed.
 */
void sl_mgmt__budget_period(const struct sl_mgmt_key_fields *f, int64_t now_s,
                            struct sl_mgmt_period *out);

/*
 * The statements. Each borrows its arguments until the query is queued. Result rows:
 * generate (allowed, role checked, key view, team rule that denied it or NULL, the caller's
 * team role), update and regenerate (the new key view, no row
 * when the key is missing or not the caller's), delete (one token per deleted key, no row when
 * any named key is missing), info (the key view), list (the response object).
 */
void sl_mgmt__sql_generate(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                           const struct sl_mgmt_key_fields *f, const char *key_name,
                           const char *roles_json, const char *team_roles_json,
                           const struct sl_mgmt_period *period);
void sl_mgmt__sql_update(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                         const struct sl_mgmt_key_fields *f, const char *action,
                         const struct sl_mgmt_period *period);
void sl_mgmt__sql_regenerate(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                             const char *new_hash, const char *key_name);
void sl_mgmt__sql_delete(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c, const char *hashes,
                         const char *aliases);
void sl_mgmt__sql_info(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c);
void sl_mgmt__sql_list(struct sl_mgmt_sql *q, const struct sl_mgmt_call *c,
                       const char *const values[SL_MGMT_LIST_N_FILTERS], const char *page,
                       const char *size, const char *offset);

#endif /* SL_MGMT_INTERNAL_H */
