/* SPDX-License-Identifier: Apache-2.0 */
/* decoder -- provider stream framings behind one interface; see decoder.h. */
#include "gateway/http/decoder.h"

#include <string.h>

void
sl_decoder_init(struct sl_decoder *d, enum sl_stream_framing framing, size_t max_event_bytes)
{
    memset(d, 0, sizeof(*d));
    d->framing = framing;
    if (framing == SL_FRAMING_AWS_EVENTSTREAM)
        sl_es_init(&d->es, max_event_bytes);
    else
        sl_sse_init(&d->sse, max_event_bytes);
}

void
sl_decoder_dispose(struct sl_decoder *d)
{
    if (d->framing == SL_FRAMING_AWS_EVENTSTREAM)
        sl_es_dispose(&d->es);
    else
        sl_sse_dispose(&d->sse);
}

enum sl_status
sl_decoder_feed(struct sl_decoder *d, const char *bytes, size_t n)
{
    if (d->framing == SL_FRAMING_AWS_EVENTSTREAM)
        return sl_es_feed(&d->es, bytes, n);
    return sl_sse_feed(&d->sse, bytes, n);
}

/* Points `*out` at the string value of header `name`; returns 0 when it is absent or not a
 * string. */
static int
take_header(const struct sl_es_message *msg, const char *name, const char **out, size_t *len)
{
    const struct sl_es_header *h = sl_es_find_header(msg, name);

    if (h == NULL || h->type != SL_ES_STRING)
        return 0;
    *out = (const char *)h->bytes;
    *len = h->bytes_len;
    return 1;
}

static int
next_aws_message(struct sl_decoder *d, struct sl_stream_event *ev)
{
    struct sl_es_message msg;
    int ok;

    switch (sl_es_next(&d->es, &msg)) {
    case SL_ES_MESSAGE:
        break;
    case SL_ES_NEED_MORE:
        return 0;
    case SL_ES_ERROR:
        return -1;
    }

    ev->data = (const char *)msg.payload;
    ev->data_len = msg.payload_len;
    if (sl_es_header_is(&msg, ":message-type", "exception")) {
        ok = take_header(&msg, ":exception-type", &ev->event, &ev->event_len);
    } else if (sl_es_header_is(&msg, ":message-type", "error")) {
        ok = take_header(&msg, ":error-code", &ev->event, &ev->event_len);
        if (!take_header(&msg, ":error-message", &ev->data, &ev->data_len)) {
            ev->data = "";
            ev->data_len = 0;
        }
    } else {
        ok = take_header(&msg, ":event-type", &ev->event, &ev->event_len);
    }
    if (!ok) {
        /* A message without a name cannot be routed to the family's translator. */
        d->es.status = SL_ERR_UPSTREAM_PROTO;
        return -1;
    }
    return 1;
}

int
sl_decoder_next(struct sl_decoder *d, struct sl_stream_event *ev)
{
    struct sl_sse_event sse;

    if (d->framing == SL_FRAMING_AWS_EVENTSTREAM)
        return next_aws_message(d, ev);

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
    if (d->framing == SL_FRAMING_AWS_EVENTSTREAM)
        sl_es_finish(&d->es);
    else
        sl_sse_finish(&d->sse);
}

enum sl_status
sl_decoder_status(const struct sl_decoder *d)
{
    if (d->framing == SL_FRAMING_AWS_EVENTSTREAM)
        return sl_es_status(&d->es);
    return sl_sse_status(&d->sse);
}
