/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cost_test -- the price table (embedded file, overlay file, name lookup) and the cost
 * formula, one table of cases per pricing rule. Expected costs are written from the list
 * prices per million tokens in common/data/model_prices.json.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cost.h"
#include "tests/unit/test.h"

#define MTOK 1e6

#define ASSERT_COST(expected, actual)                                                              \
    do {                                                                                           \
        double ce_ = (expected), ca_ = (actual);                                                   \
        if (fabs(ce_ - ca_) > 1e-12 * fabs(ce_) + 1e-18)                                           \
            SL_TEST_FAIL("ASSERT_COST(%s, %s): expected %.17g, got %.17g", #expected, #actual,     \
                         ce_, ca_);                                                                \
    } while (0)

/* A deployment with every price unset, as the config loader leaves it. */
static struct sl_deployment
deployment(const char *provider, const char *provider_model)
{
    struct sl_deployment d;

    memset(&d, 0, sizeof(d));
    d.provider = (char *)provider;
    d.provider_model = (char *)provider_model;
    d.model = (char *)provider_model;
    d.input_cost_per_token = NAN;
    d.output_cost_per_token = NAN;
    d.cache_read_input_token_cost = NAN;
    d.cache_creation_input_token_cost = NAN;
    d.output_cost_per_reasoning_token = NAN;
    d.info_prices.input = NAN;
    d.info_prices.output = NAN;
    d.info_prices.cache_read = NAN;
    d.info_prices.cache_creation = NAN;
    d.info_prices.reasoning = NAN;
    return d;
}

struct cost_case {
    const char *provider;
    const char *model;
    struct sl_cost_tokens tokens;
    double expected;
};

static void
run_cases(const struct cost_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sl_deployment d = deployment(cases[i].provider, cases[i].model);
        double cost = -1;

        if (sl_cost_compute(&d, &cases[i].tokens, &cost) != 1)
            SL_TEST_FAIL("case %zu (%s): the model is not priced", i, cases[i].model);
        if (fabs(cases[i].expected - cost) > 1e-12 * cases[i].expected + 1e-18)
            SL_TEST_FAIL("case %zu (%s): expected %.17g, got %.17g", i, cases[i].model,
                         cases[i].expected, cost);
    }
}

TEST(cost_embedded_table_loads)
{
    struct sl_errbuf err = {{0}};

    ASSERT_OK(sl_cost_table_load(NULL, &err));
    ASSERT_TRUE(sl_cost_table_size() > 100);
}

