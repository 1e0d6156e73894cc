/* SPDX-License-Identifier: Apache-2.0 */
/* mgmt_keys_test -- key generation, key references, durations, body field checks, config
 * bounds and defaults, and the role rules of the key management API (gateway/mgmt/). */
#include "gateway/mgmt/key_auth.h"
#include "gateway/mgmt/key_fields.h"

#include <ctype.h>

#include "common/json.h"
#include "test.h"

static struct sl_errbuf err;

static cJSON *
parse(const char *text)
{
    cJSON *out = NULL;

    ASSERT_EQ(SL_OK, sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &out, &err));
    return out;
}

/* Parses `body` as a generate (or update) body; returns the status and leaves `f` filled. */
static enum sl_status
check_body(const char *body, int for_update, struct sl_mgmt_key_fields *f, const char **param)
{
    cJSON *json = parse(body);
    enum sl_status rc;

    memset(f, 0, sizeof(*f));
    err.msg[0] = '\0';
    rc = sl_mgmt_key_fields_parse(json, for_update, f, param, &err);
    cJSON_Delete(json);
    return rc;
}

static void
load_config(const char *yaml, struct sl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    ASSERT_EQ(SL_OK, sl_config_load_buffer(yaml, strlen(yaml), "config.yaml", cfg, &err));
}

/* ---------------------------------------------------------------- keys */

TEST(key_generate_format)
{
    char a[SL_MGMT_KEY_LEN + 1];
    char b[SL_MGMT_KEY_LEN + 1];

    ASSERT_EQ(SL_OK, sl_mgmt_key_generate(a));
    ASSERT_EQ(SL_OK, sl_mgmt_key_generate(b));
    ASSERT_EQ(25, strlen(a));
    ASSERT_MEM_EQ("sk-", 3, a, 3);
    for (size_t i = 3; i < strlen(a); i++)
        ASSERT_TRUE(isalnum((unsigned char)a[i]) || a[i] == '-' || a[i] == '_');
    ASSERT_TRUE(strcmp(a, b) != 0);
}

TEST(key_generate_uses_all_bits)
{
    /* Over many keys every position but the last takes many values; the last carries only 2 bits.
     */
    char seen[SL_MGMT_KEY_LEN][128];
    char key[SL_MGMT_KEY_LEN + 1];

    memset(seen, 0, sizeof(seen));
    for (int n = 0; n < 2000; n++) {
        ASSERT_EQ(SL_OK, sl_mgmt_key_generate(key));
        for (int i = 3; i < SL_MGMT_KEY_LEN; i++)
            seen[i][(unsigned char)key[i] & 0x7f] = 1;
    }
    for (int i = 3; i < SL_MGMT_KEY_LEN; i++) {
        int distinct = 0;

        for (int c = 0; c < 128; c++)
            distinct += seen[i][c];
        ASSERT_TRUE(distinct == (i == SL_MGMT_KEY_LEN - 1 ? 4 : 64));
    }
}

TEST(key_hash_is_sha256_hex)
{
    char out[SL_MGMT_HASH_LEN + 1];

    sl_mgmt_key_hash("sk-1234", 7, out);
    ASSERT_STR_EQ("88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b", out);
}

TEST(key_ref_hashes_plaintext)
{
    char hash[SL_MGMT_HASH_LEN + 1];
    char direct[SL_MGMT_HASH_LEN + 1];

    ASSERT_EQ(SL_OK, sl_mgmt_key_ref("sk-abc", hash, &err));
    sl_mgmt_key_hash("sk-abc", 6, direct);
    ASSERT_STR_EQ(direct, hash);
}

TEST(key_ref_accepts_hash)
{
    char hash[SL_MGMT_HASH_LEN + 1];
    const char *upper = "88DC28D0F030C55ED4AB77ED8FAF098196CB1C05DF778539800C9F1243FE6B4B";

    ASSERT_EQ(SL_OK, sl_mgmt_key_ref(upper, hash, &err));
    ASSERT_STR_EQ("88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b", hash);
}

