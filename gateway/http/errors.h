/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errors -- the OpenAI error envelope and the reading of provider error bodies.
 *
 * Every error a client gets on an OpenAI route has the shape
 * {"error":{"message":"...","type":"...","param":...,"code":"<HTTP status>"}}, with `code` a
 * string as in LiteLLM. Pure functions, safe on any thread.
 */
#ifndef SL_ERRORS_H
#define SL_ERRORS_H

#include <stddef.h>

#include "common/buf.h"

/* A provider's error, read from its response (or made up by us for transport failures). */
struct sl_upstream_error {
    int status;         /* HTTP status the client gets */
    char message[1024]; /* already capped */
    char type[64];      /* "" when the provider gave none: sl_errors_default_type() applies */
    char param[128];    /* "" means JSON null */
};

/* Appends the envelope; `type` and `param` may be NULL (JSON null). */
void sl_errors_envelope(struct sl_buf *out, int status, const char *message, const char *type,
                        const char *param);

/* Returns the error type used when none is known for `status`, e.g. "rate_limit_error". */
const char *sl_errors_default_type(int status);

/*
 * Reads an OpenAI-style error body ({"error":{"message","type","param","code"}} or
 * {"error":"text"} or {"message":"..."}) into `out`; any other body becomes a short summary
 * with the status. Never fails: `out` is always filled.
 */
void sl_errors_parse_openai(long status, const char *body, size_t len,
                            struct sl_upstream_error *out);

#endif /* SL_ERRORS_H */
