/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health -- background health checks on a thread of their own; see health.h.
 *
 * The thread owns everything below: the deployment copies, the curl multi handle and its own
 * Redis and PostgreSQL connections. The main thread only flips `leading` and `stop` and joins
 * the thread.
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
#include "common/secretbox.h"
#include "common/xalloc.h"
#include "coordinator/internal.h"
#include "gateway/health/entry.h"
#include "gateway/health/probe.h"
#include "gateway/router/deployment_check.h"
#include "gateway/router/model_row.h"

/* Maximum wait of the thread for curl or a flag change, in ms. */
#define POLL_MS 100
/* A result stays in Redis for this many intervals after its check. */
#define TTL_INTERVALS 3
/* Rows of the models table checked at most, as the gateways' SL_ROUTER_LIVE_MAX_ROWS. */
#define MAX_MODEL_ROWS 10000
/* Minimum time between two logged failures to read the models table, in ms. */
#define MODELS_LOG_INTERVAL_MS 60000
/* Columns: model_id, model_name, litellm_params, model_info, secret hex, nonce hex; the
 * query the gateways' gateway/router/live.c runs. */
#define MODELS_SQL                                                                                 \
    "SELECT model_id, model_name, litellm_params::text, model_info::text, "                        \
    "encode(secret_ciphertext, 'hex'), encode(secret_nonce, 'hex') FROM models "                   \
    "ORDER BY created_at, model_id LIMIT 10000"

/* One deployment under check. */
struct check {
    struct sl_deployment d; /* a row's (owned), or a shallow copy of the config's */
    int owned;              /* 1: `d` is a row's and freed with sl_config_deployment_dispose */
    char *own_api_key;      /* of a config copy: filled from the environment, ours to free */
    char *own_api_base;
    int skip;         /* 1: never checked (disabled, or no request can be built) */
    int last_healthy; /* -1 before the first result */
    uint64_t due_ms;  /* sl_now_ms() at which the next check starts */
    CURL *easy;       /* non-NULL while a check runs */
    struct sl_health_probe probe;
    struct sl_buf body;
    char curl_error[CURL_ERROR_SIZE];
};

struct sl_coord_health {
    const struct sl_config *cfg;
    const char *prefix;
    struct sl_coord_metrics *metrics;
    struct check *checks; /* the config's deployments, then the models table's */
    size_t n_checks;
    size_t n_config;
    size_t running;
    struct sl_coord_pg pg; /* reads the models table */
    struct sl_secretbox box;
    int have_box;
    uint64_t next_reload_ms;
    struct sl_log_limiter models_log;
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
    size_t room =
        c->body.len < SL_HEALTH_MAX_BODY_BYTES ? SL_HEALTH_MAX_BODY_BYTES - c->body.len : 0;

    /* The verdict needs only the start of an error body: the rest is read and dropped. */
    sl_buf_append(&c->body, data, n < room ? n : room);
    return n;
}

/* Marks `c` skipped when its deployment is never checked, and logs why when `log` is set. */
static void
decide_skip(struct check *c, int log)
{
    struct sl_errbuf err = {{0}};
    struct sl_health_probe probe;

    if (c->d.disable_background_health_check)
        c->skip = 1;
    else if (sl_health_probe_build(&c->d, (int64_t)time(NULL), &probe, &err) != SL_OK)
        c->skip = 1;
    else
        sl_health_probe_dispose(&probe);
    if (c->skip && log)
        sl_log(
            SL_LOG_INFO, NULL, "health.skipped", SL_LOG_STR("model_id", c->d.id),
            SL_LOG_STR("model_name", c->d.model_name),
            SL_LOG_STR("reason", err.msg[0] != '\0' ? err.msg : "disable_background_health_check"));
}

