/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reconcile -- reads <prefix>spend:events through the consumer group and moves each batch into
 * PostgreSQL (reconcile.h). Order of reads: after an election, XAUTOCLAIM every pending entry
 * (a dead leader's batch); after a failed transaction, our own pending entries (id 0); else
 * new entries (>). Every ~10 s, XAUTOCLAIM takes entries idle for over 30 s from any consumer.
 */
#define SL_LOG_MODULE "reconcile"
#include "coordinator/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/xalloc.h"

#define CLAIM_INTERVAL_MS 10000
#define CLAIM_MIN_IDLE_MS "30000"
/* Latest time accepted in an event, in ms: 9999-12-31, the end of PostgreSQL's timestamps
 * that to_timestamp() can take. */
#define MAX_EVENT_TIME_MS 253402300799999LL
/* Maximum tokens per field of one event, so that sums of many stay far below the bigint limit. */
#define MAX_EVENT_TOKENS 1000000000000LL
#define INVALID_LOG_INTERVAL_MS 10000

/* One stream entry of a batch. */
struct entry {
    const char *id; /* borrowed from the reply */
    struct sl_spend_event ev;
    int valid;
};

void
sl_coord__reconciler_init(struct sl_coord_reconciler *rc, struct sl_coord_redis *redis,
                          struct sl_coord_pg *pg, struct sl_coord_metrics *metrics,
                          const char *prefix, const char *consumer)
{
    memset(rc, 0, sizeof(*rc));
    rc->redis = redis;
    rc->pg = pg;
    rc->metrics = metrics;
    rc->consumer = consumer;
    snprintf(rc->stream, sizeof(rc->stream), "%sspend:events", prefix);
    sl_coord__backoff_reset(&rc->retry);
}

void
sl_coord__reconciler_on_elected(struct sl_coord_reconciler *rc)
{
    rc->group_ready = 0;
    rc->claim_all = 1;
    rc->read_own_pending = 1;
    snprintf(rc->claim_cursor, sizeof(rc->claim_cursor), "0-0");
}

/* Creates the group at id 0, so that events written before the first start are read too. */
static int
ensure_group(struct sl_coord_reconciler *rc)
{
    const char *argv[] = {"XGROUP", "CREATE", rc->stream, SL_COORD_GROUP, "0", "MKSTREAM"};
    redisReply *reply;

    if (rc->group_ready)
        return 0;
    reply = sl_coord__redis_command(rc->redis, 6, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
        sl_log(SL_LOG_ERROR, NULL, "reconcile.group_failed", SL_LOG_STR("stream", rc->stream),
               SL_LOG_STR("reason", reply->str));
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    rc->group_ready = 1;
    return 0;
}

static void
log_invalid(struct sl_coord_reconciler *rc, const char *id, const char *reason)
{
    if (sl_log_limiter_allow(&rc->invalid_log, sl_now_ms(), INVALID_LOG_INTERVAL_MS))
        sl_log(SL_LOG_ERROR, NULL, "reconcile.invalid_event", SL_LOG_STR("stream", rc->stream),
               SL_LOG_STR("entry_id", id), SL_LOG_STR("reason", reason),
               SL_LOG_INT("suppressed", rc->invalid_log.suppressed));
}

/* Decodes the field "e" of one entry ([id, [field, value, ...]]) and rejects times and token
 * counts that PostgreSQL would reject, so that one bad event cannot fail every batch it is in. */
static void
decode_entry(struct sl_coord_reconciler *rc, const redisReply *item, struct entry *out)
{
    const redisReply *fields;
    const char *reason = "no field e";

    out->id = item->element[0]->str;
    fields = item->element[1];
    if (fields->type != REDIS_REPLY_ARRAY) {
        log_invalid(rc, out->id, "entry deleted from the stream");
        return;
    }
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *name = fields->element[i];
        const redisReply *value = fields->element[i + 1];

        if (name->type != REDIS_REPLY_STRING || name->len != 1 || name->str[0] != 'e' ||
            value->type != REDIS_REPLY_STRING)
            continue;
        if (sl_spend_event_decode(value->str, value->len, &out->ev) != SL_OK) {
            reason = "not a valid spend event";
            break;
        }
        const struct sl_spend_event *ev = &out->ev;

        if (ev->request_id == NULL || ev->request_id[0] == '\0')
            reason = "request id missing";
        else if (ev->start_ms > MAX_EVENT_TIME_MS || ev->end_ms > MAX_EVENT_TIME_MS ||
                 ev->first_byte_ms > MAX_EVENT_TIME_MS)
            reason = "time out of range";
        else if (ev->prompt_tokens > MAX_EVENT_TOKENS ||
                 ev->completion_tokens > MAX_EVENT_TOKENS ||
                 ev->cached_tokens > MAX_EVENT_TOKENS ||
                 ev->cache_creation_tokens > MAX_EVENT_TOKENS ||
                 ev->reasoning_tokens > MAX_EVENT_TOKENS)
            reason = "token count out of range";
        else
            reason = NULL;
        break;
    }
    if (reason != NULL) {
        sl_spend_event_dispose(&out->ev);
        log_invalid(rc, out->id, reason);
        return;
    }
    out->valid = 1;
}

/* Returns the entries array of a read reply, or NULL when there is none. XREADGROUP replies
 * [[stream, entries]] (nil on timeout); XAUTOCLAIM replies [cursor, entries, deleted]. */
static const redisReply *
entries_of(struct sl_coord_reconciler *rc, const redisReply *reply, int claim)
{
    if (reply->type != REDIS_REPLY_ARRAY)
        return NULL;
    if (claim) {
        if (reply->elements < 2 || reply->element[0]->type != REDIS_REPLY_STRING)
            return NULL;
        snprintf(rc->claim_cursor, sizeof(rc->claim_cursor), "%s", reply->element[0]->str);
        return reply->element[1]->type == REDIS_REPLY_ARRAY ? reply->element[1] : NULL;
    }
    if (reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[0]->elements < 2)
        return NULL;
    return reply->element[0]->element[1]->type == REDIS_REPLY_ARRAY
               ? reply->element[0]->element[1]
               : NULL;
}

/* Sends the read of this step; sets `*claim` when it is an XAUTOCLAIM. */
static redisReply *
read_batch(struct sl_coord_reconciler *rc, uint64_t now_ms, int *claim)
{
    char count[16];

    snprintf(count, sizeof(count), "%d", SL_COORD_BATCH_MAX);
    *claim = rc->claim_all || now_ms >= rc->next_claim_ms;
    if (*claim) {
        const char *argv[] = {"XAUTOCLAIM",   rc->stream, SL_COORD_GROUP, rc->consumer,
                              rc->claim_all ? "0" : CLAIM_MIN_IDLE_MS, rc->claim_cursor,
                              "COUNT",      count};

        return sl_coord__redis_command(rc->redis, 8, argv, NULL);
    }
    if (rc->read_own_pending) {
        const char *argv[] = {"XREADGROUP", "GROUP", SL_COORD_GROUP, rc->consumer, "COUNT",
                              count,        "STREAMS", rc->stream,   "0"};

        return sl_coord__redis_command(rc->redis, 9, argv, NULL);
    }
    char block[16];
    const char *argv[] = {"XREADGROUP", "GROUP", SL_COORD_GROUP, rc->consumer, "COUNT", count,
                          "BLOCK",      block,   "STREAMS",      rc->stream,   ">"};

    snprintf(block, sizeof(block), "%d", SL_COORD_BLOCK_MS);
    return sl_coord__redis_command(rc->redis, 11, argv, NULL);
}

static void
ack(struct sl_coord_reconciler *rc, const struct entry *entries, size_t n)
{
    const char **argv = sl_xcalloc(n + 3, sizeof(char *));
    redisReply *reply;

    argv[0] = "XACK";
    argv[1] = rc->stream;
    argv[2] = SL_COORD_GROUP;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = entries[i].id;
    /* If this fails the entries stay pending and are written again, which changes nothing. */
    reply = sl_coord__redis_command(rc->redis, (int)(n + 3), argv, NULL);
    if (reply != NULL)
        freeReplyObject(reply);
    free(argv);
}

/* Marks later entries with a request id seen earlier in the batch as duplicates. */
static size_t
drop_batch_duplicates(struct entry *entries, size_t n, struct sl_spend_event **valid)
{
    size_t n_valid = 0;

    for (size_t i = 0; i < n; i++) {
        int seen = 0;

        if (!entries[i].valid)
            continue;
        for (size_t j = 0; j < n_valid && !seen; j++)
            seen = strcmp(valid[j]->request_id, entries[i].ev.request_id) == 0;
        if (!seen)
            valid[n_valid++] = &entries[i].ev;
    }
    return n_valid;
}

/* Writes the valid events; on a data error, retries them one at a time, so that only the
 * events PostgreSQL rejects are dropped. Returns SL_OK when the batch may be acknowledged. */
static enum sl_status
write_batch(struct sl_coord_reconciler *rc, struct sl_spend_event **valid, size_t n,
            struct sl_coord_spend_result *total, size_t *rejected)
{
    struct sl_errbuf err = {{0}};
    enum sl_status st;

    if (sl_coord__pg_ensure(rc->pg) != SL_OK)
        return SL_ERR_UNAVAILABLE;
    st = sl_coord__spend_commit(rc->pg->conn, valid, n, total, &err);
    if (st != SL_ERR_STORE)
        goto out;

    sl_log(SL_LOG_WARN, NULL, "reconcile.batch_rejected", SL_LOG_STR("reason", err.msg),
           SL_LOG_INT("events", n));
    memset(total, 0, sizeof(*total));
    for (size_t i = 0; i < n; i++) {
        struct sl_coord_spend_result one = {0};

        st = sl_coord__spend_commit(rc->pg->conn, &valid[i], 1, &one, &err);
        if (st == SL_ERR_STORE) {
            sl_log(SL_LOG_ERROR, NULL, "reconcile.event_rejected",
                   SL_LOG_STR("request_id", valid[i]->request_id), SL_LOG_STR("reason", err.msg));
            (*rejected)++;
            continue;
        }
        if (st != SL_OK)
            goto out;
        total->inserted += one.inserted;
        total->duplicate += one.duplicate;
    }
    st = SL_OK;

out:
    if (st == SL_ERR_UNAVAILABLE) {
        sl_log(SL_LOG_WARN, NULL, "reconcile.batch_failed", SL_LOG_STR("reason", err.msg),
               SL_LOG_INT("events", n));
        sl_coord__pg_check(rc->pg);
    }
    return st;
}

void
sl_coord__reconcile_step(struct sl_coord_reconciler *rc)
{
    uint64_t now = sl_now_ms();
    redisReply *reply = NULL;
    const redisReply *items = NULL;
    struct entry *entries = NULL;
    struct sl_spend_event **valid = NULL;
    struct sl_coord_spend_result result = {0};
    size_t n = 0, n_valid, invalid = 0, rejected = 0;
    int claim = 0;

    if (now < rc->retry.next_attempt_ms || ensure_group(rc) != 0)
        return;
    reply = read_batch(rc, now, &claim);
    if (reply == NULL)
        goto out;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: the stream or group vanished, e.g. Redis restarted without its data. */
        sl_log(SL_LOG_WARN, NULL, "reconcile.read_failed", SL_LOG_STR("reason", reply->str));
        rc->group_ready = 0;
        goto out;
    }
    items = entries_of(rc, reply, claim);
    if (claim && strcmp(rc->claim_cursor, "0-0") == 0) {
        rc->claim_all = 0;
        rc->next_claim_ms = now + CLAIM_INTERVAL_MS;
    }
    if (items == NULL || items->elements == 0) {
        if (!claim && rc->read_own_pending)
            rc->read_own_pending = 0;
        goto out;
    }

    n = items->elements;
    entries = sl_xcalloc(n, sizeof(*entries));
    valid = sl_xcalloc(n, sizeof(*valid));
    for (size_t i = 0; i < n; i++) {
        const redisReply *item = items->element[i];

        if (item->type != REDIS_REPLY_ARRAY || item->elements < 2 ||
            item->element[0]->type != REDIS_REPLY_STRING) {
            n = i; /* a reply we do not understand: acknowledge nothing past it */
            break;
        }
        decode_entry(rc, item, &entries[i]);
        invalid += !entries[i].valid;
    }
    n_valid = drop_batch_duplicates(entries, n, valid);

    if (n_valid > 0 && write_batch(rc, valid, n_valid, &result, &rejected) != SL_OK) {
        /* Keep the entries pending and read them again after the delay. */
        sl_coord__backoff_fail(&rc->retry, sl_now_ms());
        rc->read_own_pending = 1;
        goto out;
    }
    sl_coord__backoff_reset(&rc->retry);
    ack(rc, entries, n);

    sl_metric_add(rc->metrics->inserted, (double)result.inserted);
    sl_metric_add(rc->metrics->duplicate,
                  (double)(result.duplicate + (n - invalid - n_valid)));
    sl_metric_add(rc->metrics->invalid, (double)(invalid + rejected));
    sl_log(SL_LOG_DEBUG, NULL, "reconcile.batch", SL_LOG_INT("entries", n),
           SL_LOG_INT("inserted", result.inserted), SL_LOG_INT("invalid", invalid + rejected));

out:
    for (size_t i = 0; entries != NULL && i < items->elements; i++)
        sl_spend_event_dispose(&entries[i].ev);
    free(entries);
    free(valid);
    if (reply != NULL)
        freeReplyObject(reply);
}
