/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cooldown -- the worker's table of cooling deployments and its upkeep from Redis; see
 * cooldown.h.
 *
 * The rules follow LiteLLM's router (1.81). A cooldown_time of 0 or disable_cooldowns turns
 * cooldowns off. 4xx errors other than 401, 408 and 429 never count. Failures are counted per
 * deployment and per minute. In LiteLLM's default mode (allowed_fails and allowed_fails_policy
 * unset) a 429 in a group of several deployments cools it down at once, a group's only
 * deployment never cools down, and other errors are allowed 3 failures a minute. Otherwise a
 * count above the allowed failures of the error's class (allowed_fails_policy, else
 * allowed_fails) starts a cooldown. A cooldown lasts cooldown_time, or the provider's
 * retry-after when longer, up to SL_COOLDOWN_MAX_RETRY_AFTER_S.
 * NOTE: LiteLLM's default mode also cools a deployment down past 50 % failures in a minute.
 * That needs a count of successes, which is not kept, so the count of 3 replaces it.
 */
#define SL_LOG_MODULE "cooldown"
#include "gateway/router/cooldown.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/lua_scripts.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/errors.h"
#include "gateway/http/litellm_metrics.h"
#include "gateway/router/live.h"
#include "gateway/router/router.h"
#include "gateway/worker.h"

/* How often a worker checks whether its subscription came up again, to read the set. */
#define SL_COOLDOWN_WATCH_MS 500
/* Longest Redis key or channel name built here. */
#define SL_COOLDOWN_KEY_MAX (SL_COOLDOWN_ID_MAX + 96)

struct sl_cooldown {
    struct sl_cooldown_table table;
    struct sl_redis_script *script; /* lua-scripts/cooldown_fail.lua; NULL without Redis */
    uv_timer_t watch;               /* reads the set when the subscription comes up */
    int was_live;
};

/* ---------------------------------------------------------------- pure parts */

static struct sl_cooldown_entry *
find_entry(struct sl_cooldown_table *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].id, id) == 0)
            return &t->entries[i];
    return NULL;
}

/* Returns the entry of `id`, created when missing. A full table reuses an entry whose
 * cooldown and count are over, else the entry whose cooldown ends first. */
static struct sl_cooldown_entry *
get_entry(struct sl_cooldown_table *t, const char *id, uint64_t now_ms)
{
    struct sl_cooldown_entry *e = find_entry(t, id);
    size_t victim = 0;

    if (e != NULL)
        return e;
    if (t->n < SL_COOLDOWN_MAX_ENTRIES) {
        victim = t->n++;
    } else {
        for (size_t i = 0; i < t->n; i++) {
            const struct sl_cooldown_entry *c = &t->entries[i];

            if (c->until_ms <= now_ms && c->minute != now_ms / 60000) {
                victim = i;
                break;
            }
            if (c->until_ms < t->entries[victim].until_ms)
                victim = i;
        }
    }
    e = &t->entries[victim];
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, strlen(id) + 1);
    return e;
}

void
sl_cooldown_table_set(struct sl_cooldown_table *t, const char *id, uint64_t until_ms,
                      uint64_t now_ms)
{
    struct sl_cooldown_entry *e;

    if (strlen(id) > SL_COOLDOWN_ID_MAX || id[0] == '\0' || until_ms <= now_ms)
        return;
    e = get_entry(t, id, now_ms);
    if (e->until_ms < until_ms)
        e->until_ms = until_ms;
}

uint64_t
sl_cooldown_table_until(const struct sl_cooldown_table *t, const char *id, uint64_t now_ms)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].id, id) == 0)
            return t->entries[i].until_ms > now_ms ? t->entries[i].until_ms : 0;
    return 0;
}

uint64_t
sl_cooldown_table_fail(struct sl_cooldown_table *t, const char *id, uint64_t allowed_fails,
                       uint64_t cooldown_ms, uint64_t now_ms)
{
    struct sl_cooldown_entry *e;
    uint64_t minute = now_ms / 60000;

    if (strlen(id) > SL_COOLDOWN_ID_MAX || id[0] == '\0' || cooldown_ms == 0)
        return 0;
    e = get_entry(t, id, now_ms);
    if (e->minute != minute) {
        e->minute = minute;
        e->failures = 0;
    }
    e->failures++;
    if (e->failures > allowed_fails && e->until_ms < now_ms + cooldown_ms)
        e->until_ms = now_ms + cooldown_ms;
    return e->until_ms > now_ms ? e->until_ms : 0;
}

int
sl_cooldown_counts(int status)
{
    return status == 401 || status == 403 || status == 408 || status == 429 || status >= 500;
}

