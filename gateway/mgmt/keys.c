/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys -- the management routes under /key/: generate, update, delete, info, list, regenerate,
 * block and unblock, with LiteLLM's request and response shapes.
 *
 * Each call is one SQL statement (built in keys_sql.c) on the worker's PostgreSQL connection,
 * and the request holds a reference until it returns.
 * A plaintext key exists only in the call state of generate and regenerate: it is sent to
 * PostgreSQL as its SHA-256, returned once in the response, and wiped.
 *
 * Errors use the OpenAI envelope with LiteLLM's ProxyErrorTypes names (bad_request_error,
 * not_found_error, no_db_connection, ...) rather than the constant "internal_server_error"
 * type LiteLLM 1.81.13 puts on every management error.
 */
#define SL_LOG_MODULE "mgmt"
#include "gateway/mgmt/mgmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/internal.h"
#include "gateway/worker.h"

/* ---------------------------------------------------------------- helpers */

static void
call_free(struct sl_mgmt_call *c)
{
    if (c->plaintext != NULL) {
        OPENSSL_cleanse(c->plaintext, strlen(c->plaintext));
        free(c->plaintext);
    }
    if (c->key_ref != NULL) {
        OPENSSL_cleanse(c->key_ref, strlen(c->key_ref));
        free(c->key_ref);
    }
    free(c->alias);
    free(c->key_type);
    free(c->team_id);
    cJSON_Delete(c->delete_list);
    free(c);
}

/* Reads the `key` member of `body` as a key or hash into `c->hash`. Returns 0 with the 400
 * sent. */
static int
body_key_hash(struct sl_request *r, const cJSON *body, struct sl_mgmt_call *c)
{
    const char *ref = sl_json_get_string(body, "key");
    struct sl_errbuf err;

    if (ref == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key",
                      "Missing key: pass the key (sk-...) or its hash in the `key` field.");
        return 0;
    }
    if (sl_mgmt_key_ref(ref, c->hash, &err) != SL_OK) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key", err.msg);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- results */

static void
on_invalidate(struct sl_mgmt_call *c, const char *hash)
{
    sl_mgmt_invalidate_key(c->r->worker, hash);
}

/* Sends the key-specific error of a failed statement; other failures take the generic
 * mapping of sl_mgmt_run(). */
static int
on_db_error(struct sl_request *r, const char *state, const char *constraint, void *data)
{
    struct sl_mgmt_call *c = data;

    if (strcmp(state, "23505") == 0 && strcmp(constraint, "keys_key_alias_key") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "key_alias",
                                 "Key with alias '%s' already exists. Unique key aliases "
                                 "across all keys are required.",
                                 c->alias != NULL ? c->alias : "");
        return 1;
    }
    if (strcmp(state, "23505") == 0 && strcmp(constraint, "keys_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key",
                              "A key with this value already exists; choose another key.");
        return 1;
    }
    if (strcmp(state, "23503") == 0) {
        const char *field = strstr(constraint, "team_id") != NULL           ? "team_id"
                            : strstr(constraint, "organization_id") != NULL ? "organization_id"
                            : strstr(constraint, "budget_id") != NULL       ? "budget_id"
                                                                            : "user_id";
        sl_request_respond_error(r, 400, "bad_request_error", field,
                                 "The %s given does not exist; create it first.", field);
        return 1;
    }
    return 0;
}

static void
respond_key_not_found(struct sl_request *r)
{
    sl_mgmt_respond_error(r, 404, "not_found_error", "key",
                  "Key not found. Pass an existing key (sk-...) or its hash.");
}

/* Returns `list` as a JSON array, or NULL when it is empty (the setting allows all). */
static char *
strlist_json(const struct sl_strlist *list)
{
    cJSON *arr;
    char *text;

    if (list->n == 0)
        return NULL;
    arr = cJSON_CreateArray();
    for (size_t i = 0; i < list->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(list->items[i]));
    text = sl_json_print(arr);
    cJSON_Delete(arr);
    return text;
}

/* Sends the error of a team key the caller may not create: `rule` is the generate statement's
 * reason ("not_member", "role" or "permission") and `member_role` the caller's team role. */
