/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store -- GET, MGET and SET of cached responses on the worker's Redis client, and the
 * worker's cache availability state behind the cache.redis_unavailable and
 * cache.redis_available log lines.
 */
#define SL_LOG_MODULE "cache"
#include "gateway/cache/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/worker.h"

/* Room for the client's key prefix, "cache:" and a key of SL_CACHE_STORE_KEY_MAX bytes. */
#define REDIS_KEY_SIZE (SL_CACHE_STORE_KEY_MAX + 256)

/*
 * 1 while this worker's cache commands fail. Each worker runs its loop on its own thread and
 * this file runs on loop threads only, so a thread-local flag is one flag per worker.
 */
static _Thread_local int redis_failing;

void
sl_cache_note_outcome(struct sl_worker *w, int ok, const char *reason)
{
    if (ok && redis_failing) {
        redis_failing = 0;
        sl_log(SL_LOG_INFO, NULL, "cache.redis_available", SL_LOG_INT("worker", w->index));
    } else if (!ok && !redis_failing) {
        redis_failing = 1;
        sl_log(SL_LOG_WARN, NULL, "cache.redis_unavailable", SL_LOG_INT("worker", w->index),
               SL_LOG_STR("reason", reason));
    }
}

/*
 * Records the outcome of one command and returns 1 when `reply` is a usable reply. An error
 * reply's first word (LOADING, OOM, READONLY, ...) becomes the reason; the rest of its text is
 * left out of the log.
 */
static int
note_reply(struct sl_worker *w, enum sl_status st, const redisReply *reply)
{
    char reason[64];

    if (st != SL_OK) {
        sl_cache_note_outcome(w, 0, sl_status_str(st));
        return 0;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        size_t n = strcspn(reply->str, " ");

        snprintf(reason, sizeof(reason), "error reply %.*s", (int)(n < 32 ? n : 32), reply->str);
        sl_cache_note_outcome(w, 0, reason);
        return 0;
    }
    sl_cache_note_outcome(w, 1, NULL);
    return 1;
}

/* Writes the Redis key of `cache_key` into `buf`. Returns SL_OK or SL_ERR_TOO_LARGE. */
static enum sl_status
entry_key(struct sl_worker *w, const char *cache_key, char buf[REDIS_KEY_SIZE])
{
    if (strlen(cache_key) > SL_CACHE_STORE_KEY_MAX)
        return SL_ERR_TOO_LARGE;
    return sl_redis_key(buf, REDIS_KEY_SIZE, w->redis, "cache:%s", cache_key);
}

/* ---------------------------------------------------------------- GET */

struct get_op {
    struct sl_worker *w;
    sl_cache_get_cb cb;
    void *data;
};

static void
on_get_reply(struct sl_redis *r, enum sl_status st, const redisReply *reply, void *privdata)
{
    struct get_op *op = privdata;
    struct sl_worker *w = op->w;
    sl_cache_get_cb cb = op->cb;
    void *data = op->data;

    (void)r;
    free(op);
    if (!note_reply(w, st, reply)) {
        cb(w, SL_ERR_UNAVAILABLE, NULL, 0, data);
        return;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        cb(w, SL_OK, reply->str, reply->len, data);
        return;
    }
    /* A nil reply is a miss; so is a value of another type, which this cache never writes. */
    cb(w, SL_ERR_NOT_FOUND, NULL, 0, data);
}

void
sl_cache_get(struct sl_worker *w, const char *cache_key, sl_cache_get_cb cb, void *data)
{
    char key[REDIS_KEY_SIZE];
    const char *argv[2];
    size_t argvlen[2];
    struct get_op *op;
    enum sl_status st;

    if (w->redis == NULL) {
        cb(w, SL_ERR_UNAVAILABLE, NULL, 0, data);
        return;
    }
    st = entry_key(w, cache_key, key);
    if (st != SL_OK) {
        cb(w, st, NULL, 0, data);
        return;
    }
    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = key;
    argvlen[1] = strlen(key);
    op = sl_xcalloc(1, sizeof(*op));
    op->w = w;
    op->cb = cb;
    op->data = data;
    st = sl_redis_command_argv(w->redis, 2, argv, argvlen, on_get_reply, op);
    if (st != SL_OK) {
        free(op);
        sl_cache_note_outcome(w, 0, sl_status_str(st));
        cb(w, SL_ERR_UNAVAILABLE, NULL, 0, data);
    }
}

/* ---------------------------------------------------------------- MGET */

/*
 * One sl_cache_mget() call. Batches answer in any order; each copies its values into
 * `values` at its offset, and the last one to finish reports. `pending` counts batches sent
 * and not answered, plus one while the batches are still being sent, so a batch that fails
 * at once cannot report before the later ones were sent.
 */
struct mget_op {
    struct sl_worker *w;
    sl_cache_mget_cb cb;
    void *data;
    size_t n;
    struct sl_cache_value *values; /* ptr owned */
    size_t pending;
    enum sl_status status;
};

struct mget_batch {
    struct mget_op *op;
    size_t first; /* index of the batch's first key */
    size_t count;
};

