/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sse_test -- incremental SSE parsing and frame writing (common/sse.c).
 *
 * Besides one case per parsing rule, recorded streams are parsed at every split point and byte
 * by byte, and each result must equal a one-shot parse. The golden streams beside this file are
 * always checked, the provider captures when SLUICE_FIXTURES names their directory.
 */
#include "common/sse.h"
#include "fixtures.h"
#include "test.h"

#include <dirent.h>

#include "common/xalloc.h"

#define CAP_BYTES (64 * 1024)

static enum sl_status
feed(struct sl_sse_parser *p, const char *s)
{
    return sl_sse_feed(p, s, strlen(s));
}

/* Takes the next event and checks that it is one, with this name and data. */
static void
expect_event(struct sl_sse_parser *p, const char *name, const char *data)
{
    struct sl_sse_event ev;

    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(p, &ev));
    ASSERT_MEM_EQ(name, strlen(name), ev.event, ev.event_len);
    ASSERT_MEM_EQ(data, strlen(data), ev.data, ev.data_len);
    ASSERT_EQ(0, ev.data[ev.data_len]);
}

static void
expect_no_event(struct sl_sse_parser *p)
{
    struct sl_sse_event ev;

    ASSERT_EQ(SL_SSE_NEED_MORE, sl_sse_next(p, &ev));
}

/* ---------------------------------------------------------------------------------------- */
/* Rendering a whole parse as text, to compare parses of the same stream                     */
/* ---------------------------------------------------------------------------------------- */

static void
append_escaped(struct sl_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '\n':
            ASSERT_OK(sl_buf_append_str(out, "\\n"));
            break;
        case '\r':
            ASSERT_OK(sl_buf_append_str(out, "\\r"));
            break;
        case '\t':
            ASSERT_OK(sl_buf_append_str(out, "\\t"));
            break;
        case '\\':
            ASSERT_OK(sl_buf_append_str(out, "\\\\"));
            break;
        case '\0':
            ASSERT_OK(sl_buf_append_str(out, "\\0"));
            break;
        default:
            ASSERT_OK(sl_buf_append(out, &s[i], 1));
        }
    }
}

/* Appends every event the parser has ready, one "event TAB id TAB data" line each. */
static void
drain(struct sl_sse_parser *p, struct sl_buf *out, size_t *events)
{
    struct sl_sse_event ev;
    enum sl_sse_result r;

    for (;;) {
        r = sl_sse_next(p, &ev);
        if (r != SL_SSE_EVENT)
            break;
        append_escaped(out, ev.event, ev.event_len);
        ASSERT_OK(sl_buf_append_str(out, "\t"));
        append_escaped(out, ev.id, ev.id_len);
        ASSERT_OK(sl_buf_append_str(out, "\t"));
        append_escaped(out, ev.data, ev.data_len);
        ASSERT_OK(sl_buf_append_str(out, "\n"));
        (*events)++;
    }
    if (r == SL_SSE_ERROR)
        ASSERT_OK(sl_buf_printf(out, "error: %s\n", sl_status_str(sl_sse_status(p))));
}

static int
same_bytes(const struct sl_buf *a, const struct sl_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Returns the buffer as a string for messages; an untouched buffer has no bytes yet. */
static const char *
text_of(const struct sl_buf *b)
{
    return b->data != NULL ? b->data : "";
}

/*
 * Parses `s` fed in pieces that end at each of the `ncuts` offsets in `cuts` and then at `n`,
 * draining events after every feed, and renders the result into `out`. Returns the number of
 * events.
 */
static size_t
parse_in_pieces(const char *s, size_t n, const size_t *cuts, size_t ncuts, struct sl_buf *out)
{
    struct sl_sse_parser p;
    size_t events = 0;
    size_t from = 0;

    sl_sse_init(&p, CAP_BYTES);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        sl_sse_feed(&p, s + from, to - from);
        drain(&p, out, &events);
        from = to;
    }
    ASSERT_EQ(n, from);
    sl_sse_finish(&p);
    drain(&p, out, &events);
    ASSERT_EQ(0, sl_sse_pending(&p));
    sl_sse_dispose(&p);
    return events;
}

/*
 * Checks that `s` parses the same fed in two pieces split at every offset, and fed byte by
 * byte, as in one piece. Writes the one-piece rendering into `whole` and returns its event
 * count.
 */
