/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http/litellm_metrics -- LiteLLM's Prometheus catalogue (version 1.81.13) on the registry of
 * common/metrics.h: the same metric names, types, label names in the same order and buckets,
 * so that dashboards built for LiteLLM read Sluice unchanged. docs/observability.md lists the
 * metrics, what each label contains and where Sluice differs.
 *
 * The request-level metrics are updated once, when the access log line is written. Per-call
 * facts that a retry or fallback would overwrite (a failed provider call, a cooldown, the
 * provider's rate-limit headers) are counted where they happen. Labels named in
 * litellm_settings.prometheus_drop_labels keep their place with an empty value.
 */
#ifndef SL_LITELLM_METRICS_H
#define SL_LITELLM_METRICS_H

#include <stddef.h>

#include "common/config.h"

struct sl_call;
struct sl_request;
struct sl_upstream_error;

/*
 * Registers the catalogue and reads litellm_settings.prometheus_drop_labels and
 * enable_end_user_cost_tracking_prometheus_only from `cfg`. Call once on the main thread after
 * sl_metrics_init() and before the workers start; a reload does not change either setting.
 */
void sl_litellm_metrics_register(const struct sl_config *cfg);

/* Updates the request, spend, token, latency, budget, cache and fallback metrics of the
 * finished model request `r`. Called with the access log line; other routes are ignored. */
void sl_litellm_metrics_request_end(const struct sl_request *r);

/* Counts the failed provider call of r->deployment, which ended with `e`. */
void sl_litellm_metrics_call_failed(const struct sl_request *r, const struct sl_upstream_error *e);

/* Reads the remaining requests and tokens from the rate-limit headers of `call`'s response. */
void sl_litellm_metrics_provider_headers(const struct sl_request *r, const struct sl_call *call);

/* Counts the start of a cooldown of deployment `d` after an error of `status`, and sets its
 * litellm_deployment_state to 2 (complete outage). */
void sl_litellm_metrics_cooled_down(const struct sl_deployment *d, int status);

/* Sets the deployment state of `d` to 2 (cooling down) for a cooldown that another node
 * started and announced through Redis; its counter is that node's. */
void sl_litellm_metrics_deployment_down(const struct sl_deployment *d);

/* Sets the deployment state of `d` from a background health check: 1 (partial outage) when
 * it failed, 0 when it passed. */
void sl_litellm_metrics_deployment_checked(const struct sl_deployment *d, int healthy);

/*
 * Writes LiteLLM's exception_class for an error of `status` with Sluice error type
 * `error_type` (may be NULL): the class name of LiteLLM's exception for that status, e.g.
 * "RateLimitError", prefixed with the provider capitalised and a dot ("Openai.RateLimitError")
 * when `provider` is not NULL. Exposed for tests.
 */
void sl_litellm_exception_class(int status, const char *error_type, const char *provider,
                                char *out, size_t size);

/*
 * Parses a rate-limit header value of up to 32 bytes ("59", "149984.5") into `*out`.
 * Returns 1 for a finite number >= 0, else 0. Exposed for tests.
 */
int sl_litellm_parse_remaining(const char *value, double *out);

/* Returns the bit of label `name` in the drop mask, or 0 for a name that no metric of the
 * catalogue has. Exposed for tests. */
unsigned sl_litellm_label_bit(const char *name);

#endif /* SL_LITELLM_METRICS_H */
