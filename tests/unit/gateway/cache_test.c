/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache_test -- the pure part of the response cache (gateway/cache/cache.c and stream.c):
 * controls, canonical keys, stream assembly and replay, stored entries, and the
 * litellm_settings.cache_params options they are configured by.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json.h"
#include "common/sse.h"
#include "gateway/cache/cache.h"
#include "test.h"

static cJSON *
parse(const char *text)
{
    cJSON *v = NULL;

    if (sl_json_parse(text, strlen(text), SL_JSON_MAX_DEPTH, &v, NULL) != SL_OK)
        abort();
    return v;
}

/* Writes the key of the chat request `text` for group "g", tenant "t", no namespace. */
static void
key_of(const char *text, char out[SL_CACHE_KEY_MAX])
{
    cJSON *body = parse(text);

    sl_cache_key(body, "chat", "g", "t", NULL, out);
    cJSON_Delete(body);
}

static enum sl_status
parse_controls(const char *text, struct sl_cache_controls *c, const char **param)
{
    cJSON *body = parse(text);
    struct sl_errbuf err;
    enum sl_status rc = sl_cache_controls_parse(body, c, param, &err);

    cJSON_Delete(body);
    return rc;
}

/* ---- config ---------------------------------------------------------------------------- */

static enum sl_status
load(const char *yaml, struct sl_config *cfg, struct sl_errbuf *err)
{
    return sl_config_load_buffer(yaml, strlen(yaml), "cache.yaml", cfg, err);
}

TEST(cache_config_defaults)
{
    struct sl_config cfg;
    struct sl_errbuf err;

    ASSERT_OK(load("litellm_settings:\n  cache: true\n", &cfg, &err));
    ASSERT_EQ(1, cfg.cache);
    ASSERT_EQ(SL_CACHE_REDIS, cfg.cache_type);
    ASSERT_DBL_EQ(60, cfg.cache_ttl_s);
    ASSERT_TRUE(cfg.cache_namespace == NULL);
    ASSERT_EQ(SL_CACHE_DEFAULT_ON, cfg.cache_mode);
    ASSERT_EQ(6, cfg.cache_supported_call_types.n);
    ASSERT_STR_EQ("completion", cfg.cache_supported_call_types.items[0]);
    ASSERT_STR_EQ("atext_completion", cfg.cache_supported_call_types.items[5]);
    ASSERT_EQ(0, cfg.cache_shared_across_teams);
    ASSERT_EQ(1048576, cfg.cache_max_entry_bytes);
    sl_config_dispose(&cfg);
}

TEST(cache_config_all_params)
{
    struct sl_config cfg;
    struct sl_errbuf err;

    ASSERT_OK(load("litellm_settings:\n"
                   "  cache: true\n"
                   "  cache_params:\n"
                   "    type: redis\n"
                   "    ttl: 5m\n"
                   "    namespace: prod\n"
                   "    mode: default_off\n"
                   "    supported_call_types: [acompletion]\n"
                   "    shared_across_teams: true\n"
                   "    max_entry_bytes: 4096\n",
                   &cfg, &err));
    ASSERT_DBL_EQ(300, cfg.cache_ttl_s);
    ASSERT_STR_EQ("prod", cfg.cache_namespace);
    ASSERT_EQ(SL_CACHE_DEFAULT_OFF, cfg.cache_mode);
    ASSERT_EQ(1, cfg.cache_supported_call_types.n);
    ASSERT_STR_EQ("acompletion", cfg.cache_supported_call_types.items[0]);
    ASSERT_EQ(1, cfg.cache_shared_across_teams);
    ASSERT_EQ(4096, cfg.cache_max_entry_bytes);
    sl_config_dispose(&cfg);
}

/* An empty list turns response caching off; a null one keeps the default list. */
TEST(cache_config_call_types_empty_or_null)
{
    struct sl_config cfg;
    struct sl_errbuf err;

    ASSERT_OK(load("litellm_settings:\n  cache_params: {supported_call_types: []}\n", &cfg,
                   &err));
    ASSERT_EQ(0, cfg.cache_supported_call_types.n);
    sl_config_dispose(&cfg);

    ASSERT_OK(load("litellm_settings:\n  cache_params: {supported_call_types: null}\n", &cfg,
                   &err));
    ASSERT_EQ(6, cfg.cache_supported_call_types.n);
    sl_config_dispose(&cfg);
}

