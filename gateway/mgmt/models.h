/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models -- the management routes of deployments stored in PostgreSQL: /model/new,
 * /model/update, PATCH /model/<model_id>/update, /model/delete, /model/info and
 * /v1/model/info. Loop thread only.
 */
#ifndef SL_MGMT_MODELS_H
#define SL_MGMT_MODELS_H

#include <h2o.h>

/* Serves every path under /model/ and /v1/model/info. Returns 0 once it took the request. */
int sl_handle_model(h2o_handler_t *self, h2o_req_t *req);

#endif /* SL_MGMT_MODELS_H */
