/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mgmt -- the management API served by every gateway node. Each route reads and writes
 * PostgreSQL through the worker's asynchronous client (w->pg), one SQL statement per call, so
 * a change, its audit_log row and any copy into deleted_keys commit together.
 */
#ifndef SL_MGMT_H
#define SL_MGMT_H

#include <h2o.h>

/*
 * Serves every path under /key/: generate, update, delete, info, list, regenerate (also
 * /key/<key>/regenerate), block and unblock. Returns 0 once it took the request.
 */
int sl_handle_key(h2o_handler_t *self, h2o_req_t *req);

#endif /* SL_MGMT_H */
