/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys_test -- the virtual key record as stored in Redis (msgpack, gateway/auth/keys.c): a
 * round trip keeps every field, and bytes that are not a record are rejected. Also the key
 * hash, which must equal LiteLLM's sha256(key).hexdigest().
 */
#include <string.h>

#include <msgpack.h>

#include "gateway/auth/keys.h"
#include "test.h"

static char *models_a[] = {"gpt-4o", "openai/*"};
static char *models_b[] = {"beta-models"};

static void
sample(struct sl_auth_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    sl_auth_hash_key("sk-test-1234", 12, rec->token);
    rec->key_name = "sk-...1234";
    rec->key_alias = "ci";
    rec->user_id = "u1";
    rec->user_role = "internal_user";
    rec->team_id = "t1";
    rec->team_member_role = "admin";
    rec->org_id = "o1";
    rec->metadata = "{\"a\": 1}";
    rec->expires = 1893456000;
    rec->blocked = 1;
    rec->has_team = 1;
    rec->team_blocked = 1;
    rec->has_user = 1;
    rec->has_org = 1;
    rec->models = (struct sl_auth_models){models_a, 2};
    rec->team_models = (struct sl_auth_models){models_b, 1};
}

TEST(keys_hash_is_sha256_hex)
{
    char out[SL_AUTH_HASH_HEX_LEN + 1];

    sl_auth_hash_key("abc", 3, out);
    ASSERT_STR_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", out);
}

TEST(keys_record_round_trip)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    ASSERT_OK(sl_auth_record_decode(blob.data, blob.len, &out));
    ASSERT_STR_EQ(in.token, out.token);
    ASSERT_STR_EQ("sk-...1234", out.key_name);
    ASSERT_STR_EQ("ci", out.key_alias);
    ASSERT_STR_EQ("u1", out.user_id);
    ASSERT_STR_EQ("internal_user", out.user_role);
    ASSERT_STR_EQ("t1", out.team_id);
    ASSERT_STR_EQ("admin", out.team_member_role);
    ASSERT_STR_EQ("o1", out.org_id);
    ASSERT_STR_EQ("{\"a\": 1}", out.metadata);
    ASSERT_EQ(1893456000, out.expires);
    ASSERT_EQ(1, out.blocked);
    ASSERT_EQ(1, out.has_team);
    ASSERT_EQ(1, out.team_blocked);
    ASSERT_EQ(1, out.has_user);
    ASSERT_EQ(1, out.has_org);
    ASSERT_EQ(2, out.models.n);
    ASSERT_STR_EQ("gpt-4o", out.models.items[0]);
    ASSERT_STR_EQ("openai/*", out.models.items[1]);
    ASSERT_EQ(1, out.team_models.n);
    ASSERT_STR_EQ("beta-models", out.team_models.items[0]);
    ASSERT_EQ(0, out.user_models.n);
    ASSERT_EQ(0, out.org_models.n);
    sl_auth_record_dispose(&out);
    sl_buf_dispose(&blob);
}

TEST(keys_record_nulls_round_trip)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    memset(&in, 0, sizeof(in));
    sl_auth_hash_key("sk-x", 4, in.token);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    ASSERT_OK(sl_auth_record_decode(blob.data, blob.len, &out));
    ASSERT_EQ(NULL, out.key_name);
    ASSERT_EQ(NULL, out.team_id);
    ASSERT_EQ(NULL, out.metadata);
    ASSERT_EQ(0, out.expires);
    ASSERT_EQ(0, out.blocked);
    ASSERT_EQ(0, out.models.n);
    sl_auth_record_dispose(&out);
    sl_buf_dispose(&blob);
}

TEST(keys_record_copy_is_deep)
{
    struct sl_auth_record in;
    struct sl_auth_record copy;

    sample(&in);
    sl_auth_record_copy(&copy, &in);
    ASSERT_STR_EQ("u1", copy.user_id);
    ASSERT_EQ(1, copy.models.items[0] != models_a[0]);
    ASSERT_STR_EQ("gpt-4o", copy.models.items[0]);
    sl_auth_record_dispose(&copy);
}

TEST(keys_record_truncated_rejected)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    for (size_t cut = 0; cut < blob.len; cut++)
        ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(blob.data, cut, &out));
    sl_buf_dispose(&blob);
}

TEST(keys_record_trailing_bytes_rejected)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    sl_buf_append(&blob, "\xc0", 1);
    ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(blob.data, blob.len, &out));
    sl_buf_dispose(&blob);
}

/* Packs a map of `n` pairs written by `fill` and decodes it. */
static enum sl_status
decode_packed(void (*fill)(msgpack_packer *pk))
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    struct sl_auth_record out;
    enum sl_status st;

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    fill(&pk);
    st = sl_auth_record_decode(sbuf.data, sbuf.size, &out);
    if (st == SL_OK)
        sl_auth_record_dispose(&out);
    msgpack_sbuffer_destroy(&sbuf);
    return st;
}

static void
pack_key(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void
fill_other_version(msgpack_packer *pk)
{
    char token[SL_AUTH_HASH_HEX_LEN + 1];

    sl_auth_hash_key("sk-x", 4, token);
    msgpack_pack_map(pk, 2);
    pack_key(pk, "v");
    msgpack_pack_int(pk, SL_AUTH_RECORD_VERSION - 1);
    pack_key(pk, "token");
    pack_key(pk, token);
}

static void
fill_bad_token(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_key(pk, "v");
    msgpack_pack_int(pk, SL_AUTH_RECORD_VERSION);
    pack_key(pk, "token");
    pack_key(pk, "sk-not-a-hash");
}

static void
fill_blocked_as_string(msgpack_packer *pk)
{
    char token[SL_AUTH_HASH_HEX_LEN + 1];

    sl_auth_hash_key("sk-x", 4, token);
    msgpack_pack_map(pk, 3);
    pack_key(pk, "v");
    msgpack_pack_int(pk, SL_AUTH_RECORD_VERSION);
    pack_key(pk, "token");
    pack_key(pk, token);
    pack_key(pk, "blocked");
    pack_key(pk, "true");
}

static void
fill_array_top(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}

TEST(keys_record_other_version_rejected)
{
    ASSERT_EQ(SL_ERR_INVALID, decode_packed(fill_other_version));
}

TEST(keys_record_bad_token_rejected)
{
    ASSERT_EQ(SL_ERR_INVALID, decode_packed(fill_bad_token));
}

TEST(keys_record_wrong_type_rejected)
{
    ASSERT_EQ(SL_ERR_INVALID, decode_packed(fill_blocked_as_string));
}

TEST(keys_record_not_a_map_rejected)
{
    ASSERT_EQ(SL_ERR_INVALID, decode_packed(fill_array_top));
}