static size_t
check_every_split(const char *label, const char *s, size_t n, struct sl_buf *whole)
{
    struct sl_buf got;
    size_t events = parse_in_pieces(s, n, NULL, 0, whole);
    size_t *cuts = sl_xcalloc(n + 1, sizeof(*cuts));

    sl_buf_init(&got, 0);
    for (size_t k = 0; k <= n; k++) {
        sl_buf_reset(&got);
        parse_in_pieces(s, n, &k, 1, &got);
        if (!same_bytes(&got, whole))
            SL_TEST_FAIL("%s: split at byte %zu of %zu gives\n%s\ninstead of\n%s", label, k, n,
                         text_of(&got), text_of(whole));
    }

    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    sl_buf_reset(&got);
    parse_in_pieces(s, n, cuts, n > 0 ? n - 1 : 0, &got);
    if (!same_bytes(&got, whole))
        SL_TEST_FAIL("%s: byte-by-byte feeding gives\n%s\ninstead of\n%s", label, text_of(&got),
                     text_of(whole));

    free(cuts);
    sl_buf_dispose(&got);
    return events;
}

static void
read_whole_file(const char *path, struct sl_buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;

    if (f == NULL)
        SL_TEST_FAIL("cannot open %s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ASSERT_OK(sl_buf_append(out, chunk, n));
    ASSERT_EQ(0, ferror(f));
    fclose(f);
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing rules                                                                             */
/* ---------------------------------------------------------------------------------------- */

/* Providers flush at arbitrary byte boundaries; an event split across reads must come out
 * exactly once, intact, and only after its blank line. */
TEST(sse_event_split_across_reads)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);

    ASSERT_OK(feed(&p, "data: {\"delta\":"));
    expect_no_event(&p);

    ASSERT_OK(feed(&p, "\"hi\"}\n"));
    expect_no_event(&p);

    ASSERT_OK(feed(&p, "\n"));
    expect_event(&p, "message", "{\"delta\":\"hi\"}");
    expect_no_event(&p);

    sl_sse_dispose(&p);
}

TEST(sse_lf_line_ends)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: a\ndata: 1\n\ndata: 2\n\n"));
    expect_event(&p, "a", "1");
    expect_event(&p, "message", "2");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

TEST(sse_crlf_line_ends)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n"));
    expect_event(&p, "a", "1\n2");
    expect_event(&p, "message", "3");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

TEST(sse_cr_only_line_ends)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: a\rdata: 1\rdata: 2\r\rdata: 3\r\r"));
    expect_event(&p, "a", "1\n2");
    expect_event(&p, "message", "3");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

/* A CR that ends one feed and the LF that starts the next are one line end, not two. */
TEST(sse_cr_at_feed_end_then_lf)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: a\r"));
    expect_no_event(&p);
    ASSERT_OK(feed(&p, "\ndata: b\r"));
    expect_no_event(&p);
    ASSERT_OK(feed(&p, "\n\r"));
    expect_event(&p, "message", "a\nb");
    ASSERT_OK(feed(&p, "\n"));
    expect_no_event(&p);
    ASSERT_EQ(0, sl_sse_pending(&p));
    sl_sse_dispose(&p);
}

TEST(sse_comment_lines_ignored)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, ": keep-alive\n\n:\n\ndata: x\n: inside\ndata: y\n\n"));
    expect_event(&p, "message", "x\ny");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

TEST(sse_multiline_data_joined)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: one\ndata:\ndata: three\ndata:\n\n"));
    expect_event(&p, "message", "one\n\nthree\n");
    sl_sse_dispose(&p);
}

/* The event name applies to one event only, and the last event field of an event wins. */
TEST(sse_event_name_reported)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: first\nevent: content_block_delta\ndata: {}\n\ndata: {}\n\n"));
    expect_event(&p, "content_block_delta", "{}");
    expect_event(&p, "message", "{}");
    sl_sse_dispose(&p);
}

TEST(sse_event_without_data_not_dispatched)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: ping\n\n"));
    expect_no_event(&p);
    ASSERT_OK(feed(&p, "data: after\n\n"));
    expect_event(&p, "message", "after");
    sl_sse_dispose(&p);
}

TEST(sse_bom_skipped)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "\357\273\277data: x\n\n"));
    expect_event(&p, "message", "x");
    sl_sse_dispose(&p);
}