TEST(cache_config_rejects_bad_values)
{
    struct sl_config cfg;
    struct sl_errbuf err;
    char long_ns[400];

    ASSERT_EQ(SL_ERR_CONFIG, load("litellm_settings:\n  cache_params: {type: local}\n", &cfg,
                                  &err));
    ASSERT_CONTAINS(err.msg, "cache_params.type");
    ASSERT_CONTAINS(err.msg, "expected one of: redis)");

    ASSERT_EQ(SL_ERR_CONFIG, load("litellm_settings:\n  cache_params: {ttl: 0}\n", &cfg, &err));
    ASSERT_CONTAINS(err.msg, "cache_params.ttl");
    ASSERT_EQ(SL_ERR_CONFIG, load("litellm_settings:\n  cache_params: {mode: always}\n", &cfg,
                                  &err));
    ASSERT_CONTAINS(err.msg, "default_on, default_off");
    ASSERT_EQ(SL_ERR_CONFIG, load("litellm_settings:\n  cache_params: {max_entry_bytes: 10}\n",
                                  &cfg, &err));
    ASSERT_CONTAINS(err.msg, "max_entry_bytes");

    memset(long_ns, 'n', sizeof(long_ns));
    memcpy(long_ns, "litellm_settings:\n  cache_params: {namespace: ", 46);
    memcpy(long_ns + sizeof(long_ns) - 3, "}\n", 3);
    ASSERT_EQ(SL_ERR_CONFIG, load(long_ns, &cfg, &err));
    ASSERT_CONTAINS(err.msg, "namespace is longer than 256 bytes");
}

/* ---- controls -------------------------------------------------------------------------- */

TEST(cache_controls_parse_all)
{
    struct sl_cache_controls c;
    const char *param = "x";

    ASSERT_OK(parse_controls("{\"caching\": false, \"cache\": {\"ttl\": 600, \"s-maxage\": 30, "
                             "\"no-cache\": true, \"no-store\": true, \"namespace\": \"ns\", "
                             "\"use-cache\": true, \"other\": 1}}",
                             &c, &param));
    ASSERT_TRUE(param == NULL);
    ASSERT_EQ(600, c.ttl_s);
    ASSERT_EQ(30, c.s_maxage_s);
    ASSERT_EQ(1, c.no_cache);
    ASSERT_EQ(1, c.no_store);
    ASSERT_STR_EQ("ns", c.namespace);
    ASSERT_EQ(1, c.use_cache);
    ASSERT_EQ(1, c.caching_off);
    sl_cache_controls_dispose(&c);
    ASSERT_TRUE(c.namespace == NULL);
    ASSERT_EQ(-1, c.ttl_s);
}

TEST(cache_controls_unset_and_alternate_spelling)
{
    struct sl_cache_controls c;
    const char *param;

    ASSERT_OK(parse_controls("{\"model\": \"m\"}", &c, &param));
    ASSERT_EQ(-1, c.ttl_s);
    ASSERT_EQ(-1, c.s_maxage_s);
    ASSERT_EQ(0, c.no_cache);
    ASSERT_EQ(0, c.no_store);
    ASSERT_EQ(0, c.use_cache);
    ASSERT_EQ(0, c.caching_off);
    ASSERT_TRUE(c.namespace == NULL);
    sl_cache_controls_dispose(&c);

    ASSERT_OK(parse_controls("{\"caching\": true, \"cache\": {\"s-max-age\": 0}}", &c, &param));
    ASSERT_EQ(0, c.s_maxage_s);
    ASSERT_EQ(0, c.caching_off);
    sl_cache_controls_dispose(&c);
}

