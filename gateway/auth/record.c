/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record -- the memory of a virtual key's record (struct sl_auth_record, keys.h) and its
 * msgpack form stored in Redis under <prefix>auth:<hash>. The decoder reads bytes that any
 * Redis client could have written, so it checks every type and caps every count and string
 * length before allocating. A missing field decodes as unset.
 */
#include "gateway/auth/keys.h"
#include "gateway/auth/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/msgpack_check.h"
#include "common/xalloc.h"

/* ---------------------------------------------------------------- records */

static void
models_dispose(struct sl_auth_models *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->items[i]);
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

static void
models_copy(struct sl_auth_models *dst, const struct sl_auth_models *src)
{
    dst->n = src->n;
    dst->items = src->n > 0 ? sl_xcalloc(src->n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < src->n; i++)
        dst->items[i] = sl_xstrdup(src->items[i]);
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? sl_xstrdup(s) : NULL;
}

void
sl_auth__limits_unset(struct sl_auth_limits *l)
{
    l->rpm_limit = SL_AUTH_LIMIT_UNSET;
    l->tpm_limit = SL_AUTH_LIMIT_UNSET;
    l->max_parallel_requests = SL_AUTH_LIMIT_UNSET;
    l->max_budget = NAN;
    l->soft_budget = NAN;
    l->budget_duration = NULL;
    l->spend = 0;
    l->period_start_s = 0;
}

void
sl_auth__record_clear(struct sl_auth_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    sl_auth__limits_unset(&rec->key_limits);
    sl_auth__limits_unset(&rec->user_limits);
    sl_auth__limits_unset(&rec->team_limits);
    sl_auth__limits_unset(&rec->member_limits);
    sl_auth__limits_unset(&rec->org_limits);
}

void
sl_auth__limits_dispose(struct sl_auth_limits *l)
{
    free(l->budget_duration);
    sl_auth__limits_unset(l);
}

void
sl_auth__limits_copy(struct sl_auth_limits *dst, const struct sl_auth_limits *src)
{
    *dst = *src;
    dst->budget_duration = dup_or_null(src->budget_duration);
}

void
sl_auth__model_limits_dispose(struct sl_auth_model_limits *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->items[i].model);
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

static void
model_limits_copy(struct sl_auth_model_limits *dst, const struct sl_auth_model_limits *src)
{
    dst->n = src->n;
    dst->items = src->n > 0 ? sl_xcalloc(src->n, sizeof(*dst->items)) : NULL;
    for (size_t i = 0; i < src->n; i++) {
        dst->items[i] = src->items[i];
        dst->items[i].model = sl_xstrdup(src->items[i].model);
    }
}

void
sl_auth_record_dispose(struct sl_auth_record *rec)
{
    free(rec->key_name);
    free(rec->key_alias);
    free(rec->user_email);
    free(rec->team_alias);
    free(rec->user_id);
    free(rec->user_role);
    free(rec->team_id);
    free(rec->team_member_role);
    free(rec->org_id);
    free(rec->metadata);
    models_dispose(&rec->models);
    models_dispose(&rec->team_models);
    models_dispose(&rec->user_models);
    models_dispose(&rec->org_models);
    models_dispose(&rec->allowed_routes);
    models_dispose(&rec->allowed_cache_controls);
    sl_auth__limits_dispose(&rec->key_limits);
    sl_auth__limits_dispose(&rec->user_limits);
    sl_auth__limits_dispose(&rec->team_limits);
    sl_auth__limits_dispose(&rec->member_limits);
    sl_auth__limits_dispose(&rec->org_limits);
    sl_auth__model_limits_dispose(&rec->key_model_limits);
    sl_auth__model_limits_dispose(&rec->team_model_limits);
    memset(rec, 0, sizeof(*rec));
}

void
sl_auth_record_copy(struct sl_auth_record *dst, const struct sl_auth_record *src)
{
    *dst = *src;
    dst->key_name = dup_or_null(src->key_name);
    dst->key_alias = dup_or_null(src->key_alias);
    dst->user_email = dup_or_null(src->user_email);
    dst->team_alias = dup_or_null(src->team_alias);
    dst->user_id = dup_or_null(src->user_id);
    dst->user_role = dup_or_null(src->user_role);
    dst->team_id = dup_or_null(src->team_id);
    dst->team_member_role = dup_or_null(src->team_member_role);
    dst->org_id = dup_or_null(src->org_id);
    dst->metadata = dup_or_null(src->metadata);
    models_copy(&dst->models, &src->models);
    models_copy(&dst->team_models, &src->team_models);
    models_copy(&dst->user_models, &src->user_models);
    models_copy(&dst->org_models, &src->org_models);
    models_copy(&dst->allowed_routes, &src->allowed_routes);
    models_copy(&dst->allowed_cache_controls, &src->allowed_cache_controls);
    sl_auth__limits_copy(&dst->key_limits, &src->key_limits);
    sl_auth__limits_copy(&dst->user_limits, &src->user_limits);
    sl_auth__limits_copy(&dst->team_limits, &src->team_limits);
    sl_auth__limits_copy(&dst->member_limits, &src->member_limits);
    sl_auth__limits_copy(&dst->org_limits, &src->org_limits);
    model_limits_copy(&dst->key_model_limits, &src->key_model_limits);
    model_limits_copy(&dst->team_model_limits, &src->team_model_limits);
}

