/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health -- the leader's background health checks (general_settings.background_health_checks).
 *
 * A thread of its own sends every deployment of the config and of the models table the
 * minimal request of gateway/health/probe.h once per health_check_interval. At most
 * SL_COORD_HEALTH_PARALLEL calls run at a time over one curl multi handle, each within the
 * deployment's health_check_timeout. Each result goes to Redis (gateway/health/entry.h) on the
 * thread's own connection, so neither the calls nor the writes hold up the main loop. The
 * thread checks only while the main loop reports that this instance leads. Checks are never
 * counted as spend.
 * Design notes: docs/health-checks.md.
 */
#ifndef SL_COORD_HEALTH_H
#define SL_COORD_HEALTH_H

#include "common/redis.h"

struct sl_config;
struct sl_coord_metrics;
struct sl_coord_health;

/* Checks in flight at once, at most. */
#define SL_COORD_HEALTH_PARALLEL 8

/*
 * Starts the checker thread for the deployments of `cfg`, which must outlive it, writing to
 * the Redis of `target` (copied) under `prefix` (borrowed) and counting into `metrics`.
 * Returns NULL when `cfg` turns background checks off, or when the thread cannot start
 * (logged).
 */
struct sl_coord_health *sl_coord_health_start(const struct sl_config *cfg,
                                              const struct sl_redis_target *target,
                                              const char *prefix, struct sl_coord_metrics *metrics);

/* Tells the thread whether this instance leads now; `h` may be NULL. Main thread. */
void sl_coord_health_set_leading(struct sl_coord_health *h, int leading);

/* Stops the thread (cancelling checks in flight) and frees `h`; `h` may be NULL. */
void sl_coord_health_stop(struct sl_coord_health *h);

#endif /* SL_COORD_HEALTH_H */