static void
mget_finish(struct mget_op *op)
{
    if (--op->pending > 0)
        return;
    if (op->status == SL_OK)
        op->cb(op->w, SL_OK, op->values, op->n, op->data);
    else
        op->cb(op->w, op->status, NULL, op->n, op->data);
    for (size_t i = 0; i < op->n; i++)
        free((char *)op->values[i].ptr);
    free(op->values);
    free(op);
}

static void
on_mget_reply(struct sl_redis *r, enum sl_status st, const redisReply *reply, void *privdata)
{
    struct mget_batch *batch = privdata;
    struct mget_op *op = batch->op;

    (void)r;
    if (!note_reply(op->w, st, reply)) {
        op->status = SL_ERR_UNAVAILABLE;
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != batch->count) {
        op->status = SL_ERR_UNAVAILABLE;
    } else if (op->status == SL_OK) {
        for (size_t i = 0; i < batch->count; i++) {
            const redisReply *e = reply->element[i];

            if (e->type != REDIS_REPLY_STRING)
                continue;
            struct sl_cache_value *v = &op->values[batch->first + i];
            char *copy = sl_xmalloc(e->len + 1);

            memcpy(copy, e->str, e->len);
            copy[e->len] = '\0';
            v->ptr = copy;
            v->len = e->len;
        }
    }
    free(batch);
    mget_finish(op);
}

/* Sends the MGET of keys [first, first + count). Returns SL_OK or why nothing was sent. */
static enum sl_status
mget_send(struct mget_op *op, const char *const *cache_keys, size_t first, size_t count)
{
    const char *argv[SL_CACHE_MGET_BATCH + 1];
    size_t argvlen[SL_CACHE_MGET_BATCH + 1];
    char(*keys)[REDIS_KEY_SIZE] = sl_xmalloc(count * REDIS_KEY_SIZE);
    struct mget_batch *batch = NULL;
    enum sl_status st = SL_OK;

    argv[0] = "MGET";
    argvlen[0] = 4;
    for (size_t i = 0; i < count; i++) {
        st = entry_key(op->w, cache_keys[first + i], keys[i]);
        if (st != SL_OK)
            goto out;
        argv[i + 1] = keys[i];
        argvlen[i + 1] = strlen(keys[i]);
    }
    batch = sl_xcalloc(1, sizeof(*batch));
    batch->op = op;
    batch->first = first;
    batch->count = count;
    st = sl_redis_command_argv(op->w->redis, (int)count + 1, argv, argvlen, on_mget_reply, batch);
    if (st != SL_OK) {
        sl_cache_note_outcome(op->w, 0, sl_status_str(st));
        free(batch);
        st = SL_ERR_UNAVAILABLE;
        goto out;
    }
    op->pending++;

out:
    free(keys);
    return st;
}

void
sl_cache_mget(struct sl_worker *w, const char *const *cache_keys, size_t n, sl_cache_mget_cb cb,
              void *data)
{
    struct mget_op *op;

    if (n == 0) {
        cb(w, SL_OK, NULL, 0, data);
        return;
    }
    if (n > SL_CACHE_MGET_MAX) {
        cb(w, SL_ERR_INVALID, NULL, n, data);
        return;
    }
    if (w->redis == NULL) {
        cb(w, SL_ERR_UNAVAILABLE, NULL, n, data);
        return;
    }
    op = sl_xcalloc(1, sizeof(*op));
    op->w = w;
    op->cb = cb;
    op->data = data;
    op->n = n;
    op->values = sl_xcalloc(n, sizeof(*op->values));
    op->pending = 1;
    op->status = SL_OK;
    for (size_t first = 0; first < n; first += SL_CACHE_MGET_BATCH) {
        size_t count = n - first < SL_CACHE_MGET_BATCH ? n - first : SL_CACHE_MGET_BATCH;
        enum sl_status st = mget_send(op, cache_keys, first, count);

        if (st != SL_OK) {
            op->status = st;
            break;
        }
    }
    mget_finish(op);
}

/* ---------------------------------------------------------------- SET */

static void
on_put_reply(struct sl_redis *r, enum sl_status st, const redisReply *reply, void *privdata)
{
    (void)r;
    note_reply(privdata, st, reply);
}

void
sl_cache_put(struct sl_worker *w, const char *cache_key, const char *value, size_t len,
             long ttl_s)
{
    char key[REDIS_KEY_SIZE];
    char ttl[24];
    const char *argv[5];
    size_t argvlen[5];
    enum sl_status st;

    if (w->redis == NULL || ttl_s < 1)
        return;
    if (entry_key(w, cache_key, key) != SL_OK) {
        sl_log(SL_LOG_WARN, NULL, "cache.key_too_long", SL_LOG_INT("length", strlen(cache_key)));
        return;
    }
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
    argv[0] = "SET";
    argv[1] = key;
    argv[2] = value;
    argv[3] = "EX";
    argv[4] = ttl;
    argvlen[0] = 3;
    argvlen[1] = strlen(key);
    argvlen[2] = len;
    argvlen[3] = 2;
    argvlen[4] = strlen(ttl);
    st = sl_redis_command_argv(w->redis, 5, argv, argvlen, on_put_reply, w);
    if (st != SL_OK)
        sl_cache_note_outcome(w, 0, sl_status_str(st));
}