TEST(key_ref_rejects_other_text)
{
    char hash[SL_MGMT_HASH_LEN + 1];

    ASSERT_EQ(SL_ERR_INVALID, sl_mgmt_key_ref("not-a-key", hash, &err));
    ASSERT_CONTAINS(err.msg, "64-digit hex");
    ASSERT_EQ(SL_ERR_INVALID,
              sl_mgmt_key_ref("g8dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                              hash, &err));
}

/* ---------------------------------------------------------------- durations */

TEST(duration_units)
{
    static const struct {
        const char *text;
        long long count;
        const char *unit;
        double seconds;
    } cases[] = {
        {"30s", 30, "seconds", 30},    {"5m", 5, "minutes", 300},    {"2h", 2, "hours", 7200},
        {"1h", 1, "hours", 3600},      {"30d", 30, "days", 2592000}, {"1w", 1, "weeks", 604800},
        {"2w", 2, "weeks", 1209600},   {"1mo", 1, "months", 2592000},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_mgmt_duration d;

        ASSERT_EQ(SL_OK, sl_mgmt_parse_duration(cases[i].text, &d));
        ASSERT_EQ(cases[i].count, d.count);
        ASSERT_STR_EQ(cases[i].unit, d.unit);
        ASSERT_DBL_EQ(cases[i].seconds, d.approx_s);
    }
}

TEST(duration_rejects_bad_text)
{
    /* The same text as sl_budget_duration_parse() rejects: no trailing letters, zero or
     * counts over 100000. */
    static const char *const bad[] = {"30",  "",   "d",   "-1",      "3x",    " 3d",
                                      "1hr", "0d", "1mon", "100001s", "1y",    "mo",
                                      "99999999999999d"};
    struct sl_mgmt_duration d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_EQ(SL_ERR_INVALID, sl_mgmt_parse_duration(bad[i], &d));
}

/* ---------------------------------------------------------------- fields */

TEST(fields_generate_values)
{
    struct sl_mgmt_key_fields f;
    const char *param;

    ASSERT_EQ(SL_OK, check_body("{\"key_alias\":\"a\",\"models\":[\"m1\",\"m2\"],"
                                "\"metadata\":{\"x\":1},\"max_budget\":2.5,\"tpm_limit\":10,"
                                "\"duration\":\"2d\",\"blocked\":true,\"user_id\":null}",
                                0, &f, &param));
    ASSERT_STR_EQ("a", f.v[SL_MGMT_F_KEY_ALIAS].text);
    ASSERT_STR_EQ("[\"m1\",\"m2\"]", f.v[SL_MGMT_F_MODELS].text);
    ASSERT_STR_EQ("{\"x\":1}", f.v[SL_MGMT_F_METADATA].text);
    ASSERT_STR_EQ("2.5", f.v[SL_MGMT_F_MAX_BUDGET].text);
    ASSERT_STR_EQ("10", f.v[SL_MGMT_F_TPM_LIMIT].text);
    ASSERT_STR_EQ("2 days", f.v[SL_MGMT_F_DURATION].text);
    ASSERT_STR_EQ("true", f.v[SL_MGMT_F_BLOCKED].text);
    ASSERT_EQ(0, f.v[SL_MGMT_F_USER_ID].set);
    ASSERT_EQ(0, f.v[SL_MGMT_F_RPM_LIMIT].set);
    ASSERT_TRUE(f.metadata_patch == NULL);
    sl_mgmt_key_fields_dispose(&f);
}

TEST(fields_model_limits_go_to_metadata)
{
    struct sl_mgmt_key_fields f;
    const char *param;

    ASSERT_EQ(SL_OK,
              check_body("{\"model_rpm_limit\":{\"gpt\":5},\"tags\":[\"t\"]}", 0, &f, &param));
    ASSERT_STR_EQ("{\"model_rpm_limit\":{\"gpt\":5},\"tags\":[\"t\"]}", f.metadata_patch);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_ERR_INVALID, check_body("{\"model_tpm_limit\":{\"gpt\":\"x\"}}", 0, &f, &param));
    ASSERT_STR_EQ("model_tpm_limit", param);
    sl_mgmt_key_fields_dispose(&f);
}

TEST(fields_reject_bad_values)
{
    static const struct {
        const char *body;
        const char *param;
        const char *message;
    } cases[] = {
        {"{\"max_budget\":-1}", "max_budget", "max_budget cannot be negative. Received: -1"},
        {"{\"soft_budget\":-0.5}", "soft_budget", "soft_budget cannot be negative"},
        {"{\"tpm_limit\":1.5}", "tpm_limit", "whole number"},
        {"{\"rpm_limit\":\"10\"}", "rpm_limit", "must be a number"},
        {"{\"models\":\"gpt\"}", "models", "list of strings"},
        {"{\"models\":[1]}", "models", "list of strings"},
        {"{\"metadata\":[]}", "metadata", "JSON object"},
        {"{\"duration\":\"30\"}", "duration", "Invalid duration \"30\""},
        {"{\"budget_duration\":\"-1\"}", "budget_duration", "Invalid budget_duration"},
        {"{\"blocked\":1}", "blocked", "true or false"},
        {"{\"key_alias\":7}", "key_alias", "must be a string"},
        {"{\"key_type\":\"admin\"}", "key_type", "Invalid key_type"},
        {"{\"key\":\"abcd-custom-wxyz\"}", "key",
         "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: abcd****wxyz"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_mgmt_key_fields f;
        const char *param = NULL;

        ASSERT_EQ(SL_ERR_INVALID, check_body(cases[i].body, 0, &f, &param));
        ASSERT_STR_EQ(cases[i].param, param);
        ASSERT_CONTAINS(err.msg, cases[i].message);
        sl_mgmt_key_fields_dispose(&f);
    }
}

TEST(fields_update_never_expires)
{
    struct sl_mgmt_key_fields f;
    const char *param;

    ASSERT_EQ(SL_OK, check_body("{\"key\":\"not-used-here\",\"duration\":\"-1\"}", 1, &f, &param));
    ASSERT_EQ(1, f.v[SL_MGMT_F_DURATION].set);
    ASSERT_TRUE(f.v[SL_MGMT_F_DURATION].text == NULL);
    ASSERT_TRUE(f.custom_key == NULL);
    sl_mgmt_key_fields_dispose(&f);
}

TEST(fields_key_type_sets_routes)
{
    struct sl_mgmt_key_fields f;
    const char *param;

    ASSERT_EQ(SL_OK, check_body("{\"key_type\":\"read_only\"}", 0, &f, &param));
    ASSERT_STR_EQ("[\"info_routes\"]", f.v[SL_MGMT_F_ALLOWED_ROUTES].text);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK,
              check_body("{\"key_type\":\"llm_api\",\"allowed_routes\":[\"/x\"]}", 0, &f, &param));
    ASSERT_STR_EQ("[\"/x\"]", f.v[SL_MGMT_F_ALLOWED_ROUTES].text);
    sl_mgmt_key_fields_dispose(&f);
}

TEST(fields_custom_key_kept)
{
    struct sl_mgmt_key_fields f;
    const char *param;

    ASSERT_EQ(SL_OK, check_body("{\"key\":\"sk-my-own\"}", 0, &f, &param));
    ASSERT_STR_EQ("sk-my-own", f.custom_key);
    sl_mgmt_key_fields_dispose(&f);
    ASSERT_TRUE(f.custom_key == NULL);
}

/* ---------------------------------------------------------------- config */

static const char bounds_yaml[] = "litellm_settings:\n"
                                  "  upperbound_key_generate_params:\n"
                                  "    max_budget: 100\n"
                                  "    tpm_limit: 1000\n"
                                  "    duration: 30d\n"
                                  "    budget_duration: 1mo\n"
                                  "  default_key_generate_params:\n"
                                  "    rpm_limit: 7\n"
                                  "    max_budget: 50\n"
                                  "    models: [gpt-a]\n"
                                  "    duration: 1d\n"
                                  "  key_generation_settings:\n"
                                  "    personal_key_generation:\n"
                                  "      allowed_user_roles: [proxy_admin, internal_user]\n";

TEST(upper_bound_rejects_over_limit)
{
    struct sl_config cfg;
    struct sl_mgmt_key_fields f;
    const char *param = NULL;

    load_config(bounds_yaml, &cfg);
    ASSERT_EQ(SL_OK, check_body("{\"max_budget\":150}", 0, &f, &param));
    ASSERT_EQ(SL_ERR_INVALID, sl_mgmt_apply_upper_bounds(&cfg, 1, &f, &param, &err));
    ASSERT_STR_EQ("max_budget", param);
    ASSERT_STR_EQ("max_budget is over max limit set in config - user_value=150; max_value=100",
                  err.msg);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK, check_body("{\"duration\":\"5w\"}", 0, &f, &param));
    ASSERT_EQ(SL_ERR_INVALID, sl_mgmt_apply_upper_bounds(&cfg, 1, &f, &param, &err));
    ASSERT_STR_EQ("duration is over max limit set in config - user_value=5w; max_value=30d",
                  err.msg);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK, check_body("{\"duration\":\"-1\"}", 1, &f, &param));
    ASSERT_EQ(SL_ERR_INVALID, sl_mgmt_apply_upper_bounds(&cfg, 0, &f, &param, &err));
    ASSERT_STR_EQ("duration is over max limit set in config - user_value=-1; max_value=30d",
                  err.msg);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK, check_body("{\"budget_duration\":\"30d\",\"tpm_limit\":1000}", 0, &f, &param));
    ASSERT_EQ(SL_OK, sl_mgmt_apply_upper_bounds(&cfg, 1, &f, &param, &err));
    sl_mgmt_key_fields_dispose(&f);
    sl_config_dispose(&cfg);
}

