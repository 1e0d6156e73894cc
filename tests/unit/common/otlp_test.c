/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_test -- the OTLP encodings, the traceparent parser and the exporter settings
 * (common/otlp.c, common/otel_exporter.c). */
#include "common/otlp.h"

#include <stdlib.h>
#include <string.h>

#include "common/otel_exporter.h"
#include "test.h"

/* Fails with both byte strings in hex when they differ. */
static void
expect_bytes(const uint8_t *expected, size_t expected_len, const void *actual, size_t actual_len)
{
    char want[1024];
    char got[1024];

    if (expected_len == actual_len && memcmp(expected, actual, actual_len) == 0)
        return;
    sl_otlp_hex(expected, expected_len < 500 ? expected_len : 500, want);
    sl_otlp_hex(actual, actual_len < 500 ? actual_len : 500, got);
    SL_TEST_FAIL("expected %zu bytes %s, got %zu bytes %s", expected_len, want, actual_len, got);
}

static const struct sl_otlp_resource small_resource = {.service_name = "s", .scope_name = "x"};

/* A SERVER span "n" with ids 01..10 and 11..18, from 1 ns to 2 ns, no attributes. */
static void
small_span(struct sl_otlp_span *s)
{
    sl_otlp_span_init(s, "n", SL_OTLP_KIND_SERVER);
    for (int i = 0; i < 16; i++)
        s->trace_id[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 8; i++)
        s->span_id[i] = (uint8_t)(0x11 + i);
    s->start_unix_ns = 1;
    s->end_unix_ns = 2;
}

static char *
encode_proto(const struct sl_otlp_span *s, size_t *len)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_otlp_encode_proto(&small_resource, &s, 1, &out));
    return sl_buf_take(&out, len);
}

static char *
encode_json(const struct sl_otlp_span *s)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_otlp_encode_json(&small_resource, &s, 1, &out));
    return sl_buf_take(&out, NULL);
}

TEST(proto_small_request_exact_bytes)
{
    static const uint8_t expected[] = {
        0x0a, 0x53,                                     /* resource_spans, 83 bytes */
        0x0a, 0x15,                                     /* resource, 21 bytes */
        0x0a, 0x13,                                     /* attributes: KeyValue, 19 bytes */
        0x0a, 0x0c, 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e',
        0x12, 0x03, 0x0a, 0x01, 's',                    /* value: string_value "s" */
        0x12, 0x3a,                                     /* scope_spans, 58 bytes */
        0x0a, 0x03, 0x0a, 0x01, 'x',                    /* scope: name "x" */
        0x12, 0x33,                                     /* spans, 51 bytes */
        0x0a, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* trace_id */
        0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,       /* span_id */
        0x2a, 0x01, 'n',                                /* name */
        0x30, 0x02,                                     /* kind SERVER */
        0x39, 1, 0, 0, 0, 0, 0, 0, 0,                   /* start_time_unix_nano */
        0x41, 2, 0, 0, 0, 0, 0, 0, 0,                   /* end_time_unix_nano */
    };
    struct sl_otlp_span s;
    size_t len;
    char *bytes;

    small_span(&s);
    bytes = encode_proto(&s, &len);
    expect_bytes(expected, sizeof(expected), bytes, len);
    free(bytes);
    sl_otlp_span_dispose(&s);
}

