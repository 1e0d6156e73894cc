/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models -- the /model/ routes: new, update (also PATCH /model/<id>/update), delete and info
 * (also /v1/model/info), with LiteLLM's request and response shapes.
 *
 * Writes are for proxy_admin only and need general_settings.store_model_in_db, as in LiteLLM.
 * Credentials (model_row.h lists them) are sealed with the secret box before they reach
 * PostgreSQL and are never returned. After each write the worker announces the change, so
 * every worker of every node reloads its router (gateway/router/live.h). Info is open to every
 * authenticated caller and lists the config's deployments, then the stored ones.
 *
 * An update reads the row, then merges and checks the result in C, because the sealed
 * credentials must be opened to merge them. It writes the result only if the row's updated_at
 * is still the one it read, so a concurrent update makes it fail with 409 instead of being
 * lost.
 */
#define SL_LOG_MODULE "mgmt"
#include "gateway/mgmt/models.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/json.h"
#include "common/log.h"
#include "common/secretbox.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "gateway/auth/keys.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/fields.h"
#include "gateway/mgmt/http.h"
#include "gateway/router/live.h"
#include "gateway/router/model_row.h"
#include "gateway/router/router.h"
#include "gateway/worker.h"

/* LiteLLM 1.81.13's message, backticks included, when store_model_in_db is off. */
#define STORE_MODEL_IN_DB_MESSAGE                                                                  \
    "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature."

/* The model as the API returns it from a models row `m`: never the sealed columns. */
#define MODEL_VIEW(m)                                                                              \
    "jsonb_build_object('model_id', " m ".model_id, 'model_name', " m ".model_name, "              \
    "'litellm_params', " m ".litellm_params, 'model_info', " m ".model_info || "                   \
    "jsonb_build_object('id', " m ".model_id, 'db_model', true), 'created_at', " m ".created_at, " \
    "'created_by', " m ".created_by, 'updated_at', " m ".updated_at, 'updated_by', " m            \
    ".updated_by)"

enum model_op {
    MODEL_NEW,
    MODEL_UPDATE,
    MODEL_DELETE,
    MODEL_INFO,
};

struct model_route {
    const char *path;
    const char *method;
    enum model_op op;
    enum sl_mgmt_access access;
};

static const struct model_route model_routes[] = {
    {"/model/new", "POST", MODEL_NEW, SL_MGMT_ADMIN},
    {"/model/update", "POST", MODEL_UPDATE, SL_MGMT_ADMIN},
    {"/model/delete", "POST", MODEL_DELETE, SL_MGMT_ADMIN},
    {"/model/info", "GET", MODEL_INFO, SL_MGMT_INFO},
    {"/v1/model/info", "GET", MODEL_INFO, SL_MGMT_INFO},
};
static const struct model_route path_update_route = {"/model/{model_id}/update", "PATCH",
                                                     MODEL_UPDATE, SL_MGMT_ADMIN};

/* State of an update between its SELECT and its UPDATE. */
struct model_update {
    struct sl_mgmt_caller caller;
    char *model_id;
    cJSON *patch; /* model_name, litellm_params and model_info as sent */
};

/* ---------------------------------------------------------------- checks and sealing */

/*
 * Checks the JSON types of `params` that the YAML form of the config's checks cannot see: a
 * number there would pass as text ("model": 1 as "1"). Returns 0 with the 400 sent.
 */
static int
check_param_types(struct sl_request *r, const cJSON *params)
{
    const cJSON *item;
    const char *why = NULL;
    const char *name = "model";

    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(params, "model")))
        why = "must be a string such as \"openai/gpt-4o\"";
    cJSON_ArrayForEach(item, params)
    {
        if (why != NULL)
            break;
        name = item->string;
        if (cJSON_IsNumber(item) && !isfinite(item->valuedouble))
            why = "must be a finite number";
        else if (sl_model_row_is_secret(name) && !cJSON_IsString(item))
            why = "must be a string";
        else if (strcmp(name, "api_base") == 0 &&
                 (!cJSON_IsString(item) || (strncmp(item->valuestring, "http://", 7) != 0 &&
                                            strncmp(item->valuestring, "https://", 8) != 0)))
            why = "must be an http:// or https:// URL";
    }
    if (why == NULL)
        return 1;
    sl_request_respond_error(r, 400, "bad_request_error", "litellm_params",
                             "litellm_params.%s %s.", name, why);
    return 0;
}

