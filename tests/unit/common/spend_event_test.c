/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/common/spend_event_test.c -- the spend event's msgpack decoder (spend_event.c). */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/spend_event.h"
#include "common/xalloc.h"
#include "test.h"

static void
fill(struct sl_spend_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->request_id = sl_xstrdup("req-1");
    ev->call_type = sl_xstrdup("acompletion");
    ev->start_ms = 1700000000000;
    ev->end_ms = 1700000001000;
    ev->first_byte_ms = 1700000000500;
    ev->key_hash = sl_xstrdup("ab12");
    ev->key_alias = sl_xstrdup("alias");
    ev->user_id = sl_xstrdup("u1");
    ev->team_id = sl_xstrdup("t1");
    ev->org_id = sl_xstrdup("o1");
    ev->end_user = sl_xstrdup("eu");
    ev->model_group = sl_xstrdup("gpt-4o-mini");
    ev->model = sl_xstrdup("openai/gpt-4o-mini");
    ev->model_id = sl_xstrdup("m1");
    ev->provider = sl_xstrdup("openai");
    ev->api_base = sl_xstrdup("https://api.example/v1");
    ev->prompt_tokens = 10;
    ev->completion_tokens = 20;
    ev->cached_tokens = 3;
    ev->cache_creation_tokens = 4;
    ev->reasoning_tokens = 5;
    ev->usage_estimated = 1;
    ev->cost = 0.125;
    ev->priced = 1;
    ev->success = 1;
    ev->http_status = 200;
    ev->cache_hit = 1;
    ev->client_ip = sl_xstrdup("127.0.0.1");
    ev->user_agent = sl_xstrdup("curl/8");
    ev->request_body = sl_xstrdup("{}");
    ev->response_body = sl_xstrdup("{\"x\":1}");
    ev->periods[0].scope = sl_xstrdup("api_key");
    ev->periods[0].id = sl_xstrdup("ab12");
    ev->periods[0].start_s = 1699999200;
    ev->periods[1].scope = sl_xstrdup("team");
    ev->periods[1].id = sl_xstrdup("t1");
    ev->periods[1].start_s = 0;
    ev->n_periods = 2;
}

static enum sl_status
decode_buf(const struct sl_buf *b, struct sl_spend_event *ev)
{
    return sl_spend_event_decode(b->data, b->len, ev);
}

TEST(spend_event_round_trip_every_field)
{
    struct sl_spend_event in, out;
    struct sl_buf buf, again;

    fill(&in);
    sl_buf_init(&buf, 0);
    sl_buf_init(&again, 0);
    sl_spend_event_encode(&in, &buf);
    ASSERT_OK(decode_buf(&buf, &out));

    ASSERT_STR_EQ("req-1", out.request_id);
    ASSERT_STR_EQ("acompletion", out.call_type);
    ASSERT_EQ(1700000000000, out.start_ms);
    ASSERT_EQ(1700000001000, out.end_ms);
    ASSERT_EQ(1700000000500, out.first_byte_ms);
    ASSERT_STR_EQ("ab12", out.key_hash);
    ASSERT_STR_EQ("alias", out.key_alias);
    ASSERT_STR_EQ("u1", out.user_id);
    ASSERT_STR_EQ("t1", out.team_id);
    ASSERT_STR_EQ("o1", out.org_id);
    ASSERT_STR_EQ("eu", out.end_user);
    ASSERT_STR_EQ("gpt-4o-mini", out.model_group);
    ASSERT_STR_EQ("openai/gpt-4o-mini", out.model);
    ASSERT_STR_EQ("m1", out.model_id);
    ASSERT_STR_EQ("openai", out.provider);
    ASSERT_STR_EQ("https://api.example/v1", out.api_base);
    ASSERT_EQ(10, out.prompt_tokens);
    ASSERT_EQ(20, out.completion_tokens);
    ASSERT_EQ(3, out.cached_tokens);
    ASSERT_EQ(4, out.cache_creation_tokens);
    ASSERT_EQ(5, out.reasoning_tokens);
    ASSERT_EQ(1, out.usage_estimated);
    ASSERT_DBL_EQ(0.125, out.cost);
    ASSERT_EQ(1, out.priced);
    ASSERT_EQ(1, out.success);
    ASSERT_EQ(200, out.http_status);
    ASSERT_EQ(1, out.cache_hit);
    ASSERT_STR_EQ("127.0.0.1", out.client_ip);
    ASSERT_STR_EQ("curl/8", out.user_agent);
    ASSERT_STR_EQ("{}", out.request_body);
    ASSERT_STR_EQ("{\"x\":1}", out.response_body);
    ASSERT_EQ(2, out.n_periods);
    ASSERT_STR_EQ("api_key", out.periods[0].scope);
    ASSERT_STR_EQ("ab12", out.periods[0].id);
    ASSERT_EQ(1699999200, out.periods[0].start_s);
    ASSERT_STR_EQ("team", out.periods[1].scope);
    ASSERT_EQ(0, out.periods[1].start_s);

    sl_spend_event_encode(&out, &again);
    ASSERT_MEM_EQ(buf.data, buf.len, again.data, again.len);

    sl_spend_event_dispose(&in);
    sl_spend_event_dispose(&out);
    sl_buf_dispose(&buf);
    sl_buf_dispose(&again);
}

