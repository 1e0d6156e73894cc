/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys_test -- the virtual key record as stored in Redis (msgpack, gateway/auth/keys.c): a
 * round trip keeps every field, and bytes that are not a record are rejected. Also the key
 * hash, which must equal LiteLLM's sha256(key).hexdigest(), the limits read from a budget row
 * and the merge of the per-model limit maps (gateway/auth/internal.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <msgpack.h>

#include "gateway/auth/internal.h"
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
    rec->user_email = "alice@example.com";
    rec->team_alias = "search";
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
    ASSERT_STR_EQ("alice@example.com", out.user_email);
    ASSERT_STR_EQ("search", out.team_alias);
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

/* ---------------------------------------------------------------- limits in the record */

static struct sl_auth_model_limit key_model_items[] = {
    {"gpt-4o", 10, SL_AUTH_LIMIT_UNSET},
    {"claude", SL_AUTH_LIMIT_UNSET, 5000},
    {"mini", 0, 7},
};
static struct sl_auth_model_limit team_model_items[] = {{"gpt-4o", 100, 200000}};

static void
set_limits(struct sl_auth_limits *l, int64_t base, char *duration)
{
    l->rpm_limit = base + 1;
    l->tpm_limit = base + 2;
    l->max_parallel_requests = base + 3;
    l->max_budget = (double)base + 0.25;
    l->soft_budget = (double)base + 0.125;
    l->budget_duration = duration;
}

/* sample() with every limit of every scope set to a distinct value. */
static void
sample_with_limits(struct sl_auth_record *rec)
{
    sample(rec);
    set_limits(&rec->key_limits, 10, "1d");
    set_limits(&rec->user_limits, 20, "7d");
    set_limits(&rec->team_limits, 30, "30d");
    set_limits(&rec->member_limits, 40, "1mo");
    set_limits(&rec->org_limits, 50, "12h");
    rec->has_member = 1;
    rec->key_model_limits = (struct sl_auth_model_limits){key_model_items, 3};
    rec->team_model_limits = (struct sl_auth_model_limits){team_model_items, 1};
}

static void
unset_all_limits(struct sl_auth_record *rec)
{
    sl_auth__limits_unset(&rec->key_limits);
    sl_auth__limits_unset(&rec->user_limits);
    sl_auth__limits_unset(&rec->team_limits);
    sl_auth__limits_unset(&rec->member_limits);
    sl_auth__limits_unset(&rec->org_limits);
}

static void
assert_limits(const struct sl_auth_limits *l, int64_t base, const char *duration)
{
    ASSERT_EQ(base + 1, l->rpm_limit);
    ASSERT_EQ(base + 2, l->tpm_limit);
    ASSERT_EQ(base + 3, l->max_parallel_requests);
    ASSERT_DBL_EQ((double)base + 0.25, l->max_budget);
    ASSERT_DBL_EQ((double)base + 0.125, l->soft_budget);
    ASSERT_STR_EQ(duration, l->budget_duration);
}

static void
assert_unset(const struct sl_auth_limits *l)
{
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, l->rpm_limit);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, l->tpm_limit);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, l->max_parallel_requests);
    ASSERT_TRUE(isnan(l->max_budget));
    ASSERT_TRUE(isnan(l->soft_budget));
    ASSERT_EQ(NULL, l->budget_duration);
}