/* ---------------------------------------------------------------- msgpack encoding */

static int
write_sbuf(void *data, const char *buf, size_t len)
{
    return sl_buf_append(data, buf, len) == SL_OK ? 0 : -1;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);

    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void
pack_field_str(msgpack_packer *pk, const char *name, const char *value)
{
    pack_str(pk, name);
    if (value == NULL)
        msgpack_pack_nil(pk);
    else
        pack_str(pk, value);
}

static void
pack_field_bool(msgpack_packer *pk, const char *name, int value)
{
    pack_str(pk, name);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void
pack_field_models(msgpack_packer *pk, const char *name, const struct sl_auth_models *m)
{
    pack_str(pk, name);
    msgpack_pack_array(pk, m->n);
    for (size_t i = 0; i < m->n; i++)
        pack_str(pk, m->items[i]);
}

/* Packs a count limit; unset is nil. */
static void
pack_count(msgpack_packer *pk, const char *name, int64_t value)
{
    pack_str(pk, name);
    if (value < 0)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, value);
}

/* Packs an amount of money; unset (NAN) is nil. */
static void
pack_money(msgpack_packer *pk, const char *name, double value)
{
    pack_str(pk, name);
    if (isnan(value))
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, value);
}

static void
pack_field_limits(msgpack_packer *pk, const char *name, const struct sl_auth_limits *l)
{
    pack_str(pk, name);
    msgpack_pack_map(pk, 8);
    pack_count(pk, "rpm_limit", l->rpm_limit);
    pack_count(pk, "tpm_limit", l->tpm_limit);
    pack_count(pk, "max_parallel_requests", l->max_parallel_requests);
    pack_money(pk, "max_budget", l->max_budget);
    pack_money(pk, "soft_budget", l->soft_budget);
    pack_field_str(pk, "budget_duration", l->budget_duration);
    pack_money(pk, "spend", l->spend);
    pack_count(pk, "period_start", l->period_start_s);
}

/* Packs per-model limits as an array of [model, rpm or nil, tpm or nil]. */
static void
pack_field_model_limits(msgpack_packer *pk, const char *name, const struct sl_auth_model_limits *m)
{
    pack_str(pk, name);
    msgpack_pack_array(pk, m->n);
    for (size_t i = 0; i < m->n; i++) {
        msgpack_pack_array(pk, 3);
        pack_str(pk, m->items[i].model);
        if (m->items[i].rpm_limit < 0)
            msgpack_pack_nil(pk);
        else
            msgpack_pack_int64(pk, m->items[i].rpm_limit);
        if (m->items[i].tpm_limit < 0)
            msgpack_pack_nil(pk);
        else
            msgpack_pack_int64(pk, m->items[i].tpm_limit);
    }
}

void
sl_auth_record_encode(const struct sl_auth_record *rec, struct sl_buf *out)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, out, write_sbuf);
    msgpack_pack_map(&pk, 32);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, SL_AUTH_RECORD_VERSION);
    pack_field_str(&pk, "token", rec->token);
    pack_field_str(&pk, "key_name", rec->key_name);
    pack_field_str(&pk, "key_alias", rec->key_alias);
    pack_field_str(&pk, "user_email", rec->user_email);
    pack_field_str(&pk, "team_alias", rec->team_alias);
    pack_field_str(&pk, "user_id", rec->user_id);
    pack_field_str(&pk, "user_role", rec->user_role);
    pack_field_str(&pk, "team_id", rec->team_id);
    pack_field_str(&pk, "team_member_role", rec->team_member_role);
    pack_field_str(&pk, "org_id", rec->org_id);
    pack_field_str(&pk, "metadata", rec->metadata);
    pack_str(&pk, "expires");
    msgpack_pack_int64(&pk, rec->expires);
    pack_field_bool(&pk, "blocked", rec->blocked);
    pack_field_bool(&pk, "has_team", rec->has_team);
    pack_field_bool(&pk, "team_blocked", rec->team_blocked);
    pack_field_bool(&pk, "has_user", rec->has_user);
    pack_field_bool(&pk, "has_org", rec->has_org);
    pack_field_models(&pk, "models", &rec->models);
    pack_field_models(&pk, "team_models", &rec->team_models);
    pack_field_models(&pk, "user_models", &rec->user_models);
    pack_field_models(&pk, "org_models", &rec->org_models);
    pack_field_models(&pk, "allowed_routes", &rec->allowed_routes);
    pack_field_models(&pk, "allowed_cache_controls", &rec->allowed_cache_controls);
    pack_field_limits(&pk, "key_limits", &rec->key_limits);
    pack_field_limits(&pk, "user_limits", &rec->user_limits);
    pack_field_limits(&pk, "team_limits", &rec->team_limits);
    pack_field_limits(&pk, "member_limits", &rec->member_limits);
    pack_field_limits(&pk, "org_limits", &rec->org_limits);
    pack_field_bool(&pk, "has_member", rec->has_member);
    pack_field_model_limits(&pk, "key_model_limits", &rec->key_model_limits);
    pack_field_model_limits(&pk, "team_model_limits", &rec->team_model_limits);
}

