/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys -- the management routes under /key/: generate, update, delete, info, list, regenerate,
 * block and unblock, with LiteLLM's request and response shapes.
 *
 * Each call is one SQL statement on the worker's PostgreSQL connection. Data-modifying CTEs
 * write the key, its budget row, the audit_log row and (on delete) the deleted_keys copy, so
 * they commit or fail together. The request holds a reference until the statement returns.
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
#include "common/json.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/key_auth.h"
#include "gateway/mgmt/key_fields.h"
#include "gateway/worker.h"

#define SL_MGMT_MAX_PARAMS 48
/* Keys or aliases one /key/delete call may name. */
#define SL_MGMT_DELETE_MAX 1000
/* Longest query parameter value accepted, after decoding. */
#define SL_MGMT_QUERY_MAX 1024
#define SL_MGMT_LIST_MAX_SIZE 100
#define SL_MGMT_LIST_DEFAULT_SIZE 10

/*
 * The key as the API returns it: every column of keys, plus the limits of its budget row and
 * the per-model limits kept in metadata, flattened as LiteLLM's key rows have them. `k` is a
 * keys row and `b` a budgets row, which may be all NULL.
 */
#define KEY_VIEW(k, b)                                                                             \
    "(to_jsonb(" k ") || jsonb_build_object('token_id', " k ".token, "                             \
    "'max_budget', " b ".max_budget, 'soft_budget', " b ".soft_budget, "                           \
    "'max_parallel_requests', " b ".max_parallel_requests, 'tpm_limit', " b ".tpm_limit, "         \
    "'rpm_limit', " b ".rpm_limit, 'budget_duration', " b ".budget_duration, "                     \
    "'budget_reset_at', " b ".budget_reset_at, "                                                   \
    "'model_rpm_limit', " k ".metadata->'model_rpm_limit', "                                       \
    "'model_tpm_limit', " k ".metadata->'model_tpm_limit'))"

enum key_op {
    OP_GENERATE,
    OP_UPDATE,
    OP_BLOCK,
    OP_UNBLOCK,
    OP_DELETE,
    OP_INFO,
    OP_LIST,
    OP_REGENERATE,
};

/* State of one management call, from the handler to the SQL result. */
struct key_call {
    struct sl_request *r;
    enum key_op op;
    struct sl_mgmt_caller caller;
    const char *owner; /* caller.user_id when the caller may touch only its own keys, else NULL */
    char hash[SL_MGMT_HASH_LEN + 1]; /* the key the call is about, when there is one */
    char *plaintext;                 /* generate and regenerate: the new key; wiped on free */
    char *key_ref;                   /* info: the ?key= value; wiped on free */
    char *alias;                     /* generate and update: for the duplicate alias message */
    char *key_type;                  /* generate: echoed in the response */
    cJSON *delete_list;              /* delete: the names passed, echoed in the response */
    int full_object;                 /* list */
};

/* One SQL statement and its text parameters, bound as $1, $2, ... in order. */
struct sql {
    struct sl_buf text;
    const char *params[SL_MGMT_MAX_PARAMS];
    int n;
};

/* ---------------------------------------------------------------- helpers */

static void
sql_init(struct sql *q)
{
    sl_buf_init(&q->text, 0);
    q->n = 0;
}

/* Appends "$<n>::<cast>" for `value` (borrowed until the query is queued; NULL is SQL NULL). */
static void
sql_bind(struct sql *q, const char *value, const char *cast)
{
    /* Every statement here binds a fixed, small set of parameters. */
    if (q->n >= SL_MGMT_MAX_PARAMS)
        abort();
    q->params[q->n++] = value;
    sl_buf_printf(&q->text, "$%d::%s", q->n, cast);
}

static void
sql_append(struct sql *q, const char *s)
{
    sl_buf_append_str(&q->text, s);
}

static void
key_call_free(struct key_call *c)
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
    cJSON_Delete(c->delete_list);
    free(c);
}

/* Sends a management error; LiteLLM's management errors carry the param "None" when unset. */
static void
respond_error(struct sl_request *r, int status, const char *type, const char *param,
              const char *message)
{
    sl_request_respond_error(r, status, type, param != NULL ? param : "None", "%s", message);
}

static void
respond_cjson(struct sl_request *r, const cJSON *obj)
{
    char *text = sl_json_print(obj);

    sl_request_respond_json(r, 200, text, strlen(text));
    free(text);
}

/* Decodes %XX escapes and '+' of a query value into `out`. Returns 0 on a bad escape. */
static int
url_decode(const char *s, size_t len, struct sl_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            char hex[3] = {0};
            char *end;

            if (i + 2 >= len)
                return 0;
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            long v = strtol(hex, &end, 16);
            if (end != hex + 2)
                return 0;
            c = (char)v;
            i += 2;
        }
        if (sl_buf_append(out, &c, 1) != SL_OK)
            return 0;
    }
    return 1;
}

/*
 * Finds `name` in the query string and stores its decoded value (owned) in `*value`, NULL
 * when absent. Returns 0 with the 400 sent when the value is too long or badly escaped.
 */
static int
query_param(struct sl_request *r, const char *name, char **value)
{
    h2o_req_t *req = r->req;
    size_t name_len = strlen(name);
    const char *p;
    const char *end;

    *value = NULL;
    if (req->query_at == SIZE_MAX)
        return 1;
    p = req->path.base + req->query_at + 1;
    end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;

        if ((size_t)(stop - p) > name_len && memcmp(p, name, name_len) == 0 && p[name_len] == '=') {
            struct sl_buf buf;

            sl_buf_init(&buf, SL_MGMT_QUERY_MAX);
            if (!url_decode(p + name_len + 1, (size_t)(stop - p) - name_len - 1, &buf)) {
                sl_buf_dispose(&buf);
                sl_request_respond_error(r, 400, "bad_request_error", name,
                                         "Query parameter %s is badly escaped or longer than %d "
                                         "bytes.", name, SL_MGMT_QUERY_MAX);
                return 0;
            }
            sl_buf_append(&buf, "", 1);
            *value = sl_buf_take(&buf, NULL);
            return 1;
        }
        p = stop + 1;
    }
    return 1;
}