static void
assert_sample_limits(const struct sl_auth_record *out)
{
    assert_limits(&out->key_limits, 10, "1d");
    assert_limits(&out->user_limits, 20, "7d");
    assert_limits(&out->team_limits, 30, "30d");
    assert_limits(&out->member_limits, 40, "1mo");
    assert_limits(&out->org_limits, 50, "12h");
    ASSERT_EQ(1, out->has_member);
    ASSERT_EQ(3, out->key_model_limits.n);
    ASSERT_STR_EQ("gpt-4o", out->key_model_limits.items[0].model);
    ASSERT_EQ(10, out->key_model_limits.items[0].rpm_limit);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, out->key_model_limits.items[0].tpm_limit);
    ASSERT_STR_EQ("claude", out->key_model_limits.items[1].model);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, out->key_model_limits.items[1].rpm_limit);
    ASSERT_EQ(5000, out->key_model_limits.items[1].tpm_limit);
    ASSERT_STR_EQ("mini", out->key_model_limits.items[2].model);
    ASSERT_EQ(0, out->key_model_limits.items[2].rpm_limit);
    ASSERT_EQ(7, out->key_model_limits.items[2].tpm_limit);
    ASSERT_EQ(1, out->team_model_limits.n);
    ASSERT_STR_EQ("gpt-4o", out->team_model_limits.items[0].model);
    ASSERT_EQ(100, out->team_model_limits.items[0].rpm_limit);
    ASSERT_EQ(200000, out->team_model_limits.items[0].tpm_limit);
}

TEST(keys_record_limits_round_trip)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample_with_limits(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    ASSERT_OK(sl_auth_record_decode(blob.data, blob.len, &out));
    assert_sample_limits(&out);
    ASSERT_STR_EQ("u1", out.user_id);
    sl_auth_record_dispose(&out);
    sl_buf_dispose(&blob);
}

TEST(keys_record_unset_limits_round_trip)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample(&in);
    unset_all_limits(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    ASSERT_OK(sl_auth_record_decode(blob.data, blob.len, &out));
    assert_unset(&out.key_limits);
    assert_unset(&out.user_limits);
    assert_unset(&out.team_limits);
    assert_unset(&out.member_limits);
    assert_unset(&out.org_limits);
    ASSERT_EQ(0, out.has_member);
    ASSERT_EQ(0, out.key_model_limits.n);
    ASSERT_EQ(0, out.team_model_limits.n);
    sl_auth_record_dispose(&out);
    sl_buf_dispose(&blob);
}

/* A zero limit is a limit (nothing admitted), not an absent one. */
TEST(keys_record_zero_limits_stay_zero)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample(&in);
    unset_all_limits(&in);
    in.team_limits.rpm_limit = 0;
    in.team_limits.max_budget = 0.0;
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    ASSERT_OK(sl_auth_record_decode(blob.data, blob.len, &out));
    ASSERT_EQ(0, out.team_limits.rpm_limit);
    ASSERT_DBL_EQ(0.0, out.team_limits.max_budget);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, out.team_limits.tpm_limit);
    ASSERT_TRUE(isnan(out.team_limits.soft_budget));
    sl_auth_record_dispose(&out);
    sl_buf_dispose(&blob);
}

TEST(keys_record_limits_copy_is_deep)
{
    struct sl_auth_record in;
    struct sl_auth_record copy;

    sample_with_limits(&in);
    sl_auth_record_copy(&copy, &in);
    assert_sample_limits(&copy);
    ASSERT_TRUE(copy.org_limits.budget_duration != in.org_limits.budget_duration);
    ASSERT_TRUE(copy.key_model_limits.items != in.key_model_limits.items);
    ASSERT_TRUE(copy.key_model_limits.items[0].model != key_model_items[0].model);
    sl_auth_record_dispose(&copy);
}

TEST(keys_record_limits_truncated_rejected)
{
    struct sl_auth_record in;
    struct sl_auth_record out;
    struct sl_buf blob;

    sample_with_limits(&in);
    sl_buf_init(&blob, 0);
    sl_auth_record_encode(&in, &blob);
    for (size_t cut = 0; cut < blob.len; cut++)
        ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(blob.data, cut, &out));
    sl_buf_dispose(&blob);
}

/* Starts a map of `extra` + 2 pairs with a valid version and token. */
static void
pack_head(msgpack_packer *pk, uint32_t extra)
{
    char token[SL_AUTH_HASH_HEX_LEN + 1];

    sl_auth_hash_key("sk-x", 4, token);
    msgpack_pack_map(pk, 2 + extra);
    pack_key(pk, "v");
    msgpack_pack_int(pk, SL_AUTH_RECORD_VERSION);
    pack_key(pk, "token");
    pack_key(pk, token);
}

