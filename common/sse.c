/* SPDX-License-Identifier: Apache-2.0 */
/* sse -- incremental SSE parsing and frame writing; see sse.h for the contract. */
#include "common/sse.h"

#include <assert.h>
#include <string.h>

/* Contents of the event buffers (_data, _event). */
enum slot {
    SLOT_READING, /* the event being parsed */
    SLOT_READY,   /* a complete event that sl_sse_next() has not returned yet */
    SLOT_TAKEN,   /* the event sl_sse_next() returned; the caller borrows it */
};

enum field {
    FIELD_IGNORED,
    FIELD_DATA,
    FIELD_EVENT,
    FIELD_ID,
    FIELD_RETRY,
};

static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};

/* Larger retry values are clamped to this, about 24 days, which no reconnection needs. */
#define RETRY_MAX_MS ((uint64_t)INT32_MAX)

void
sl_sse_init(struct sl_sse_parser *p, size_t max_event_bytes)
{
    assert(max_event_bytes > 0);
    memset(p, 0, sizeof(*p));
    p->_max_event_bytes = max_event_bytes;
    p->_state = SL_SSE__BOM;
    p->_status = SL_OK;
    p->_slot = SLOT_READING;
    p->_retry_ms = -1;

    /* The wire cap bounds every stored field, so these caps only back it up. */
    sl_buf_init(&p->_in, 0);
    sl_buf_init(&p->_data, max_event_bytes);
    sl_buf_init(&p->_event, max_event_bytes);
    sl_buf_init(&p->_id, max_event_bytes);
    sl_buf_init(&p->_id_line, max_event_bytes);
}

void
sl_sse_dispose(struct sl_sse_parser *p)
{
    sl_buf_dispose(&p->_in);
    sl_buf_dispose(&p->_data);
    sl_buf_dispose(&p->_event);
    sl_buf_dispose(&p->_id);
    sl_buf_dispose(&p->_id_line);
}

/* ---------------------------------------------------------------------------------------- */
/* The state machine                                                                        */
/* ---------------------------------------------------------------------------------------- */

static void
fail(struct sl_sse_parser *p, enum sl_status st)
{
    p->_state = SL_SSE__FAILED;
    p->_status = st;
}

/* Counts `n` more wire bytes against the cap; returns 0 and fails the parser past it. */
static int
count_bytes(struct sl_sse_parser *p, size_t n)
{
    if (n > p->_max_event_bytes - p->_event_bytes) {
        fail(p, SL_ERR_TOO_LARGE);
        return 0;
    }
    p->_event_bytes += n;
    return 1;
}

static void
append(struct sl_sse_parser *p, struct sl_buf *b, const char *s, size_t n)
{
    /* A stored field is never longer than the wire bytes counted by count_bytes(), so the
     * buffer cap is a second line of defence that should never trigger. */
    if (sl_buf_append(b, s, n) != SL_OK)
        fail(p, SL_ERR_TOO_LARGE);
}

static enum field
field_from_name(const struct sl_sse_parser *p)
{
    const char *n = p->_name;
    size_t len = p->_name_len;

    if (len == 4 && memcmp(n, "data", 4) == 0)
        return FIELD_DATA;
    if (len == 5 && memcmp(n, "event", 5) == 0)
        return FIELD_EVENT;
    if (len == 2 && memcmp(n, "id", 2) == 0)
        return FIELD_ID;
    if (len == 5 && memcmp(n, "retry", 5) == 0)
        return FIELD_RETRY;
    return FIELD_IGNORED;
}

static void
begin_value(struct sl_sse_parser *p)
{
    p->_field = (int)field_from_name(p);
    switch ((enum field)p->_field) {
    case FIELD_DATA:
        /* Data lines are joined with LF. Putting it before each later line gives the same
         * result as WHATWG, which appends LF after each line and strips the last at dispatch. */
        if (p->_has_data)
            append(p, &p->_data, "\n", 1);
        p->_has_data = 1;
        break;
    case FIELD_EVENT:
        sl_buf_reset(&p->_event);
        break;
    case FIELD_ID:
        sl_buf_reset(&p->_id_line);
        break;
    case FIELD_RETRY:
        p->_retry_value = 0;
        p->_retry_valid = 1;
        p->_retry_digits = 0;
        break;
    case FIELD_IGNORED:
        break;
    }
}