/* Parses a query integer in [min, max]; `def` when absent. Returns 0 with the 400 sent. */
static int
query_int(struct sl_request *r, const char *name, long def, long min, long max, long *out)
{
    char *text = NULL;
    char *end;
    long v;

    if (!query_param(r, name, &text))
        return 0;
    if (text == NULL) {
        *out = def;
        return 1;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        sl_request_respond_error(r, 400, "bad_request_error", name,
                                 "Query parameter %s must be a whole number from %ld to %ld.",
                                 name, min, max);
        free(text);
        return 0;
    }
    free(text);
    *out = v;
    return 1;
}

/* Parses the body as a JSON object into `*body`. Returns 0 with the 400 sent. */
static int
parse_body(struct sl_request *r, cJSON **body)
{
    h2o_req_t *req = r->req;
    struct sl_errbuf err;
    const struct sl_config *cfg = &r->worker->gw->cfg;

    if (req->entity.base == NULL || req->entity.len == 0) {
        respond_error(r, 400, "bad_request_error", NULL,
                      "The request body is empty; expected a JSON object.");
        return 0;
    }
    if (req->entity.len > cfg->max_request_size_bytes) {
        respond_error(r, 413, "request_too_large", NULL,
                      "Request body is too large (general_settings.max_request_size_mb).");
        return 0;
    }
    if (sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, body, &err) !=
        SL_OK) {
        sl_request_respond_error(r, 400, "bad_request_error", "None",
                                 "The request body is not valid JSON: %s.", err.msg);
        return 0;
    }
    if (!cJSON_IsObject(*body)) {
        cJSON_Delete(*body);
        *body = NULL;
        respond_error(r, 400, "bad_request_error", NULL,
                      "The request body must be a JSON object.");
        return 0;
    }
    return 1;
}

/* Reads the `key` member of `body` as a key or hash into `c->hash`. Returns 0 with the 400
 * sent. */