TEST(cache_controls_wrong_types)
{
    static const struct {
        const char *body;
        const char *param;
    } cases[] = {
        {"{\"cache\": true}", "cache"},
        {"{\"caching\": \"no\"}", "caching"},
        {"{\"cache\": {\"ttl\": \"60\"}}", "cache.ttl"},
        {"{\"cache\": {\"ttl\": 0}}", "cache.ttl"},
        {"{\"cache\": {\"ttl\": 1.5}}", "cache.ttl"},
        {"{\"cache\": {\"ttl\": 1e12}}", "cache.ttl"},
        {"{\"cache\": {\"s-maxage\": -1}}", "cache.s-maxage"},
        {"{\"cache\": {\"s-max-age\": []}}", "cache.s-max-age"},
        {"{\"cache\": {\"no-cache\": 1}}", "cache.no-cache"},
        {"{\"cache\": {\"no-store\": \"true\"}}", "cache.no-store"},
        {"{\"cache\": {\"use-cache\": {}}}", "cache.use-cache"},
        {"{\"cache\": {\"namespace\": 5}}", "cache.namespace"},
        {"{\"cache\": {\"namespace\": \"a\\r\\nx-evil: 1\"}}", "cache.namespace"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_cache_controls c;
        cJSON *body = parse(cases[i].body);
        struct sl_errbuf err;
        const char *param = NULL;

        ASSERT_EQ(SL_ERR_INVALID, sl_cache_controls_parse(body, &c, &param, &err));
        ASSERT_STR_EQ(cases[i].param, param);
        ASSERT_CONTAINS(err.msg, cases[i].param);
        sl_cache_controls_dispose(&c);
        cJSON_Delete(body);
    }
}

TEST(cache_controls_namespace_too_long)
{
    char body[400];
    struct sl_cache_controls c;
    const char *param;
    int n = snprintf(body, sizeof(body), "{\"cache\": {\"namespace\": \"%0*d\"}}", 257, 0);

    ASSERT_TRUE(n > 0);
    ASSERT_TRUE((size_t)n < sizeof(body));
    ASSERT_EQ(SL_ERR_INVALID, parse_controls(body, &c, &param));
    sl_cache_controls_dispose(&c);
}

TEST(cache_controls_forbidden)
{
    static const char *const only_ttl[] = {"ttl"};
    static const char *const ttl_and_ns[] = {"ttl", "namespace"};
    cJSON *body = parse("{\"cache\": {\"ttl\": 5, \"namespace\": \"a\", \"no-store\": null}}");
    cJSON *plain = parse("{\"model\": \"m\"}");
    struct sl_cache_controls c;
    const char *param;
    struct sl_errbuf err;

    ASSERT_OK(sl_cache_controls_parse(body, &c, &param, &err));
    ASSERT_TRUE(sl_cache_controls_forbidden(&c, body, NULL, 0) == NULL);
    ASSERT_STR_EQ("namespace", sl_cache_controls_forbidden(&c, body, only_ttl, 1));
    ASSERT_STR_EQ("no-store", sl_cache_controls_forbidden(&c, body, ttl_and_ns, 2));
    ASSERT_TRUE(sl_cache_controls_forbidden(&c, plain, only_ttl, 1) == NULL);
    sl_cache_controls_dispose(&c);
    cJSON_Delete(body);
    cJSON_Delete(plain);
}

/* ---- keys ------------------------------------------------------------------------------ */

static const char base_request[] =
    "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],"
    " \"temperature\": 0.5}";

TEST(cache_key_format)
{
    char key[SL_CACHE_KEY_MAX];
    cJSON *body = parse(base_request);

    sl_cache_key(body, "chat", "g", NULL, NULL, key);
    ASSERT_EQ(64, strlen(key));
    ASSERT_EQ(64, strspn(key, "0123456789abcdef"));

    sl_cache_key(body, "chat", "g", NULL, "", key);
    ASSERT_EQ(64, strlen(key));

    sl_cache_key(body, "chat", "g", NULL, "prod", key);
    ASSERT_EQ(5 + 64, strlen(key));
    ASSERT_EQ(0, strncmp(key, "prod:", 5));
    cJSON_Delete(body);
}

TEST(cache_key_ignores_member_order)
{
    char a[SL_CACHE_KEY_MAX];
    char b[SL_CACHE_KEY_MAX];

    key_of("{\"model\": \"gpt\", \"temperature\": 0.5, \"response_format\": {\"type\": "
           "\"json_schema\", \"json_schema\": {\"name\": \"x\", \"strict\": true}}, "
           "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
           a);
    key_of("{\"messages\": [{\"content\": \"hi\", \"role\": \"user\"}], \"response_format\": "
           "{\"json_schema\": {\"strict\": true, \"name\": \"x\"}, \"type\": \"json_schema\"}, "
           "\"temperature\": 0.5, \"model\": \"gpt\"}",
           b);
    ASSERT_STR_EQ(a, b);
}

/* Numbers with the same double value give the same key, whatever their spelling. */
TEST(cache_key_number_forms)
{
    static const char *const same[][2] = {
        {"{\"temperature\": 1}", "{\"temperature\": 1.0}"},
        {"{\"temperature\": 100}", "{\"temperature\": 1e2}"},
        {"{\"temperature\": 0.5}", "{\"temperature\": 5E-1}"},
        {"{\"temperature\": 0}", "{\"temperature\": -0}"},
        {"{\"seed\": 9007199254740992}", "{\"seed\": 9.007199254740992e15}"},
        {"{\"x\": 0.1}", "{\"x\": 0.10000000000000000555}"},
    };
    static const char *const different[][2] = {
        {"{\"temperature\": 1}", "{\"temperature\": \"1\"}"},
        {"{\"temperature\": 0.1}", "{\"temperature\": 0.1000000000000001}"},
        {"{\"seed\": 1}", "{\"seed\": -1}"},
        {"{\"x\": 1e300}", "{\"x\": 1e301}"},
    };
    char a[SL_CACHE_KEY_MAX];
    char b[SL_CACHE_KEY_MAX];

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        key_of(same[i][0], a);
        key_of(same[i][1], b);
        ASSERT_STR_EQ(a, b);
    }
    for (size_t i = 0; i < sizeof(different) / sizeof(different[0]); i++) {
        key_of(different[i][0], a);
        key_of(different[i][1], b);
        ASSERT_TRUE(strcmp(a, b) != 0);
    }
}

