/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys -- the lookup chain of virtual keys (local cache, Redis, Postgres) and its
 * invalidation; see keys.h. The local cache is direct-mapped by the hash: a new record takes
 * the slot of whatever was there, which bounds memory without an eviction list.
 */
#define SL_LOG_MODULE "auth"
#include "gateway/auth/keys.h"
#include "gateway/auth/internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/redis.h"
#include "common/xalloc.h"
#include "gateway/worker.h"

/* How long a record read from a store may still serve while no store responds. */
#define SL_AUTH_STALE_MAX_MS ((uint64_t)SL_AUTH_REDIS_TTL_S * 1000)
/* Longest Redis key or channel name built here. */
#define SL_AUTH_REDIS_KEY_MAX 256
#define SL_AUTH_LOG_INTERVAL_MS 30000
/* Maximum length of a change counter read from Redis (an integer). */
#define SL_AUTH_VERSION_MAX 20
/* Lifetime of a key's change counter. It is longer than any lookup can take (its PostgreSQL
 * query times out within seconds), so a lookup in flight during a change reads it moved. */
#define SL_AUTH_VERSION_TTL_S 600

struct sl_auth_slot {
    int used;
    int missing; /* PostgreSQL has no key with this hash: a cached miss */
    uint64_t fetched_ms;
    uint64_t changes; /* process_changes when the lookup that stored it started */
    struct sl_auth_record rec;
};

struct sl_auth_cache {
    struct sl_auth_slot *slots; /* SL_AUTH_LOCAL_SLOTS of them */
    /* Counts invalidations seen by this worker. A lookup that started under an older value
     * does not fill any cache, so a record read before a change cannot outlive it. */
    uint64_t epoch;
    struct sl_log_limiter store_log;
    struct sl_redis_script *fill;       /* lua-scripts/auth_fill.lua */
    struct sl_redis_script *invalidate; /* lua-scripts/auth_invalidate.lua */
    const char *last_source; /* the store the lookup being finished asked last; NULL: none */
};

/*
 * Counts the invalidations made by every worker of this process. A local entry stored under
 * an older count is a miss, so the other workers of the same node drop their copies at once.
 * Other nodes learn of a change through Redis pub/sub.
 */
static _Atomic uint64_t process_changes;

/*
 * The keys this process invalidated in the last SL_AUTH_RECENT_MS. Another worker's Redis
 * connection may read a key's record before this worker's invalidation reached Redis, so a
 * lookup of such a key goes to PostgreSQL directly: a change made on a node is seen by every
 * worker of that node at once.
 */
#define SL_AUTH_RECENT_MS 2000
#define SL_AUTH_RECENT_SLOTS 64

static struct {
    char token[SL_AUTH_HASH_HEX_LEN + 1];
    uint64_t at_ms;
} recent[SL_AUTH_RECENT_SLOTS];
static unsigned recent_next;
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;

static void
recent_add(const char *token)
{
    pthread_mutex_lock(&recent_lock);
    memcpy(recent[recent_next].token, token, SL_AUTH_HASH_HEX_LEN + 1);
    recent[recent_next].at_ms = sl_now_ms();
    recent_next = (recent_next + 1) % SL_AUTH_RECENT_SLOTS;
    pthread_mutex_unlock(&recent_lock);
}

/* Returns 1 when this process invalidated `token` within SL_AUTH_RECENT_MS. */
static int
recently_invalidated(const char *token)
{
    uint64_t now = sl_now_ms();
    int found = 0;

    pthread_mutex_lock(&recent_lock);
    for (size_t i = 0; i < SL_AUTH_RECENT_SLOTS && !found; i++)
        found = recent[i].at_ms != 0 && now - recent[i].at_ms < SL_AUTH_RECENT_MS &&
                memcmp(recent[i].token, token, SL_AUTH_HASH_HEX_LEN) == 0;
    pthread_mutex_unlock(&recent_lock);
    return found;
}

/* One lookup waiting on Redis or Postgres. */
struct lookup {
    struct sl_worker *w;
    char token[SL_AUTH_HASH_HEX_LEN + 1];
    sl_auth_lookup_cb cb;
    void *privdata;
    uint64_t epoch;
    uint64_t changes; /* process_changes when the lookup started */
    const char *source; /* "redis" or "postgresql": the last store asked; NULL: none */
    /* The key's change counter in Redis as read with the record, "" when absent. A record
     * read from PostgreSQL is stored in Redis only while the counter is still this. */
    char version[SL_AUTH_VERSION_MAX + 1];
};

