/* SPDX-License-Identifier: Apache-2.0 */
/* buf -- growable byte buffer with a cap; see buf.h for the contract. */
#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void
sl_buf_init(struct sl_buf *b, size_t max_len)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len == 0 ? SIZE_MAX / 2 : max_len;
}

void
sl_buf_dispose(struct sl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static enum sl_status
reserve(struct sl_buf *b, size_t extra)
{
    size_t need;
    size_t cap;

    if (extra > b->max_len - b->len)
        return SL_ERR_TOO_LARGE;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return SL_OK;

    cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap *= 2;
    b->data = sl_xrealloc(b->data, cap);
    b->cap = cap;
    return SL_OK;
}

enum sl_status
sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    enum sl_status rc = reserve(b, n);

    if (rc != SL_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SL_OK;
}

enum sl_status
sl_buf_append_str(struct sl_buf *b, const char *s)
{
    return sl_buf_append(b, s, strlen(s));
}

enum sl_status
sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    enum sl_status rc;

    /* One pass when the text fits in the space already allocated, the common case. */
    va_start(ap, fmt);
    n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SL_ERR_INVALID;
    if ((size_t)n < room) {
        if ((size_t)n > b->max_len - b->len) {
            b->data[b->len] = '\0';
            return SL_ERR_TOO_LARGE;
        }
        b->len += (size_t)n;
        return SL_OK;
    }

    rc = reserve(b, (size_t)n);
    if (rc != SL_OK) {
        if (b->data != NULL)
            b->data[b->len] = '\0';
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SL_OK;
}

void
sl_buf_consume(struct sl_buf *b, size_t n)
{
    if (n >= b->len) {
        sl_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void
sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *
sl_buf_take(struct sl_buf *b, size_t *len)
{
    char *p = b->data != NULL ? b->data : sl_xstrdup("");

    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