/* Runs the deployment `model_name` + `params` + `info` through the config's checks. Returns
 * 0 with the 400 sent. */
static int
check_deployment(struct sl_request *r, const char *model_name, const cJSON *params,
                 const cJSON *info)
{
    cJSON *item;
    struct sl_deployment d;
    struct sl_errbuf err = {{0}};
    enum sl_status rc;
    char *text;

    if (!check_param_types(r, params))
        return 0;
    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "model_name", model_name);
    cJSON_AddItemToObject(item, "litellm_params", cJSON_Duplicate(params, 1));
    if (info != NULL)
        cJSON_AddItemToObject(item, "model_info", cJSON_Duplicate(info, 1));
    text = sl_json_print(item);
    rc = sl_config_parse_deployment(text, strlen(text), "model", &d, NULL, &err);
    if (rc == SL_OK) {
        rc = sl_router_check_deployment(&d, "model", &err);
        sl_config_deployment_dispose(&d);
    }
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    cJSON_Delete(item);
    if (rc == SL_OK)
        return 1;
    sl_mgmt_respond_error(r, 400, "bad_request_error", "litellm_params", err.msg);
    return 0;
}

/* Opens the box of this gateway's salt key. Returns 0 when no salt key is configured. */
static int
open_box(const struct sl_worker *w, struct sl_secretbox *box)
{
    const char *salt = sl_secretbox_salt_key(w->gw->cfg.master_key, NULL);

    if (salt == NULL)
        return 0;
    sl_secretbox_init(box, salt, strlen(salt));
    return 1;
}

/*
 * Seals `secrets` (may be NULL) into hex text for the statement: `*secret_hex` and
 * `*nonce_hex` are malloc'd, or NULL when there is nothing to seal. Returns 0 with the error
 * sent.
 */
static int
seal_secrets(struct sl_request *r, const cJSON *secrets, char **secret_hex, char **nonce_hex)
{
    struct sl_secretbox box;
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    struct sl_errbuf err = {{0}};
    enum sl_status rc;
    char *plain;

    *secret_hex = NULL;
    *nonce_hex = NULL;
    if (secrets == NULL)
        return 1;
    if (!open_box(r->worker, &box)) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "No salt key is configured to encrypt model credentials; set "
                              "SLUICE_SALT_KEY, LITELLM_SALT_KEY or general_settings.master_key.");
        return 0;
    }
    plain = sl_json_print(secrets);
    rc = sl_secretbox_seal(&box, plain, strlen(plain), nonce, &sealed, &sealed_len, &err);
    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
    sl_secretbox_dispose(&box);
    if (rc != SL_OK) {
        sl_mgmt_respond_error(r, rc == SL_ERR_TOO_LARGE ? 400 : 500,
                              rc == SL_ERR_TOO_LARGE ? "bad_request_error"
                                                     : "internal_server_error",
                              "litellm_params", err.msg);
        return 0;
    }
    *secret_hex = sl_xmalloc(2 * sealed_len + 1);
    *nonce_hex = sl_xmalloc(2 * SL_SECRETBOX_NONCE_BYTES + 1);
    sl_model_row_hex(sealed, sealed_len, *secret_hex);
    sl_model_row_hex(nonce, SL_SECRETBOX_NONCE_BYTES, *nonce_hex);
    free(sealed);
    return 1;
}

/* Reads the optional object member `name` of `body`. Returns 0 with the 400 sent when it is
 * present and not an object (JSON null counts as absent). */
static int
body_object(struct sl_request *r, const cJSON *body, const char *name, const cJSON **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);

    *out = NULL;
    if (item == NULL || cJSON_IsNull(item))
        return 1;
    if (!cJSON_IsObject(item)) {
        sl_mgmt_respond_bad_field(r, name, "a JSON object");
        return 0;
    }
    *out = item;
    return 1;
}

/* Returns model_info.id of `info` when it is a string; sends the 400 and sets `*bad` when it
 * is another type or too long. */
static const char *
info_id(struct sl_request *r, const cJSON *info, int *bad)
{
    return info != NULL ? sl_mgmt_body_string(r, info, "id", SL_MODEL_ROW_MAX_ID_BYTES, bad)
                        : (*bad = 0, NULL);
}

