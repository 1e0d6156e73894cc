/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sse -- incremental Server-Sent Events parser and frame writer.
 *
 * The stream relay feeds upstream bytes as they arrive with sl_sse_feed(), then calls
 * sl_sse_next() until it returns SL_SSE_NEED_MORE. Parsing follows the WHATWG EventSource
 * rules (CRLF, LF or CR line ends, an optional leading BOM, ':' comments, multi-line data).
 * The parser is a byte-at-a-time state machine, so an event may be split at any byte, and
 * the work is linear in the bytes fed. One event is capped at `max_event_bytes` on the wire.
 *
 * The parser lives in caller storage and is used from one thread. The writer helpers build
 * frames for clients and for the mock provider.
 */
#ifndef SL_SSE_H
#define SL_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

/* Internal parse states; callers never look at them. */
enum sl_sse__state {
    SL_SSE__BOM,         /* at stream start, matching a byte order mark */
    SL_SSE__LINE_START,  /* at the first byte of a line */
    SL_SSE__AFTER_CR,    /* a CR ended the last line; an LF here belongs to it */
    SL_SSE__FIELD,       /* reading a field name */
    SL_SSE__VALUE_SPACE, /* after the colon, where one space is dropped */
    SL_SSE__VALUE,       /* reading a field value */
    SL_SSE__COMMENT,     /* skipping a line that starts with ':' */
    SL_SSE__FAILED,      /* an error was reported; every later call reports it again */
};

struct sl_sse_parser {
    size_t _max_event_bytes;
    size_t _event_bytes; /* wire bytes of the event being read */
    enum sl_sse__state _state;
    enum sl_status _status;
    int _slot;     /* whether the event buffers hold an event being read, ready or handed out */
    int _field;    /* the field whose value is being read */
    int _bom_len;  /* bytes of the byte order mark matched so far */
    int _has_data; /* a data field was seen in the event being read */
    int _at_eof;   /* sl_sse_finish() was called */
    int _eof_done; /* the end of the stream has been processed */
    char _name[8];
    size_t _name_len;
    uint64_t _retry_value;
    int _retry_valid;
    int _retry_digits;
    int64_t _retry_ms;
    size_t _in_pos;      /* first byte of `_in` not parsed yet */
    struct sl_buf _in;   /* bytes fed while an event waited for sl_sse_next() */
    struct sl_buf _data; /* data lines of the current event, joined with LF */
    struct sl_buf _event;
    struct sl_buf _id;      /* last event ID; it carries over to later events */
    struct sl_buf _id_line; /* value of the id field being read */
};

/* One dispatched event. Every pointer is borrowed until the next call on the parser. */
struct sl_sse_event {
    const char *event; /* "message" when the event had no event field */
    size_t event_len;
    const char *data; /* NUL-terminated; may also contain NUL bytes, so use data_len */
    size_t data_len;
    const char *id; /* last event ID seen on the stream so far; "" if none */
    size_t id_len;
};

enum sl_sse_result {
    SL_SSE_ERROR = -1, /* the parser failed; sl_sse_status() returns why */
    SL_SSE_NEED_MORE = 0,
    SL_SSE_EVENT = 1,
};

/*
 * Initialises a parser in caller storage. An event longer than `max_event_bytes` on the wire
 * fails the parser with SL_ERR_TOO_LARGE. The count covers every line of the event up to its
 * blank line, comments and unknown fields included, so a peer cannot make the parser read an
 * endless line either. `max_event_bytes` must be greater than 0.
 */
void sl_sse_init(struct sl_sse_parser *p, size_t max_event_bytes);
void sl_sse_dispose(struct sl_sse_parser *p);

/*
 * Parses `n` bytes of `bytes` (copied as needed; the caller may reuse them at once). Returns
 * SL_ERR_TOO_LARGE when the event being read passes the cap, after which the parser is failed
 * and every later call reports the error. While an event waits to be taken by sl_sse_next(),
 * new bytes are only buffered, so an oversized event in them is reported by sl_sse_next(). Call
 * sl_sse_next() until SL_SSE_NEED_MORE before each feed to keep memory bounded by the cap.
 * Returns SL_ERR_INVALID after sl_sse_finish().
 */
enum sl_status sl_sse_feed(struct sl_sse_parser *p, const char *bytes, size_t n);

/*
 * Fills `ev` with the next complete event and returns SL_SSE_EVENT, or returns
 * SL_SSE_NEED_MORE when the buffered bytes hold no complete event, or SL_SSE_ERROR when the
 * parser failed. `ev` is written only with SL_SSE_EVENT.
 */
enum sl_sse_result sl_sse_next(struct sl_sse_parser *p, struct sl_sse_event *ev);

/*
 * Returns 1 when part of an event is buffered: a line without its end, data or event fields
 * without their blank line, or bytes and events not yet taken by sl_sse_next(). Also 1 for a
 * failed parser. At the end of an upstream response, 1 means the stream was cut mid-event.
 */
int sl_sse_pending(const struct sl_sse_parser *p);

/*
 * Marks the end of the stream. The last line ends there even without a line break, and an
 * event with data that lacks its blank line is dispatched by the next sl_sse_next() calls.
 * WHATWG drops such an event, but some providers end their stream without the final blank
 * line. Call sl_sse_pending() before this to tell a cut stream from a clean end.
 */
void sl_sse_finish(struct sl_sse_parser *p);

/* Returns why the parser failed, or SL_OK. */
enum sl_status sl_sse_status(const struct sl_sse_parser *p);

/* Returns the reconnection time from the last valid retry field, or -1 if there was none. */
int64_t sl_sse_retry_ms(const struct sl_sse_parser *p);

/*
 * Appends one event to `buf`: a data line per line of `data` (`len` bytes), then a blank line.
 * CR, LF and CRLF in `data` all end a line, so a reader gets them back as LF. Returns
 * SL_ERR_TOO_LARGE, leaving `buf` unchanged, when the frame would pass the buffer's cap.
 */
enum sl_status sl_sse_write_data(struct sl_buf *buf, const char *data, size_t len);

/*
 * Like sl_sse_write_data(), with an event line first. `event_name` is NUL-terminated and must
 * not contain CR or LF (SL_ERR_INVALID otherwise, leaving `buf` unchanged).
 */
enum sl_status sl_sse_write_event(struct sl_buf *buf, const char *event_name, const char *data,
                                  size_t len);

#endif /* SL_SSE_H */