/* Each of these changes the response, so each must change the key. */
TEST(cache_key_changes_with_each_parameter)
{
    static const char *const changed[] = {
        "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": \"hey\"}], "
        "\"temperature\": 0.5}",
        "{\"model\": \"gpt\", \"messages\": [{\"role\": \"system\", \"content\": \"hi\"}], "
        "\"temperature\": 0.5}",
        "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
        "\"temperature\": 0.7}",
        "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
    };
    static const char *const added[] = {
        "\"top_p\": 0.9",
        "\"top_k\": 5",
        "\"max_tokens\": 10",
        "\"max_completion_tokens\": 10",
        "\"n\": 2",
        "\"stop\": [\"x\"]",
        "\"seed\": 7",
        "\"presence_penalty\": 1",
        "\"frequency_penalty\": 1",
        "\"logit_bias\": {\"50256\": -100}",
        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]",
        "\"tool_choice\": \"required\"",
        "\"parallel_tool_calls\": false",
        "\"response_format\": {\"type\": \"json_object\"}",
        "\"reasoning_effort\": \"low\"",
        "\"thinking\": {\"type\": \"enabled\", \"budget_tokens\": 1024}",
        "\"safety_settings\": []",
        "\"input\": \"x\"",
        "\"prompt\": \"x\"",
        "\"logprobs\": true",
    };
    char base[SL_CACHE_KEY_MAX];
    char other[SL_CACHE_KEY_MAX];
    char text[512];

    key_of(base_request, base);
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
        key_of(changed[i], other);
        ASSERT_TRUE(strcmp(base, other) != 0);
    }
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
        int n = snprintf(text, sizeof(text), "%.*s, %s}", (int)strlen(base_request) - 1,
                         base_request, added[i]);

        ASSERT_TRUE(n > 0);
        ASSERT_TRUE((size_t)n < sizeof(text));
        key_of(text, other);
        if (strcmp(base, other) == 0)
            SL_TEST_FAIL("adding %s did not change the key", added[i]);
    }
}

/* Delivery, identity, controls and routing fields leave the key as it is. */
TEST(cache_key_ignores_non_answer_members)
{
    static const char *const added[] = {
        "\"stream\": true",
        "\"stream_options\": {\"include_usage\": true}",
        "\"user\": \"alice\"",
        "\"metadata\": {\"trace\": 1}",
        "\"cache\": {\"no-cache\": true}",
        "\"caching\": true",
        "\"fallbacks\": [\"other\"]",
        "\"num_retries\": 3",
        "\"timeout\": 5",
        "\"mock_response\": \"x\"",
        "\"tags\": [\"a\"]",
    };
    char base[SL_CACHE_KEY_MAX];
    char other[SL_CACHE_KEY_MAX];
    char text[512];

    key_of(base_request, base);
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
        int n = snprintf(text, sizeof(text), "%.*s, %s}", (int)strlen(base_request) - 1,
                         base_request, added[i]);

        ASSERT_TRUE(n > 0);
        ASSERT_TRUE((size_t)n < sizeof(text));
        key_of(text, other);
        if (strcmp(base, other) != 0)
            SL_TEST_FAIL("adding %s changed the key", added[i]);
    }
}

/* The model group is hashed, not the body's model; kind, tenant and namespace all count. */
TEST(cache_key_group_tenant_namespace_kind)
{
    cJSON *body = parse(base_request);
    cJSON *other_model = parse("{\"model\": \"alias\", \"messages\": [{\"role\": \"user\", "
                               "\"content\": \"hi\"}], \"temperature\": 0.5}");
    char base[SL_CACHE_KEY_MAX];
    char k[SL_CACHE_KEY_MAX];

    sl_cache_key(body, "chat", "g", "team-a", NULL, base);
    sl_cache_key(other_model, "chat", "g", "team-a", NULL, k);
    ASSERT_STR_EQ(base, k);

    sl_cache_key(body, "chat", "g2", "team-a", NULL, k);
    ASSERT_TRUE(strcmp(base, k) != 0);
    sl_cache_key(body, "chat", "g", "team-b", NULL, k);
    ASSERT_TRUE(strcmp(base, k) != 0);
    sl_cache_key(body, "chat", "g", NULL, NULL, k);
    ASSERT_TRUE(strcmp(base, k) != 0);
    sl_cache_key(body, "chat", "g", "", NULL, k);
    ASSERT_TRUE(strcmp(base, k) != 0);
    sl_cache_key(body, "completion", "g", "team-a", NULL, k);
    ASSERT_TRUE(strcmp(base, k) != 0);
    sl_cache_key(body, "chat", "g", "team-a", "ns", k);
    ASSERT_STR_EQ(base, k + 3);
    ASSERT_EQ(0, strncmp(k, "ns:", 3));

    cJSON_Delete(body);
    cJSON_Delete(other_model);
}