/* The eight columns that sl_auth__limits_from_row() reads: six of the budget row aliased `b`,
 * the entity's reconciled `spend` and the start of the budget row's period. */
#define BUDGET_COLUMNS(b, spend)                                                                 \
    " " b ".rpm_limit, " b ".tpm_limit, " b ".max_parallel_requests, " b ".max_budget, " b      \
    ".soft_budget, " b ".budget_duration, COALESCE(" spend ", 0),"                              \
    " COALESCE(floor(extract(epoch FROM " b ".budget_period_start))::bigint, 0)"

/*
 * The key's row with its owners and their budget rows. A membership without a budget row of
 * its own takes the team's member budget (teams.member_budget_id). The per-model limits are
 * read as jsonb text and merged in C (sl_auth__model_limits_from_json).
 */
static const char lookup_sql[] =
    "SELECT k.token, k.key_name, k.key_alias, k.user_id, u.user_role, k.team_id, m.role,"
    " COALESCE(k.organization_id, t.organization_id), k.metadata::text,"
    " COALESCE(floor(extract(epoch FROM k.expires))::bigint, 0), k.blocked,"
    " t.team_id IS NOT NULL, COALESCE(t.blocked, false), u.user_id IS NOT NULL,"
    " o.organization_id IS NOT NULL, to_json(k.models)::text, to_json(t.models)::text,"
    " to_json(u.models)::text, to_json(o.models)::text, to_json(k.allowed_routes)::text,"
    " to_json(k.allowed_cache_controls)::text,"
    BUDGET_COLUMNS("kb", "k.spend") "," BUDGET_COLUMNS("ub", "u.spend") ","
    BUDGET_COLUMNS("tb", "t.spend") "," BUDGET_COLUMNS("mb", "m.spend") ","
    BUDGET_COLUMNS("ob", "o.spend") ","
    " m.team_id IS NOT NULL,"
    " (k.metadata->'model_rpm_limit')::text, (k.metadata->'model_tpm_limit')::text,"
    " (t.metadata->'model_rpm_limit')::text, (t.metadata->'model_tpm_limit')::text,"
    " u.user_email, t.team_alias"
    " FROM keys k"
    " LEFT JOIN users u ON u.user_id = k.user_id"
    " LEFT JOIN teams t ON t.team_id = k.team_id"
    " LEFT JOIN team_memberships m ON m.team_id = k.team_id AND m.user_id = k.user_id"
    " LEFT JOIN organizations o"
    "   ON o.organization_id = COALESCE(k.organization_id, t.organization_id)"
    " LEFT JOIN budgets kb ON kb.budget_id = k.budget_id"
    " LEFT JOIN budgets ub ON ub.budget_id = u.budget_id"
    " LEFT JOIN budgets tb ON tb.budget_id = t.budget_id"
    " LEFT JOIN budgets mb"
    "   ON m.team_id IS NOT NULL AND mb.budget_id = COALESCE(m.budget_id, t.member_budget_id)"
    " LEFT JOIN budgets ob ON ob.budget_id = o.budget_id"
    " WHERE k.token = $1 LIMIT 1";

/* Columns of lookup_sql: where each group starts, and how many there are. */
enum {
    COL_KEY_LIMITS = 21,
    COL_USER_LIMITS = 29,
    COL_TEAM_LIMITS = 37,
    COL_MEMBER_LIMITS = 45,
    COL_ORG_LIMITS = 53,
    COL_HAS_MEMBER = 61,
    COL_KEY_MODEL_RPM = 62,
    COL_KEY_MODEL_TPM = 63,
    COL_TEAM_MODEL_RPM = 64,
    COL_TEAM_MODEL_TPM = 65,
    COL_USER_EMAIL = 66,
    COL_TEAM_ALIAS = 67,
    LOOKUP_COLUMNS = 68,
};

void
sl_auth_hash_key(const char *key, size_t len, char out[SL_AUTH_HASH_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)key, len, digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[SL_AUTH_HASH_HEX_LEN] = '\0';
    OPENSSL_cleanse(digest, sizeof(digest));
}

int
sl_auth__is_hash(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == SL_AUTH_HASH_HEX_LEN;
}

