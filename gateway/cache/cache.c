/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache -- cache controls, canonical cache keys, stream assembly and replay, and the stored
 * entry format of the response cache. See cache.h for the contracts.
 *
 * The key hashes a canonical JSON text: object members sorted by name in byte order at every
 * depth, arrays in their order, strings JSON-escaped, and numbers printed from their double
 * value, so 1, 1.0 and 1e0 give the same key. The text is hashed in pieces as it is written,
 * so a large request body is never copied whole.
 */
#include "gateway/cache/cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/sse.h"
#include "common/xalloc.h"

/* Version of the canonical text; changing the key format changes this, so old entries are
 * never read with a new meaning. */
#define KEY_FORMAT_VERSION 1

/* Bytes of canonical text collected before they are handed to the hash. */
#define CANON_FLUSH_BYTES 8192

/* Largest cache.ttl and cache["s-maxage"] accepted, in seconds (ten years). */
#define CONTROL_MAX_SECONDS 315360000L

/* Nesting accepted in a stored entry: a provider response's cap plus the entry's wrapper. */
#define ENTRY_MAX_DEPTH (SL_JSON_MAX_DEPTH * 4 + 1)

/*
 * Top-level request members left out of the key because they do not change the response.
 * They are delivery options (stream), the caller's identity (user, metadata), the cache
 * controls and LiteLLM's routing, retry, mocking and logging parameters. The model and the
 * caller's tenant are hashed separately, as the model group and the tenant.
 */
static const char *const ignored_members[] = {
    "stream",
    "stream_options",
    "cache",
    "caching",
    "metadata",
    "user",
    "model",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "max_retries",
    "timeout",
    "request_timeout",
    "mock_response",
    "mock_testing_fallbacks",
    "tags",
    "litellm_logging_obj",
    "litellm_call_id",
    "litellm_trace_id",
    "litellm_session_id",
    "litellm_metadata",
};

/* ---------------------------------------------------------------------------------------- */
/* Cache controls                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void
controls_reset(struct sl_cache_controls *c)
{
    c->no_cache = 0;
    c->no_store = 0;
    c->ttl_s = -1;
    c->s_maxage_s = -1;
    c->namespace = NULL;
    c->use_cache = 0;
    c->caching_off = 0;
}

void
sl_cache_controls_dispose(struct sl_cache_controls *c)
{
    free(c->namespace);
    controls_reset(c);
}

static enum sl_status
invalid_control(const char *path, const char **param, struct sl_errbuf *err, const char *expected)
{
    *param = path;
    sl_errbuf_set(err, "invalid %s: expected %s", path, expected);
    return SL_ERR_INVALID;
}

/* Reads cache[name] as whole seconds from `min` to CONTROL_MAX_SECONDS; absent or null leaves
 * `*out` as it is. */
static enum sl_status
read_seconds(const cJSON *cache, const char *name, const char *path, long min, long *out,
             const char **param, struct sl_errbuf *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cache, name);
    double d;

    if (v == NULL || cJSON_IsNull(v))
        return SL_OK;
    d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)min && d <= (double)CONTROL_MAX_SECONDS) || d != floor(d))
        return invalid_control(path, param, err,
                               min > 0 ? "a whole number of seconds from 1 to 315360000"
                                       : "a whole number of seconds from 0 to 315360000");
    *out = (long)d;
    return SL_OK;
}

/* Reads cache[name] as a boolean into `*out` (0 or 1); absent or null leaves it as it is. */
static enum sl_status
read_flag(const cJSON *cache, const char *name, const char *path, int *out, const char **param,
          struct sl_errbuf *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cache, name);

    if (v == NULL || cJSON_IsNull(v))
        return SL_OK;
    if (!cJSON_IsBool(v))
        return invalid_control(path, param, err, "true or false");
    *out = cJSON_IsTrue(v);
    return SL_OK;
}

/* The namespace goes into a Redis key and the x-litellm-cache-key response header, so it is
 * capped and may not contain control characters (CR and LF would split the header). */