TEST(proto_parent_and_status_bytes)
{
    static const uint8_t parent[] = {0x22, 0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
    /* status (field 15, 7 bytes): message "bad" (field 2), code ERROR (field 3). */
    static const uint8_t status[] = {0x7a, 0x07, 0x12, 0x03, 'b', 'a', 'd', 0x18, 0x02};
    struct sl_otlp_span s;
    size_t len;
    char *bytes;

    small_span(&s);
    for (int i = 0; i < 8; i++)
        s.parent_span_id[i] = (uint8_t)(0xa1 + i);
    s.has_parent = 1;
    sl_otlp_span_set_status(&s, SL_OTLP_STATUS_ERROR, "bad");
    bytes = encode_proto(&s, &len);
    ASSERT_TRUE(memmem(bytes, len, parent, sizeof(parent)) != NULL);
    ASSERT_TRUE(memmem(bytes, len, status, sizeof(status)) != NULL);
    free(bytes);
    sl_otlp_span_dispose(&s);
}

/* Returns 1 when the encoding of a span whose only attribute is `key` = the value added by
 * `add` contains `kv` (the attribute's whole KeyValue field). */
static int
attribute_encodes_as(void (*add)(struct sl_otlp_span *), const uint8_t *kv, size_t kv_len)
{
    struct sl_otlp_span s;
    size_t len;
    char *bytes;
    int found;

    small_span(&s);
    add(&s);
    bytes = encode_proto(&s, &len);
    found = memmem(bytes, len, kv, kv_len) != NULL;
    free(bytes);
    sl_otlp_span_dispose(&s);
    return found;
}

static void add_negative_int(struct sl_otlp_span *s) { sl_otlp_span_add_int(s, "k", -1); }
static void add_false(struct sl_otlp_span *s) { sl_otlp_span_add_bool(s, "k", 0); }
static void add_double(struct sl_otlp_span *s) { sl_otlp_span_add_double(s, "k", 1.5); }
static void add_empty_string(struct sl_otlp_span *s) { sl_otlp_span_add_str(s, "k", ""); }

static void
add_array(struct sl_otlp_span *s)
{
    static const char *const items[] = {"a", "b"};

    sl_otlp_span_add_str_array(s, "k", items, 2);
}

TEST(proto_attribute_values_bytes)
{
    /* attributes (field 9) { key "k", value { int_value -1 as a 10-byte varint } } */
    static const uint8_t int_kv[] = {0x4a, 0x10, 0x0a, 0x01, 'k', 0x12, 0x0b, 0x18, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* A oneof member is written even at its default value. */
    static const uint8_t bool_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 0x10, 0x00};
    static const uint8_t double_kv[] = {0x4a, 0x0e, 0x0a, 0x01, 'k', 0x12, 0x09, 0x21, 0,
                                        0, 0, 0, 0, 0, 0xf8, 0x3f};
    static const uint8_t string_kv[] = {0x4a, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 0x0a, 0x00};
    /* array_value (field 5) { values { "a" } values { "b" } } */
    static const uint8_t array_kv[] = {0x4a, 0x11, 0x0a, 0x01, 'k', 0x12, 0x0c, 0x2a, 0x0a,
                                       0x0a, 0x03, 0x0a, 0x01, 'a', 0x0a, 0x03, 0x0a, 0x01, 'b'};

    ASSERT_TRUE(attribute_encodes_as(add_negative_int, int_kv, sizeof(int_kv)));
    ASSERT_TRUE(attribute_encodes_as(add_false, bool_kv, sizeof(bool_kv)));
    ASSERT_TRUE(attribute_encodes_as(add_double, double_kv, sizeof(double_kv)));
    ASSERT_TRUE(attribute_encodes_as(add_empty_string, string_kv, sizeof(string_kv)));
    ASSERT_TRUE(attribute_encodes_as(add_array, array_kv, sizeof(array_kv)));
}

TEST(json_small_request_exact_text)
{
    struct sl_otlp_span s;
    char *text;

    small_span(&s);
    text = encode_json(&s);
    ASSERT_STR_EQ("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                  "\"value\":{\"stringValue\":\"s\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
                  "\"x\"},\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
                  "\"spanId\":\"1112131415161718\",\"name\":\"n\",\"kind\":2,"
                  "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\",\"attributes\":[]}]}]}]}",
                  text);
    free(text);
    sl_otlp_span_dispose(&s);
}

TEST(json_attribute_values_text)
{
    static const char *const items[] = {"a", "b"};
    struct sl_otlp_span s;
    char *text;

    small_span(&s);
    s.start_unix_ns = 1700000000123456789ull;
    sl_otlp_span_add_int(&s, "i", -9007199254740993ll);
    sl_otlp_span_add_bool(&s, "b", 1);
    sl_otlp_span_add_double(&s, "d", 0.25);
    sl_otlp_span_add_str(&s, "s", "quote\" and \n");
    sl_otlp_span_add_str_array(&s, "a", items, 2);
    sl_otlp_span_set_status(&s, SL_OTLP_STATUS_OK, NULL);
    text = encode_json(&s);
    /* int64 values and times are strings, so 2^53 + 1 survives a JSON parser. */
    ASSERT_CONTAINS(text, "\"startTimeUnixNano\":\"1700000000123456789\"");
    ASSERT_CONTAINS(text, "{\"key\":\"i\",\"value\":{\"intValue\":\"-9007199254740993\"}}");
    ASSERT_CONTAINS(text, "{\"key\":\"b\",\"value\":{\"boolValue\":true}}");
    ASSERT_CONTAINS(text, "{\"key\":\"d\",\"value\":{\"doubleValue\":0.25}}");
    ASSERT_CONTAINS(text, "{\"key\":\"s\",\"value\":{\"stringValue\":\"quote\\\" and \\n\"}}");
    ASSERT_CONTAINS(text, "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":["
                          "{\"stringValue\":\"a\"},{\"stringValue\":\"b\"}]}}}");
    ASSERT_CONTAINS(text, "\"status\":{\"code\":1}");
    free(text);
    sl_otlp_span_dispose(&s);
}

TEST(span_strings_cut_and_repaired)
{
    struct sl_otlp_span s;
    char *big = malloc(SL_OTLP_MAX_STRING_BYTES + 10);

    sl_otlp_span_init(&s, "n", SL_OTLP_KIND_INTERNAL);
    /* "\xc3" alone, an overlong "/" and a surrogate are invalid UTF-8. */
    sl_otlp_span_add_str(&s, "bad", "a\xc3" "b\xc0\xaf" "c\xed\xa0\x80");
    ASSERT_STR_EQ("a?b??c???", s.attrs[0].value.u.s);

    /* A 2-byte character across the cut is dropped whole. */
    memset(big, 'x', SL_OTLP_MAX_STRING_BYTES + 10);
    big[SL_OTLP_MAX_STRING_BYTES - 1] = (char)0xc3;
    big[SL_OTLP_MAX_STRING_BYTES] = (char)0xa9;
    sl_otlp_span_add_strn(&s, "big", big, SL_OTLP_MAX_STRING_BYTES + 10);
    ASSERT_EQ(SL_OTLP_MAX_STRING_BYTES, strlen(s.attrs[1].value.u.s));
    ASSERT_EQ('?', s.attrs[1].value.u.s[SL_OTLP_MAX_STRING_BYTES - 1]);
    free(big);
    sl_otlp_span_dispose(&s);
}

TEST(span_attribute_cap_counts_dropped)
{
    struct sl_otlp_span s;

    sl_otlp_span_init(&s, "n", SL_OTLP_KIND_INTERNAL);
    for (unsigned i = 0; i < SL_OTLP_MAX_ATTRIBUTES + 3; i++)
        sl_otlp_span_add_int(&s, "k", i);
    ASSERT_EQ(SL_OTLP_MAX_ATTRIBUTES, s.n_attrs);
    ASSERT_EQ(3, s.dropped_attrs);
    sl_otlp_span_dispose(&s);
}

/* ---------------------------------------------------------------- traceparent */

static enum sl_status
parse(const char *value, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags)
{
    return sl_otlp_traceparent_parse(value, strlen(value), trace_id, parent_id, flags);
}

TEST(traceparent_valid_version_00)
{
    static const uint8_t want_trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                           0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t want_parent[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags = 0xee;
    char again[SL_OTLP_TRACEPARENT_LEN + 1];

    ASSERT_EQ(SL_OK, parse(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", trace_id,
                           parent_id, &flags));
    expect_bytes(want_trace, 16, trace_id, 16);
    expect_bytes(want_parent, 8, parent_id, 8);
    ASSERT_EQ(1, flags);
    sl_otlp_traceparent_format(trace_id, parent_id, flags, again);
    ASSERT_STR_EQ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", again);
}

TEST(traceparent_future_version_extra_field)
{
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;

    ASSERT_EQ(SL_OK, parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what",
                           trace_id, parent_id, &flags));
    ASSERT_EQ(0, flags);
    ASSERT_EQ(SL_ERR_INVALID, parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00x",
                                    trace_id, parent_id, &flags));
}

TEST(traceparent_malformed_rejected)
{
    static const char *const bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",       /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",    /* 00 with extra */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      /* uppercase */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* version ff */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      /* zero parent id */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",      /* not hex */
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* version */
    };
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(bad[i], trace_id, parent_id, &flags) != SL_ERR_INVALID)
            SL_TEST_FAIL("accepted \"%s\"", bad[i]);
}

