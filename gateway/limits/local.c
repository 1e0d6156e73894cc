/* SPDX-License-Identifier: Apache-2.0 */
/*
 * local -- the in-memory counters of one gateway process, used while Redis cannot be reached
 * under fail_open and always when no Redis is configured. They follow admit.lua's and
 * settle.lua's rules (one-second buckets over 60 s, slots, spend per period) for the requests
 * of this process only, so each node enforces every limit by itself.
 *
 * One table for the process, behind a mutex: admission and settlement are a few array walks,
 * far shorter than the Redis round trip they stand in for. The table holds at most
 * SL_LIMITS_LOCAL_MAX scopes; when it is full, a scope idle for two windows is reused, and a
 * scope that finds no room is not counted (logged once).
 */
#define SL_LOG_MODULE "limits"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "gateway/limits/limits.h"

#define SL_LIMITS_LOCAL_MAX 8192
#define STEP_MS 1000
#define BUCKETS 60

struct ring {
    int64_t second[BUCKETS];
    int64_t count[BUCKETS];
};

struct entry {
    char name[SL_LIMITS_ID_MAX + 32]; /* "<scope>:<id>" */
    uint64_t hash;
    struct ring requests;
    struct ring tokens;
    int64_t in_flight;
    int64_t period; /* start of the period `spend` belongs to */
    double spend;
    int64_t soft_period; /* period whose soft budget was crossed, -1 none */
    int seeded;          /* spend was set from PostgreSQL's, or found 0, at first use */
    uint64_t touched_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[SL_LIMITS_LOCAL_MAX];
static int full_logged;

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int
reusable(const struct entry *e, uint64_t now_ms)
{
    return e->in_flight == 0 && now_ms - e->touched_ms > 2u * BUCKETS * STEP_MS;
}

/* Finds or creates the entry of scope `s`; NULL when the table is full. Called locked. */
static struct entry *
find(const struct sl_limits_scope *s, uint64_t now_ms)
{
    char name[SL_LIMITS_ID_MAX + 32];
    uint64_t h;
    size_t slot;
    struct entry *victim = NULL;
    size_t empty = SL_LIMITS_LOCAL_MAX;

    snprintf(name, sizeof(name), "%s:%s", sl_limits_scope_name(s->kind), s->id);
    h = fnv1a(name);
    slot = (size_t)(h % SL_LIMITS_LOCAL_MAX);
    for (size_t i = 0; i < SL_LIMITS_LOCAL_MAX; i++) {
        size_t at = (slot + i) % SL_LIMITS_LOCAL_MAX;
        struct entry *e = table[at];

        if (e == NULL) {
            empty = at;
            break;
        }
        if (e->hash == h && strcmp(e->name, name) == 0) {
            e->touched_ms = now_ms;
            return e;
        }
        if (victim == NULL && reusable(e, now_ms))
            victim = e;
    }
    if (empty == SL_LIMITS_LOCAL_MAX && victim == NULL) {
        if (!full_logged) {
            full_logged = 1;
            sl_log(SL_LOG_WARN, NULL, "limits.memory_table_full",
                   SL_LOG_INT("scopes", SL_LIMITS_LOCAL_MAX),
                   SL_LOG_STR("message", "scopes beyond this are not counted in memory"));
        }
        return NULL;
    }
    if (victim == NULL) {
        victim = sl_xcalloc(1, sizeof(*victim));
        table[empty] = victim;
    }
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->name, sizeof(victim->name), "%s", name);
    victim->hash = h;
    victim->soft_period = -1;
    victim->touched_ms = now_ms;
    return victim;
}

/* Returns the units of `r` that still count at second `now_s`. */
static int64_t
ring_total(const struct ring *r, int64_t now_s)
{
    int64_t total = 0;

    for (size_t i = 0; i < BUCKETS; i++)
        if (r->count[i] > 0 && r->second[i] > now_s - BUCKETS && r->second[i] <= now_s)
            total += r->count[i];
    return total;
}

static void
ring_add(struct ring *r, int64_t now_s, int64_t units)
{
    size_t i = (size_t)(now_s % BUCKETS);

    if (r->second[i] != now_s) {
        r->second[i] = now_s;
        r->count[i] = 0;
    }
    r->count[i] += units;
}

/* The milliseconds until `units` counted units have aged out, -1 never. */
static int64_t
ring_wait(const struct ring *r, int64_t now_s, uint64_t now_ms, int64_t units)
{
    int64_t freed = 0;

    for (int64_t second = now_s - BUCKETS + 1; second <= now_s; second++) {
        size_t i = (size_t)(second % BUCKETS);

        if (r->second[i] != second)
            continue;
        freed += r->count[i];
        if (freed >= units) {
            int64_t wait = (second + BUCKETS) * STEP_MS - (int64_t)now_ms;

            return wait < 1 ? 1 : wait;
        }
    }
    return -1;
}