static void
append_value(struct sl_sse_parser *p, const char *s, size_t n)
{
    switch ((enum field)p->_field) {
    case FIELD_DATA:
        append(p, &p->_data, s, n);
        break;
    case FIELD_EVENT:
        append(p, &p->_event, s, n);
        break;
    case FIELD_ID:
        append(p, &p->_id_line, s, n);
        break;
    case FIELD_RETRY:
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];

            if (c < '0' || c > '9') {
                p->_retry_valid = 0;
                continue;
            }
            p->_retry_digits = 1;
            p->_retry_value = p->_retry_value * 10 + (uint64_t)(c - '0');
            if (p->_retry_value > RETRY_MAX_MS)
                p->_retry_value = RETRY_MAX_MS;
        }
        break;
    case FIELD_IGNORED:
        break;
    }
}

static void
end_value(struct sl_sse_parser *p)
{
    if (p->_field == FIELD_ID) {
        /* WHATWG ignores an id that contains NUL. */
        if (memchr(p->_id_line.data != NULL ? p->_id_line.data : "", '\0', p->_id_line.len) ==
            NULL) {
            sl_buf_reset(&p->_id);
            append(p, &p->_id, p->_id_line.data, p->_id_line.len);
        }
    } else if (p->_field == FIELD_RETRY) {
        if (p->_retry_valid && p->_retry_digits)
            p->_retry_ms = (int64_t)p->_retry_value;
    }
    p->_field = FIELD_IGNORED;
}

static void
clear_event(struct sl_sse_parser *p)
{
    sl_buf_reset(&p->_data);
    sl_buf_reset(&p->_event);
    p->_has_data = 0;
    p->_slot = SLOT_READING;
}

/* A blank line ends an event: it is dispatched if it had a data field, dropped otherwise. */
static void
end_event(struct sl_sse_parser *p)
{
    p->_event_bytes = 0;
    if (p->_has_data)
        p->_slot = SLOT_READY;
    else
        clear_event(p);
}

/* Ends the current line; `c` is the CR or LF that ended it. */
static void
end_line(struct sl_sse_parser *p, char c)
{
    p->_state = c == '\r' ? SL_SSE__AFTER_CR : SL_SSE__LINE_START;
}

/*
 * Handles one byte in the states where bytes are not read in runs. Returns 1 when the byte
 * was consumed, 0 when the new state must look at it again.
 */
static int
step(struct sl_sse_parser *p, char c)
{
    int is_eol = c == '\r' || c == '\n';

    switch (p->_state) {
    case SL_SSE__AFTER_CR:
        p->_state = SL_SSE__LINE_START;
        return c == '\n'; /* the LF of a CRLF pair is not counted against the cap */

    case SL_SSE__LINE_START:
        if (is_eol) {
            end_event(p);
            end_line(p, c);
            return 1;
        }
        if (c == ':') {
            p->_state = SL_SSE__COMMENT;
            count_bytes(p, 1);
            return 1;
        }
        p->_name_len = 0;
        p->_state = SL_SSE__FIELD; /* the field state counts the byte */
        return 0;

    case SL_SSE__FIELD:
        if (is_eol) {
            /* A line without a colon is a field name with an empty value. */
            begin_value(p);
            end_value(p);
            end_line(p, c);
        } else if (c == ':') {
            begin_value(p);
            p->_state = SL_SSE__VALUE_SPACE;
        } else if (p->_name_len < sizeof(p->_name)) {
            p->_name[p->_name_len++] = c; /* names this long are unknown anyway */
        }
        if (p->_state != SL_SSE__FAILED)
            count_bytes(p, 1);
        return 1;

    case SL_SSE__VALUE_SPACE:
        p->_state = SL_SSE__VALUE;
        if (c != ' ')
            return 0;
        count_bytes(p, 1);
        return 1;

    case SL_SSE__VALUE:
        end_value(p);
        end_line(p, c);
        count_bytes(p, 1);
        return 1;

    case SL_SSE__COMMENT:
        end_line(p, c);
        count_bytes(p, 1);
        return 1;

    case SL_SSE__BOM:
    case SL_SSE__FAILED:
        break;
    }
    assert(0 && "step() called in a state it does not handle");
    return 1;
}

/* Handles a byte at stream start, where a byte order mark is skipped. */
static int
step_bom(struct sl_sse_parser *p, char c)
{
    if ((unsigned char)c == bom[p->_bom_len]) {
        p->_bom_len++;
        if (p->_bom_len == (int)sizeof(bom))
            p->_state = SL_SSE__LINE_START;
        return 1;
    }

    /* Not a byte order mark after all: the bytes matched so far are ordinary input. They are
     * never CR or LF, so replaying them cannot end an event. */
    p->_state = SL_SSE__LINE_START;
    for (int i = 0; i < p->_bom_len && p->_state != SL_SSE__FAILED; i++) {
        while (!step(p, (char)bom[i]))
            ;
    }
    p->_bom_len = 0;
    return 0;
}

