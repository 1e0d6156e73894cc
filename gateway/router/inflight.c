/* SPDX-License-Identifier: Apache-2.0 */
/* inflight -- the process-wide routing state of each deployment; see inflight.h. */
#include "gateway/router/inflight.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct sl_inflight *
sl_inflight_create(void)
{
    struct sl_inflight *t = sl_xcalloc(1, sizeof(*t));

    t->entries = sl_xcalloc(SL_INFLIGHT_CAPACITY, sizeof(*t->entries));
    for (size_t i = 0; i < SL_INFLIGHT_CAPACITY; i++) {
        atomic_init(&t->entries[i].id, NULL);
        atomic_init(&t->entries[i].count, 0);
        atomic_flag_clear(&t->entries[i].lock);
    }
    return t;
}

void
sl_inflight_destroy(struct sl_inflight *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < SL_INFLIGHT_CAPACITY; i++) {
        free(atomic_load(&t->entries[i].id));
        free(t->entries[i].samples);
        free(t->entries[i].sample_ms);
    }
    free(t->entries);
    free(t);
}

/* FNV-1a: ids are short and chosen by operators, not by clients. */
static uint64_t
hash_id(const char *id)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        h ^= *p;
        h *= 0x100000001b3u;
    }
    return h;
}

/*
 * Linear probing over slots whose id, once set, never changes. A new id is published with a
 * compare-and-swap on the first free slot, so two threads adding the same id at once end up
 * with one slot: the loser frees its copy and takes the winner's entry.
 */
struct sl_inflight_entry *
sl_inflight_get(struct sl_inflight *t, const char *id)
{
    char *copy = NULL;
    size_t len;
    size_t start;

    if (t == NULL || id == NULL)
        return NULL;
    len = strlen(id);
    if (len > SL_INFLIGHT_ID_MAX)
        return NULL;
    start = (size_t)(hash_id(id) & (SL_INFLIGHT_CAPACITY - 1));
    for (size_t i = 0; i < SL_INFLIGHT_CAPACITY; i++) {
        struct sl_inflight_entry *e = &t->entries[(start + i) & (SL_INFLIGHT_CAPACITY - 1)];
        char *current = atomic_load_explicit(&e->id, memory_order_acquire);

        if (current == NULL) {
            if (copy == NULL)
                copy = sl_xstrdup(id);
            if (atomic_compare_exchange_strong_explicit(&e->id, &current, copy,
                                                        memory_order_acq_rel, memory_order_acquire))
                return e;
            /* Another thread took this slot first: `current` now points to its id. */
        }
        if (strcmp(current, id) == 0) {
            free(copy);
            return e;
        }
    }
    free(copy);
    return NULL;
}

int64_t
sl_inflight_count(const struct sl_inflight_entry *e)
{
    return e == NULL ? 0 : (int64_t)atomic_load(&e->count);
}

int
sl_inflight_take(struct sl_inflight_entry *e, int64_t max)
{
    int_fast64_t n;

    if (e == NULL)
        return 1;
    if (max <= 0) {
        atomic_fetch_add(&e->count, 1);
        return 1;
    }
    n = atomic_load(&e->count);
    do {
        if (n >= max)
            return 0;
    } while (!atomic_compare_exchange_weak(&e->count, &n, n + 1));
    return 1;
}

void
sl_inflight_put(struct sl_inflight_entry *e)
{
    if (e != NULL)
        atomic_fetch_sub(&e->count, 1);
}

static void
lock_entry(struct sl_inflight_entry *e)
{
    while (atomic_flag_test_and_set_explicit(&e->lock, memory_order_acquire))
        ;
}

static void
unlock_entry(struct sl_inflight_entry *e)
{
    atomic_flag_clear_explicit(&e->lock, memory_order_release);
}

/* Makes room for `cap` samples; a new cap drops the old samples. Called with the lock held. */
static void
size_ring(struct sl_inflight_entry *e, size_t cap)
{
    if (e->cap_samples == cap)
        return;
    free(e->samples);
    free(e->sample_ms);
    e->samples = sl_xcalloc(cap, sizeof(*e->samples));
    e->sample_ms = sl_xcalloc(cap, sizeof(*e->sample_ms));
    e->cap_samples = cap;
    e->n_samples = 0;
    e->next_sample = 0;
}

void
sl_inflight_add_latency(struct sl_inflight_entry *e, double latency_ms, uint64_t now_ms,
                        size_t max_samples)
{
    size_t cap = max_samples;

    if (e == NULL)
        return;
    if (cap == 0)
        cap = 1;
    if (cap > SL_INFLIGHT_MAX_SAMPLES)
        cap = SL_INFLIGHT_MAX_SAMPLES;
    lock_entry(e);
    size_ring(e, cap);
    e->samples[e->next_sample] = latency_ms;
    e->sample_ms[e->next_sample] = now_ms;
    e->next_sample = (e->next_sample + 1) % e->cap_samples;
    if (e->n_samples < e->cap_samples)
        e->n_samples++;
    unlock_entry(e);
}

size_t
sl_inflight_mean_latency(struct sl_inflight_entry *e, uint64_t now_ms, uint64_t ttl_ms,
                         double *mean_ms)
{
    double sum = 0;
    size_t n = 0;

    if (e == NULL)
        return 0;
    lock_entry(e);
    for (size_t i = 0; i < e->n_samples; i++) {
        if (ttl_ms > 0 && e->sample_ms[i] + ttl_ms < now_ms)
            continue;
        sum += e->samples[i];
        n++;
    }
    unlock_entry(e);
    if (n > 0)
        *mean_ms = sum / (double)n;
    return n;
}

/* Starts the counts of `minute` when they are of an earlier one. Called with the lock held. */
static void
roll_minute(struct sl_inflight_entry *e, uint64_t minute)
{
    if (e->minute == minute)
        return;
    e->minute = minute;
    e->minute_requests = 0;
    e->minute_tokens = 0;
}

void
sl_inflight_minute_usage(struct sl_inflight_entry *e, uint64_t minute, int64_t *requests,
                         int64_t *tokens)
{
    *requests = 0;
    *tokens = 0;
    if (e == NULL)
        return;
    lock_entry(e);
    if (e->minute == minute) {
        *requests = e->minute_requests;
        *tokens = e->minute_tokens;
    }
    unlock_entry(e);
}

int
sl_inflight_minute_take(struct sl_inflight_entry *e, uint64_t minute, int64_t rpm, int64_t tpm,
                        int64_t input_tokens)
{
    int ok;

    if (e == NULL)
        return 1;
    lock_entry(e);
    roll_minute(e, minute);
    ok = (rpm <= 0 || e->minute_requests + 1 <= rpm) &&
         (tpm <= 0 || e->minute_tokens + input_tokens <= tpm);
    if (ok)
        e->minute_requests++;
    unlock_entry(e);
    return ok;
}

void
sl_inflight_minute_add_tokens(struct sl_inflight_entry *e, uint64_t minute, int64_t tokens)
{
    if (e == NULL || tokens <= 0)
        return;
    lock_entry(e);
    roll_minute(e, minute);
    e->minute_tokens += tokens;
    unlock_entry(e);
}
