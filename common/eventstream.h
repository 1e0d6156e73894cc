/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eventstream -- the AWS event-stream binary framing (application/vnd.amazon.eventstream).
 *
 * A message is a 12-byte prelude (total length, headers length, CRC-32 of those 8 bytes),
 * typed headers, a payload and a CRC-32 of everything before it. Integers are big-endian.
 * The parser has the reader shape of common/sse.h: feed bytes as they arrive, then call
 * sl_es_next() until it reports that it needs more. Both CRCs are checked, and the lengths
 * are checked against the caps before any byte of a message body is waited for, so corrupt
 * or hostile input ends in the error state, never in a large allocation. The encoder builds
 * frames for sluice-mock and the tests. One parser per stream; no locking.
 */
#ifndef SL_EVENTSTREAM_H
#define SL_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

/* Largest message the gateway accepts from a provider by default: 16 MiB. */
#define SL_ES_DEFAULT_MAX_MESSAGE_BYTES (16u * 1024u * 1024u)
/* Encoded headers of one message may not exceed 128 KiB (the AWS limit). */
#define SL_ES_MAX_HEADERS_BYTES (128u * 1024u)
/* Headers per message; real messages carry three or four. */
#define SL_ES_MAX_HEADERS 32
/* Prelude (12 bytes) plus message CRC (4 bytes). */
#define SL_ES_OVERHEAD_BYTES 16u

enum sl_es_header_type {
    SL_ES_BOOL_TRUE = 0,
    SL_ES_BOOL_FALSE = 1,
    SL_ES_BYTE = 2,
    SL_ES_SHORT = 3,
    SL_ES_INT = 4,
    SL_ES_LONG = 5,
    SL_ES_BYTES = 6,
    SL_ES_STRING = 7,
    SL_ES_TIMESTAMP = 8, /* milliseconds since the Unix epoch */
    SL_ES_UUID = 9,
};

/* One header. Pointers are borrowed from the parser (or the caller, when encoding). */
struct sl_es_header {
    const char *name;
    size_t name_len;
    enum sl_es_header_type type;
    int64_t int_value;    /* bools (1/0), byte, short, int, long, timestamp */
    const uint8_t *bytes; /* bytes, string, uuid (16 bytes) */
    size_t bytes_len;
};

struct sl_es_message {
    uint32_t total_length;
    uint32_t headers_length;
    struct sl_es_header headers[SL_ES_MAX_HEADERS];
    size_t n_headers;
    const uint8_t *payload;
    size_t payload_len;
};

enum sl_es_result {
    SL_ES_MESSAGE,   /* a message was stored */
    SL_ES_NEED_MORE, /* feed more bytes */
    SL_ES_ERROR,     /* the stream is broken for good: see sl_es_status() */
};

struct sl_es_parser {
    struct sl_buf buf; /* bytes not yet parsed, after `handed` bytes already returned */
    size_t handed;     /* bytes of the last returned message, dropped on the next call */
    size_t max_message_bytes;
    enum sl_status status; /* SL_OK until the stream breaks */
    char reason[96];       /* why it broke, for logs and tests */
};

/* Initialises `p`; a `max_message_bytes` of 0 means SL_ES_DEFAULT_MAX_MESSAGE_BYTES. */
void sl_es_init(struct sl_es_parser *p, size_t max_message_bytes);
void sl_es_dispose(struct sl_es_parser *p);

/*
 * Buffers `n` bytes. Memory stays within one message plus `n` as long as the caller takes
 * every message with sl_es_next() before feeding again. Returns the error status once the
 * stream is broken.
 */
enum sl_status sl_es_feed(struct sl_es_parser *p, const void *bytes, size_t n);

/*
 * Parses the next complete message into `msg`, whose pointers stay valid until the next
 * sl_es_feed() or sl_es_next(). A CRC mismatch, a length outside the caps, or a malformed
 * header sets the error state with SL_ERR_UPSTREAM_PROTO (SL_ERR_TOO_LARGE for a message
 * over the cap).
 */
enum sl_es_result sl_es_next(struct sl_es_parser *p, struct sl_es_message *msg);

/* Marks the end of input: bytes of an unfinished message put the parser in the error state. */
void sl_es_finish(struct sl_es_parser *p);

enum sl_status sl_es_status(const struct sl_es_parser *p);

/* Returns the first header named `name` (exact bytes), or NULL. */
const struct sl_es_header *sl_es_find_header(const struct sl_es_message *msg, const char *name);

/* Returns 1 when header `name` is a string equal to `value`. */
int sl_es_header_is(const struct sl_es_message *msg, const char *name, const char *value);

/* Updates the CRC-32 (IEEE 802.3, the zlib polynomial) `crc` with `n` bytes; start from 0. */
uint32_t sl_crc32(uint32_t crc, const void *p, size_t n);

/*
 * Appends one encoded message with `headers` and the payload. SL_ERR_INVALID when a name is
 * empty or over 255 bytes, a value is over 65535 bytes, a uuid is not 16 bytes, or the
 * message would pass SL_ES_DEFAULT_MAX_MESSAGE_BYTES.
 */
enum sl_status sl_es_encode(struct sl_buf *out, const struct sl_es_header *headers, size_t n,
                            const void *payload, size_t payload_len);

/* A string header for sl_es_encode(); `value` is borrowed. */
struct sl_es_header sl_es_string_header(const char *name, const char *value);

#endif /* SL_EVENTSTREAM_H */
