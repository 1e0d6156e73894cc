/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key_auth -- the caller of a management route: who it is after sl_http_authenticate(), the
 * role rules of LiteLLM's key management routes, and cache invalidation after a change.
 */
#define SL_LOG_MODULE "mgmt"
#include "gateway/mgmt/key_auth.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "gateway/auth/keys.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/worker.h"

/* The user id LiteLLM gives the master key (litellm_proxy_admin_name). */
#define SL_MGMT_ADMIN_USER_ID "default_user_id"

static void
read_changed_by(struct sl_request *r, struct sl_mgmt_caller *caller)
{
    h2o_req_t *req = r->req;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("litellm-changed-by"), -1);

    if (i >= 0 && req->headers.entries[i].value.len > 0) {
        h2o_iovec_t v = req->headers.entries[i].value;

        snprintf(caller->changed_by, sizeof(caller->changed_by), "%.*s",
                 (int)(v.len < SL_MGMT_CHANGED_BY_MAX ? v.len : SL_MGMT_CHANGED_BY_MAX), v.base);
        caller->changed_by_header = 1;
        return;
    }
    snprintf(caller->changed_by, sizeof(caller->changed_by), "%s", caller->user_id);
}

int
sl_mgmt_caller_init(struct sl_request *r, const struct sl_auth_record *rec,
                    struct sl_mgmt_caller *caller)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;

    memset(caller, 0, sizeof(*caller));
    if (rec == NULL) {
        /* NULL is also what a key let through by allow_requests_on_db_unavailable gets, so
         * the master key is checked again: such a key must not act as proxy_admin. */
        if (!sl_http_authenticate_master(r, cfg))
            return 0;
        snprintf(caller->user_id, sizeof(caller->user_id), "%s", SL_MGMT_ADMIN_USER_ID);
        snprintf(caller->role, sizeof(caller->role), "proxy_admin");
        caller->admin = 1;
        if (cfg->master_key != NULL)
            sl_mgmt_key_hash(cfg->master_key, strlen(cfg->master_key), caller->api_key_hash);
        read_changed_by(r, caller);
        return 1;
    }

    if (rec->user_id != NULL && strlen(rec->user_id) > SL_MGMT_USER_ID_MAX) {
        sl_request_respond_error(r, 401, "auth_error", "None",
                                 "Authentication Error, the key's user_id is longer than %d "
                                 "characters.",
                                 SL_MGMT_USER_ID_MAX);
        return 0;
    }
    snprintf(caller->user_id, sizeof(caller->user_id), "%s",
             rec->user_id != NULL ? rec->user_id : "");
    /* A key without a user row has no role, which no key route accepts. */
    snprintf(caller->role, sizeof(caller->role), "%s",
             rec->user_id != NULL && rec->has_user && rec->user_role != NULL ? rec->user_role : "");
    caller->admin =
        strcmp(caller->role, "proxy_admin") == 0 || strcmp(caller->role, "proxy_admin_viewer") == 0;
    memcpy(caller->api_key_hash, rec->token, sizeof(caller->api_key_hash));
    read_changed_by(r, caller);
    return 1;
}

int
sl_mgmt_route_status(const char *role, const char *route, struct sl_errbuf *err)
{
    int read_only = strcmp(route, "/key/info") == 0 || strcmp(route, "/key/list") == 0;

    int blocking = strcmp(route, "/key/block") == 0 || strcmp(route, "/key/unblock") == 0;

    if (strcmp(role, "proxy_admin") == 0)
        return 200;
    /* Users must not lift a block an admin placed, so blocking stays with proxy_admin. */
    if (strcmp(role, "internal_user") == 0 && blocking) {
        sl_errbuf_set(err, "Only proxy_admin may block or unblock keys. Your role=%s.", role);
        return 403;
    }
    if (strcmp(role, "internal_user") == 0)
        return 200;
    if (strcmp(role, "proxy_admin_viewer") == 0 || strcmp(role, "internal_user_viewer") == 0) {
        if (read_only)
            return 200;
        sl_errbuf_set(err,
                      "user not allowed to access this route, role= %s. Trying to access: "
                      "%s",
                      role, route);
        return 403;
    }
    sl_errbuf_set(err,
                  "Authentication Error, Only proxy admin can be used to generate, delete, "
                  "update info for new keys/users/teams. Route=%s. Your role=%s.",
                  route, role[0] != '\0' ? role : "None");
    return 401;
}

int
sl_mgmt_may_call(struct sl_request *r, const struct sl_mgmt_caller *caller, const char *route)
{
    struct sl_errbuf err;
    int status = sl_mgmt_route_status(caller->role, route, &err);

    if (status == 200)
        return 1;
    sl_request_respond_error(r, status, "auth_error", "None", "%s", err.msg);
    return 0;
}

void
sl_mgmt_invalidate_key(struct sl_worker *w, const char *token_hash)
{
    if (sl_auth_invalidate(w, token_hash) != SL_OK)
        sl_log(SL_LOG_ERROR, NULL, "mgmt.invalidate_failed", SL_LOG_STR("token", token_hash));
}