static int
read_models(const msgpack_object *o, struct sl_auth_models *out)
{
    models_dispose(out);
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    out->items = o->via.array.size > 0 ? sl_xcalloc(o->via.array.size, sizeof(char *)) : NULL;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        if (sl_msgpack_read_str(&o->via.array.ptr[i], SIZE_MAX, &out->items[out->n]) != 0 ||
            out->items[out->n] == NULL)
            return -1;
        out->n++;
    }
    return 0;
}

/* Reads a count limit: nil is unset, else a whole number >= 0. */
static int
read_count(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *out = SL_AUTH_LIMIT_UNSET;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
        return -1;
    *out = (int64_t)o->via.u64;
    return 0;
}

/* Reads an amount of money: nil is unset (NAN), else a float. */
static int
read_money(const msgpack_object *o, double *out)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        *out = NAN;
    else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        *out = o->via.f64;
    else
        return -1;
    return 0;
}

/* Reads a map written by pack_field_limits(); a name it lacks stays unset. */
static int
read_limits(const msgpack_object *o, struct sl_auth_limits *out)
{
    sl_auth__limits_dispose(out);
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *name = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        int rc = 0;

        if (sl_msgpack_key_is(name, "rpm_limit"))
            rc = read_count(v, &out->rpm_limit);
        else if (sl_msgpack_key_is(name, "tpm_limit"))
            rc = read_count(v, &out->tpm_limit);
        else if (sl_msgpack_key_is(name, "max_parallel_requests"))
            rc = read_count(v, &out->max_parallel_requests);
        else if (sl_msgpack_key_is(name, "max_budget"))
            rc = read_money(v, &out->max_budget);
        else if (sl_msgpack_key_is(name, "soft_budget"))
            rc = read_money(v, &out->soft_budget);
        else if (sl_msgpack_key_is(name, "budget_duration"))
            rc = sl_msgpack_read_str(v, SL_AUTH_BUDGET_DURATION_MAX, &out->budget_duration);
        else if (sl_msgpack_key_is(name, "spend"))
            rc = read_money(v, &out->spend);
        else if (sl_msgpack_key_is(name, "period_start"))
            rc = read_count(v, &out->period_start_s);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Reads an array written by pack_field_model_limits(). */
static int
read_model_limits(const msgpack_object *o, struct sl_auth_model_limits *out)
{
    sl_auth__model_limits_dispose(out);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > SL_AUTH_MODEL_LIMITS_MAX)
        return -1;
    out->items = o->via.array.size > 0 ? sl_xcalloc(o->via.array.size, sizeof(*out->items)) : NULL;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        struct sl_auth_model_limit *item = &out->items[out->n];

        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_STR || e->via.array.ptr[0].via.str.size == 0)
            return -1;
        if (sl_msgpack_read_str(&e->via.array.ptr[0], SL_AUTH_MODEL_NAME_MAX, &item->model) != 0)
            return -1;
        /* Counted now, so that a failure below still frees the name. */
        out->n++;
        if (read_count(&e->via.array.ptr[1], &item->rpm_limit) != 0 ||
            read_count(&e->via.array.ptr[2], &item->tpm_limit) != 0)
            return -1;
    }
    return 0;
}

/* Reads one map entry into `rec`. Unknown names are skipped so that a later version may add
 * fields. Returns 0, or -1 for a known name with a value of the wrong type. */
