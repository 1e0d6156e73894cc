/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal -- what admission (limits.c) and settlement (settle.c) share inside
 * gateway/limits/: the scripts of a worker, Redis key names, reply reading and the outage
 * state. Not for other modules.
 */
#ifndef SL_LIMITS_INTERNAL_H
#define SL_LIMITS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "gateway/limits/limits.h"

struct sl_redis;

/* Longest Redis key of a scope: the prefix, the kind, the id and a period. */
#define KEY_MAX (SL_LIMITS_ID_MAX + 128)
/* Longest user agent and request or response body kept for a spend event, in bytes. */
#define UA_MAX   512
#define BODY_MAX (64 * 1024)

/* The scripts of one worker; NULL without Redis. */
struct sl_limits_scripts {
    struct sl_redis_script *admit;
    struct sl_redis_script *settle;
};

/* Names of the scopes in headers, messages and Redis keys, by enum sl_limit_scope. */
extern const char *const sl_limits__scope_names[SL_SCOPE_COUNT];

/* Writes the Redis key of `counter` ("req", "tok", "par") of scope `s`. Returns 1, or 0
 * when the key does not fit. */
int sl_limits__counter_key(char out[KEY_MAX], const struct sl_redis *redis,
                           const struct sl_limits_scope *s, const char *counter);

/* Writes the key of `kind` ("spend" or "soft") for the period of `s` that contains `now_ms`,
 * and how long to keep it into `*ttl_s` (0: for ever) unless NULL. Returns 1, or 0. */
int sl_limits__period_key(char out[KEY_MAX], const struct sl_redis *redis,
                          const struct sl_limits_scope *s, const char *kind, uint64_t now_ms,
                          int64_t *ttl_s);

/* Writes `v` in decimal, as "%lld" does, without printf. */
void sl_limits__format_int(int64_t v, char out[32]);

/* Writes a budget for the scripts: "-1" for NAN (unset), else the text of "%.17g". */
void sl_limits__format_number(double v, char out[32]);

/* Records whether Redis can be reached, logging each change once. */
void sl_limits__set_degraded(int on, const char *why);

/* Reads an integer element of a script reply; -1 for another type. */
int64_t sl_limits__reply_int(const redisReply *e);

/* Copies at most `max` of `len` bytes at `data` into a new NUL-terminated string. */
char *sl_limits__dup_capped(const char *data, size_t len, size_t max);

/* Registers the metrics of settle.c; called by sl_limits_metrics_register(). */
void sl_limits__settle_metrics_register(void);

#endif /* SL_LIMITS_INTERNAL_H */