/* A record of an older writer without any limit field: every limit decodes as unset. */
TEST(keys_record_missing_limits_decode_unset)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    struct sl_auth_record out;

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    pack_head(&pk, 1);
    pack_key(&pk, "team_limits");
    msgpack_pack_map(&pk, 1);
    pack_key(&pk, "rpm_limit");
    msgpack_pack_int(&pk, 9);
    ASSERT_OK(sl_auth_record_decode(sbuf.data, sbuf.size, &out));
    assert_unset(&out.key_limits);
    assert_unset(&out.user_limits);
    assert_unset(&out.member_limits);
    assert_unset(&out.org_limits);
    ASSERT_EQ(9, out.team_limits.rpm_limit);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, out.team_limits.tpm_limit);
    ASSERT_TRUE(isnan(out.team_limits.max_budget));
    ASSERT_EQ(0, out.key_model_limits.n);
    sl_auth_record_dispose(&out);
    msgpack_sbuffer_destroy(&sbuf);
}

/* NAN written as a float (not nil) by another writer is still unset. */
TEST(keys_record_nan_float_decodes_unset)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    struct sl_auth_record out;

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    pack_head(&pk, 1);
    pack_key(&pk, "key_limits");
    msgpack_pack_map(&pk, 2);
    pack_key(&pk, "max_budget");
    msgpack_pack_double(&pk, NAN);
    pack_key(&pk, "soft_budget");
    msgpack_pack_float(&pk, 1.5f);
    ASSERT_OK(sl_auth_record_decode(sbuf.data, sbuf.size, &out));
    ASSERT_TRUE(isnan(out.key_limits.max_budget));
    ASSERT_DBL_EQ(1.5, out.key_limits.soft_budget);
    sl_auth_record_dispose(&out);
    msgpack_sbuffer_destroy(&sbuf);
}

/* One malformed limit field, packed after a valid head. */
struct bad_case {
    const char *name;
    void (*fill)(msgpack_packer *pk);
};

static void
bad_limits_not_map(msgpack_packer *pk)
{
    pack_key(pk, "key_limits");
    msgpack_pack_array(pk, 0);
}

static void
bad_rpm_negative(msgpack_packer *pk)
{
    pack_key(pk, "user_limits");
    msgpack_pack_map(pk, 1);
    pack_key(pk, "rpm_limit");
    msgpack_pack_int(pk, -1);
}

static void
bad_rpm_float(msgpack_packer *pk)
{
    pack_key(pk, "team_limits");
    msgpack_pack_map(pk, 1);
    pack_key(pk, "rpm_limit");
    msgpack_pack_double(pk, 5.0);
}

static void
bad_budget_string(msgpack_packer *pk)
{
    pack_key(pk, "org_limits");
    msgpack_pack_map(pk, 1);
    pack_key(pk, "max_budget");
    pack_key(pk, "10");
}

static void
bad_duration_too_long(msgpack_packer *pk)
{
    char text[SL_AUTH_BUDGET_DURATION_MAX + 2];

    memset(text, '1', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    pack_key(pk, "member_limits");
    msgpack_pack_map(pk, 1);
    pack_key(pk, "budget_duration");
    pack_key(pk, text);
}

static void
bad_has_member_int(msgpack_packer *pk)
{
    pack_key(pk, "has_member");
    msgpack_pack_int(pk, 1);
}

static void
bad_model_limits_map(msgpack_packer *pk)
{
    pack_key(pk, "key_model_limits");
    msgpack_pack_map(pk, 0);
}

static void
bad_model_entry_short(msgpack_packer *pk)
{
    pack_key(pk, "key_model_limits");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pack_key(pk, "gpt-4o");
    msgpack_pack_int(pk, 1);
}

static void
bad_model_name_nil(msgpack_packer *pk)
{
    pack_key(pk, "team_model_limits");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 1);
    msgpack_pack_nil(pk);
}

