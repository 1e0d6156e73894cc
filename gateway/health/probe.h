/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe -- the minimal request that a health check sends to one deployment, and its verdict.
 *
 * A probe is built by the deployment's provider family (gateway/providers/), so it is signed,
 * addressed and shaped exactly like client traffic. It is a chat with one short user message
 * and max_tokens 1, or an embedding of one short input when model_info.mode is "embedding".
 * The coordinator's background checks and the gateway's GET /health both use it. Pure
 * functions, safe on any thread; the caller sends the request with its own curl handle.
 */
#ifndef SL_HEALTH_PROBE_H
#define SL_HEALTH_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/status.h"
#include "gateway/providers/provider.h"

/* Bytes of a check's error message kept at most, without the NUL. */
#define SL_HEALTH_ERROR_MAX 200u
/* Response body bytes a check reads at most: a verdict needs only the status and the error. */
#define SL_HEALTH_MAX_BODY_BYTES (64u * 1024u)

struct sl_health_probe {
    struct sl_upstream_request req; /* url, headers and body for curl; freed by dispose */
    const struct sl_provider *provider;
    uint64_t timeout_ms; /* model_info.health_check_timeout */
};

/*
 * Builds the probe of `d` at Unix time `now_s` (used by request signing). Returns SL_OK,
 * SL_ERR_INVALID with the reason in `err` when `d` cannot be checked (a wildcard model
 * without model_info.health_check_model, or a kind its family does not serve), or
 * SL_ERR_CONFIG for an unknown provider. `out` is filled only on SL_OK and freed with
 * sl_health_probe_dispose().
 */
enum sl_status sl_health_probe_build(const struct sl_deployment *d, int64_t now_s,
                                     struct sl_health_probe *out, struct sl_errbuf *err);

void sl_health_probe_dispose(struct sl_health_probe *p);

/*
 * Returns 1 when a check of `d` that got HTTP `status` and `body` passed (any 2xx), else 0.
 * On failure writes a short reason into `msg` (at most SL_HEALTH_ERROR_MAX bytes plus NUL):
 * `transport_error` when the call failed before a response (timeout, refused connection),
 * else the status and the provider's error message. Every credential of `d` that appears in
 * the reason is replaced by "***", because providers sometimes echo a rejected key.
 */
int sl_health_probe_verdict(const struct sl_health_probe *p, const struct sl_deployment *d,
                            long status, const char *body, size_t len, const char *transport_error,
                            char *msg, size_t msg_size);

/* Replaces every occurrence of each credential of `d` in the NUL-terminated `text` by "***". */
void sl_health_redact(char *text, const struct sl_deployment *d);

#endif /* SL_HEALTH_PROBE_H */