static void
respond_team_denied(struct sl_mgmt_call *c, const char *rule, const char *member_role)
{
    struct sl_request *r = c->r;
    const char *team = c->team_id != NULL ? c->team_id : "";
    char *roles;

    if (strcmp(rule, "not_member") == 0) {
        sl_request_respond_error(r, 400, "bad_request_error", "team_id",
                                 "User=%s not assigned to team=%s", c->caller.user_id, team);
    } else if (strcmp(rule, "role") == 0) {
        roles = strlist_json(&r->worker->gw->cfg.team_key_allowed_roles);
        sl_request_respond_error(r, 400, "bad_request_error", "team_id",
                                 "Team member role %s not in allowed_team_member_roles=%s",
                                 member_role, roles != NULL ? roles : "[]");
        free(roles);
    } else {
        sl_request_respond_error(r, 403, "auth_error", "team_id",
                                 "Team member role %s may not create keys for team=%s: only team "
                                 "admins may, unless the team's team_member_permissions include "
                                 "/key/generate.",
                                 member_role, team);
    }
}

static void
on_generated(struct sl_mgmt_call *c, const PGresult *res)
{
    struct sl_request *r = c->r;
    /* Columns: allowed (bool), role checked (text), the key view (jsonb). */
    int allowed = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    cJSON *view;

    if (!allowed && PQntuples(res) == 1 && !PQgetisnull(res, 0, 3)) {
        respond_team_denied(c, PQgetvalue(res, 0, 3),
                            PQgetisnull(res, 0, 4) ? "None" : PQgetvalue(res, 0, 4));
        return;
    }
    if (!allowed) {
        sl_request_respond_error(r, 403, "auth_error", "None",
                                 "Personal key creation has been restricted by admin. Allowed "
                                 "roles: litellm_settings.key_generation_settings."
                                 "personal_key_generation.allowed_user_roles. Your role=%s. "
                                 "Pass a team_id to create a team key.",
                                 PQgetisnull(res, 0, 1) ? "None" : PQgetvalue(res, 0, 1));
        return;
    }
    view = sl_mgmt_result_json(res, 0, 2);
    if (view == NULL) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the new key was not returned by the database.");
        return;
    }
    on_invalidate(c, c->hash);
    cJSON_AddStringToObject(view, "key", c->plaintext);
    if (c->key_type != NULL)
        cJSON_AddStringToObject(view, "key_type", c->key_type);
    sl_mgmt_respond_json(r, view);
    cJSON_Delete(view);
}

static void
on_changed(struct sl_mgmt_call *c, const PGresult *res)
{
    cJSON *view = sl_mgmt_result_json(res, 0, 0);

    if (view == NULL) {
        respond_key_not_found(c->r);
        return;
    }
    on_invalidate(c, c->hash);
    if (c->op == SL_MGMT_OP_REGENERATE) {
        /* The new hash has no cached record yet, but the old one must go at once. */
        const char *token = sl_json_get_string(view, "token");
        if (token != NULL)
            on_invalidate(c, token);
        cJSON_AddStringToObject(view, "key", c->plaintext);
    }
    sl_mgmt_respond_json(c->r, view);
    cJSON_Delete(view);
}