/* ---------------------------------------------------------------- new */

static void
on_changed(struct sl_request *r, const PGresult *res, void *data)
{
    (void)data;
    if (PQntuples(res) > 0)
        sl_router_live_announce(r->worker);
    sl_mgmt_respond_row(r, res, "id", "Model not found. Pass the model_info.id of a model "
                                      "stored in the database.");
}

static int
on_db_error(struct sl_request *r, const char *sqlstate, const char *constraint, void *data)
{
    (void)data;
    if (strcmp(sqlstate, "23505") == 0 && strcmp(constraint, "models_pkey") == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "model_info.id",
                              "A model with this model_info.id already exists.");
        return 1;
    }
    return 0;
}

static const struct sl_mgmt_query_ops changed_ops = {on_changed, on_db_error, NULL};

static void
model_new(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    const cJSON *params_in;
    const cJSON *info_in;
    cJSON *params = NULL;
    cJSON *info = NULL;
    cJSON *secrets = NULL;
    char *params_text = NULL;
    char *info_text = NULL;
    char *secret_hex = NULL;
    char *nonce_hex = NULL;
    const char *name;
    const char *id;
    struct sl_mgmt_sql q;
    int bad;

    name = sl_mgmt_body_string(r, body, "model_name", SL_MGMT_ID_MAX, &bad);
    if (bad || !body_object(r, body, "litellm_params", &params_in) ||
        !body_object(r, body, "model_info", &info_in))
        return;
    if (name == NULL || name[0] == '\0' || params_in == NULL) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", name == NULL ? "model_name"
                                                                        : "litellm_params",
                              "model_name and litellm_params are required to add a model.");
        return;
    }
    id = info_id(r, info_in, &bad);
    if (bad || !check_deployment(r, name, params_in, info_in))
        return;

    params = cJSON_Duplicate(params_in, 1);
    info = info_in != NULL ? cJSON_Duplicate(info_in, 1) : cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(info, "id"); /* kept in model_id */
    sl_model_row_split_secrets(params, &secrets);
    if (!seal_secrets(r, secrets, &secret_hex, &nonce_hex))
        goto out;
    params_text = sl_json_print(params);
    info_text = sl_json_print(info);

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH m AS (INSERT INTO models (model_id, model_name, litellm_params, "
                       "secret_ciphertext, secret_nonce, model_info, created_by, updated_by) "
                       "VALUES (coalesce(");
    sl_mgmt_bind(&q, id, "text");
    sl_mgmt_append(&q, ", gen_random_uuid()::text), ");
    sl_mgmt_bind(&q, name, "text");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, params_text, "jsonb");
    sl_mgmt_append(&q, ", decode(");
    sl_mgmt_bind(&q, secret_hex, "text");
    sl_mgmt_append(&q, ", 'hex'), decode(");
    sl_mgmt_bind(&q, nonce_hex, "text");
    sl_mgmt_append(&q, ", 'hex'), ");
    sl_mgmt_bind(&q, info_text, "jsonb");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_append(&q, ", ");
    sl_mgmt_bind(&q, caller->changed_by, "text");
    sl_mgmt_append(&q, ") RETURNING *)");
    sl_mgmt_sql_audit(&q, "a", caller, "created", "models", "m", "m.model_id", "NULL",
                      MODEL_VIEW("m"));
    sl_mgmt_append(&q, " SELECT " MODEL_VIEW("m") " FROM m");
    sl_mgmt_run(r, &q, &changed_ops, NULL);

out:
    cJSON_Delete(params);
    cJSON_Delete(info);
    cJSON_Delete(secrets);
    free(params_text);
    free(info_text);
    free(secret_hex);
    free(nonce_hex);
}

/* ---------------------------------------------------------------- update */

static void
update_free(void *data)
{
    struct model_update *u = data;

    free(u->model_id);
    cJSON_Delete(u->patch);
    free(u);
}

/* Applies the sent members of `patch` to `target`; a JSON null removes the member. */
static void
merge_object(cJSON *target, const cJSON *patch)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, patch)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(target, item->string);
        if (!cJSON_IsNull(item))
            cJSON_AddItemToObject(target, item->string, cJSON_Duplicate(item, 1));
    }
}

/* The stored row with the update applied, ready for the UPDATE statement. */
struct merged_row {
    const char *model_name; /* borrowed */
    char *params_text;
    char *info_text;
    char *secret_hex;
    char *nonce_hex;
};

