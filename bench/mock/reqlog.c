/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reqlog -- a bounded ring of request records, serialised on demand for the control API.
 */
#include "bench/mock/reqlog.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

struct entry {
    uint64_t seq;
    char *method;
    char *path;
    const char *http_version; /* static string */
    char *headers_json;
    char *body;
    size_t body_len;
    int body_truncated;
    uint64_t received_ms;
    int completed;
    int client_gone;
    uint64_t client_gone_ms;
    size_t bytes; /* heap bytes held, counted against SL_MOCK_LOG_MAX_BYTES */
};

struct sl_mock_reqlog {
    struct entry ring[SL_MOCK_LOG_MAX_ENTRIES];
    size_t head;  /* index of the oldest entry */
    size_t count; /* entries in use */
    size_t bytes; /* sum of entry bytes */
    uint64_t next_seq;
};

struct sl_mock_reqlog *
sl_mock_reqlog_create(void)
{
    struct sl_mock_reqlog *log = sl_xcalloc(1, sizeof(*log));

    log->next_seq = 1;
    return log;
}

static void
entry_dispose(struct entry *e)
{
    free(e->method);
    free(e->path);
    free(e->headers_json);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

static void
drop_oldest(struct sl_mock_reqlog *log)
{
    struct entry *e = &log->ring[log->head];

    log->bytes -= e->bytes;
    entry_dispose(e);
    log->head = (log->head + 1) % SL_MOCK_LOG_MAX_ENTRIES;
    log->count--;
}

void
sl_mock_reqlog_clear(struct sl_mock_reqlog *log)
{
    while (log->count > 0)
        drop_oldest(log);
    log->head = 0;
}

void
sl_mock_reqlog_destroy(struct sl_mock_reqlog *log)
{
    if (log == NULL)
        return;
    sl_mock_reqlog_clear(log);
    free(log);
}

uint64_t
sl_mock_reqlog_add(struct sl_mock_reqlog *log, const struct sl_mock_reqlog_input *in)
{
    struct entry *e;
    size_t body_len = in->body_len;

    if (body_len > SL_MOCK_LOG_MAX_BODY)
        body_len = SL_MOCK_LOG_MAX_BODY;
    if (log->count == SL_MOCK_LOG_MAX_ENTRIES)
        drop_oldest(log);

    e = &log->ring[(log->head + log->count) % SL_MOCK_LOG_MAX_ENTRIES];
    log->count++;
    e->seq = log->next_seq++;
    e->method = sl_xstrndup(in->method, in->method_len);
    e->path = sl_xstrndup(in->path, in->path_len);
    e->http_version = in->http_version;
    e->headers_json = sl_xstrdup(in->headers_json);
    e->body = sl_xstrndup(in->body != NULL ? in->body : "", body_len);
    e->body_len = body_len;
    e->body_truncated = body_len < in->body_len;
    e->received_ms = in->received_ms;
    e->bytes = in->method_len + in->path_len + strlen(in->headers_json) + body_len;
    log->bytes += e->bytes;

    /* The newest entry always stays, even alone over the byte budget. */
    while (log->bytes > SL_MOCK_LOG_MAX_BYTES && log->count > 1)
        drop_oldest(log);
    return e->seq;
}

static struct entry *
find(struct sl_mock_reqlog *log, uint64_t seq)
{
    struct entry *oldest, *e;
    uint64_t offset;

    if (log->count == 0)
        return NULL;
    oldest = &log->ring[log->head];
    if (seq < oldest->seq)
        return NULL;
    offset = seq - oldest->seq;
    if (offset >= log->count)
        return NULL;
    /* Sequence numbers of the entries in the ring are consecutive, so the offset is exact. */
    e = &log->ring[(log->head + (size_t)offset) % SL_MOCK_LOG_MAX_ENTRIES];
    return e->seq == seq ? e : NULL;
}

void
sl_mock_reqlog_mark_completed(struct sl_mock_reqlog *log, uint64_t seq)
{
    struct entry *e = find(log, seq);

    if (e != NULL)
        e->completed = 1;
}

void
sl_mock_reqlog_mark_client_gone(struct sl_mock_reqlog *log, uint64_t seq, uint64_t at_ms)
{
    struct entry *e = find(log, seq);

    if (e != NULL && !e->client_gone) {
        e->client_gone = 1;
        e->client_gone_ms = at_ms;
    }
}

static enum sl_status
entry_to_json(const struct entry *e, struct sl_buf *out)
{
    enum sl_status rc;

    rc = sl_buf_printf(out, "{\"seq\":%" PRIu64 ",\"method\":", e->seq);
    if (rc == SL_OK)
        rc = sl_json_append_string(out, e->method, strlen(e->method));
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, ",\"path\":");
    if (rc == SL_OK)
        rc = sl_json_append_string(out, e->path, strlen(e->path));
    if (rc == SL_OK)
        rc =
            sl_buf_printf(out, ",\"http_version\":\"%s\",\"headers\":%s,\"body\":", e->http_version,
                          e->headers_json);
    if (rc == SL_OK)
        rc = sl_json_append_string(out, e->body, e->body_len);
    if (rc == SL_OK)
        rc = sl_buf_printf(out,
                           ",\"body_truncated\":%s,\"received_ms\":%" PRIu64
                           ",\"completed\":%s,\"client_gone\":%s,\"client_gone_ms\":",
                           e->body_truncated ? "true" : "false", e->received_ms,
                           e->completed ? "true" : "false", e->client_gone ? "true" : "false");
    if (rc == SL_OK && e->client_gone)
        rc = sl_buf_printf(out, "%" PRIu64 "}", e->client_gone_ms);
    else if (rc == SL_OK)
        rc = sl_buf_append_str(out, "null}");
    return rc;
}

enum sl_status
sl_mock_reqlog_to_json(const struct sl_mock_reqlog *log, struct sl_buf *out)
{
    enum sl_status rc = sl_buf_append_str(out, "{\"requests\":[");

    for (size_t i = 0; i < log->count && rc == SL_OK; i++) {
        const struct entry *e = &log->ring[(log->head + i) % SL_MOCK_LOG_MAX_ENTRIES];

        if (i > 0)
            rc = sl_buf_append(out, ",", 1);
        if (rc == SL_OK)
            rc = entry_to_json(e, out);
    }
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, "]}");
    return rc;
}
