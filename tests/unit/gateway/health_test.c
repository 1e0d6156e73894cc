/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health_test -- the pure parts of deployment health checks: the probe each provider family
 * builds, the verdict and its redaction, the entry stored in Redis, a worker's table of
 * entries, and the GET /health body without credentials.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/health/entry.h"
#include "gateway/health/probe.h"
#include "gateway/health/report.h"
#include "provider_harness.h"
#include "test.h"

#define NOW_S 1733270400 /* 2024-12-04T00:00:00Z */

static void
load(struct sl_provider_setup *s, const char *params, const char *info)
{
    char yaml[2048];

    snprintf(yaml, sizeof(yaml),
             "model_list:\n- model_name: group\n  litellm_params:\n%s  model_info:\n%s", params,
             info);
    sl_harness_load(s, yaml, "health_test.yaml");
}

static const char *
header(const struct curl_slist *h, const char *prefix)
{
    for (; h != NULL; h = h->next)
        if (strncmp(h->data, prefix, strlen(prefix)) == 0)
            return h->data;
    return NULL;
}

/* ---------------------------------------------------------------- probe */

TEST(probe_chat_is_minimal)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    cJSON *body;

    load(&s,
         "    model: openai/gpt-4o-mini\n    api_key: sk-probe-1\n"
         "    api_base: http://127.0.0.1:9/v1\n",
         "    id: d1\n    health_check_timeout: 5\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    ASSERT_STR_EQ(p.req.url.data, "http://127.0.0.1:9/v1/chat/completions");
    ASSERT_EQ(p.timeout_ms, 5000);
    ASSERT_CONTAINS(header(p.req.headers, "Authorization:"), "sk-probe-1");
    body = sl_harness_parse_json(p.req.body.data, p.req.body.len, "probe body");
    ASSERT_STR_EQ(cJSON_GetObjectItem(body, "model")->valuestring, "gpt-4o-mini");
    ASSERT_EQ(cJSON_GetObjectItem(body, "max_tokens")->valueint, 1);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(body, "messages")), 1);
    ASSERT_TRUE(cJSON_GetObjectItem(body, "stream") == NULL);
    cJSON_Delete(body);
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

TEST(probe_embedding_mode)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    cJSON *body;

    load(&s,
         "    model: openai/text-embedding-3-small\n    api_key: sk-probe-2\n"
         "    api_base: http://127.0.0.1:9/v1\n",
         "    id: d2\n    mode: embedding\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    ASSERT_STR_EQ(p.req.url.data, "http://127.0.0.1:9/v1/embeddings");
    ASSERT_EQ(p.timeout_ms, 60000);
    body = sl_harness_parse_json(p.req.body.data, p.req.body.len, "probe body");
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(body, "input")));
    ASSERT_TRUE(cJSON_GetObjectItem(body, "messages") == NULL);
    cJSON_Delete(body);
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

TEST(probe_wildcard_needs_check_model)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    struct sl_errbuf err = {{0}};

    load(&s,
         "    model: openai/*\n    api_key: sk-probe-3\n"
         "    api_base: http://127.0.0.1:9/v1\n",
         "    id: d3\n");
    ASSERT_EQ(sl_health_probe_build(s.d, NOW_S, &p, &err), SL_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "health_check_model");
    sl_config_dispose(&s.cfg);
}