int64_t
sl_cooldown_allowed_fails(const struct sl_config *cfg, enum sl_error_class cls, int status,
                          size_t group_size)
{
    int64_t by_policy = cfg->allowed_fails_policy.counts[cls];

    if (cfg->allowed_fails < 0 && !cfg->allowed_fails_policy.set) {
        /* Wrong credentials stay wrong, so another call to the deployment cannot succeed. */
        if (status == 401 || status == 403)
            return 0;
        if (group_size < 2)
            return -1;
        return status == 429 ? 0 : SL_COOLDOWN_DEFAULT_ALLOWED_FAILS;
    }
    if (by_policy >= 0)
        return by_policy;
    return cfg->allowed_fails >= 0 ? cfg->allowed_fails : SL_COOLDOWN_DEFAULT_ALLOWED_FAILS;
}

uint64_t
sl_cooldown_length_ms(double cooldown_time_s, double retry_after_s)
{
    double length_s = cooldown_time_s;

    if (isnan(cooldown_time_s) || cooldown_time_s <= 0)
        return 0;
    /* A provider that sends a longer wait is obeyed, but a huge value is capped so that one
     * bad header cannot take a deployment out for hours. */
    if (!isnan(retry_after_s) && retry_after_s > length_s)
        length_s = retry_after_s < SL_COOLDOWN_MAX_RETRY_AFTER_S ? retry_after_s
                                                                  : SL_COOLDOWN_MAX_RETRY_AFTER_S;
    if (length_s < cooldown_time_s)
        length_s = cooldown_time_s;
    return (uint64_t)(length_s * 1000.0);
}

void
sl_cooldown_message(struct sl_buf *out, const char *model, uint64_t wait_s, const char *const *ids,
                    size_t n_ids)
{
    char head[64];

    snprintf(head, sizeof(head), "%llu", (unsigned long long)wait_s);
    sl_buf_append_str(out, "No deployments available for selected model, Try again in ");
    sl_buf_append_str(out, head);
    sl_buf_append_str(out, " seconds. Passed model=");
    sl_buf_append_str(out, model);
    sl_buf_append_str(out, ". pre-call-checks=False, cooldown_list=[");
    for (size_t i = 0; i < n_ids; i++) {
        if (i > 0)
            sl_buf_append_str(out, ", ");
        sl_buf_append_str(out, "'");
        sl_buf_append_str(out, ids[i]);
        sl_buf_append_str(out, "'");
    }
    sl_buf_append_str(out, "]");
}

/* ---------------------------------------------------------------- Redis upkeep */

/* Applies "<until_ms> <id>" from the channel or the set to the table. */
static void
apply_text(struct sl_cooldown *c, const char *until_text, size_t until_len, const char *id,
           size_t id_len)
{
    char num[24];
    char name[SL_COOLDOWN_ID_MAX + 1];
    char *end = NULL;
    unsigned long long until_ms;

    if (until_len == 0 || until_len >= sizeof(num) || id_len == 0 || id_len > SL_COOLDOWN_ID_MAX)
        return;
    memcpy(num, until_text, until_len);
    num[until_len] = '\0';
    if (num[0] < '0' || num[0] > '9')
        return;
    until_ms = strtoull(num, &end, 10);
    if (end == NULL || (*end != '\0' && *end != '.'))
        return;
    memcpy(name, id, id_len);
    name[id_len] = '\0';
    sl_cooldown_table_set(&c->table, name, (uint64_t)until_ms, sl_wall_ms());
}

/* Shows a cooldown started by another node in this node's deployment state metric. */
static void
show_remote_cooldown(struct sl_worker *w, const char *id, size_t id_len)
{
    const struct sl_router *router = sl_router_live_current(w);

    for (size_t g = 0; router != NULL && g < router->n_groups; g++) {
        const struct sl_model_group *group = &router->groups[g];

        for (size_t i = 0; i < group->n; i++) {
            const struct sl_deployment *d = group->deployments[i];

            if (strlen(d->id) == id_len && memcmp(d->id, id, id_len) == 0) {
                sl_litellm_metrics_deployment_down(d);
                return;
            }
        }
    }
}

static void
on_cooldown_message(struct sl_redis *r, const char *channel, const char *payload,
                    size_t payload_len, void *privdata)
{
    struct sl_worker *w = privdata;
    const char *space = memchr(payload, ' ', payload_len);
    size_t id_len;

    (void)r;
    (void)channel;
    if (space == NULL)
        return;
    id_len = payload_len - (size_t)(space - payload) - 1;
    apply_text(w->cooldown, payload, (size_t)(space - payload), space + 1, id_len);
    show_remote_cooldown(w, space + 1, id_len);
}