static void
bad_model_name_empty(msgpack_packer *pk)
{
    pack_key(pk, "team_model_limits");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pack_key(pk, "");
    msgpack_pack_int(pk, 1);
    msgpack_pack_nil(pk);
}

static void
bad_model_name_too_long(msgpack_packer *pk)
{
    char name[SL_AUTH_MODEL_NAME_MAX + 2];

    memset(name, 'm', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    pack_key(pk, "key_model_limits");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pack_key(pk, name);
    msgpack_pack_int(pk, 1);
    msgpack_pack_nil(pk);
}

static void
bad_model_tpm_negative(msgpack_packer *pk)
{
    pack_key(pk, "key_model_limits");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pack_key(pk, "gpt-4o");
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, -5);
}

static void
bad_model_limits_too_many(msgpack_packer *pk)
{
    pack_key(pk, "key_model_limits");
    msgpack_pack_array(pk, SL_AUTH_MODEL_LIMITS_MAX + 1);
    for (int i = 0; i < SL_AUTH_MODEL_LIMITS_MAX + 1; i++) {
        char name[16];

        snprintf(name, sizeof(name), "m%d", i);
        msgpack_pack_array(pk, 3);
        pack_key(pk, name);
        msgpack_pack_int(pk, 1);
        msgpack_pack_nil(pk);
    }
}

TEST(keys_record_bad_limits_rejected)
{
    static const struct bad_case cases[] = {
        {"limits not a map", bad_limits_not_map},
        {"negative rpm_limit", bad_rpm_negative},
        {"float rpm_limit", bad_rpm_float},
        {"string max_budget", bad_budget_string},
        {"budget_duration over the cap", bad_duration_too_long},
        {"has_member an integer", bad_has_member_int},
        {"model limits a map", bad_model_limits_map},
        {"model entry of two items", bad_model_entry_short},
        {"model name nil", bad_model_name_nil},
        {"model name empty", bad_model_name_empty},
        {"model name over the cap", bad_model_name_too_long},
        {"negative model tpm", bad_model_tpm_negative},
        {"too many model entries", bad_model_limits_too_many},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        struct sl_auth_record out;
        enum sl_status st;

        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        pack_head(&pk, 1);
        cases[i].fill(&pk);
        st = sl_auth_record_decode(sbuf.data, sbuf.size, &out);
        if (st != SL_ERR_INVALID)
            fprintf(stderr, "case accepted: %s\n", cases[i].name);
        ASSERT_EQ(SL_ERR_INVALID, st);
        msgpack_sbuffer_destroy(&sbuf);
    }
}

/* A container header that claims more elements than bytes follow is rejected before
 * msgpack-c would allocate room for them. */
TEST(keys_record_huge_count_rejected)
{
    static const char array32[] = "\xdd\xff\xff\xff\xff";
    static const char map32[] = "\xdf\x7f\xff\xff\xff\xc0\xc0";
    static const char nested[] = "\x81\xa1v\xdc\xff\xff\x01\x02\x03";
    struct sl_auth_record out;

    ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(array32, sizeof(array32) - 1, &out));
    ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(map32, sizeof(map32) - 1, &out));
    ASSERT_EQ(SL_ERR_INVALID, sl_auth_record_decode(nested, sizeof(nested) - 1, &out));
}

/* ---------------------------------------------------------------- limits from PostgreSQL */

/* Builds a one-row result of the six budget columns (NULL values are SQL NULL), then the
 * entity's spend, 2.25, and its period start, 1796464800. */
