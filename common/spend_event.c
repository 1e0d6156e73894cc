/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_event -- the msgpack form of one request's spend record (spend_event.h). Absent
 * strings are left out of the map, so events stay small for the common case. The decoder reads
 * bytes from a Redis stream that any client could have written: it checks every type, count
 * and length before allocating.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/msgpack_check.h"
#include "common/spend_event.h"
#include "common/xalloc.h"

/* Largest "status" a decoder accepts: HTTP status codes have three digits. */
#define SL_SPEND_EVENT_MAX_HTTP_STATUS 999

static int
write_buf(void *data, const char *buf, size_t len)
{
    sl_buf_append((struct sl_buf *)data, buf, len);
    return 0;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);

    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* The strings of an event, in map order, with their field names. */
#define EVENT_STRINGS(X)                                                                           \
    X("id", request_id)                                                                            \
    X("call_type", call_type)                                                                      \
    X("key", key_hash)                                                                             \
    X("key_alias", key_alias)                                                                      \
    X("user", user_id)                                                                             \
    X("team", team_id)                                                                             \
    X("org", org_id)                                                                               \
    X("end_user", end_user)                                                                        \
    X("model_group", model_group)                                                                  \
    X("model", model)                                                                              \
    X("model_id", model_id)                                                                        \
    X("provider", provider)                                                                        \
    X("api_base", api_base)                                                                        \
    X("ip", client_ip)                                                                             \
    X("ua", user_agent)                                                                            \
    X("request", request_body)                                                                     \
    X("response", response_body)

/* The 64-bit whole numbers of an event, with their field names. */
#define EVENT_INT64S(X)                                                                            \
    X("start", start_ms)                                                                           \
    X("end", end_ms)                                                                               \
    X("first", first_byte_ms)                                                                      \
    X("prompt", prompt_tokens)                                                                     \
    X("completion", completion_tokens)                                                             \
    X("cached", cached_tokens)                                                                     \
    X("cache_creation", cache_creation_tokens)                                                     \
    X("reasoning", reasoning_tokens)

/* Every whole number of an event: the 64-bit ones and the HTTP status, an int. */
#define EVENT_INTS(X) EVENT_INT64S(X) X("status", http_status)

#define EVENT_FLAGS(X)                                                                             \
    X("estimated", usage_estimated)                                                                \
    X("priced", priced)                                                                            \
    X("ok", success)                                                                               \
    X("cache_hit", cache_hit)

void
sl_spend_event_encode(const struct sl_spend_event *ev, struct sl_buf *out)
{
    msgpack_packer pk;
    uint32_t fields = 3; /* "v", "cost", "periods" */

    msgpack_packer_init(&pk, out, write_buf);
#define COUNT_STR(name, field) fields += ev->field != NULL;
#define COUNT_ONE(name, field) fields++;
    EVENT_STRINGS(COUNT_STR)
    EVENT_INTS(COUNT_ONE)
    EVENT_FLAGS(COUNT_ONE)
#undef COUNT_STR
#undef COUNT_ONE
    msgpack_pack_map(&pk, fields);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, SL_SPEND_EVENT_VERSION);
#define PACK_STR(name, field)                                                                      \
    if (ev->field != NULL) {                                                                       \
        pack_str(&pk, name);                                                                       \
        pack_str(&pk, ev->field);                                                                  \
    }
#define PACK_INT(name, field)                                                                      \
    pack_str(&pk, name);                                                                           \
    msgpack_pack_int64(&pk, (int64_t)ev->field);
#define PACK_FLAG(name, field)                                                                     \
    pack_str(&pk, name);                                                                           \
    if (ev->field)                                                                                 \
        msgpack_pack_true(&pk);                                                                    \
    else                                                                                           \
        msgpack_pack_false(&pk);
    EVENT_STRINGS(PACK_STR)
    EVENT_INTS(PACK_INT)
    EVENT_FLAGS(PACK_FLAG)
#undef PACK_STR
#undef PACK_INT
#undef PACK_FLAG
    pack_str(&pk, "cost");
    msgpack_pack_double(&pk, ev->cost);
    pack_str(&pk, "periods");
    msgpack_pack_array(&pk, ev->n_periods);
    for (size_t i = 0; i < ev->n_periods; i++) {
        msgpack_pack_array(&pk, 3);
        pack_str(&pk, ev->periods[i].scope != NULL ? ev->periods[i].scope : "");
        pack_str(&pk, ev->periods[i].id != NULL ? ev->periods[i].id : "");
        msgpack_pack_int64(&pk, ev->periods[i].start_s);
    }
}

void
sl_spend_event_dispose(struct sl_spend_event *ev)
{
#define FREE_STR(name, field) free(ev->field);
    EVENT_STRINGS(FREE_STR)
#undef FREE_STR
    for (size_t i = 0; i < ev->n_periods && i < SL_SPEND_EVENT_MAX_PERIODS; i++) {
        free(ev->periods[i].scope);
        free(ev->periods[i].id);
    }
    memset(ev, 0, sizeof(*ev));
}