TEST(probe_wildcard_uses_check_model)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    cJSON *body;

    load(&s,
         "    model: openai/*\n    api_key: sk-probe-4\n"
         "    api_base: http://127.0.0.1:9/v1\n",
         "    id: d4\n    health_check_model: openai/gpt-4o-mini\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    body = sl_harness_parse_json(p.req.body.data, p.req.body.len, "probe body");
    ASSERT_STR_EQ(cJSON_GetObjectItem(body, "model")->valuestring, "gpt-4o-mini");
    cJSON_Delete(body);
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

TEST(probe_bedrock_is_signed)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;

    load(&s,
         "    model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n"
         "    aws_access_key_id: AKIDHEALTHTEST\n"
         "    aws_secret_access_key: health-secret-key\n"
         "    aws_region_name: us-east-1\n",
         "    id: d5\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    ASSERT_CONTAINS(p.req.url.data, "bedrock-runtime.us-east-1.amazonaws.com");
    ASSERT_CONTAINS(header(p.req.headers, "Authorization:"), "AWS4-HMAC-SHA256");
    ASSERT_CONTAINS(header(p.req.headers, "Authorization:"), "AKIDHEALTHTEST");
    ASSERT_CONTAINS(p.req.body.data, "\"maxTokens\":1");
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- verdict */

TEST(verdict_2xx_is_healthy)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    char msg[SL_HEALTH_ERROR_MAX + 1];

    load(&s, "    model: openai/m\n    api_key: sk-verdict-1\n    api_base: http://127.0.0.1:9\n",
         "    id: v1\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    ASSERT_EQ(sl_health_probe_verdict(&p, s.d, 200, "{}", 2, NULL, msg, sizeof(msg)), 1);
    ASSERT_STR_EQ(msg, "");
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

TEST(verdict_error_redacts_key)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    char msg[SL_HEALTH_ERROR_MAX + 1];
    const char *body = "{\"error\":{\"message\":\"Incorrect API key sk-verdict-secret-2\\nend\"}}";

    load(&s,
         "    model: openai/m\n    api_key: sk-verdict-secret-2\n"
         "    api_base: http://127.0.0.1:9\n",
         "    id: v2\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    ASSERT_EQ(sl_health_probe_verdict(&p, s.d, 401, body, strlen(body), NULL, msg, sizeof(msg)), 0);
    ASSERT_CONTAINS(msg, "HTTP 401");
    ASSERT_CONTAINS(msg, "Incorrect API key ***");
    ASSERT_TRUE(strstr(msg, "sk-verdict-secret-2") == NULL);
    ASSERT_TRUE(strchr(msg, '\n') == NULL);
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

TEST(verdict_transport_error_capped)
{
    struct sl_provider_setup s;
    struct sl_health_probe p;
    char msg[SL_HEALTH_ERROR_MAX + 1];
    char longer[600];

    load(&s, "    model: openai/m\n    api_key: sk-verdict-3\n    api_base: http://127.0.0.1:9\n",
         "    id: v3\n");
    ASSERT_OK(sl_health_probe_build(s.d, NOW_S, &p, NULL));
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ASSERT_EQ(sl_health_probe_verdict(&p, s.d, 0, NULL, 0, longer, msg, sizeof(msg)), 0);
    ASSERT_EQ(strlen(msg), SL_HEALTH_ERROR_MAX);
    ASSERT_EQ(
        sl_health_probe_verdict(&p, s.d, 200, NULL, 0, "Connection refused", msg, sizeof(msg)), 0);
    ASSERT_STR_EQ(msg, "Connection refused");
    sl_health_probe_dispose(&p);
    sl_config_dispose(&s.cfg);
}

/* ---------------------------------------------------------------- entry */

static struct sl_health_entry
entry(const char *id, int healthy, uint64_t checked_at_ms, uint64_t ttl_ms)
{
    struct sl_health_entry e;

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", id);
    e.healthy = healthy;
    e.checked_at_ms = checked_at_ms;
    e.ttl_ms = ttl_ms;
    if (!healthy)
        snprintf(e.error, sizeof(e.error), "HTTP 500: \"broken\"");
    return e;
}

TEST(entry_round_trip)
{
    struct sl_health_entry in = entry("dep \"one\"", 0, 1733270400123ull, 3000);
    struct sl_health_entry out;
    struct sl_buf b;

    sl_buf_init(&b, 0);
    sl_health_entry_encode(&in, &b);
    ASSERT_OK(sl_health_entry_decode(b.data, b.len, &out));
    ASSERT_STR_EQ(out.id, "dep \"one\"");
    ASSERT_EQ(out.healthy, 0);
    ASSERT_EQ(out.checked_at_ms, 1733270400123ull);
    ASSERT_EQ(out.ttl_ms, 3000);
    ASSERT_STR_EQ(out.error, "HTTP 500: \"broken\"");
    sl_buf_dispose(&b);
}

TEST(entry_decode_rejects_bad_input)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"healthy\":true,\"checked_at_ms\":1,\"ttl_ms\":1,\"error\":\"\"}",
        "{\"id\":\"\",\"healthy\":true,\"checked_at_ms\":1,\"ttl_ms\":1,\"error\":\"\"}",
        "{\"id\":\"a\",\"healthy\":1,\"checked_at_ms\":1,\"ttl_ms\":1,\"error\":\"\"}",
        "{\"id\":\"a\",\"healthy\":true,\"checked_at_ms\":-1,\"ttl_ms\":1,\"error\":\"\"}",
        "{\"id\":\"a\",\"healthy\":true,\"checked_at_ms\":1.5,\"ttl_ms\":1,\"error\":\"\"}",
        "{\"id\":\"a\",\"healthy\":true,\"checked_at_ms\":1,\"error\":\"\"}",
        "{\"id\":\"a\",\"healthy\":true,\"checked_at_ms\":1,\"ttl_ms\":1}",
        "{\"id\":\"a\",\"healthy\":true,\"checked_at_ms\":1,\"ttl_ms\":1,\"error\":\"\"",
    };
    struct sl_health_entry out = entry("untouched", 1, 7, 7);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_health_entry_decode(bad[i], strlen(bad[i]), &out) != SL_ERR_INVALID)
            SL_TEST_FAIL("accepted case %zu: %s", i, bad[i]);
        ASSERT_STR_EQ(out.id, "untouched");
    }
}