static void
on_info(struct sl_mgmt_call *c, const PGresult *res)
{
    cJSON *view = sl_mgmt_result_json(res, 0, 0);
    cJSON *out;

    if (view == NULL) {
        respond_key_not_found(c->r);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(view, "token");
    out = cJSON_CreateObject();
    /* LiteLLM echoes the key as passed; the hash is echoed instead so that a plaintext key
     * only ever leaves the gateway in the response of the call that created it. */
    cJSON_AddStringToObject(out, "key", c->hash);
    cJSON_AddItemToObject(out, "info", view);
    sl_mgmt_respond_json(c->r, out);
    cJSON_Delete(out);
}

static void
on_listed(struct sl_mgmt_call *c, const PGresult *res)
{
    cJSON *out = sl_mgmt_result_json(res, 0, 0);

    if (out == NULL) {
        sl_mgmt_respond_error(c->r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the key list was not returned by the database.");
        return;
    }
    sl_mgmt_respond_json(c->r, out);
    cJSON_Delete(out);
}

static void
on_deleted(struct sl_mgmt_call *c, const PGresult *res)
{
    cJSON *out;
    int rows = PQntuples(res);

    /* Column 0 is the deleted hash; no row at all means some named key did not exist. */
    if (rows == 0) {
        sl_mgmt_respond_error(c->r, 404, "not_found_error", "keys",
                      "Some of the keys to delete were not found; nothing was deleted.");
        return;
    }
    for (int i = 0; i < rows; i++)
        on_invalidate(c, PQgetvalue(res, i, 0));
    out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "deleted_keys", c->delete_list);
    c->delete_list = NULL;
    sl_mgmt_respond_json(c->r, out);
    cJSON_Delete(out);
}

static void
on_query_done(struct sl_request *r, const PGresult *res, void *data)
{
    struct sl_mgmt_call *c = data;

    /* The client may have gone while the statement ran. A committed change is kept, so its
     * cached record must still go. */
    if (r->req == NULL) {
        if (c->op == SL_MGMT_OP_DELETE) {
            for (int i = 0; i < PQntuples(res); i++)
                sl_mgmt_invalidate_key(r->worker, PQgetvalue(res, i, 0));
        } else if (c->op != SL_MGMT_OP_INFO && c->op != SL_MGMT_OP_LIST) {
            sl_mgmt_invalidate_key(r->worker, c->hash);
        }
        return;
    }
    switch (c->op) {
    case SL_MGMT_OP_GENERATE:
        on_generated(c, res);
        break;
    case SL_MGMT_OP_UPDATE:
    case SL_MGMT_OP_BLOCK:
    case SL_MGMT_OP_UNBLOCK:
    case SL_MGMT_OP_REGENERATE:
        on_changed(c, res);
        break;
    case SL_MGMT_OP_DELETE:
        on_deleted(c, res);
        break;
    case SL_MGMT_OP_INFO:
        on_info(c, res);
        break;
    case SL_MGMT_OP_LIST:
        on_listed(c, res);
        break;
    }
}

static void
free_call(void *data)
{
    call_free(data);
}

static const struct sl_mgmt_query_ops key_ops = {on_query_done, on_db_error, free_call};

/* Queues `q`. The call state is freed once the outcome is handled, or at once (with the 503
 * sent) when the statement could not be queued. */
static void
run_query(struct sl_mgmt_call *c, struct sl_mgmt_sql *q)
{
    sl_mgmt_run(c->r, q, &key_ops, c);
}

/* ---------------------------------------------------------------- ownership */

/*
 * Applies the rules for callers that manage only their own keys: a key is always theirs
 * (user_id left out is theirs), and team keys and blocking are left to admins. Returns 0 with
 * the error sent.
 */
static int
check_ownership(struct sl_mgmt_call *c, struct sl_mgmt_key_fields *f)
{
    struct sl_mgmt_value *user = &f->v[SL_MGMT_F_USER_ID];

    if (c->owner == NULL)
        return 1;
    if (user->text != NULL && strcmp(user->text, c->owner) != 0) {
        sl_request_respond_error(c->r, 401, "auth_error", "user_id",
                                 "Authentication Error, User can only create keys for "
                                 "themselves. Got user_id=%s, Your ID=%s",
                                 user->text, c->owner);
        return 0;
    }
    if (f->v[SL_MGMT_F_BLOCKED].set) {
        sl_mgmt_respond_error(c->r, 403, "auth_error", "blocked",
                      "Only proxy_admin may block or unblock keys.");
        return 0;
    }
    /* Organizations and shared budgets are the admins' to assign. */
    if (f->v[SL_MGMT_F_ORGANIZATION_ID].set || f->v[SL_MGMT_F_BUDGET_ID].set) {
        sl_mgmt_respond_error(c->r, 403, "auth_error",
                              f->v[SL_MGMT_F_ORGANIZATION_ID].set ? "organization_id"
                                                                  : "budget_id",
                              "Only proxy_admin may set organization_id or budget_id on a key.");
        return 0;
    }
    /* A team key is created under the team rules that the generate statement checks; moving
     * a key between teams stays with admins. */
    if (f->v[SL_MGMT_F_TEAM_ID].set && c->op != SL_MGMT_OP_GENERATE) {
        sl_mgmt_respond_error(c->r, 403, "auth_error", "team_id",
                              "Only proxy_admin may move a key to another team.");
        return 0;
    }
    if (c->op == SL_MGMT_OP_GENERATE && !user->set) {
        user->set = 1;
        user->text = sl_xstrdup(c->owner);
    }
    return 1;
}

/* ---------------------------------------------------------------- generate */

/*
 * Applies key_generation_settings' required_params to a caller who is not an admin: the body
 * must send each listed field (team keys and personal keys have their own lists). Returns 0
 * with the 400 sent.
 */
static int
check_required_params(struct sl_request *r, const cJSON *body, int team_key)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    const struct sl_strlist *need =
        team_key ? &cfg->team_key_required_params : &cfg->personal_key_required_params;

    for (size_t i = 0; i < need->n; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, need->items[i]);

        if (item == NULL || cJSON_IsNull(item)) {
            sl_request_respond_error(r, 400, "bad_request_error", need->items[i],
                                     "Required param %s not in data", need->items[i]);
            return 0;
        }
    }
    return 1;
}

