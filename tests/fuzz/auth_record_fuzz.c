/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_record_fuzz -- libFuzzer target for the decoder of virtual-key records as stored in
 * Redis (sl_auth_record_decode in gateway/auth/record.c).
 *
 * Decoding must never crash or leak. A record that decodes must encode to bytes that decode
 * again, and encoding that second record must give the same bytes, so nothing is lost or
 * changed on the way through Redis. A copy must encode to the same bytes too. Mismatches abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/auth/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "auth_record_fuzz: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_auth_record rec;
    struct sl_auth_record again;
    struct sl_auth_record copy;
    struct sl_buf first;
    struct sl_buf second;
    struct sl_buf copied;

    if (sl_auth_record_decode((const char *)data, size, &rec) != SL_OK)
        return 0;

    sl_buf_init(&first, 0);
    sl_buf_init(&second, 0);
    sl_buf_init(&copied, 0);
    sl_auth_record_encode(&rec, &first);
    check(sl_auth_record_decode(first.data, first.len, &again) == SL_OK,
          "a re-encoded record does not decode");
    sl_auth_record_encode(&again, &second);
    check(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
          "a record changed on its second encoding");

    sl_auth_record_copy(&copy, &rec);
    sl_auth_record_encode(&copy, &copied);
    check(first.len == copied.len && memcmp(first.data, copied.data, first.len) == 0,
          "a copy encodes to other bytes");

    sl_auth_record_dispose(&copy);
    sl_auth_record_dispose(&again);
    sl_auth_record_dispose(&rec);
    sl_buf_dispose(&copied);
    sl_buf_dispose(&second);
    sl_buf_dispose(&first);
    return 0;
}