static PGresult *
budget_row(const char *const values[6])
{
    PGresAttDesc attrs[8];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    static char *names[] = {"rpm_limit",   "tpm_limit",       "max_parallel_requests",
                            "max_budget",  "soft_budget",     "budget_duration",
                            "spend",       "period_start"};

    memset(attrs, 0, sizeof(attrs));
    for (int i = 0; i < 8; i++) {
        attrs[i].name = names[i];
        attrs[i].format = 0;
    }
    if (res == NULL || !PQsetResultAttrs(res, 8, attrs) ||
        !PQsetvalue(res, 0, 6, "2.25", 4) || !PQsetvalue(res, 0, 7, "1796464800", 10))
        abort();
    for (int i = 0; i < 6; i++) {
        char *v = (char *)values[i];

        if (!PQsetvalue(res, 0, i, v, v != NULL ? (int)strlen(v) : -1))
            abort();
    }
    return res;
}

TEST(keys_limits_from_row_reads_values)
{
    static const char *const values[6] = {"60", "100000", "4", "12.5", "10", "30d"};
    PGresult *res = budget_row(values);
    struct sl_auth_limits l;

    ASSERT_OK(sl_auth__limits_from_row(res, 0, &l));
    ASSERT_EQ(60, l.rpm_limit);
    ASSERT_EQ(100000, l.tpm_limit);
    ASSERT_EQ(4, l.max_parallel_requests);
    ASSERT_DBL_EQ(12.5, l.max_budget);
    ASSERT_DBL_EQ(10.0, l.soft_budget);
    ASSERT_STR_EQ("30d", l.budget_duration);
    ASSERT_DBL_EQ(2.25, l.spend);
    ASSERT_EQ(1796464800, l.period_start_s);
    sl_auth__limits_dispose(&l);
    PQclear(res);
}

/* A LEFT JOIN without a budget row yields NULL everywhere: every limit unset, never 0. */
TEST(keys_limits_from_row_nulls_are_unset)
{
    static const char *const values[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    PGresult *res = budget_row(values);
    struct sl_auth_limits l;

    ASSERT_OK(sl_auth__limits_from_row(res, 0, &l));
    assert_unset(&l);
    sl_auth__limits_dispose(&l);
    PQclear(res);
}

TEST(keys_limits_from_row_bad_values_rejected)
{
    static const char *const not_number[6] = {"6x", NULL, NULL, NULL, NULL, NULL};
    static const char *const bad_money[6] = {NULL, NULL, NULL, "much", NULL, NULL};
    static const char *const out_of_range[6] = {NULL, "99999999999999999999", NULL, NULL,
                                                NULL, NULL};
    const char *const *cases[] = {not_number, bad_money, out_of_range};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        PGresult *res = budget_row(cases[i]);
        struct sl_auth_limits l;

        ASSERT_EQ(-1, sl_auth__limits_from_row(res, 0, &l));
        sl_auth__limits_dispose(&l);
        PQclear(res);
    }
}

/* ---------------------------------------------------------------- per-model limits */

static int
from_json(const char *rpm, const char *tpm, struct sl_auth_model_limits *out)
{
    memset(out, 0, sizeof(*out));
    return sl_auth__model_limits_from_json(rpm, rpm != NULL ? strlen(rpm) : 0, tpm,
                                           tpm != NULL ? strlen(tpm) : 0, out);
}

TEST(keys_model_limits_merge_by_name)
{
    struct sl_auth_model_limits m;

    ASSERT_OK(from_json("{\"gpt-4o\": 10, \"mini\": 3}", "{\"claude\": 900, \"gpt-4o\": 5000}",
                        &m));
    ASSERT_EQ(3, m.n);
    ASSERT_STR_EQ("gpt-4o", m.items[0].model);
    ASSERT_EQ(10, m.items[0].rpm_limit);
    ASSERT_EQ(5000, m.items[0].tpm_limit);
    ASSERT_STR_EQ("mini", m.items[1].model);
    ASSERT_EQ(3, m.items[1].rpm_limit);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, m.items[1].tpm_limit);
    ASSERT_STR_EQ("claude", m.items[2].model);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, m.items[2].rpm_limit);
    ASSERT_EQ(900, m.items[2].tpm_limit);
    sl_auth__model_limits_dispose(&m);
}

