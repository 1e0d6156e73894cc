/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failover -- retries within a model group and fallbacks to other groups, inside stage 4 of
 * http/pipeline.h. The relay reports each failed upstream call that happened before the first
 * byte reached the client. This module decides whether the request goes next to another
 * deployment of the group, to a fallback group or back to the client as an error. It starts
 * the next attempt from a timer on the worker's loop. Its state is per request. Each failed call is also reported to
 * router/cooldown.h, whose cooldowns, shared through Redis, keep every choice made here away
 * from a deployment that keeps failing.
 *
 * The pure parts (error classes, back-off, fallback lists) are declared first, for tests.
 */
#ifndef SL_FAILOVER_H
#define SL_FAILOVER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/config.h"
#include "gateway/http/errors.h"

struct sl_request;
struct sl_call;
struct sl_auth_record;
struct sl_model_group;
struct sl_failover;

/* Maximum back-off before a retry, in milliseconds, whatever retry-after requests. */
#define SL_FAILOVER_MAX_WAIT_MS 10000u
/* Fallback groups tried per request at most (LiteLLM's max_fallbacks default). */
#define SL_FAILOVER_MAX_FALLBACKS 5u

/* Class of a failed call: the next attempts it allows. */
enum sl_failover_class {
    SL_FAILOVER_RETRY,          /* 408, 409, 429, 5xx, transport: retry, then fallbacks */
    SL_FAILOVER_AUTH,           /* 401, 403: another deployment of the group, then fallbacks */
    SL_FAILOVER_CONTENT_POLICY, /* retried only by a policy, then content_policy_fallbacks */
    SL_FAILOVER_CONTEXT_WINDOW, /* retried only by a policy, then context_window_fallbacks */
    SL_FAILOVER_FINAL,          /* the request's own fault (400, 404, 422...): returned as is
                                 * unless a retry policy gives BadRequestErrorRetries */
};

/* Classifies a provider error by its status, then by type and message for the 400s that
 * are content policy or context window errors. */
enum sl_failover_class sl_failover_classify(const struct sl_upstream_error *e);

/*
 * Returns the error class of `e` for retry_policy and allowed_fails_policy. 408 is
 * TimeoutError, 429 RateLimitError, and 401 and 403 AuthenticationError. 409, 5xx and
 * connection errors are InternalServerError. A content policy error is
 * ContentPolicyViolationError, and every other status (400, 404, 413, 422, context window
 * errors) is BadRequestError.
 */
enum sl_error_class sl_failover_error_class(const struct sl_upstream_error *e);

/*
 * Returns the retries that the retry policy of model group `group` (its
 * model_group_retry_policy entry, else router_settings.retry_policy) gives for errors of
 * class `cls`, or -1 when it names none. ContentPolicyViolationErrorRetries, when unset,
 * falls back to BadRequestErrorRetries, because a content policy error is a bad request.
 */
int64_t sl_failover_policy_retries(const struct sl_config *cfg, const char *group,
                                   enum sl_error_class cls);

/* Parses a retry-after value in seconds ("7", "1.5") into `*seconds`. `ms` set: the value is
 * retry-after-ms, in milliseconds. Returns 0 for an HTTP date, a negative or invalid value. */
int sl_failover_parse_retry_after(const char *value, int ms, double *seconds);

/*
 * Returns the wait in milliseconds before retry number `retry` (0 for the first). It is 0
 * when an untried deployment of the group is left. Otherwise it is the provider's retry-after
 * when above 0 (`retry_after_s`, NAN or 0 when absent), else 0.5 s doubled per retry up to
 * 8 s, and at least router_settings.retry_after (`min_wait_s`). It never exceeds `cap_ms`.
 */
uint64_t sl_failover_backoff_ms(unsigned retry, double retry_after_s, double min_wait_s,
                                int other_deployment, uint64_t cap_ms);

/*
 * Returns the fallback groups of `group` for an error of class `cls` in `*out` and their
 * count: the request's own list for RETRY and AUTH when `request_list` is not empty, else the
 * config's entry for `group`, else its "*" entry, else default_fallbacks (RETRY and AUTH
 * only). router_settings lists replace litellm_settings lists. Borrowed from the arguments.
 */
size_t sl_failover_targets(const struct sl_config *cfg, const struct sl_strlist *request_list,
                           enum sl_failover_class cls, const char *group, char *const **out);

/* Returns the first of the `n` targets not in `tried`, or NULL. */
const char *sl_failover_next_target(char *const *targets, size_t n,
                                    const struct sl_strlist *tried);

/* ---------------------------------------------------------------- per request */

/*
 * Starts the failover state of `r`, which has just picked its first deployment of `group`:
 * copies `rec` (NULL: no restriction) for fallback access checks, and takes `fallbacks` and
 * `num_retries` out of the request body, so they are not sent upstream. When no deployment of
 * `group` can take the request (cooling down, at its cap, too small a context window), the
 * first pick becomes a fallback group's deployment, so admission and the cache lookup still
 * run. Returns 1, or 0 with an error sent: a 400 for a bad fallbacks list or a context window
 * that no group fits, a 429 when no deployment is left.
 */
int sl_failover_begin(struct sl_request *r, const struct sl_auth_record *rec,
                      const struct sl_model_group *group);

/*
 * Decides what follows the failed call of `r`, described by `e`, whose response headers are
 * read from `call` (may be NULL) for retry-after. Returns 1 when another attempt has been
 * scheduled: the caller then drops the call without responding. Returns 0 when the error
 * goes to the client.
 */
int sl_failover_try(struct sl_request *r, const struct sl_upstream_error *e,
                    const struct sl_call *call);

/* Returns the model group the current attempt serves, for the response's `model`. */
const char *sl_failover_group_name(const struct sl_request *r);

/* Schedules the first attempt of the next fallback group of `r`, whose current group has no
 * deployment that can take the call now. Returns 1 when one was scheduled, else 0: the caller
 * then responds. */
int sl_failover_try_fallback(struct sl_request *r);

/* Returns the model group of the current attempt, or NULL on routes without failover. */
const struct sl_model_group *sl_failover_group(const struct sl_request *r);

/* Writes the deployments of the current group that `r` already tried into `*out` (borrowed
 * until the next attempt is chosen) and returns their number. */
size_t sl_failover_tried(const struct sl_request *r, const struct sl_deployment *const **out);

/* Returns 1 when deployment `d` may be picked on worker `worker` (a struct sl_worker): the
 * check every choice of a deployment applies, cooldowns among it. */
int sl_failover_ready(const struct sl_deployment *d, void *worker);

/* Frees the state; NULL is accepted. */
void sl_failover_free(struct sl_failover *f);

#endif /* SL_FAILOVER_H */
