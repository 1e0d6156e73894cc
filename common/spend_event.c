/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_event -- the msgpack form of one request's spend record (spend_event.h). Absent
 * strings are left out of the map, so events stay small for the common case.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/spend_event.h"

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

/* The whole numbers of an event, with their field names. */
#define EVENT_INTS(X)                                                                              \
    X("start", start_ms)                                                                           \
    X("end", end_ms)                                                                               \
    X("first", first_byte_ms)                                                                      \
    X("prompt", prompt_tokens)                                                                     \
    X("completion", completion_tokens)                                                             \
    X("cached", cached_tokens)                                                                     \
    X("cache_creation", cache_creation_tokens)                                                     \
    X("reasoning", reasoning_tokens)                                                               \
    X("status", http_status)

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