TEST(random_ids_not_zero_or_equal)
{
    uint8_t a[16];
    uint8_t b[16];
    static const uint8_t zero[16];

    sl_otlp_random_id(a, sizeof(a));
    sl_otlp_random_id(b, sizeof(b));
    ASSERT_TRUE(memcmp(a, zero, sizeof(a)) != 0);
    ASSERT_TRUE(memcmp(a, b, sizeof(a)) != 0);
}

/* ---------------------------------------------------------------- exporter settings */

static const char *const *test_env;

static const char *
fake_getenv(const char *name)
{
    for (size_t i = 0; test_env[i] != NULL; i += 2)
        if (strcmp(test_env[i], name) == 0)
            return test_env[i + 1];
    return NULL;
}

static enum sl_status
config_from(const char *const *env, struct sl_otel_config *cfg, struct sl_errbuf *err)
{
    test_env = env;
    return sl_otel_config_from_env(cfg, fake_getenv, err);
}

TEST(exporter_config_endpoint_normalised)
{
    static const char *const env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/otlp",
                                      "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", NULL};
    static const char *const traces[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                         "http://c:4318/custom/path", "OTEL_ENDPOINT",
                                         "http://other:1", NULL};
    static const char *const litellm[] = {"OTEL_ENDPOINT", "https://c:4318",
                                          "OTEL_EXPORTER", "otlp_http", NULL};
    struct sl_otel_config cfg;
    struct sl_errbuf err = {{0}};

    ASSERT_EQ(SL_OK, config_from(env, &cfg, &err));
    ASSERT_STR_EQ("http://collector:4318/v1/traces", cfg.endpoint);
    ASSERT_EQ(SL_OTEL_HTTP_JSON, cfg.protocol);
    ASSERT_STR_EQ("litellm", cfg.service_name);
    sl_otel_config_dispose(&cfg);

    ASSERT_EQ(SL_OK, config_from(traces, &cfg, &err));
    ASSERT_STR_EQ("http://c:4318/custom/path", cfg.endpoint);
    sl_otel_config_dispose(&cfg);

    ASSERT_EQ(SL_OK, config_from(litellm, &cfg, &err));
    ASSERT_STR_EQ("https://c:4318/v1/traces", cfg.endpoint);
    ASSERT_EQ(SL_OTEL_HTTP_PROTOBUF, cfg.protocol);
    sl_otel_config_dispose(&cfg);
}

