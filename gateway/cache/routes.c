/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- the /cache/ management routes of the response cache, served without a database:
 * GET /cache/ping (every caller), POST /cache/delete and POST /cache/flushall (proxy_admin).
 *
 * /cache/flushall never runs Redis FLUSHALL, because the same Redis contains rate limit windows
 * and auth records: it walks the keys under "<prefix>cache:" with SCAN and UNLINKs them,
 * for at most FLUSH_MAX_ROUNDS SCAN calls per request.
 */
#define SL_LOG_MODULE "cache"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/cache/store.h"
#include "gateway/gateway.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/routes.h"
#include "gateway/worker.h"

/* Maximum number of keys of one /cache/delete call. */
#define DELETE_MAX_KEYS 1000
/* Keys each SCAN of /cache/flushall requests, and the SCAN calls one request may make. */
#define FLUSH_SCAN_COUNT  "500"
#define FLUSH_MAX_ROUNDS  1000
/* Keys of one UNLINK; a SCAN reply may hold more than its COUNT, so it is split. */
#define UNLINK_BATCH      1000
/* The key that /cache/ping writes, under "<prefix>cache:"; no cache key has this form. */
#define PING_KEY          "health_check"
#define PING_KEY_TTL_S    "60"
/* Size of a Redis key built here: the client's prefix, "cache:" and a cache key. */
#define KEY_SIZE          (SL_CACHE_STORE_KEY_MAX + 256)

static const char not_initialized[] = "Cache not initialized. litellm.cache is None";

/* Sends LiteLLM's 503 for a cache that is not enabled; returns 1 when it did. */
static int
respond_if_disabled(struct sl_request *r)
{
    if (r->worker->gw->cfg.cache)
        return 0;
    sl_mgmt_respond_error(r, 503, "service_unavailable", "cache", not_initialized);
    return 1;
}

/* Sends a 503 naming the Redis failure `why` of route step `what`. */
static void
respond_unavailable(struct sl_request *r, const char *what, const char *why)
{
    if (r->req == NULL)
        return;
    sl_request_respond_error(r, 503, "service_unavailable", "cache",
                             "%s: the cache's Redis is unavailable (%s); retry later.", what, why);
}

/* Returns why a reply is unusable, or NULL for a usable one, and records the outcome. */
static const char *
reply_failure(struct sl_worker *w, enum sl_status st, const redisReply *reply)
{
    if (st != SL_OK) {
        sl_cache_note_outcome(w, 0, sl_status_str(st));
        return sl_status_str(st);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        sl_cache_note_outcome(w, 0, "error reply");
        return "Redis sent an error reply";
    }
    sl_cache_note_outcome(w, 1, NULL);
    return NULL;
}

/* Sends a command of NUL-terminated arguments. */
static enum sl_status
send_command(struct sl_worker *w, int argc, const char **argv, sl_redis_reply_cb cb, void *data)
{
    size_t argvlen[8];

    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    return sl_redis_command_argv(w->redis, argc, argv, argvlen, cb, data);
}

/* ---------------------------------------------------------------- /cache/ping */

enum { PING_PING, PING_SET, PING_INFO, PING_STEPS };

struct ping_op {
    struct sl_request *r;
    int pending;
    const char *failure; /* static text of the first failure, NULL while all succeeded */
    char redis_version[32];
};

struct ping_step {
    struct ping_op *op;
    int step;
};

/* Copies the redis_version field of an INFO server reply into `out`, "" when absent. */
static void
parse_redis_version(const char *info, size_t len, char *out, size_t size)
{
    static const char field[] = "redis_version:";
    const char *end = info + len;
    const char *p = info;

    out[0] = '\0';
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol != NULL ? eol : end) - p);

        if (n > sizeof(field) - 1 && memcmp(p, field, sizeof(field) - 1) == 0) {
            size_t vlen = n - (sizeof(field) - 1);

            if (vlen > 0 && p[n - 1] == '\r')
                vlen--;
            snprintf(out, size, "%.*s", (int)vlen, p + sizeof(field) - 1);
            return;
        }
        p += n + 1;
    }
}

/* LiteLLM's litellm_cache_params: the cache's settings as a JSON string. */
static char *
cache_params_text(const struct sl_config *cfg)
{
    cJSON *params = cJSON_CreateObject();
    cJSON *types;
    char *text;

    cJSON_AddStringToObject(params, "type", "redis");
    cJSON_AddStringToObject(params, "mode",
                            cfg->cache_mode == SL_CACHE_DEFAULT_OFF ? "default_off" : "default_on");
    cJSON_AddNumberToObject(params, "ttl", cfg->cache_ttl_s);
    if (cfg->cache_namespace != NULL)
        cJSON_AddStringToObject(params, "namespace", cfg->cache_namespace);
    else
        cJSON_AddNullToObject(params, "namespace");
    types = cJSON_AddArrayToObject(params, "supported_call_types");
    for (size_t i = 0; i < cfg->cache_supported_call_types.n; i++)
        cJSON_AddItemToArray(types, cJSON_CreateString(cfg->cache_supported_call_types.items[i]));
    text = sl_json_print(params);
    cJSON_Delete(params);
    return text;
}

