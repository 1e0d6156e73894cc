/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http -- the shared half of the management API: dispatch of table-driven routes, input
 * parsing, SQL statement building and one-statement calls with LiteLLM's error shapes.
 */
#define SL_LOG_MODULE "mgmt"
#include "gateway/mgmt/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/routes.h"
#include "gateway/worker.h"

/* ---------------------------------------------------------------- responses */

void
sl_mgmt_respond_error(struct sl_request *r, int status, const char *type, const char *param,
                      const char *message)
{
    if (r->req == NULL)
        return;
    sl_request_respond_error(r, status, type, param != NULL ? param : "None", "%s", message);
}

void
sl_mgmt_respond_json(struct sl_request *r, const cJSON *obj)
{
    char *text;

    if (r->req == NULL)
        return;
    text = sl_json_print(obj);
    sl_request_respond_json(r, 200, text, strlen(text));
    free(text);
}

void
sl_mgmt_respond_bad_field(struct sl_request *r, const char *field, const char *expected)
{
    if (r->req == NULL)
        return;
    sl_request_respond_error(r, 400, "bad_request_error", field, "Field %s must be %s.", field,
                             expected);
}

/* ---------------------------------------------------------------- request input */

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

int
sl_mgmt_query_param(struct sl_request *r, const char *name, char **value)
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
            if (!url_decode(p + name_len + 1, (size_t)(stop - p) - name_len - 1, &buf) ||
                memchr(buf.data, '\0', buf.len) != NULL || !sl_utf8_valid(buf.data, buf.len)) {
                sl_buf_dispose(&buf);
                sl_request_respond_error(r, 400, "bad_request_error", name,
                                         "Query parameter %s is badly escaped, not UTF-8 or "
                                         "longer than %d bytes.",
                                         name, SL_MGMT_QUERY_MAX);
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

int
sl_mgmt_query_int(struct sl_request *r, const char *name, long def, long min, long max, long *out)
{
    char *text = NULL;
    char *end;
    long v;

    if (!sl_mgmt_query_param(r, name, &text))
        return 0;
    if (text == NULL) {
        *out = def;
        return 1;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        sl_request_respond_error(r, 400, "bad_request_error", name,
                                 "Query parameter %s must be a whole number from %ld to %ld.", name,
                                 min, max);
        free(text);
        return 0;
    }
    free(text);
    *out = v;
    return 1;
}

int
sl_mgmt_query_flag(struct sl_request *r, const char *name, int *out)
{
    char *text = NULL;

    if (!sl_mgmt_query_param(r, name, &text))
        return 0;
    *out = text != NULL &&
           (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "1") == 0);
    free(text);
    return 1;
}

int
sl_mgmt_parse_body(struct sl_request *r, cJSON **body)
{
    h2o_req_t *req = r->req;
    struct sl_errbuf err;
    const struct sl_config *cfg = &r->worker->gw->cfg;

    *body = NULL;
    if (req->entity.base == NULL || req->entity.len == 0) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", NULL,
                              "The request body is empty; expected a JSON object.");
        return 0;
    }
    if (req->entity.len > cfg->max_request_size_bytes) {
        sl_mgmt_respond_error(r, 413, "request_too_large", NULL,
                              "Request body is too large (general_settings.max_request_size_mb).");
        return 0;
    }
    /* PostgreSQL rejects text that is not UTF-8 and cJSON cuts a string at \u0000, so both
     * are refused here rather than failing in the database or being stored cut. */
    if (!sl_utf8_valid(req->entity.base, req->entity.len)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", NULL,
                              "The request body is not valid UTF-8.");
        return 0;
    }
    if (sl_json_has_nul_escape(req->entity.base, req->entity.len)) {
        sl_mgmt_respond_error(r, 400, "bad_request_error", NULL,
                              "Strings in the request body must not contain \\u0000.");
        return 0;
    }
    if (sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, body, &err) != SL_OK) {
        sl_request_respond_error(r, 400, "bad_request_error", "None",
                                 "The request body is not valid JSON: %s.", err.msg);
        return 0;
    }
    if (!cJSON_IsObject(*body)) {
        cJSON_Delete(*body);
        *body = NULL;
        sl_mgmt_respond_error(r, 400, "bad_request_error", NULL,
                              "The request body must be a JSON object.");
        return 0;
    }
    return 1;
}

