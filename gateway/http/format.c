/* SPDX-License-Identifier: Apache-2.0 */
/* format -- OpenAI's client format and the lookup of formats; see format.h. */
#include "gateway/http/format.h"

#include <string.h>

#include "common/sse.h"
#include "gateway/http/format_anthropic.h"

static void
openai_stream_end(const struct sl_call_ctx *ctx, void **state, int native,
                  const struct sl_usage *usage, struct sl_buf *out)
{
    (void)ctx;
    (void)state;
    (void)native;
    (void)usage;
    sl_buf_append_str(out, "data: [DONE]\n\n");
}

/* One error event, then [DONE], so SDKs that wait for [DONE] stop reading. */
static void
openai_stream_error(const struct sl_call_ctx *ctx, void **state, const struct sl_upstream_error *e,
                    struct sl_buf *out)
{
    struct sl_buf envelope;
    const char *type = e->type[0] != '\0' ? e->type : sl_errors_default_type(e->status);

    (void)ctx;
    (void)state;
    sl_buf_init(&envelope, 0);
    sl_errors_envelope(&envelope, e->status, e->message, type,
                       e->param[0] != '\0' ? e->param : NULL);
    sl_sse_write_data(out, envelope.data, envelope.len);
    sl_buf_append_str(out, "data: [DONE]\n\n");
    sl_buf_dispose(&envelope);
}

static const struct sl_format_ops openai_format = {
    .format = SL_FORMAT_OPENAI,
    .error_envelope = sl_errors_envelope,
    .convert_request = NULL,
    .convert_response = NULL,
    .convert_frames = NULL,
    .stream_end = openai_stream_end,
    .stream_error = openai_stream_error,
    .free_state = NULL,
};

const struct sl_format_ops *
sl_format_ops_for(enum sl_format format)
{
    switch (format) {
    case SL_FORMAT_NONE: /* never a client's format */
    case SL_FORMAT_OPENAI:
        break;
    case SL_FORMAT_ANTHROPIC:
        return sl_format_anthropic_ops();
    }
    return &openai_format;
}