TEST(sse_bom_split_across_feeds)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "\357"));
    ASSERT_OK(feed(&p, "\273"));
    ASSERT_EQ(1, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, "\277data"));
    ASSERT_OK(feed(&p, ": x\n\n"));
    expect_event(&p, "message", "x");
    sl_sse_dispose(&p);
}

/* A byte order mark later in the stream is part of a field name, which makes it unknown. */
TEST(sse_bom_only_skipped_at_stream_start)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: a\n\n\357\273\277data: b\n\ndata: c\n\n"));
    expect_event(&p, "message", "a");
    expect_event(&p, "message", "c");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

/* Bytes that start like a byte order mark but are not one stay part of the stream. */
TEST(sse_partial_bom_kept_as_input)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "\357\273data: a\n\ndata: b\n\n"));
    expect_event(&p, "message", "b");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

/* An event larger than the cap is an upstream protocol error, not an OOM. */
TEST(sse_event_over_cap_is_rejected)
{
    struct sl_sse_parser p;
    char big[128];

    sl_sse_init(&p, 64);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    ASSERT_OK(feed(&p, "data: "));
    ASSERT_EQ(SL_ERR_TOO_LARGE, feed(&p, big));

    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_sse_status(&p));
    ASSERT_EQ(SL_SSE_ERROR, sl_sse_next(&p, &(struct sl_sse_event){0}));
    ASSERT_EQ(SL_ERR_TOO_LARGE, feed(&p, "\n\ndata: small\n\n"));
    ASSERT_EQ(SL_SSE_ERROR, sl_sse_next(&p, &(struct sl_sse_event){0}));
    sl_sse_dispose(&p);
}

/* An endless comment line is bounded by the same cap. */
TEST(sse_comment_over_cap_is_rejected)
{
    struct sl_sse_parser p;
    enum sl_status rc = SL_OK;

    sl_sse_init(&p, 64);
    ASSERT_OK(feed(&p, ":"));
    for (int i = 0; i < 100 && rc == SL_OK; i++)
        rc = feed(&p, "0123456789");
    ASSERT_EQ(SL_ERR_TOO_LARGE, rc);
    sl_sse_dispose(&p);
}

/* The cap is per event: many small events fed at once are accepted. */
TEST(sse_cap_applies_per_event)
{
    struct sl_sse_parser p;
    struct sl_buf stream;

    sl_sse_init(&p, 32);
    sl_buf_init(&stream, 0);
    for (int i = 0; i < 50; i++)
        ASSERT_OK(sl_buf_printf(&stream, "data: event %02d\n\n", i));

    ASSERT_OK(sl_sse_feed(&p, stream.data, stream.len));
    for (int i = 0; i < 50; i++) {
        char want[16];

        snprintf(want, sizeof(want), "event %02d", i);
        expect_event(&p, "message", want);
    }
    expect_no_event(&p);
    sl_buf_dispose(&stream);
    sl_sse_dispose(&p);
}

/* An event of exactly the cap is accepted; one more byte is not. */
TEST(sse_event_at_cap_is_accepted)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, 8); /* "data: x\n" is 8 bytes before the blank line */
    ASSERT_OK(feed(&p, "data: x\n\n"));
    expect_event(&p, "message", "x");
    ASSERT_EQ(SL_ERR_TOO_LARGE, feed(&p, "data: xy\n\n"));
    sl_sse_dispose(&p);
}

TEST(sse_stream_cut_mid_event_is_pending)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_EQ(0, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, "data: partial"));
    ASSERT_EQ(1, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, " line\n"));
    ASSERT_EQ(1, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, "\n"));
    ASSERT_EQ(1, sl_sse_pending(&p)); /* dispatched but not taken yet */
    expect_event(&p, "message", "partial line");
    ASSERT_EQ(0, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, "event: x\n"));
    ASSERT_EQ(1, sl_sse_pending(&p));
    ASSERT_OK(feed(&p, "\n: bye\n"));
    expect_no_event(&p);
    ASSERT_EQ(0, sl_sse_pending(&p));
    sl_sse_dispose(&p);
}