const char *
sl_mgmt_body_string(struct sl_request *r, const cJSON *body, const char *name, size_t max,
                    int *bad)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);

    *bad = 0;
    if (item == NULL || cJSON_IsNull(item))
        return NULL;
    if (!cJSON_IsString(item) || strlen(item->valuestring) > max) {
        sl_request_respond_error(r, 400, "bad_request_error", name,
                                 "Field %s must be a string of at most %zu bytes.", name, max);
        *bad = 1;
        return NULL;
    }
    return item->valuestring;
}

/* ---------------------------------------------------------------- SQL */

void
sl_mgmt_sql_init(struct sl_mgmt_sql *q)
{
    sl_buf_init(&q->text, 0);
    q->n = 0;
}

void
sl_mgmt_bind(struct sl_mgmt_sql *q, const char *value, const char *cast)
{
    /* Every statement binds a fixed, small set of parameters; more is a programming error. */
    if (q->n >= SL_MGMT_MAX_PARAMS)
        abort();
    q->params[q->n++] = value;
    sl_buf_printf(&q->text, "$%d::%s", q->n, cast);
}

void
sl_mgmt_append(struct sl_mgmt_sql *q, const char *s)
{
    sl_buf_append_str(&q->text, s);
}

void
sl_mgmt_appendf(struct sl_mgmt_sql *q, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* Only fixed SQL text is formatted here; a longer piece is a programming error. */
    if (n < 0 || (size_t)n >= sizeof(text))
        abort();
    sl_buf_append(&q->text, text, (size_t)n);
}

cJSON *
sl_mgmt_result_json(const PGresult *res, int row, int col)
{
    cJSON *out = NULL;

    if (PQntuples(res) <= row || PQnfields(res) <= col || PQgetisnull(res, row, col))
        return NULL;
    const char *text = PQgetvalue(res, row, col);
    if (sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &out, NULL) != SL_OK)
        return NULL;
    return out;
}

void
sl_mgmt_respond_row(struct sl_request *r, const PGresult *res, const char *param,
                    const char *missing)
{
    cJSON *row = sl_mgmt_result_json(res, 0, 0);

    if (row == NULL) {
        sl_mgmt_respond_error(r, 404, "not_found_error", param, missing);
        return;
    }
    sl_mgmt_respond_json(r, row);
    cJSON_Delete(row);
}

struct mgmt_query {
    struct sl_request *r;
    const struct sl_mgmt_query_ops *ops;
    void *data;
};

/* Returns the column a foreign key constraint is about, from its name (<table>_<col>_fkey). */
static const char *
constraint_field(const char *constraint)
{
    static const char *const fields[] = {"organization_id", "team_id", "budget_id", "user_id",
                                         "end_user_id",     "model_id"};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strstr(constraint, fields[i]) != NULL)
            return fields[i];
    }
    return "None";
}

/*
 * Writes the column of a "<table>_<column>_not_empty" constraint into `field`. Returns 0 for
 * any other constraint.
 */
static int
empty_id_field(const char *constraint, char field[64])
{
    static const char *const columns[] = {"organization_id", "end_user_id", "budget_id",
                                          "team_id",         "user_id",     "model_id",
                                          "credential_name", "key_alias"};
    static const char suffix[] = "_not_empty";
    size_t len = strlen(constraint);
    size_t slen = sizeof(suffix) - 1;

    if (len <= slen || strcmp(constraint + len - slen, suffix) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        size_t clen = strlen(columns[i]);

        if (len - slen > clen && constraint[len - slen - clen - 1] == '_' &&
            memcmp(constraint + len - slen - clen, columns[i], clen) == 0) {
            snprintf(field, 64, "%s", columns[i]);
            return 1;
        }
    }
    return 0;
}