static void
merged_row_dispose(struct merged_row *m)
{
    free(m->params_text);
    free(m->info_text);
    free(m->secret_hex);
    free(m->nonce_hex);
}

/* Opens the row's sealed credentials into `params`. Returns 0 with the 500 sent. */
static int
open_stored_secrets(struct sl_request *r, const PGresult *res, cJSON *params)
{
    struct sl_secretbox box;
    unsigned char *sealed = NULL;
    unsigned char *nonce = NULL;
    size_t sealed_len = 0;
    size_t nonce_len = 0;
    char *plain = NULL;
    size_t plain_len = 0;
    cJSON *secrets = NULL;
    int have_box;
    int ok = 0;

    if (PQgetisnull(res, 0, 3))
        return 1;
    have_box = open_box(r->worker, &box);
    if (have_box &&
        sl_model_row_unhex(PQgetvalue(res, 0, 3),
                           SL_SECRETBOX_MAX_PLAINTEXT_BYTES + SL_SECRETBOX_TAG_BYTES, &sealed,
                           &sealed_len) == SL_OK &&
        sl_model_row_unhex(PQgetvalue(res, 0, 4), SL_SECRETBOX_NONCE_BYTES, &nonce,
                           &nonce_len) == SL_OK &&
        nonce_len == SL_SECRETBOX_NONCE_BYTES &&
        sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL) == SL_OK &&
        sl_json_parse(plain, plain_len, SL_JSON_MAX_DEPTH, &secrets, NULL) == SL_OK &&
        cJSON_IsObject(secrets)) {
        merge_object(params, secrets);
        ok = 1;
    }
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    cJSON_Delete(secrets);
    free(sealed);
    free(nonce);
    if (have_box)
        sl_secretbox_dispose(&box);
    if (!ok) {
        sl_log(SL_LOG_ERROR, r->call_id, "models.secret_unreadable", SL_LOG_STR("route", r->path));
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "The stored credentials of this model cannot be decrypted; check "
                              "that the salt key is the one they were stored with.");
    }
    return ok;
}

/*
 * Builds the updated row from the stored one (columns: model_name, litellm_params,
 * model_info, secret hex, nonce hex, updated_at) and the patch. Returns 0 with the error sent.
 */
static int
merge_row(struct sl_request *r, const PGresult *res, const cJSON *patch, struct merged_row *m)
{
    const cJSON *patch_name = cJSON_GetObjectItemCaseSensitive(patch, "model_name");
    cJSON *params = NULL;
    cJSON *info = NULL;
    cJSON *secrets = NULL;
    int ok = 0;

    m->model_name = cJSON_IsString(patch_name) ? patch_name->valuestring : PQgetvalue(res, 0, 0);
    params = cJSON_Parse(PQgetvalue(res, 0, 1));
    info = cJSON_Parse(PQgetvalue(res, 0, 2));
    if (!cJSON_IsObject(params) || !cJSON_IsObject(info)) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "Internal Server Error, the stored model is not valid JSON.");
        goto out;
    }
    if (!open_stored_secrets(r, res, params))
        goto out;
    merge_object(params, cJSON_GetObjectItemCaseSensitive(patch, "litellm_params"));
    merge_object(info, cJSON_GetObjectItemCaseSensitive(patch, "model_info"));
    cJSON_DeleteItemFromObjectCaseSensitive(info, "id");
    if (!check_deployment(r, m->model_name, params, info))
        goto out;

    sl_model_row_split_secrets(params, &secrets);
    if (!seal_secrets(r, secrets, &m->secret_hex, &m->nonce_hex))
        goto out;
    m->params_text = sl_json_print(params);
    m->info_text = sl_json_print(info);
    ok = 1;

out:
    cJSON_Delete(params);
    cJSON_Delete(info);
    cJSON_Delete(secrets);
    return ok;
}

static void
on_updated(struct sl_request *r, const PGresult *res, void *data)
{
    (void)data;
    if (PQntuples(res) == 0) {
        sl_mgmt_respond_error(r, 409, "conflict_error", "id",
                              "The model was changed or deleted while this update ran; read it "
                              "again and retry.");
        return;
    }
    sl_router_live_announce(r->worker);
    sl_mgmt_respond_row(r, res, "id", "Model not found.");
}

