/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state -- each gateway worker's copy of the deployments' health check results.
 *
 * The coordinator's leader writes results into Redis (gateway/health/entry.h). A worker keeps
 * them in its own table, filled by the messages on <prefix>deployments:health and by reading
 * the hash <prefix>health:all each time its subscription comes up, the way the cooldown table
 * of gateway/router/cooldown.h is kept. Routing reads only the table, so it costs no Redis
 * round trip. Without Redis the table stays empty and every deployment counts as usable.
 * Loop thread of the worker.
 */
#ifndef SL_HEALTH_STATE_H
#define SL_HEALTH_STATE_H

#include "common/config.h"
#include "gateway/health/entry.h"

struct sl_worker;

/* Creates the worker's table; with Redis, subscribes to the channel. */
void sl_health_worker_init(struct sl_worker *w);

void sl_health_worker_dispose(struct sl_worker *w);

/*
 * Returns 0 when a fresh result marks `d` unhealthy and another deployment of its model
 * group has no such result, else 1: a group whose deployments all failed their checks still
 * routes, so clients get the providers' own errors.
 */
int sl_health_usable(struct sl_worker *w, const struct sl_deployment *d);

/* Returns the fresh result of deployment `id`, borrowed until the loop runs again, or NULL. */
const struct sl_health_entry *sl_health_lookup(struct sl_worker *w, const char *id);

#endif /* SL_HEALTH_STATE_H */