static int
body_key_hash(struct sl_request *r, const cJSON *body, struct key_call *c)
{
    const char *ref = sl_json_get_string(body, "key");
    struct sl_errbuf err;

    if (ref == NULL) {
        respond_error(r, 400, "bad_request_error", "key",
                      "Missing key: pass the key (sk-...) or its hash in the `key` field.");
        return 0;
    }
    if (sl_mgmt_key_ref(ref, c->hash, &err) != SL_OK) {
        respond_error(r, 400, "bad_request_error", "key", err.msg);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- results */

static void
on_invalidate(struct key_call *c, const char *hash)
{
    sl_mgmt_invalidate_key(c->r->worker, hash);
}

/* Maps a failed statement to a client error; unexpected failures are logged. */
static void
respond_db_error(struct key_call *c, enum sl_status st, const PGresult *res, const char *error)
{
    struct sl_request *r = c->r;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

    if (st == SL_ERR_STORE && state != NULL && constraint != NULL) {
        if (strcmp(state, "23505") == 0 && strcmp(constraint, "keys_key_alias_key") == 0) {
            sl_request_respond_error(r, 400, "bad_request_error", "key_alias",
                                     "Key with alias '%s' already exists. Unique key aliases "
                                     "across all keys are required.",
                                     c->alias != NULL ? c->alias : "");
            return;
        }
        if (strcmp(state, "23505") == 0 && strcmp(constraint, "keys_pkey") == 0) {
            respond_error(r, 400, "bad_request_error", "key",
                          "A key with this value already exists; choose another key.");
            return;
        }
        if (strcmp(state, "23503") == 0) {
            const char *field = strstr(constraint, "team_id") != NULL ? "team_id"
                                : strstr(constraint, "organization_id") != NULL
                                    ? "organization_id"
                                    : strstr(constraint, "budget_id") != NULL ? "budget_id"
                                                                              : "user_id";
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "The %s given does not exist; create it first.", field);
            return;
        }
        if (strcmp(state, "23514") == 0) {
            sl_request_respond_error(r, 400, "bad_request_error", "None",
                                     "A value is out of range (constraint %s).", constraint);
            return;
        }
    }
    sl_log(SL_LOG_ERROR, r->call_id, "mgmt.query_failed", SL_LOG_STR("route", r->path),
           SL_LOG_STR("status", sl_status_str(st)), SL_LOG_STR("sqlstate", state),
           SL_LOG_STR("message", error));
    if (st == SL_ERR_STORE)
        respond_error(r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the database rejected the change.");
    else
        respond_error(r, 503, "no_db_connection", NULL,
                      "The database is unavailable or timed out; retry later.");
}

/* Returns the first column of the only row as parsed JSON, or NULL when there is no row or
 * the value is SQL NULL. */
static cJSON *
result_json(const PGresult *res, int col)
{
    cJSON *out = NULL;

    if (PQntuples(res) < 1 || PQnfields(res) <= col || PQgetisnull(res, 0, col))
        return NULL;
    const char *text = PQgetvalue(res, 0, col);
    if (sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &out, NULL) != SL_OK)
        return NULL;
    return out;
}

static void
respond_key_not_found(struct sl_request *r)
{
    respond_error(r, 404, "not_found_error", "key",
                  "Key not found. Pass an existing key (sk-...) or its hash.");
}

static void
on_generated(struct key_call *c, const PGresult *res)
{
    struct sl_request *r = c->r;
    /* Columns: allowed (bool), role checked (text), the key view (jsonb). */
    int allowed = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    cJSON *view;

    if (!allowed) {
        sl_request_respond_error(r, 403, "auth_error", "None",
                                 "Personal key creation has been restricted by admin. Allowed "
                                 "roles: litellm_settings.key_generation_settings."
                                 "personal_key_generation.allowed_user_roles. Your role=%s. "
                                 "Pass a team_id to create a team key.",
                                 PQgetisnull(res, 0, 1) ? "None" : PQgetvalue(res, 0, 1));
        return;
    }
    view = result_json(res, 2);
    if (view == NULL) {
        respond_error(r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the new key was not returned by the database.");
        return;
    }
    on_invalidate(c, c->hash);
    cJSON_AddStringToObject(view, "key", c->plaintext);
    if (c->key_type != NULL)
        cJSON_AddStringToObject(view, "key_type", c->key_type);
    respond_cjson(r, view);
    cJSON_Delete(view);
}

static void
on_changed(struct key_call *c, const PGresult *res)
{
    cJSON *view = result_json(res, 0);

    if (view == NULL) {
        respond_key_not_found(c->r);
        return;
    }
    on_invalidate(c, c->hash);
    if (c->op == OP_REGENERATE) {
        /* The new hash has no cached record yet, but the old one must go at once. */
        const char *token = sl_json_get_string(view, "token");
        if (token != NULL)
            on_invalidate(c, token);
        cJSON_AddStringToObject(view, "key", c->plaintext);
    }
    respond_cjson(c->r, view);
    cJSON_Delete(view);
}

static void
on_info(struct key_call *c, const PGresult *res)
{
    cJSON *view = result_json(res, 0);
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
    respond_cjson(c->r, out);
    cJSON_Delete(out);
}

static void
on_listed(struct key_call *c, const PGresult *res)
{
    cJSON *out = result_json(res, 0);

    if (out == NULL) {
        respond_error(c->r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the key list was not returned by the database.");
        return;
    }
    respond_cjson(c->r, out);
    cJSON_Delete(out);
}

static void
on_deleted(struct key_call *c, const PGresult *res)
{
    cJSON *out;
    int rows = PQntuples(res);

    /* Column 0 is the deleted hash; no row at all means some named key did not exist. */
    if (rows == 0) {
        respond_error(c->r, 404, "not_found_error", "keys",
                      "Some of the keys to delete were not found; nothing was deleted.");
        return;
    }
    for (int i = 0; i < rows; i++)
        on_invalidate(c, PQgetvalue(res, i, 0));
    out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "deleted_keys", c->delete_list);
    c->delete_list = NULL;
    respond_cjson(c->r, out);
    cJSON_Delete(out);
}

static void
on_query_done(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct key_call *c = privdata;
    struct sl_request *r = c->r;

    /* The client may have gone while the statement ran; a committed change still stands and
     * its cached record must still go. */
    if (r->req == NULL) {
        if (st == SL_OK && c->op == OP_DELETE) {
            for (int i = 0; i < PQntuples(res); i++)
                sl_mgmt_invalidate_key(r->worker, PQgetvalue(res, i, 0));
        } else if (st == SL_OK && c->op != OP_INFO && c->op != OP_LIST) {
            sl_mgmt_invalidate_key(r->worker, c->hash);
        }
        goto out;
    }
    if (st != SL_OK) {
        respond_db_error(c, st, res, error);
        goto out;
    }
    switch (c->op) {
    case OP_GENERATE:
        on_generated(c, res);
        break;
    case OP_UPDATE:
    case OP_BLOCK:
    case OP_UNBLOCK:
    case OP_REGENERATE:
        on_changed(c, res);
        break;
    case OP_DELETE:
        on_deleted(c, res);
        break;
    case OP_INFO:
        on_info(c, res);
        break;
    case OP_LIST:
        on_listed(c, res);
        break;
    }

out:
    sl_request_release(r);
    key_call_free(c);
}

/* Queues `q`; on success the request is retained until on_query_done(). Frees `c` and sends
 * an error otherwise. */
static void
run_query(struct key_call *c, struct sql *q)
{
    struct sl_request *r = c->r;
    enum sl_status st;

    sl_buf_append(&q->text, "", 1);
    st = sl_pg_query(r->worker->pg, q->text.data, q->n, q->params, on_query_done, c);
    sl_buf_dispose(&q->text);
    if (st != SL_OK) {
        sl_log(SL_LOG_WARN, r->call_id, "mgmt.query_rejected", SL_LOG_STR("route", r->path),
               SL_LOG_STR("status", sl_status_str(st)));
        respond_error(r, 503, "no_db_connection", NULL,
                      "The database is unavailable; retry later.");
        key_call_free(c);
        return;
    }
    sl_request_retain(r);
}

/* ---------------------------------------------------------------- SQL builders */

/* Appends " AND (<owner> IS NULL OR <column> = <owner>)", the ownership rule of non-admins. */
static void
append_owner(struct sql *q, const struct key_call *c, const char *column)
{
    sql_append(q, " AND (");
    sql_bind(q, c->owner, "text");
    sl_buf_printf(&q->text, " IS NULL OR %s = ", column);
    sql_bind(q, c->owner, "text");
    sql_append(q, ")");
}

/*
 * Applies the rules for callers that manage only their own keys: a key is always theirs
 * (user_id left out is theirs), and team keys are left to admins. Returns 0 with the error
 * sent.
 */
static int
check_ownership(struct key_call *c, struct sl_mgmt_key_fields *f)
{
    struct sl_mgmt_value *user = &f->v[SL_MGMT_F_USER_ID];

    if (c->owner == NULL)
        return 1;
    if (user->text != NULL && strcmp(user->text, c->owner) != 0) {
        sl_request_respond_error(c->r, 401, "auth_error", "user_id",
                                 "Authentication Error, User can only create keys for "
                                 "themselves. Got user_id=%s, Your ID=%s", user->text, c->owner);
        return 0;
    }
    /* TODO: let team admins manage team keys (LiteLLM's team_key_generation rules); until
     * then a team_id from a caller who is not an admin is rejected. */
    if (f->v[SL_MGMT_F_TEAM_ID].set) {
        respond_error(c->r, 403, "auth_error", "team_id",
                      "Only proxy_admin may set team_id on a key for now.");
        return 0;
    }
    if (c->op == OP_GENERATE && !user->set) {
        user->set = 1;
        user->text = sl_xstrdup(c->owner);
    }
    return 1;
}

/* How a field's value is written into its column. */
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
append_value(struct sql *q, const struct sl_mgmt_key_fields *f, int field)
{
    const char *text = f->v[field].text;

    switch (key_columns[field].form) {
    case COL_TEXT:
        sql_bind(q, text, "text");
        break;
    case COL_ARRAY:
        sql_append(q, "ARRAY(SELECT jsonb_array_elements_text(");
        sql_bind(q, text, "jsonb");
        sql_append(q, "))");
        break;
    case COL_JSONB:
        sql_append(q, "COALESCE(");
        sql_bind(q, text, "jsonb");
        sql_append(q, ", '{}')");
        break;
    case COL_BOOL:
        sql_append(q, "COALESCE(");
        sql_bind(q, text, "boolean");
        sql_append(q, ", false)");
        break;
    case COL_EXPIRES:
        sql_append(q, "now() + ");
        sql_bind(q, text, "interval");
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

/* The interval text of the sent budget_duration, for budget_reset_at; NULL when none. */
static void
budget_interval(const struct sl_mgmt_key_fields *f, char out[48])
{
    struct sl_mgmt_duration d;
    const char *text = f->v[SL_MGMT_F_BUDGET_DURATION].text;

    out[0] = '\0';
    if (text != NULL && sl_mgmt_parse_duration(text, &d) == SL_OK)
        snprintf(out, 48, "%lld %s", d.count, d.unit);
}

/*
 * Appends "nb AS (INSERT INTO budgets ... RETURNING *)" with the sent budget columns. The
 * insert runs only when `where` holds.
 * NOTE: budget_reset_at is now() + budget_duration, not aligned to calendar boundaries as
 * LiteLLM aligns it; the reset job owns alignment.
 */
static void
append_budget_insert(struct sql *q, const struct sl_mgmt_key_fields *f, const char *interval,
                     const char *actor, const char *where)
{
    sql_append(q, "nb AS (INSERT INTO budgets (created_by, updated_by, budget_period_start, "
                  "budget_reset_at");
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (f->v[i].set)
            sl_buf_printf(&q->text, ", %s", sl_mgmt_field_name((enum sl_mgmt_field)i));
    }
    sql_append(q, ") SELECT ");
    sql_bind(q, actor, "text");
    sql_append(q, ", ");
    sql_bind(q, actor, "text");
    sql_append(q, ", now(), now() + ");
    sql_bind(q, interval[0] != '\0' ? interval : NULL, "interval");
    for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
        if (!f->v[i].set)
            continue;
        sql_append(q, ", ");
        sql_bind(q, f->v[i].text, budget_casts[i]);
    }
    sl_buf_printf(&q->text, " WHERE %s RETURNING *), ", where);
}

/* Appends "u AS (...)", which creates the user row a key names, as LiteLLM does, when
 * `where` holds. */
static void
append_user_upsert(struct sql *q, const struct sl_mgmt_key_fields *f, const char *actor,
                   const char *where)
{
    const char *user_id = f->v[SL_MGMT_F_USER_ID].text;

    sql_append(q, "u AS (INSERT INTO users (user_id, created_by, updated_by) SELECT ");
    sql_bind(q, user_id, "text");
    sql_append(q, ", ");
    sql_bind(q, actor, "text");
    sql_append(q, ", ");
    sql_bind(q, actor, "text");
    sql_append(q, " WHERE ");
    sql_bind(q, user_id, "text");
    sl_buf_printf(&q->text, " IS NOT NULL AND %s ON CONFLICT (user_id) DO NOTHING), ", where);
}

/* Appends the audit_log insert of the change to `object` (an SQL expression). */
static void
append_audit(struct sql *q, const struct key_call *c, const char *action, const char *object,
             const char *before, const char *after, const char *from)
{
    sql_append(q, "a AS (INSERT INTO audit_log (changed_by, changed_by_api_key, action, "
                  "table_name, object_id, before_value, updated_values) SELECT ");
    sql_bind(q, c->caller.changed_by, "text");
    sql_append(q, ", ");
    sql_bind(q, c->caller.api_key_hash[0] != '\0' ? c->caller.api_key_hash : NULL, "text");
    sl_buf_printf(&q->text, ", '%s', 'keys', %s, %s, %s FROM %s) ", action, object, before,
                  after, from);
}

/* ---------------------------------------------------------------- generate */

static void
build_generate(struct key_call *c, const struct sl_mgmt_key_fields *f, struct sql *q,
               const char *key_name, const char *roles_json, char interval[48])
{
    sql_append(q, "WITH chk AS (SELECT COALESCE((SELECT user_role FROM users WHERE user_id = ");
    sql_bind(q, f->v[SL_MGMT_F_USER_ID].text, "text");
    sql_append(q, "), ");
    sql_bind(q, c->caller.role, "text");
    sql_append(q, ") AS role), ok AS (SELECT (");
    sql_bind(q, roles_json, "jsonb");
    sql_append(q, " IS NULL OR ");
    sql_bind(q, f->v[SL_MGMT_F_TEAM_ID].text, "text");
    sql_append(q, " IS NOT NULL OR (SELECT role FROM chk) IN (SELECT jsonb_array_elements_text(");
    sql_bind(q, roles_json, "jsonb");
    sql_append(q, "))) AS ok), ");
    append_user_upsert(q, f, c->caller.user_id, "(SELECT ok FROM ok)");
    if (budget_sent(f))
        append_budget_insert(q, f, interval, c->caller.user_id, "(SELECT ok FROM ok)");
    else
        sql_append(q, "nb AS (SELECT * FROM budgets WHERE false), ");

    sql_append(q, "k AS (INSERT INTO keys (token, key_name, budget_id, created_by, updated_by");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (f->v[i].set && i != SL_MGMT_F_METADATA)
            sl_buf_printf(&q->text, ", %s", key_columns[i].column);
    }
    sql_append(q, ", metadata) SELECT ");
    sql_bind(q, c->hash, "text");
    sql_append(q, ", ");
    sql_bind(q, key_name, "text");
    sql_append(q, ", (SELECT budget_id FROM nb), ");
    sql_bind(q, c->caller.user_id, "text");
    sql_append(q, ", ");
    sql_bind(q, c->caller.user_id, "text");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (!f->v[i].set || i == SL_MGMT_F_METADATA)
            continue;
        sql_append(q, ", ");
        append_value(q, f, i);
    }
    sql_append(q, ", COALESCE(");
    sql_bind(q, f->v[SL_MGMT_F_METADATA].text, "jsonb");
    sql_append(q, ", '{}') || COALESCE(");
    sql_bind(q, f->metadata_patch, "jsonb");
    sql_append(q, ", '{}') WHERE (SELECT ok FROM ok) RETURNING *), ");

    append_audit(q, c, "created", "k.token", "NULL", KEY_VIEW("k", "nb"),
                 "k LEFT JOIN nb ON true");
    sql_append(q, "SELECT (SELECT ok FROM ok), (SELECT role FROM chk), (SELECT " KEY_VIEW("k", "nb")
                  " FROM k LEFT JOIN nb ON true)");
}