TEST(cache_key_embedding_inputs)
{
    cJSON *list = parse("{\"model\": \"e\", \"input\": [\"a\", \"b\", \"a\"], \"dimensions\": 8}");
    cJSON *single = parse("{\"input\": \"a\", \"dimensions\": 8, \"model\": \"e\"}");
    cJSON *dims = parse("{\"model\": \"e\", \"input\": [\"a\"], \"dimensions\": 16}");
    cJSON *fmt = parse("{\"model\": \"e\", \"input\": [\"a\"], \"dimensions\": 8, "
                       "\"encoding_format\": \"base64\"}");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "input");
    char k0[SL_CACHE_KEY_MAX];
    char k1[SL_CACHE_KEY_MAX];
    char k2[SL_CACHE_KEY_MAX];
    char k[SL_CACHE_KEY_MAX];

    sl_cache_embedding_input_key(list, cJSON_GetArrayItem(items, 0), "e", "t", NULL, k0);
    sl_cache_embedding_input_key(list, cJSON_GetArrayItem(items, 1), "e", "t", NULL, k1);
    sl_cache_embedding_input_key(list, cJSON_GetArrayItem(items, 2), "e", "t", NULL, k2);
    ASSERT_TRUE(strcmp(k0, k1) != 0);
    ASSERT_STR_EQ(k0, k2);

    /* The same input sent alone shares the entry. */
    sl_cache_embedding_input_key(single, cJSON_GetObjectItemCaseSensitive(single, "input"), "e",
                                 "t", NULL, k);
    ASSERT_STR_EQ(k0, k);
    /* The whole-request key of that body is another key. */
    sl_cache_key(single, "embedding", "e", "t", NULL, k);
    ASSERT_TRUE(strcmp(k0, k) != 0);

    sl_cache_embedding_input_key(dims, cJSON_GetArrayItem(items, 0), "e", "t", NULL, k);
    ASSERT_TRUE(strcmp(k0, k) != 0);
    sl_cache_embedding_input_key(fmt, cJSON_GetArrayItem(items, 0), "e", "t", NULL, k);
    ASSERT_TRUE(strcmp(k0, k) != 0);
    sl_cache_embedding_input_key(list, cJSON_GetArrayItem(items, 0), "e", "u", NULL, k);
    ASSERT_TRUE(strcmp(k0, k) != 0);

    cJSON_Delete(list);
    cJSON_Delete(single);
    cJSON_Delete(dims);
    cJSON_Delete(fmt);
}

/* ---- assembler ------------------------------------------------------------------------- */

/* Feeds each chunk of `chunks` (JSON texts) and returns the last status. */
static enum sl_status
feed_all(struct sl_cache_assembler *a, const char *const *chunks, size_t n)
{
    enum sl_status rc = SL_OK;

    for (size_t i = 0; i < n; i++) {
        cJSON *chunk = parse(chunks[i]);

        rc = sl_cache_assembler_feed(a, chunk);
        cJSON_Delete(chunk);
    }
    return rc;
}

#define HEAD "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
             "\"model\":\"gpt-4o\",\"system_fingerprint\":\"fp_1\""

static const char *const text_stream[] = {
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\\"w\\\"\"},"
    "\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
    "{" HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
    "\"total_tokens\":5}}",
};

TEST(cache_assembler_text)
{
    struct sl_cache_assembler a;
    cJSON *out;
    const cJSON *choice;
    const cJSON *message;

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_OK(feed_all(&a, text_stream, sizeof(text_stream) / sizeof(text_stream[0])));
    out = sl_cache_assembler_finish(&a);
    ASSERT_TRUE(out != NULL);
    ASSERT_STR_EQ("chatcmpl-1", sl_json_get_string(out, "id"));
    ASSERT_STR_EQ("chat.completion", sl_json_get_string(out, "object"));
    ASSERT_STR_EQ("gpt-4o", sl_json_get_string(out, "model"));
    ASSERT_STR_EQ("fp_1", sl_json_get_string(out, "system_fingerprint"));
    ASSERT_DBL_EQ(1700000000, cJSON_GetObjectItemCaseSensitive(out, "created")->valuedouble);
    ASSERT_EQ(1, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "choices")));
    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "choices"), 0);
    ASSERT_STR_EQ("stop", sl_json_get_string(choice, "finish_reason"));
    message = cJSON_GetObjectItemCaseSensitive(choice, "message");
    ASSERT_STR_EQ("assistant", sl_json_get_string(message, "role"));
    ASSERT_STR_EQ("Hello \"w\"", sl_json_get_string(message, "content"));
    ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(message, "tool_calls") == NULL);
    ASSERT_DBL_EQ(5, cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(out, "usage"), "total_tokens")
                         ->valuedouble);
    cJSON_Delete(out);
    sl_cache_assembler_dispose(&a);
}