TEST(entry_decode_caps_length)
{
    char big[SL_HEALTH_ENTRY_MAX_BYTES + 64];
    char id[SL_HEALTH_ID_MAX + 2];
    struct sl_health_entry out;
    int n;

    memset(big, ' ', sizeof(big));
    ASSERT_EQ(sl_health_entry_decode(big, sizeof(big), &out), SL_ERR_TOO_LARGE);

    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    n = snprintf(big, sizeof(big),
                 "{\"id\":\"%s\",\"healthy\":true,\"checked_at_ms\":1,\"ttl_ms\":1,\"error\":\"\"}",
                 id);
    ASSERT_EQ(sl_health_entry_decode(big, (size_t)n, &out), SL_ERR_INVALID);
}

TEST(entry_expires_after_ttl)
{
    struct sl_health_entry e = entry("a", 1, 1000, 3000);

    ASSERT_EQ(sl_health_entry_fresh(&e, 1000), 1);
    ASSERT_EQ(sl_health_entry_fresh(&e, 3999), 1);
    ASSERT_EQ(sl_health_entry_fresh(&e, 4000), 0);
}

/* ---------------------------------------------------------------- table */

TEST(table_keeps_newest_result)
{
    struct sl_health_table t;
    struct sl_health_entry newer = entry("a", 0, 2000, 10000);
    struct sl_health_entry older = entry("a", 1, 1000, 10000);
    const struct sl_health_entry *got;

    sl_health_table_init(&t);
    sl_health_table_put(&t, &newer);
    sl_health_table_put(&t, &older);
    got = sl_health_table_get(&t, "a", 2500);
    ASSERT_TRUE(got != NULL);
    ASSERT_EQ(got->healthy, 0);
    ASSERT_EQ(t.n, 1);
    ASSERT_TRUE(sl_health_table_get(&t, "b", 2500) == NULL);
    sl_health_table_dispose(&t);
}

TEST(table_ignores_stale_entries)
{
    struct sl_health_table t;
    struct sl_health_entry e = entry("a", 0, 1000, 3000);

    sl_health_table_init(&t);
    sl_health_table_put(&t, &e);
    ASSERT_TRUE(sl_health_table_get(&t, "a", 3999) != NULL);
    ASSERT_TRUE(sl_health_table_get(&t, "a", 4000) == NULL);
    sl_health_table_dispose(&t);
}