/* Some providers end the stream without the last blank line; finish flushes that event. */
TEST(sse_finish_flushes_last_event)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "event: stop\ndata: {\"end\":true}"));
    expect_no_event(&p);
    ASSERT_EQ(1, sl_sse_pending(&p));
    sl_sse_finish(&p);
    expect_event(&p, "stop", "{\"end\":true}");
    expect_no_event(&p);
    ASSERT_EQ(0, sl_sse_pending(&p));
    ASSERT_EQ(SL_ERR_INVALID, feed(&p, "data: late\n\n"));
    sl_sse_dispose(&p);
}

TEST(sse_finish_drops_event_without_data)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: a\n\nevent: only\n"));
    sl_sse_finish(&p);
    expect_event(&p, "message", "a");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

TEST(sse_data_without_space)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data:[DONE]\n\nevent:x\ndata:y\n\n"));
    expect_event(&p, "message", "[DONE]");
    expect_event(&p, "x", "y");
    sl_sse_dispose(&p);
}

TEST(sse_only_one_leading_space_removed)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data:   three\ndata: trailing  \n\n"));
    expect_event(&p, "message", "  three\ntrailing  ");
    sl_sse_dispose(&p);
}

/* A line without a colon is a field with an empty value: "data" adds an empty data line. */
TEST(sse_field_without_colon)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data\n\nevent: named\nevent\ndata: x\ndata\n\n"));
    expect_event(&p, "message", "");
    expect_event(&p, "message", "x\n");
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

TEST(sse_unknown_fields_ignored)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "foo: bar\ndatax: no\nDATA: no\ndata: yes\nevents: no\n\n"));
    expect_event(&p, "message", "yes");
    sl_sse_dispose(&p);
}

TEST(sse_id_carries_over_to_later_events)
{
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: a\n\nid: 42\ndata: b\n\ndata: c\n\nid\ndata: d\n\n"));
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("", 0, ev.id, ev.id_len);
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("42", 2, ev.id, ev.id_len);
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("42", 2, ev.id, ev.id_len);
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("", 0, ev.id, ev.id_len);
    sl_sse_dispose(&p);
}

TEST(sse_id_with_nul_ignored)
{
    static const char stream[] = "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n";
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(sl_sse_feed(&p, stream, sizeof(stream) - 1));
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("1", 1, ev.id, ev.id_len);
    sl_sse_dispose(&p);
}

TEST(sse_data_may_contain_nul)
{
    static const char stream[] = "data: a\0b\n\n";
    struct sl_sse_parser p;
    struct sl_sse_event ev;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(sl_sse_feed(&p, stream, sizeof(stream) - 1));
    ASSERT_EQ(SL_SSE_EVENT, sl_sse_next(&p, &ev));
    ASSERT_MEM_EQ("a\0b", 3, ev.data, ev.data_len);
    sl_sse_dispose(&p);
}

TEST(sse_retry_sets_reconnection_time)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_EQ(-1, sl_sse_retry_ms(&p));
    ASSERT_OK(feed(&p, "retry: 1500\n\n"));
    ASSERT_EQ(1500, sl_sse_retry_ms(&p));
    ASSERT_OK(feed(&p, "retry: 15x\nretry:\nretry: -3\n\n"));
    ASSERT_EQ(1500, sl_sse_retry_ms(&p));
    ASSERT_OK(feed(&p, "retry: 99999999999999999999999\n\n"));
    ASSERT_EQ(INT32_MAX, sl_sse_retry_ms(&p));
    expect_no_event(&p);
    sl_sse_dispose(&p);
}

/* Bytes fed while an event waits are kept, in order, until the caller takes the events. */
TEST(sse_feed_while_event_waiting)
{
    struct sl_sse_parser p;

    sl_sse_init(&p, CAP_BYTES);
    ASSERT_OK(feed(&p, "data: 1\n\ndata: 2\n"));
    ASSERT_OK(feed(&p, "\ndata: 3\n\ndata: 4"));
    ASSERT_OK(feed(&p, "\n\n"));
    expect_event(&p, "message", "1");
    expect_event(&p, "message", "2");
    expect_event(&p, "message", "3");
    expect_event(&p, "message", "4");
    expect_no_event(&p);
    ASSERT_EQ(0, sl_sse_pending(&p));
    sl_sse_dispose(&p);
}

/* ---------------------------------------------------------------------------------------- */
/* Writer                                                                                    */
/* ---------------------------------------------------------------------------------------- */

