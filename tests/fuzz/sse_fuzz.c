/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sse_fuzz -- libFuzzer target for the SSE parser and writer (common/sse.c).
 *
 * The first input bytes choose the event cap, a split offset and a feeding mode; the rest is
 * the stream. The stream is parsed in one piece and again split in two (or byte by byte), and
 * both parses must give the same events, pending flag and final status, with every event
 * within the cap. The writer is checked too: any bytes written as data parse back as that data
 * with CR and CRLF turned into LF. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/sse.h"

#define HEADER_BYTES 4

/* Bits of the mode byte. */
#define MODE_NO_DRAIN_BETWEEN 0x1 /* feed both halves before taking any event */
#define MODE_BYTE_BY_BYTE     0x2 /* feed the second half one byte at a time */

static const size_t caps[] = {1, 8, 32, 100, 1024, 64 * 1024};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "sse_fuzz: %s\n", what);
        abort();
    }
}

static void
append_field(struct sl_buf *out, const char *s, size_t n)
{
    check(sl_buf_append(out, &n, sizeof(n)) == SL_OK, "rendering failed");
    check(sl_buf_append(out, s, n) == SL_OK, "rendering failed");
}

/* Takes every ready event, checks it against the cap, and appends it to `out`. */
static void
drain(struct sl_sse_parser *p, size_t cap, struct sl_buf *out)
{
    struct sl_sse_event ev;

    while (sl_sse_next(p, &ev) == SL_SSE_EVENT) {
        check(ev.data[ev.data_len] == '\0', "event data is not NUL-terminated");
        check(ev.data_len <= cap, "event data over the cap");
        check(ev.id_len <= cap, "event id over the cap");
        check(ev.event_len <= cap || memcmp(ev.event, "message", ev.event_len) == 0,
              "event name over the cap");
        append_field(out, ev.event, ev.event_len);
        append_field(out, ev.data, ev.data_len);
        append_field(out, ev.id, ev.id_len);
    }
}

/* Appends what is left to compare once the stream is fed: pending flag, status, retry. */
static void
finish(struct sl_sse_parser *p, size_t cap, struct sl_buf *out)
{
    int pending = sl_sse_pending(p);
    enum sl_status st;
    int64_t retry;

    sl_sse_finish(p);
    drain(p, cap, out);
    st = sl_sse_status(p);
    retry = sl_sse_retry_ms(p);
    check(sl_buf_append(out, &pending, sizeof(pending)) == SL_OK, "rendering failed");
    check(sl_buf_append(out, &st, sizeof(st)) == SL_OK, "rendering failed");
    check(sl_buf_append(out, &retry, sizeof(retry)) == SL_OK, "rendering failed");
    if (st == SL_OK)
        check(!sl_sse_pending(p), "pending after finish and drain");
}

static void
parse_one_piece(const char *s, size_t n, size_t cap, struct sl_buf *out)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, cap);
    sl_sse_feed(&p, s, n);
    drain(&p, cap, out);
    finish(&p, cap, out);
    sl_sse_dispose(&p);
}

static void
parse_split(const char *s, size_t n, size_t split, unsigned mode, size_t cap, struct sl_buf *out)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, cap);
    sl_sse_feed(&p, s, split);
    if (!(mode & MODE_NO_DRAIN_BETWEEN))
        drain(&p, cap, out);
    if (mode & MODE_BYTE_BY_BYTE) {
        for (size_t i = split; i < n; i++) {
            sl_sse_feed(&p, s + i, 1);
            if (!(mode & MODE_NO_DRAIN_BETWEEN))
                drain(&p, cap, out);
        }
    } else {
        sl_sse_feed(&p, s + split, n - split);
    }
    drain(&p, cap, out);
    finish(&p, cap, out);
    sl_sse_dispose(&p);
}

/* Writes `s` as one data frame and checks it parses back as `s` with line ends made LF. */
static void
check_writer(const char *s, size_t n)
{
    struct sl_buf frame, want;
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_buf_init(&frame, 0);
    sl_buf_init(&want, 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue; /* the LF that follows stands for the pair */
        if (c == '\r')
            c = '\n';
        check(sl_buf_append(&want, &c, 1) == SL_OK, "rendering failed");
    }
    check(sl_sse_write_event(&frame, "fuzz", s, n) == SL_OK, "writing a frame failed");

    sl_sse_init(&p, frame.len);
    check(sl_sse_feed(&p, frame.data, frame.len) == SL_OK, "written frame rejected");
    check(sl_sse_next(&p, &ev) == SL_SSE_EVENT, "written frame gave no event");
    check(ev.event_len == 4 && memcmp(ev.event, "fuzz", 4) == 0, "written name changed");
    check(ev.data_len == want.len && (want.len == 0 || memcmp(ev.data, want.data, want.len) == 0),
          "written data changed");
    check(sl_sse_next(&p, &ev) == SL_SSE_NEED_MORE, "written frame gave two events");
    check(!sl_sse_pending(&p), "written frame left a pending event");

    sl_sse_dispose(&p);
    sl_buf_dispose(&frame);
    sl_buf_dispose(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_buf whole, split;
    const char *s;
    size_t n, cap, cut;
    unsigned mode;

    if (size < HEADER_BYTES)
        return 0;
    cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
    cut = (size_t)data[1] << 8 | data[2];
    mode = data[3];
    s = (const char *)data + HEADER_BYTES;
    n = size - HEADER_BYTES;
    cut = n == 0 ? 0 : cut % (n + 1);

    sl_buf_init(&whole, 0);
    sl_buf_init(&split, 0);
    parse_one_piece(s, n, cap, &whole);
    parse_split(s, n, cut, mode, cap, &split);
    check(whole.len == split.len &&
              (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0),
          "split parse differs from one-piece parse");
    sl_buf_dispose(&whole);
    sl_buf_dispose(&split);

    check_writer(s, n);
    return 0;
}
