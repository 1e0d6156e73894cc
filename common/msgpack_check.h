/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgpack_check -- a bound check to run on untrusted msgpack bytes before msgpack_unpack_next(),
 * which allocates the elements of each array and map from its declared count.
 */
#ifndef SL_MSGPACK_CHECK_H
#define SL_MSGPACK_CHECK_H

#include <stddef.h>

/*
 * Walks the one msgpack value at the start of `data` (`len` bytes) without allocating. Returns
 * 0 when every array and map declares no more elements than bytes remain (each element takes
 * at least one byte) and every length field fits in `len`, else -1. Bytes after the value are
 * not read, so the caller still checks that unpacking consumed all `len` bytes.
 */
int sl_msgpack_counts_fit(const char *data, size_t len);

#endif /* SL_MSGPACK_CHECK_H */
