/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http/metrics -- the GET /metrics route and the gateway's own HTTP metrics, built on the
 * registry of common/metrics.h.
 *
 * main() calls sl_http_metrics_register() once, after sl_metrics_init() and before the
 * workers start. The request counter is updated on the worker thread that wrote the access
 * log line. How to add a metric is described in docs/observability.md.
 */
#ifndef SL_HTTP_METRICS_H
#define SL_HTTP_METRICS_H

struct sl_request;

/* Registers sluice_build_info and sluice_http_requests_total. */
void sl_http_metrics_register(void);

/* Counts the finished request `r` by route and status; called with the access log line. */
void sl_http_metrics_count_request(const struct sl_request *r);

#endif /* SL_HTTP_METRICS_H */
