/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otlp -- span attributes, the protobuf and OTLP/JSON encodings of an export request, and the
 * traceparent header; see otlp.h. The field numbers are those of opentelemetry-proto v1
 * (trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto).
 */
#include "common/otlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/xalloc.h"

/* ---------------------------------------------------------------- strings */

/* Returns the length of the well-formed UTF-8 sequence at `p` (at most `n` bytes), or 0. */
static size_t
utf8_sequence_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Copies at most SL_OTLP_MAX_STRING_BYTES of `s`, cut before a partial character, with every
 * byte of an invalid sequence replaced by '?'. */
static char *
copy_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out;
    size_t i = 0;

    if (n > SL_OTLP_MAX_STRING_BYTES)
        n = SL_OTLP_MAX_STRING_BYTES;
    out = sl_xmalloc(n + 1);
    while (i < n) {
        size_t len = utf8_sequence_len(p + i, n - i);

        if (len == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, p + i, len);
        i += len;
    }
    out[n] = '\0';
    return out;
}

/* ---------------------------------------------------------------- spans */

void
sl_otlp_span_init(struct sl_otlp_span *s, const char *name, enum sl_otlp_span_kind kind)
{
    memset(s, 0, sizeof(*s));
    s->name = copy_utf8(name, strlen(name));
    s->kind = kind;
}

static void
value_dispose(struct sl_otlp_value *v)
{
    if (v->type == SL_OTLP_STRING) {
        free(v->u.s);
    } else if (v->type == SL_OTLP_ARRAY) {
        for (size_t i = 0; i < v->u.array.n; i++)
            value_dispose(&v->u.array.items[i]);
        free(v->u.array.items);
    }
}

void
sl_otlp_span_dispose(struct sl_otlp_span *s)
{
    for (size_t i = 0; i < s->n_attrs; i++) {
        free(s->attrs[i].key);
        value_dispose(&s->attrs[i].value);
    }
    free(s->attrs);
    free(s->name);
    free(s->status_message);
    memset(s, 0, sizeof(*s));
}

/* Returns a new attribute slot with a copy of `key`, or NULL when the span is full. */
static struct sl_otlp_attr *
add_attr(struct sl_otlp_span *s, const char *key)
{
    struct sl_otlp_attr *a;

    if (s->n_attrs >= SL_OTLP_MAX_ATTRIBUTES) {
        s->dropped_attrs++;
        return NULL;
    }
    if (s->n_attrs == s->cap_attrs) {
        s->cap_attrs = s->cap_attrs == 0 ? 16 : s->cap_attrs * 2;
        s->attrs = sl_xrealloc(s->attrs, s->cap_attrs * sizeof(*s->attrs));
    }
    a = &s->attrs[s->n_attrs++];
    memset(a, 0, sizeof(*a));
    a->key = copy_utf8(key, strlen(key));
    return a;
}

void
sl_otlp_span_add_strn(struct sl_otlp_span *s, const char *key, const char *value, size_t n)
{
    struct sl_otlp_attr *a;

    if (value == NULL || (a = add_attr(s, key)) == NULL)
        return;
    a->value.type = SL_OTLP_STRING;
    a->value.u.s = copy_utf8(value, n);
}

void
sl_otlp_span_add_str(struct sl_otlp_span *s, const char *key, const char *value)
{
    if (value != NULL)
        sl_otlp_span_add_strn(s, key, value, strlen(value));
}

void
sl_otlp_span_add_int(struct sl_otlp_span *s, const char *key, int64_t value)
{
    struct sl_otlp_attr *a = add_attr(s, key);

    if (a == NULL)
        return;
    a->value.type = SL_OTLP_INT;
    a->value.u.i = value;
}

void
sl_otlp_span_add_double(struct sl_otlp_span *s, const char *key, double value)
{
    struct sl_otlp_attr *a = add_attr(s, key);

    if (a == NULL)
        return;
    a->value.type = SL_OTLP_DOUBLE;
    a->value.u.d = value;
}