TEST(cost_plain_tokens)
{
    static const struct cost_case cases[] = {
        {"openai", "gpt-4o", {.prompt = 1000, .completion = 100}, (1000 * 2.5 + 100 * 10) / MTOK},
        {"openai", "gpt-4o-mini", {.prompt = 10, .completion = 20}, (10 * 0.15 + 20 * 0.6) / MTOK},
        {"openai", "gpt-3.5-turbo", {.prompt = 4, .completion = 2}, (4 * 0.5 + 2 * 1.5) / MTOK},
        {"anthropic", "claude-sonnet-4-5-20250929", {.prompt = 100, .completion = 10},
         (100 * 3.0 + 10 * 15.0) / MTOK},
        {"gemini", "gemini-2.5-flash", {.prompt = 100, .completion = 10},
         (100 * 0.3 + 10 * 2.5) / MTOK},
        {"bedrock", "amazon.nova-pro-v1:0", {.prompt = 100, .completion = 10},
         (100 * 0.8 + 10 * 3.2) / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_cached_tokens)
{
    static const struct cost_case cases[] = {
        /* OpenAI: cached tokens at the cache-read price, the rest at the input price. */
        {"openai", "gpt-4o", {.prompt = 1000, .completion = 100, .cached = 400},
         (600 * 2.5 + 400 * 1.25 + 100 * 10) / MTOK},
        /* Anthropic: prompt_tokens include cache reads, read at 0.1x input. */
        {"anthropic", "claude-3-7-sonnet-20250219", {.prompt = 1000, .cached = 900},
         (100 * 3.0 + 900 * 0.3) / MTOK},
        /* No cache-read price: cached tokens cost the input price. */
        {"openai", "gpt-3.5-turbo", {.prompt = 1000, .cached = 400}, 1000 * 0.5 / MTOK},
        /* More cached tokens than prompt tokens: capped at the prompt. */
        {"openai", "gpt-4o", {.prompt = 100, .cached = 500}, 100 * 1.25 / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_cache_creation)
{
    static const struct cost_case cases[] = {
        /* Anthropic: cache writes at 1.25x input. */
        {"anthropic", "claude-sonnet-4-20250514",
         {.prompt = 1000, .completion = 10, .cached = 200, .cache_creation = 500},
         (300 * 3.0 + 200 * 0.3 + 500 * 3.75 + 10 * 15.0) / MTOK},
        {"anthropic", "claude-haiku-4-5", {.prompt = 100, .cache_creation = 100},
         100 * 1.25 / MTOK},
        /* No cache-write price: written tokens cost the input price. */
        {"openai", "gpt-4o", {.prompt = 1000, .cache_creation = 1000}, 1000 * 2.5 / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_reasoning_tokens)
{
    static const struct cost_case cases[] = {
        /* A reasoning price of its own. */
        {"gemini", "gemini-2.5-flash-preview-04-17",
         {.prompt = 10, .completion = 100, .reasoning = 60},
         (10 * 0.15 + 40 * 0.6 + 60 * 3.5) / MTOK},
        /* Without one, reasoning tokens cost the output price. */
        {"openai", "o3", {.prompt = 10, .completion = 100, .reasoning = 60},
         (10 * 2.0 + 100 * 8.0) / MTOK},
        /* More reasoning than completion tokens: capped at the completion. */
        {"gemini", "gemini-2.5-flash-preview-04-17", {.completion = 10, .reasoning = 50},
         10 * 3.5 / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_embeddings)
{
    static const struct cost_case cases[] = {
        {"openai", "text-embedding-3-small", {.prompt = 1000, .embedding = 1}, 1000 * 0.02 / MTOK},
        {"openai", "text-embedding-3-large", {.prompt = 1000, .embedding = 1}, 1000 * 0.13 / MTOK},
        {"openai", "text-embedding-ada-002", {.prompt = 10, .completion = 5, .embedding = 1},
         10 * 0.1 / MTOK},
        {"bedrock", "amazon.titan-embed-text-v2:0", {.prompt = 100, .embedding = 1},
         100 * 0.02 / MTOK},
        {"gemini", "gemini-embedding-001", {.prompt = 100, .embedding = 1}, 100 * 0.15 / MTOK},
        {"azure", "text-embedding-3-small", {.prompt = 50, .embedding = 1}, 50 * 0.02 / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_model_names)
{
    static const struct cost_case cases[] = {
        /* Date suffixes, both forms. */
        {"openai", "gpt-4o-mini-2024-07-18", {.prompt = 1}, 0.15 / MTOK},
        {"anthropic", "claude-sonnet-4-5-20991231", {.prompt = 1}, 3.0 / MTOK},
        /* An exact dated entry wins over the stripped name. */
        {"openai", "gpt-4o-2024-05-13", {.prompt = 1}, 5.0 / MTOK},
        /* Bedrock ids, with the converse/ route, a region prefix and an unknown version. */
        {"bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", {.prompt = 1}, 0.8 / MTOK},
        {"bedrock", "converse/meta.llama3-70b-instruct-v1:0", {.prompt = 1}, 2.65 / MTOK},
        {"bedrock", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", {.prompt = 1}, 3.0 / MTOK},
        {"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", {.prompt = 1}, 3.3 / MTOK},
        {"bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", {.prompt = 1}, 3.0 / MTOK},
        {"bedrock", "us.anthropic.claude-opus-4-1-20250805-v9:0", {.prompt = 1}, 15.0 / MTOK},
        {"bedrock", "us.amazon.nova-lite-v1:0", {.prompt = 1}, 0.06 / MTOK},
        /* Provider-qualified entries win over plain ones. */
        {"azure", "gpt-35-turbo", {.prompt = 1}, 0.5 / MTOK},
        {"gemini", "gemini-2.0-flash", {.prompt = 1}, 0.1 / MTOK},
        {"vertex_ai", "gemini-2.5-pro", {.prompt = 1}, 1.25 / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_long_prompt_tier)
{
    static const struct cost_case cases[] = {
        {"gemini", "gemini-2.5-pro", {.prompt = 200000, .completion = 10},
         (200000 * 1.25 + 10 * 10.0) / MTOK},
        {"gemini", "gemini-2.5-pro", {.prompt = 200001, .completion = 10, .cached = 1},
         (200000 * 2.5 + 1 * 0.25 + 10 * 15.0) / MTOK},
        {"anthropic", "claude-sonnet-4-20250514", {.prompt = 300000, .completion = 10},
         (300000 * 6.0 + 10 * 22.5) / MTOK},
    };

    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(cost_custom_prices)
{
    struct sl_cost_tokens t = {.prompt = 90, .completion = 5, .cached = 10, .reasoning = 2};
    struct sl_deployment d = deployment("openai", "gpt-4o");
    double cost;

    /* litellm_params prices replace the table's entry whole: cache and reasoning tokens
     * cost the deployment's input and output prices, not gpt-4o's cache price. */
    d.input_cost_per_token = 0.001;
    d.output_cost_per_token = 0.002;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(80 * 0.001 + 10 * 0.001 + 3 * 0.002 + 2 * 0.002, cost);
    ASSERT_TRUE(!sl_cost_is_free(&d));

    d.cache_read_input_token_cost = 0.0001;
    d.output_cost_per_reasoning_token = 0.01;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(80 * 0.001 + 10 * 0.0001 + 3 * 0.002 + 2 * 0.01, cost);

    /* model_info prices apply where litellm_params sets none. */
    d = deployment("openai", "my-private-model");
    d.info_prices.input = 0.003;
    d.info_prices.output = 0.004;
    d.output_cost_per_token = 0.005;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(90 * 0.003 + 5 * 0.005, cost);

    /* Prices of 0 make a free deployment, which counts as priced. */
    d = deployment("openai", "whatever");
    d.input_cost_per_token = 0.0;
    d.output_cost_per_token = 0.0;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(0.0, cost);
    ASSERT_TRUE(sl_cost_is_free(&d));
}

TEST(cost_base_model)
{
    struct sl_cost_tokens t = {.prompt = 1000, .completion = 100};
    struct sl_deployment d = deployment("azure", "my-gpt-deployment");
    double cost;

    /* Azure names deployments freely: base_model gives the price. */
    ASSERT_EQ(0, sl_cost_compute(&d, &t, &cost));
    d.base_model = "azure/gpt-4.1-mini";
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 0.4 + 100 * 1.6) / MTOK, cost);

    /* base_model wins over the deployment's own model name. */
    d = deployment("openai", "gpt-4o");
    d.base_model = "gpt-4o-mini";
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 0.15 + 100 * 0.6) / MTOK, cost);

    /* An unknown base_model falls back to the model name. */
    d.base_model = "no-such-model";
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 2.5 + 100 * 10.0) / MTOK, cost);

    /* litellm_params prices still win over base_model. */
    d.base_model = "gpt-4o-mini";
    d.input_cost_per_token = 1.0 / MTOK;
    d.output_cost_per_token = 2.0 / MTOK;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 1.0 + 100 * 2.0) / MTOK, cost);
}

TEST(cost_unknown_model)
{
    struct sl_cost_tokens t = {.prompt = 1000, .completion = 100};
    struct sl_deployment d = deployment("openai", "my-private-model");
    struct sl_cost_prices p;
    double cost = -1;

    ASSERT_EQ(0, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(0.0, cost);
    /* The warning is logged once; the second call must behave the same. */
    ASSERT_EQ(0, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(0.0, cost);

    /* One price alone leaves the model unpriced, and the known part still counts. */
    d.output_cost_per_token = 0.5;
    ASSERT_EQ(0, sl_cost_prices(&d, &p));
    ASSERT_DBL_EQ(0.0, p.base.input);
    ASSERT_DBL_EQ(0.5, p.base.output);
    ASSERT_EQ(0, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(50.0, cost);

    /* No deployment: nothing to price. */
    ASSERT_EQ(1, sl_cost_compute(NULL, &t, &cost));
    ASSERT_COST(0.0, cost);
}

/* Writes `text` to a new temporary file and returns its path in `path`. */
static void
write_temp(char *path, size_t size, const char *text)
{
    int fd;

    snprintf(path, size, "/tmp/sl_cost_test_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        SL_TEST_FAIL("cannot write %s", path);
    close(fd);
}

TEST(cost_file_overlays_embedded)
{
    char path[64];
    struct sl_errbuf err = {{0}};
    struct sl_cost_tokens t = {.prompt = 1000, .completion = 100};
    struct sl_deployment d = deployment("openai", "gpt-4o");
    size_t embedded;
    double cost;

    ASSERT_OK(sl_cost_table_load(NULL, &err));
    embedded = sl_cost_table_size();
    write_temp(path, sizeof(path),
               "{\"_source\": \"test\",\n"
               " \"sample_spec\": {\"input_cost_per_token\": \"documentation only\"},\n"
               " \"gpt-4o\": {\"input_cost_per_token\": 1e-06, \"output_cost_per_token\": 2e-06,"
               " \"supports_vision\": true, \"mode\": \"chat\"},\n"
               " \"my-private-model\": {\"input_cost_per_token\": 3e-06,"
               " \"output_cost_per_token\": 4e-06, \"max_tokens\": null}}\n");
    ASSERT_OK(sl_cost_table_load(path, &err));
    unlink(path);
    ASSERT_EQ(embedded + 1, sl_cost_table_size());

    /* The file's entry replaces the embedded one whole: gpt-4o loses its cache price. */
    t.cached = 100;
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 1.0 + 100 * 2.0) / MTOK, cost);
    d = deployment("openai", "my-private-model");
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST((1000 * 3.0 + 100 * 4.0) / MTOK, cost);
    /* Embedded entries the file does not name are kept. */
    d = deployment("openai", "gpt-4o-mini");
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
}

TEST(cost_file_errors)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"[1, 2]", "must be a JSON object keyed by model name"},
        {"{\"m\": 1}", "entry \"m\" is not a JSON object"},
        {"{\"m\": {\"input_cost_per_token\": \"0.1\"}}",
         "entry \"m\": input_cost_per_token must be a number >= 0"},
        {"{\"ok\": {}, \"m\": {\"cache_read_input_token_cost\": -1}}",
         "entry \"m\": cache_read_input_token_cost must be a number >= 0"},
        {"{\"m\": {", "invalid JSON"},
    };
    char path[64];
    struct sl_errbuf err = {{0}};
    struct sl_deployment d = deployment("openai", "gpt-4o");
    struct sl_cost_tokens t = {.prompt = 1000};
    double cost;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&err, 0, sizeof(err));
        write_temp(path, sizeof(path), cases[i].text);
        ASSERT_EQ(SL_ERR_INVALID, sl_cost_table_load(path, &err));
        unlink(path);
        ASSERT_CONTAINS(err.msg, path);
        ASSERT_CONTAINS(err.msg, cases[i].message);
    }
    write_temp(path, sizeof(path), "{}");
    ASSERT_OK(truncate(path, SL_COST_FILE_MAX_BYTES + 1));
    ASSERT_EQ(SL_ERR_INVALID, sl_cost_table_load(path, &err));
    unlink(path);
    ASSERT_CONTAINS(err.msg, "more than the maximum");
    ASSERT_EQ(SL_ERR_INVALID, sl_cost_table_load("/nonexistent/prices.json", &err));
    ASSERT_CONTAINS(err.msg, "/nonexistent/prices.json: cannot open the price file");

    /* A failed load keeps the table that was loaded before. */
    ASSERT_EQ(1, sl_cost_compute(&d, &t, &cost));
    ASSERT_COST(1000 * 2.5 / MTOK, cost);
}