static const struct sl_mgmt_query_ops updated_ops = {on_updated, NULL, NULL};

static void
on_update_read(struct sl_request *r, const PGresult *res, void *data)
{
    struct model_update *u = data;
    struct merged_row m = {0};
    struct sl_mgmt_sql q;

    if (r->req == NULL)
        return;
    if (PQntuples(res) == 0) {
        sl_request_respond_error(r, 404, "not_found_error", "id",
                                 "Model with id=%s not found in the database; only models added "
                                 "through /model/new can be updated.",
                                 u->model_id);
        return;
    }
    if (!merge_row(r, res, u->patch, &m))
        goto out;

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH old AS (SELECT * FROM models WHERE model_id = ");
    sl_mgmt_bind(&q, u->model_id, "text");
    sl_mgmt_append(&q, "), m AS (UPDATE models SET model_name = ");
    sl_mgmt_bind(&q, m.model_name, "text");
    sl_mgmt_append(&q, ", litellm_params = ");
    sl_mgmt_bind(&q, m.params_text, "jsonb");
    sl_mgmt_append(&q, ", model_info = ");
    sl_mgmt_bind(&q, m.info_text, "jsonb");
    sl_mgmt_append(&q, ", secret_ciphertext = decode(");
    sl_mgmt_bind(&q, m.secret_hex, "text");
    sl_mgmt_append(&q, ", 'hex'), secret_nonce = decode(");
    sl_mgmt_bind(&q, m.nonce_hex, "text");
    sl_mgmt_append(&q, ", 'hex'), updated_at = now(), updated_by = ");
    sl_mgmt_bind(&q, u->caller.changed_by, "text");
    sl_mgmt_append(&q, " FROM old WHERE models.model_id = old.model_id AND old.updated_at = ");
    sl_mgmt_bind(&q, PQgetvalue(res, 0, 5), "timestamptz");
    sl_mgmt_append(&q, " RETURNING models.*)");
    sl_mgmt_sql_audit(&q, "a", &u->caller, "updated", "models", "m JOIN old USING (model_id)",
                      "m.model_id", MODEL_VIEW("old"), MODEL_VIEW("m"));
    sl_mgmt_append(&q, " SELECT " MODEL_VIEW("m") " FROM m");
    sl_mgmt_run(r, &q, &updated_ops, NULL);

out:
    merged_row_dispose(&m);
}

static const struct sl_mgmt_query_ops update_read_ops = {on_update_read, NULL, update_free};

/* Starts an update of `model_id` (NULL: model_info.id of the body) with the body's fields. */
static void
model_update(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body,
             const char *model_id)
{
    const cJSON *params;
    const cJSON *info;
    const char *name;
    struct model_update *u;
    struct sl_mgmt_sql q;
    int bad;

    name = sl_mgmt_body_string(r, body, "model_name", SL_MGMT_ID_MAX, &bad);
    if (bad || !body_object(r, body, "litellm_params", &params) ||
        !body_object(r, body, "model_info", &info))
        return;
    if (model_id == NULL) {
        model_id = info_id(r, info, &bad);
        if (bad)
            return;
    }
    if (model_id == NULL || model_id[0] == '\0') {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "model_info.id",
                              "model_info.id is required to update a model.");
        return;
    }
    if (name != NULL && name[0] == '\0') {
        sl_mgmt_respond_bad_field(r, "model_name", "a non-empty string");
        return;
    }

    u = sl_xcalloc(1, sizeof(*u));
    u->caller = *caller;
    u->model_id = sl_xstrdup(model_id);
    u->patch = cJSON_CreateObject();
    if (name != NULL)
        cJSON_AddStringToObject(u->patch, "model_name", name);
    if (params != NULL)
        cJSON_AddItemToObject(u->patch, "litellm_params", cJSON_Duplicate(params, 1));
    if (info != NULL)
        cJSON_AddItemToObject(u->patch, "model_info", cJSON_Duplicate(info, 1));

    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "SELECT model_name, litellm_params::text, model_info::text, "
                       "encode(secret_ciphertext, 'hex'), encode(secret_nonce, 'hex'), "
                       "updated_at::text FROM models WHERE model_id = ");
    sl_mgmt_bind(&q, u->model_id, "text");
    sl_mgmt_run(r, &q, &update_read_ops, u);
}

