/* SPDX-License-Identifier: Apache-2.0 */
/*
 * litellm_metrics_test -- the pure parts of gateway/http/litellm_metrics.c (exception classes,
 * rate-limit header values, label names), a dropped label in the exposition, and the
 * operation label and error counts of common/store_metrics.c.
 */
#include <math.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/store_metrics.h"
#include "gateway/http/litellm_metrics.h"
#include "test.h"

TEST(exception_class_by_status)
{
    char out[96];

    sl_litellm_exception_class(429, NULL, "openai", out, sizeof(out));
    ASSERT_STR_EQ("Openai.RateLimitError", out);
    sl_litellm_exception_class(500, "api_error", "anthropic", out, sizeof(out));
    ASSERT_STR_EQ("Anthropic.InternalServerError", out);
    sl_litellm_exception_class(400, NULL, NULL, out, sizeof(out));
    ASSERT_STR_EQ("BadRequestError", out);
    sl_litellm_exception_class(418, NULL, NULL, out, sizeof(out));
    ASSERT_STR_EQ("BadRequestError", out);
    sl_litellm_exception_class(504, NULL, "", out, sizeof(out));
    ASSERT_STR_EQ("APIError", out);
    sl_litellm_exception_class(499, NULL, NULL, out, sizeof(out));
    ASSERT_STR_EQ("ClientDisconnected", out);
}

TEST(exception_class_by_error_type)
{
    char out[96];

    sl_litellm_exception_class(400, "content_policy_violation", "azure", out, sizeof(out));
    ASSERT_STR_EQ("Azure.ContentPolicyViolationError", out);
    sl_litellm_exception_class(400, "context_length_exceeded", NULL, out, sizeof(out));
    ASSERT_STR_EQ("ContextWindowExceededError", out);
    sl_litellm_exception_class(502, "api_connection_error", "openai", out, sizeof(out));
    ASSERT_STR_EQ("Openai.APIConnectionError", out);
    sl_litellm_exception_class(408, "timeout", "openai", out, sizeof(out));
    ASSERT_STR_EQ("Openai.Timeout", out);
}

TEST(parse_remaining_accepts_decimals)
{
    double v = -1;

    ASSERT_EQ(1, sl_litellm_parse_remaining("59", &v));
    ASSERT_DBL_EQ(59.0, v);
    ASSERT_EQ(1, sl_litellm_parse_remaining("149984.5", &v));
    ASSERT_DBL_EQ(149984.5, v);
    ASSERT_EQ(1, sl_litellm_parse_remaining("0", &v));
    ASSERT_DBL_EQ(0.0, v);
}

TEST(parse_remaining_rejects_other_text)
{
    static const char *const bad[] = {"", "-1", "1e3", "inf", "nan", "0x10", " 5", "5 ", "..",
                                      ".", "1.2.3", "123456789012345678901234567890123"};
    double v = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_EQ(0, sl_litellm_parse_remaining(bad[i], &v));
    ASSERT_DBL_EQ(7.0, v);
}

TEST(label_bits_are_distinct)
{
    unsigned user = sl_litellm_label_bit("user");
    unsigned team = sl_litellm_label_bit("team");

    ASSERT_TRUE(user != 0);
    ASSERT_TRUE(team != 0);
    ASSERT_TRUE(user != team);
    ASSERT_TRUE(sl_litellm_label_bit("client_ip") != 0);
    ASSERT_TRUE(sl_litellm_label_bit("fallback_model") != 0);
    ASSERT_EQ(0, sl_litellm_label_bit("no_such_label"));
    ASSERT_EQ(0, sl_litellm_label_bit("le"));
}