static const char *const tool_stream[] = {
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
    "\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":"
    "\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
    "\"{}\"}}]},\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
};

TEST(cache_assembler_tool_calls_split)
{
    struct sl_cache_assembler a;
    cJSON *out;
    const cJSON *message;
    const cJSON *calls;
    const cJSON *call;

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_OK(feed_all(&a, tool_stream, sizeof(tool_stream) / sizeof(tool_stream[0])));
    out = sl_cache_assembler_finish(&a);
    ASSERT_TRUE(out != NULL);
    message = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "choices"), 0), "message");
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(message, "content")));
    calls = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");
    ASSERT_EQ(2, cJSON_GetArraySize(calls));
    call = cJSON_GetArrayItem(calls, 0);
    ASSERT_STR_EQ("call_a", sl_json_get_string(call, "id"));
    ASSERT_STR_EQ("function", sl_json_get_string(call, "type"));
    ASSERT_STR_EQ("get_weather",
                  sl_json_get_string(cJSON_GetObjectItemCaseSensitive(call, "function"), "name"));
    ASSERT_STR_EQ("{\"city\":\"Paris\"}",
                  sl_json_get_string(cJSON_GetObjectItemCaseSensitive(call, "function"),
                                     "arguments"));
    call = cJSON_GetArrayItem(calls, 1);
    ASSERT_STR_EQ("call_b", sl_json_get_string(call, "id"));
    ASSERT_STR_EQ("{}",
                  sl_json_get_string(cJSON_GetObjectItemCaseSensitive(call, "function"),
                                     "arguments"));
    ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(out, "usage") == NULL);
    cJSON_Delete(out);
    sl_cache_assembler_dispose(&a);
}

static const char *const two_choice_stream[] = {
    "{" HEAD ",\"choices\":[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":\"B\"}},"
    "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"A\"}}]}",
    "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
    "\"finish_reason\":\"stop\"}]}",
    "{" HEAD ",\"choices\":[{\"index\":1,\"delta\":{\"refusal\":\"no\"},"
    "\"finish_reason\":\"length\"}]}",
};

TEST(cache_assembler_two_choices)
{
    struct sl_cache_assembler a;
    cJSON *out;
    const cJSON *choices;
    const cJSON *second;

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_OK(feed_all(&a, two_choice_stream, 3));
    out = sl_cache_assembler_finish(&a);
    ASSERT_TRUE(out != NULL);
    choices = cJSON_GetObjectItemCaseSensitive(out, "choices");
    ASSERT_EQ(2, cJSON_GetArraySize(choices));
    ASSERT_STR_EQ("Aa", sl_json_get_string(cJSON_GetObjectItemCaseSensitive(
                                               cJSON_GetArrayItem(choices, 0), "message"),
                                           "content"));
    second = cJSON_GetArrayItem(choices, 1);
    ASSERT_DBL_EQ(1, cJSON_GetObjectItemCaseSensitive(second, "index")->valuedouble);
    ASSERT_STR_EQ("length", sl_json_get_string(second, "finish_reason"));
    ASSERT_STR_EQ("B", sl_json_get_string(cJSON_GetObjectItemCaseSensitive(second, "message"),
                                          "content"));
    ASSERT_STR_EQ("no", sl_json_get_string(cJSON_GetObjectItemCaseSensitive(second, "message"),
                                           "refusal"));
    cJSON_Delete(out);
    sl_cache_assembler_dispose(&a);
}

/* A stream cut before every choice finished must not be stored. */
TEST(cache_assembler_cut_stream)
{
    struct sl_cache_assembler a;

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_OK(feed_all(&a, text_stream, 3));
    ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
    sl_cache_assembler_dispose(&a);

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_OK(feed_all(&a, two_choice_stream, 2));
    ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
    sl_cache_assembler_dispose(&a);

    sl_cache_assembler_init(&a, 1 << 20);
    ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
    sl_cache_assembler_dispose(&a);
}

TEST(cache_assembler_size_cap)
{
    struct sl_cache_assembler a;

    sl_cache_assembler_init(&a, 70);
    ASSERT_EQ(SL_ERR_TOO_LARGE, feed_all(&a, text_stream, 5));
    ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
    sl_cache_assembler_dispose(&a);

    sl_cache_assembler_init(&a, 4096);
    ASSERT_OK(feed_all(&a, text_stream, 5));
    sl_cache_assembler_dispose(&a);
}