/* ---------------------------------------------------------------- delete */

static void
on_deleted(struct sl_request *r, const PGresult *res, void *data)
{
    cJSON *out;
    char message[SL_MODEL_ROW_MAX_ID_BYTES + 64];

    (void)data;
    if (PQntuples(res) == 0) {
        sl_mgmt_respond_error(r, 404, "not_found_error", "id",
                              "Model not found in the database. Pass the model_info.id of a "
                              "model added through /model/new.");
        return;
    }
    sl_router_live_announce(r->worker);
    snprintf(message, sizeof(message), "Model: %s deleted successfully", PQgetvalue(res, 0, 0));
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "message", message);
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static const struct sl_mgmt_query_ops deleted_ops = {on_deleted, NULL, NULL};

static void
model_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_mgmt_sql q;
    const char *id;
    int bad;

    id = sl_mgmt_body_string(r, body, "id", SL_MODEL_ROW_MAX_ID_BYTES, &bad);
    if (bad)
        return;
    if (id == NULL || id[0] == '\0') {
        sl_mgmt_respond_error(r, 400, "bad_request_error", "id",
                              "id is required: pass {\"id\": \"<model_info.id>\"}.");
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt_append(&q, "WITH m AS (DELETE FROM models WHERE model_id = ");
    sl_mgmt_bind(&q, id, "text");
    sl_mgmt_append(&q, " RETURNING *)");
    sl_mgmt_sql_audit(&q, "a", caller, "deleted", "models", "m", "m.model_id", MODEL_VIEW("m"),
                      "NULL");
    sl_mgmt_append(&q, " SELECT model_id FROM m");
    sl_mgmt_run(r, &q, &deleted_ops, NULL);
}

/* ---------------------------------------------------------------- info */

static void
add_string(cJSON *obj, const char *name, const char *value)
{
    if (value != NULL)
        cJSON_AddStringToObject(obj, name, value);
}

static void
add_int(cJSON *obj, const char *name, int64_t value)
{
    if (value != SL_CONFIG_UNSET_INT)
        cJSON_AddNumberToObject(obj, name, (double)value);
}

static void
add_double(cJSON *obj, const char *name, double value)
{
    if (!isnan(value))
        cJSON_AddNumberToObject(obj, name, value);
}

static void
add_strlist(cJSON *obj, const char *name, const struct sl_strlist *list)
{
    if (list->n > 0)
        cJSON_AddItemToObject(obj, name,
                              cJSON_CreateStringArray((const char *const *)list->items,
                                                      (int)list->n));
}

/* The info entry of a config deployment. Credentials are left out, like a stored model's. */
static cJSON *
config_entry(const struct sl_deployment *d)
{
    cJSON *entry = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(entry, "litellm_params");
    cJSON *info;

    cJSON_AddStringToObject(entry, "model_name", d->model_name);
    add_string(params, "model", d->model);
    if (d->api_base != NULL) {
        struct sl_buf base;

        sl_buf_init(&base, 0);
        sl_url_append_redacted(&base, d->api_base);
        sl_buf_append(&base, "", 1);
        add_string(params, "api_base", base.data);
        sl_buf_dispose(&base);
    }
    add_string(params, "api_version", d->api_version);
    add_string(params, "organization", d->organization);
    add_double(params, "timeout", d->timeout_s);
    add_double(params, "stream_timeout", d->stream_timeout_s);
    add_int(params, "max_retries", d->max_retries);
    add_int(params, "num_retries", d->num_retries);
    add_int(params, "rpm", d->rpm);
    add_int(params, "tpm", d->tpm);
    add_double(params, "weight", d->weight);
    add_int(params, "order", d->order);
    add_int(params, "max_parallel_requests", d->max_parallel_requests);
    add_double(params, "input_cost_per_token", d->input_cost_per_token);
    add_double(params, "output_cost_per_token", d->output_cost_per_token);
    add_string(params, "region_name", d->region_name);
    add_string(params, "aws_region_name", d->aws_region_name);
    add_strlist(params, "tags", &d->tags);

    info = cJSON_AddObjectToObject(entry, "model_info");
    cJSON_AddStringToObject(info, "id", d->id);
    add_string(info, "mode", d->mode);
    add_string(info, "base_model", d->base_model);
    add_strlist(info, "access_groups", &d->access_groups);
    cJSON_AddBoolToObject(info, "db_model", 0);
    return entry;
}