static int
budget_fields_set(const struct sl_mgmt_key_fields *f)
{
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (f->v[i].set)
            return 1;
    }
    return 0;
}

static void
clear_budget_fields(struct sl_mgmt_key_fields *f)
{
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        free(f->v[i].text);
        f->v[i].text = NULL;
        f->v[i].set = 0;
    }
}

/* Applies the body checks, the config defaults and the upper bounds. Returns 0 with the
 * error sent. */
static int
check_fields(struct sl_request *r, const cJSON *body, int for_update, struct sl_mgmt_key_fields *f)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    const char *param = NULL;
    struct sl_errbuf err;
    enum sl_status rc;

    rc = sl_mgmt_key_fields_parse(body, for_update, f, &param, &err);
    if (rc == SL_OK && f->v[SL_MGMT_F_BUDGET_ID].set && budget_fields_set(f)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "budget_id",
                              "Set either budget_id or the budget fields (max_budget, "
                              "soft_budget, tpm_limit, ...), not both.");
        return 0;
    }
    if (rc == SL_OK && !for_update)
        rc = sl_mgmt_apply_defaults(cfg, f, &err);
    if (rc == SL_OK)
        rc = sl_mgmt_apply_upper_bounds(cfg, !for_update, f, &param, &err);
    if (rc == SL_OK) {
        /* A key on an existing budget takes that budget's limits, not the config's. */
        if (f->v[SL_MGMT_F_BUDGET_ID].set)
            clear_budget_fields(f);
        return 1;
    }
    if (rc == SL_ERR_CONFIG) {
        sl_log(SL_LOG_ERROR, r->call_id, "mgmt.config_invalid", SL_LOG_STR("message", err.msg));
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL, err.msg);
        return 0;
    }
    sl_mgmt_respond_error(r, 400, "bad_request_error", param, err.msg);
    return 0;
}

static void
do_generate(struct sl_mgmt_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    struct sl_mgmt_key_fields f = {0};
    struct sl_mgmt_sql q;
    char generated[SL_MGMT_KEY_LEN + 1];
    char key_name[16];
    struct sl_mgmt_period period;
    char *roles = NULL;
    char *team_roles = NULL;

    if (!check_fields(r, body, 0, &f) || !check_ownership(c, &f) ||
        (c->owner != NULL &&
         !check_required_params(r, body, f.v[SL_MGMT_F_TEAM_ID].text != NULL)))
        goto fail;

    if (f.custom_key != NULL) {
        c->plaintext = f.custom_key;
        f.custom_key = NULL;
    } else {
        if (sl_mgmt_key_generate(generated) != SL_OK) {
            sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                          "Internal Server Error, the random generator failed.");
            goto fail;
        }
        c->plaintext = sl_xstrdup(generated);
        OPENSSL_cleanse(generated, sizeof(generated));
    }
    sl_mgmt_key_hash(c->plaintext, strlen(c->plaintext), c->hash);
    snprintf(key_name, sizeof(key_name), "sk-...%s", c->plaintext + strlen(c->plaintext) - 4);
    if (f.v[SL_MGMT_F_KEY_ALIAS].text != NULL)
        c->alias = sl_xstrdup(f.v[SL_MGMT_F_KEY_ALIAS].text);
    c->key_type = f.key_type != NULL ? sl_xstrdup(f.key_type) : NULL;

    if (f.v[SL_MGMT_F_TEAM_ID].text != NULL)
        c->team_id = sl_xstrdup(f.v[SL_MGMT_F_TEAM_ID].text);
    roles = strlist_json(&r->worker->gw->cfg.personal_key_allowed_roles);
    team_roles = strlist_json(&r->worker->gw->cfg.team_key_allowed_roles);
    sl_mgmt__budget_period(&f, (int64_t)(sl_wall_ms() / 1000), &period);
    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_generate(&q, c, &f, key_name, roles, team_roles, &period);
    run_query(c, &q);
    free(roles);
    free(team_roles);
    sl_mgmt_key_fields_dispose(&f);
    return;

