/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exchange -- one provider response that the mock plays over time.
 *
 * An exchange holds a request through the scripted latency, the first-chunk delay, the chunk
 * interval and stalls, writes the stream one h2o_send() per proceed, and records in the request
 * log how the request ended (completed, or the client went away). It is malloc'd, not taken
 * from req->pool, because its uv timers outlive the request: the pool's dispose hook tells it
 * that the request is gone, and it frees itself once its timers are closed.
 */
#ifndef SL_MOCK_EXCHANGE_H
#define SL_MOCK_EXCHANGE_H

#include <h2o.h>

#include "bench/mock/mock.h"
#include "bench/mock/openai.h"
#include "bench/mock/script.h"

enum sl_mock_kind {
    SL_MOCK_KIND_CHAT,
    SL_MOCK_KIND_MODELS,
    SL_MOCK_KIND_EMBEDDINGS, /* the reply is built before the exchange, as the script's body */
    SL_MOCK_KIND_MESSAGES,   /* Anthropic's Messages format, from bench/mock/anthropic.h */
    SL_MOCK_KIND_GEMINI,     /* Gemini's generateContent format, from bench/mock/gemini.h */
};

/*
 * Starts playing `script` for `req`, logged as `seq`. Takes over `script` and, for chat, `chat`
 * (pass NULL for models). The response is sent now or later from the worker's loop.
 */
void sl_mock_exchange_start(h2o_req_t *req, uint64_t seq, enum sl_mock_kind kind,
                            struct sl_mock_script *script, struct sl_mock_chat *chat);

/* Sends a whole response at once with Content-Length; `body` is copied. */
void sl_mock_send_body(h2o_req_t *req, int status, const char *content_type, const char *body,
                       size_t len);

/* Sends an OpenAI error envelope with `status`. */
void sl_mock_send_error(h2o_req_t *req, int status, const char *message, const char *type,
                        const char *param);

#endif /* SL_MOCK_EXCHANGE_H */