/* {"data": [...]} with the config's deployments whose id is `id` (every one when NULL). */
static cJSON *
config_info(const struct sl_config *cfg, const char *id)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(out, "data");

    for (size_t i = 0; i < cfg->n_deployments; i++) {
        if (id == NULL || strcmp(cfg->deployments[i].id, id) == 0)
            cJSON_AddItemToArray(data, config_entry(&cfg->deployments[i]));
    }
    return out;
}

/* A /model/info call: the response being built and, for a caller who is not an admin, a copy
 * of its key's record to filter the models by. */
struct info_call {
    cJSON *out;
    int filter;
    struct sl_auth_record rec;
};

/* Drops the entries of `out` whose model group the key of `c` may not call, as LiteLLM shows
 * non-admins only their models. */
static void
filter_info(struct sl_request *r, struct info_call *c)
{
    const struct sl_router *router = sl_router_live_current(r->worker);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(c->out, "data");
    cJSON *entry = list != NULL ? list->child : NULL;

    while (entry != NULL) {
        cJSON *next = entry->next;
        const char *name = sl_json_get_string(entry, "model_name");

        if (name == NULL || !sl_http_model_allowed(&c->rec, name, sl_router_find(router, name)))
            cJSON_Delete(cJSON_DetachItemViaPointer(list, entry));
        entry = next;
    }
}

/* Replaces the api_base of each stored entry of `list` with its form without credentials. */
static void
redact_api_bases(cJSON *list)
{
    for (cJSON *entry = list != NULL ? list->child : NULL; entry != NULL; entry = entry->next) {
        cJSON *params = cJSON_GetObjectItemCaseSensitive(entry, "litellm_params");
        cJSON *base = cJSON_GetObjectItemCaseSensitive(params, "api_base");
        struct sl_buf redacted;

        if (!cJSON_IsString(base))
            continue;
        sl_buf_init(&redacted, 0);
        sl_url_append_redacted(&redacted, base->valuestring);
        sl_buf_append(&redacted, "", 1);
        cJSON_ReplaceItemInObjectCaseSensitive(params, "api_base",
                                               cJSON_CreateString(redacted.data));
        sl_buf_dispose(&redacted);
    }
}

static void
on_info(struct sl_request *r, const PGresult *res, void *data)
{
    struct info_call *c = data;
    cJSON *stored = sl_mgmt_result_json(res, 0, 0);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(c->out, "data");

    while (cJSON_IsArray(stored) && stored->child != NULL)
        cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(stored, stored->child));
    cJSON_Delete(stored);
    if (r->req == NULL)
        return;
    redact_api_bases(list);
    if (c->filter)
        filter_info(r, c);
    sl_mgmt_respond_json(r, c->out);
}

static void
info_free(void *data)
{
    struct info_call *c = data;

    cJSON_Delete(c->out);
    if (c->filter)
        sl_auth_record_dispose(&c->rec);
    free(c);
}

static const struct sl_mgmt_query_ops info_ops = {on_info, NULL, info_free};

/* Serves /model/info. `rec` is the caller's key record, NULL for the master key. */
static void
model_info(struct sl_request *r, const struct sl_mgmt_caller *caller,
           const struct sl_auth_record *rec)
{
    char *id = NULL;
    struct info_call *c;
    struct sl_mgmt_sql q;

    if (!sl_mgmt_query_param(r, "litellm_model_id", &id))
        return;
    c = sl_xcalloc(1, sizeof(*c));
    c->out = config_info(&r->worker->gw->cfg, id);
    if (rec != NULL && !caller->admin) {
        c->filter = 1;
        sl_auth_record_copy(&c->rec, rec);
    }
    if (r->worker->pg == NULL) {
        if (c->filter)
            filter_info(r, c);
        sl_mgmt_respond_json(r, c->out);
        info_free(c);
        free(id);
        return;
    }
    sl_mgmt_sql_init(&q);
    sl_mgmt_appendf(&q,
                    "SELECT coalesce(jsonb_agg(jsonb_build_object('model_name', m.model_name, "
                    "'litellm_params', m.litellm_params, 'model_info', m.model_info || "
                    "jsonb_build_object('id', m.model_id, 'db_model', true, 'created_at', "
                    "m.created_at, 'updated_at', m.updated_at)) ORDER BY m.created_at, "
                    "m.model_id), '[]') FROM (SELECT * FROM models WHERE %s ORDER BY "
                    "created_at, model_id LIMIT %d) m",
                    id != NULL ? "model_id = $1::text" : "true", SL_ROUTER_LIVE_MAX_ROWS);
    if (id != NULL) {
        q.params[0] = id;
        q.n = 1;
    }
    sl_mgmt_run(r, &q, &info_ops, c);
    free(id);
}

