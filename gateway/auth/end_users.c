/* SPDX-License-Identifier: Apache-2.0 */
/*
 * end_users -- the lookup of an end user's blocked flag and budget row (see end_users.h):
 * a per-worker cache, direct-mapped by a seeded hash of the id, in front of one PostgreSQL
 * query. Concurrent lookups of an id that is already being queried wait for that query
 * instead of sending their own, so a burst of requests from one end user costs one query.
 */
#define SL_LOG_MODULE "auth"
#include "gateway/auth/end_users.h"
#include "gateway/auth/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/xalloc.h"
#include "gateway/worker.h"

/* How long an entry may still serve while PostgreSQL does not respond, in milliseconds. */
#define SL_END_USER_STALE_MAX_MS 60000
#define SL_END_USER_LOG_INTERVAL_MS 30000

/* The budget columns start at column 1, in the order sl_auth__limits_from_row() reads. */
static const char end_user_sql[] =
    "SELECT e.blocked, b.rpm_limit, b.tpm_limit, b.max_parallel_requests, b.max_budget,"
    " b.soft_budget, b.budget_duration, COALESCE(e.spend, 0),"
    " COALESCE(floor(extract(epoch FROM b.budget_period_start))::bigint, 0)"
    " FROM end_users e LEFT JOIN budgets b ON b.budget_id = e.budget_id"
    " WHERE e.end_user_id = $1 LIMIT 1";

/* One caller waiting on a query. */
struct waiter {
    sl_end_user_cb cb;
    void *privdata;
    struct waiter *next;
};

/* One query in flight and the callers waiting on it, first come first called. */
struct fetch {
    struct sl_worker *w;
    size_t slot;
    char *id; /* NUL-terminated copy; the id has no NUL byte */
    size_t len;
    uint64_t started_ms;
    struct waiter *first;
    struct waiter **last;
};

struct end_user_slot {
    char *id; /* NULL: the slot is empty */
    size_t len;
    int found; /* 0: a cached "no such end user" */
    uint64_t fetched_ms; /* when the query that stored it started */
    struct sl_end_user eu;
    struct fetch *fetch; /* the query in flight for an id of this slot, or NULL */
};

struct sl_end_user_cache {
    struct end_user_slot *slots; /* SL_END_USER_LOCAL_SLOTS of them */
    uint64_t seed;               /* of the slot hash, so ids chosen by clients cannot aim at
                                  * one slot across workers and restarts */
    sl_end_user__query_fn query;
    struct sl_log_limiter log;
};

/* ---------------------------------------------------------------- cache */

static size_t
slot_index(const struct sl_end_user_cache *c, const char *id, size_t len)
{
    /* FNV-1a, 64-bit, started from the seed. */
    uint64_t h = 14695981039346656037ull ^ c->seed;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    return (size_t)(h % SL_END_USER_LOCAL_SLOTS);
}

/* Returns the slot that contains `id`, read no longer than `max_age_ms` ago, or NULL. */
static struct end_user_slot *
cache_find(struct sl_end_user_cache *c, const char *id, size_t len, uint64_t max_age_ms)
{
    struct end_user_slot *s = &c->slots[slot_index(c, id, len)];

    if (s->id == NULL || s->len != len || memcmp(s->id, id, len) != 0)
        return NULL;
    if (sl_now_ms() - s->fetched_ms > max_age_ms)
        return NULL;
    return s;
}

static void
slot_clear(struct end_user_slot *s)
{
    free(s->id);
    s->id = NULL;
    s->len = 0;
    s->found = 0;
    sl_auth__limits_dispose(&s->eu.limits);
    s->eu.blocked = 0;
}

/* Stores what fetch `f` read: `eu` (copied) when found, else a miss. */
static void
cache_store(struct sl_end_user_cache *c, const struct fetch *f, const struct sl_end_user *eu)
{
    struct end_user_slot *s = &c->slots[f->slot];

    /* A query that started earlier must not replace what a later one stored. */
    if (s->id != NULL && s->len == f->len && memcmp(s->id, f->id, f->len) == 0 &&
        s->fetched_ms > f->started_ms)
        return;
    slot_clear(s);
    s->id = sl_xstrndup(f->id, f->len);
    s->len = f->len;
    s->fetched_ms = f->started_ms;
    s->found = eu != NULL;
    if (eu != NULL) {
        s->eu.blocked = eu->blocked;
        sl_auth__limits_copy(&s->eu.limits, &eu->limits);
    }
}

static void
log_failure(struct sl_end_user_cache *c, const char *message)
{
    if (!sl_log_limiter_allow(&c->log, sl_now_ms(), SL_END_USER_LOG_INTERVAL_MS))
        return;
    sl_log(SL_LOG_WARN, NULL, "auth.end_user_lookup_failed", SL_LOG_STR("message", message),
           SL_LOG_INT("suppressed", (int64_t)c->log.suppressed));
}

/* ---------------------------------------------------------------- queries */

static enum sl_status
query_pg(struct sl_worker *w, const char *sql, const char *id, sl_pg_query_cb cb,
         void *privdata)
{
    const char *params[1] = {id};

    if (w->pg == NULL)
        return SL_ERR_UNAVAILABLE;
    return sl_pg_query(w->pg, sql, 1, params, cb, privdata);
}

void
sl_end_user__set_query(struct sl_worker *w, sl_end_user__query_fn fn)
{
    w->end_users->query = fn != NULL ? fn : query_pg;
}

