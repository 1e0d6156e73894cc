/* SPDX-License-Identifier: Apache-2.0 */
/*
 * leader -- one coordinator leads at a time. The leader holds <prefix>coordinator:leader with
 * its instance id and a SL_COORD_LEASE_MS lease (SET NX PX), and renews it every
 * SL_COORD_RENEW_MS through lua-scripts/leader_renew.lua, which extends the lease only while
 * the key still holds our id. A standby retries SET NX every SL_COORD_STANDBY_RETRY_MS, so it
 * takes over at most one lease plus one retry after the leader died.
 */
#define SL_LOG_MODULE "leader"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lua_scripts.h"
#include "coordinator/internal.h"

/* Our view of the lease ends this many ms early, so that a slow renewal never lets two
 * instances lead at once when the clocks of Redis and this host tick at slightly different rates. */
#define LEASE_MARGIN_MS 1000

static struct sl_redis_script *
load_script(const char *name)
{
    const struct sl_lua_script *s = sl_lua_script_find(name);

    /* The scripts are embedded at build time, so a missing one is a build error. */
    if (s == NULL) {
        fprintf(stderr, "sluice-coordinator: embedded script %s.lua is missing\n", name);
        abort();
    }
    return sl_redis_script_load(s->name, s->source, s->len);
}

void
sl_coord__leader_init(struct sl_coord_leader *l, const char *prefix, const char *instance)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->key, sizeof(l->key), "%scoordinator:leader", prefix);
    l->instance = instance;
    l->renew = load_script("leader_renew");
    l->release = load_script("leader_release");
}

void
sl_coord__leader_dispose(struct sl_coord_leader *l)
{
    sl_redis_script_destroy(l->renew);
    sl_redis_script_destroy(l->release);
    l->renew = NULL;
    l->release = NULL;
}

static void
set_leader(struct sl_coord_leader *l, int leading, const char *reason)
{
    if (l->is_leader == leading)
        return;
    l->is_leader = leading;
    sl_log(leading ? SL_LOG_INFO : SL_LOG_WARN, NULL,
           leading ? "coordinator.leader_acquired" : "coordinator.leader_lost",
           SL_LOG_STR("instance", l->instance), SL_LOG_STR("reason", reason));
}

/* Tries SET NX PX; returns 1 when we got the lease, 0 when another instance holds it, -1 on a
 * Redis failure. */
static int
try_acquire(struct sl_coord_leader *l, struct sl_coord_redis *r)
{
    char lease[24];
    const char *argv[] = {"SET", l->key, l->instance, "NX", "PX", lease};
    redisReply *reply;
    int rc;

    snprintf(lease, sizeof(lease), "%d", SL_COORD_LEASE_MS);
    reply = sl_coord__redis_command(r, 6, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_STATUS)
        rc = 1;
    else if (reply->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        rc = -1;
    freeReplyObject(reply);
    return rc;
}

/* Runs leader_renew.lua; same return values as try_acquire(). */
static int
try_renew(struct sl_coord_leader *l, struct sl_coord_redis *r)
{
    char lease[24];
    const char *keys[] = {l->key};
    const char *args[] = {l->instance, lease};
    redisReply *reply;
    int rc;

    snprintf(lease, sizeof(lease), "%d", SL_COORD_LEASE_MS);
    reply = sl_coord__redis_eval(r, l->renew, 1, keys, 2, args);
    if (reply == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        rc = reply->integer == 1 ? 1 : 0;
    else
        rc = -1;
    freeReplyObject(reply);
    return rc;
}

int
sl_coord__leader_tick(struct sl_coord_leader *l, struct sl_coord_redis *r, uint64_t now_ms)
{
    int rc;

    if (now_ms < l->next_check_ms) {
        if (l->is_leader && now_ms >= l->lease_until_ms)
            set_leader(l, 0, "lease not renewed in time");
        return l->is_leader;
    }

    /* The lease is counted from before the command, so our view never outlives Redis's. */
    rc = l->is_leader ? try_renew(l, r) : try_acquire(l, r);
    if (rc == 1) {
        l->lease_until_ms = now_ms + SL_COORD_LEASE_MS - LEASE_MARGIN_MS;
        l->next_check_ms = now_ms + SL_COORD_RENEW_MS;
        set_leader(l, 1, "lease taken");
    } else if (rc == 0) {
        l->next_check_ms = now_ms + SL_COORD_STANDBY_RETRY_MS;
        set_leader(l, 0, "lease held by another instance");
    } else {
        /* Redis failed: retry soon, and lead on only while our lease surely still runs. */
        l->next_check_ms = now_ms + SL_COORD_STANDBY_RETRY_MS;
        if (l->is_leader && now_ms >= l->lease_until_ms)
            set_leader(l, 0, "lease not renewed in time");
    }
    return l->is_leader;
}

void
sl_coord__leader_release(struct sl_coord_leader *l, struct sl_coord_redis *r)
{
    const char *keys[] = {l->key};
    const char *args[] = {l->instance};
    redisReply *reply;

    if (!l->is_leader)
        return;
    reply = sl_coord__redis_eval(r, l->release, 1, keys, 1, args);
    if (reply != NULL)
        freeReplyObject(reply);
    set_leader(l, 0, "shutting down");
}