/* ---------------------------------------------------------------- dispatch */

/* Matches /model/<model_id>/update and returns <model_id> (owned), or NULL. */
static char *
path_model_id(const h2o_req_t *req)
{
    static const char prefix[] = "/model/";
    static const char suffix[] = "/update";
    const char *p = req->path_normalized.base;
    size_t len = req->path_normalized.len;
    size_t plen = sizeof(prefix) - 1;
    size_t slen = sizeof(suffix) - 1;
    size_t id_len;

    if (len <= plen + slen || memcmp(p, prefix, plen) != 0 ||
        memcmp(p + len - slen, suffix, slen) != 0)
        return NULL;
    id_len = len - plen - slen;
    if (id_len > SL_MODEL_ROW_MAX_ID_BYTES || memchr(p + plen, '/', id_len) != NULL ||
        memchr(p + plen, '\0', id_len) != NULL || !sl_utf8_valid(p + plen, id_len))
        return NULL;
    return sl_xstrndup(p + plen, id_len);
}

static void
on_authenticated(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct model_route *rt = privdata;
    const struct sl_config *cfg = &r->worker->gw->cfg;
    struct sl_mgmt_caller caller;
    struct sl_errbuf err;
    cJSON *body = NULL;
    char *path_id = NULL;
    int status;

    if (!sl_mgmt_caller_init(r, rec, &caller))
        goto out;
    status = sl_mgmt_access_status(caller.role, rt->access, rt->path, &err);
    if (status != 200) {
        sl_request_respond_error(r, status, "auth_error", "None", "%s", err.msg);
        goto out;
    }
    if (rt->op == MODEL_INFO) {
        model_info(r, &caller, rec);
        goto out;
    }
    if (r->worker->pg == NULL) {
        sl_mgmt_respond_error(r, 500, "no_db_connection", NULL,
                              "No DB Connected. Here's how to do it - "
                              "https://docs.litellm.ai/docs/proxy/virtual_keys");
        goto out;
    }
    if (!cfg->store_model_in_db) {
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL, STORE_MODEL_IN_DB_MESSAGE);
        goto out;
    }
    if (!sl_mgmt_parse_body(r, &body))
        goto out;
    if (rt->op == MODEL_NEW)
        model_new(r, &caller, body);
    else if (rt->op == MODEL_DELETE)
        model_delete(r, &caller, body);
    else if (rt == &path_update_route && (path_id = path_model_id(r->req)) != NULL)
        model_update(r, &caller, body, path_id);
    else
        model_update(r, &caller, body, NULL);

out:
    cJSON_Delete(body);
    free(path_id);
}

int
sl_handle_model(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    const struct model_route *rt = NULL;
    struct sl_request *r;
    char *path_id = path_model_id(req);

    if (path_id != NULL)
        rt = &path_update_route;
    free(path_id);
    for (size_t i = 0; rt == NULL && i < sizeof(model_routes) / sizeof(model_routes[0]); i++) {
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, model_routes[i].path,
                      strlen(model_routes[i].path)))
            rt = &model_routes[i];
    }
    if (rt == NULL)
        return sl_handle_not_found(self, req);

    r = sl_request_create(w, req, rt->path);
    snprintf(r->path, sizeof(r->path), "%s", rt->path);
    if (!h2o_memis(req->method.base, req->method.len, rt->method, strlen(rt->method))) {
        sl_request_add_header(r, "allow", rt->method);
        sl_request_respond_error(r, 405, "invalid_request_error", "None",
                                 "Method %.*s is not allowed on %s; use %s.", (int)req->method.len,
                                 req->method.base, rt->path, rt->method);
        return 0;
    }
    /* The table is constant; the callback only reads the entry back. */
    sl_http_authenticate(r, on_authenticated, (void *)(uintptr_t)rt);
    return 0;
}