TEST(sse_write_data_single_line)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_sse_write_data(&b, "{\"a\":1}", 7));
    ASSERT_STR_EQ("data: {\"a\":1}\n\n", b.data);
    ASSERT_OK(sl_sse_write_data(&b, "", 0));
    ASSERT_STR_EQ("data: {\"a\":1}\n\ndata: \n\n", b.data);
    sl_buf_dispose(&b);
}

TEST(sse_write_data_splits_lines)
{
    struct sl_buf b;
    const char *data = "a\nb\r\nc\rd\n";

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_sse_write_data(&b, data, strlen(data)));
    ASSERT_STR_EQ("data: a\ndata: b\ndata: c\ndata: d\ndata: \n\n", b.data);
    sl_buf_dispose(&b);
}

TEST(sse_write_event_has_name_line)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_sse_write_event(&b, "message_stop", "{}\n{}", 5));
    ASSERT_STR_EQ("event: message_stop\ndata: {}\ndata: {}\n\n", b.data);
    sl_buf_dispose(&b);
}

TEST(sse_write_event_rejects_line_break_in_name)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    ASSERT_OK(sl_buf_append_str(&b, "kept"));
    ASSERT_EQ(SL_ERR_INVALID, sl_sse_write_event(&b, "bad\nname", "x", 1));
    ASSERT_EQ(SL_ERR_INVALID, sl_sse_write_event(&b, "bad\rname", "x", 1));
    ASSERT_STR_EQ("kept", b.data);
    sl_buf_dispose(&b);
}

TEST(sse_write_over_cap_leaves_buffer_unchanged)
{
    struct sl_buf b;

    sl_buf_init(&b, 20);
    ASSERT_OK(sl_buf_append_str(&b, "kept"));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_sse_write_data(&b, "0123456789", 10));
    ASSERT_STR_EQ("kept", b.data);
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_sse_write_event(&b, "e", "x\ny\nz", 5));
    ASSERT_STR_EQ("kept", b.data);
    sl_buf_dispose(&b);
}

/* What the writer emits, the parser reads back, with CR and CRLF turned into LF. */
TEST(sse_writer_output_parses_back)
{
    static const char *const cases[] = {"",         "plain",      "two\nlines", "crlf\r\nline",
                                        "cr\rline", "trailing\n", "\n\n",       " leading space"};
    static const char *const parsed[] = {"",         "plain",      "two\nlines", "crlf\nline",
                                         "cr\nline", "trailing\n", "\n\n",       " leading space"};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_buf b;
        struct sl_sse_parser p;

        sl_buf_init(&b, 0);
        sl_sse_init(&p, CAP_BYTES);
        ASSERT_OK(sl_sse_write_event(&b, "delta", cases[i], strlen(cases[i])));
        ASSERT_OK(sl_sse_feed(&p, b.data, b.len));
        expect_event(&p, "delta", parsed[i]);
        expect_no_event(&p);
        ASSERT_EQ(0, sl_sse_pending(&p));
        sl_sse_dispose(&p);
        sl_buf_dispose(&b);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Recorded streams                                                                          */
/* ---------------------------------------------------------------------------------------- */

static const char *const golden_names[] = {"lf-events", "crlf", "cr-only", "bom-mixed",
                                           "no-final-blank-line"};

/* The golden streams sit beside this source file; CMake compiles it by absolute path. */
static void
golden_path(struct sl_buf *path, const char *name, const char *ext)
{
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash != NULL ? (int)(slash - __FILE__) : 1;
    const char *dir = slash != NULL ? __FILE__ : ".";

    sl_buf_reset(path);
    ASSERT_OK(sl_buf_printf(path, "%.*s/golden/sse/%s.%s", dir_len, dir, name, ext));
}

/* Each golden .sse stream parses into exactly the events its .events file lists. */
TEST(sse_golden_streams_give_expected_events)
{
    struct sl_buf path, stream, want, got;

    sl_buf_init(&path, 0);
    sl_buf_init(&stream, 0);
    sl_buf_init(&want, 0);
    sl_buf_init(&got, 0);
    for (size_t i = 0; i < sizeof(golden_names) / sizeof(golden_names[0]); i++) {
        sl_buf_reset(&stream);
        sl_buf_reset(&want);
        sl_buf_reset(&got);
        golden_path(&path, golden_names[i], "sse");
        read_whole_file(path.data, &stream);
        golden_path(&path, golden_names[i], "events");
        read_whole_file(path.data, &want);

        parse_in_pieces(stream.data, stream.len, NULL, 0, &got);
        if (!same_bytes(&got, &want))
            SL_TEST_FAIL("%s.sse gives\n%s\ninstead of\n%s", golden_names[i], text_of(&got),
                         text_of(&want));
    }
    sl_buf_dispose(&path);
    sl_buf_dispose(&stream);
    sl_buf_dispose(&want);
    sl_buf_dispose(&got);
}

TEST(sse_golden_streams_split_anywhere)
{
    struct sl_buf path, stream, whole;

    sl_buf_init(&path, 0);
    sl_buf_init(&stream, 0);
    sl_buf_init(&whole, 0);
    for (size_t i = 0; i < sizeof(golden_names) / sizeof(golden_names[0]); i++) {
        sl_buf_reset(&stream);
        sl_buf_reset(&whole);
        golden_path(&path, golden_names[i], "sse");
        read_whole_file(path.data, &stream);
        ASSERT_TRUE(check_every_split(golden_names[i], stream.data, stream.len, &whole) > 0);
    }
    sl_buf_dispose(&path);
    sl_buf_dispose(&stream);
    sl_buf_dispose(&whole);
}

/* Counts lines that start with "data:", the events a stream must yield at least one of. */
static size_t
count_data_lines(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i + 5 <= n; i++) {
        int line_start = i == 0 || s[i - 1] == '\n' || s[i - 1] == '\r';

        if (line_start && memcmp(s + i, "data:", 5) == 0)
            count++;
    }
    return count;
}

