/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store -- cached responses in the worker's Redis: GET, MGET and SET with a TTL.
 *
 * An entry lives at the key sl_redis_key(..., "cache:%s", cache_key), where `cache_key` is the
 * string returned to clients in x-litellm-cache-key ("<namespace>:<sha256 hex>" or the bare
 * hex). A cache that cannot be reached is a miss with a reason, never a wait: every command
 * carries the Redis client's command deadline.
 *
 * Callback timing: the callback of sl_cache_get() and sl_cache_mget() runs exactly once. It
 * runs before the call returns when nothing was sent (no Redis configured, no connection, the
 * client's in-flight cap, a key too long), and on a later turn of the loop otherwise. A caller
 * that passes a request as `data` takes a reference (sl_request_retain) before the call and
 * drops it (sl_request_release) in the callback, and must not touch the request after the
 * call returns unless it holds another reference.
 *
 * Each worker logs cache.redis_unavailable once when cache commands start failing and
 * cache.redis_available once when they succeed again, never once per request.
 * Loop thread only.
 */
#ifndef SL_CACHE_STORE_H
#define SL_CACHE_STORE_H

#include <stddef.h>

#include "common/status.h"

struct sl_worker;

/* Maximum length of a cache key as given by the caller, without the NUL. */
#define SL_CACHE_STORE_KEY_MAX 512

/* Keys sent in one MGET; sl_cache_mget() splits longer lists into several commands. */
#define SL_CACHE_MGET_BATCH 500

/* Maximum number of keys of one sl_cache_mget() call. */
#define SL_CACHE_MGET_MAX 4096

/*
 * Receives the outcome of sl_cache_get():
 * - SL_OK with the entry's `len` bytes at `value` (borrowed until the callback returns);
 * - SL_ERR_NOT_FOUND when there is no entry (or it expired);
 * - SL_ERR_UNAVAILABLE when Redis is not configured, down, timed out or sent an error reply;
 * - SL_ERR_TOO_LARGE when `cache_key` is longer than SL_CACHE_STORE_KEY_MAX (nothing is sent).
 * `value` is NULL and `len` 0 unless the status is SL_OK.
 */
typedef void (*sl_cache_get_cb)(struct sl_worker *w, enum sl_status st, const char *value,
                                size_t len, void *data);

/* One value of an sl_cache_mget() result: `ptr` is NULL for a miss. */
struct sl_cache_value {
    const char *ptr;
    size_t len;
};

/*
 * Receives the outcome of sl_cache_mget(): SL_OK with `values[i]` for the i-th key (misses have
 * a NULL `ptr`; the array and the bytes are borrowed until the callback returns), or
 * SL_ERR_UNAVAILABLE or SL_ERR_TOO_LARGE as for sl_cache_get() (when any one batch failed), or
 * SL_ERR_INVALID for more than SL_CACHE_MGET_MAX keys, with `values` NULL. `n` is the number
 * of keys asked for.
 */
typedef void (*sl_cache_mget_cb)(struct sl_worker *w, enum sl_status st,
                                 const struct sl_cache_value *values, size_t n, void *data);

/* Reads the entry of `cache_key` (copied before this returns) and reports it through `cb`. */
void sl_cache_get(struct sl_worker *w, const char *cache_key, sl_cache_get_cb cb, void *data);

/*
 * Reads the entries of the `n` keys in `cache_keys` (copied before this returns) with one MGET
 * per SL_CACHE_MGET_BATCH keys, and reports them together through `cb`. n == 0 reports SL_OK
 * with no values at once.
 */
void sl_cache_mget(struct sl_worker *w, const char *const *cache_keys, size_t n,
                   sl_cache_mget_cb cb, void *data);

/*
 * Stores `len` bytes of `value` (copied) under `cache_key` with SET ... EX `ttl_s`, so every
 * entry expires. Nothing is reported back: a failure only moves the worker's cache state (see
 * above). A `ttl_s` below 1 writes nothing, because Redis rejects EX 0 and an entry without a
 * TTL would live for ever.
 */
void sl_cache_put(struct sl_worker *w, const char *cache_key, const char *value, size_t len,
                  long ttl_s);

/*
 * Records the outcome of a cache command sent outside this file (the /cache/ routes), so the
 * worker's available/unavailable log lines cover them too. `ok` is 1 for a reply that is not
 * an error reply; `reason` names the failure otherwise (a static string or a short text).
 */
void sl_cache_note_outcome(struct sl_worker *w, int ok, const char *reason);

#endif /* SL_CACHE_STORE_H */