/* ---------------------------------------------------------------- local cache */

static struct sl_auth_slot *
slot_of(struct sl_auth_cache *c, const char *token)
{
    uint32_t h = 0;

    /* The hash is already uniform: its first 8 hex digits pick the slot. */
    for (int i = 0; i < 8; i++)
        h = (h << 4) | (uint32_t)(token[i] <= '9' ? token[i] - '0' : token[i] - 'a' + 10);
    return &c->slots[h % SL_AUTH_LOCAL_SLOTS];
}

/* Returns the slot holding `token` no older than `max_age_ms`, or NULL. */
static struct sl_auth_slot *
cache_find(struct sl_auth_cache *c, const char *token, uint64_t max_age_ms)
{
    struct sl_auth_slot *s = slot_of(c, token);

    if (!s->used || strcmp(s->rec.token, token) != 0)
        return NULL;
    if (sl_now_ms() - s->fetched_ms > max_age_ms || s->changes != atomic_load(&process_changes))
        return NULL;
    return s;
}

/* Stores `rec`, read by a lookup that started when process_changes was `changes`. */
static void
cache_store(struct sl_auth_cache *c, const struct sl_auth_record *rec, uint64_t changes)
{
    struct sl_auth_slot *s = slot_of(c, rec->token);

    if (s->used)
        sl_auth_record_dispose(&s->rec);
    sl_auth_record_copy(&s->rec, rec);
    s->fetched_ms = sl_now_ms();
    s->changes = changes;
    s->missing = 0;
    s->used = 1;
}

/*
 * Remembers for the local TTL that no key has the hash `token`, so that a client repeating
 * an unknown key costs one PostgreSQL query per worker and second. Creating a key
 * invalidates its hash, which drops this entry on every node at once.
 */
static void
cache_store_missing(struct sl_auth_cache *c, const char *token, uint64_t changes)
{
    struct sl_auth_slot *s = slot_of(c, token);

    if (s->used)
        sl_auth_record_dispose(&s->rec);
    memset(&s->rec, 0, sizeof(s->rec));
    memcpy(s->rec.token, token, SL_AUTH_HASH_HEX_LEN + 1);
    s->fetched_ms = sl_now_ms();
    s->changes = changes;
    s->missing = 1;
    s->used = 1;
}

static void
cache_drop(struct sl_auth_cache *c, const char *token)
{
    struct sl_auth_slot *s = slot_of(c, token);

    c->epoch++;
    if (s->used && strcmp(s->rec.token, token) == 0) {
        sl_auth_record_dispose(&s->rec);
        s->used = 0;
    }
}

static void
log_store_error(struct sl_auth_cache *c, const char *event, const char *message)
{
    if (!sl_log_limiter_allow(&c->store_log, sl_now_ms(), SL_AUTH_LOG_INTERVAL_MS))
        return;
    sl_log(SL_LOG_WARN, NULL, event, SL_LOG_STR("message", message),
           SL_LOG_INT("suppressed", (int64_t)c->store_log.suppressed));
}

/* ---------------------------------------------------------------- lookup chain */

static void
finish(struct lookup *l, enum sl_auth_lookup_status status, const struct sl_auth_record *rec)
{
    l->w->auth->last_source = l->source;
    l->cb(status, rec, l->privdata);
    free(l);
}

/* No store responded. A record read recently still serves, so a Postgres outage does not
 * lock out keys that were in use. */
static void
finish_unavailable(struct lookup *l)
{
    struct sl_auth_slot *s = cache_find(l->w->auth, l->token, SL_AUTH_STALE_MAX_MS);

    finish(l, s != NULL ? SL_AUTH_FOUND : SL_AUTH_UNAVAILABLE, s != NULL ? &s->rec : NULL);
}

static void
on_redis_set(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    if (status != SL_OK)
        log_store_error(w->auth, "auth.redis_fill_failed", sl_status_str(status));
    else if (reply->type == REDIS_REPLY_ERROR)
        log_store_error(w->auth, "auth.redis_fill_failed", reply->str);
}

/* Stores `rec`, read by lookup `l` from PostgreSQL, in Redis unless the key changed since
 * the lookup read its change counter (lua-scripts/auth_fill.lua). */