TEST(keys_model_limits_absent_maps_empty)
{
    struct sl_auth_model_limits m;

    ASSERT_OK(from_json(NULL, NULL, &m));
    ASSERT_EQ(0, m.n);
    ASSERT_EQ(NULL, m.items);
    ASSERT_OK(from_json("{}", NULL, &m));
    ASSERT_EQ(0, m.n);
}

TEST(keys_model_limits_invalid_entries_ignored)
{
    struct sl_auth_model_limits m;

    ASSERT_OK(from_json("{\"neg\": -1, \"frac\": 1.5, \"str\": \"5\", \"null\": null,"
                        " \"obj\": {}, \"\": 4, \"huge\": 1e19, \"ok\": 2, \"ok\": 9,"
                        " \"whole\": 3.0}",
                        NULL, &m));
    ASSERT_EQ(2, m.n);
    ASSERT_STR_EQ("ok", m.items[0].model);
    ASSERT_EQ(2, m.items[0].rpm_limit);
    ASSERT_STR_EQ("whole", m.items[1].model);
    ASSERT_EQ(3, m.items[1].rpm_limit);
    sl_auth__model_limits_dispose(&m);
}

TEST(keys_model_limits_not_object_ignored)
{
    struct sl_auth_model_limits m;

    ASSERT_EQ(-1, from_json("[1, 2]", "{\"gpt-4o\": 7}", &m));
    ASSERT_EQ(1, m.n);
    ASSERT_EQ(SL_AUTH_LIMIT_UNSET, m.items[0].rpm_limit);
    ASSERT_EQ(7, m.items[0].tpm_limit);
    sl_auth__model_limits_dispose(&m);
    ASSERT_EQ(-1, from_json("{\"a\": 1", NULL, &m));
    ASSERT_EQ(0, m.n);
}

/* Each map contributes its first SL_AUTH_MODEL_LIMITS_PER_MAP valid entries, so two full
 * maps with different names fill the merged list to SL_AUTH_MODEL_LIMITS_MAX. */
TEST(keys_model_limits_capped_per_map)
{
    struct sl_buf rpm;
    struct sl_buf tpm;
    struct sl_auth_model_limits m;
    int total = SL_AUTH_MODEL_LIMITS_PER_MAP + 10;

    sl_buf_init(&rpm, 0);
    sl_buf_init(&tpm, 0);
    sl_buf_append(&rpm, "{\"bad\": -1", 10);
    sl_buf_append(&tpm, "{\"x\": 0", 7);
    for (int i = 0; i < total; i++) {
        char entry[48];
        int n = snprintf(entry, sizeof(entry), ", \"r%03d\": %d", i, i);

        sl_buf_append(&rpm, entry, (size_t)n);
        n = snprintf(entry, sizeof(entry), ", \"t%03d\": %d", i, i);
        sl_buf_append(&tpm, entry, (size_t)n);
    }
    sl_buf_append(&rpm, "}", 1);
    sl_buf_append(&tpm, "}", 1);
    memset(&m, 0, sizeof(m));
    ASSERT_OK(sl_auth__model_limits_from_json(rpm.data, rpm.len, tpm.data, tpm.len, &m));
    ASSERT_EQ(SL_AUTH_MODEL_LIMITS_MAX, m.n);
    ASSERT_STR_EQ("r000", m.items[0].model);
    ASSERT_STR_EQ("r255", m.items[SL_AUTH_MODEL_LIMITS_PER_MAP - 1].model);
    ASSERT_STR_EQ("x", m.items[SL_AUTH_MODEL_LIMITS_PER_MAP].model);
    ASSERT_EQ(0, m.items[SL_AUTH_MODEL_LIMITS_PER_MAP].tpm_limit);
    ASSERT_STR_EQ("t254", m.items[SL_AUTH_MODEL_LIMITS_MAX - 1].model);
    sl_auth__model_limits_dispose(&m);
    sl_buf_dispose(&rpm);
    sl_buf_dispose(&tpm);
}
