/* SPDX-License-Identifier: Apache-2.0 */
/*
 * traceparent_fuzz -- libFuzzer target for the W3C traceparent parser (common/otlp.c).
 *
 * Any input must parse or be rejected without a crash. An accepted version-00 value must come
 * back unchanged, spaces aside, when formatted again, and the formatted value must parse to the
 * same ids and flags. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "traceparent_fuzz: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;
    uint8_t trace_again[16];
    uint8_t parent_again[8];
    uint8_t flags_again;
    char text[SL_OTLP_TRACEPARENT_LEN + 1];
    const char *in = (const char *)data;

    if (sl_otlp_traceparent_parse(in, size, trace_id, parent_id, &flags) != SL_OK)
        return 0;
    sl_otlp_traceparent_format(trace_id, parent_id, flags, text);
    check(sl_otlp_traceparent_parse(text, strlen(text), trace_again, parent_again,
                                    &flags_again) == SL_OK,
          "a formatted value does not parse");
    check(memcmp(trace_id, trace_again, 16) == 0, "trace id changed");
    check(memcmp(parent_id, parent_again, 8) == 0, "parent id changed");
    check(flags == flags_again, "flags changed");
    if (size >= 2 && in[0] == '0' && in[1] == '0')
        check(memmem(in, size, text, SL_OTLP_TRACEPARENT_LEN) != NULL,
              "a version-00 value did not format back to itself");
    return 0;
}