static void
fill_redis(struct lookup *l, const struct sl_auth_record *rec)
{
    struct sl_worker *w = l->w;
    char key[SL_AUTH_REDIS_KEY_MAX];
    char vkey[SL_AUTH_REDIS_KEY_MAX];
    char ttl[24];
    struct sl_buf blob;
    struct sl_redis_str keys[2];
    struct sl_redis_str args[3];

    if (w->redis == NULL || w->auth->fill == NULL ||
        sl_redis_key(key, sizeof(key), w->redis, "auth:%s", rec->token) != SL_OK ||
        sl_redis_key(vkey, sizeof(vkey), w->redis, "authv:%s", rec->token) != SL_OK)
        return;
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(rec, &blob);
    snprintf(ttl, sizeof(ttl), "%d", SL_AUTH_REDIS_TTL_S);
    keys[0] = (struct sl_redis_str){key, strlen(key)};
    keys[1] = (struct sl_redis_str){vkey, strlen(vkey)};
    args[0] = (struct sl_redis_str){blob.data, blob.len};
    args[1] = (struct sl_redis_str){l->version, strlen(l->version)};
    args[2] = (struct sl_redis_str){ttl, strlen(ttl)};
    if (sl_redis_eval(w->redis, w->auth->fill, 2, keys, 3, args, on_redis_set, w) != SL_OK)
        log_store_error(w->auth, "auth.redis_fill_failed", "Redis is not connected");
    sl_buf_dispose(&blob);
}

/* Reads a text[] rendered by to_json(). SQL NULL (no such row) leaves the list empty. */
static int
parse_models(const PGresult *res, int col, struct sl_auth_models *out)
{
    cJSON *arr = NULL;
    struct sl_errbuf err;
    int n;

    if (PQgetisnull(res, 0, col))
        return 0;
    if (sl_json_parse(PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col), 4, &arr,
                      &err) != SL_OK || !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return -1;
    }
    n = cJSON_GetArraySize(arr);
    out->items = n > 0 ? sl_xcalloc((size_t)n, sizeof(char *)) : NULL;
    for (const cJSON *it = arr->child; it != NULL; it = it->next)
        if (cJSON_IsString(it))
            out->items[out->n++] = sl_xstrdup(it->valuestring);
    cJSON_Delete(arr);
    return 0;
}

static char *
text_or_null(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : sl_xstrdup(PQgetvalue(res, 0, col));
}

static int
is_true(const PGresult *res, int col)
{
    return !PQgetisnull(res, 0, col) && PQgetvalue(res, 0, col)[0] == 't';
}

/* Reads a bigint or integer column; SQL NULL is SL_AUTH_LIMIT_UNSET. */
static int
count_or_unset(const PGresult *res, int col, int64_t *out)
{
    const char *text = PQgetvalue(res, 0, col);
    char *end = NULL;
    long long v;

    if (PQgetisnull(res, 0, col)) {
        *out = SL_AUTH_LIMIT_UNSET;
        return 0;
    }
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Reads a double precision column; SQL NULL is NAN. */
static int
money_or_unset(const PGresult *res, int col, double *out)
{
    const char *text = PQgetvalue(res, 0, col);
    char *end = NULL;
    double v;

    if (PQgetisnull(res, 0, col)) {
        *out = NAN;
        return 0;
    }
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
sl_auth__limits_from_row(const PGresult *res, int col, struct sl_auth_limits *out)
{
    sl_auth__limits_unset(out);
    if (col < 0 || col + 8 > PQnfields(res) || PQntuples(res) < 1)
        return -1;
    if (money_or_unset(res, col + 6, &out->spend) != 0 ||
        count_or_unset(res, col + 7, &out->period_start_s) != 0)
        return -1;
    if (isnan(out->spend) || out->spend < 0)
        out->spend = 0;
    if (out->period_start_s < 0)
        out->period_start_s = 0;
    if (count_or_unset(res, col, &out->rpm_limit) != 0 ||
        count_or_unset(res, col + 1, &out->tpm_limit) != 0 ||
        count_or_unset(res, col + 2, &out->max_parallel_requests) != 0 ||
        money_or_unset(res, col + 3, &out->max_budget) != 0 ||
        money_or_unset(res, col + 4, &out->soft_budget) != 0)
        return -1;
    if (PQgetisnull(res, 0, col + 5))
        return 0;
    if ((size_t)PQgetlength(res, 0, col + 5) > SL_AUTH_BUDGET_DURATION_MAX)
        return -1;
    out->budget_duration = sl_xstrdup(PQgetvalue(res, 0, col + 5));
    return 0;
}

/* Returns the entry of `m` for `model`, or NULL. */
static struct sl_auth_model_limit *
find_model_limit(struct sl_auth_model_limits *m, const char *model)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].model, model) == 0)
            return &m->items[i];
    return NULL;
}