/* ---------------------------------------------------------------- decoding */

/* Reads a cost in USD: a finite float >= 0, or a whole number (a Lua encoder writes 2.0 as 2). */
static int
read_cost(const msgpack_object *o, double *out)
{
    double v;

    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        v = (double)o->via.u64;
    else
        return -1;
    if (!isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Reads "periods": an array of [scope, id, start_s] triples. */
static int
read_periods(const msgpack_object *o, struct sl_spend_event *ev)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > SL_SPEND_EVENT_MAX_PERIODS)
        return -1;
    for (size_t i = 0; i < ev->n_periods; i++) {
        free(ev->periods[i].scope);
        free(ev->periods[i].id);
    }
    memset(ev->periods, 0, sizeof(ev->periods));
    ev->n_periods = 0;

    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *triple = &o->via.array.ptr[i];
        struct sl_spend_period *p = &ev->periods[ev->n_periods];

        if (triple->type != MSGPACK_OBJECT_ARRAY || triple->via.array.size != 3)
            return -1;
        /* Counted before reading, so dispose frees whatever was read if a later step fails. */
        ev->n_periods++;
        if (sl_msgpack_read_str(&triple->via.array.ptr[0], SL_SPEND_EVENT_MAX_STRING_BYTES,
                                &p->scope) != 0 ||
            sl_msgpack_read_str(&triple->via.array.ptr[1], SL_SPEND_EVENT_MAX_STRING_BYTES,
                                &p->id) != 0 ||
            sl_msgpack_read_int(&triple->via.array.ptr[2], INT64_MIN, &p->start_s) != 0)
            return -1;
    }
    return 0;
}

/* Reads one field of the map into `ev`. Returns 0 (also for a field it does not know), or -1. */
static int
read_field(const msgpack_object *name, const msgpack_object *v, struct sl_spend_event *ev)
{
    int64_t n = 0;

#define READ_STR(key, field)                                                                       \
    if (sl_msgpack_key_is(name, key))                                                              \
        return sl_msgpack_read_str(v, SL_SPEND_EVENT_MAX_STRING_BYTES, &ev->field);
#define READ_INT(key, field)                                                                       \
    if (sl_msgpack_key_is(name, key)) {                                                            \
        if (sl_msgpack_read_int(v, 0, &n) != 0)                                                    \
            return -1;                                                                             \
        ev->field = n;                                                                             \
        return 0;                                                                                  \
    }
#define READ_FLAG(key, field)                                                                      \
    if (sl_msgpack_key_is(name, key))                                                              \
        return sl_msgpack_read_bool(v, &ev->field);
    /* The bodies are the only strings allowed to be long. */
    if (sl_msgpack_key_is(name, "request"))
        return sl_msgpack_read_str(v, SL_SPEND_EVENT_MAX_BYTES, &ev->request_body);
    if (sl_msgpack_key_is(name, "response"))
        return sl_msgpack_read_str(v, SL_SPEND_EVENT_MAX_BYTES, &ev->response_body);
    EVENT_STRINGS(READ_STR)
    EVENT_INT64S(READ_INT)
    EVENT_FLAGS(READ_FLAG)
#undef READ_STR
#undef READ_INT
#undef READ_FLAG
    if (sl_msgpack_key_is(name, "status")) {
        if (sl_msgpack_read_int(v, 0, &n) != 0 || n > SL_SPEND_EVENT_MAX_HTTP_STATUS)
            return -1;
        ev->http_status = (int)n;
        return 0;
    }
    if (sl_msgpack_key_is(name, "cost"))
        return read_cost(v, &ev->cost);
    if (sl_msgpack_key_is(name, "periods"))
        return read_periods(v, ev);
    return 0;
}

enum sl_status
sl_spend_event_decode(const char *data, size_t len, struct sl_spend_event *ev)
{
    msgpack_unpacked msg;
    size_t off = 0;
    enum sl_status st = SL_ERR_INVALID;
    int64_t version = 0;

    memset(ev, 0, sizeof(*ev));
    msgpack_unpacked_init(&msg);
    if (len > SL_SPEND_EVENT_MAX_BYTES || sl_msgpack_counts_fit(data, len) != 0)
        goto out;
    if (msgpack_unpack_next(&msg, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        msg.data.type != MSGPACK_OBJECT_MAP)
        goto out;

    for (uint32_t i = 0; i < msg.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &msg.data.via.map.ptr[i];

        if (sl_msgpack_key_is(&kv->key, "v")) {
            if (sl_msgpack_read_int(&kv->val, 1, &version) != 0)
                goto out;
        } else if (read_field(&kv->key, &kv->val, ev) != 0) {
            goto out;
        }
    }
    if (version < 1 || version > SL_SPEND_EVENT_VERSION)
        goto out;
    st = SL_OK;

out:
    msgpack_unpacked_destroy(&msg);
    if (st != SL_OK)
        sl_spend_event_dispose(ev);
    return st;
}