TEST(upper_bound_fills_on_generate_only)
{
    struct sl_config cfg;
    struct sl_mgmt_key_fields f;
    const char *param = NULL;

    load_config(bounds_yaml, &cfg);
    ASSERT_EQ(SL_OK, check_body("{}", 0, &f, &param));
    ASSERT_EQ(SL_OK, sl_mgmt_apply_upper_bounds(&cfg, 1, &f, &param, &err));
    ASSERT_STR_EQ("100", f.v[SL_MGMT_F_MAX_BUDGET].text);
    ASSERT_STR_EQ("1000", f.v[SL_MGMT_F_TPM_LIMIT].text);
    ASSERT_STR_EQ("30 days", f.v[SL_MGMT_F_DURATION].text);
    ASSERT_STR_EQ("1mo", f.v[SL_MGMT_F_BUDGET_DURATION].text);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK, check_body("{\"key\":\"sk-x\"}", 1, &f, &param));
    ASSERT_EQ(SL_OK, sl_mgmt_apply_upper_bounds(&cfg, 0, &f, &param, &err));
    ASSERT_EQ(0, f.v[SL_MGMT_F_MAX_BUDGET].set);
    sl_mgmt_key_fields_dispose(&f);
    sl_config_dispose(&cfg);
}

TEST(defaults_fill_left_out_fields)
{
    struct sl_config cfg;
    struct sl_mgmt_key_fields f;
    const char *param = NULL;

    load_config(bounds_yaml, &cfg);
    ASSERT_EQ(SL_OK, check_body("{\"models\":[]}", 0, &f, &param));
    ASSERT_EQ(SL_OK, sl_mgmt_apply_defaults(&cfg, &f, &err));
    ASSERT_STR_EQ("7", f.v[SL_MGMT_F_RPM_LIMIT].text);
    ASSERT_STR_EQ("50", f.v[SL_MGMT_F_MAX_BUDGET].text);
    ASSERT_STR_EQ("[\"gpt-a\"]", f.v[SL_MGMT_F_MODELS].text);
    ASSERT_STR_EQ("1 days", f.v[SL_MGMT_F_DURATION].text);
    sl_mgmt_key_fields_dispose(&f);

    ASSERT_EQ(SL_OK, check_body("{\"rpm_limit\":3,\"models\":[\"own\"]}", 0, &f, &param));
    ASSERT_EQ(SL_OK, sl_mgmt_apply_defaults(&cfg, &f, &err));
    ASSERT_STR_EQ("3", f.v[SL_MGMT_F_RPM_LIMIT].text);
    ASSERT_STR_EQ("[\"own\"]", f.v[SL_MGMT_F_MODELS].text);
    sl_mgmt_key_fields_dispose(&f);
    sl_config_dispose(&cfg);
}

