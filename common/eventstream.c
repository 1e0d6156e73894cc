/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eventstream -- AWS event-stream parsing and encoding; see eventstream.h.
 *
 * Parsing order per message: wait for the prelude, check its CRC before trusting either
 * length, check the lengths against the caps, wait for the whole message, check the message
 * CRC, and only then read the headers. A message is handed out in place; its bytes are dropped
 * from the buffer on the next call.
 */
#include "common/eventstream.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- CRC-32 */

static uint32_t crc_table[256];
static int crc_table_ready;

static void
build_crc_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t
sl_crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    /* Building twice from two threads writes the same values, so the race is benign. */
    if (!crc_table_ready)
        build_crc_table();
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---------------------------------------------------------------- parser */

static uint32_t
read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
read_u64(const uint8_t *p)
{
    return (uint64_t)read_u32(p) << 32 | (uint64_t)read_u32(p + 4);
}

void
sl_es_init(struct sl_es_parser *p, size_t max_message_bytes)
{
    memset(p, 0, sizeof(*p));
    sl_buf_init(&p->buf, 0);
    p->max_message_bytes =
        max_message_bytes != 0 ? max_message_bytes : SL_ES_DEFAULT_MAX_MESSAGE_BYTES;
    p->status = SL_OK;
}

void
sl_es_dispose(struct sl_es_parser *p)
{
    sl_buf_dispose(&p->buf);
}

static enum sl_es_result
fail(struct sl_es_parser *p, enum sl_status st, const char *reason)
{
    p->status = st;
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    return SL_ES_ERROR;
}

static void
drop_handed(struct sl_es_parser *p)
{
    if (p->handed > 0) {
        sl_buf_consume(&p->buf, p->handed);
        p->handed = 0;
    }
}

enum sl_status
sl_es_feed(struct sl_es_parser *p, const void *bytes, size_t n)
{
    if (p->status != SL_OK)
        return p->status;
    drop_handed(p);
    if (n > 0 && sl_buf_append(&p->buf, bytes, n) != SL_OK) {
        fail(p, SL_ERR_TOO_LARGE, "buffered bytes over the size limit");
        return p->status;
    }
    return SL_OK;
}

/* Reads one header at `*pos` (before `end`) into `h`. Returns 0, or -1 when malformed. */
static int
parse_header(const uint8_t *base, size_t *pos, size_t end, struct sl_es_header *h)
{
    size_t i = *pos;
    size_t value_len;

    if (i >= end || base[i] == 0)
        return -1;
    h->name_len = base[i];
    i++;
    if (h->name_len > end - i)
        return -1;
    h->name = (const char *)base + i;
    i += h->name_len;
    if (i >= end)
        return -1;
    h->type = (enum sl_es_header_type)base[i];
    i++;
    h->int_value = 0;
    h->bytes = NULL;
    h->bytes_len = 0;

    switch (base[i - 1]) {
    case SL_ES_BOOL_TRUE:
        h->int_value = 1;
        value_len = 0;
        break;
    case SL_ES_BOOL_FALSE:
        value_len = 0;
        break;
    case SL_ES_BYTE:
        value_len = 1;
        if (end - i >= value_len)
            h->int_value = (int8_t)base[i];
        break;
    case SL_ES_SHORT:
        value_len = 2;
        if (end - i >= value_len)
            h->int_value = (int16_t)(uint16_t)((unsigned)base[i] << 8 | base[i + 1]);
        break;
    case SL_ES_INT:
        value_len = 4;
        if (end - i >= value_len)
            h->int_value = (int32_t)read_u32(base + i);
        break;
    case SL_ES_LONG:
    case SL_ES_TIMESTAMP:
        value_len = 8;
        if (end - i >= value_len)
            h->int_value = (int64_t)read_u64(base + i);
        break;
    case SL_ES_BYTES:
    case SL_ES_STRING:
        if (end - i < 2)
            return -1;
        h->bytes_len = (size_t)base[i] << 8 | base[i + 1];
        i += 2;
        value_len = h->bytes_len;
        h->bytes = base + i;
        break;
    case SL_ES_UUID:
        value_len = 16;
        h->bytes = base + i;
        h->bytes_len = 16;
        break;
    default:
        return -1;
    }
    if (value_len > end - i)
        return -1;
    *pos = i + value_len;
    return 0;
}