/* Returns the JSON array of allowed personal-key roles, or NULL when every role may. */
static char *
allowed_roles_json(const struct sl_config *cfg)
{
    const struct sl_strlist *roles = &cfg->personal_key_allowed_roles;
    cJSON *list;
    char *text;

    if (roles->n == 0)
        return NULL;
    list = cJSON_CreateArray();
    for (size_t i = 0; i < roles->n; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(roles->items[i]));
    text = sl_json_print(list);
    cJSON_Delete(list);
    return text;
}

/* Applies the body checks, the config defaults and the upper bounds. Returns 0 with the
 * error sent. */
static int
check_fields(struct sl_request *r, const cJSON *body, int for_update,
             struct sl_mgmt_key_fields *f)
{
    const struct sl_config *cfg = &r->worker->gw->cfg;
    const char *param = NULL;
    struct sl_errbuf err;
    enum sl_status rc;

    rc = sl_mgmt_key_fields_parse(body, for_update, f, &param, &err);
    if (rc == SL_OK && !for_update)
        rc = sl_mgmt_apply_defaults(cfg, f, &err);
    if (rc == SL_OK)
        rc = sl_mgmt_apply_upper_bounds(cfg, !for_update, f, &param, &err);
    if (rc == SL_OK)
        return 1;
    if (rc == SL_ERR_CONFIG) {
        sl_log(SL_LOG_ERROR, r->call_id, "mgmt.config_invalid", SL_LOG_STR("message", err.msg));
        respond_error(r, 500, "internal_server_error", NULL, err.msg);
        return 0;
    }
    respond_error(r, 400, "bad_request_error", param, err.msg);
    return 0;
}