fail:
    sl_mgmt_key_fields_dispose(&f);
    call_free(c);
}

/* ---------------------------------------------------------------- update, block */

static void
do_update(struct sl_mgmt_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    struct sl_mgmt_key_fields f = {0};
    struct sl_mgmt_sql q;
    struct sl_mgmt_period period;
    const char *action = "updated";

    if (!body_key_hash(r, body, c))
        goto fail;
    if (c->op == SL_MGMT_OP_UPDATE) {
        if (!check_fields(r, body, 1, &f) || !check_ownership(c, &f))
            goto fail;
        if (f.v[SL_MGMT_F_KEY_ALIAS].text != NULL)
            c->alias = sl_xstrdup(f.v[SL_MGMT_F_KEY_ALIAS].text);
    } else {
        /* Block and unblock set one field and take nothing else from the body. */
        f.v[SL_MGMT_F_BLOCKED].set = 1;
        f.v[SL_MGMT_F_BLOCKED].text = sl_xstrdup(c->op == SL_MGMT_OP_BLOCK ? "true" : "false");
        action = c->op == SL_MGMT_OP_BLOCK ? "blocked" : "unblocked";
    }
    sl_mgmt__budget_period(&f, (int64_t)(sl_wall_ms() / 1000), &period);
    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_update(&q, c, &f, action, &period);
    run_query(c, &q);
    sl_mgmt_key_fields_dispose(&f);
    return;

fail:
    sl_mgmt_key_fields_dispose(&f);
    call_free(c);
}

/* ---------------------------------------------------------------- regenerate */

/* Replaces the key's hash and name in place; the old hash stops matching at commit. */
static void
do_regenerate(struct sl_mgmt_call *c, const char *ref)
{
    struct sl_request *r = c->r;
    struct sl_errbuf err;
    struct sl_mgmt_sql q;
    char generated[SL_MGMT_KEY_LEN + 1];
    char new_hash[SL_MGMT_HASH_LEN + 1];
    char key_name[16];

    if (ref == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key",
                      "Missing key: pass the key (sk-...) or its hash in the `key` field.");
        goto fail;
    }
    if (sl_mgmt_key_ref(ref, c->hash, &err) != SL_OK) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key", err.msg);
        goto fail;
    }
    if (sl_mgmt_key_generate(generated) != SL_OK) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the random generator failed.");
        goto fail;
    }
    c->plaintext = sl_xstrdup(generated);
    OPENSSL_cleanse(generated, sizeof(generated));
    sl_mgmt_key_hash(c->plaintext, strlen(c->plaintext), new_hash);
    snprintf(key_name, sizeof(key_name), "sk-...%s", c->plaintext + SL_MGMT_KEY_LEN - 4);

    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_regenerate(&q, c, new_hash, key_name);
    run_query(c, &q);
    return;

fail:
    call_free(c);
}

/* ---------------------------------------------------------------- delete */

/* Reads `keys` (hashed) or `key_aliases` of the body into a JSON array for SQL. Returns 0
 * with the 400 sent. */
static int
delete_targets(struct sl_request *r, const cJSON *body, struct sl_mgmt_call *c, char **hashes,
               char **aliases)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(body, "keys");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(body, "key_aliases");
    const cJSON *list = cJSON_IsArray(keys) ? keys : names;
    const char *field = list == keys ? "keys" : "key_aliases";
    const cJSON *el;
    cJSON *out;
    struct sl_errbuf err;
    char hash[SL_MGMT_HASH_LEN + 1];

    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 ||
        cJSON_GetArraySize(list) > SL_MGMT_DELETE_MAX) {
        sl_request_respond_error(r, 400, "bad_request_error", "keys",
                                 "Pass {\"keys\": [...]} or {\"key_aliases\": [...]} with 1 to %d "
                                 "entries.",
                                 SL_MGMT_DELETE_MAX);
        return 0;
    }
    out = cJSON_CreateArray();
    cJSON_ArrayForEach(el, list)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_KEY_MAX_LEN) {
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "Every entry of %s must be a string.", field);
            cJSON_Delete(out);
            return 0;
        }
        if (list == keys) {
            if (sl_mgmt_key_ref(el->valuestring, hash, &err) != SL_OK) {
                sl_mgmt_respond_error(r, 400, "bad_request_error", "keys", err.msg);
                cJSON_Delete(out);
                return 0;
            }
            cJSON_AddItemToArray(out, cJSON_CreateString(hash));
        } else {
            cJSON_AddItemToArray(out, cJSON_CreateString(el->valuestring));
        }
    }
    *(list == keys ? hashes : aliases) = sl_json_print(out);
    /* LiteLLM echoes what was passed; keys are echoed as hashes so no plaintext key is sent. */
    c->delete_list = out;
    return 1;
}