enum sl_es_result
sl_es_next(struct sl_es_parser *p, struct sl_es_message *msg)
{
    const uint8_t *b;
    uint32_t total;
    uint32_t headers_len;
    size_t pos;
    size_t headers_end;

    if (p->status != SL_OK)
        return SL_ES_ERROR;
    drop_handed(p);
    if (p->buf.len < 12)
        return SL_ES_NEED_MORE;

    /* The prelude CRC guards both lengths, so it is checked before they are used. */
    b = (const uint8_t *)p->buf.data;
    if (sl_crc32(0, b, 8) != read_u32(b + 8))
        return fail(p, SL_ERR_UPSTREAM_PROTO, "prelude checksum mismatch");
    total = read_u32(b);
    headers_len = read_u32(b + 4);
    if (total < SL_ES_OVERHEAD_BYTES || headers_len > total - SL_ES_OVERHEAD_BYTES)
        return fail(p, SL_ERR_UPSTREAM_PROTO, "message lengths are inconsistent");
    if (total > p->max_message_bytes)
        return fail(p, SL_ERR_TOO_LARGE, "message over the size limit");
    if (headers_len > SL_ES_MAX_HEADERS_BYTES)
        return fail(p, SL_ERR_UPSTREAM_PROTO, "headers over 128 KiB");
    if (p->buf.len < total)
        return SL_ES_NEED_MORE;

    if (sl_crc32(0, b, total - 4u) != read_u32(b + total - 4))
        return fail(p, SL_ERR_UPSTREAM_PROTO, "message checksum mismatch");

    memset(msg, 0, sizeof(*msg));
    msg->total_length = total;
    msg->headers_length = headers_len;
    pos = 12;
    headers_end = 12u + (size_t)headers_len;
    while (pos < headers_end) {
        if (msg->n_headers == SL_ES_MAX_HEADERS)
            return fail(p, SL_ERR_UPSTREAM_PROTO, "too many headers");
        if (parse_header(b, &pos, headers_end, &msg->headers[msg->n_headers]) != 0)
            return fail(p, SL_ERR_UPSTREAM_PROTO, "malformed header");
        msg->n_headers++;
    }
    msg->payload = b + headers_end;
    msg->payload_len = (size_t)total - headers_end - 4u;
    p->handed = total;
    return SL_ES_MESSAGE;
}

void
sl_es_finish(struct sl_es_parser *p)
{
    if (p->status != SL_OK)
        return;
    drop_handed(p);
    if (p->buf.len > 0)
        fail(p, SL_ERR_UPSTREAM_PROTO, "the stream ended inside a message");
}

enum sl_status
sl_es_status(const struct sl_es_parser *p)
{
    return p->status;
}

const struct sl_es_header *
sl_es_find_header(const struct sl_es_message *msg, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < msg->n_headers; i++)
        if (msg->headers[i].name_len == n && memcmp(msg->headers[i].name, name, n) == 0)
            return &msg->headers[i];
    return NULL;
}

int
sl_es_header_is(const struct sl_es_message *msg, const char *name, const char *value)
{
    const struct sl_es_header *h = sl_es_find_header(msg, name);
    size_t n = strlen(value);

    return h != NULL && h->type == SL_ES_STRING && h->bytes_len == n &&
           memcmp(h->bytes, value, n) == 0;
}

/* ---------------------------------------------------------------- encoder */

