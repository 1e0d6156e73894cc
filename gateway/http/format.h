/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format -- how responses are written in the client's wire format.
 *
 * Provider families return OpenAI's shape (or in the client's own format when they pass a
 * native call through). A format converts those answers for its clients and writes its own
 * error envelope, stream terminator and mid-stream error. OpenAI's format converts nothing.
 * Conversion state lives in `*state`, created on first use and released with free_state.
 */
#ifndef SL_FORMAT_H
#define SL_FORMAT_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"
#include "gateway/http/errors.h"
#include "gateway/providers/provider.h"

struct sl_format_ops {
    enum sl_format format;

    /* Appends the error body for `status`; `type` and `param` may be NULL. */
    void (*error_envelope)(struct sl_buf *out, int status, const char *message, const char *type,
                           const char *param);

    /* Converts the client's request body into OpenAI's shape for a family that does not speak
     * the client's format. NULL: the body is already OpenAI's. */
    enum sl_status (*convert_request)(const struct sl_call_ctx *ctx, const cJSON *in,
                                      cJSON **out, struct sl_errbuf *err);

    /* Converts a whole OpenAI-shaped response for ctx->kind into the client's format. NULL:
     * the response is written as it is. */
    enum sl_status (*convert_response)(const struct sl_call_ctx *ctx, const char *json,
                                       size_t len, struct sl_buf *out, struct sl_errbuf *err);

    /* Converts OpenAI SSE frames into the client's frames. NULL: frames are written as they are.
     * Not called for native calls. */
    enum sl_status (*convert_frames)(const struct sl_call_ctx *ctx, void **state,
                                     const char *frames, size_t len, struct sl_buf *out);

    /* Appends what ends a good stream (OpenAI: `data: [DONE]`). `native` is 1 when the
     * family passed the client's own format through, which may have ended the stream already. */
    void (*stream_end)(const struct sl_call_ctx *ctx, void **state, int native,
                       const struct sl_usage *usage, struct sl_buf *out);

    /* Appends what ends a stream after a failure (OpenAI: one error event, then `[DONE]`). */
    void (*stream_error)(const struct sl_call_ctx *ctx, void **state,
                         const struct sl_upstream_error *e, struct sl_buf *out);

    void (*free_state)(void *state);
};

/* Returns the operations of `format`; never NULL. */
const struct sl_format_ops *sl_format_ops_for(enum sl_format format);

#endif /* SL_FORMAT_H */