/* Prepares the copies of the config's deployments. */
static void
load_config_checks(struct sl_coord_health *h)
{
    const struct sl_config *cfg = h->cfg;

    h->checks = sl_xcalloc(cfg->n_deployments > 0 ? cfg->n_deployments : 1, sizeof(*h->checks));
    h->n_checks = cfg->n_deployments;
    h->n_config = cfg->n_deployments;
    for (size_t i = 0; i < h->n_checks; i++) {
        struct check *c = &h->checks[i];
        struct sl_errbuf err = {{0}};

        c->d = cfg->deployments[i];
        c->last_healthy = -1;
        sl_buf_init(&c->body, 0);
        /* The gateway fills a missing api_key or api_base from the provider's environment
         * variables; the check must send what the gateway sends. */
        if (sl_router_check_deployment(&c->d, "model_list", &err) != SL_OK) {
            c->skip = 1;
            sl_log(SL_LOG_INFO, NULL, "health.skipped", SL_LOG_STR("model_id", c->d.id),
                   SL_LOG_STR("reason", err.msg));
        }
        if (c->d.api_key != cfg->deployments[i].api_key)
            c->own_api_key = c->d.api_key;
        if (c->d.api_base != cfg->deployments[i].api_base)
            c->own_api_base = c->d.api_base;
        if (!c->skip)
            decide_skip(c, 1);
    }
}

static void
dispose_check(struct check *c)
{
    sl_buf_dispose(&c->body);
    if (c->owned)
        sl_config_deployment_dispose(&c->d);
    free(c->own_api_key);
    free(c->own_api_base);
}

static const char *
cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Returns the check of the models table with deployment id `id` in `checks`, or NULL. */
static const struct check *
find_row_check(const struct check *checks, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(checks[i].d.id, id) == 0)
            return &checks[i];
    return NULL;
}

/* Replaces the checks of the models table by those of `res`. A deployment that was there
 * before keeps its schedule and last result. Called only while no check runs. */
static void
apply_rows(struct sl_coord_health *h, const PGresult *res)
{
    int rows = PQntuples(res) < MAX_MODEL_ROWS ? PQntuples(res) : MAX_MODEL_ROWS;
    const struct check *old = h->checks + h->n_config;
    size_t n_old = h->n_checks - h->n_config;
    struct check *next = sl_xcalloc(h->n_config + (size_t)rows + 1, sizeof(*next));
    size_t n = h->n_config;

    memcpy(next, h->checks, h->n_config * sizeof(*next));
    for (int i = 0; i < rows; i++) {
        struct sl_model_row row = {
            .model_id = cell(res, i, 0),
            .model_name = cell(res, i, 1),
            .litellm_params = cell(res, i, 2),
            .model_info = cell(res, i, 3),
            .secret_hex = cell(res, i, 4),
            .nonce_hex = cell(res, i, 5),
        };
        struct check *c = &next[n];
        const struct check *before;
        struct sl_errbuf err = {{0}};

        if (sl_model_row_to_deployment(&row, h->have_box ? &h->box : NULL, &c->d, &err) != SL_OK)
            continue; /* the gateways log invalid rows */
        c->owned = 1;
        c->last_healthy = -1;
        sl_buf_init(&c->body, 0);
        before = find_row_check(old, n_old, c->d.id);
        if (before != NULL) {
            c->due_ms = before->due_ms;
            c->last_healthy = before->last_healthy;
        }
        decide_skip(c, before == NULL);
        n++;
    }
    for (size_t i = 0; i < n_old; i++)
        dispose_check(&h->checks[h->n_config + i]);
    free(h->checks);
    h->checks = next;
    h->n_checks = n;
}

/* Reads the models table once per interval, between rounds of checks. A failure is logged
 * (rate-limited) and the previous rows are kept. */
static void
reload_models(struct sl_coord_health *h, uint64_t now)
{
    PGresult *res;

    if (h->running > 0 || now < h->next_reload_ms)
        return;
    h->next_reload_ms = now + (uint64_t)(h->cfg->health_check_interval_s * 1000.0);
    if (sl_coord__pg_ensure(&h->pg) != SL_OK)
        return;
    res = PQexec(h->pg.conn, MODELS_SQL);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        apply_rows(h, res);
    } else {
        if (sl_log_limiter_allow(&h->models_log, now, MODELS_LOG_INTERVAL_MS))
            sl_log(SL_LOG_WARN, NULL, "health.models_failed",
                   SL_LOG_STR("message", PQresultErrorMessage(res)),
                   SL_LOG_INT("suppressed", h->models_log.suppressed));
        sl_coord__pg_check(&h->pg);
    }
    PQclear(res);
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

