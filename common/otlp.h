/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otlp -- spans in memory and their OTLP encodings: the protobuf ExportTraceServiceRequest of
 * opentelemetry-proto (collector/trace/v1) and its OTLP/JSON form, where trace and span ids
 * are lowercase hex and 64-bit integers are JSON strings. Also the W3C Trace Context
 * `traceparent` header, parsed and formatted.
 *
 * Attribute keys and string values are copied when added, cut to SL_OTLP_MAX_STRING_BYTES at a
 * UTF-8 character boundary, and invalid UTF-8 bytes become '?', so both encodings are valid.
 */
#ifndef SL_OTLP_H
#define SL_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

/* Longest string kept in a span, in bytes; longer ones are cut. */
#define SL_OTLP_MAX_STRING_BYTES (64u * 1024u)
/* Attributes per span; later ones are counted in dropped_attributes_count. */
#define SL_OTLP_MAX_ATTRIBUTES 128u
/* Length of a traceparent header of version 00, without a NUL. */
#define SL_OTLP_TRACEPARENT_LEN 55

/* SpanKind of trace.proto. */
enum sl_otlp_span_kind {
    SL_OTLP_KIND_INTERNAL = 1,
    SL_OTLP_KIND_SERVER = 2,
    SL_OTLP_KIND_CLIENT = 3,
};

/* Status.StatusCode of trace.proto. */
enum sl_otlp_status_code {
    SL_OTLP_STATUS_UNSET = 0,
    SL_OTLP_STATUS_OK = 1,
    SL_OTLP_STATUS_ERROR = 2,
};

enum sl_otlp_value_type {
    SL_OTLP_STRING,
    SL_OTLP_BOOL,
    SL_OTLP_INT,
    SL_OTLP_DOUBLE,
    SL_OTLP_ARRAY,
};

/* An AnyValue; arrays hold scalar values only. */
struct sl_otlp_value {
    enum sl_otlp_value_type type;
    union {
        char *s; /* owned, valid UTF-8 */
        int b;
        int64_t i;
        double d;
        struct {
            struct sl_otlp_value *items; /* owned */
            size_t n;
        } array;
    } u;
};

struct sl_otlp_attr {
    char *key; /* owned */
    struct sl_otlp_value value;
};

struct sl_otlp_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8];
    int has_parent;
    char *name; /* owned */
    enum sl_otlp_span_kind kind;
    uint64_t start_unix_ns;
    uint64_t end_unix_ns;
    struct sl_otlp_attr *attrs; /* owned */
    size_t n_attrs;
    size_t cap_attrs;
    uint32_t dropped_attrs;
    enum sl_otlp_status_code status;
    char *status_message; /* owned; NULL for none */
};

/* What every span of one export shares: the resource's service.name and the scope. */
struct sl_otlp_resource {
    const char *service_name;
    const char *scope_name;
    const char *scope_version; /* NULL for none */
};

/* Initialises `s` with `name` (copied) and `kind`; ids and times are the caller's to set. */
void sl_otlp_span_init(struct sl_otlp_span *s, const char *name, enum sl_otlp_span_kind kind);
void sl_otlp_span_dispose(struct sl_otlp_span *s);

/* Adds one attribute; `key` and string values are copied. A NULL string adds nothing. */
void sl_otlp_span_add_str(struct sl_otlp_span *s, const char *key, const char *value);
void sl_otlp_span_add_strn(struct sl_otlp_span *s, const char *key, const char *value, size_t n);
void sl_otlp_span_add_int(struct sl_otlp_span *s, const char *key, int64_t value);
void sl_otlp_span_add_double(struct sl_otlp_span *s, const char *key, double value);
void sl_otlp_span_add_bool(struct sl_otlp_span *s, const char *key, int value);
/* Adds an array of `n` strings. */
void sl_otlp_span_add_str_array(struct sl_otlp_span *s, const char *key,
                                const char *const *values, size_t n);

/* Sets the status; `message` (may be NULL) is copied. */
void sl_otlp_span_set_status(struct sl_otlp_span *s, enum sl_otlp_status_code code,
                             const char *message);

/* Appends the protobuf ExportTraceServiceRequest of `n` spans, all under one resource and one
 * scope, to `out`. Fails only when `out` reaches its max_len. */
enum sl_status sl_otlp_encode_proto(const struct sl_otlp_resource *res,
                                    const struct sl_otlp_span *const *spans, size_t n,
                                    struct sl_buf *out);

/* Appends the same request as OTLP/JSON to `out`. */
enum sl_status sl_otlp_encode_json(const struct sl_otlp_resource *res,
                                   const struct sl_otlp_span *const *spans, size_t n,
                                   struct sl_buf *out);

/*
 * Parses a W3C traceparent header value of `len` bytes, surrounding spaces and tabs allowed.
 * Version 00 must be exactly 55 characters; a later version may carry more after a '-'.
 * Returns SL_ERR_INVALID for a malformed value, version ff, uppercase hex or an all-zero id.
 */
enum sl_status sl_otlp_traceparent_parse(const char *value, size_t len, uint8_t trace_id[16],
                                         uint8_t parent_id[8], uint8_t *flags);

/* Writes "00-<trace id>-<span id>-<flags>" and a NUL into `out`. */
void sl_otlp_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8],
                                uint8_t flags, char out[SL_OTLP_TRACEPARENT_LEN + 1]);

/* Fills `out` with random bytes that are not all zero, as trace and span ids must be. */
void sl_otlp_random_id(uint8_t *out, size_t n);

/* Writes `n` bytes as lowercase hex and a NUL into `out` (2n + 1 bytes). */
void sl_otlp_hex(const uint8_t *in, size_t n, char *out);

#endif /* SL_OTLP_H */