static void
do_delete(struct sl_mgmt_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    char *hashes = NULL;
    char *aliases = NULL;
    struct sl_mgmt_sql q;

    if (!delete_targets(r, body, c, &hashes, &aliases)) {
        call_free(c);
        return;
    }

    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_delete(&q, c, hashes, aliases);
    run_query(c, &q);
    free(hashes);
    free(aliases);
}

/* ---------------------------------------------------------------- info, list */

static void
do_info(struct sl_mgmt_call *c)
{
    struct sl_request *r = c->r;
    struct sl_errbuf err;
    struct sl_mgmt_sql q;

    if (!sl_mgmt_query_param(r, "key", &c->key_ref)) {
        call_free(c);
        return;
    }
    if (c->key_ref == NULL) {
        /* No key: the calling key's own info. */
        memcpy(c->hash, c->caller.api_key_hash, sizeof(c->hash));
        if (c->hash[0] == '\0') {
            sl_mgmt_respond_error(r, 400, "bad_request_error", "key",
                          "Missing key: pass ?key=sk-... or the key's hash.");
            call_free(c);
            return;
        }
    } else if (sl_mgmt_key_ref(c->key_ref, c->hash, &err) != SL_OK) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "key", err.msg);
        call_free(c);
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_info(&q, c);
    run_query(c, &q);
}

static void
do_list(struct sl_mgmt_call *c)
{
    static const char *const filters[] = {SL_MGMT_LIST_FILTERS};
    struct sl_request *r = c->r;
    char *values[4] = {NULL, NULL, NULL, NULL};
    char page_text[24];
    char size_text[24];
    char offset_text[24];
    long page;
    long size;
    struct sl_mgmt_sql q;

    if (!sl_mgmt_query_int(r, "page", 1, 1, 1000000, &page) ||
        !sl_mgmt_query_int(r, "size", SL_MGMT_LIST_DEFAULT_SIZE, 1, SL_MGMT_LIST_MAX_SIZE, &size) ||
        !sl_mgmt_query_flag(r, "return_full_object", &c->full_object))
        goto fail;
    for (size_t i = 0; i < 4; i++) {
        if (!sl_mgmt_query_param(r, filters[i], &values[i]))
            goto fail;
    }
    snprintf(page_text, sizeof(page_text), "%ld", page);
    snprintf(size_text, sizeof(size_text), "%ld", size);
    snprintf(offset_text, sizeof(offset_text), "%ld", (page - 1) * size);

    sl_mgmt_sql_init(&q);
    sl_mgmt__sql_list(&q, c, (const char *const *)values, page_text, size_text, offset_text);
    run_query(c, &q);
    for (size_t i = 0; i < 4; i++)
        free(values[i]);
    return;

fail:
    for (size_t i = 0; i < 4; i++)
        free(values[i]);
    call_free(c);
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
    const char *path;
    enum sl_mgmt_op op;
    const char *method;
} key_routes[] = {
    {"/key/generate", SL_MGMT_OP_GENERATE, "POST"},
    {"/key/update", SL_MGMT_OP_UPDATE, "POST"},
    {"/key/delete", SL_MGMT_OP_DELETE, "POST"},
    {"/key/info", SL_MGMT_OP_INFO, "GET"},
    {"/key/list", SL_MGMT_OP_LIST, "GET"},
    {"/key/regenerate", SL_MGMT_OP_REGENERATE, "POST"},
    {"/key/block", SL_MGMT_OP_BLOCK, "POST"},
    {"/key/unblock", SL_MGMT_OP_UNBLOCK, "POST"},
};

/*
 * Matches /key/<key>/regenerate and returns the decoded <key> (owned), or NULL. The access log
 * must not carry a plaintext key, so the caller rewrites the logged path.
 */
