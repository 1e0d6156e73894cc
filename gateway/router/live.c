/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live -- reloading the models table into a worker's router; see live.h.
 *
 * A dropped pin releases its router one loop iteration later. h2o runs a pool's dispose hooks
 * newest first, so the pin's hook runs before the request's own hook, which still reads the
 * deployment for the access log line.
 */
#define SL_LOG_MODULE "router"
#include "gateway/router/live.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/redis.h"
#include "common/secretbox.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/router/model_row.h"
#include "gateway/worker.h"

#define SL_ROUTER_LIVE_CHANNEL_MAX 256
#define SL_ROUTER_LIVE_LOG_INTERVAL_MS 30000

/* Columns: model_id, model_name, litellm_params, model_info, secret hex, nonce hex. */
#define SL_ROUTER_LIVE_SQL                                                                         \
    "SELECT model_id, model_name, litellm_params::text, model_info::text, "                        \
    "encode(secret_ciphertext, 'hex'), encode(secret_nonce, 'hex') FROM models "                   \
    "ORDER BY created_at, model_id LIMIT 10001"

struct sl_router_live {
    struct sl_worker *w;
    struct sl_router *current; /* one reference held here */
    struct sl_secretbox box;
    int have_box;

    uv_timer_t reload_timer;
    int loading;      /* a SELECT is queued or running */
    int reload_again; /* a change was announced while it ran */
    unsigned char digest[EVP_MAX_MD_SIZE]; /* of the rows behind `current` */
    int have_digest;
    struct sl_log_limiter failure_log;

    /* Pins whose request is done, released by unpin_timer on the next loop iteration. */
    uv_timer_t unpin_timer;
    struct sl_router **unpinned;
    size_t n_unpinned;
    size_t cap_unpinned;
    size_t pins; /* pins taken and not yet released */

    int closing;
    int open_handles;
};

struct pin {
    struct sl_router_live *live;
    struct sl_router *router;
};

static void start_reload(struct sl_router_live *live);

/* ---------------------------------------------------------------- lifetime */

/* Frees `live` once it is closing and nothing refers to it any more. */
static void
maybe_free(struct sl_router_live *live)
{
    if (!live->closing || live->open_handles > 0 || live->loading || live->pins > 0)
        return;
    sl_secretbox_dispose(&live->box);
    free(live->unpinned);
    free(live);
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct sl_router_live *live = h->data;

    live->open_handles--;
    maybe_free(live);
}

static void
release_unpinned(struct sl_router_live *live)
{
    for (size_t i = 0; i < live->n_unpinned; i++)
        sl_router_release(live->unpinned[i]);
    live->pins -= live->n_unpinned;
    live->n_unpinned = 0;
}

static void
on_unpin_timer(uv_timer_t *t)
{
    release_unpinned(t->data);
}

static void
on_unpin(void *data)
{
    struct pin *p = data;
    struct sl_router_live *live = p->live;

    /* A closing worker's loop no longer runs: the router stays, and so does the request
     * that the drain deadline cut (the process is about to exit). */
    if (live->closing) {
        live->pins--;
        return;
    }
    if (live->n_unpinned == live->cap_unpinned) {
        live->cap_unpinned = live->cap_unpinned == 0 ? 16 : live->cap_unpinned * 2;
        live->unpinned = sl_xrealloc(live->unpinned, live->cap_unpinned * sizeof(*live->unpinned));
    }
    live->unpinned[live->n_unpinned++] = p->router;
    if (!uv_is_active((uv_handle_t *)&live->unpin_timer))
        uv_timer_start(&live->unpin_timer, on_unpin_timer, 0, 0);
}

void
sl_router_live_pin(struct sl_worker *w, h2o_req_t *req)
{
    struct sl_router_live *live = w->models;
    struct pin *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_unpin);

    p->live = live;
    p->router = live->current;
    sl_router_retain(p->router);
    live->pins++;
}

const struct sl_router *
sl_router_live_current(struct sl_worker *w)
{
    return w->models->current;
}

/* ---------------------------------------------------------------- reload */

static void
on_reload_timer(uv_timer_t *t)
{
    start_reload(t->data);
}

