/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spend_event_fuzz -- the spend event decoder on arbitrary bytes. Beyond not crashing, an
 * input that decodes must re-encode to bytes that decode to the same event and encode
 * identically again, so encode and decode agree on every field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/spend_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_spend_event first, second;
    struct sl_buf a, b;

    if (sl_spend_event_decode((const char *)data, size, &first) != SL_OK)
        return 0;
    sl_buf_init(&a, 0);
    sl_buf_init(&b, 0);
    sl_spend_event_encode(&first, &a);
    if (sl_spend_event_decode(a.data, a.len, &second) != SL_OK)
        abort();
    sl_spend_event_encode(&second, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    sl_spend_event_dispose(&first);
    sl_spend_event_dispose(&second);
    sl_buf_dispose(&a);
    sl_buf_dispose(&b);
    return 0;
}