TEST(personal_key_roles)
{
    struct sl_config cfg;

    load_config(bounds_yaml, &cfg);
    ASSERT_EQ(1, sl_mgmt_personal_key_allowed(&cfg, "internal_user"));
    ASSERT_EQ(0, sl_mgmt_personal_key_allowed(&cfg, "internal_user_viewer"));
    ASSERT_EQ(0, sl_mgmt_personal_key_allowed(&cfg, NULL));
    sl_config_dispose(&cfg);

    load_config("litellm_settings:\n  drop_params: true\n", &cfg);
    ASSERT_EQ(1, sl_mgmt_personal_key_allowed(&cfg, "internal_user_viewer"));
    sl_config_dispose(&cfg);
}

TEST(bad_config_duration_is_config_error)
{
    struct sl_config cfg;
    struct sl_mgmt_key_fields f;
    const char *param = NULL;

    load_config("litellm_settings:\n  upperbound_key_generate_params:\n    duration: soon\n", &cfg);
    ASSERT_EQ(SL_OK, check_body("{}", 0, &f, &param));
    ASSERT_EQ(SL_ERR_CONFIG, sl_mgmt_apply_upper_bounds(&cfg, 1, &f, &param, &err));
    ASSERT_CONTAINS(err.msg, "upperbound_key_generate_params");
    sl_mgmt_key_fields_dispose(&f);
    sl_config_dispose(&cfg);
}