static void
schedule_reload(struct sl_router_live *live, uint64_t delay_ms)
{
    uv_timer_start(&live->reload_timer, on_reload_timer, delay_ms, 0);
}

static uint64_t
interval_ms(const struct sl_router_live *live)
{
    return (uint64_t)(live->w->gw->cfg.model_reload_interval_s * 1000.0);
}

static void
log_failure(struct sl_router_live *live, const char *message)
{
    if (sl_log_limiter_allow(&live->failure_log, sl_now_ms(), SL_ROUTER_LIVE_LOG_INTERVAL_MS))
        sl_log(SL_LOG_WARN, NULL, "models.reload_failed", SL_LOG_INT("worker", live->w->index),
               SL_LOG_STR("message", message),
               SL_LOG_INT("suppressed", (int64_t)live->failure_log.suppressed));
}

/* Hashes every cell of `res`, with lengths and NULL marks so that no two results collide by
 * concatenation. */
static void
digest_rows(const PGresult *res, unsigned char out[EVP_MAX_MD_SIZE])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* only out of memory makes SHA-256 unavailable */
    for (int row = 0; row < PQntuples(res); row++) {
        for (int col = 0; col < PQnfields(res); col++) {
            uint64_t n = PQgetisnull(res, row, col) ? UINT64_MAX
                                                    : (uint64_t)PQgetlength(res, row, col);

            EVP_DigestUpdate(ctx, &n, sizeof(n));
            if (n != UINT64_MAX)
                EVP_DigestUpdate(ctx, PQgetvalue(res, row, col), (size_t)n);
        }
    }
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
}

static const char *
cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Builds a router from the config and the rows of `res`. A row that fails is logged and left
 * out, so one bad row never takes the others down. */
static void
apply_rows(struct sl_router_live *live, const PGresult *res)
{
    int rows = PQntuples(res);
    unsigned char digest[EVP_MAX_MD_SIZE];
    struct sl_deployment *deployments;
    size_t n = 0;

    digest_rows(res, digest);
    if (live->have_digest && memcmp(digest, live->digest, sizeof(digest)) == 0)
        return;
    if (rows > SL_ROUTER_LIVE_MAX_ROWS) {
        sl_log(SL_LOG_WARN, NULL, "models.too_many_rows", SL_LOG_INT("worker", live->w->index),
               SL_LOG_INT("max_rows", SL_ROUTER_LIVE_MAX_ROWS));
        rows = SL_ROUTER_LIVE_MAX_ROWS;
    }

    deployments = sl_xcalloc((size_t)rows + 1, sizeof(*deployments));
    for (int i = 0; i < rows; i++) {
        struct sl_model_row row = {
            .model_id = cell(res, i, 0),
            .model_name = cell(res, i, 1),
            .litellm_params = cell(res, i, 2),
            .model_info = cell(res, i, 3),
            .secret_hex = cell(res, i, 4),
            .nonce_hex = cell(res, i, 5),
        };
        struct sl_errbuf err = {{0}};

        if (sl_model_row_to_deployment(&row, live->have_box ? &live->box : NULL, &deployments[n],
                                       &err) != SL_OK) {
            sl_log(SL_LOG_WARN, NULL, "models.row_invalid", SL_LOG_INT("worker", live->w->index),
                   SL_LOG_STR("model_id", row.model_id), SL_LOG_STR("message", err.msg));
            continue;
        }
        n++;
    }

    sl_router_release(live->current);
    live->current = sl_router_create(&live->w->gw->cfg, deployments, n);
    memcpy(live->digest, digest, sizeof(digest));
    live->have_digest = 1;
    sl_log(SL_LOG_INFO, NULL, "models.reloaded", SL_LOG_INT("worker", live->w->index),
           SL_LOG_INT("database_models", (int64_t)n),
           SL_LOG_INT("model_groups", (int64_t)live->current->n_groups));
}