struct sl_es_header
sl_es_string_header(const char *name, const char *value)
{
    struct sl_es_header h;

    memset(&h, 0, sizeof(h));
    h.name = name;
    h.name_len = strlen(name);
    h.type = SL_ES_STRING;
    h.bytes = (const uint8_t *)value;
    h.bytes_len = strlen(value);
    return h;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static enum sl_status
encode_header(struct sl_buf *out, const struct sl_es_header *h)
{
    uint8_t tmp[8];
    uint8_t len8;
    uint8_t type = (uint8_t)h->type;
    uint64_t v = (uint64_t)h->int_value;

    if (h->name_len == 0 || h->name_len > 255)
        return SL_ERR_INVALID;
    len8 = (uint8_t)h->name_len;
    sl_buf_append(out, &len8, 1);
    sl_buf_append(out, h->name, h->name_len);
    sl_buf_append(out, &type, 1);
    switch (h->type) {
    case SL_ES_BOOL_TRUE:
    case SL_ES_BOOL_FALSE:
        return SL_OK;
    case SL_ES_BYTE:
        tmp[0] = (uint8_t)v;
        return sl_buf_append(out, tmp, 1);
    case SL_ES_SHORT:
        tmp[0] = (uint8_t)(v >> 8);
        tmp[1] = (uint8_t)v;
        return sl_buf_append(out, tmp, 2);
    case SL_ES_INT:
        put_u32(tmp, (uint32_t)v);
        return sl_buf_append(out, tmp, 4);
    case SL_ES_LONG:
    case SL_ES_TIMESTAMP:
        put_u32(tmp, (uint32_t)(v >> 32));
        put_u32(tmp + 4, (uint32_t)v);
        return sl_buf_append(out, tmp, 8);
    case SL_ES_BYTES:
    case SL_ES_STRING:
        if (h->bytes_len > 65535)
            return SL_ERR_INVALID;
        tmp[0] = (uint8_t)(h->bytes_len >> 8);
        tmp[1] = (uint8_t)h->bytes_len;
        sl_buf_append(out, tmp, 2);
        return sl_buf_append(out, h->bytes, h->bytes_len);
    case SL_ES_UUID:
        if (h->bytes_len != 16)
            return SL_ERR_INVALID;
        return sl_buf_append(out, h->bytes, 16);
    }
    return SL_ERR_INVALID;
}

enum sl_status
sl_es_encode(struct sl_buf *out, const struct sl_es_header *headers, size_t n, const void *payload,
             size_t payload_len)
{
    struct sl_buf hdr;
    uint8_t prelude[12];
    uint8_t crc[4];
    size_t start = out->len;
    size_t total;
    enum sl_status rc = SL_OK;

    sl_buf_init(&hdr, SL_ES_MAX_HEADERS_BYTES);
    for (size_t i = 0; i < n && rc == SL_OK; i++)
        rc = encode_header(&hdr, &headers[i]);
    if (rc != SL_OK)
        goto out;
    total = SL_ES_OVERHEAD_BYTES + hdr.len + payload_len;
    if (payload_len > SL_ES_DEFAULT_MAX_MESSAGE_BYTES || total > SL_ES_DEFAULT_MAX_MESSAGE_BYTES) {
        rc = SL_ERR_INVALID;
        goto out;
    }

    put_u32(prelude, (uint32_t)total);
    put_u32(prelude + 4, (uint32_t)hdr.len);
    put_u32(prelude + 8, sl_crc32(0, prelude, 8));
    sl_buf_append(out, prelude, sizeof(prelude));
    if (hdr.len > 0)
        sl_buf_append(out, hdr.data, hdr.len);
    if (payload_len > 0)
        sl_buf_append(out, payload, payload_len);
    put_u32(crc, sl_crc32(0, out->data + start, out->len - start));
    rc = sl_buf_append(out, crc, sizeof(crc));

out:
    sl_buf_dispose(&hdr);
    return rc;
}