TEST(cache_assembler_rejects_bad_chunks)
{
    static const char *const bad[] = {
        "[]",
        "{\"choices\": {}}",
        "{\"id\": 5, \"choices\": []}",
        "{\"choices\": [{\"index\": -1, \"delta\": {}}]}",
        "{\"choices\": [{\"index\": 128, \"delta\": {}}]}",
        "{\"choices\": [{\"index\": 0, \"delta\": {\"content\": 5}}]}",
        "{\"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": {}}}]}",
        "{\"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 999}]}}]}",
        "{\"choices\": [{\"index\": 0, \"finish_reason\": 1}]}",
        "{\"choices\": [], \"usage\": {\"total_tokens\": 1, \"total_tokens\": 2}}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_cache_assembler a;

        sl_cache_assembler_init(&a, 1 << 20);
        ASSERT_EQ(SL_ERR_INVALID, feed_all(&a, &bad[i], 1));
        /* The failure sticks, so even a good chunk afterwards changes nothing. */
        ASSERT_EQ(SL_ERR_INVALID, feed_all(&a, text_stream, 5));
        ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
        sl_cache_assembler_dispose(&a);
    }
}

/* Members the assembler cannot rebuild make the response uncacheable rather than wrong. */
TEST(cache_assembler_uncacheable_members)
{
    static const char *const extra[] = {
        "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"audio\":{\"id\":\"x\"}}}]}",
        "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":{\"content\":[]}}]}",
    };

    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        struct sl_cache_assembler a;

        sl_cache_assembler_init(&a, 1 << 20);
        ASSERT_OK(feed_all(&a, text_stream, 2));
        ASSERT_OK(feed_all(&a, &extra[i], 1));
        ASSERT_OK(feed_all(&a, text_stream + 2, 3));
        ASSERT_TRUE(sl_cache_assembler_finish(&a) == NULL);
        sl_cache_assembler_dispose(&a);
    }
}

/* ---- replay ---------------------------------------------------------------------------- */

/* Parses `frames` as SSE and feeds every chunk to a new assembler; checks the [DONE] end,
 * the chunk shape and whether a usage chunk was seen. Returns the reassembled completion. */
static cJSON *
reassemble(const struct sl_buf *frames, int *saw_usage_chunk)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;
    struct sl_cache_assembler a;
    int done = 0;
    cJSON *out;

    *saw_usage_chunk = 0;
    sl_sse_init(&p, 1 << 20);
    sl_cache_assembler_init(&a, 1 << 20);
    if (sl_sse_feed(&p, frames->data, frames->len) != SL_OK)
        abort();
    while (sl_sse_next(&p, &ev) == SL_SSE_EVENT) {
        cJSON *chunk;

        if (done)
            abort(); /* nothing may follow [DONE] */
        if (strcmp(ev.data, "[DONE]") == 0) {
            done = 1;
            continue;
        }
        chunk = parse(ev.data);
        if (strcmp(sl_json_get_string(chunk, "object"), "chat.completion.chunk") != 0)
            abort();
        if (cJSON_GetObjectItemCaseSensitive(chunk, "usage") != NULL) {
            if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(chunk, "choices")) != 0)
                abort();
            *saw_usage_chunk = 1;
        }
        if (sl_cache_assembler_feed(&a, chunk) != SL_OK)
            abort();
        cJSON_Delete(chunk);
    }
    if (!done || sl_sse_pending(&p))
        abort();
    out = sl_cache_assembler_finish(&a);
    sl_cache_assembler_dispose(&a);
    sl_sse_dispose(&p);
    return out;
}

static cJSON *
assemble(const char *const *chunks, size_t n)
{
    struct sl_cache_assembler a;
    cJSON *out;

    sl_cache_assembler_init(&a, 1 << 20);
    if (feed_all(&a, chunks, n) != SL_OK)
        abort();
    out = sl_cache_assembler_finish(&a);
    sl_cache_assembler_dispose(&a);
    return out;
}

TEST(cache_replay_round_trip)
{
    static const struct {
        const char *const *chunks;
        size_t n;
    } streams[] = {
        {text_stream, 5},
        {tool_stream, 5},
        {two_choice_stream, 3},
    };

    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        cJSON *original = assemble(streams[i].chunks, streams[i].n);
        int has_usage = cJSON_GetObjectItemCaseSensitive(original, "usage") != NULL;

        for (int include_usage = 1; include_usage >= 0; include_usage--) {
            struct sl_buf frames;
            cJSON *again;
            int saw_usage;

            sl_buf_init(&frames, 0);
            sl_cache_stream_frames(original, include_usage, &frames);
            again = reassemble(&frames, &saw_usage);
            ASSERT_TRUE(again != NULL);
            ASSERT_EQ(include_usage && has_usage, saw_usage);
            if (!include_usage)
                cJSON_DeleteItemFromObjectCaseSensitive(original, "usage");
            ASSERT_TRUE(cJSON_Compare(original, again, 1));
            cJSON_Delete(again);
            sl_buf_dispose(&frames);
        }
        cJSON_Delete(original);
    }
}