static int64_t
period_of(const struct sl_limits_scope *s, uint64_t now_ms)
{
    return s->has_period ? sl_budget_period(&s->period, (int64_t)(now_ms / 1000), NULL) : 0;
}

static double
spend_of(struct entry *e, const struct sl_limits_scope *s, uint64_t now_ms)
{
    int64_t period = period_of(s, now_ms);

    if (!e->seeded) {
        double seed = sl_limits_seed(s, now_ms);

        e->seeded = 1;
        e->period = period;
        e->spend = seed > 0 ? seed : 0.0;
    }
    if (e->period != period) {
        e->period = period;
        e->spend = 0.0;
    }
    return e->spend;
}

int
sl_limits_local_admit(struct sl_limits *l, uint64_t now_ms, uint64_t slot_ms,
                      struct sl_limits_rejection *rejection)
{
    struct entry *entries[SL_SCOPE_COUNT];
    int64_t now_s = (int64_t)(now_ms / STEP_MS);
    int ok = 0;

    (void)slot_ms; /* a slot in memory is always released by its own process */
    memset(rejection, 0, sizeof(*rejection));
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < l->n; i++)
        entries[i] = find(&l->scopes[i], now_ms);

    for (size_t i = 0; i < l->n; i++) {
        struct sl_limits_scope *s = &l->scopes[i];

        s->spend = entries[i] != NULL ? spend_of(entries[i], s, now_ms) : 0.0;
        if (!isnan(s->max_budget) && s->spend >= s->max_budget) {
            rejection->scope = i;
            rejection->limit_type = "budget";
            rejection->spend = s->spend;
            rejection->max_budget = s->max_budget;
            snprintf(rejection->limit_text, sizeof(rejection->limit_text), "%.17g", s->max_budget);
            goto out;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct sl_limits_scope *s = &l->scopes[i];
        struct entry *e = entries[i];
        int64_t used;

        if (e == NULL)
            continue;
        rejection->scope = i;
        if (s->rpm >= 0) {
            used = ring_total(&e->requests, now_s);
            if (used + 1 > s->rpm) {
                rejection->limit_type = "requests";
                rejection->limit = s->rpm;
                rejection->remaining = s->rpm > used ? s->rpm - used : 0;
                rejection->retry_ms =
                    s->rpm == 0 ? -1 : ring_wait(&e->requests, now_s, now_ms, used + 1 - s->rpm);
                goto out;
            }
            s->left_requests = s->rpm - used - 1;
        }
        if (s->tpm >= 0) {
            used = ring_total(&e->tokens, now_s);
            if (used >= s->tpm) {
                rejection->limit_type = "tokens";
                rejection->limit = s->tpm;
                rejection->remaining = s->tpm > used ? s->tpm - used : 0;
                rejection->retry_ms =
                    s->tpm == 0 ? -1 : ring_wait(&e->tokens, now_s, now_ms, used - s->tpm + 1);
                goto out;
            }
            s->left_tokens = s->tpm - used;
        }
        if (s->parallel >= 0) {
            if (e->in_flight + 1 > s->parallel) {
                rejection->limit_type = "max_parallel_requests";
                rejection->limit = s->parallel;
                rejection->remaining = s->parallel > e->in_flight ? s->parallel - e->in_flight : 0;
                rejection->retry_ms = 1000;
                goto out;
            }
            s->left_parallel = s->parallel - e->in_flight - 1;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        if (entries[i] == NULL)
            continue;
        if (l->scopes[i].rpm >= 0)
            ring_add(&entries[i]->requests, now_s, 1);
        if (l->scopes[i].parallel >= 0)
            entries[i]->in_flight++;
    }
    ok = 1;
out:
    pthread_mutex_unlock(&lock);
    return ok;
}

unsigned
sl_limits_local_settle(struct sl_limits *l, uint64_t now_ms, const int64_t *tokens, double cost)
{
    int64_t now_s = (int64_t)(now_ms / STEP_MS);
    unsigned crossed = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < l->n; i++) {
        const struct sl_limits_scope *s = &l->scopes[i];
        struct entry *e = find(s, now_ms);

        if (e == NULL)
            continue;
        if (tokens[i] > 0)
            ring_add(&e->tokens, now_s, tokens[i]);
        /* Only slots taken here are released here; Redis slots expire by themselves. */
        if (l->in_memory && s->parallel >= 0 && e->in_flight > 0)
            e->in_flight--;
        if (s->count_spend && cost > 0) {
            double before = spend_of(e, s, now_ms);

            e->spend = before + cost;
            if (!isnan(s->soft_budget) && e->spend >= s->soft_budget &&
                e->soft_period != e->period) {
                e->soft_period = e->period;
                crossed |= 1u << i;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return crossed;
}