/* Runs one command on the thread's connection; a failure only closes it for a reconnect. */
static void
run_command(struct sl_coord_health *h, int argc, const char **argv, const size_t *lens)
{
    redisReply *reply = sl_coord__redis_command(&h->redis, argc, argv, lens);

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        sl_log(SL_LOG_WARN, NULL, "health.store_failed", SL_LOG_STR("command", argv[0]),
               SL_LOG_STR("message", reply->str));
    if (reply != NULL)
        freeReplyObject(reply);
}

/* Writes a result to the hash, keeps the hash for TTL_INTERVALS intervals and publishes it. A
 * result that cannot be written is dropped: the next check writes a newer one. */
static void
store_result(struct sl_coord_health *h, const struct sl_health_entry *e)
{
    char hash[128];
    char channel[128];
    char ttl[24];
    struct sl_buf json;

    if (sl_coord__redis_ensure(&h->redis) != SL_OK)
        return;
    snprintf(hash, sizeof(hash), "%s%s", h->prefix, SL_HEALTH_HASH_KEY);
    snprintf(channel, sizeof(channel), "%s%s", h->prefix, SL_HEALTH_CHANNEL);
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)e->ttl_ms);
    sl_buf_init(&json, 0);
    sl_health_entry_encode(e, &json);

    {
        const char *argv[] = {"HSET", hash, e->id, json.data};
        const size_t lens[] = {4, strlen(hash), strlen(e->id), json.len};

        run_command(h, 4, argv, lens);
    }
    {
        const char *argv[] = {"PEXPIRE", hash, ttl};
        const size_t lens[] = {7, strlen(hash), strlen(ttl)};

        run_command(h, 3, argv, lens);
    }
    {
        const char *argv[] = {"PUBLISH", channel, json.data};
        const size_t lens[] = {7, strlen(channel), json.len};

        run_command(h, 3, argv, lens);
    }
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
        result == CURLE_OK
            ? NULL
            : (c->curl_error[0] != '\0' ? c->curl_error : curl_easy_strerror(result)),
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
    load_config_checks(h);
    while (!atomic_load(&h->stop)) {
        int running = 0;

        int leading = atomic_load(&h->leading);

        /* A new term starts with fresh checks rather than the schedule of an old one. */
        if (leading && !active)
            for (size_t i = 0; i < h->n_checks; i++)
                h->checks[i].due_ms = 0;
        active = leading;
        if (leading) {
            reload_models(h, sl_now_ms());
            start_due(h);
        }
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
    const char *salt;

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
    h->pg.url = cfg->database_url;
    sl_coord__backoff_reset(&h->pg.backoff);
    salt = sl_secretbox_salt_key(cfg->master_key, NULL);
    if (salt != NULL) {
        sl_secretbox_init(&h->box, salt, strlen(salt));
        h->have_box = 1;
    }
    h->multi = curl_multi_init();
    atomic_init(&h->leading, 0);
    atomic_init(&h->stop, 0);
    if (pthread_create(&h->thread, NULL, run_thread, h) != 0) {
        sl_log(SL_LOG_ERROR, NULL, "health.start_failed",
               SL_LOG_STR("message", "cannot create the health check thread"));
        curl_multi_cleanup(h->multi);
        if (h->have_box)
            sl_secretbox_dispose(&h->box);
        free(h);
        curl_global_cleanup();
        return NULL;
    }
    sl_log(SL_LOG_INFO, NULL, "health.started",
           SL_LOG_INT("config_deployments", (int64_t)cfg->n_deployments),
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
    for (size_t i = 0; i < h->n_checks; i++)
        dispose_check(&h->checks[i]);
    free(h->checks);
    curl_multi_cleanup(h->multi);
    sl_coord__redis_close(&h->redis);
    sl_coord__pg_close(&h->pg);
    if (h->have_box)
        sl_secretbox_dispose(&h->box);
    free(h);
    curl_global_cleanup();
}