static void
do_generate(struct key_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    struct sl_mgmt_key_fields f = {0};
    struct sql q;
    char generated[SL_MGMT_KEY_LEN + 1];
    char key_name[16];
    char interval[48];
    char *roles = NULL;

    if (!check_fields(r, body, 0, &f) || !check_ownership(c, &f))
        goto fail;

    if (f.custom_key != NULL) {
        c->plaintext = f.custom_key;
        f.custom_key = NULL;
    } else {
        if (sl_mgmt_key_generate(generated) != SL_OK) {
            respond_error(r, 500, "internal_server_error", NULL,
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

    roles = allowed_roles_json(&r->worker->gw->cfg);
    budget_interval(&f, interval);
    sql_init(&q);
    build_generate(c, &f, &q, key_name, roles, interval);
    run_query(c, &q);
    free(roles);
    sl_mgmt_key_fields_dispose(&f);
    return;

fail:
    sl_mgmt_key_fields_dispose(&f);
    key_call_free(c);
}

/* ---------------------------------------------------------------- update, block */

/*
 * Builds the update of the key `c->hash` with the sent fields. A sent budget field updates
 * the key's budget row, or creates one when the key has none. The result row is the new view,
 * or no row when the key does not exist.
 */
static void
build_update(struct key_call *c, const struct sl_mgmt_key_fields *f, struct sql *q,
             const char *action, char interval[48])
{
    const char *actor = c->caller.user_id;
    int budget = budget_sent(f);

    sql_append(q, "WITH old AS (SELECT k.budget_id, " KEY_VIEW("k", "b") " AS view FROM keys k "
                  "LEFT JOIN budgets b ON b.budget_id = k.budget_id WHERE k.token = ");
    sql_bind(q, c->hash, "text");
    append_owner(q, c, "k.user_id");
    sql_append(q, " FOR UPDATE OF k), ");
    if (f->v[SL_MGMT_F_USER_ID].set)
        append_user_upsert(q, f, actor, "EXISTS (SELECT 1 FROM old)");
    if (budget) {
        append_budget_insert(q, f, interval, actor,
                             "EXISTS (SELECT 1 FROM old WHERE budget_id IS NULL)");
        sql_append(q, "ub AS (UPDATE budgets SET updated_at = now(), updated_by = ");
        sql_bind(q, actor, "text");
        for (int i = SL_MGMT_F_FIRST_BUDGET; i < SL_MGMT_F_COUNT; i++) {
            if (!f->v[i].set)
                continue;
            sl_buf_printf(&q->text, ", %s = ", sl_mgmt_field_name((enum sl_mgmt_field)i));
            sql_bind(q, f->v[i].text, budget_casts[i]);
        }
        if (f->v[SL_MGMT_F_BUDGET_DURATION].set) {
            sql_append(q, ", budget_period_start = now(), budget_reset_at = now() + ");
            sql_bind(q, interval[0] != '\0' ? interval : NULL, "interval");
        }
        sql_append(q, " FROM old WHERE budgets.budget_id = old.budget_id RETURNING budgets.*), "
                      "nbud AS (SELECT * FROM nb UNION ALL SELECT * FROM ub), ");
    } else {
        sql_append(q, "nb AS (SELECT * FROM budgets WHERE false), nbud AS (SELECT b.* FROM "
                      "budgets b JOIN old ON b.budget_id = old.budget_id), ");
    }

    sql_append(q, "k AS (UPDATE keys SET updated_at = now(), updated_by = ");
    sql_bind(q, actor, "text");
    sql_append(q, ", budget_id = COALESCE((SELECT budget_id FROM nb), keys.budget_id)");
    for (int i = 0; i < SL_MGMT_F_FIRST_BUDGET; i++) {
        if (!f->v[i].set || i == SL_MGMT_F_METADATA)
            continue;
        sl_buf_printf(&q->text, ", %s = ", key_columns[i].column);
        append_value(q, f, i);
    }
    if (f->v[SL_MGMT_F_METADATA].set || f->metadata_patch != NULL) {
        sql_append(q, ", metadata = COALESCE(");
        sql_bind(q, f->v[SL_MGMT_F_METADATA].text, "jsonb");
        sql_append(q, ", keys.metadata) || COALESCE(");
        sql_bind(q, f->metadata_patch, "jsonb");
        sql_append(q, ", '{}')");
    }
    sql_append(q, " FROM old WHERE keys.token = ");
    sql_bind(q, c->hash, "text");
    sql_append(q, " RETURNING keys.*), ");
    append_audit(q, c, action, "k.token", "old.view", KEY_VIEW("k", "nbud"),
                 "old, k LEFT JOIN nbud ON true");
    sql_append(q, "SELECT " KEY_VIEW("k", "nbud") " FROM k LEFT JOIN nbud ON true");
}

static void
do_update(struct key_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    struct sl_mgmt_key_fields f = {0};
    struct sql q;
    char interval[48];
    const char *action = "updated";

    if (!body_key_hash(r, body, c))
        goto fail;
    if (c->op == OP_UPDATE) {
        if (!check_fields(r, body, 1, &f) || !check_ownership(c, &f))
            goto fail;
        if (f.v[SL_MGMT_F_KEY_ALIAS].text != NULL)
            c->alias = sl_xstrdup(f.v[SL_MGMT_F_KEY_ALIAS].text);
    } else {
        /* Block and unblock set one field and take nothing else from the body. */
        f.v[SL_MGMT_F_BLOCKED].set = 1;
        f.v[SL_MGMT_F_BLOCKED].text = sl_xstrdup(c->op == OP_BLOCK ? "true" : "false");
        action = c->op == OP_BLOCK ? "blocked" : "unblocked";
    }
    budget_interval(&f, interval);
    sql_init(&q);
    build_update(c, &f, &q, action, interval);
    run_query(c, &q);
    sl_mgmt_key_fields_dispose(&f);
    return;

fail:
    sl_mgmt_key_fields_dispose(&f);
    key_call_free(c);
}

/* ---------------------------------------------------------------- regenerate */

/* Replaces the key's hash and name in place; the old hash stops matching at commit. */
static void
do_regenerate(struct key_call *c, const char *ref)
{
    struct sl_request *r = c->r;
    struct sl_errbuf err;
    struct sql q;
    char generated[SL_MGMT_KEY_LEN + 1];
    char new_hash[SL_MGMT_HASH_LEN + 1];
    char key_name[16];

    if (ref == NULL) {
        respond_error(r, 400, "bad_request_error", "key",
                      "Missing key: pass the key (sk-...) or its hash in the `key` field.");
        goto fail;
    }
    if (sl_mgmt_key_ref(ref, c->hash, &err) != SL_OK) {
        respond_error(r, 400, "bad_request_error", "key", err.msg);
        goto fail;
    }
    if (sl_mgmt_key_generate(generated) != SL_OK) {
        respond_error(r, 500, "internal_server_error", NULL,
                      "Internal Server Error, the random generator failed.");
        goto fail;
    }
    c->plaintext = sl_xstrdup(generated);
    OPENSSL_cleanse(generated, sizeof(generated));
    sl_mgmt_key_hash(c->plaintext, strlen(c->plaintext), new_hash);
    snprintf(key_name, sizeof(key_name), "sk-...%s", c->plaintext + SL_MGMT_KEY_LEN - 4);

    sql_init(&q);
    sql_append(&q, "WITH old AS (SELECT k.token, " KEY_VIEW("k", "b") " AS view FROM keys k "
                   "LEFT JOIN budgets b ON b.budget_id = k.budget_id WHERE k.token = ");
    sql_bind(&q, c->hash, "text");
    append_owner(&q, c, "k.user_id");
    sql_append(&q, " FOR UPDATE OF k), k AS (UPDATE keys SET token = ");
    sql_bind(&q, new_hash, "text");
    sql_append(&q, ", key_name = ");
    sql_bind(&q, key_name, "text");
    sql_append(&q, ", rotation_count = keys.rotation_count + 1, last_rotation_at = now(), "
                   "updated_at = now(), updated_by = ");
    sql_bind(&q, c->caller.user_id, "text");
    sql_append(&q, " FROM old WHERE keys.token = old.token RETURNING keys.*), "
                   "nbud AS (SELECT b.* FROM budgets b JOIN k ON b.budget_id = k.budget_id), ");
    append_audit(&q, c, "rotated", "k.token", "old.view", KEY_VIEW("k", "nbud"),
                 "old, k LEFT JOIN nbud ON true");
    sql_append(&q, "SELECT " KEY_VIEW("k", "nbud") " FROM k LEFT JOIN nbud ON true");
    run_query(c, &q);
    return;

fail:
    key_call_free(c);
}

/* ---------------------------------------------------------------- delete */

/* Reads `keys` (hashed) or `key_aliases` of the body into a JSON array for SQL. Returns 0
 * with the 400 sent. */
static int
delete_targets(struct sl_request *r, const cJSON *body, struct key_call *c, char **hashes,
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
                                 "entries.", SL_MGMT_DELETE_MAX);
        return 0;
    }
    out = cJSON_CreateArray();
    cJSON_ArrayForEach(el, list) {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_KEY_MAX_LEN) {
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "Every entry of %s must be a string.", field);
            cJSON_Delete(out);
            return 0;
        }
        if (list == keys) {
            if (sl_mgmt_key_ref(el->valuestring, hash, &err) != SL_OK) {
                respond_error(r, 400, "bad_request_error", "keys", err.msg);
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
do_delete(struct key_call *c, const cJSON *body)
{
    struct sl_request *r = c->r;
    char *hashes = NULL;
    char *aliases = NULL;
    struct sql q;

    if (!delete_targets(r, body, c, &hashes, &aliases)) {
        key_call_free(c);
        return;
    }

    /* All or nothing: when a named key is missing, `ok` is false and no row is deleted. */
    sql_init(&q);
    sql_append(&q, "WITH want AS (SELECT DISTINCT x FROM jsonb_array_elements_text(COALESCE(");
    sql_bind(&q, hashes != NULL ? hashes : aliases, "jsonb");
    sql_append(&q, ", '[]')) AS x), ok AS (SELECT (SELECT count(*) FROM keys WHERE ");
    sql_append(&q, hashes != NULL ? "token" : "key_alias");
    sql_append(&q, " IN (SELECT x FROM want)");
    append_owner(&q, c, "user_id");
    sql_append(&q, ") = (SELECT count(*) FROM want) AS ok), "
                   "d AS (DELETE FROM keys WHERE (SELECT ok FROM ok) AND ");
    sql_append(&q, hashes != NULL ? "token" : "key_alias");
    sql_append(&q, " IN (SELECT x FROM want)");
    append_owner(&q, c, "user_id");
    sql_append(&q, " RETURNING *), dk AS (INSERT INTO deleted_keys "
                   "(token, key_alias, user_id, team_id, organization_id, key_row, deleted_by, "
                   "deleted_by_api_key, changed_by) SELECT d.token, d.key_alias, d.user_id, "
                   "d.team_id, d.organization_id, to_jsonb(d), ");
    sql_bind(&q, c->caller.user_id, "text");
    sql_append(&q, ", ");
    sql_bind(&q, c->caller.api_key_hash[0] != '\0' ? c->caller.api_key_hash : NULL, "text");
    sql_append(&q, ", ");
    sql_bind(&q, c->caller.changed_by_header ? c->caller.changed_by : NULL, "text");
    sql_append(&q, " FROM d), ");
    append_audit(&q, c, "deleted", "d.token", "to_jsonb(d)", "NULL", "d");
    sql_append(&q, "SELECT token FROM d");
    run_query(c, &q);
    free(hashes);
    free(aliases);
}

/* ---------------------------------------------------------------- info, list */

static void
do_info(struct key_call *c)
{
    struct sl_request *r = c->r;
    struct sl_errbuf err;
    struct sql q;

    if (!query_param(r, "key", &c->key_ref)) {
        key_call_free(c);
        return;
    }
    if (c->key_ref == NULL) {
        /* No key: the calling key's own info. */
        memcpy(c->hash, c->caller.api_key_hash, sizeof(c->hash));
        if (c->hash[0] == '\0') {
            respond_error(r, 400, "bad_request_error", "key",
                          "Missing key: pass ?key=sk-... or the key's hash.");
            key_call_free(c);
            return;
        }
    } else if (sl_mgmt_key_ref(c->key_ref, c->hash, &err) != SL_OK) {
        respond_error(r, 400, "bad_request_error", "key", err.msg);
        key_call_free(c);
        return;
    }
    sql_init(&q);
    sql_append(&q, "SELECT " KEY_VIEW("k", "b") " FROM keys k LEFT JOIN budgets b ON "
                   "b.budget_id = k.budget_id WHERE k.token = ");
    sql_bind(&q, c->hash, "text");
    append_owner(&q, c, "k.user_id");
    run_query(c, &q);
}

static int
query_flag(struct sl_request *r, const char *name, int *out)
{
    char *text = NULL;

    if (!query_param(r, name, &text))
        return 0;
    *out = text != NULL && (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 ||
                            strcmp(text, "1") == 0);
    free(text);
    return 1;
}

static void
do_list(struct key_call *c)
{
    static const char *const filters[] = {"user_id", "team_id", "organization_id", "key_alias"};
    struct sl_request *r = c->r;
    char *values[4] = {NULL, NULL, NULL, NULL};
    char page_text[24];
    char size_text[24];
    char offset_text[24];
    long page;
    long size;
    struct sql q;

    if (!query_int(r, "page", 1, 1, 1000000, &page) ||
        !query_int(r, "size", SL_MGMT_LIST_DEFAULT_SIZE, 1, SL_MGMT_LIST_MAX_SIZE, &size) ||
        !query_flag(r, "return_full_object", &c->full_object))
        goto fail;
    for (size_t i = 0; i < 4; i++) {
        if (!query_param(r, filters[i], &values[i]))
            goto fail;
    }
    snprintf(page_text, sizeof(page_text), "%ld", page);
    snprintf(size_text, sizeof(size_text), "%ld", size);
    snprintf(offset_text, sizeof(offset_text), "%ld", (page - 1) * size);

    /* The filters are bound once and referenced by number from both subqueries. */
    sql_init(&q);
    sql_append(&q, "WITH f AS (SELECT ");
    for (size_t i = 0; i < 4; i++) {
        sql_bind(&q, values[i], "text");
        sl_buf_printf(&q.text, " AS %s%s", filters[i], i < 3 ? ", " : "");
    }
    sql_append(&q, "), m AS (SELECT k.* FROM keys k, f WHERE (f.user_id IS NULL OR k.user_id = "
                   "f.user_id) AND (f.team_id IS NULL OR k.team_id = f.team_id) AND "
                   "(f.organization_id IS NULL OR k.organization_id = f.organization_id) AND "
                   "(f.key_alias IS NULL OR k.key_alias = f.key_alias)");
    append_owner(&q, c, "k.user_id");
    sql_append(&q, "), "
                   "t AS (SELECT count(*) AS n FROM m), "
                   "p AS (SELECT m.*, ");
    sql_append(&q, c->full_object ? KEY_VIEW("m", "b") : "to_jsonb(m.token)");
    sql_append(&q, " AS item FROM m LEFT JOIN budgets b ON b.budget_id = m.budget_id "
                   "ORDER BY m.created_at DESC, m.token LIMIT ");
    sql_bind(&q, size_text, "bigint");
    sql_append(&q, " OFFSET ");
    sql_bind(&q, offset_text, "bigint");
    sql_append(&q, ") SELECT jsonb_build_object('keys', COALESCE((SELECT jsonb_agg(item ORDER BY "
                   "created_at DESC, token) FROM p), '[]'), 'total_count', (SELECT n FROM t), "
                   "'current_page', ");
    sql_bind(&q, page_text, "bigint");
    sql_append(&q, ", 'total_pages', ceil((SELECT n FROM t)::numeric / ");
    sql_bind(&q, size_text, "bigint");
    sql_append(&q, ")::bigint)");
    run_query(c, &q);
    for (size_t i = 0; i < 4; i++)
        free(values[i]);
    return;

fail:
    for (size_t i = 0; i < 4; i++)
        free(values[i]);
    key_call_free(c);
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
    const char *path;
    enum key_op op;
    const char *method;
} key_routes[] = {
    {"/key/generate", OP_GENERATE, "POST"},
    {"/key/update", OP_UPDATE, "POST"},
    {"/key/delete", OP_DELETE, "POST"},
    {"/key/info", OP_INFO, "GET"},
    {"/key/list", OP_LIST, "GET"},
    {"/key/regenerate", OP_REGENERATE, "POST"},
    {"/key/block", OP_BLOCK, "POST"},
    {"/key/unblock", OP_UNBLOCK, "POST"},
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
dispatch(struct key_call *c, const char *path_key)
{
    struct sl_request *r = c->r;
    cJSON *body = NULL;

    if (r->worker->pg == NULL) {
        respond_error(r, 500, "no_db_connection", NULL,
                      "DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys");
        goto fail;
    }

    switch (c->op) {
    case OP_INFO:
        do_info(c);
        return;
    case OP_LIST:
        do_list(c);
        return;
    case OP_REGENERATE:
        /* The body is optional when the key is in the path. */
        if (path_key != NULL) {
            do_regenerate(c, path_key);
            return;
        }
        if (!parse_body(r, &body))
            goto fail;
        do_regenerate(c, sl_json_get_string(body, "key"));
        break;
    default:
        if (!parse_body(r, &body))
            goto fail;
        if (c->op == OP_GENERATE)
            do_generate(c, body);
        else if (c->op == OP_DELETE)
            do_delete(c, body);
        else
            do_update(c, body);
        break;
    }
    cJSON_Delete(body);
    return;

fail:
    cJSON_Delete(body);
    key_call_free(c);
}

static const char path_regenerate_route[] = "/key/{key}/regenerate";

static void
on_authenticated(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    struct sl_mgmt_caller caller;
    struct key_call *c;
    char *path_key = NULL;

    (void)privdata;
    if (!sl_mgmt_caller_init(r, rec, &caller) || !sl_mgmt_may_call(r, &caller, r->route))
        return;

    c = sl_xcalloc(1, sizeof(*c));
    c->r = r;
    c->caller = caller;
    c->owner = caller.admin ? NULL : c->caller.user_id;
    c->op = OP_REGENERATE;
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