TEST(exporter_config_headers_parsed)
{
    static const char *const env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
                                      "OTEL_EXPORTER_OTLP_HEADERS",
                                      " api-key = s3cr=t ,,x-tenant=t1", "OTEL_SERVICE_NAME",
                                      "gw", NULL};
    struct sl_otel_config cfg;
    struct sl_errbuf err = {{0}};

    ASSERT_EQ(SL_OK, config_from(env, &cfg, &err));
    ASSERT_EQ(2, cfg.n_headers);
    ASSERT_STR_EQ("api-key: s3cr=t", cfg.headers[0]);
    ASSERT_STR_EQ("x-tenant: t1", cfg.headers[1]);
    ASSERT_STR_EQ("gw", cfg.service_name);
    sl_otel_config_dispose(&cfg);
}

TEST(exporter_config_invalid_rejected)
{
    static const char *const no_equals[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
                                            "OTEL_EXPORTER_OTLP_HEADERS", "a=1,secretvalue",
                                            NULL};
    static const char *const bad_name[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
                                           "OTEL_EXPORTER_OTLP_HEADERS", "a b=secretvalue", NULL};
    static const char *const bad_url[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318", NULL};
    static const char *const bad_protocol[] = {"OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon",
                                               NULL};
    static const char *const none[] = {NULL};
    struct sl_otel_config cfg;
    struct sl_errbuf err = {{0}};

    ASSERT_EQ(SL_ERR_CONFIG, config_from(no_equals, &cfg, &err));
    ASSERT_CONTAINS(err.msg, "entry 2");
    ASSERT_TRUE(strstr(err.msg, "secretvalue") == NULL);
    ASSERT_EQ(SL_ERR_CONFIG, config_from(bad_name, &cfg, &err));
    ASSERT_TRUE(strstr(err.msg, "secretvalue") == NULL);
    ASSERT_EQ(SL_ERR_CONFIG, config_from(bad_url, &cfg, &err));
    ASSERT_EQ(SL_ERR_CONFIG, config_from(bad_protocol, &cfg, &err));

    ASSERT_EQ(SL_OK, config_from(none, &cfg, &err));
    ASSERT_TRUE(cfg.endpoint == NULL);
    sl_otel_config_dispose(&cfg);
}