TEST(cache_replay_ends_with_done)
{
    cJSON *original = assemble(text_stream, 5);
    struct sl_buf frames;
    static const char done[] = "data: [DONE]\n\n";

    sl_buf_init(&frames, 0);
    sl_cache_stream_frames(original, 1, &frames);
    ASSERT_TRUE(frames.len > sizeof(done));
    ASSERT_STR_EQ(done, frames.data + frames.len - (sizeof(done) - 1));
    ASSERT_CONTAINS(frames.data, "\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                                 "\"created\":1700000000,\"model\":\"gpt-4o\"");
    ASSERT_CONTAINS(frames.data, "\"choices\":[],\"usage\":{");
    sl_buf_dispose(&frames);
    cJSON_Delete(original);
}

/* ---- refresh --------------------------------------------------------------------------- */

TEST(cache_refresh_new_id_and_created)
{
    cJSON *r = parse("{\"id\":\"chatcmpl-abc\",\"created\":1,\"object\":\"chat.completion\"}");
    cJSON *e = parse("{\"object\":\"list\",\"data\":[]}");
    char first[128];
    const char *id;

    sl_cache_refresh(r, "chatcmpl-");
    id = sl_json_get_string(r, "id");
    ASSERT_EQ(9 + 32, strlen(id));
    ASSERT_EQ(0, strncmp(id, "chatcmpl-", 9));
    ASSERT_TRUE(strcmp(id, "chatcmpl-abc") != 0);
    ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(r, "created")->valuedouble > 1.6e9);
    snprintf(first, sizeof(first), "%s", id);

    sl_cache_refresh(r, NULL);
    id = sl_json_get_string(r, "id");
    ASSERT_EQ(0, strncmp(id, "chatcmpl-", 9));
    ASSERT_TRUE(strcmp(id, first) != 0);

    sl_cache_refresh(e, "x-");
    ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(e, "id") == NULL);
    ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(e, "created") == NULL);
    cJSON_Delete(r);
    cJSON_Delete(e);
}

/* ---- entries --------------------------------------------------------------------------- */

TEST(cache_entry_round_trip)
{
    cJSON *response = parse("{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"caf\xc3\xa9 "
                            "\\\"q\\\"\"}}],\"n\":1.5}");
    char *entry = sl_cache_entry_encode(response, 1700000000);
    int64_t ts = 0;
    cJSON *back;

    ASSERT_EQ(0, strncmp(entry, "{\"timestamp\":1700000000,\"response\":{", 36));
    back = sl_cache_entry_decode(entry, strlen(entry), &ts);
    ASSERT_TRUE(back != NULL);
    ASSERT_EQ(1700000000, ts);
    ASSERT_TRUE(cJSON_Compare(response, back, 1));
    cJSON_Delete(back);
    free(entry);
    cJSON_Delete(response);
}

TEST(cache_entry_decode_rejects_malformed)
{
    static const char *const bad[] = {
        "",
        "null",
        "[]",
        "{\"timestamp\":1}",
        "{\"response\":{}}",
        "{\"timestamp\":\"1\",\"response\":{}}",
        "{\"timestamp\":-1,\"response\":{}}",
        "{\"timestamp\":1.5,\"response\":{}}",
        "{\"timestamp\":1e300,\"response\":{}}",
        "{\"timestamp\":1,\"response\":[]}",
        "{\"timestamp\":1,\"response\":\"x\"}",
        "{\"timestamp\":1,\"response\":{},\"response\":{}}",
        "{\"timestamp\":1,\"response\":{\"id\":\"a\",\"id\":\"b\"}}",
        "{\"timestamp\":1,\"response\":{\"choices\":[{\"index\":0,\"index\":1}]}}",
        "{\"timestamp\":1,\"response\":{}",
        "{\"timestamp\":1,\"response\":{\"a\":\"\xff\"}}",
    };
    int64_t ts = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *r = sl_cache_entry_decode(bad[i], strlen(bad[i]), &ts);

        if (r != NULL)
            SL_TEST_FAIL("decoded malformed entry %zu: %s", i, bad[i]);
        ASSERT_EQ(42, ts);
    }
    ASSERT_TRUE(sl_cache_entry_decode(NULL, 0, &ts) == NULL);
}

TEST(cache_entry_decode_caps_depth_and_size)
{
    size_t depth = 2000;
    size_t len = 40 + 2 * depth;
    char *deep = malloc(len + 1);
    size_t o = 0;
    int64_t ts;

    o += (size_t)snprintf(deep, len, "{\"timestamp\":1,\"response\":{\"x\":");
    for (size_t i = 0; i < depth; i++)
        deep[o++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o++] = '}';
    ASSERT_TRUE(sl_cache_entry_decode(deep, o, &ts) == NULL);
    free(deep);

    /* Length is checked before anything is read. */
    ASSERT_TRUE(sl_cache_entry_decode("{}", (size_t)SL_CACHE_ENTRY_MAX_BYTES + 1, &ts) == NULL);
}