static int
write_buf(void *data, const char *p, size_t len)
{
    sl_buf_append((struct sl_buf *)data, p, len);
    return 0;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A newer gateway's field is skipped, and fields an older one leaves out take defaults. */
TEST(spend_event_unknown_and_missing_fields)
{
    struct sl_spend_event ev;
    struct sl_buf buf;
    msgpack_packer pk;

    sl_buf_init(&buf, 0);
    msgpack_packer_init(&pk, &buf, write_buf);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "id");
    pack_str(&pk, "req-2");
    pack_str(&pk, "future_field");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "x");

    ASSERT_OK(decode_buf(&buf, &ev));
    ASSERT_STR_EQ("req-2", ev.request_id);
    ASSERT_TRUE(ev.call_type == NULL);
    ASSERT_TRUE(ev.key_hash == NULL);
    ASSERT_EQ(0, ev.prompt_tokens);
    ASSERT_DBL_EQ(0.0, ev.cost);
    ASSERT_EQ(0, ev.n_periods);
    sl_spend_event_dispose(&ev);
    sl_buf_dispose(&buf);
}

/* Builds a map {"v": 1, name: <value packed by the caller>} and decodes it. */
static enum sl_status
decode_with(const char *name, void (*pack_value)(msgpack_packer *))
{
    struct sl_spend_event ev;
    struct sl_buf buf;
    msgpack_packer pk;
    enum sl_status st;

    sl_buf_init(&buf, 0);
    msgpack_packer_init(&pk, &buf, write_buf);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, name);
    pack_value(&pk);
    st = decode_buf(&buf, &ev);
    sl_spend_event_dispose(&ev);
    sl_buf_dispose(&buf);
    return st;
}

static void
pack_negative(msgpack_packer *pk)
{
    msgpack_pack_int(pk, -1);
}

static void
pack_string(msgpack_packer *pk)
{
    pack_str(pk, "7");
}

static void
pack_nine_periods(msgpack_packer *pk)
{
    msgpack_pack_array(pk, SL_SPEND_EVENT_MAX_PERIODS + 1);
    for (int i = 0; i < SL_SPEND_EVENT_MAX_PERIODS + 1; i++) {
        msgpack_pack_array(pk, 3);
        pack_str(pk, "team");
        pack_str(pk, "t");
        msgpack_pack_int(pk, 0);
    }
}

static void
pack_short_period(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pack_str(pk, "team");
    pack_str(pk, "t");
}

static void
pack_long_string(msgpack_packer *pk)
{
    char *s = sl_xmalloc(SL_SPEND_EVENT_MAX_STRING_BYTES + 2);

    memset(s, 'a', SL_SPEND_EVENT_MAX_STRING_BYTES + 1);
    s[SL_SPEND_EVENT_MAX_STRING_BYTES + 1] = '\0';
    pack_str(pk, s);
    free(s);
}

static void
pack_nan(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 0.0 / 0.0);
}

static void
pack_int_flag(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 1);
}

TEST(spend_event_wrong_types_rejected)
{
    ASSERT_EQ(SL_ERR_INVALID, decode_with("prompt", pack_negative));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("prompt", pack_string));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("cost", pack_negative));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("cost", pack_nan));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("ok", pack_int_flag));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("periods", pack_nine_periods));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("periods", pack_short_period));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("user", pack_long_string));
    ASSERT_EQ(SL_ERR_INVALID, decode_with("status", pack_string));
}

TEST(spend_event_malformed_bytes_rejected)
{
    struct sl_spend_event ev, ok;
    struct sl_buf buf;
    /* A map that declares 2^32-1 entries in five bytes: rejected before any allocation. */
    static const char huge_map[] = "\xdf\xff\xff\xff\xff";
    /* {"v": 2}: a newer layout. */
    static const char newer[] = "\x81\xa1v\x02";
    /* {} without "v". */
    static const char no_version[] = "\x80";

    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode(huge_map, 5, &ev));
    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode(newer, 4, &ev));
    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode(no_version, 1, &ev));
    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode("", 0, &ev));
    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode("\x93\x01\x02\x03", 4, &ev));

    fill(&ok);
    sl_buf_init(&buf, 0);
    sl_spend_event_encode(&ok, &buf);
    /* Every truncation fails, and so do trailing bytes. */
    for (size_t cut = 0; cut < buf.len; cut++)
        ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode(buf.data, cut, &ev));
    sl_buf_append(&buf, "\x00", 1);
    ASSERT_EQ(SL_ERR_INVALID, sl_spend_event_decode(buf.data, buf.len, &ev));
    ASSERT_TRUE(ev.request_id == NULL);

    sl_spend_event_dispose(&ok);
    sl_buf_dispose(&buf);
}
