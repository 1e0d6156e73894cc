/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgpack_check -- a bound check to run on untrusted msgpack bytes before msgpack_unpack_next(),
 * which allocates the elements of each array and map from its declared count, and the checked
 * readers of unpacked values that the decoders of auth records and spend events share.
 */
#ifndef SL_MSGPACK_CHECK_H
#define SL_MSGPACK_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/*
 * Walks the one msgpack value at the start of `data` (`len` bytes) without allocating. Returns
 * 0 when every array and map declares no more elements than bytes remain (each element takes
 * at least one byte) and every length field fits in `len`, else -1. Bytes after the value are
 * not read, so the caller still checks that unpacking consumed all `len` bytes.
 */
int sl_msgpack_counts_fit(const char *data, size_t len);

/* The readers below check one unpacked value's type and bounds; each returns 0, or -1 when
 * the value is not what the decoder expects. */

/* Returns 1 when `o` is the string `name`. */
int sl_msgpack_key_is(const msgpack_object *o, const char *name);

/* Reads a string of at most `max` bytes without NUL bytes, or nil as NULL, into `*out` (freed
 * first). */
int sl_msgpack_read_str(const msgpack_object *o, size_t max, char **out);

/* Reads a whole number from `min` to INT64_MAX. */
int sl_msgpack_read_int(const msgpack_object *o, int64_t min, int64_t *out);

/* Reads a boolean as 0 or 1. */
int sl_msgpack_read_bool(const msgpack_object *o, int *out);

#endif /* SL_MSGPACK_CHECK_H */
