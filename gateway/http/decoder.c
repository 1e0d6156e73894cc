/* SPDX-License-Identifier: Apache-2.0 */
/* decoder -- provider stream framings behind one interface; see decoder.h. */
#include "gateway/http/decoder.h"

void
sl_decoder_init(struct sl_decoder *d, enum sl_stream_framing framing, size_t max_event_bytes)
{
    d->framing = framing;
    sl_sse_init(&d->sse, max_event_bytes);
}

void
sl_decoder_dispose(struct sl_decoder *d)
{
    sl_sse_dispose(&d->sse);
}

enum sl_status
sl_decoder_feed(struct sl_decoder *d, const char *bytes, size_t n)
{
    return sl_sse_feed(&d->sse, bytes, n);
}

int
sl_decoder_next(struct sl_decoder *d, struct sl_stream_event *ev)
{
    struct sl_sse_event sse;

    switch (sl_sse_next(&d->sse, &sse)) {
    case SL_SSE_EVENT:
        ev->event = sse.event;
        ev->event_len = sse.event_len;
        ev->data = sse.data;
        ev->data_len = sse.data_len;
        return 1;
    case SL_SSE_NEED_MORE:
        return 0;
    case SL_SSE_ERROR:
        break;
    }
    return -1;
}

void
sl_decoder_finish(struct sl_decoder *d)
{
    sl_sse_finish(&d->sse);
}

enum sl_status
sl_decoder_status(const struct sl_decoder *d)
{
    return sl_sse_status(&d->sse);
}
