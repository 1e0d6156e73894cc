/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decoder -- splits a provider's streamed response into events, whatever its framing.
 *
 * The relay feeds bytes as they arrive and takes events until the decoder needs more, the
 * same way for SSE and for other framings, so nothing else depends on a provider's framing.
 * Memory stays bounded by `max_event_bytes` as long as the caller takes every event before
 * the next feed. One decoder per stream, on the worker's thread.
 *
 * AWS event-stream messages become events whose `event` is the :event-type header and `data`
 * the payload. A modeled error (:message-type exception) is named by its :exception-type, and
 * an unmodeled one (:message-type error) by its :error-code with :error-message as `data`, so
 * the family maps every error by name.
 */
#ifndef SL_DECODER_H
#define SL_DECODER_H

#include <stddef.h>

#include "common/eventstream.h"
#include "common/sse.h"
#include "common/status.h"
#include "gateway/providers/provider.h"

struct sl_decoder {
    enum sl_stream_framing framing;
    struct sl_sse_parser sse; /* SL_FRAMING_SSE */
    struct sl_es_parser es;   /* SL_FRAMING_AWS_EVENTSTREAM */
};

void sl_decoder_init(struct sl_decoder *d, enum sl_stream_framing framing, size_t max_event_bytes);
void sl_decoder_dispose(struct sl_decoder *d);

/* Buffers `n` bytes; SL_ERR_TOO_LARGE or SL_ERR_UPSTREAM_PROTO once the stream is broken. */
enum sl_status sl_decoder_feed(struct sl_decoder *d, const char *bytes, size_t n);

/* Returns 1 with the next event in `ev` (borrowed until the next call), 0 when more bytes are
 * needed, -1 when the stream is broken (sl_decoder_status() returns why). */
int sl_decoder_next(struct sl_decoder *d, struct sl_stream_event *ev);

/* Marks the end of the response: a last event without its terminator is still delivered. */
void sl_decoder_finish(struct sl_decoder *d);

enum sl_status sl_decoder_status(const struct sl_decoder *d);

#endif /* SL_DECODER_H */