/* Returns 1 when `it` is a usable entry of a per-model limit map and stores its value. */
static int
model_limit_value(const cJSON *it, int64_t *value)
{
    size_t name_len;

    if (it->string == NULL || !cJSON_IsNumber(it))
        return 0;
    name_len = strlen(it->string);
    if (name_len == 0 || name_len > SL_AUTH_MODEL_NAME_MAX)
        return 0;
    /* A whole number representable in int64_t: 2^63 itself is not. */
    if (!(it->valuedouble >= 0.0) || it->valuedouble >= 9223372036854775808.0 ||
        floor(it->valuedouble) != it->valuedouble)
        return 0;
    *value = (int64_t)it->valuedouble;
    return 1;
}

/*
 * Adds the valid entries of one map to `out` (rpm when `is_tpm` is 0, else tpm), at most
 * SL_AUTH_MODEL_LIMITS_PER_MAP of them. `out->items` has room for the entries already there
 * plus that many. Returns 0, or -1 when the text is not a JSON object within the size cap.
 */
static int
merge_model_map(const char *json, size_t len, int is_tpm, struct sl_auth_model_limits *out)
{
    cJSON *map = NULL;
    size_t accepted = 0;

    if (json == NULL)
        return 0;
    if (len > SL_AUTH_MODEL_LIMITS_JSON_MAX ||
        sl_json_parse(json, len, SL_JSON_MAX_DEPTH, &map, NULL) != SL_OK ||
        !cJSON_IsObject(map)) {
        cJSON_Delete(map);
        return -1;
    }
    for (const cJSON *it = map->child; it != NULL && accepted < SL_AUTH_MODEL_LIMITS_PER_MAP;
         it = it->next) {
        struct sl_auth_model_limit *e;
        int64_t value;

        if (!model_limit_value(it, &value))
            continue;
        e = find_model_limit(out, it->string);
        if (e != NULL && (is_tpm ? e->tpm_limit : e->rpm_limit) != SL_AUTH_LIMIT_UNSET)
            continue; /* a name repeated inside this map: the first one counts */
        if (e == NULL) {
            e = &out->items[out->n++];
            e->model = sl_xstrdup(it->string);
            e->rpm_limit = SL_AUTH_LIMIT_UNSET;
            e->tpm_limit = SL_AUTH_LIMIT_UNSET;
        }
        if (is_tpm)
            e->tpm_limit = value;
        else
            e->rpm_limit = value;
        accepted++;
    }
    cJSON_Delete(map);
    return 0;
}

int
sl_auth__model_limits_from_json(const char *rpm_json, size_t rpm_len, const char *tpm_json,
                                size_t tpm_len, struct sl_auth_model_limits *out)
{
    int rc = 0;

    sl_auth__model_limits_dispose(out);
    out->items = sl_xcalloc(SL_AUTH_MODEL_LIMITS_MAX, sizeof(*out->items));
    if (merge_model_map(rpm_json, rpm_len, 0, out) != 0)
        rc = -1;
    if (merge_model_map(tpm_json, tpm_len, 1, out) != 0)
        rc = -1;

    /* Records stay in every worker's cache, so keep only the room in use. */
    if (out->n == 0) {
        free(out->items);
        out->items = NULL;
    } else {
        out->items = sl_xrealloc(out->items, out->n * sizeof(*out->items));
    }
    return rc;
}

/* Reads the two per-model maps of columns `col` and `col + 1`. */
static int
model_limits_from_row(const PGresult *res, int col, struct sl_auth_model_limits *out)
{
    const char *rpm = PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
    const char *tpm = PQgetisnull(res, 0, col + 1) ? NULL : PQgetvalue(res, 0, col + 1);

    return sl_auth__model_limits_from_json(rpm, (size_t)PQgetlength(res, 0, col), tpm,
                                           (size_t)PQgetlength(res, 0, col + 1), out);
}