static enum sl_status
read_namespace(const cJSON *cache, struct sl_cache_controls *out, const char **param,
               struct sl_errbuf *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cache, "namespace");
    size_t len;

    if (v == NULL || cJSON_IsNull(v))
        return SL_OK;
    if (!cJSON_IsString(v))
        return invalid_control("cache.namespace", param, err, "a string");
    len = strlen(v->valuestring);
    if (len > SL_CACHE_NAMESPACE_MAX)
        return invalid_control("cache.namespace", param, err,
                               "at most 256 bytes");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v->valuestring[i];

        if (ch < 0x20 || ch == 0x7f)
            return invalid_control("cache.namespace", param, err,
                                   "a string without control characters");
    }
    out->namespace = sl_xstrdup(v->valuestring);
    return SL_OK;
}

enum sl_status
sl_cache_controls_parse(const cJSON *body, struct sl_cache_controls *out, const char **param,
                        struct sl_errbuf *err)
{
    const cJSON *caching = cJSON_GetObjectItemCaseSensitive(body, "caching");
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(body, "cache");
    enum sl_status rc;

    controls_reset(out);
    *param = NULL;

    if (caching != NULL && !cJSON_IsNull(caching)) {
        if (!cJSON_IsBool(caching))
            return invalid_control("caching", param, err, "true or false");
        out->caching_off = cJSON_IsFalse(caching);
    }

    if (cache == NULL || cJSON_IsNull(cache))
        return SL_OK;
    if (!cJSON_IsObject(cache))
        return invalid_control("cache", param, err, "an object, e.g. {\"no-cache\": true}");

    rc = read_seconds(cache, "ttl", "cache.ttl", 1, &out->ttl_s, param, err);
    if (rc == SL_OK)
        rc = read_seconds(cache, "s-max-age", "cache.s-max-age", 0, &out->s_maxage_s, param,
                          err);
    /* Both spellings are accepted; s-maxage, the HTTP one, wins when both are given. */
    if (rc == SL_OK)
        rc = read_seconds(cache, "s-maxage", "cache.s-maxage", 0, &out->s_maxage_s, param,
                          err);
    if (rc == SL_OK)
        rc = read_flag(cache, "no-cache", "cache.no-cache", &out->no_cache, param, err);
    if (rc == SL_OK)
        rc = read_flag(cache, "no-store", "cache.no-store", &out->no_store, param, err);
    if (rc == SL_OK)
        rc = read_flag(cache, "use-cache", "cache.use-cache", &out->use_cache, param, err);
    if (rc == SL_OK)
        rc = read_namespace(cache, out, param, err);
    return rc;
}

