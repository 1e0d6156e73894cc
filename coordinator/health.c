/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health -- background health checks on a thread of their own; see health.h.
 *
 * The thread owns everything below: the deployment copies, the curl multi handle and its
 * Redis connection. The main thread only flips `leading` and `stop` and joins the thread.
 */
#define SL_LOG_MODULE "health"
#include "coordinator/health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "coordinator/internal.h"
#include "gateway/health/entry.h"
#include "gateway/health/probe.h"
#include "gateway/router/router.h"

/* Longest wait of the thread for curl or a flag change, in ms. */
#define POLL_MS 100
/* A result stays in Redis for this many intervals after its check. */
#define TTL_INTERVALS 3

/* One deployment under check. */
struct check {
    struct sl_deployment d; /* shallow copy of the config's; `own_*` are ours to free */
    char *own_api_key;
    char *own_api_base;
    int skip;               /* 1: never checked (disabled, or no request can be built) */
    int last_healthy;       /* -1 before the first result */
    uint64_t due_ms;        /* sl_now_ms() at which the next check starts */
    CURL *easy;             /* non-NULL while a check runs */
    struct sl_health_probe probe;
    struct sl_buf body;
    char curl_error[CURL_ERROR_SIZE];
};

struct sl_coord_health {
    const struct sl_config *cfg;
    const char *prefix;
    struct sl_coord_metrics *metrics;
    struct check *checks;
    size_t n_checks;
    size_t running;
    CURLM *multi;
    struct sl_coord_redis redis;
    pthread_t thread;
    atomic_int leading;
    atomic_int stop;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct check *c = arg;
    size_t n = size * nmemb;
    size_t room = c->body.len < SL_HEALTH_MAX_BODY_BYTES ? SL_HEALTH_MAX_BODY_BYTES - c->body.len
                                                         : 0;

    /* The verdict needs only the start of an error body: the rest is read and dropped. */
    sl_buf_append(&c->body, data, n < room ? n : room);
    return n;
}

/* Prepares the deployment copies; a deployment that cannot be checked is logged once. */
static void
load_checks(struct sl_coord_health *h)
{
    const struct sl_config *cfg = h->cfg;
    uint64_t now = sl_now_ms();

    h->checks = sl_xcalloc(cfg->n_deployments > 0 ? cfg->n_deployments : 1, sizeof(*h->checks));
    h->n_checks = cfg->n_deployments;
    for (size_t i = 0; i < h->n_checks; i++) {
        struct check *c = &h->checks[i];
        struct sl_errbuf err = {{0}};
        struct sl_health_probe probe;

        c->d = cfg->deployments[i];
        c->last_healthy = -1;
        c->due_ms = now;
        sl_buf_init(&c->body, 0);
        /* The gateway fills a missing api_key or api_base from the provider's environment
         * variables; the check must send what the gateway sends. */
        if (sl_router_check_deployment(&c->d, "model_list", &err) != SL_OK)
            c->skip = 1;
        if (c->d.api_key != cfg->deployments[i].api_key)
            c->own_api_key = c->d.api_key;
        if (c->d.api_base != cfg->deployments[i].api_base)
            c->own_api_base = c->d.api_base;
        if (!c->skip && c->d.disable_background_health_check)
            c->skip = 1;
        if (!c->skip && sl_health_probe_build(&c->d, (int64_t)time(NULL), &probe, &err) != SL_OK)
            c->skip = 1;
        else if (!c->skip)
            sl_health_probe_dispose(&probe);
        if (c->skip)
            sl_log(SL_LOG_INFO, NULL, "health.skipped", SL_LOG_STR("model_id", c->d.id),
                   SL_LOG_STR("model_name", c->d.model_name),
                   SL_LOG_STR("reason", err.msg[0] != '\0' ? err.msg
                                                           : "disable_background_health_check"));
    }
}

