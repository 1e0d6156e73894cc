/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf -- a growable byte buffer with a hard size cap.
 *
 * Appending past the cap fails with SL_ERR_TOO_LARGE and leaves the buffer unchanged, so a
 * caller that collects bytes from the network never allocates more than it decided to allow.
 * The contents are always followed by a NUL byte that is not counted in `len`.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/status.h"

struct sl_buf {
    char *data;     /* NULL until the first append */
    size_t len;     /* bytes in use, excluding the trailing NUL */
    size_t cap;     /* bytes allocated */
    size_t max_len; /* appends that would pass this many bytes fail */
};

/* Initialises an empty buffer in caller storage; `max_len` of 0 means SIZE_MAX / 2. */
void sl_buf_init(struct sl_buf *b, size_t max_len);
void sl_buf_dispose(struct sl_buf *b);

enum sl_status sl_buf_append(struct sl_buf *b, const void *p, size_t n);
enum sl_status sl_buf_append_str(struct sl_buf *b, const char *s);
enum sl_status sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Drops the first `n` bytes, moving the rest to the front. */
void sl_buf_consume(struct sl_buf *b, size_t n);
void sl_buf_reset(struct sl_buf *b);

/* Hands the bytes to the caller (free() them) and leaves `b` empty. Never NULL. */
char *sl_buf_take(struct sl_buf *b, size_t *len);

#endif /* SL_BUF_H */