static void
on_set_read(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    if (status != SL_OK || reply->type != REDIS_REPLY_ARRAY) {
        const char *message = "unexpected reply";

        if (status != SL_OK)
            message = sl_status_str(status);
        else if (reply->type == REDIS_REPLY_ERROR)
            message = reply->str;
        sl_log(SL_LOG_WARN, NULL, "cooldown.read_failed", SL_LOG_INT("worker", w->index),
               SL_LOG_STR("message", message));
        w->cooldown->was_live = 0; /* read again on the next watch tick */
        return;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *id = reply->element[i];
        const redisReply *score = reply->element[i + 1];

        if (id->type == REDIS_REPLY_STRING && score->type == REDIS_REPLY_STRING)
            apply_text(w->cooldown, score->str, score->len, id->str, id->len);
    }
    sl_log(SL_LOG_INFO, NULL, "cooldown.loaded", SL_LOG_INT("worker", w->index),
           SL_LOG_INT("deployments", (int64_t)(reply->elements / 2)));
}

/* Reads the cooldowns in force from the set, once the subscription is up, so that none
 * published while this worker was not listening is missed. */
static void
on_watch(uv_timer_t *timer)
{
    struct sl_worker *w = timer->data;
    struct sl_cooldown *c = w->cooldown;
    char key[SL_COOLDOWN_KEY_MAX];
    char now[24];
    char limit[24];
    const char *argv[8];
    size_t lens[8];
    int live = sl_redis_subscriptions_live(w->redis);

    if (!live || c->was_live) {
        c->was_live = live;
        return;
    }
    if (sl_redis_key(key, sizeof(key), w->redis, "cooldown:all") != SL_OK)
        return;
    snprintf(now, sizeof(now), "%llu", (unsigned long long)sl_wall_ms());
    snprintf(limit, sizeof(limit), "%u", SL_COOLDOWN_MAX_ENTRIES);
    argv[0] = "ZRANGEBYSCORE";
    argv[1] = key;
    argv[2] = now;
    argv[3] = "+inf";
    argv[4] = "WITHSCORES";
    argv[5] = "LIMIT";
    argv[6] = "0";
    argv[7] = limit;
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    if (sl_redis_command_argv(w->redis, 8, argv, lens, on_set_read, w) == SL_OK)
        c->was_live = 1;
}

static void
on_fail_reply(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    if (status != SL_OK || reply->type == REDIS_REPLY_ERROR) {
        sl_log(SL_LOG_WARN, NULL, "cooldown.count_failed", SL_LOG_INT("worker", w->index),
               SL_LOG_STR("message", status != SL_OK ? sl_status_str(status) : reply->str));
        return;
    }
    /* The script publishes a new cooldown; this worker receives that message like the rest. */
}

static void
send_failure(struct sl_worker *w, const char *id, uint64_t allowed, uint64_t cooldown_ms,
             uint64_t now_ms)
{
    char fails_key[SL_COOLDOWN_KEY_MAX];
    char until_key[SL_COOLDOWN_KEY_MAX];
    char set_key[SL_COOLDOWN_KEY_MAX];
    char channel[SL_COOLDOWN_KEY_MAX];
    char allowed_text[24];
    char cooldown_text[24];
    char now_text[24];
    struct sl_redis_str keys[4];
    struct sl_redis_str args[4];

    if (sl_redis_key(fails_key, sizeof(fails_key), w->redis, "cooldown:fails:%s:%llu", id,
                     (unsigned long long)(now_ms / 60000)) != SL_OK ||
        sl_redis_key(until_key, sizeof(until_key), w->redis, "cooldown:until:%s", id) != SL_OK ||
        sl_redis_key(set_key, sizeof(set_key), w->redis, "cooldown:all") != SL_OK ||
        sl_redis_key(channel, sizeof(channel), w->redis, "deployments:cooldown") != SL_OK)
        return;
    snprintf(allowed_text, sizeof(allowed_text), "%llu", (unsigned long long)allowed);
    snprintf(cooldown_text, sizeof(cooldown_text), "%llu", (unsigned long long)cooldown_ms);
    snprintf(now_text, sizeof(now_text), "%llu", (unsigned long long)now_ms);
    keys[0] = SL_REDIS_CSTR(fails_key);
    keys[1] = SL_REDIS_CSTR(until_key);
    keys[2] = SL_REDIS_CSTR(set_key);
    keys[3] = SL_REDIS_CSTR(channel);
    args[0] = SL_REDIS_CSTR(id);
    args[1] = SL_REDIS_CSTR(allowed_text);
    args[2] = SL_REDIS_CSTR(cooldown_text);
    args[3] = SL_REDIS_CSTR(now_text);
    if (sl_redis_eval(w->redis, w->cooldown->script, 4, keys, 4, args, on_fail_reply, w) != SL_OK)
        sl_log(SL_LOG_WARN, NULL, "cooldown.count_failed", SL_LOG_INT("worker", w->index),
               SL_LOG_STR("message", "Redis is not connected; the cooldown stays local"));
}

