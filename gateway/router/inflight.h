/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inflight -- the routing state of each deployment that the whole gateway process shares:
 * requests in flight, recent latencies and the current minute's request and token counts.
 *
 * One table, created by main() before the workers start and freed after they are joined, is
 * read and written by every worker thread. It is keyed by deployment id, so a deployment that
 * a reload of the models table replaces with a new struct keeps its state. The in-flight count
 * is a C11 atomic, taken and released without a lock. The latency samples and the minute
 * counters of one entry sit behind a spinlock of that entry, held for a few instructions.
 * Entries are never removed: an id that leaves the config keeps its slot until the process
 * ends. Design notes: docs/routing.md.
 */
#ifndef SL_INFLIGHT_H
#define SL_INFLIGHT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Entries of the table; deployments past that are routed without state (see sl_inflight_get). */
#define SL_INFLIGHT_CAPACITY 16384u
/* Length of a deployment id the table accepts, without the NUL. */
#define SL_INFLIGHT_ID_MAX 255u
/* Latency samples kept per deployment at most, whatever max_latency_list_size requests. */
#define SL_INFLIGHT_MAX_SAMPLES 1000u

struct sl_inflight_entry {
    _Atomic(char *) id;        /* NULL while the slot is free; set once, owned by the table */
    atomic_int_fast64_t count; /* attempts in flight to this deployment */

    /* Guarded by `lock`. */
    atomic_flag lock;
    double *samples;     /* ring of latencies in ms; NULL until the first sample */
    uint64_t *sample_ms; /* wall clock of each sample, in ms */
    size_t n_samples;    /* samples stored, at most cap_samples */
    size_t next_sample;  /* ring position of the next sample */
    size_t cap_samples;
    uint64_t minute; /* wall ms / 60000 that the two counts below are of */
    int64_t minute_requests;
    int64_t minute_tokens;
};

struct sl_inflight {
    struct sl_inflight_entry *entries; /* SL_INFLIGHT_CAPACITY of them */
};

struct sl_inflight *sl_inflight_create(void);
/* Frees the table; no thread may use it any more. NULL is accepted. */
void sl_inflight_destroy(struct sl_inflight *t);

/*
 * Returns the entry of deployment `id`, adding it when it is new. Returns NULL when `t` is
 * NULL, `id` is longer than SL_INFLIGHT_ID_MAX, or the table is full: the caller then routes
 * the deployment as if it had no state and no cap. Thread-safe and lock-free.
 */
struct sl_inflight_entry *sl_inflight_get(struct sl_inflight *t, const char *id);

/* Returns the attempts in flight to `e`; 0 for NULL. */
int64_t sl_inflight_count(const struct sl_inflight_entry *e);

/*
 * Takes one in-flight slot of `e` unless `max` (<= 0: no cap) are already taken. Returns 1
 * when the slot is taken, which the caller gives back with sl_inflight_put() exactly once,
 * else 0. With `e` NULL, returns 1 and nothing is counted.
 */
int sl_inflight_take(struct sl_inflight_entry *e, int64_t max);

/* Gives back a slot from sl_inflight_take(). NULL is accepted. */
void sl_inflight_put(struct sl_inflight_entry *e);

/* Adds a latency sample in ms taken at `now_ms`, keeping the last `max_samples`. */
void sl_inflight_add_latency(struct sl_inflight_entry *e, double latency_ms, uint64_t now_ms,
                             size_t max_samples);

/*
 * Writes the mean of the samples of `e` taken after now_ms - ttl_ms into `*mean_ms` and
 * returns their number (0: no sample, `*mean_ms` untouched).
 */
size_t sl_inflight_mean_latency(struct sl_inflight_entry *e, uint64_t now_ms, uint64_t ttl_ms,
                                double *mean_ms);

/* Writes the requests and tokens counted for `e` in `minute` (wall ms / 60000). */
void sl_inflight_minute_usage(struct sl_inflight_entry *e, uint64_t minute, int64_t *requests,
                              int64_t *tokens);

/*
 * Counts one request on `e` in `minute` when it stays within `rpm` requests and its tokens
 * plus `input_tokens` stay within `tpm` (each <= 0: no limit). Returns 1 when counted, else 0.
 */
int sl_inflight_minute_take(struct sl_inflight_entry *e, uint64_t minute, int64_t rpm, int64_t tpm,
                            int64_t input_tokens);

/* Adds `tokens` to the count of `e` in `minute`. */
void sl_inflight_minute_add_tokens(struct sl_inflight_entry *e, uint64_t minute, int64_t tokens);

#endif /* SL_INFLIGHT_H */
