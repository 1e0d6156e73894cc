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
int sl_handle_not_found(h2o_handler_t *self, h2o_req_t *req);

struct sl_config;
struct sl_request;

/* Checks the caller's key against the master key. Returns 1 when the request may go on;
 * otherwise the 401 has been sent. Always 1 when no master key is configured. */
int sl_http_authenticate(struct sl_request *r, const struct sl_config *cfg);

#endif /* SL_HANDLERS_H */