static char *
path_regenerate_key(const h2o_req_t *req)
{
    const char *p = req->path_normalized.base;
    size_t len = req->path_normalized.len;
    static const char suffix[] = "/regenerate";
    size_t slen = sizeof(suffix) - 1;

    if (len <= 5 + slen || memcmp(p, "/key/", 5) != 0 || memcmp(p + len - slen, suffix, slen) != 0)
        return NULL;
    size_t key_len = len - 5 - slen;
    if (key_len == 0 || key_len > SL_MGMT_KEY_MAX_LEN || memchr(p + 5, '/', key_len) != NULL)
        return NULL;
    char *key = sl_xmalloc(key_len + 1);
    memcpy(key, p + 5, key_len);
    key[key_len] = '\0';
    return key;
}

static int
check_method(struct sl_request *r, const char *allowed)
{
    h2o_req_t *req = r->req;

    if (h2o_memis(req->method.base, req->method.len, allowed, strlen(allowed)))
        return 1;
    sl_request_add_header(r, "allow", allowed);
    sl_request_respond_error(r, 405, "invalid_request_error", "None",
                             "Method %.*s is not allowed on %s; use %s.", (int)req->method.len,
                             req->method.base, r->route, allowed);
    return 0;
}

/* Runs the route once the caller is known; `path_key` is the key of /key/<key>/regenerate. */
static void
dispatch(struct sl_mgmt_call *c, const char *path_key)
{
    struct sl_request *r = c->r;
    cJSON *body = NULL;

    if (r->worker->pg == NULL) {
        sl_mgmt_respond_error(r, 500, "no_db_connection", NULL,
                      "DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys");
        goto fail;
    }

    switch (c->op) {
    case SL_MGMT_OP_INFO:
        do_info(c);
        return;
    case SL_MGMT_OP_LIST:
        do_list(c);
        return;
    case SL_MGMT_OP_REGENERATE:
        /* The body is optional when the key is in the path. */
        if (path_key != NULL) {
            do_regenerate(c, path_key);
            return;
        }
        if (!sl_mgmt_parse_body(r, &body))
            goto fail;
        do_regenerate(c, sl_json_get_string(body, "key"));
        break;
    default:
        if (!sl_mgmt_parse_body(r, &body))
            goto fail;
        if (c->op == SL_MGMT_OP_GENERATE)
            do_generate(c, body);
        else if (c->op == SL_MGMT_OP_DELETE)
            do_delete(c, body);
        else
            do_update(c, body);
        break;
    }
    cJSON_Delete(body);
    return;

fail:
    cJSON_Delete(body);
    call_free(c);
}

static const char path_regenerate_route[] = "/key/{key}/regenerate";

static void
on_authenticated(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    struct sl_mgmt_caller caller;
    struct sl_mgmt_call *c;
    char *path_key = NULL;

    (void)privdata;
    if (!sl_mgmt_caller_init(r, rec, &caller) || !sl_mgmt_may_call(r, &caller, r->route))
        return;

    c = sl_xcalloc(1, sizeof(*c));
    c->r = r;
    c->caller = caller;
    c->owner = caller.admin ? NULL : c->caller.user_id;
    c->op = SL_MGMT_OP_REGENERATE;
    for (size_t i = 0; i < sizeof(key_routes) / sizeof(key_routes[0]); i++) {
        if (r->route == key_routes[i].path)
            c->op = key_routes[i].op;
    }
    if (r->route == path_regenerate_route)
        path_key = path_regenerate_key(r->req);
    dispatch(c, path_key);
    if (path_key != NULL) {
        OPENSSL_cleanse(path_key, strlen(path_key));
        free(path_key);
    }
}

int
sl_handle_key(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    const char *route = NULL;
    const char *method = "POST";
    struct sl_request *r;
    char *path_key = path_regenerate_key(req);

    if (path_key != NULL) {
        route = path_regenerate_route;
        OPENSSL_cleanse(path_key, strlen(path_key));
        free(path_key);
    }
    for (size_t i = 0; route == NULL && i < sizeof(key_routes) / sizeof(key_routes[0]); i++) {
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, key_routes[i].path,
                      strlen(key_routes[i].path))) {
            route = key_routes[i].path;
            method = key_routes[i].method;
        }
    }
    if (route == NULL)
        return sl_handle_not_found(self, req);

    r = sl_request_create(w, req, route);
    /* Log the route, never a key that was part of the path. */
    snprintf(r->path, sizeof(r->path), "%s", route);
    if (!check_method(r, method))
        return 0;
    sl_http_authenticate(r, on_authenticated, NULL);
    return 0;
}