static size_t
run_to_eol(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && s[i] != '\r' && s[i] != '\n')
        i++;
    return i;
}

/*
 * Parses `s` until it is used up, an event is ready or the parser fails. Returns the number of
 * bytes consumed. Values and comments are read in runs up to the next line end.
 */
static size_t
advance(struct sl_sse_parser *p, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && p->_slot == SLOT_READING && p->_state != SL_SSE__FAILED) {
        if (p->_state == SL_SSE__VALUE || p->_state == SL_SSE__COMMENT) {
            size_t run = run_to_eol(s + i, n - i);

            if (run > 0) {
                if (!count_bytes(p, run))
                    break;
                if (p->_state == SL_SSE__VALUE)
                    append_value(p, s + i, run);
                i += run;
                continue;
            }
        }
        if (p->_state == SL_SSE__BOM)
            i += (size_t)step_bom(p, s[i]);
        else
            i += (size_t)step(p, s[i]);
    }
    return i;
}

/*
 * Processes the end of the stream once every buffered byte has been parsed: a partial byte
 * order mark is replayed, an unfinished line ends, and then the event ends as on a blank line.
 */
static void
process_eof(struct sl_sse_parser *p)
{
    p->_eof_done = 1;
    if (p->_state == SL_SSE__BOM) {
        p->_state = SL_SSE__LINE_START;
        for (int i = 0; i < p->_bom_len && p->_state != SL_SSE__FAILED; i++) {
            while (!step(p, (char)bom[i]))
                ;
        }
    }

    switch (p->_state) {
    case SL_SSE__FIELD:
        begin_value(p);
        end_value(p);
        break;
    case SL_SSE__VALUE_SPACE:
    case SL_SSE__VALUE:
        end_value(p);
        break;
    case SL_SSE__FAILED:
        return;
    case SL_SSE__BOM:
    case SL_SSE__LINE_START:
    case SL_SSE__AFTER_CR:
    case SL_SSE__COMMENT:
        break;
    }
    p->_state = SL_SSE__LINE_START;
    end_event(p);
}

/* ---------------------------------------------------------------------------------------- */
/* Public API                                                                               */
/* ---------------------------------------------------------------------------------------- */

static size_t
unparsed_len(const struct sl_sse_parser *p)
{
    return p->_in.len - p->_in_pos;
}

/* Parses what `_in` holds, and drops it once it is all parsed. */
static void
advance_buffered(struct sl_sse_parser *p)
{
    p->_in_pos += advance(p, p->_in.data + p->_in_pos, unparsed_len(p));
    if (p->_in_pos == p->_in.len) {
        sl_buf_reset(&p->_in);
        p->_in_pos = 0;
    }
}

enum sl_status
sl_sse_feed(struct sl_sse_parser *p, const char *bytes, size_t n)
{
    if (p->_state == SL_SSE__FAILED)
        return p->_status;
    if (p->_at_eof)
        return SL_ERR_INVALID;
    if (n == 0)
        return SL_OK;

    if (p->_slot == SLOT_TAKEN)
        clear_event(p);

    /* Bytes wait in `_in` only behind a ready event; otherwise they are parsed in place. */
    if (unparsed_len(p) > 0 || p->_slot == SLOT_READY) {
        if (p->_in_pos > 0) {
            sl_buf_consume(&p->_in, p->_in_pos);
            p->_in_pos = 0;
        }
        if (sl_buf_append(&p->_in, bytes, n) != SL_OK) {
            fail(p, SL_ERR_TOO_LARGE);
            return p->_status;
        }
        if (p->_slot == SLOT_READING)
            advance_buffered(p);
    } else {
        size_t used = advance(p, bytes, n);

        if (used < n && p->_state != SL_SSE__FAILED &&
            sl_buf_append(&p->_in, bytes + used, n - used) != SL_OK)
            fail(p, SL_ERR_TOO_LARGE);
    }
    return p->_state == SL_SSE__FAILED ? p->_status : SL_OK;
}

