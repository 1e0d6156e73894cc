/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handlers -- the h2o on_req functions of every route, registered by server.c.
 *
 * Each returns 0 once it took the request (answered or pending) and never -1, so h2o's own
 * 404 is only reached for paths no handler owns.
 */
#ifndef SL_HANDLERS_H
#define SL_HANDLERS_H

#include <h2o.h>

int sl_handle_chat(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_messages(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_count_tokens(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_completions(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_embeddings(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_models(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_liveliness(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_readiness(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_health(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_metrics(h2o_handler_t *self, h2o_req_t *req);
int sl_handle_not_found(h2o_handler_t *self, h2o_req_t *req);

struct sl_auth_record;
struct sl_config;
struct sl_model_group;
struct sl_request;

/* Continues a request whose key passed. `rec` is the virtual key's record, borrowed until the
 * callback returns, or NULL for the master key, when authentication is off, or for a request
 * let through while the key store is unreachable (allow_requests_on_db_unavailable). */
typedef void (*sl_http_auth_next_cb)(struct sl_request *r, const struct sl_auth_record *rec,
                                     void *privdata);

/*
 * Checks the caller's key: the master key at once, a virtual key through the worker's lookup
 * chain when a database is configured. When the key passes, `next` runs, either before this
 * returns or later from a loop callback while r->req is still set; otherwise the error has been
 * sent in the client's format and `next` never runs. With no master key configured every
 * request passes.
 */
void sl_http_authenticate(struct sl_request *r, sl_http_auth_next_cb next, void *privdata);

/* Checks the caller's key against the master key alone, synchronously, for routes that no
 * virtual key may call. Returns 1 when the request may go on; otherwise the 401 has been sent.
 * Always 1 when no master key is configured. */
int sl_http_authenticate_master(struct sl_request *r, const struct sl_config *cfg);

/* Returns 1 when the caller that sl_http_authenticate() let through with `rec` is an admin:
 * the master key, any caller when no master key is configured, or a virtual key whose user
 * has the proxy_admin role. A request let through while the key store is unreachable is not. */
int sl_http_caller_is_admin(struct sl_request *r, const struct sl_auth_record *rec);

/* Returns 1 when `rec` (NULL: no restriction) may call `model` of `group` (NULL: no such
 * group). */
int sl_http_model_allowed(const struct sl_auth_record *rec, const char *model,
                          const struct sl_model_group *group);

/* As sl_http_model_allowed(), but sends the 401 that names the denying list when not allowed.
 * Returns 1 when allowed. */
int sl_http_check_model_access(struct sl_request *r, const struct sl_auth_record *rec,
                               const char *model, const struct sl_model_group *group);

#endif /* SL_HANDLERS_H */
