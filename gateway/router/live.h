/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live -- the router a worker serves from: the config's deployments plus the rows of the
 * models table, replaced without a restart when the table changes.
 *
 * Each worker reloads the table on its own loop thread with its own PostgreSQL connection:
 * at start, every general_settings.model_reload_interval, and on each message on the Redis
 * channel <prefix>models:changed, which sl_router_live_announce() publishes after each
 * write through the /model/ routes. A reload that reads the same rows as the previous one
 * keeps the router. A failed reload keeps the previous router and is retried after
 * SL_ROUTER_LIVE_RETRY_MS.
 *
 * A request pins the router it picked its deployment from (sl_router_live_pin), so a
 * replaced router and its deployments stay alive until the last request using it is done.
 * Nothing is shared between workers, so no lock is taken. Loop thread of the worker only.
 */
#ifndef SL_ROUTER_LIVE_H
#define SL_ROUTER_LIVE_H

#include <h2o.h>

#include "gateway/router/router.h"

struct sl_worker;

/* Rows of the models table a reload reads at most; the rest are ignored with a warning. */
#define SL_ROUTER_LIVE_MAX_ROWS 10000
/* Delay before a failed reload is tried again. */
#define SL_ROUTER_LIVE_RETRY_MS 1000

/* Creates w->models with the config's deployments and schedules the first reload. */
void sl_router_live_init(struct sl_worker *w);

/* Stops reloading and drops the worker's reference to its router. */
void sl_router_live_dispose(struct sl_worker *w);

/* Returns the worker's current router, valid until the running loop callback returns. */
const struct sl_router *sl_router_live_current(struct sl_worker *w);

/*
 * Keeps the current router, and so the deployment picked from it, alive until h2o frees
 * `req`. Call it once the request picked a deployment.
 */
void sl_router_live_pin(struct sl_worker *w, h2o_req_t *req);

/* Reloads the models table on this worker now, and on every worker of every node through
 * the Redis channel when Redis is configured. */
void sl_router_live_announce(struct sl_worker *w);

#endif /* SL_ROUTER_LIVE_H */