static void
respond_db_error(struct mgmt_query *m, enum sl_status st, const PGresult *res, const char *error)
{
    struct sl_request *r = m->r;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    char empty_field[64];

    if (st == SL_ERR_STORE && state != NULL) {
        if (m->ops->db_error != NULL &&
            m->ops->db_error(r, state, constraint != NULL ? constraint : "", m->data))
            return;
        if (strcmp(state, "23505") == 0) {
            sl_request_respond_error(r, 400, "bad_request_error", "None",
                                     "An object with this id or name already exists "
                                     "(constraint %s).",
                                     constraint != NULL ? constraint : "unique");
            return;
        }
        if (strcmp(state, "23503") == 0 && constraint != NULL) {
            const char *field = constraint_field(constraint);

            /* PostgreSQL raises this on insert for a missing parent and on delete for a
             * child that still points here. Its detail line names values, so the message
             * covers both cases without it. */
            sl_request_respond_error(r, 400, "bad_request_error", field,
                                     "The %s given does not exist, or the object is still in "
                                     "use by another (constraint %s).",
                                     field, constraint);
            return;
        }
        if (strcmp(state, "23514") == 0 && constraint != NULL &&
            empty_id_field(constraint, empty_field)) {
            sl_request_respond_error(r, 400, "bad_request_error", empty_field,
                                     "%s must not be empty.", empty_field);
            return;
        }
        if (strcmp(state, "23514") == 0 || strcmp(state, "22P02") == 0 ||
            strcmp(state, "22003") == 0 || strcmp(state, "22021") == 0 ||
            strcmp(state, "22P05") == 0) {
            sl_request_respond_error(r, 400, "bad_request_error", "None",
                                     "A value is out of range or of the wrong type (%s).",
                                     constraint != NULL ? constraint : state);
            return;
        }
    }
    sl_log(SL_LOG_ERROR, r->call_id, "mgmt.query_failed", SL_LOG_STR("route", r->path),
           SL_LOG_STR("status", sl_status_str(st)), SL_LOG_STR("sqlstate", state),
           SL_LOG_STR("message", error));
    if (st == SL_ERR_STORE)
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "Internal Server Error, the database rejected the change.");
    else
        sl_mgmt_respond_error(r, 503, "no_db_connection", NULL,
                              "The database is unavailable or timed out; retry later.");
}

static void
on_query_done(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct mgmt_query *m = privdata;
    struct sl_request *r = m->r;

    if (st == SL_OK)
        m->ops->done(r, res, m->data);
    else if (r->req != NULL)
        respond_db_error(m, st, res, error);
    if (m->ops->free != NULL)
        m->ops->free(m->data);
    free(m);
    sl_request_release(r);
}

void
sl_mgmt_run(struct sl_request *r, struct sl_mgmt_sql *q, const struct sl_mgmt_query_ops *ops,
            void *data)
{
    struct mgmt_query *m;
    enum sl_status st;

    m = sl_xcalloc(1, sizeof(*m));
    m->r = r;
    m->ops = ops;
    m->data = data;
    sl_buf_append(&q->text, "", 1);
    st = r->worker->pg != NULL
             ? sl_pg_query(r->worker->pg, q->text.data, q->n, q->params, on_query_done, m)
             : SL_ERR_UNAVAILABLE;
    sl_buf_dispose(&q->text);
    if (st != SL_OK) {
        sl_log(SL_LOG_WARN, r->call_id, "mgmt.query_rejected", SL_LOG_STR("route", r->path),
               SL_LOG_STR("status", sl_status_str(st)));
        sl_mgmt_respond_error(r, 503, "no_db_connection", NULL,
                              "The database is unavailable; retry later.");
        if (ops->free != NULL)
            ops->free(data);
        free(m);
        return;
    }
    sl_request_retain(r);
}

/* ---------------------------------------------------------------- access */

int
sl_mgmt_access_status(const char *role, enum sl_mgmt_access access, const char *route,
                      struct sl_errbuf *err)
{
    if (strcmp(role, "proxy_admin") == 0 || access == SL_MGMT_INFO || access == SL_MGMT_SELF)
        return 200;
    if (strcmp(role, "proxy_admin_viewer") == 0) {
        if (access == SL_MGMT_ADMIN_READ)
            return 200;
        sl_errbuf_set(err,
                      "user not allowed to access this route, role= %s. Trying to access: %s",
                      role, route);
        return 403;
    }
    sl_errbuf_set(err,
                  "Authentication Error, Only proxy admin can be used to generate, delete, "
                  "update info for new keys/users/teams. Route=%s. Your role=%s.",
                  route, role[0] != '\0' ? role : "None");
    return 401;
}