void
sl_otlp_span_add_bool(struct sl_otlp_span *s, const char *key, int value)
{
    struct sl_otlp_attr *a = add_attr(s, key);

    if (a == NULL)
        return;
    a->value.type = SL_OTLP_BOOL;
    a->value.u.b = value != 0;
}

void
sl_otlp_span_add_str_array(struct sl_otlp_span *s, const char *key, const char *const *values,
                           size_t n)
{
    struct sl_otlp_attr *a = add_attr(s, key);

    if (a == NULL)
        return;
    a->value.type = SL_OTLP_ARRAY;
    a->value.u.array.items = n > 0 ? sl_xcalloc(n, sizeof(struct sl_otlp_value)) : NULL;
    a->value.u.array.n = n;
    for (size_t i = 0; i < n; i++) {
        a->value.u.array.items[i].type = SL_OTLP_STRING;
        a->value.u.array.items[i].u.s = copy_utf8(values[i], strlen(values[i]));
    }
}

void
sl_otlp_span_set_status(struct sl_otlp_span *s, enum sl_otlp_status_code code,
                        const char *message)
{
    free(s->status_message);
    s->status = code;
    s->status_message = message != NULL ? copy_utf8(message, strlen(message)) : NULL;
}

/* ---------------------------------------------------------------- protobuf */

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2 };

/* A buffer whose first failed append is kept, so encoders check once at the end. */
struct pb {
    struct sl_buf buf;
    enum sl_status rc;
};

static void
pb_init(struct pb *p)
{
    sl_buf_init(&p->buf, 0);
    p->rc = SL_OK;
}

static void
pb_bytes(struct pb *p, const void *data, size_t n)
{
    if (p->rc == SL_OK)
        p->rc = sl_buf_append(&p->buf, data, n);
}

static void
pb_varint(struct pb *p, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;

    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    pb_bytes(p, b, n);
}

static void
pb_tag(struct pb *p, unsigned field, unsigned wire)
{
    pb_varint(p, ((uint64_t)field << 3) | wire);
}

static void
pb_len_field(struct pb *p, unsigned field, const void *data, size_t n)
{
    pb_tag(p, field, WIRE_LEN);
    pb_varint(p, n);
    pb_bytes(p, data, n);
}

static void
pb_string(struct pb *p, unsigned field, const char *s)
{
    pb_len_field(p, field, s, strlen(s));
}