static void
on_rows(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct sl_router_live *live = privdata;

    live->loading = 0;
    if (live->closing) {
        maybe_free(live);
        return;
    }
    if (st != SL_OK) {
        log_failure(live, error);
        schedule_reload(live, SL_ROUTER_LIVE_RETRY_MS);
        return;
    }
    apply_rows(live, res);
    if (live->reload_again) {
        live->reload_again = 0;
        start_reload(live);
        return;
    }
    schedule_reload(live, interval_ms(live));
}

/* Runs the SELECT unless one is running, in which case it runs again once that one ends. */
static void
start_reload(struct sl_router_live *live)
{
    struct sl_worker *w = live->w;
    enum sl_status rc;

    if (live->closing || w->pg == NULL)
        return;
    if (live->loading) {
        live->reload_again = 1;
        return;
    }
    uv_timer_stop(&live->reload_timer);
    rc = sl_pg_query(w->pg, SL_ROUTER_LIVE_SQL, 0, NULL, on_rows, live);
    if (rc != SL_OK) {
        log_failure(live, sl_status_str(rc));
        schedule_reload(live, SL_ROUTER_LIVE_RETRY_MS);
        return;
    }
    live->loading = 1;
}

/* ---------------------------------------------------------------- announcements */

static void
on_changed_message(struct sl_redis *r, const char *channel, const char *payload,
                   size_t payload_len, void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    (void)channel;
    (void)payload;
    (void)payload_len;
    if (w->models != NULL)
        start_reload(w->models);
}

static void
on_publish_reply(struct sl_redis *r, enum sl_status status, const redisReply *reply,
                 void *privdata)
{
    struct sl_router_live *live = privdata;

    (void)r;
    if (status != SL_OK)
        log_failure(live, sl_status_str(status));
    else if (reply->type == REDIS_REPLY_ERROR)
        log_failure(live, reply->str);
}

void
sl_router_live_announce(struct sl_worker *w)
{
    struct sl_router_live *live = w->models;
    char channel[SL_ROUTER_LIVE_CHANNEL_MAX];
    const char *argv[3];
    size_t lens[3];

    start_reload(live);
    if (w->redis == NULL)
        return;
    if (sl_redis_key(channel, sizeof(channel), w->redis, "models:changed") != SL_OK)
        return;
    argv[0] = "PUBLISH";
    argv[1] = channel;
    argv[2] = "reload";
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    /* Other workers then reload within model_reload_interval. */
    if (sl_redis_command_argv(w->redis, 3, argv, lens, on_publish_reply, live) != SL_OK)
        log_failure(live, "Redis is not connected; other workers reload on their interval");
}

/* ---------------------------------------------------------------- setup */

void
sl_router_live_init(struct sl_worker *w)
{
    struct sl_router_live *live = sl_xcalloc(1, sizeof(*live));
    const char *salt = sl_secretbox_salt_key(w->gw->cfg.master_key, NULL);
    char channel[SL_ROUTER_LIVE_CHANNEL_MAX];

    live->w = w;
    live->current = sl_router_create(&w->gw->cfg, NULL, 0);
    if (salt != NULL) {
        sl_secretbox_init(&live->box, salt, strlen(salt));
        live->have_box = 1;
    }
    uv_timer_init(&w->loop, &live->reload_timer);
    live->reload_timer.data = live;
    uv_timer_init(&w->loop, &live->unpin_timer);
    live->unpin_timer.data = live;
    live->open_handles = 2;
    w->models = live;

    if (w->pg != NULL)
        schedule_reload(live, 0);
    if (w->redis != NULL &&
        (sl_redis_key(channel, sizeof(channel), w->redis, "models:changed") != SL_OK ||
         sl_redis_subscribe(w->redis, channel, on_changed_message, w) != SL_OK))
        sl_log(SL_LOG_ERROR, NULL, "models.subscribe_failed", SL_LOG_INT("worker", w->index));
}

void
sl_router_live_dispose(struct sl_worker *w)
{
    struct sl_router_live *live = w->models;

    if (live == NULL)
        return;
    w->models = NULL;
    release_unpinned(live);
    sl_router_release(live->current);
    live->current = NULL;
    live->closing = 1;
    uv_close((uv_handle_t *)&live->reload_timer, on_handle_closed);
    uv_close((uv_handle_t *)&live->unpin_timer, on_handle_closed);
}