TEST(store_operation_first_keyword)
{
    char op[SL_STORE_METRICS_NAME_MAX + 1];

    sl_store_metrics_operation("select * from keys", op);
    ASSERT_STR_EQ("SELECT", op);
    sl_store_metrics_operation("\n  WITH x AS (SELECT 1) SELECT * FROM x", op);
    ASSERT_STR_EQ("WITH", op);
    sl_store_metrics_operation("(SELECT 1)", op);
    ASSERT_STR_EQ("OTHER", op);
    sl_store_metrics_operation("", op);
    ASSERT_STR_EQ("OTHER", op);
    sl_store_metrics_operation("abcdefghijklmnopqrstuvwxyzabcdefghijkl", op);
    ASSERT_EQ(SL_STORE_METRICS_NAME_MAX, strlen(op));
}

/* One registry for the exposition tests: families may be registered only once. */
static void
registry_once(void)
{
    static int done;
    static char *drop[] = {"api_base", "no_such_label"};
    struct sl_config cfg;

    if (done)
        return;
    done = 1;
    memset(&cfg, 0, sizeof(cfg));
    cfg.prometheus_drop_labels.items = drop;
    cfg.prometheus_drop_labels.n = 2;
    sl_metrics_init(1);
    sl_litellm_metrics_register(&cfg);
    sl_store_metrics_register();
}

static void
render(struct sl_buf *out)
{
    sl_buf_init(out, 0);
    ASSERT_OK(sl_metrics_render(out));
    ASSERT_OK(sl_buf_append(out, "", 1)); /* NUL for ASSERT_CONTAINS */
}

TEST(dropped_label_keeps_place_empty)
{
    struct sl_deployment d;
    struct sl_buf out;

    registry_once();
    memset(&d, 0, sizeof(d));
    d.id = "dep-1";
    d.provider = "openai";
    d.provider_model = "gpt-4o-mini";
    d.api_base = "https://api.example.test/v1?x=1";
    sl_litellm_metrics_cooled_down(&d, 429);
    sl_litellm_metrics_cooled_down(&d, 429);
    render(&out);
    ASSERT_CONTAINS(out.data, "litellm_deployment_cooled_down_total{litellm_model_name="
                              "\"gpt-4o-mini\",model_id=\"dep-1\",api_base=\"\","
                              "api_provider=\"openai\",exception_status=\"429\"} 2.0\n");
    ASSERT_CONTAINS(out.data, "litellm_deployment_state{litellm_model_name=\"gpt-4o-mini\","
                              "model_id=\"dep-1\",api_base=\"\",api_provider=\"openai\"} 2.0\n");
    ASSERT_CONTAINS(out.data, "# TYPE litellm_request_total_latency_metric histogram\n");
    sl_buf_dispose(&out);
}

TEST(store_errors_by_kind)
{
    struct sl_buf out;

    registry_once();
    sl_store_metrics_redis("GET", SL_OK, 0, 120, 1);
    sl_store_metrics_redis("GET", SL_ERR_TIMEOUT, 0, 500000, 1);
    sl_store_metrics_redis("ADMIT", SL_OK, 1, 80, 1);
    sl_store_metrics_redis("SET", SL_ERR_UNAVAILABLE, 0, 0, 0);
    sl_store_metrics_pg("INSERT", SL_ERR_STORE, 2000);
    render(&out);
    ASSERT_CONTAINS(out.data, "sluice_redis_command_duration_seconds_count{command=\"GET\"} 2\n");
    ASSERT_CONTAINS(out.data, "sluice_redis_command_errors_total{command=\"GET\","
                              "error=\"timeout\"} 1.0\n");
    ASSERT_CONTAINS(out.data, "sluice_redis_command_errors_total{command=\"ADMIT\","
                              "error=\"reply_error\"} 1.0\n");
    ASSERT_CONTAINS(out.data, "sluice_redis_command_errors_total{command=\"SET\","
                              "error=\"not_sent\"} 1.0\n");
    ASSERT_TRUE(strstr(out.data, "sluice_redis_command_duration_seconds_count{command=\"SET\"}") ==
                NULL);
    ASSERT_CONTAINS(out.data, "sluice_postgres_query_errors_total{operation=\"INSERT\","
                              "error=\"query_error\"} 1.0\n");
    sl_buf_dispose(&out);
}