const char *
sl_cache_controls_forbidden(const struct sl_cache_controls *c, const cJSON *body,
                            const char *const *allowed, size_t n)
{
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(body, "cache");
    const cJSON *member;

    (void)c;
    if (n == 0 || !cJSON_IsObject(cache))
        return NULL;
    cJSON_ArrayForEach(member, cache) {
        size_t i;

        for (i = 0; i < n; i++) {
            if (allowed[i] != NULL && strcmp(allowed[i], member->string) == 0)
                break;
        }
        if (i == n)
            return member->string;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Canonical JSON and keys                                                                  */
/* ---------------------------------------------------------------------------------------- */

struct canon {
    EVP_MD_CTX *md;
    struct sl_buf text; /* canonical text not hashed yet */
};

static void
canon_flush(struct canon *c)
{
    if (c->text.len > 0 && EVP_DigestUpdate(c->md, c->text.data, c->text.len) != 1)
        abort(); /* SHA-256 over memory fails only when OpenSSL itself is broken */
    sl_buf_reset(&c->text);
}

static void
canon_maybe_flush(struct canon *c)
{
    if (c->text.len >= CANON_FLUSH_BYTES)
        canon_flush(c);
}

static void
canon_str(struct canon *c, const char *s)
{
    (void)sl_buf_append_str(&c->text, s); /* an uncapped buffer fails only by aborting */
    canon_maybe_flush(c);
}

static void
canon_quoted(struct canon *c, const char *s)
{
    (void)sl_json_append_string(&c->text, s, strlen(s));
    canon_maybe_flush(c);
}

/*
 * Integers up to 2^53 are printed without a fraction or exponent, other values with 17
 * significant digits, which keeps every two doubles distinct; -0 is printed as 0. So equal
 * doubles always give the same text.
 */
static void
canon_number(struct canon *c, double v)
{
    char text[40];

    if (v == 0)
        v = 0; /* drops the sign of -0 */
    if (isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0)
        snprintf(text, sizeof(text), "%.0f", v);
    else
        snprintf(text, sizeof(text), "%.17g", v);
    canon_str(c, text);
}

struct member_ref {
    const cJSON *item;
    size_t position; /* order in the source object, so equal names keep their order */
};

static int
compare_members(const void *pa, const void *pb)
{
    const struct member_ref *a = pa;
    const struct member_ref *b = pb;
    int by_name = strcmp(a->item->string, b->item->string);

    if (by_name != 0)
        return by_name;
    return a->position < b->position ? -1 : a->position > b->position;
}

static int
is_ignored_member(const char *name)
{
    for (size_t i = 0; i < sizeof(ignored_members) / sizeof(ignored_members[0]); i++) {
        if (strcmp(name, ignored_members[i]) == 0)
            return 1;
    }
    return 0;
}

static void canon_value(struct canon *c, const cJSON *v);

/*
 * Writes the members of object `obj` sorted by name. At the top level of a request
 * (`top_level` set) the ignored members are left out and "input" is written as `input`
 * when that is not NULL.
 */
static void
canon_object(struct canon *c, const cJSON *obj, int top_level, const cJSON *input)
{
    struct member_ref *members;
    size_t n = 0;
    size_t used = 0;
    const cJSON *m;

    cJSON_ArrayForEach(m, obj) n++;
    members = sl_xmalloc((n > 0 ? n : 1) * sizeof(*members));
    cJSON_ArrayForEach(m, obj) {
        if (m->string == NULL || (top_level && is_ignored_member(m->string)))
            continue;
        members[used].item = m;
        members[used].position = used;
        used++;
    }
    qsort(members, used, sizeof(*members), compare_members);

    canon_str(c, "{");
    for (size_t i = 0; i < used; i++) {
        const cJSON *value = members[i].item;

        if (i > 0)
            canon_str(c, ",");
        canon_quoted(c, value->string);
        canon_str(c, ":");
        if (top_level && input != NULL && strcmp(value->string, "input") == 0)
            value = input;
        canon_value(c, value);
    }
    canon_str(c, "}");
    free(members);
}

/* Recursion is bounded by the nesting cap the request body was parsed with. */
static void
canon_value(struct canon *c, const cJSON *v)
{
    const cJSON *item;
    int first = 1;

    if (cJSON_IsObject(v)) {
        canon_object(c, v, 0, NULL);
    } else if (cJSON_IsArray(v)) {
        canon_str(c, "[");
        cJSON_ArrayForEach(item, v) {
            if (!first)
                canon_str(c, ",");
            first = 0;
            canon_value(c, item);
        }
        canon_str(c, "]");
    } else if (cJSON_IsString(v)) {
        canon_quoted(c, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        canon_number(c, v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        canon_str(c, "true");
    } else if (cJSON_IsFalse(v)) {
        canon_str(c, "false");
    } else {
        canon_str(c, "null");
    }
}

/*
 * Hashes {"body":...,"kind":...,"model":...,"tenant":...,"v":N} in canonical form and writes
 * the key. NOTE: cJSON keeps numbers as doubles, so two integers above 2^53 that round to the
 * same double (e.g. two huge seeds) give the same key.
 */
static void
make_key(const cJSON *body, const cJSON *input, const char *kind, const char *model_group,
         const char *tenant, const char *namespace, char out[SL_CACHE_KEY_MAX])
{
    static const char hex[] = "0123456789abcdef";
    struct canon c;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    size_t ns_len = namespace != NULL ? strnlen(namespace, SL_CACHE_NAMESPACE_MAX) : 0;
    char version[16];
    size_t o = 0;

    c.md = EVP_MD_CTX_new();
    if (c.md == NULL || EVP_DigestInit_ex(c.md, EVP_sha256(), NULL) != 1)
        abort(); /* out of memory inside OpenSSL */
    sl_buf_init(&c.text, 0);

    canon_str(&c, "{\"body\":");
    if (cJSON_IsObject(body))
        canon_object(&c, body, 1, input);
    else
        canon_value(&c, body);
    canon_str(&c, ",\"kind\":");
    canon_quoted(&c, kind != NULL ? kind : "");
    canon_str(&c, ",\"model\":");
    canon_quoted(&c, model_group != NULL ? model_group : "");
    canon_str(&c, ",\"tenant\":");
    if (tenant != NULL)
        canon_quoted(&c, tenant);
    else
        canon_str(&c, "null");
    snprintf(version, sizeof(version), ",\"v\":%d}", KEY_FORMAT_VERSION);
    canon_str(&c, version);
    canon_flush(&c);

    if (EVP_DigestFinal_ex(c.md, digest, &digest_len) != 1 || digest_len != 32)
        abort();
    EVP_MD_CTX_free(c.md);
    sl_buf_dispose(&c.text);

    if (ns_len > 0) {
        memcpy(out, namespace, ns_len);
        o = ns_len;
        out[o++] = ':';
    }
    for (unsigned int i = 0; i < digest_len; i++) {
        out[o++] = hex[digest[i] >> 4];
        out[o++] = hex[digest[i] & 0xf];
    }
    out[o] = '\0';
}

void
sl_cache_key(const cJSON *body, const char *kind, const char *model_group, const char *tenant,
             const char *namespace, char out[SL_CACHE_KEY_MAX])
{
    make_key(body, NULL, kind, model_group, tenant, namespace, out);
}

void
sl_cache_embedding_input_key(const cJSON *body, const cJSON *input_item,
                             const char *model_group, const char *tenant,
                             const char *namespace, char out[SL_CACHE_KEY_MAX])
{
    static const cJSON null_input = {.type = cJSON_NULL};

    make_key(body, input_item != NULL ? input_item : &null_input, "embedding_input",
             model_group, tenant, namespace, out);
}

/* ---------------------------------------------------------------------------------------- */
/* Stored entries                                                                           */
/* ---------------------------------------------------------------------------------------- */

char *
sl_cache_entry_encode(const cJSON *response, int64_t now)
{
    struct sl_buf b;
    char *printed = sl_json_print(response);

    sl_buf_init(&b, 0);
    (void)sl_buf_printf(&b, "{\"timestamp\":%lld,\"response\":%s}", (long long)now, printed);
    free(printed);
    return sl_buf_take(&b, NULL);
}

cJSON *
sl_cache_entry_decode(const char *text, size_t len, int64_t *timestamp)
{
    cJSON *root = NULL;
    cJSON *response = NULL;
    const cJSON *ts;
    double when;

    if (text == NULL || len > SL_CACHE_ENTRY_MAX_BYTES || !sl_utf8_valid(text, len))
        return NULL;
    if (sl_json_parse(text, len, ENTRY_MAX_DEPTH, &root, NULL) != SL_OK)
        return NULL;
    if (!cJSON_IsObject(root) || sl_json_has_duplicate_key(root))
        goto out;

    ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
    when = cJSON_IsNumber(ts) ? ts->valuedouble : NAN;
    /* Whole seconds below 2^53, where a double represents every integer exactly. */
    if (!(when >= 0 && when <= 9007199254740992.0) || when != floor(when))
        goto out;
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "response")))
        goto out;

    response = cJSON_DetachItemFromObjectCaseSensitive(root, "response");
    *timestamp = (int64_t)when;

out:
    cJSON_Delete(root);
    return response;
}

/* ---------------------------------------------------------------------------------------- */
/* Refresh                                                                                  */
/* ---------------------------------------------------------------------------------------- */

void
sl_cache_refresh(cJSON *response, const char *prefix)
{
    static const char hex[] = "0123456789abcdef";
    const char *old_id = sl_json_get_string(response, "id");
    unsigned char random[16];
    struct sl_buf id;

    if (cJSON_GetObjectItemCaseSensitive(response, "created") != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(
            response, "created", cJSON_CreateNumber((double)(sl_wall_ms() / 1000)));

    /* NOTE: when the system's random source fails, the stored id is kept. */
    if (cJSON_GetObjectItemCaseSensitive(response, "id") == NULL ||
        RAND_bytes(random, sizeof(random)) != 1)
        return;

    sl_buf_init(&id, 0);
    if (prefix != NULL) {
        (void)sl_buf_append_str(&id, prefix);
    } else if (old_id != NULL && strchr(old_id, '-') != NULL) {
        (void)sl_buf_append(&id, old_id, (size_t)(strchr(old_id, '-') - old_id) + 1);
    }
    for (size_t i = 0; i < sizeof(random); i++) {
        char pair[2] = {hex[random[i] >> 4], hex[random[i] & 0xf]};

        (void)sl_buf_append(&id, pair, sizeof(pair));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(response, "id", cJSON_CreateString(id.data));
    sl_buf_dispose(&id);
}