/* ---------------------------------------------------------------- per worker */

void
sl_cooldown_worker_init(struct sl_worker *w)
{
    struct sl_cooldown *c = sl_xcalloc(1, sizeof(*c));
    const struct sl_lua_script *src;
    char channel[SL_COOLDOWN_KEY_MAX];

    w->cooldown = c;
    uv_timer_init(&w->loop, &c->watch);
    c->watch.data = w;
    if (w->redis == NULL)
        return;
    src = sl_lua_script_find("cooldown_fail");
    if (src == NULL) {
        sl_log(SL_LOG_ERROR, NULL, "cooldown.script_missing",
               SL_LOG_STR("script", "cooldown_fail"));
        return;
    }
    c->script = sl_redis_script_load(src->name, src->source, src->len);
    if (sl_redis_key(channel, sizeof(channel), w->redis, "deployments:cooldown") != SL_OK ||
        sl_redis_subscribe(w->redis, channel, on_cooldown_message, w) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "cooldown.subscribe_failed", SL_LOG_INT("worker", w->index));
        return;
    }
    uv_timer_start(&c->watch, on_watch, 0, SL_COOLDOWN_WATCH_MS);
}

static void
on_watch_closed(uv_handle_t *handle)
{
    free(H2O_STRUCT_FROM_MEMBER(struct sl_cooldown, watch, (uv_timer_t *)handle));
}

void
sl_cooldown_worker_dispose(struct sl_worker *w)
{
    struct sl_cooldown *c = w->cooldown;

    if (c == NULL)
        return;
    w->cooldown = NULL;
    if (c->script != NULL)
        sl_redis_script_destroy(c->script);
    uv_timer_stop(&c->watch);
    uv_close((uv_handle_t *)&c->watch, on_watch_closed);
}

int
sl_cooldown_active(struct sl_worker *w, const struct sl_deployment *d)
{
    return w->cooldown != NULL && !w->gw->cfg.disable_cooldowns &&
           sl_cooldown_table_until(&w->cooldown->table, d->id, sl_wall_ms()) != 0;
}

uint64_t
sl_cooldown_group_wait_ms(struct sl_worker *w, const struct sl_model_group *g, const char **ids,
                          size_t *n_ids)
{
    uint64_t now_ms = sl_wall_ms();
    uint64_t first = 0;

    *n_ids = 0;
    if (w->cooldown == NULL || w->gw->cfg.disable_cooldowns)
        return 0;
    for (size_t i = 0; i < g->n; i++) {
        uint64_t until_ms =
            sl_cooldown_table_until(&w->cooldown->table, g->deployments[i]->id, now_ms);

        if (until_ms == 0)
            return 0;
        if (first == 0 || until_ms < first)
            first = until_ms;
        if (*n_ids < SL_COOLDOWN_MAX_LISTED)
            ids[(*n_ids)++] = g->deployments[i]->id;
    }
    return first > now_ms ? first - now_ms : 0;
}

void
sl_cooldown_report(struct sl_worker *w, const struct sl_model_group *g,
                   const struct sl_deployment *d, const struct sl_upstream_error *e,
                   enum sl_error_class cls, double retry_after_s)
{
    const struct sl_config *cfg = &w->gw->cfg;
    uint64_t now_ms = sl_wall_ms();
    uint64_t cooldown_ms = sl_cooldown_length_ms(cfg->cooldown_time_s, retry_after_s);
    int64_t allowed = sl_cooldown_allowed_fails(cfg, cls, e->status, g != NULL ? g->n : 1);
    uint64_t before_ms;
    uint64_t until_ms;

    if (w->cooldown == NULL || cfg->disable_cooldowns || cooldown_ms == 0 || allowed < 0 ||
        !sl_cooldown_counts(e->status) || strlen(d->id) > SL_COOLDOWN_ID_MAX)
        return;

    before_ms = sl_cooldown_table_until(&w->cooldown->table, d->id, now_ms);
    until_ms = sl_cooldown_table_fail(&w->cooldown->table, d->id, (uint64_t)allowed, cooldown_ms,
                                      now_ms);
    if (until_ms != before_ms) {
        sl_log(SL_LOG_WARN, NULL, "cooldown.started", SL_LOG_STR("model_id", d->id),
               SL_LOG_INT("status", e->status), SL_LOG_INT("until_ms", (int64_t)until_ms));
        sl_litellm_metrics_cooled_down(d, e->status);
    }
    if (w->redis != NULL && w->cooldown->script != NULL)
        send_failure(w, d->id, (uint64_t)allowed, cooldown_ms, now_ms);
}