static void
start_check(struct sl_coord_health *h, struct check *c)
{
    const struct sl_config *cfg = h->cfg;
    struct sl_errbuf err = {{0}};

    if (sl_health_probe_build(&c->d, (int64_t)time(NULL), &c->probe, &err) != SL_OK) {
        c->due_ms = sl_now_ms() + (uint64_t)(cfg->health_check_interval_s * 1000.0);
        return;
    }
    c->probe.req.headers = curl_slist_append(c->probe.req.headers, "Expect:");
    sl_buf_reset(&c->body);
    c->curl_error[0] = '\0';
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_URL, c->probe.req.url.data);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->probe.req.headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->probe.req.body.data);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->probe.req.body.len);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->probe.timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, cfg->ssl_verify ? 1L : 0L);
    curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, cfg->ssl_verify ? 2L : 0L);
    if (cfg->ssl_ca_bundle != NULL)
        curl_easy_setopt(c->easy, CURLOPT_CAINFO, cfg->ssl_ca_bundle);
    curl_multi_add_handle(h->multi, c->easy);
    h->running++;
}

/* Writes a result to the hash, keeps the hash alive for a few intervals and publishes it. */
static void
store_result(struct sl_coord_health *h, const struct sl_health_entry *e)
{
    char hash[SL_HEALTH_ID_MAX + 64];
    char channel[128];
    char ttl[24];
    struct sl_buf json;
    const char *argv[4];
    size_t lens[4];
    redisReply *reply;

    if (sl_coord__redis_ensure(&h->redis) != SL_OK)
        return;
    snprintf(hash, sizeof(hash), "%s%s", h->prefix, SL_HEALTH_HASH_KEY);
    snprintf(channel, sizeof(channel), "%s%s", h->prefix, SL_HEALTH_CHANNEL);
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)e->ttl_ms);
    sl_buf_init(&json, 0);
    sl_health_entry_encode(e, &json);

    argv[0] = "HSET", argv[1] = hash, argv[2] = e->id, argv[3] = json.data;
    for (int i = 0; i < 4; i++)
        lens[i] = i == 3 ? json.len : strlen(argv[i]);
    reply = sl_coord__redis_command(&h->redis, 4, argv, lens);
    if (reply != NULL)
        freeReplyObject(reply);
    argv[0] = "PEXPIRE", argv[1] = hash, argv[2] = ttl;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    reply = sl_coord__redis_command(&h->redis, 3, argv, lens);
    if (reply != NULL)
        freeReplyObject(reply);
    argv[0] = "PUBLISH", argv[1] = channel, argv[2] = json.data;
    lens[0] = 7, lens[1] = strlen(channel), lens[2] = json.len;
    reply = sl_coord__redis_command(&h->redis, 3, argv, lens);
    if (reply != NULL)
        freeReplyObject(reply);
    sl_buf_dispose(&json);
}