/* ---------------------------------------------------------------- roles */

TEST(route_status_by_role)
{
    ASSERT_EQ(200, sl_mgmt_route_status("proxy_admin", "/key/delete", &err));
    ASSERT_EQ(200, sl_mgmt_route_status("internal_user", "/key/generate", &err));
    ASSERT_EQ(200, sl_mgmt_route_status("internal_user_viewer", "/key/info", &err));
    ASSERT_EQ(200, sl_mgmt_route_status("proxy_admin_viewer", "/key/list", &err));
    ASSERT_EQ(403, sl_mgmt_route_status("internal_user_viewer", "/key/generate", &err));
    ASSERT_CONTAINS(err.msg, "role= internal_user_viewer");
    ASSERT_EQ(403, sl_mgmt_route_status("proxy_admin_viewer", "/key/block", &err));
    ASSERT_EQ(403, sl_mgmt_route_status("internal_user", "/key/block", &err));
    ASSERT_CONTAINS(err.msg, "Only proxy_admin may block");
    ASSERT_EQ(403, sl_mgmt_route_status("internal_user", "/key/unblock", &err));
    ASSERT_EQ(200, sl_mgmt_route_status("proxy_admin", "/key/unblock", &err));
    ASSERT_EQ(401, sl_mgmt_route_status("customer", "/key/info", &err));
    ASSERT_CONTAINS(err.msg, "Only proxy admin");
}
