/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run -- `sluice-coordinator run`: the long-running job. It elects one leader among the
 * coordinators through Redis, and the leader moves the gateways' spend events from the Redis
 * stream into PostgreSQL. Design and operation: docs/coordinator.md.
 */
#ifndef SL_COORD_RUN_H
#define SL_COORD_RUN_H

struct sl_config;

struct sl_coord_run_options {
    const struct sl_config *config; /* borrowed for the whole run */
    int metrics_port;               /* -1: general_settings.coordinator_metrics_port; 0: none */
    const char *metrics_host;       /* IPv4 address the /metrics port listens on */
};

/*
 * Runs until SIGTERM or SIGINT, then finishes the current batch, releases the leader lease and
 * returns 0. Returns 1 at once when the configuration names no database or no Redis, or the
 * metrics port cannot be bound; the reason is logged and printed on stderr.
 */
int sl_coord_run(const struct sl_coord_run_options *opts);

#endif /* SL_COORD_RUN_H */
