/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attempt -- the start and the end of one provider call for routing, inside stage 4 of
 * http/pipeline.h.
 *
 * Before a call starts, sl_attempt_claim() checks the deployment that router/strategy.h
 * picked against the state of this moment and takes one of its in-flight slots (router/
 * inflight.h). When the slot is gone, another deployment of the group is picked; when none is
 * left, the fallback groups are tried, then the client gets LiteLLM's 429. With usage-based routing
 * and Redis, the claim is one script call (lua-scripts/usage_pick.lua) that picks the deployment
 * with rpm/tpm headroom across every gateway node and counts the request; without Redis, this
 * process counts alone. When the call ends, for any reason, sl_attempt_release() gives the slot
 * back, once. Loop thread of the request's worker. Design notes: docs/routing.md.
 */
#ifndef SL_ATTEMPT_H
#define SL_ATTEMPT_H

struct sl_request;
struct sl_model_group;

/* The latency sample of a call that timed out, in ms, so that its deployment is picked last. */
#define SL_ATTEMPT_TIMEOUT_LATENCY_MS 1000000.0

/* Starts the provider call of `r` with the deployment in r->deployment. */
typedef void (*sl_attempt_start_cb)(struct sl_request *r);

/*
 * Confirms or replaces r->deployment and takes its in-flight slot, then calls `start`, at
 * once or from a Redis reply. When no deployment of the group can take the call, the next
 * fallback group is scheduled (http/failover.h), else the client gets a 429, and `start` is
 * not called. A client gone during the Redis call ends it silently.
 */
void sl_attempt_claim(struct sl_request *r, sl_attempt_start_cb start);

/* Records the latency and the tokens of the call of `r`, which succeeded, for the strategies
 * that read them. Call it before sl_attempt_release(). */
void sl_attempt_succeeded(struct sl_request *r);

/* Records the failure with `status` of the call of `r` before the client's first byte: a
 * timeout (408) counts as a latency of SL_ATTEMPT_TIMEOUT_LATENCY_MS for latency-based
 * routing, as in LiteLLM. Then gives back the call's slot. */
void sl_attempt_failed(struct sl_request *r, int status);

/* Gives back the in-flight slot of `r`'s call. Safe to call more than once and without a
 * slot: every end of a call calls it, and so does the last release of the request. */
void sl_attempt_release(struct sl_request *r);

/* Responds LiteLLM's 429 "No deployments available for selected model" for `g`, with
 * retry-after `retry_after_s` (at least 1). */
void sl_attempt_respond_unavailable(struct sl_request *r, const struct sl_model_group *g,
                                    unsigned retry_after_s);

#endif /* SL_ATTEMPT_H */