TEST(table_full_replaces_oldest)
{
    struct sl_health_table t;
    char id[32];

    sl_health_table_init(&t);
    for (unsigned i = 0; i < SL_HEALTH_MAX_ENTRIES; i++) {
        struct sl_health_entry e;

        snprintf(id, sizeof(id), "d%u", i);
        e = entry(id, 1, 1000 + i, 1000000);
        sl_health_table_put(&t, &e);
    }
    ASSERT_EQ(t.n, SL_HEALTH_MAX_ENTRIES);
    {
        struct sl_health_entry extra = entry("extra", 0, 50000, 1000000);

        sl_health_table_put(&t, &extra);
    }
    ASSERT_EQ(t.n, SL_HEALTH_MAX_ENTRIES);
    ASSERT_TRUE(sl_health_table_get(&t, "extra", 60000) != NULL);
    ASSERT_TRUE(sl_health_table_get(&t, "d0", 60000) == NULL);
    ASSERT_TRUE(sl_health_table_get(&t, "d1", 60000) != NULL);
    sl_health_table_dispose(&t);
}

/* ---------------------------------------------------------------- report */

TEST(report_params_have_no_secrets)
{
    struct sl_provider_setup s;
    struct sl_buf b;
    cJSON *obj;

    load(&s,
         "    model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n"
         "    api_key: sk-report-secret\n"
         "    aws_access_key_id: AKIDREPORTSECRET\n"
         "    aws_secret_access_key: report-secret-access\n"
         "    aws_session_token: report-session-token\n"
         "    aws_region_name: eu-west-1\n"
         "    rpm: 10\n"
         "    extra_headers:\n      x-api-key: report-header-secret\n",
         "    id: r1\n");
    sl_buf_init(&b, 0);
    sl_health_append_params(&b, s.d);
    obj = sl_harness_parse_json(b.data, b.len, "params");
    ASSERT_STR_EQ(cJSON_GetObjectItem(obj, "model")->valuestring,
                  "bedrock/anthropic.claude-3-haiku-20240307-v1:0");
    ASSERT_STR_EQ(cJSON_GetObjectItem(obj, "model_id")->valuestring, "r1");
    ASSERT_STR_EQ(cJSON_GetObjectItem(obj, "aws_region_name")->valuestring, "eu-west-1");
    ASSERT_EQ(cJSON_GetObjectItem(obj, "rpm")->valueint, 10);
    ASSERT_TRUE(strstr(b.data, "secret") == NULL);
    ASSERT_TRUE(strstr(b.data, "AKID") == NULL);
    ASSERT_TRUE(strstr(b.data, "session") == NULL);
    cJSON_Delete(obj);
    sl_buf_dispose(&b);
    sl_config_dispose(&s.cfg);
}

TEST(report_lists_and_counts)
{
    struct sl_provider_setup s;
    struct sl_health_report rep;
    struct sl_buf b;
    cJSON *obj;
    cJSON *bad;

    load(&s, "    model: openai/m\n    api_key: sk-report-2\n    api_base: http://127.0.0.1:9\n",
         "    id: r2\n");
    sl_health_report_init(&rep);
    sl_health_report_add(&rep, s.d, NULL);
    sl_health_report_add(&rep, s.d, "HTTP 500: down");
    sl_health_report_add(&rep, s.d, "HTTP 429: slow");
    sl_buf_init(&b, 0);
    sl_health_report_finish(&rep, &b);
    obj = sl_harness_parse_json(b.data, b.len, "report");
    ASSERT_EQ(cJSON_GetObjectItem(obj, "healthy_count")->valueint, 1);
    ASSERT_EQ(cJSON_GetObjectItem(obj, "unhealthy_count")->valueint, 2);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(obj, "healthy_endpoints")), 1);
    bad = cJSON_GetObjectItem(obj, "unhealthy_endpoints");
    ASSERT_EQ(cJSON_GetArraySize(bad), 2);
    ASSERT_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(bad, 1), "error")->valuestring,
                  "HTTP 429: slow");
    ASSERT_TRUE(cJSON_GetObjectItem(cJSON_GetArrayItem(obj->child, 0), "error") == NULL);
    ASSERT_TRUE(strstr(b.data, "sk-report-2") == NULL);
    cJSON_Delete(obj);
    sl_buf_dispose(&b);
    sl_health_report_dispose(&rep);
    sl_config_dispose(&s.cfg);
}