/* Skips leading '#' lines, which transcribed captures carry as a provenance header. */
static size_t
preamble_len(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && s[i] == '#') {
        while (i < n && s[i] != '\n')
            i++;
        if (i < n)
            i++;
    }
    return i;
}

static int
name_matches(const char *name, const char *prefix, const char *suffix)
{
    size_t len = strlen(name), plen = strlen(prefix), slen = strlen(suffix);

    return len >= plen + slen && strncmp(name, prefix, plen) == 0 &&
           strcmp(name + len - slen, suffix) == 0;
}

/* Runs check_every_split() on each capture in `provider` named prefix*.txt. */
static void
check_provider_captures(const char *provider, const char *prefix)
{
    const char *root = sl_test_fixtures_dir();
    struct sl_buf dir_path, path, stream, whole;
    struct dirent *de;
    size_t files = 0;
    DIR *dir;

    sl_buf_init(&dir_path, 0);
    sl_buf_init(&path, 0);
    sl_buf_init(&stream, 0);
    sl_buf_init(&whole, 0);
    ASSERT_OK(sl_buf_printf(&dir_path, "%s/%s", root, provider));
    dir = opendir(dir_path.data);
    if (dir == NULL)
        SL_TEST_FAIL("cannot open the fixtures directory %s", dir_path.data);

    while ((de = readdir(dir)) != NULL) {
        size_t skip, events;

        if (!name_matches(de->d_name, prefix, ".txt"))
            continue;
        sl_buf_reset(&path);
        sl_buf_reset(&stream);
        sl_buf_reset(&whole);
        ASSERT_OK(sl_buf_printf(&path, "%s/%s", dir_path.data, de->d_name));
        read_whole_file(path.data, &stream);

        skip = preamble_len(stream.data, stream.len);
        events = check_every_split(path.data, stream.data + skip, stream.len - skip, &whole);
        if (count_data_lines(stream.data + skip, stream.len - skip) > 0 && events == 0)
            SL_TEST_FAIL("%s has data lines but gives no event", path.data);
        fprintf(stderr, "%s: %zu events\n", path.data, events);
        files++;
    }
    closedir(dir);
    if (files == 0)
        SL_TEST_FAIL("no %s*.txt capture in %s", prefix, dir_path.data);

    sl_buf_dispose(&dir_path);
    sl_buf_dispose(&path);
    sl_buf_dispose(&stream);
    sl_buf_dispose(&whole);
}

TEST(sse_openai_captures_split_anywhere)
{
    check_provider_captures("openai", "");
}

TEST(sse_anthropic_captures_split_anywhere)
{
    check_provider_captures("anthropic", "stream-");
}

TEST(sse_gemini_captures_split_anywhere)
{
    check_provider_captures("gemini", "stream-");
}