/*
 * Fills `rec` from the one row of lookup_sql. Returns 0, or -1 for a malformed row. Sets
 * `*maps_ignored` when a per-model limit map was not a JSON object within its size cap.
 */
static int
record_from_row(const PGresult *res, struct sl_auth_record *rec, int *maps_ignored)
{
    const char *token = PQgetvalue(res, 0, 0);
    char *end = NULL;

    sl_auth__record_clear(rec);
    *maps_ignored = 0;
    if (PQnfields(res) != LOOKUP_COLUMNS || !sl_auth__is_hash(token))
        return -1;
    memcpy(rec->token, token, SL_AUTH_HASH_HEX_LEN + 1);
    rec->key_name = text_or_null(res, 1);
    rec->key_alias = text_or_null(res, 2);
    rec->user_email = text_or_null(res, COL_USER_EMAIL);
    rec->team_alias = text_or_null(res, COL_TEAM_ALIAS);
    rec->user_id = text_or_null(res, 3);
    rec->user_role = text_or_null(res, 4);
    rec->team_id = text_or_null(res, 5);
    rec->team_member_role = text_or_null(res, 6);
    rec->org_id = text_or_null(res, 7);
    rec->metadata = text_or_null(res, 8);
    errno = 0;
    rec->expires = strtoll(PQgetvalue(res, 0, 9), &end, 10);
    if (errno != 0 || end == NULL || *end != '\0')
        return -1;
    rec->blocked = is_true(res, 10);
    rec->has_team = is_true(res, 11);
    rec->team_blocked = is_true(res, 12);
    rec->has_user = is_true(res, 13);
    rec->has_org = is_true(res, 14);
    rec->has_member = is_true(res, COL_HAS_MEMBER);
    if (parse_models(res, 15, &rec->models) != 0 ||
        parse_models(res, 16, &rec->team_models) != 0 ||
        parse_models(res, 17, &rec->user_models) != 0 ||
        parse_models(res, 18, &rec->org_models) != 0 ||
        parse_models(res, 19, &rec->allowed_routes) != 0 ||
        parse_models(res, 20, &rec->allowed_cache_controls) != 0)
        return -1;
    if (sl_auth__limits_from_row(res, COL_KEY_LIMITS, &rec->key_limits) != 0 ||
        sl_auth__limits_from_row(res, COL_USER_LIMITS, &rec->user_limits) != 0 ||
        sl_auth__limits_from_row(res, COL_TEAM_LIMITS, &rec->team_limits) != 0 ||
        sl_auth__limits_from_row(res, COL_MEMBER_LIMITS, &rec->member_limits) != 0 ||
        sl_auth__limits_from_row(res, COL_ORG_LIMITS, &rec->org_limits) != 0)
        return -1;
    if (model_limits_from_row(res, COL_KEY_MODEL_RPM, &rec->key_model_limits) != 0)
        *maps_ignored = 1;
    if (model_limits_from_row(res, COL_TEAM_MODEL_RPM, &rec->team_model_limits) != 0)
        *maps_ignored = 1;
    return 0;
}

static void
on_pg_result(enum sl_status st, const PGresult *res, const char *error, void *privdata)
{
    struct lookup *l = privdata;
    struct sl_worker *w = l->w;
    struct sl_auth_record rec;
    int maps_ignored = 0;

    if (st != SL_OK) {
        log_store_error(w->auth, "auth.database_failed", error != NULL ? error : "unknown");
        finish_unavailable(l);
        return;
    }
    if (PQntuples(res) == 0) {
        if (w->auth->epoch == l->epoch)
            cache_store_missing(w->auth, l->token, l->changes);
        finish(l, SL_AUTH_NOT_FOUND, NULL);
        return;
    }
    if (record_from_row(res, &rec, &maps_ignored) != 0) {
        sl_auth_record_dispose(&rec);
        log_store_error(w->auth, "auth.database_failed", "the key row could not be read");
        finish_unavailable(l);
        return;
    }
    if (maps_ignored)
        log_store_error(w->auth, "auth.model_limits_ignored",
                        "a model_rpm_limit or model_tpm_limit in metadata is not a JSON object "
                        "of at most 1 MiB");
    if (w->auth->epoch == l->epoch) {
        cache_store(w->auth, &rec, l->changes);
        fill_redis(l, &rec);
    }
    finish(l, SL_AUTH_FOUND, &rec);
    sl_auth_record_dispose(&rec);
}

