/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reqlog -- the log of provider requests that GET /_mock/requests returns.
 *
 * It keeps the last SL_MOCK_LOG_MAX_ENTRIES requests and at most SL_MOCK_LOG_MAX_BYTES of
 * stored bodies and headers, dropping the oldest entries first. A body longer than
 * SL_MOCK_LOG_MAX_BODY is stored truncated and flagged. Entries are found again by their
 * sequence number to record how the request ended. The log is not locked: the caller holds the
 * shared state's mutex around every call.
 */
#ifndef SL_MOCK_REQLOG_H
#define SL_MOCK_REQLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#define SL_MOCK_LOG_MAX_ENTRIES 10000
#define SL_MOCK_LOG_MAX_BODY    (1024 * 1024)
#define SL_MOCK_LOG_MAX_BYTES   (256 * 1024 * 1024)

struct sl_mock_reqlog;

/* Fields of a new entry. The strings are copied. */
struct sl_mock_reqlog_input {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    const char *http_version; /* "1.0", "1.1" or "2" */
    const char *headers_json; /* a JSON object, already serialised */
    const char *body;
    size_t body_len;
    uint64_t received_ms; /* since the mock started */
};

struct sl_mock_reqlog *sl_mock_reqlog_create(void);
void sl_mock_reqlog_destroy(struct sl_mock_reqlog *log);

/* Appends an entry and returns its sequence number (1 for the first request). */
uint64_t sl_mock_reqlog_add(struct sl_mock_reqlog *log, const struct sl_mock_reqlog_input *in);

/* Records that the mock finished sending the response of request `seq`. */
void sl_mock_reqlog_mark_completed(struct sl_mock_reqlog *log, uint64_t seq);

/* Records that the client of request `seq` went away at `at_ms`; the first report wins. */
void sl_mock_reqlog_mark_client_gone(struct sl_mock_reqlog *log, uint64_t seq, uint64_t at_ms);

/* Drops every entry; sequence numbers keep counting. */
void sl_mock_reqlog_clear(struct sl_mock_reqlog *log);

/* Appends {"requests":[...]} (oldest first) to `out`. */
enum sl_status sl_mock_reqlog_to_json(const struct sl_mock_reqlog *log, struct sl_buf *out);

#endif /* SL_MOCK_REQLOG_H */