static void
ping_respond(struct ping_op *op)
{
    struct sl_request *r = op->r;
    const struct sl_gateway *gw = r->worker->gw;
    cJSON *out;
    cJSON *health;
    cJSON *kwargs;
    char *params;

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "healthy");
    cJSON_AddStringToObject(out, "cache_type", "redis");
    cJSON_AddBoolToObject(out, "ping_response", 1);
    cJSON_AddStringToObject(out, "set_cache_response", "success");
    params = cache_params_text(&gw->cfg);
    cJSON_AddStringToObject(out, "litellm_cache_params", params);
    free(params);
    /* The target's user name and password are left out on purpose. */
    health = cJSON_AddObjectToObject(out, "health_check_cache_params");
    cJSON_AddStringToObject(health, "host", gw->redis_target.host);
    cJSON_AddNumberToObject(health, "port", gw->redis_target.port);
    kwargs = cJSON_AddObjectToObject(health, "redis_kwargs");
    cJSON_AddNumberToObject(kwargs, "db", gw->redis_target.db);
    if (gw->cfg.cache_namespace != NULL)
        cJSON_AddStringToObject(health, "namespace", gw->cfg.cache_namespace);
    else
        cJSON_AddNullToObject(health, "namespace");
    cJSON_AddStringToObject(health, "redis_version", op->redis_version);
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

/* Drops one of the op's pending counts; the last one sends the response. */
static void
ping_finish(struct ping_op *op)
{
    struct sl_request *r = op->r;

    if (--op->pending > 0)
        return;
    if (op->failure != NULL)
        respond_unavailable(r, "Service Unhealthy", op->failure);
    else
        ping_respond(op);
    free(op);
    sl_request_release(r);
}

static void
on_ping_reply(struct sl_redis *redis, enum sl_status st, const redisReply *reply, void *privdata)
{
    struct ping_step *step = privdata;
    struct ping_op *op = step->op;
    const char *failure = reply_failure(op->r->worker, st, reply);

    (void)redis;
    if (failure == NULL && step->step == PING_INFO && reply->type == REDIS_REPLY_STRING)
        parse_redis_version(reply->str, reply->len, op->redis_version, sizeof(op->redis_version));
    if (failure != NULL && op->failure == NULL)
        op->failure = failure;
    free(step);
    ping_finish(op);
}

static void
cache_ping(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_worker *w = r->worker;
    char key[KEY_SIZE];
    const char *argv[PING_STEPS][5] = {
        {"PING"},
        {"SET", key, "ok", "EX", PING_KEY_TTL_S},
        {"INFO", "server"},
    };
    static const int argc[PING_STEPS] = {1, 5, 2};
    struct ping_op *op;

    (void)caller;
    (void)body;
    if (respond_if_disabled(r))
        return;
    if (w->redis == NULL) {
        respond_unavailable(r, "Service Unhealthy", "Redis is not configured");
        return;
    }
    sl_redis_key(key, sizeof(key), w->redis, "cache:%s", PING_KEY);
    op = sl_xcalloc(1, sizeof(*op));
    op->r = r;
    op->pending = 1; /* held while the commands are sent */
    sl_request_retain(r);
    for (int i = 0; i < PING_STEPS; i++) {
        struct ping_step *step = sl_xcalloc(1, sizeof(*step));
        enum sl_status st;

        step->op = op;
        step->step = i;
        st = send_command(w, argc[i], argv[i], on_ping_reply, step);
        if (st != SL_OK) {
            free(step);
            sl_cache_note_outcome(w, 0, sl_status_str(st));
            op->failure = sl_status_str(st);
            break;
        }
        op->pending++;
    }
    ping_finish(op);
}

/* ---------------------------------------------------------------- /cache/delete */

static void
respond_success(struct sl_request *r)
{
    cJSON *out = cJSON_CreateObject();

    cJSON_AddStringToObject(out, "status", "success");
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
}

static void
on_delete_reply(struct sl_redis *redis, enum sl_status st, const redisReply *reply,
                void *privdata)
{
    struct sl_request *r = privdata;
    const char *failure = reply_failure(r->worker, st, reply);

    (void)redis;
    if (failure != NULL)
        respond_unavailable(r, "Cache Delete Failed", failure);
    else
        respond_success(r);
    sl_request_release(r);
}