static int
read_field(const msgpack_object *name, const msgpack_object *v, struct sl_auth_record *rec)
{
    char *token = NULL;
    int rc;

    if (sl_msgpack_key_is(name, "token")) {
        rc = sl_msgpack_read_str(v, SIZE_MAX, &token);
        if (rc == 0 && (token == NULL || !sl_auth__is_hash(token)))
            rc = -1;
        if (rc == 0)
            memcpy(rec->token, token, SL_AUTH_HASH_HEX_LEN + 1);
        free(token);
        return rc;
    }
    if (sl_msgpack_key_is(name, "key_name"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->key_name);
    if (sl_msgpack_key_is(name, "key_alias"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->key_alias);
    if (sl_msgpack_key_is(name, "user_email"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->user_email);
    if (sl_msgpack_key_is(name, "team_alias"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->team_alias);
    if (sl_msgpack_key_is(name, "user_id"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->user_id);
    if (sl_msgpack_key_is(name, "user_role"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->user_role);
    if (sl_msgpack_key_is(name, "team_id"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->team_id);
    if (sl_msgpack_key_is(name, "team_member_role"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->team_member_role);
    if (sl_msgpack_key_is(name, "org_id"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->org_id);
    if (sl_msgpack_key_is(name, "metadata"))
        return sl_msgpack_read_str(v, SIZE_MAX, &rec->metadata);
    if (sl_msgpack_key_is(name, "expires"))
        return sl_msgpack_read_int(v, INT64_MIN, &rec->expires);
    if (sl_msgpack_key_is(name, "blocked"))
        return sl_msgpack_read_bool(v, &rec->blocked);
    if (sl_msgpack_key_is(name, "has_team"))
        return sl_msgpack_read_bool(v, &rec->has_team);
    if (sl_msgpack_key_is(name, "team_blocked"))
        return sl_msgpack_read_bool(v, &rec->team_blocked);
    if (sl_msgpack_key_is(name, "has_user"))
        return sl_msgpack_read_bool(v, &rec->has_user);
    if (sl_msgpack_key_is(name, "has_org"))
        return sl_msgpack_read_bool(v, &rec->has_org);
    if (sl_msgpack_key_is(name, "models"))
        return read_models(v, &rec->models);
    if (sl_msgpack_key_is(name, "team_models"))
        return read_models(v, &rec->team_models);
    if (sl_msgpack_key_is(name, "user_models"))
        return read_models(v, &rec->user_models);
    if (sl_msgpack_key_is(name, "org_models"))
        return read_models(v, &rec->org_models);
    if (sl_msgpack_key_is(name, "allowed_routes"))
        return read_models(v, &rec->allowed_routes);
    if (sl_msgpack_key_is(name, "allowed_cache_controls"))
        return read_models(v, &rec->allowed_cache_controls);
    if (sl_msgpack_key_is(name, "key_limits"))
        return read_limits(v, &rec->key_limits);
    if (sl_msgpack_key_is(name, "user_limits"))
        return read_limits(v, &rec->user_limits);
    if (sl_msgpack_key_is(name, "team_limits"))
        return read_limits(v, &rec->team_limits);
    if (sl_msgpack_key_is(name, "member_limits"))
        return read_limits(v, &rec->member_limits);
    if (sl_msgpack_key_is(name, "org_limits"))
        return read_limits(v, &rec->org_limits);
    if (sl_msgpack_key_is(name, "has_member"))
        return sl_msgpack_read_bool(v, &rec->has_member);
    if (sl_msgpack_key_is(name, "key_model_limits"))
        return read_model_limits(v, &rec->key_model_limits);
    if (sl_msgpack_key_is(name, "team_model_limits"))
        return read_model_limits(v, &rec->team_model_limits);
    return 0;
}

enum sl_status
sl_auth_record_decode(const char *data, size_t len, struct sl_auth_record *rec)
{
    msgpack_unpacked msg;
    size_t off = 0;
    enum sl_status st = SL_ERR_INVALID;
    int64_t version = 0;

    sl_auth__record_clear(rec);
    msgpack_unpacked_init(&msg);
    if (sl_msgpack_counts_fit(data, len) != 0)
        goto out;
    if (msgpack_unpack_next(&msg, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        msg.data.type != MSGPACK_OBJECT_MAP)
        goto out;

    for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &msg.data.via.map.ptr[i];

        if (sl_msgpack_key_is(&kv->key, "v")) {
            if (sl_msgpack_read_int(&kv->val, INT64_MIN, &version) != 0)
                goto out;
        } else if (read_field(&kv->key, &kv->val, rec) != 0) {
            goto out;
        }
    }
    if (version != SL_AUTH_RECORD_VERSION || rec->token[0] == '\0')
        goto out;
    st = SL_OK;

out:
    msgpack_unpacked_destroy(&msg);
    if (st != SL_OK)
        sl_auth_record_dispose(rec);
    return st;
}
