/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgpack_check -- a walk over msgpack bytes, before msgpack-c unpacks them, that rejects
 * containers whose declared element counts cannot fit in the bytes left. msgpack-c allocates
 * the elements of an array or map from its declared count before reading them, so without this
 * check a 5-byte input could request a 64 GB allocation. Used by every decoder of msgpack that
 * comes from Redis (auth records, spend events).
 */
#include "common/msgpack_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Returns the size of an unsigned big-endian field of `n` bytes at `p`. */
static uint64_t
read_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int
sl_msgpack_counts_fit(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    /* Sizes of the length field of bin, ext, str, array and map forms, by the low bits. */
    static const size_t len_bytes[] = {1, 2, 4};
    size_t pos = 0;
    size_t pending = 1; /* values still to read */

    while (pending > 0) {
        unsigned char b;
        uint64_t skip = 0;
        uint64_t items = 0;

        if (pos >= len)
            return -1;
        b = p[pos++];
        pending--;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            skip = 0;
        } else if (b <= 0x8f) {
            items = 2u * (b & 0x0fu);
        } else if (b <= 0x9f) {
            items = b & 0x0fu;
        } else if (b <= 0xbf) {
            skip = b & 0x1fu;
        } else if (b == 0xc1) {
            return -1;
        } else if (b <= 0xc9 || (b >= 0xd9 && b <= 0xdf)) {
            /* bin8-32 (c4-c6), ext8-32 (c7-c9), str8-32 (d9-db), array16/32, map16/32. */
            size_t n = b <= 0xc6       ? len_bytes[b - 0xc4]
                       : b <= 0xc9     ? len_bytes[b - 0xc7]
                       : b <= 0xdb     ? len_bytes[b - 0xd9]
                       : (b & 1u) == 0 ? 2
                                       : 4;

            if (len - pos < n)
                return -1;
            skip = read_be(p + pos, n);
            pos += n;
            if (b >= 0xc7 && b <= 0xc9)
                skip += 1; /* the ext type byte */
            if (b >= 0xdc) {
                items = b >= 0xde ? 2 * skip : skip;
                skip = 0;
            }
        } else if (b <= 0xd8) {
            /* float32/64 (ca, cb), uint8-64 (cc-cf), int8-64 (d0-d3), fixext1-16 (d4-d8). */
            static const uint8_t sizes[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 2, 3, 5, 9, 17};

            skip = sizes[b - 0xca];
        }
        if (skip > len - pos)
            return -1;
        pos += (size_t)skip;
        if (pending > len - pos || items > len - pos - pending)
            return -1;
        pending += (size_t)items;
    }
    return 0;
}

int
sl_msgpack_key_is(const msgpack_object *o, const char *name)
{
    size_t len = strlen(name);

    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp(o->via.str.ptr, name, len) == 0;
}

int
sl_msgpack_read_str(const msgpack_object *o, size_t max, char **out)
{
    free(*out);
    *out = NULL;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return -1;
    *out = sl_xstrndup(o->via.str.ptr, o->via.str.size);
    return 0;
}

int
sl_msgpack_read_int(const msgpack_object *o, int64_t min, int64_t *out)
{
    int64_t v;

    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else
        return -1;
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

int
sl_msgpack_read_bool(const msgpack_object *o, int *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = o->via.boolean ? 1 : 0;
    return 0;
}
