/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report -- the body of GET /health: {"healthy_endpoints":[...],"unhealthy_endpoints":[...],
 * "healthy_count":n,"unhealthy_count":m}, as LiteLLM shapes it.
 *
 * Each endpoint lists the deployment's litellm_params that carry no credential (an allow-list:
 * a setting added later stays out until it is added here), its model_id, and for an unhealthy
 * one the check's error. Pure functions, safe on any thread.
 */
#ifndef SL_HEALTH_REPORT_H
#define SL_HEALTH_REPORT_H

#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"

struct sl_health_report {
    struct sl_buf healthy; /* comma-separated endpoint objects */
    struct sl_buf unhealthy;
    size_t n_healthy;
    size_t n_unhealthy;
};

void sl_health_report_init(struct sl_health_report *rep);
void sl_health_report_dispose(struct sl_health_report *rep);

/* Appends the object of the non-secret litellm_params of `d` (with "model_id") to `out`. */
void sl_health_append_params(struct sl_buf *out, const struct sl_deployment *d);

/* Adds `d` to the healthy list when `error` is NULL, else to the unhealthy one with `error`. */
void sl_health_report_add(struct sl_health_report *rep, const struct sl_deployment *d,
                          const char *error);

/* Appends the whole body to `out`. */
void sl_health_report_finish(const struct sl_health_report *rep, struct sl_buf *out);

#endif /* SL_HEALTH_REPORT_H */