enum sl_sse_result
sl_sse_next(struct sl_sse_parser *p, struct sl_sse_event *ev)
{
    if (p->_slot == SLOT_TAKEN)
        clear_event(p);
    if (p->_slot == SLOT_READING && p->_state != SL_SSE__FAILED) {
        if (unparsed_len(p) > 0)
            advance_buffered(p);
        if (p->_slot == SLOT_READING && p->_state != SL_SSE__FAILED && p->_at_eof &&
            !p->_eof_done && unparsed_len(p) == 0)
            process_eof(p);
    }

    if (p->_slot == SLOT_READY) {
        p->_slot = SLOT_TAKEN;
        ev->event = p->_event.len > 0 ? p->_event.data : "message";
        ev->event_len = p->_event.len > 0 ? p->_event.len : strlen("message");
        ev->data = p->_data.data != NULL ? p->_data.data : "";
        ev->data_len = p->_data.len;
        ev->id = p->_id.data != NULL ? p->_id.data : "";
        ev->id_len = p->_id.len;
        return SL_SSE_EVENT;
    }
    if (p->_state == SL_SSE__FAILED)
        return SL_SSE_ERROR;
    return SL_SSE_NEED_MORE;
}

int
sl_sse_pending(const struct sl_sse_parser *p)
{
    if (p->_state == SL_SSE__FAILED)
        return 1;
    if (p->_slot == SLOT_READY || unparsed_len(p) > 0)
        return 1;
    if (p->_slot == SLOT_READING && (p->_has_data || p->_event.len > 0))
        return 1;
    switch (p->_state) {
    case SL_SSE__BOM:
        return p->_bom_len > 0;
    case SL_SSE__LINE_START:
    case SL_SSE__AFTER_CR:
        return 0;
    case SL_SSE__FIELD:
    case SL_SSE__VALUE_SPACE:
    case SL_SSE__VALUE:
    case SL_SSE__COMMENT:
    case SL_SSE__FAILED:
        break;
    }
    return 1;
}

void
sl_sse_finish(struct sl_sse_parser *p)
{
    p->_at_eof = 1;
}

enum sl_status
sl_sse_status(const struct sl_sse_parser *p)
{
    return p->_status;
}

int64_t
sl_sse_retry_ms(const struct sl_sse_parser *p)
{
    return p->_retry_ms;
}

/* ---------------------------------------------------------------------------------------- */
/* Writer                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static enum sl_status
append_data_lines(struct sl_buf *buf, const char *data, size_t len)
{
    enum sl_status rc;
    size_t i = 0;

    /* One data line per line of `data`; an empty `data` still needs one line to be sent. */
    do {
        size_t run = run_to_eol(data + i, len - i);

        rc = sl_buf_append(buf, "data: ", 6);
        if (rc == SL_OK)
            rc = sl_buf_append(buf, data + i, run);
        if (rc == SL_OK)
            rc = sl_buf_append(buf, "\n", 1);
        if (rc != SL_OK)
            return rc;

        i += run;
        if (i == len)
            break;
        /* Skip the line end: CR, LF, or a CRLF pair. */
        if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            i++;
        i++;
        if (i == len) {
            /* `data` ended with a line end, so the last line is empty. */
            rc = sl_buf_append(buf, "data: \n", 7);
            if (rc != SL_OK)
                return rc;
        }
    } while (i < len);

    return sl_buf_append(buf, "\n", 1);
}

/* Drops what a failed write appended, so the buffer is as before the call. */
static void
truncate_to(struct sl_buf *buf, size_t len)
{
    buf->len = len;
    if (buf->data != NULL)
        buf->data[len] = '\0';
}

enum sl_status
sl_sse_write_data(struct sl_buf *buf, const char *data, size_t len)
{
    size_t start = buf->len;
    enum sl_status rc = append_data_lines(buf, data, len);

    if (rc != SL_OK)
        truncate_to(buf, start);
    return rc;
}

enum sl_status
sl_sse_write_event(struct sl_buf *buf, const char *event_name, const char *data, size_t len)
{
    size_t start = buf->len;
    enum sl_status rc;

    if (strpbrk(event_name, "\r\n") != NULL)
        return SL_ERR_INVALID;

    rc = sl_buf_append(buf, "event: ", 7);
    if (rc == SL_OK)
        rc = sl_buf_append_str(buf, event_name);
    if (rc == SL_OK)
        rc = sl_buf_append(buf, "\n", 1);
    if (rc == SL_OK)
        rc = append_data_lines(buf, data, len);
    if (rc != SL_OK)
        truncate_to(buf, start);
    return rc;
}