static void
cache_delete(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_worker *w = r->worker;
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(body, "keys");
    const cJSON *item;
    const char **argv = NULL;
    size_t *argvlen = NULL;
    char(*names)[KEY_SIZE] = NULL;
    int n;
    int i = 0;
    enum sl_status st;

    (void)caller;
    if (respond_if_disabled(r))
        return;
    n = cJSON_GetArraySize(keys);
    if (!cJSON_IsArray(keys) || n > DELETE_MAX_KEYS) {
        sl_request_respond_error(r, 400, "bad_request_error", "keys",
                                 "Field keys must be a list of at most %d cache keys (the "
                                 "x-litellm-cache-key values of cached responses).",
                                 DELETE_MAX_KEYS);
        return;
    }
    cJSON_ArrayForEach(item, keys) {
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
            strlen(item->valuestring) > SL_CACHE_STORE_KEY_MAX) {
            sl_request_respond_error(r, 400, "bad_request_error", "keys",
                                     "Every entry of keys must be a non-empty string of at most "
                                     "%d bytes.",
                                     SL_CACHE_STORE_KEY_MAX);
            return;
        }
    }
    if (w->redis == NULL) {
        respond_unavailable(r, "Cache Delete Failed", "Redis is not configured");
        return;
    }
    if (n == 0) {
        respond_success(r);
        return;
    }

    argv = sl_xcalloc((size_t)n + 1, sizeof(*argv));
    argvlen = sl_xcalloc((size_t)n + 1, sizeof(*argvlen));
    names = sl_xmalloc((size_t)n * KEY_SIZE);
    argv[0] = "UNLINK";
    argvlen[0] = 6;
    cJSON_ArrayForEach(item, keys) {
        /* Fits: the key length was checked above and KEY_SIZE leaves room for the prefix. */
        sl_redis_key(names[i], KEY_SIZE, w->redis, "cache:%s", item->valuestring);
        argv[i + 1] = names[i];
        argvlen[i + 1] = strlen(names[i]);
        i++;
    }
    st = sl_redis_command_argv(w->redis, n + 1, argv, argvlen, on_delete_reply, r);
    if (st == SL_OK) {
        sl_request_retain(r);
    } else {
        sl_cache_note_outcome(w, 0, sl_status_str(st));
        respond_unavailable(r, "Cache Delete Failed", sl_status_str(st));
    }
    free(names);
    free(argvlen);
    free(argv);
}

/* ---------------------------------------------------------------- /cache/flushall */

struct flush_op {
    struct sl_request *r;
    char pattern[KEY_SIZE]; /* "<escaped prefix>cache:*" */
    char cursor[32];
    int rounds;        /* SCAN calls made */
    int unlinks;       /* UNLINK commands awaiting their reply */
    long long deleted; /* keys UNLINK removed */
    const char *failure;
};

static void flush_scan(struct flush_op *op);

/* Writes `prefix` with the glob characters of SCAN MATCH escaped, then "cache:*". */
static int
build_pattern(const char *prefix, char *out, size_t size)
{
    size_t o = 0;

    for (const char *p = prefix; *p != '\0'; p++) {
        if (strchr("*?[]\\", *p) != NULL) {
            if (o + 1 >= size)
                return 0;
            out[o++] = '\\';
        }
        if (o + 1 >= size)
            return 0;
        out[o++] = *p;
    }
    return snprintf(out + o, size - o, "cache:*") < (int)(size - o);
}

static void
flush_respond(struct flush_op *op)
{
    struct sl_request *r = op->r;
    int complete = strcmp(op->cursor, "0") == 0;
    cJSON *out;
    char message[160];

    if (op->failure != NULL) {
        respond_unavailable(r, "Service Unhealthy", op->failure);
        goto out;
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "success");
    cJSON_AddNumberToObject(out, "deleted", (double)op->deleted);
    cJSON_AddBoolToObject(out, "complete", complete);
    if (!complete) {
        snprintf(message, sizeof(message),
                 "Stopped after %d SCAN calls; call /cache/flushall again to delete the rest.",
                 FLUSH_MAX_ROUNDS);
        cJSON_AddStringToObject(out, "message", message);
    }
    sl_log(SL_LOG_INFO, r->call_id, "cache.flushed", SL_LOG_INT("deleted", op->deleted),
           SL_LOG_BOOL("complete", complete));
    sl_mgmt_respond_json(r, out);
    cJSON_Delete(out);
out:
    free(op);
    sl_request_release(r);
}

/* Scans on, or responds once the scan is done, failed, hit its round cap or lost its client. */
static void
flush_next(struct flush_op *op)
{
    if (op->unlinks > 0)
        return;
    if (op->failure != NULL || op->r->req == NULL || strcmp(op->cursor, "0") == 0 ||
        op->rounds >= FLUSH_MAX_ROUNDS) {
        flush_respond(op);
        return;
    }
    flush_scan(op);
}

