/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http -- what every management route shares. The route table's dispatcher checks the method,
 * the caller, its role and the database, and parses the body. Helpers read query parameters,
 * build SQL statements with bound text parameters, and run one statement on the worker's
 * PostgreSQL connection with LiteLLM's management error shapes.
 *
 * A route module (users.c, teams.c, ...) lists its routes as struct sl_mgmt_route entries in
 * routes.c and implements each `run` with the helpers here. Loop thread only.
 */
#ifndef SL_MGMT_HTTP_H
#define SL_MGMT_HTTP_H

#include <cjson/cJSON.h>
#include <h2o.h>
#include <libpq-fe.h>

#include "common/buf.h"
#include "gateway/mgmt/key_auth.h"

struct sl_request;

/* Parameters one management statement may bind. */
#define SL_MGMT_MAX_PARAMS 64
/* Maximum length of a query parameter value, after decoding. */
#define SL_MGMT_QUERY_MAX 1024
/* Maximum length of an id (user_id, team_id, ...) taken from a client. */
#define SL_MGMT_ID_MAX 255

/*
 * Access class of a route: the roles that pass before the route's own checks (after
 * LiteLLM's route groups).
 *  ADMIN       proxy_admin only; proxy_admin_viewer gets 403, other roles 401.
 *  ADMIN_READ  proxy_admin and proxy_admin_viewer.
 *  INFO        every role; the route shows a non-admin only what is theirs.
 *  SELF        every role; the route itself checks team or organization admin rights.
 */
enum sl_mgmt_access {
    SL_MGMT_ADMIN,
    SL_MGMT_ADMIN_READ,
    SL_MGMT_INFO,
    SL_MGMT_SELF,
};

/*
 * Runs one route once the caller passed the access check and the database is configured.
 * `body` is the parsed JSON object of a POST, PATCH or DELETE, NULL for GET; it is borrowed
 * until `run` returns, so a route copies what its asynchronous steps need.
 */
typedef void (*sl_mgmt_run_fn)(struct sl_request *r, const struct sl_mgmt_caller *caller,
                               const cJSON *body);

struct sl_mgmt_route {
    const char *path;   /* exact normalized path, e.g. "/team/new" */
    const char *method; /* "GET", "POST", "PATCH" or "DELETE" */
    enum sl_mgmt_access access;
    sl_mgmt_run_fn run;
};

/*
 * Serves the table-driven management routes (every management path except those under
 * /key/). Returns 0 once it took the request; unknown paths get the 404 of other routes.
 */
int sl_handle_mgmt(h2o_handler_t *self, h2o_req_t *req);

/* Returns 1 when `path` is one of the table's routes (for the server's route table). */
int sl_mgmt_is_route(const char *path, size_t len);

/*
 * Decides whether `role` may call a route of class `access`. Returns 200, or 403/401 with
 * LiteLLM's message in `err`.
 */
int sl_mgmt_access_status(const char *role, enum sl_mgmt_access access, const char *route,
                          struct sl_errbuf *err);

/* ---------------------------------------------------------------- responses */

/* Sends a management error; LiteLLM's management errors carry the param "None" when unset. */
void sl_mgmt_respond_error(struct sl_request *r, int status, const char *type, const char *param,
                           const char *message);

/* Sends `obj` as a 200 JSON response. */
void sl_mgmt_respond_json(struct sl_request *r, const cJSON *obj);

/* Sends the 400 for a missing or mistyped body field. */
void sl_mgmt_respond_bad_field(struct sl_request *r, const char *field, const char *expected);

/* ---------------------------------------------------------------- request input */

/*
 * Finds `name` in the query string and stores its decoded value (owned) in `*value`, NULL
 * when absent. Returns 0 with the 400 sent when the value is too long or badly escaped.
 */
int sl_mgmt_query_param(struct sl_request *r, const char *name, char **value);

/* Parses a query integer in [min, max]; `def` when absent. Returns 0 with the 400 sent. */
int sl_mgmt_query_int(struct sl_request *r, const char *name, long def, long min, long max,
                      long *out);

/* Reads a query flag: "true", "True" or "1" is 1, anything else or absent 0. Returns 0 with
 * the 400 sent. */
int sl_mgmt_query_flag(struct sl_request *r, const char *name, int *out);

/* Parses the body as a JSON object into `*body`. Returns 0 with the 400 or 413 sent. */
int sl_mgmt_parse_body(struct sl_request *r, cJSON **body);

/*
 * Returns the string member `name` of `body` (NULL when absent or JSON null). A member of
 * another type, or longer than `max` bytes, sends the 400 and sets `*bad`.
 */
const char *sl_mgmt_body_string(struct sl_request *r, const cJSON *body, const char *name,
                                size_t max, int *bad);

/* ---------------------------------------------------------------- SQL */

/* One SQL statement and its text parameters, bound as $1, $2, ... in order. */
struct sl_mgmt_sql {
    struct sl_buf text;
    const char *params[SL_MGMT_MAX_PARAMS];
    int n;
};

/* Starts an empty statement. */
void sl_mgmt_sql_init(struct sl_mgmt_sql *q);

/* Appends "$<n>::<cast>" for `value` (borrowed until the query is queued; NULL is SQL NULL). */
void sl_mgmt_bind(struct sl_mgmt_sql *q, const char *value, const char *cast);

/* Appends SQL text. */
void sl_mgmt_append(struct sl_mgmt_sql *q, const char *s);

/* Appends printf-formatted SQL text; never format a client's value into it, bind it. */
void sl_mgmt_appendf(struct sl_mgmt_sql *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Callbacks for the outcome of one statement. */
struct sl_mgmt_query_ops {
    /* The statement succeeded. `r->req` is NULL when the client left while it ran: a
     * committed change is kept, so side effects (cache invalidation) still happen. */
    void (*done)(struct sl_request *r, const PGresult *res, void *data);
    /* Optional: a failed statement with this SQLSTATE and constraint. Returns 1 when it sent
     * a specific error; otherwise the generic mapping applies. */
    int (*db_error)(struct sl_request *r, const char *sqlstate, const char *constraint,
                    void *data);
    /* Optional: frees `data` after done or the error. */
    void (*free)(void *data);
};

/*
 * Queues `q` (its text is disposed) on the worker's PostgreSQL connection and retains the
 * request until the outcome. On a failure to queue, sends the 503 and frees `data` at once.
 * The generic error mapping: unique violation 400, foreign key 400 naming the column, check
 * 400, other statement errors 500 (logged), connection loss or timeout 503.
 */
void sl_mgmt_run(struct sl_request *r, struct sl_mgmt_sql *q, const struct sl_mgmt_query_ops *ops,
                 void *data);

/* Returns column `col` of row `row` as parsed JSON, or NULL when there is no such row, the
 * value is SQL NULL or not JSON. */
cJSON *sl_mgmt_result_json(const PGresult *res, int row, int col);

/* Sends column 0 of row 0 as the JSON response, or `missing` as a 404 when there is no row. */
void sl_mgmt_respond_row(struct sl_request *r, const PGresult *res, const char *param,
                         const char *missing);

#endif /* SL_MGMT_HTTP_H */
