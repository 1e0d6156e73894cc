/* SPDX-License-Identifier: Apache-2.0 */
/* state -- a worker's table of health check results, kept from Redis; see state.h. */
#define SL_LOG_MODULE "health"
#include "gateway/health/state.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/http/litellm_metrics.h"
#include "gateway/router/cooldown.h"
#include "gateway/router/live.h"
#include "gateway/router/router.h"
#include "gateway/worker.h"

/* How often a worker checks whether its subscription came up again, to read the hash. */
#define WATCH_MS 500
/* Longest Redis key or channel name built here. */
#define KEY_MAX 160

struct sl_health_state {
    struct sl_health_table table;
    uv_timer_t watch; /* reads the hash when the subscription comes up */
    int was_live;
};

/* Shows a check's result in litellm_deployment_state, unless the deployment is cooling down
 * on this worker, which the state already shows as 2. */
static void
show_state(struct sl_worker *w, const struct sl_health_entry *e)
{
    const struct sl_router *router = sl_router_live_current(w);

    for (size_t g = 0; router != NULL && g < router->n_groups; g++) {
        for (size_t i = 0; i < router->groups[g].n; i++) {
            const struct sl_deployment *d = router->groups[g].deployments[i];

            if (strcmp(d->id, e->id) != 0)
                continue;
            if (!sl_cooldown_active(w, d))
                sl_litellm_metrics_deployment_checked(d, e->healthy);
            return;
        }
    }
}

static void
apply(struct sl_worker *w, const char *text, size_t len)
{
    struct sl_health_entry e;

    if (sl_health_entry_decode(text, len, &e) != SL_OK)
        return;
    sl_health_table_put(&w->health->table, &e);
    show_state(w, &e);
}

static void
on_message(struct sl_redis *r, const char *channel, const char *payload, size_t payload_len,
           void *privdata)
{
    (void)r;
    (void)channel;
    apply(privdata, payload, payload_len);
}

static void
on_hash_read(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    if (w->health == NULL)
        return;
    if (status != SL_OK || reply->type != REDIS_REPLY_ARRAY) {
        sl_log(SL_LOG_WARN, NULL, "health.read_failed", SL_LOG_INT("worker", w->index),
               SL_LOG_STR("message",
                          status != SL_OK ? sl_status_str(status) : "unexpected reply to HGETALL"));
        w->health->was_live = 0; /* read again on the next watch tick */
        return;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *value = reply->element[i + 1];

        if (value->type == REDIS_REPLY_STRING)
            apply(w, value->str, value->len);
    }
    sl_log(SL_LOG_INFO, NULL, "health.loaded", SL_LOG_INT("worker", w->index),
           SL_LOG_INT("deployments", (int64_t)(reply->elements / 2)));
}

/* Reads every result once the subscription is up, so that none published while this worker
 * was not listening is missed. */
static void
on_watch(uv_timer_t *timer)
{
    struct sl_worker *w = timer->data;
    struct sl_health_state *s = w->health;
    char key[KEY_MAX];
    const char *argv[2];
    size_t lens[2];
    int live = sl_redis_subscriptions_live(w->redis);

    if (!live || s->was_live) {
        s->was_live = live;
        return;
    }
    if (sl_redis_key(key, sizeof(key), w->redis, "%s", SL_HEALTH_HASH_KEY) != SL_OK)
        return;
    argv[0] = "HGETALL";
    argv[1] = key;
    lens[0] = strlen(argv[0]);
    lens[1] = strlen(argv[1]);
    if (sl_redis_command_argv(w->redis, 2, argv, lens, on_hash_read, w) == SL_OK)
        s->was_live = 1;
}

void
sl_health_worker_init(struct sl_worker *w)
{
    struct sl_health_state *s = sl_xcalloc(1, sizeof(*s));
    char channel[KEY_MAX];

    w->health = s;
    sl_health_table_init(&s->table);
    uv_timer_init(&w->loop, &s->watch);
    s->watch.data = w;
    if (w->redis == NULL)
        return;
    if (sl_redis_key(channel, sizeof(channel), w->redis, "%s", SL_HEALTH_CHANNEL) != SL_OK ||
        sl_redis_subscribe(w->redis, channel, on_message, w) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "health.subscribe_failed", SL_LOG_INT("worker", w->index));
        return;
    }
    uv_timer_start(&s->watch, on_watch, 0, WATCH_MS);
}

static void
on_watch_closed(uv_handle_t *handle)
{
    struct sl_health_state *s =
        H2O_STRUCT_FROM_MEMBER(struct sl_health_state, watch, (uv_timer_t *)handle);

    sl_health_table_dispose(&s->table);
    free(s);
}

void
sl_health_worker_dispose(struct sl_worker *w)
{
    struct sl_health_state *s = w->health;

    if (s == NULL)
        return;
    w->health = NULL;
    uv_timer_stop(&s->watch);
    uv_close((uv_handle_t *)&s->watch, on_watch_closed);
}

const struct sl_health_entry *
sl_health_lookup(struct sl_worker *w, const char *id)
{
    if (w->health == NULL)
        return NULL;
    return sl_health_table_get(&w->health->table, id, sl_wall_ms());
}

static int
unhealthy(struct sl_worker *w, const struct sl_deployment *d, uint64_t now_ms)
{
    const struct sl_health_entry *e = sl_health_table_get(&w->health->table, d->id, now_ms);

    return e != NULL && !e->healthy;
}

int
sl_health_usable(struct sl_worker *w, const struct sl_deployment *d)
{
    uint64_t now_ms;
    const struct sl_model_group *g;

    if (w->health == NULL || w->health->table.n == 0)
        return 1;
    now_ms = sl_wall_ms();
    if (!unhealthy(w, d, now_ms))
        return 1;
    /* By id, because `d` may come from an older router than the current one. */
    g = sl_router_find(sl_router_live_current(w), d->model_name);
    for (size_t i = 0; g != NULL && i < g->n; i++) {
        const struct sl_deployment *other = g->deployments[i];

        if (strcmp(other->id, d->id) != 0 && !unhealthy(w, other, now_ms))
            return 0;
    }
    return 1;
}