static void
query_database(struct lookup *l)
{
    const char *params[1] = {l->token};

    l->source = "postgresql";
    if (l->w->pg == NULL ||
        sl_pg_query(l->w->pg, lookup_sql, 1, params, on_pg_result, l) != SL_OK)
        finish_unavailable(l);
}

static void
on_redis_get(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct lookup *l = privdata;
    struct sl_worker *w = l->w;
    const redisReply *record;
    const redisReply *version;
    struct sl_auth_record rec;

    (void)r;
    if (status != SL_OK || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (status != SL_OK || reply->type == REDIS_REPLY_ERROR)
            log_store_error(w->auth, "auth.redis_failed",
                            status != SL_OK ? sl_status_str(status) : reply->str);
        query_database(l);
        return;
    }
    record = reply->element[0];
    version = reply->element[1];
    if (version->type == REDIS_REPLY_STRING && version->len <= SL_AUTH_VERSION_MAX) {
        memcpy(l->version, version->str, version->len);
        l->version[version->len] = '\0';
    }
    if (record->type != REDIS_REPLY_STRING) {
        query_database(l);
        return;
    }
    if (sl_auth_record_decode(record->str, record->len, &rec) != SL_OK ||
        strcmp(rec.token, l->token) != 0) {
        sl_auth_record_dispose(&rec);
        log_store_error(w->auth, "auth.redis_record_invalid",
                        "not an auth record of the current layout");
        query_database(l);
        return;
    }
    if (w->auth->epoch == l->epoch)
        cache_store(w->auth, &rec, l->changes);
    finish(l, SL_AUTH_FOUND, &rec);
    sl_auth_record_dispose(&rec);
}

void
sl_auth_lookup(struct sl_worker *w, const char *key, size_t len, sl_auth_lookup_cb cb,
               void *privdata)
{
    struct lookup *l = sl_xcalloc(1, sizeof(*l));
    struct sl_auth_slot *s;
    char rkey[SL_AUTH_REDIS_KEY_MAX];
    char vkey[SL_AUTH_REDIS_KEY_MAX];
    const char *argv[3];
    size_t lens[3];

    l->w = w;
    l->cb = cb;
    l->privdata = privdata;
    l->epoch = w->auth->epoch;
    l->changes = atomic_load(&process_changes);
    sl_auth_hash_key(key, len, l->token);

    s = cache_find(w->auth, l->token, SL_AUTH_LOCAL_TTL_MS);
    if (s != NULL) {
        finish(l, s->missing ? SL_AUTH_NOT_FOUND : SL_AUTH_FOUND, s->missing ? NULL : &s->rec);
        return;
    }
    if (w->redis == NULL || recently_invalidated(l->token) ||
        sl_redis_key(rkey, sizeof(rkey), w->redis, "auth:%s", l->token) != SL_OK ||
        sl_redis_key(vkey, sizeof(vkey), w->redis, "authv:%s", l->token) != SL_OK) {
        query_database(l);
        return;
    }
    /* The record and the key's change counter, read together. */
    l->source = "redis";
    argv[0] = "MGET";
    argv[1] = rkey;
    argv[2] = vkey;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    if (sl_redis_command_argv(w->redis, 3, argv, lens, on_redis_get, l) != SL_OK)
        query_database(l);
}

const char *
sl_auth_lookup_source(const struct sl_worker *w)
{
    return w->auth != NULL ? w->auth->last_source : NULL;
}

/* ---------------------------------------------------------------- invalidation */

static void
on_invalidate_reply(struct sl_redis *r, enum sl_status status, const redisReply *reply,
                    void *privdata)
{
    struct sl_worker *w = privdata;

    (void)r;
    if (status != SL_OK)
        log_store_error(w->auth, "auth.invalidate_failed", sl_status_str(status));
    else if (reply->type == REDIS_REPLY_ERROR)
        log_store_error(w->auth, "auth.invalidate_failed", reply->str);
}

static void
send_command(struct sl_worker *w, const char *a0, const char *a1, const char *a2)
{
    const char *argv[3] = {a0, a1, a2};
    size_t lens[3];
    int argc = a2 != NULL ? 3 : 2;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (sl_redis_command_argv(w->redis, argc, argv, lens, on_invalidate_reply, w) != SL_OK)
        log_store_error(w->auth, "auth.invalidate_failed", "Redis is not connected");
}