/* Calls `cb` for a lookup that got no result: a recent entry serves, else UNAVAILABLE. */
static void
answer_unavailable(struct sl_end_user_cache *c, const char *id, size_t len, sl_end_user_cb cb,
                   void *privdata)
{
    struct end_user_slot *s = c != NULL ? cache_find(c, id, len, SL_END_USER_STALE_MAX_MS) : NULL;

    if (s == NULL)
        cb(SL_END_USER_UNAVAILABLE, NULL, privdata);
    else if (s->found)
        cb(SL_END_USER_FOUND, &s->eu, privdata);
    else
        cb(SL_END_USER_NOT_FOUND, NULL, privdata);
}

/* Reads the one row of end_user_sql. Returns 0, or -1 for a malformed row. */
static int
end_user_from_row(const PGresult *res, struct sl_end_user *eu)
{
    int rc;

    eu->blocked = !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] == 't';
    rc = PQnfields(res) == 9 ? sl_auth__limits_from_row(res, 1, &eu->limits) : -1;
    if (rc != 0)
        sl_auth__limits_dispose(&eu->limits);
    return rc;
}

static void
on_result(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct fetch *f = privdata;
    struct sl_end_user_cache *c = f->w->end_users;
    struct sl_end_user eu = {0};
    enum sl_end_user_status status = SL_END_USER_UNAVAILABLE;

    sl_auth__limits_unset(&eu.limits);
    if (c != NULL && c->slots[f->slot].fetch == f)
        c->slots[f->slot].fetch = NULL;

    if (c == NULL) {
        status = SL_END_USER_UNAVAILABLE;
    } else if (st != SL_OK) {
        log_failure(c, error != NULL ? error : sl_status_str(st));
    } else if (PQntuples(res) == 0) {
        cache_store(c, f, NULL);
        status = SL_END_USER_NOT_FOUND;
    } else if (end_user_from_row(res, &eu) != 0) {
        log_failure(c, "the end_users row could not be read");
    } else {
        cache_store(c, f, &eu);
        status = SL_END_USER_FOUND;
    }

    while (f->first != NULL) {
        struct waiter *wt = f->first;

        f->first = wt->next;
        if (status == SL_END_USER_UNAVAILABLE)
            answer_unavailable(c, f->id, f->len, wt->cb, wt->privdata);
        else
            wt->cb(status, status == SL_END_USER_FOUND ? &eu : NULL, wt->privdata);
        free(wt);
    }
    sl_auth__limits_dispose(&eu.limits);
    free(f->id);
    free(f);
}

static void
add_waiter(struct fetch *f, sl_end_user_cb cb, void *privdata)
{
    struct waiter *wt = sl_xcalloc(1, sizeof(*wt));

    wt->cb = cb;
    wt->privdata = privdata;
    *f->last = wt;
    f->last = &wt->next;
}

void
sl_end_user_lookup(struct sl_worker *w, const char *id, size_t len, sl_end_user_cb cb,
                   void *privdata)
{
    struct sl_end_user_cache *c = w->end_users;
    struct end_user_slot *s;
    struct fetch *f;

    /* end_user_id is UTF-8 text without NUL bytes, so no row can have another id; sending
     * one would only earn a PostgreSQL error. */
    if (len == 0 || len > SL_END_USER_ID_MAX || memchr(id, '\0', len) != NULL ||
        !sl_utf8_valid(id, len)) {
        cb(SL_END_USER_NOT_FOUND, NULL, privdata);
        return;
    }
    s = cache_find(c, id, len, SL_END_USER_LOCAL_TTL_MS);
    if (s != NULL) {
        cb(s->found ? SL_END_USER_FOUND : SL_END_USER_NOT_FOUND, s->found ? &s->eu : NULL,
           privdata);
        return;
    }

    s = &c->slots[slot_index(c, id, len)];
    if (s->fetch != NULL && s->fetch->len == len && memcmp(s->fetch->id, id, len) == 0) {
        add_waiter(s->fetch, cb, privdata);
        return;
    }

    f = sl_xcalloc(1, sizeof(*f));
    f->w = w;
    f->slot = slot_index(c, id, len);
    f->id = sl_xstrndup(id, len);
    f->len = len;
    f->started_ms = sl_now_ms();
    f->last = &f->first;
    if (c->query(w, end_user_sql, f->id, on_result, f) != SL_OK) {
        free(f->id);
        free(f);
        answer_unavailable(c, id, len, cb, privdata);
        return;
    }
    add_waiter(f, cb, privdata);
    /* Another id of this slot may be in flight already: that query keeps the slot's place
     * for joining, and this one simply is not joined. */
    if (s->fetch == NULL)
        s->fetch = f;
}

/* ---------------------------------------------------------------- lifecycle */

void
sl_end_user_worker_init(struct sl_worker *w)
{
    struct sl_end_user_cache *c = sl_xcalloc(1, sizeof(*c));

    c->slots = sl_xcalloc(SL_END_USER_LOCAL_SLOTS, sizeof(*c->slots));
    for (size_t i = 0; i < SL_END_USER_LOCAL_SLOTS; i++)
        sl_auth__limits_unset(&c->slots[i].eu.limits);
    c->seed = sl_now_us() ^ ((uint64_t)(uintptr_t)c << 16) ^ ((uint64_t)w->index << 48);
    c->query = query_pg;
    w->end_users = c;
}

void
sl_end_user_worker_dispose(struct sl_worker *w)
{
    struct sl_end_user_cache *c = w->end_users;

    if (c == NULL)
        return;
    /* A query still in flight finds w->end_users NULL and reports UNAVAILABLE. */
    for (size_t i = 0; i < SL_END_USER_LOCAL_SLOTS; i++)
        slot_clear(&c->slots[i]);
    free(c->slots);
    free(c);
    w->end_users = NULL;
}