/* ---------------------------------------------------------------- dispatch */

/* Finds the route for `path`; `*path_known` is set when some method serves the path. */
static const struct sl_mgmt_route *
find_route(const char *path, size_t len, const char *method, size_t method_len, int *path_known)
{
    *path_known = 0;
    for (size_t m = 0; sl_mgmt_route_tables[m] != NULL; m++) {
        for (const struct sl_mgmt_route *rt = sl_mgmt_route_tables[m]; rt->path != NULL; rt++) {
            if (!h2o_memis(path, len, rt->path, strlen(rt->path)))
                continue;
            *path_known = 1;
            if (method == NULL || h2o_memis(method, method_len, rt->method, strlen(rt->method)))
                return rt;
        }
    }
    return NULL;
}

int
sl_mgmt_is_route(const char *path, size_t len)
{
    int known;

    find_route(path, len, NULL, 0, &known);
    return known;
}

/* Returns 1 unless `rt` belongs to a table of sl_mgmt_no_db_route_tables. */
static int
route_needs_db(const struct sl_mgmt_route *rt)
{
    for (size_t m = 0; sl_mgmt_no_db_route_tables[m] != NULL; m++) {
        for (const struct sl_mgmt_route *t = sl_mgmt_no_db_route_tables[m]; t->path != NULL; t++) {
            if (t == rt)
                return 0;
        }
    }
    return 1;
}

static void
on_authenticated(struct sl_request *r, const struct sl_auth_record *rec, void *privdata)
{
    const struct sl_mgmt_route *rt = privdata;
    struct sl_mgmt_caller caller;
    struct sl_errbuf err;
    cJSON *body = NULL;
    int needs_db;
    int status;

    if (!sl_mgmt_caller_init(r, rec, &caller))
        return;
    status = sl_mgmt_access_status(caller.role, rt->access, rt->path, &err);
    if (status != 200) {
        sl_request_respond_error(r, status, "auth_error", "None", "%s", err.msg);
        return;
    }
    needs_db = route_needs_db(rt);
    if (r->worker->pg == NULL && needs_db) {
        sl_mgmt_respond_error(r, 500, "no_db_connection", NULL,
                              "DB not connected. See https://docs.litellm.ai/docs/proxy/"
                              "virtual_keys");
        return;
    }
    if (strcmp(rt->method, "GET") != 0 && !(!needs_db && r->req->entity.len == 0) &&
        !sl_mgmt_parse_body(r, &body))
        return;
    rt->run(r, &caller, body);
    cJSON_Delete(body);
}

int
sl_handle_mgmt(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    const struct sl_mgmt_route *rt;
    struct sl_request *r;
    int known;

    rt = find_route(req->path_normalized.base, req->path_normalized.len, req->method.base,
                    req->method.len, &known);
    if (!known)
        return sl_handle_not_found(self, req);
    if (rt == NULL) {
        const struct sl_mgmt_route *any;
        struct sl_buf allow;

        any = find_route(req->path_normalized.base, req->path_normalized.len, NULL, 0, &known);
        r = sl_request_create(w, req, any->path);
        snprintf(r->path, sizeof(r->path), "%s", any->path);
        sl_buf_init(&allow, 256);
        for (size_t m = 0; sl_mgmt_route_tables[m] != NULL; m++) {
            for (const struct sl_mgmt_route *t = sl_mgmt_route_tables[m]; t->path != NULL; t++) {
                if (strcmp(t->path, any->path) == 0)
                    sl_buf_printf(&allow, "%s%s", allow.len > 0 ? ", " : "", t->method);
            }
        }
        sl_buf_append(&allow, "", 1);
        sl_request_add_header(r, "allow", allow.data);
        sl_request_respond_error(r, 405, "invalid_request_error", "None",
                                 "Method %.*s is not allowed on %s; use %s.", (int)req->method.len,
                                 req->method.base, any->path, allow.data);
        sl_buf_dispose(&allow);
        return 0;
    }
    r = sl_request_create(w, req, rt->path);
    snprintf(r->path, sizeof(r->path), "%s", rt->path);
    /* The table is constant; the callback only reads the entry back. */
    sl_http_authenticate(r, on_authenticated, (void *)(uintptr_t)rt);
    return 0;
}