static void
finish_check(struct sl_coord_health *h, struct check *c, CURLcode result)
{
    const struct sl_config *cfg = h->cfg;
    uint64_t interval_ms = (uint64_t)(cfg->health_check_interval_s * 1000.0);
    struct sl_health_entry e;
    long status = 0;

    memset(&e, 0, sizeof(e));
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(h->multi, c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    h->running--;

    snprintf(e.id, sizeof(e.id), "%s", c->d.id);
    e.healthy = sl_health_probe_verdict(
        &c->probe, &c->d, status, c->body.data, c->body.len,
        result == CURLE_OK ? NULL : (c->curl_error[0] != '\0' ? c->curl_error
                                                              : curl_easy_strerror(result)),
        e.error, sizeof(e.error));
    e.checked_at_ms = sl_wall_ms();
    e.ttl_ms = TTL_INTERVALS * interval_ms;
    sl_health_probe_dispose(&c->probe);
    c->due_ms = sl_now_ms() + interval_ms;

    sl_metric_add(e.healthy ? h->metrics->health_passed : h->metrics->health_failed, 1);
    if (e.healthy != c->last_healthy)
        sl_log(e.healthy ? SL_LOG_INFO : SL_LOG_WARN, NULL,
               e.healthy ? "health.healthy" : "health.unhealthy", SL_LOG_STR("model_id", e.id),
               SL_LOG_STR("model_name", c->d.model_name), SL_LOG_STR("error", e.error));
    c->last_healthy = e.healthy;
    store_result(h, &e);
}

static void
collect_done(struct sl_coord_health *h)
{
    CURLMsg *msg;
    int left = 0;

    for (;;) {
        struct check *c = NULL;

        msg = curl_multi_info_read(h->multi, &left);
        if (msg == NULL)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        finish_check(h, c, msg->data.result);
    }
}

static void
start_due(struct sl_coord_health *h)
{
    uint64_t now = sl_now_ms();

    for (size_t i = 0; i < h->n_checks && h->running < SL_COORD_HEALTH_PARALLEL; i++) {
        struct check *c = &h->checks[i];

        if (!c->skip && c->easy == NULL && now >= c->due_ms)
            start_check(h, c);
    }
}

static void *
run_thread(void *arg)
{
    struct sl_coord_health *h = arg;
    int active = 0;

    sl_metrics_bind_thread(2);
    load_checks(h);
    while (!atomic_load(&h->stop)) {
        int running = 0;

        int leading = atomic_load(&h->leading);

        /* A new term starts with fresh checks rather than the schedule of an old one. */
        if (leading && !active)
            for (size_t i = 0; i < h->n_checks; i++)
                h->checks[i].due_ms = 0;
        active = leading;
        if (leading)
            start_due(h);
        curl_multi_perform(h->multi, &running);
        collect_done(h);
        curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
    }
    for (size_t i = 0; i < h->n_checks; i++) {
        struct check *c = &h->checks[i];

        if (c->easy != NULL) {
            curl_multi_remove_handle(h->multi, c->easy);
            curl_easy_cleanup(c->easy);
            sl_health_probe_dispose(&c->probe);
        }
    }
    return NULL;
}

struct sl_coord_health *
sl_coord_health_start(const struct sl_config *cfg, const struct sl_redis_target *target,
                      const char *prefix, struct sl_coord_metrics *metrics)
{
    struct sl_coord_health *h;

    if (!cfg->background_health_checks)
        return NULL;
    /* No other thread of the coordinator uses curl, so the global setup happens here. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = sl_xcalloc(1, sizeof(*h));
    h->cfg = cfg;
    h->prefix = prefix;
    h->metrics = metrics;
    h->redis.target = *target;
    sl_coord__backoff_reset(&h->redis.backoff);
    h->multi = curl_multi_init();
    atomic_init(&h->leading, 0);
    atomic_init(&h->stop, 0);
    if (pthread_create(&h->thread, NULL, run_thread, h) != 0) {
        sl_log(SL_LOG_ERROR, NULL, "health.start_failed",
               SL_LOG_STR("message", "cannot create the health check thread"));
        curl_multi_cleanup(h->multi);
        free(h);
        curl_global_cleanup();
        return NULL;
    }
    sl_log(SL_LOG_INFO, NULL, "health.started", SL_LOG_INT("deployments", (int64_t)cfg->n_deployments),
           SL_LOG_INT("interval_ms", (int64_t)(cfg->health_check_interval_s * 1000.0)));
    return h;
}

void
sl_coord_health_set_leading(struct sl_coord_health *h, int leading)
{
    if (h == NULL || atomic_load(&h->leading) == leading)
        return;
    atomic_store(&h->leading, leading);
    curl_multi_wakeup(h->multi);
}

void
sl_coord_health_stop(struct sl_coord_health *h)
{
    if (h == NULL)
        return;
    atomic_store(&h->stop, 1);
    curl_multi_wakeup(h->multi);
    pthread_join(h->thread, NULL);
    for (size_t i = 0; i < h->n_checks; i++) {
        sl_buf_dispose(&h->checks[i].body);
        free(h->checks[i].own_api_key);
        free(h->checks[i].own_api_base);
    }
    free(h->checks);
    curl_multi_cleanup(h->multi);
    sl_coord__redis_close(&h->redis);
    free(h);
    curl_global_cleanup();
}