enum sl_status
sl_auth_invalidate(struct sl_worker *w, const char *token_hash)
{
    char key[SL_AUTH_REDIS_KEY_MAX];
    char vkey[SL_AUTH_REDIS_KEY_MAX];
    char channel[SL_AUTH_REDIS_KEY_MAX];
    char ttl[24];
    struct sl_redis_str keys[2];
    struct sl_redis_str args[1];

    if (token_hash == NULL || !sl_auth__is_hash(token_hash))
        return SL_ERR_INVALID;
    cache_drop(w->auth, token_hash);
    recent_add(token_hash);
    atomic_fetch_add(&process_changes, 1);
    if (w->redis == NULL)
        return SL_OK;
    if (sl_redis_key(key, sizeof(key), w->redis, "auth:%s", token_hash) != SL_OK ||
        sl_redis_key(channel, sizeof(channel), w->redis, "auth:invalidate") != SL_OK)
        return SL_ERR_TOO_LARGE;
    if (sl_redis_key(vkey, sizeof(vkey), w->redis, "authv:%s", token_hash) != SL_OK)
        return SL_ERR_TOO_LARGE;
    snprintf(ttl, sizeof(ttl), "%d", SL_AUTH_VERSION_TTL_S);
    keys[0] = (struct sl_redis_str){key, strlen(key)};
    keys[1] = (struct sl_redis_str){vkey, strlen(vkey)};
    args[0] = (struct sl_redis_str){ttl, strlen(ttl)};
    if (w->auth->invalidate == NULL ||
        sl_redis_eval(w->redis, w->auth->invalidate, 2, keys, 1, args, on_invalidate_reply, w) !=
            SL_OK)
        send_command(w, "DEL", key, NULL);
    send_command(w, "PUBLISH", channel, token_hash);
    return SL_OK;
}

static void
on_invalidate_message(struct sl_redis *r, const char *channel, const char *payload,
                      size_t payload_len, void *privdata)
{
    struct sl_worker *w = privdata;
    char token[SL_AUTH_HASH_HEX_LEN + 1];

    (void)r;
    (void)channel;
    if (payload_len != SL_AUTH_HASH_HEX_LEN)
        return;
    memcpy(token, payload, SL_AUTH_HASH_HEX_LEN);
    token[SL_AUTH_HASH_HEX_LEN] = '\0';
    if (sl_auth__is_hash(token))
        cache_drop(w->auth, token);
}

/* Loads the embedded script `name`; NULL (logged) when the build lacks it. */
static struct sl_redis_script *
load_script(const char *name)
{
    const struct sl_lua_script *src = sl_lua_script_find(name);

    if (src == NULL) {
        sl_log(SL_LOG_ERROR, NULL, "auth.script_missing", SL_LOG_STR("script", name));
        return NULL;
    }
    return sl_redis_script_load(src->name, src->source, src->len);
}

void
sl_auth_worker_init(struct sl_worker *w)
{
    char channel[SL_AUTH_REDIS_KEY_MAX];

    w->auth = sl_xcalloc(1, sizeof(*w->auth));
    w->auth->slots = sl_xcalloc(SL_AUTH_LOCAL_SLOTS, sizeof(struct sl_auth_slot));
    if (w->redis == NULL)
        return;
    w->auth->fill = load_script("auth_fill");
    w->auth->invalidate = load_script("auth_invalidate");
    if (sl_redis_key(channel, sizeof(channel), w->redis, "auth:invalidate") != SL_OK ||
        sl_redis_subscribe(w->redis, channel, on_invalidate_message, w) != SL_OK)
        sl_log(SL_LOG_ERROR, NULL, "auth.subscribe_failed", SL_LOG_INT("worker", w->index));
}

void
sl_auth_worker_dispose(struct sl_worker *w)
{
    if (w->auth == NULL)
        return;
    for (size_t i = 0; i < SL_AUTH_LOCAL_SLOTS; i++)
        if (w->auth->slots[i].used)
            sl_auth_record_dispose(&w->auth->slots[i].rec);
    free(w->auth->slots);
    if (w->auth->fill != NULL)
        sl_redis_script_destroy(w->auth->fill);
    if (w->auth->invalidate != NULL)
        sl_redis_script_destroy(w->auth->invalidate);
    free(w->auth);
    w->auth = NULL;
}
