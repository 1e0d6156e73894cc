/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eventstream_fuzz -- libFuzzer target for the AWS event-stream parser (common/eventstream.c).
 *
 * The first input bytes choose the message cap, a split offset and a feeding mode; the rest is
 * the stream. It is parsed in one piece and again split in two (the second half optionally
 * byte by byte), and both parses must give the same messages and final status, with every
 * message within the cap and every header within its message. Every parsed message is also
 * re-encoded and must parse back to itself. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/eventstream.h"

#define HEADER_BYTES      4
#define MODE_BYTE_BY_BYTE 0x1

static const size_t caps[] = {16, 64, 256, 4096, 1024 * 1024};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "eventstream_fuzz: %s\n", what);
        abort();
    }
}

/* Appends a canonical rendering of `msg` to `out`. */
static void
render(const struct sl_es_message *msg, struct sl_buf *out)
{
    sl_buf_append(out, &msg->n_headers, sizeof(msg->n_headers));
    for (size_t i = 0; i < msg->n_headers; i++) {
        const struct sl_es_header *h = &msg->headers[i];

        sl_buf_append(out, &h->name_len, sizeof(h->name_len));
        sl_buf_append(out, h->name, h->name_len);
        sl_buf_append(out, &h->type, sizeof(h->type));
        sl_buf_append(out, &h->int_value, sizeof(h->int_value));
        sl_buf_append(out, &h->bytes_len, sizeof(h->bytes_len));
        if (h->bytes_len > 0)
            sl_buf_append(out, h->bytes, h->bytes_len);
    }
    sl_buf_append(out, &msg->payload_len, sizeof(msg->payload_len));
    if (msg->payload_len > 0)
        sl_buf_append(out, msg->payload, msg->payload_len);
}

/* A parsed message, encoded again, must parse back to the same rendering. */
static void
check_roundtrip(const struct sl_es_message *msg, const struct sl_buf *rendered, size_t from)
{
    struct sl_buf encoded;
    struct sl_buf again;
    struct sl_es_parser p;
    struct sl_es_message back;

    sl_buf_init(&encoded, 0);
    sl_buf_init(&again, 0);
    check(sl_es_encode(&encoded, msg->headers, msg->n_headers, msg->payload, msg->payload_len) ==
              SL_OK,
          "a parsed message does not encode");
    check(encoded.len == msg->total_length, "re-encoded length differs");
    sl_es_init(&p, 0);
    sl_es_feed(&p, encoded.data, encoded.len);
    check(sl_es_next(&p, &back) == SL_ES_MESSAGE, "re-encoded message does not parse");
    render(&back, &again);
    check(again.len == rendered->len - from &&
              memcmp(again.data, rendered->data + from, again.len) == 0,
          "re-encoded message parses differently");
    sl_es_dispose(&p);
    sl_buf_dispose(&encoded);
    sl_buf_dispose(&again);
}

static void
drain(struct sl_es_parser *p, size_t cap, struct sl_buf *out, int roundtrip)
{
    struct sl_es_message msg;

    while (sl_es_next(p, &msg) == SL_ES_MESSAGE) {
        size_t from = out->len;
        const uint8_t *start = msg.payload - msg.headers_length - 12;

        check(msg.total_length <= cap, "message over the cap");
        check(msg.payload_len + msg.headers_length + 16 == msg.total_length,
              "lengths do not add up");
        for (size_t i = 0; i < msg.n_headers; i++) {
            const struct sl_es_header *h = &msg.headers[i];
            const uint8_t *name = (const uint8_t *)h->name;

            check(name > start && name + h->name_len <= msg.payload, "header name outside");
            if (h->bytes_len > 0)
                check(h->bytes > start && h->bytes + h->bytes_len <= msg.payload,
                      "header value outside");
        }
        render(&msg, out);
        if (roundtrip)
            check_roundtrip(&msg, out, from);
    }
}

static void
parse(const uint8_t *s, size_t n, size_t cap, size_t cut, int mode, struct sl_buf *out,
      int roundtrip)
{
    struct sl_es_parser p;
    enum sl_status st;

    sl_es_init(&p, cap);
    sl_es_feed(&p, s, cut);
    drain(&p, cap, out, roundtrip);
    if (mode & MODE_BYTE_BY_BYTE) {
        for (size_t i = cut; i < n; i++) {
            sl_es_feed(&p, s + i, 1);
            drain(&p, cap, out, 0);
        }
    } else {
        sl_es_feed(&p, s + cut, n - cut);
        drain(&p, cap, out, 0);
    }
    sl_es_finish(&p);
    st = sl_es_status(&p);
    sl_buf_append(out, &st, sizeof(st));
    check(p.buf.len <= cap + n, "buffered more than one message plus the input");
    sl_es_dispose(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_buf whole;
    struct sl_buf split;
    size_t cap;
    size_t cut;
    int mode;

    if (size < HEADER_BYTES)
        return 0;
    cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
    mode = data[1];
    cut = ((size_t)data[2] << 8 | data[3]);
    data += HEADER_BYTES;
    size -= HEADER_BYTES;
    cut = size > 0 ? cut % (size + 1) : 0;

    sl_buf_init(&whole, 0);
    sl_buf_init(&split, 0);
    parse(data, size, cap, size, 0, &whole, 1);
    parse(data, size, cap, cut, mode, &split, 0);
    check(whole.len == split.len &&
              (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0),
          "split parse differs from the one-shot parse");
    sl_buf_dispose(&whole);
    sl_buf_dispose(&split);
    return 0;
}