static void
on_unlink_reply(struct sl_redis *redis, enum sl_status st, const redisReply *reply,
                void *privdata)
{
    struct flush_op *op = privdata;
    const char *failure = reply_failure(op->r->worker, st, reply);

    (void)redis;
    if (failure != NULL && op->failure == NULL)
        op->failure = failure;
    else if (failure == NULL && reply->type == REDIS_REPLY_INTEGER)
        op->deleted += reply->integer;
    op->unlinks--;
    flush_next(op);
}

/* Sends UNLINK for the keys of a SCAN reply, UNLINK_BATCH keys per command. */
static void
flush_unlink(struct flush_op *op, const redisReply *keys)
{
    const char *argv[UNLINK_BATCH + 1];
    size_t argvlen[UNLINK_BATCH + 1];

    argv[0] = "UNLINK";
    argvlen[0] = 6;
    for (size_t first = 0; first < keys->elements; first += UNLINK_BATCH) {
        size_t count = keys->elements - first;
        enum sl_status st;

        if (count > UNLINK_BATCH)
            count = UNLINK_BATCH;
        for (size_t i = 0; i < count; i++) {
            argv[i + 1] = keys->element[first + i]->str;
            argvlen[i + 1] = keys->element[first + i]->len;
        }
        st = sl_redis_command_argv(op->r->worker->redis, (int)count + 1, argv, argvlen,
                                   on_unlink_reply, op);
        if (st != SL_OK) {
            sl_cache_note_outcome(op->r->worker, 0, sl_status_str(st));
            op->failure = sl_status_str(st);
            return;
        }
        op->unlinks++;
    }
}

/* Returns 1 when `reply` has SCAN's shape: a cursor and an array of key strings. */
static int
scan_reply_valid(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[0]->len >= sizeof(((struct flush_op *)0)->cursor) ||
        reply->element[1]->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < reply->element[1]->elements; i++) {
        if (reply->element[1]->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    }
    return 1;
}

static void
on_scan_reply(struct sl_redis *redis, enum sl_status st, const redisReply *reply, void *privdata)
{
    struct flush_op *op = privdata;
    const char *failure = reply_failure(op->r->worker, st, reply);

    (void)redis;
    if (failure == NULL && !scan_reply_valid(reply))
        failure = "Redis sent an unexpected SCAN reply";
    if (failure != NULL) {
        op->failure = failure;
        flush_respond(op);
        return;
    }
    memcpy(op->cursor, reply->element[0]->str, reply->element[0]->len);
    op->cursor[reply->element[0]->len] = '\0';
    flush_unlink(op, reply->element[1]);
    flush_next(op);
}

static void
flush_scan(struct flush_op *op)
{
    const char *argv[] = {"SCAN", op->cursor, "MATCH", op->pattern, "COUNT", FLUSH_SCAN_COUNT};
    enum sl_status st;

    op->rounds++;
    st = send_command(op->r->worker, 6, argv, on_scan_reply, op);
    if (st != SL_OK) {
        sl_cache_note_outcome(op->r->worker, 0, sl_status_str(st));
        op->failure = sl_status_str(st);
        flush_respond(op);
    }
}

static void
cache_flushall(struct sl_request *r, const struct sl_mgmt_caller *caller, const cJSON *body)
{
    struct sl_worker *w = r->worker;
    char prefix[KEY_SIZE];
    struct flush_op *op;

    (void)caller;
    (void)body;
    if (respond_if_disabled(r))
        return;
    if (w->redis == NULL) {
        respond_unavailable(r, "Service Unhealthy", "Redis is not configured");
        return;
    }
    op = sl_xcalloc(1, sizeof(*op));
    op->r = r;
    snprintf(op->cursor, sizeof(op->cursor), "0");
    sl_redis_key(prefix, sizeof(prefix), w->redis, "%s", "");
    if (!build_pattern(prefix, op->pattern, sizeof(op->pattern))) {
        free(op);
        sl_mgmt_respond_error(r, 500, "internal_server_error", NULL,
                              "The Redis key prefix is too long to scan for cache keys.");
        return;
    }
    sl_request_retain(r);
    flush_scan(op);
}

const struct sl_mgmt_route sl_mgmt_cache_routes[] = {
    {"/cache/ping", "GET", SL_MGMT_INFO, cache_ping},
    {"/cache/delete", "POST", SL_MGMT_ADMIN, cache_delete},
    {"/cache/flushall", "POST", SL_MGMT_ADMIN, cache_flushall},
    {NULL, NULL, SL_MGMT_ADMIN, NULL},
};
