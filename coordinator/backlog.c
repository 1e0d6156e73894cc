/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backlog -- the gauges of what the reconciler has not written yet, read from XINFO STREAM,
 * XINFO GROUPS, XPENDING and XRANGE every few seconds, and the detection of entries that the
 * stream's MAXLEN trimmed before the group read them (their spend is lost to spend_logs).
 */
#define SL_LOG_MODULE "reconcile"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "coordinator/reconcile.h"

#define BACKLOG_INTERVAL_MS 5000

/* A stream entry id, "<ms>-<seq>". */
struct stream_id {
    uint64_t ms;
    uint64_t seq;
};

static int
parse_id(const char *text, struct stream_id *out)
{
    char *end;

    out->ms = strtoull(text, &end, 10);
    out->seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
    return end != text ? 0 : -1;
}

static int
id_less(const struct stream_id *a, const struct stream_id *b)
{
    return a->ms < b->ms || (a->ms == b->ms && a->seq < b->seq);
}

/* Finds `name` in a RESP2 flat map reply ([name, value, ...]). */
static const redisReply *
map_get(const redisReply *map, const char *name)
{
    if (map == NULL || map->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2) {
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    }
    return NULL;
}

static redisReply *
command(struct sl_coord_reconciler *rc, int argc, const char **argv)
{
    redisReply *reply = sl_coord__redis_command(rc->redis, argc, argv, NULL);

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* Logs and counts entries trimmed before the group read them: entries after the group's
 * position were removed (max-deleted-entry-id) and the stream now starts past it. */
static void
detect_trimmed(struct sl_coord_reconciler *rc, const redisReply *stream, const redisReply *group,
               const char *last_delivered_text)
{
    const redisReply *first = map_get(stream, "first-entry");
    const redisReply *max_deleted = map_get(stream, "max-deleted-entry-id");
    const redisReply *added = map_get(stream, "entries-added");
    const redisReply *length = map_get(stream, "length");
    const redisReply *read = map_get(group, "entries-read");
    struct stream_id last, first_id, deleted;
    int64_t lost = -1;

    if (first == NULL || first->type != REDIS_REPLY_ARRAY || first->elements < 1 ||
        max_deleted == NULL || max_deleted->type != REDIS_REPLY_STRING ||
        parse_id(last_delivered_text, &last) != 0 || parse_id(first->element[0]->str, &first_id) ||
        parse_id(max_deleted->str, &deleted) != 0)
        return;
    if (!id_less(&last, &deleted) || !id_less(&last, &first_id))
        return;
    if (strcmp(rc->trimmed_seen, last_delivered_text) == 0)
        return; /* already reported at this position */
    snprintf(rc->trimmed_seen, sizeof(rc->trimmed_seen), "%s", last_delivered_text);

    /* Every entry left is unread here, so the lost ones are those added minus read minus left. */
    if (added != NULL && added->type == REDIS_REPLY_INTEGER && read != NULL &&
        read->type == REDIS_REPLY_INTEGER && length != NULL && length->type == REDIS_REPLY_INTEGER)
        lost = added->integer - read->integer - length->integer;
    sl_log(SL_LOG_ERROR, NULL, "reconcile.stream_trimmed", SL_LOG_STR("stream", rc->stream),
           SL_LOG_STR("last_delivered_id", last_delivered_text),
           SL_LOG_STR("first_entry_id", first->element[0]->str), SL_LOG_INT("lost_entries", lost));
    /* NOTE: when Redis does not report how many were lost, the counter grows by 1 for the incident. */
    sl_metric_add(rc->metrics->trimmed, lost > 0 ? (double)lost : 1.0);
}

/* Age in seconds of the entry `id_text`, from the time in its id. */
static double
age_of(const char *id_text, uint64_t now_wall_ms)
{
    struct stream_id id;

    if (parse_id(id_text, &id) != 0 || id.ms > now_wall_ms)
        return 0;
    return (double)(now_wall_ms - id.ms) / 1000.0;
}

void
sl_coord__backlog_update(struct sl_coord_reconciler *rc, uint64_t now_ms)
{
    const char *info_stream[] = {"XINFO", "STREAM", rc->stream};
    const char *info_groups[] = {"XINFO", "GROUPS", rc->stream};
    const char *pending_argv[] = {"XPENDING", rc->stream, SL_COORD_GROUP};
    redisReply *stream = NULL, *groups = NULL, *pending = NULL, *next = NULL;
    const redisReply *group = NULL;
    const redisReply *lag, *pending_count, *last_delivered, *length;
    uint64_t wall = sl_wall_ms();
    double backlog = 0, age = 0;
    char after[64];

    if (now_ms < rc->next_backlog_ms)
        return;
    rc->next_backlog_ms = now_ms + BACKLOG_INTERVAL_MS;

    stream = command(rc, 3, info_stream);
    groups = command(rc, 3, info_groups);
    if (stream == NULL || groups == NULL || groups->type != REDIS_REPLY_ARRAY)
        goto out;
    for (size_t i = 0; i < groups->elements && group == NULL; i++) {
        const redisReply *name = map_get(groups->element[i], "name");

        if (name != NULL && name->type == REDIS_REPLY_STRING &&
            strcmp(name->str, SL_COORD_GROUP) == 0)
            group = groups->element[i];
    }
    if (group == NULL)
        goto out;
    lag = map_get(group, "lag");
    pending_count = map_get(group, "pending");
    last_delivered = map_get(group, "last-delivered-id");
    length = map_get(stream, "length");
    if (last_delivered == NULL || last_delivered->type != REDIS_REPLY_STRING)
        goto out;

    /* Backlog: pending plus unread. Redis has no lag after some deletions; the stream's
     * length is then the upper bound used. */
    if (pending_count != NULL && pending_count->type == REDIS_REPLY_INTEGER)
        backlog += (double)pending_count->integer;
    if (lag != NULL && lag->type == REDIS_REPLY_INTEGER)
        backlog += (double)lag->integer;
    else if (length != NULL && length->type == REDIS_REPLY_INTEGER)
        backlog += (double)length->integer;

    /* Age: the oldest pending entry, else the oldest unread one. */
    pending = command(rc, 3, pending_argv);
    if (pending != NULL && pending->type == REDIS_REPLY_ARRAY && pending->elements >= 2 &&
        pending->element[1]->type == REDIS_REPLY_STRING) {
        age = age_of(pending->element[1]->str, wall);
    } else {
        snprintf(after, sizeof(after), "(%s", last_delivered->str);
        const char *range[] = {"XRANGE", rc->stream, after, "+", "COUNT", "1"};

        next = command(rc, 6, range);
        if (next != NULL && next->type == REDIS_REPLY_ARRAY && next->elements > 0 &&
            next->element[0]->type == REDIS_REPLY_ARRAY && next->element[0]->elements > 0)
            age = age_of(next->element[0]->element[0]->str, wall);
    }
    sl_metric_set(rc->metrics->backlog_entries, backlog);
    sl_metric_set(rc->metrics->backlog_age_s, age);
    detect_trimmed(rc, stream, group, last_delivered->str);

out:
    if (stream != NULL)
        freeReplyObject(stream);
    if (groups != NULL)
        freeReplyObject(groups);
    if (pending != NULL)
        freeReplyObject(pending);
    if (next != NULL)
        freeReplyObject(next);
}
