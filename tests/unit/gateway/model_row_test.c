/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_row_test -- rows of the models table as deployments (gateway/router/model_row.c):
 * splitting secrets out of litellm_params, opening sealed secrets, and the checks shared with
 * config.yaml model_list items.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/secretbox.h"
#include "gateway/router/model_row.h"
#include "gateway/router/router.h"
#include "test.h"

TEST(model_row_split_moves_credentials)
{
    cJSON *params = cJSON_Parse("{\"model\":\"openai/gpt-4o\",\"api_key\":\"sk-up\","
                                "\"api_base\":\"http://127.0.0.1:1/v1\","
                                "\"aws_secret_access_key\":\"aws-secret\",\"rpm\":5}");
    cJSON *secrets = NULL;
    char *kept;
    char *moved;

    sl_model_row_split_secrets(params, &secrets);
    kept = sl_json_print(params);
    moved = sl_json_print(secrets);
    ASSERT_STR_EQ("{\"model\":\"openai/gpt-4o\",\"api_base\":\"http://127.0.0.1:1/v1\",\"rpm\":5}",
                  kept);
    ASSERT_STR_EQ("{\"api_key\":\"sk-up\",\"aws_secret_access_key\":\"aws-secret\"}", moved);
    free(kept);
    free(moved);
    cJSON_Delete(params);
    cJSON_Delete(secrets);
}

TEST(model_row_split_without_credentials)
{
    cJSON *params = cJSON_Parse("{\"model\":\"openai/gpt-4o\"}");
    cJSON *secrets = (cJSON *)1;

    sl_model_row_split_secrets(params, &secrets);
    ASSERT_TRUE(secrets == NULL);
    ASSERT_EQ(1, cJSON_GetArraySize(params));
    cJSON_Delete(params);
}

/* Seals `json` with `box` into the hex columns of `row`; the caller frees both strings. */
static void
seal_into(struct sl_model_row *row, const struct sl_secretbox *box, const char *json)
{
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char *secret_hex;
    char *nonce_hex;

    ASSERT_OK(sl_secretbox_seal(box, json, strlen(json), nonce, &sealed, &sealed_len, NULL));
    secret_hex = malloc(2 * sealed_len + 1);
    nonce_hex = malloc(2 * sizeof(nonce) + 1);
    sl_model_row_hex(sealed, sealed_len, secret_hex);
    sl_model_row_hex(nonce, sizeof(nonce), nonce_hex);
    row->secret_hex = secret_hex;
    row->nonce_hex = nonce_hex;
    free(sealed);
}

static void
free_sealed(struct sl_model_row *row)
{
    free((char *)row->secret_hex);
    free((char *)row->nonce_hex);
}

TEST(model_row_builds_deployment_with_secrets)
{
    struct sl_secretbox box;
    struct sl_model_row row = {
        .model_id = "m-1",
        .model_name = "db-model",
        .litellm_params = "{\"model\":\"openai/gpt-4o-mini\",\"api_base\":\"http://127.0.0.1:9/v1\","
                          "\"rpm\":7}",
        .model_info = "{\"mode\":\"chat\",\"id\":\"ignored\"}",
    };
    struct sl_deployment d;
    struct sl_errbuf err = {{0}};

    sl_secretbox_init(&box, "salt", 4);
    seal_into(&row, &box, "{\"api_key\":\"sk-upstream\"}");
    ASSERT_EQ(SL_OK, sl_model_row_to_deployment(&row, &box, &d, &err));
    ASSERT_STR_EQ("m-1", d.id);
    ASSERT_STR_EQ("db-model", d.model_name);
    ASSERT_STR_EQ("openai", d.provider);
    ASSERT_STR_EQ("gpt-4o-mini", d.provider_model);
    ASSERT_STR_EQ("sk-upstream", d.api_key);
    ASSERT_STR_EQ("http://127.0.0.1:9/v1", d.api_base);
    ASSERT_EQ(7, d.rpm);
    ASSERT_STR_EQ("chat", d.mode);
    sl_config_deployment_dispose(&d);
    free_sealed(&row);
}

