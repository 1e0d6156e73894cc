/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cooldown -- deployments left out of routing for a while after repeated failures.
 *
 * Each worker keeps a table of deployment id -> cooled-down-until (wall clock, ms) and reads
 * only that table when it picks a deployment, so routing costs no Redis round trip. The table
 * is filled from the worker's own failures at once, from the messages that every gateway
 * publishes on <prefix>deployments:cooldown (lua-scripts/cooldown_fail.lua counts failures
 * and decides), and from the sorted set <prefix>cooldown:all, read each time the worker's
 * subscription comes up, so that a gateway started late learns current cooldowns. An entry
 * expires by comparing its time with the clock: no message ends a cooldown. Without Redis
 * each worker counts its own failures and cools down on its own. Loop thread of the worker.
 *
 * The table and the error message are pure and come first, for tests.
 */
#ifndef SL_COOLDOWN_H
#define SL_COOLDOWN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"

struct sl_worker;
struct sl_model_group;
struct sl_upstream_error;

/* Deployments a worker's table tracks at once; a new one beyond that replaces the entry that
 * ends first. */
#define SL_COOLDOWN_MAX_ENTRIES 256u
/* Length of a deployment id that the table and the channel accept, without the NUL. */
#define SL_COOLDOWN_ID_MAX 255u
/* Cooldown ids listed in the error message at most. */
#define SL_COOLDOWN_MAX_LISTED 32u

struct sl_cooldown_entry {
    char id[SL_COOLDOWN_ID_MAX + 1];
    uint64_t until_ms; /* cooling down while the wall clock is below it */
    uint64_t minute;   /* the minute (wall ms / 60000) that `failures` counts */
    uint64_t failures; /* failures this worker saw in `minute` */
};

struct sl_cooldown_table {
    struct sl_cooldown_entry entries[SL_COOLDOWN_MAX_ENTRIES];
    size_t n;
};

/* Sets the cooldown of `id` to end at `until_ms` unless it already ends later. Ids longer
 * than SL_COOLDOWN_ID_MAX are ignored. */
void sl_cooldown_table_set(struct sl_cooldown_table *t, const char *id, uint64_t until_ms,
                           uint64_t now_ms);

/* Returns the end of the cooldown of `id` in ms when it is after `now_ms`, else 0. */
uint64_t sl_cooldown_table_until(const struct sl_cooldown_table *t, const char *id,
                                 uint64_t now_ms);

/*
 * Counts one failure of `id` at `now_ms` and, when the count of that minute exceeds
 * `allowed_fails`, cools `id` down for `cooldown_ms`. Returns the end
 * of the cooldown, or 0 when `id` is not cooling down. This count is the worker's own; with
 * Redis, lua-scripts/cooldown_fail.lua also counts the failures of every gateway.
 */
uint64_t sl_cooldown_table_fail(struct sl_cooldown_table *t, const char *id, uint64_t allowed_fails,
                                uint64_t cooldown_ms, uint64_t now_ms);

/* Returns 1 when an error of `status` counts toward a cooldown (401, 403, 408, 429 and 5xx,
 * transport errors included), else 0. */
int sl_cooldown_counts(int status);

/* The failures per minute allowed in LiteLLM's default mode (allowed_fails unset). */
#define SL_COOLDOWN_DEFAULT_ALLOWED_FAILS 3
/* A provider's retry-after lengthens a cooldown up to this many seconds at most. */
#define SL_COOLDOWN_MAX_RETRY_AFTER_S 300.0

/*
 * Returns the failures per minute a deployment of a group of `group_size` deployments may
 * have before an error of class `cls` and `status` cools it down, or -1 when it never does.
 * In LiteLLM's default mode (allowed_fails and allowed_fails_policy both unset), a 401 or 403
 * cools down at once (0) in any group, and so does a 429 in a group of several deployments.
 * Other errors never cool down a group's only deployment and are otherwise allowed
 * SL_COOLDOWN_DEFAULT_ALLOWED_FAILS. Outside the default mode, the policy's count for `cls`
 * applies, else allowed_fails, else the default, in groups of any size.
 */
int64_t sl_cooldown_allowed_fails(const struct sl_config *cfg, enum sl_error_class cls,
                                  int status, size_t group_size);

/*
 * Returns the length of a cooldown in ms: cooldown_time, or the provider's retry-after
 * (`retry_after_s`, NAN when absent) when that is longer, capped at
 * SL_COOLDOWN_MAX_RETRY_AFTER_S. A cooldown_time of 0 (cooldowns off) returns 0.
 */
uint64_t sl_cooldown_length_ms(double cooldown_time_s, double retry_after_s);

/*
 * Appends LiteLLM's message for a group whose every deployment is cooling down: "No
 * deployments available for selected model, Try again in <wait_s> seconds. Passed
 * model=<model>. pre-call-checks=False, cooldown_list=[<ids>]" with the ids as a Python list
 * of strings. `wait_s` is the seconds until the first deployment returns.
 */
void sl_cooldown_message(struct sl_buf *out, const char *model, uint64_t wait_s,
                         const char *const *ids, size_t n_ids);

/* ---------------------------------------------------------------- per worker */

/* Creates the worker's table; with Redis, loads the script and subscribes to the channel. */
void sl_cooldown_worker_init(struct sl_worker *w);

void sl_cooldown_worker_dispose(struct sl_worker *w);

/* Returns 1 when deployment `d` is cooling down on this worker now; always 0 under
 * router_settings.disable_cooldowns. */
int sl_cooldown_active(struct sl_worker *w, const struct sl_deployment *d);

/*
 * Returns the time in ms until the first deployment of `g` returns from its cooldown, or 0
 * when one of them is not cooling down. Appends at most SL_COOLDOWN_MAX_LISTED ids of the
 * cooling deployments to `ids` (borrowed from the router) and their count to `*n_ids`.
 */
uint64_t sl_cooldown_group_wait_ms(struct sl_worker *w, const struct sl_model_group *g,
                                   const char **ids, size_t *n_ids);

/*
 * Records the failed call of deployment `d` of `g`, which ended with `e` of class `cls`. It
 * cools `d` down on this worker at once when its count is above sl_cooldown_allowed_fails(),
 * and sends the failure to Redis, whose script cools it down on every gateway. The provider's
 * retry-after (`retry_after_s`, NAN when absent) may lengthen the cooldown. Errors that do not
 * count, and every error under router_settings.disable_cooldowns, are ignored.
 */
void sl_cooldown_report(struct sl_worker *w, const struct sl_model_group *g,
                        const struct sl_deployment *d, const struct sl_upstream_error *e,
                        enum sl_error_class cls, double retry_after_s);

#endif /* SL_COOLDOWN_H */
