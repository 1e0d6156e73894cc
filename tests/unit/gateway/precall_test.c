/* SPDX-License-Identifier: Apache-2.0 */
/*
 * precall_test -- gateway/router/precall.c: the input token estimate of request bodies, and
 * the deployments of a group whose model_info.max_input_tokens fits it.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/config.h"
#include "gateway/router/precall.h"
#include "gateway/router/router.h"
#include "test.h"

static uint64_t
estimate(const char *json)
{
    cJSON *body = cJSON_Parse(json);
    uint64_t tokens;

    if (body == NULL)
        SL_TEST_FAIL("invalid JSON in the test: %s", json);
    tokens = sl_precall_estimate_tokens(body);
    cJSON_Delete(body);
    return tokens;
}

TEST(estimate_counts_message_text)
{
    /* "12345678" is 8 bytes: 2 tokens; role and model are not counted. */
    ASSERT_EQ(2, estimate("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                          "\"content\":\"12345678\"}]}"));
    /* 9 bytes round up to 3 tokens. */
    ASSERT_EQ(3, estimate("{\"messages\":[{\"role\":\"user\",\"content\":\"123456789\"}]}"));
    ASSERT_EQ(0, estimate("{\"model\":\"gpt-4o\"}"));
}

TEST(estimate_counts_parts_and_fields)
{
    /* Text parts count; the image URL and the part types do not. */
    ASSERT_EQ(1, estimate("{\"messages\":[{\"role\":\"user\",\"content\":["
                          "{\"type\":\"text\",\"text\":\"abcd\"},"
                          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;"
                          "base64,AAAAAAAAAAAAAAAAAAAAAAAA\"}}]}]}"));
    /* Anthropic's system, a completion prompt and an embedding input. */
    ASSERT_EQ(2, estimate("{\"system\":\"abcd\",\"messages\":[{\"role\":\"user\","
                          "\"content\":\"efgh\"}]}"));
    ASSERT_EQ(3, estimate("{\"prompt\":\"abcdefghijkl\"}"));
    ASSERT_EQ(2, estimate("{\"input\":[\"abcd\",\"efgh\"]}"));
    /* Tool definitions are sent to the model too. */
    ASSERT_EQ(1, estimate("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"ab\","
                          "\"description\":\"cd\"}}]}"));
}

static void
load(const char *yaml, struct sl_config *cfg)
{
    struct sl_errbuf err;

    if (sl_config_load_buffer(yaml, strlen(yaml), "precall.yaml", cfg, &err) != SL_OK)
        SL_TEST_FAIL("config did not load: %s", err.msg);
}

static const char config_yaml[] =
    "model_list:\n"
    "- model_name: g\n"
    "  litellm_params: {model: openai/small, api_key: k, api_base: 'http://127.0.0.1:1/v1'}\n"
    "  model_info: {id: small, max_input_tokens: 100}\n"
    "- model_name: g\n"
    "  litellm_params: {model: openai/large, api_key: k, api_base: 'http://127.0.0.1:1/v1'}\n"
    "  model_info: {id: large, max_input_tokens: 1000}\n"
    "- model_name: g\n"
    "  litellm_params: {model: openai/any, api_key: k, api_base: 'http://127.0.0.1:1/v1',\n"
    "                   weight: 3}\n"
    "  model_info: {id: unknown}\n"
    "- model_name: tiny\n"
    "  litellm_params: {model: openai/tiny, api_key: k, api_base: 'http://127.0.0.1:1/v1'}\n"
    "  model_info: {id: tiny, max_input_tokens: 10}\n";

TEST(fits_unset_window_always)
{
    struct sl_config cfg;

    load(config_yaml, &cfg);
    ASSERT_EQ(100, cfg.deployments[0].max_input_tokens);
    ASSERT_EQ(SL_CONFIG_UNSET_INT, cfg.deployments[2].max_input_tokens);
    ASSERT_TRUE(sl_precall_fits(&cfg.deployments[0], 100));
    ASSERT_TRUE(!sl_precall_fits(&cfg.deployments[0], 101));
    ASSERT_TRUE(sl_precall_fits(&cfg.deployments[2], 1000000));
    sl_config_dispose(&cfg);
}

TEST(filter_keeps_fitting_deployments)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_model_group cut;
    const struct sl_model_group *g;

    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_router_find(&r, "g");

    /* All fit: no copy. */
    ASSERT_EQ(3, sl_precall_filter(g, 50, &cut));
    ASSERT_TRUE(cut.deployments == g->deployments);

    /* 500 tokens: the small one is left out, the weights of the rest are summed. */
    ASSERT_EQ(2, sl_precall_filter(g, 500, &cut));
    ASSERT_TRUE(cut.deployments != g->deployments);
    ASSERT_EQ(2, cut.n);
    ASSERT_STR_EQ("g", cut.name);
    ASSERT_STR_EQ("large", cut.deployments[0]->id);
    ASSERT_STR_EQ("unknown", cut.deployments[1]->id);
    ASSERT_DBL_EQ(4.0, cut.total_weight);
    free((void *)cut.deployments);

    ASSERT_EQ(1000, sl_precall_largest_window(g));
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}

TEST(filter_none_fits)
{
    struct sl_config cfg;
    struct sl_router r;
    struct sl_model_group cut;
    const struct sl_model_group *g;

    load(config_yaml, &cfg);
    sl_router_init(&r, &cfg);
    g = sl_router_find(&r, "tiny");
    ASSERT_EQ(0, sl_precall_filter(g, 11, &cut));
    ASSERT_TRUE(cut.deployments == g->deployments);
    ASSERT_EQ(10, sl_precall_largest_window(g));
    sl_router_dispose(&r);
    sl_config_dispose(&cfg);
}
