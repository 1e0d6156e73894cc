/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemini -- the Gemini API (Google AI Studio) wire format as the mock speaks it.
 *
 * Serves POST /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE with
 * ?alt=sse) and :batchEmbedContents. Parses the request fields the mock uses and writes GenerateContentResponse bodies,
 * their stream events (CRLF-framed, no end marker, finishReason and full usage on the last),
 * the in-band error event and Google's error envelope {"error":{"code","message","status"}}.
 */
#ifndef SL_MOCK_GEMINI_H
#define SL_MOCK_GEMINI_H

#include <stddef.h>
#include <stdint.h>

#include "bench/mock/openai.h"
#include "bench/mock/script.h"
#include "common/buf.h"
#include "common/status.h"

/* Which Gemini method a path names. */
enum sl_mock_gemini_method {
    SL_MOCK_GEMINI_NONE,     /* not a Gemini path */
    SL_MOCK_GEMINI_GENERATE, /* :generateContent */
    SL_MOCK_GEMINI_STREAM,   /* :streamGenerateContent */
    SL_MOCK_GEMINI_EMBED,    /* :batchEmbedContents */
};

/*
 * Matches /v1beta/models/{model}:<method> (or /v1/...) and copies the model into `model`
 * (`size` bytes, NUL-terminated). Returns SL_MOCK_GEMINI_NONE for any other path.
 */
enum sl_mock_gemini_method sl_mock_gemini_match(const char *path, size_t len, char *model,
                                                size_t size);

/*
 * Parses a generateContent body into `chat`: `contents` (array) is required, n comes from
 * generationConfig.candidateCount, usage is always reported. On SL_ERR_INVALID, `err`
 * contains the message for the client.
 */
enum sl_status sl_mock_gemini_parse(const char *body, size_t len, const char *model, int stream,
                                    struct sl_mock_chat *chat, struct sl_errbuf *err);

/* Writes the whole non-stream GenerateContentResponse; `usage_json` is OpenAI's usage. */
enum sl_status sl_mock_gemini_response_json(struct sl_buf *out, uint64_t seq,
                                            const struct sl_mock_chat *chat,
                                            const struct sl_mock_script *script,
                                            const struct sl_mock_content *content,
                                            const char *usage_json);

/* Writes one stream event with text `piece` for every candidate. */
enum sl_status sl_mock_gemini_stream_text(struct sl_buf *out, uint64_t seq,
                                          const struct sl_mock_chat *chat, const char *piece,
                                          size_t len);

/* Writes the last stream event: every candidate's finishReason with the full usage. Writes
 * nothing when the script's finish_reason is null, so the stream ends without one. */
enum sl_status sl_mock_gemini_stream_tail(struct sl_buf *out, uint64_t seq,
                                          const struct sl_mock_chat *chat,
                                          const struct sl_mock_script *script,
                                          const char *usage_json);

/*
 * Writes the batchEmbedContents reply {"embeddings":[{"values":[...]}, ...]} for a request
 * {"requests":[{"content":{"parts":[{"text":...}]}}, ...]}, one vector per request, with the
 * same deterministic vectors as /v1/embeddings (its default dimensions, or each request's
 * outputDimensionality). On SL_ERR_INVALID, `err` contains the message for the client.
 */
enum sl_status sl_mock_gemini_embed_json(const char *body, size_t len, const char *model,
                                         struct sl_buf *out, struct sl_errbuf *err);

/* Writes the in-band error event that error_after_chunks sends. */
enum sl_status sl_mock_gemini_error_event(struct sl_buf *out);

/* Writes {"error":{"code":status,"message":...,"status":<canonical name>}}. */
enum sl_status sl_mock_gemini_error_json(struct sl_buf *out, int status, const char *message);

#endif /* SL_MOCK_GEMINI_H */