TEST(model_row_wrong_salt_fails_row)
{
    struct sl_secretbox box;
    struct sl_secretbox other;
    struct sl_model_row row = {
        .model_id = "m-2",
        .model_name = "db-model",
        .litellm_params = "{\"model\":\"openai/gpt-4o-mini\"}",
    };
    struct sl_deployment d;
    struct sl_errbuf err = {{0}};

    sl_secretbox_init(&box, "salt", 4);
    sl_secretbox_init(&other, "other", 5);
    seal_into(&row, &box, "{\"api_key\":\"sk-upstream\"}");
    ASSERT_EQ(SL_ERR_INVALID, sl_model_row_to_deployment(&row, &other, &d, &err));
    ASSERT_CONTAINS(err.msg, "failed authentication");
    ASSERT_TRUE(strstr(err.msg, "sk-upstream") == NULL);

    ASSERT_EQ(SL_ERR_CONFIG, sl_model_row_to_deployment(&row, NULL, &d, &err));
    ASSERT_CONTAINS(err.msg, "no salt key");
    free_sealed(&row);
}

TEST(model_row_checks_like_config)
{
    struct sl_model_row row = {
        .model_id = "m-3",
        .model_name = "db-model",
        .litellm_params = "{\"model\":\"nosuchprovider/x\"}",
    };
    struct sl_deployment d;
    struct sl_errbuf err = {{0}};

    ASSERT_EQ(SL_ERR_CONFIG, sl_model_row_to_deployment(&row, NULL, &d, &err));
    ASSERT_CONTAINS(err.msg, "model m-3.litellm_params.model: unknown provider \"nosuchprovider\"");

    row.litellm_params = "{\"model\":\"openai/x\",\"rpm\":\"many\"}";
    ASSERT_EQ(SL_ERR_CONFIG, sl_model_row_to_deployment(&row, NULL, &d, &err));
    ASSERT_CONTAINS(err.msg, "litellm_params.rpm");

    row.litellm_params = "{\"api_base\":\"http://127.0.0.1:9\"}";
    ASSERT_EQ(SL_ERR_CONFIG, sl_model_row_to_deployment(&row, NULL, &d, &err));
    ASSERT_CONTAINS(err.msg, "missing required key litellm_params.model");

    row.litellm_params = "[1]";
    ASSERT_EQ(SL_ERR_INVALID, sl_model_row_to_deployment(&row, NULL, &d, &err));
    ASSERT_CONTAINS(err.msg, "litellm_params is not a JSON object");
}

TEST(model_row_unhex_rejects_bad_text)
{
    unsigned char *out = NULL;
    size_t len = 0;

    ASSERT_EQ(SL_OK, sl_model_row_unhex("00ffA1", 16, &out, &len));
    ASSERT_EQ(3, len);
    ASSERT_EQ(0xa1, out[2]);
    free(out);
    ASSERT_EQ(SL_ERR_INVALID, sl_model_row_unhex("abc", 16, &out, &len));
    ASSERT_EQ(SL_ERR_INVALID, sl_model_row_unhex("zz", 16, &out, &len));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_model_row_unhex("0000", 1, &out, &len));
}

/* A database deployment joins the config's group of the same name, after its members. */
TEST(model_row_joins_config_group)
{
    static const char yaml[] = "model_list:\n"
                               "- model_name: shared\n"
                               "  litellm_params: {model: openai/from-config}\n";
    struct sl_config cfg;
    struct sl_errbuf err = {{0}};
    struct sl_model_row row = {
        .model_id = "m-4",
        .model_name = "shared",
        .litellm_params = "{\"model\":\"openai/from-db\"}",
    };
    struct sl_deployment *extra = calloc(1, sizeof(*extra));
    struct sl_router *r;
    const struct sl_model_group *g;

    ASSERT_OK(sl_config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, &err));
    ASSERT_OK(sl_model_row_to_deployment(&row, NULL, extra, &err));
    r = sl_router_create(&cfg, extra, 1);
    ASSERT_EQ(1, r->n_groups);
    g = sl_router_find(r, "shared");
    ASSERT_TRUE(g != NULL);
    ASSERT_EQ(2, g->n);
    ASSERT_STR_EQ("from-config", g->deployments[0]->provider_model);
    ASSERT_STR_EQ("from-db", g->deployments[1]->provider_model);

    sl_router_retain(r);
    sl_router_release(r);
    ASSERT_EQ(1, r->refs);
    sl_router_release(r);
    sl_config_dispose(&cfg);
}