static void
pb_fixed64(struct pb *p, unsigned field, uint64_t v)
{
    uint8_t b[8];

    for (size_t i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    pb_tag(p, field, WIRE_FIXED64);
    pb_bytes(p, b, 8);
}

/* Appends `inner` as embedded message `field` of `p`, and disposes `inner`. */
static void
pb_message(struct pb *p, unsigned field, struct pb *inner)
{
    if (inner->rc != SL_OK && p->rc == SL_OK)
        p->rc = inner->rc;
    pb_len_field(p, field, inner->buf.data, inner->buf.len);
    sl_buf_dispose(&inner->buf);
}

/* AnyValue: a member of the oneof is written even when it holds its default value. */
static void
pb_any_value(struct pb *p, const struct sl_otlp_value *v)
{
    switch (v->type) {
    case SL_OTLP_STRING:
        pb_string(p, 1, v->u.s);
        break;
    case SL_OTLP_BOOL:
        pb_tag(p, 2, WIRE_VARINT);
        pb_varint(p, v->u.b ? 1 : 0);
        break;
    case SL_OTLP_INT:
        pb_tag(p, 3, WIRE_VARINT);
        pb_varint(p, (uint64_t)v->u.i);
        break;
    case SL_OTLP_DOUBLE: {
        uint64_t bits;

        memcpy(&bits, &v->u.d, sizeof(bits));
        pb_fixed64(p, 4, bits);
        break;
    }
    case SL_OTLP_ARRAY: {
        struct pb array;

        pb_init(&array);
        for (size_t i = 0; i < v->u.array.n; i++) {
            struct pb item;

            pb_init(&item);
            pb_any_value(&item, &v->u.array.items[i]);
            pb_message(&array, 1, &item);
        }
        pb_message(p, 5, &array);
        break;
    }
    }
}

/* KeyValue: key = 1, value = 2. */
static void
pb_key_value(struct pb *p, unsigned field, const char *key, const struct sl_otlp_value *v)
{
    struct pb kv;
    struct pb value;

    pb_init(&kv);
    pb_string(&kv, 1, key);
    pb_init(&value);
    pb_any_value(&value, v);
    pb_message(&kv, 2, &value);
    pb_message(p, field, &kv);
}

/* Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, start 7, end 8,
 * attributes 9, dropped_attributes_count 10, status 15 (message 2, code 3). */
static void
pb_span(struct pb *p, const struct sl_otlp_span *s)
{
    struct pb span;

    pb_init(&span);
    pb_len_field(&span, 1, s->trace_id, sizeof(s->trace_id));
    pb_len_field(&span, 2, s->span_id, sizeof(s->span_id));
    if (s->has_parent)
        pb_len_field(&span, 4, s->parent_span_id, sizeof(s->parent_span_id));
    pb_string(&span, 5, s->name);
    pb_tag(&span, 6, WIRE_VARINT);
    pb_varint(&span, (uint64_t)s->kind);
    pb_fixed64(&span, 7, s->start_unix_ns);
    pb_fixed64(&span, 8, s->end_unix_ns);
    for (size_t i = 0; i < s->n_attrs; i++)
        pb_key_value(&span, 9, s->attrs[i].key, &s->attrs[i].value);
    if (s->dropped_attrs > 0) {
        pb_tag(&span, 10, WIRE_VARINT);
        pb_varint(&span, s->dropped_attrs);
    }
    if (s->status != SL_OTLP_STATUS_UNSET || s->status_message != NULL) {
        struct pb status;

        pb_init(&status);
        if (s->status_message != NULL && s->status_message[0] != '\0')
            pb_string(&status, 2, s->status_message);
        if (s->status != SL_OTLP_STATUS_UNSET) {
            pb_tag(&status, 3, WIRE_VARINT);
            pb_varint(&status, (uint64_t)s->status);
        }
        pb_message(&span, 15, &status);
    }
    pb_message(p, 2, &span);
}

enum sl_status
sl_otlp_encode_proto(const struct sl_otlp_resource *res, const struct sl_otlp_span *const *spans,
                     size_t n, struct sl_buf *out)
{
    struct sl_otlp_value service = {.type = SL_OTLP_STRING, .u.s = (char *)res->service_name};
    struct pb request;
    struct pb resource_spans;
    struct pb resource;
    struct pb scope_spans;
    struct pb scope;
    enum sl_status rc;

    /* ResourceSpans: resource 1 (attributes 1), scope_spans 2. */
    pb_init(&resource_spans);
    pb_init(&resource);
    pb_key_value(&resource, 1, "service.name", &service);
    pb_message(&resource_spans, 1, &resource);

    /* ScopeSpans: scope 1 (name 1, version 2), spans 2. */
    pb_init(&scope_spans);
    pb_init(&scope);
    pb_string(&scope, 1, res->scope_name);
    if (res->scope_version != NULL)
        pb_string(&scope, 2, res->scope_version);
    pb_message(&scope_spans, 1, &scope);
    for (size_t i = 0; i < n; i++)
        pb_span(&scope_spans, spans[i]);
    pb_message(&resource_spans, 2, &scope_spans);

    /* ExportTraceServiceRequest: resource_spans 1. */
    pb_init(&request);
    pb_message(&request, 1, &resource_spans);
    rc = request.rc;
    if (rc == SL_OK)
        rc = sl_buf_append(out, request.buf.data, request.buf.len);
    sl_buf_dispose(&request.buf);
    return rc;
}

/* ---------------------------------------------------------------- OTLP/JSON */

static void
json_str(struct pb *p, const char *s)
{
    if (p->rc == SL_OK)
        p->rc = sl_json_append_string(&p->buf, s, strlen(s));
}

static void
json_raw(struct pb *p, const char *s)
{
    pb_bytes(p, s, strlen(s));
}

static void
json_hex(struct pb *p, const uint8_t *id, size_t n)
{
    char hex[33];

    sl_otlp_hex(id, n, hex);
    json_raw(p, "\"");
    json_raw(p, hex);
    json_raw(p, "\"");
}

static void
json_u64_string(struct pb *p, uint64_t v)
{
    char text[24];

    snprintf(text, sizeof(text), "\"%llu\"", (unsigned long long)v);
    json_raw(p, text);
}

/* Doubles are JSON numbers; the protobuf JSON mapping spells the non-finite ones as strings. */
static void
json_double(struct pb *p, double d)
{
    char text[32];

    if (isnan(d))
        snprintf(text, sizeof(text), "\"NaN\"");
    else if (isinf(d))
        snprintf(text, sizeof(text), d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        snprintf(text, sizeof(text), "%.17g", d);
    json_raw(p, text);
}

static void
json_any_value(struct pb *p, const struct sl_otlp_value *v)
{
    char text[32];

    switch (v->type) {
    case SL_OTLP_STRING:
        json_raw(p, "{\"stringValue\":");
        json_str(p, v->u.s);
        break;
    case SL_OTLP_BOOL:
        json_raw(p, v->u.b ? "{\"boolValue\":true" : "{\"boolValue\":false");
        break;
    case SL_OTLP_INT:
        /* int64 is a JSON string in the protobuf JSON mapping. */
        snprintf(text, sizeof(text), "{\"intValue\":\"%lld\"", (long long)v->u.i);
        json_raw(p, text);
        break;
    case SL_OTLP_DOUBLE:
        json_raw(p, "{\"doubleValue\":");
        json_double(p, v->u.d);
        break;
    case SL_OTLP_ARRAY:
        json_raw(p, "{\"arrayValue\":{\"values\":[");
        for (size_t i = 0; i < v->u.array.n; i++) {
            if (i > 0)
                json_raw(p, ",");
            json_any_value(p, &v->u.array.items[i]);
        }
        json_raw(p, "]}");
        break;
    }
    json_raw(p, "}");
}

static void
json_key_value(struct pb *p, const char *key, const struct sl_otlp_value *v)
{
    json_raw(p, "{\"key\":");
    json_str(p, key);
    json_raw(p, ",\"value\":");
    json_any_value(p, v);
    json_raw(p, "}");
}

static void
json_span(struct pb *p, const struct sl_otlp_span *s)
{
    char text[64];

    json_raw(p, "{\"traceId\":");
    json_hex(p, s->trace_id, sizeof(s->trace_id));
    json_raw(p, ",\"spanId\":");
    json_hex(p, s->span_id, sizeof(s->span_id));
    if (s->has_parent) {
        json_raw(p, ",\"parentSpanId\":");
        json_hex(p, s->parent_span_id, sizeof(s->parent_span_id));
    }
    json_raw(p, ",\"name\":");
    json_str(p, s->name);
    snprintf(text, sizeof(text), ",\"kind\":%d", (int)s->kind);
    json_raw(p, text);
    json_raw(p, ",\"startTimeUnixNano\":");
    json_u64_string(p, s->start_unix_ns);
    json_raw(p, ",\"endTimeUnixNano\":");
    json_u64_string(p, s->end_unix_ns);
    json_raw(p, ",\"attributes\":[");
    for (size_t i = 0; i < s->n_attrs; i++) {
        if (i > 0)
            json_raw(p, ",");
        json_key_value(p, s->attrs[i].key, &s->attrs[i].value);
    }
    json_raw(p, "]");
    if (s->dropped_attrs > 0) {
        snprintf(text, sizeof(text), ",\"droppedAttributesCount\":%u", s->dropped_attrs);
        json_raw(p, text);
    }
    if (s->status != SL_OTLP_STATUS_UNSET || s->status_message != NULL) {
        snprintf(text, sizeof(text), ",\"status\":{\"code\":%d", (int)s->status);
        json_raw(p, text);
        if (s->status_message != NULL && s->status_message[0] != '\0') {
            json_raw(p, ",\"message\":");
            json_str(p, s->status_message);
        }
        json_raw(p, "}");
    }
    json_raw(p, "}");
}

enum sl_status
sl_otlp_encode_json(const struct sl_otlp_resource *res, const struct sl_otlp_span *const *spans,
                    size_t n, struct sl_buf *out)
{
    struct sl_otlp_value service = {.type = SL_OTLP_STRING, .u.s = (char *)res->service_name};
    struct pb p;
    enum sl_status rc;

    pb_init(&p);
    json_raw(&p, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    json_key_value(&p, "service.name", &service);
    json_raw(&p, "]},\"scopeSpans\":[{\"scope\":{\"name\":");
    json_str(&p, res->scope_name);
    if (res->scope_version != NULL) {
        json_raw(&p, ",\"version\":");
        json_str(&p, res->scope_version);
    }
    json_raw(&p, "},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            json_raw(&p, ",");
        json_span(&p, spans[i]);
    }
    json_raw(&p, "]}]}]}");
    rc = p.rc;
    if (rc == SL_OK)
        rc = sl_buf_append(out, p.buf.data, p.buf.len);
    sl_buf_dispose(&p.buf);
    return rc;
}

/* ---------------------------------------------------------------- traceparent and ids */

/* Returns the value of a lowercase hex digit, or -1. */
static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes 2n lowercase hex digits into `out`; returns 0 on a bad digit. */
static int
parse_hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]);
        int lo = hex_digit(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return 1;
}

static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

enum sl_status
sl_otlp_traceparent_parse(const char *value, size_t len, uint8_t trace_id[16],
                          uint8_t parent_id[8], uint8_t *flags)
{
    uint8_t version;
    uint8_t tid[16];
    uint8_t pid[8];
    uint8_t fl;

    while (len > 0 && (value[0] == ' ' || value[0] == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;

    /* version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 characters. */
    if (len < SL_OTLP_TRACEPARENT_LEN || value[2] != '-' || value[35] != '-' ||
        value[52] != '-')
        return SL_ERR_INVALID;
    if (!parse_hex(value, 1, &version) || version == 0xff)
        return SL_ERR_INVALID;
    if (version == 0 && len != SL_OTLP_TRACEPARENT_LEN)
        return SL_ERR_INVALID;
    /* A later version may append fields, always after another '-'. */
    if (len > SL_OTLP_TRACEPARENT_LEN && value[SL_OTLP_TRACEPARENT_LEN] != '-')
        return SL_ERR_INVALID;
    if (!parse_hex(value + 3, 16, tid) || !parse_hex(value + 36, 8, pid) ||
        !parse_hex(value + 53, 1, &fl))
        return SL_ERR_INVALID;
    if (all_zero(tid, sizeof(tid)) || all_zero(pid, sizeof(pid)))
        return SL_ERR_INVALID;

    memcpy(trace_id, tid, sizeof(tid));
    memcpy(parent_id, pid, sizeof(pid));
    *flags = fl;
    return SL_OK;
}

void
sl_otlp_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void
sl_otlp_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                           char out[SL_OTLP_TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    sl_otlp_hex(trace_id, 16, out + 3);
    out[35] = '-';
    sl_otlp_hex(span_id, 8, out + 36);
    out[52] = '-';
    sl_otlp_hex(&flags, 1, out + 53);
}

void
sl_otlp_random_id(uint8_t *out, size_t n)
{
    static __thread uint64_t counter;

    do {
        if (getrandom(out, n, 0) != (ssize_t)n) {
            /* Only before the kernel's pool is seeded: time and a per-thread counter. */
            uint64_t mix = sl_now_us() ^ (++counter * 0x9e3779b97f4a7c15ull);

            for (size_t i = 0; i < n; i++)
                out[i] = (uint8_t)(mix >> (8 * (i % 8))) ^ (uint8_t)i;
        }
    } while (all_zero(out, n));
}
