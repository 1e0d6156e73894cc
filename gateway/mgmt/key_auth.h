/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key_auth -- who calls a management route, whether their role may call it, and the
 * invalidation of a changed key's cached auth record.
 *
 * The master key acts as proxy_admin (as does everyone when no master key is configured, as in
 * LiteLLM). A virtual key acts with the role of its user; a key without a user has no role and
 * may not call management routes. Callers other than proxy_admin and proxy_admin_viewer only
 * see and change keys of their own user. Loop thread only.
 */
#ifndef SL_MGMT_KEY_AUTH_H
#define SL_MGMT_KEY_AUTH_H

#include "gateway/mgmt/key_fields.h"

struct sl_auth_record;
struct sl_request;
struct sl_worker;

/* Maximum length of the litellm-changed-by value kept for the audit log. */
#define SL_MGMT_CHANGED_BY_MAX 255

/* Maximum length of a caller's user id; a longer one is rejected. */
#define SL_MGMT_USER_ID_MAX 255

struct sl_mgmt_caller {
    char user_id[SL_MGMT_USER_ID_MAX + 1]; /* "" for a virtual key without a user */
    char role[32];                         /* a users.user_role value, "" when none */
    int admin; /* proxy_admin or proxy_admin_viewer: may read every key */
    char api_key_hash[SL_MGMT_HASH_LEN + 1]; /* hash of the caller's key; "" when none */
    /* The litellm-changed-by header when sent, else `user_id`. */
    char changed_by[SL_MGMT_CHANGED_BY_MAX + 1];
    int changed_by_header; /* 1 when `changed_by` came from the header */
};

/*
 * Fills `caller` for a request that passed sl_http_authenticate(): `rec` is the virtual key's
 * record, or NULL for the master key or with authentication off. A NULL `rec` for any other
 * key (a request let through while the key store is down) is rejected. Returns 1 when the
 * request may go on; otherwise the error has been sent.
 */
int sl_mgmt_caller_init(struct sl_request *r, const struct sl_auth_record *rec,
                        struct sl_mgmt_caller *caller);

/*
 * Decides whether `role` may call the key route `route` (e.g. "/key/generate"): proxy_admin
 * may call all of them, internal_user all but /key/block and /key/unblock, and
 * proxy_admin_viewer and internal_user_viewer only /key/info and /key/list. Returns 200, 403
 * for a write the role may not make, or 401 for any other role, with the message in `err`.
 */
int sl_mgmt_route_status(const char *role, const char *route, struct sl_errbuf *err);

/* Applies sl_mgmt_route_status() to `caller`. Returns 1 when allowed, else sends the error. */
int sl_mgmt_may_call(struct sl_request *r, const struct sl_mgmt_caller *caller, const char *route);

/* Drops the cached auth record of `token_hash` on every worker and node. */
void sl_mgmt_invalidate_key(struct sl_worker *w, const char *token_hash);

#endif /* SL_MGMT_KEY_AUTH_H */
