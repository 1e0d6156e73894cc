/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anthropic -- the Anthropic Messages API wire format as the mock speaks it (POST /v1/messages
 * and POST /v1/messages/count_tokens).
 *
 * Parses the request fields the mock uses and writes Message bodies, the SSE events of a
 * streamed message (message_start, content_block_*, ping, message_delta, message_stop), the
 * in-band error event and Anthropic's error envelope, with the field order of recorded
 * Anthropic responses. The exchange plays these the same way as OpenAI chunks.
 */
#ifndef SL_MOCK_ANTHROPIC_H
#define SL_MOCK_ANTHROPIC_H

#include <stddef.h>
#include <stdint.h>

#include "bench/mock/openai.h"
#include "bench/mock/script.h"
#include "common/buf.h"
#include "common/status.h"

/*
 * Parses a Messages request body into `chat` (n is always 1). `model` (string), `messages`
 * (array) and `max_tokens` (number) are required, as the API requires them. On SL_ERR_INVALID,
 * `err` contains the message for the client and `*param` names the invalid field.
 */
enum sl_status sl_mock_messages_parse(const char *body, size_t len, struct sl_mock_chat *chat,
                                      const char **param, struct sl_errbuf *err);

/*
 * Parses a count_tokens body like a Messages body, except that max_tokens is not required.
 * chat->prompt_tokens is the count: ceil(B / 4), where B is the byte length of the text of
 * `system` and of every message's content (text blocks and tool_result text), the same number
 * that /v1/messages reports as usage.input_tokens.
 */
enum sl_status sl_mock_count_tokens_parse(const char *body, size_t len, struct sl_mock_chat *chat,
                                          const char **param, struct sl_errbuf *err);
/* Writes {"input_tokens":N}, N being chat->prompt_tokens. */
enum sl_status sl_mock_count_tokens_json(struct sl_buf *out, const struct sl_mock_chat *chat);

/* Returns the usage object as JSON (caller frees): defaults, then the script's overrides. */
char *sl_mock_messages_usage_json(const cJSON *overrides, int64_t input_tokens,
                                  int64_t output_tokens);

/* Writes the whole non-stream Message body. */
enum sl_status sl_mock_message_json(struct sl_buf *out, uint64_t seq,
                                    const struct sl_mock_chat *chat,
                                    const struct sl_mock_script *script,
                                    const struct sl_mock_content *content, const char *usage_json);

/* Writes message_start, then (when the text has pieces) the text block's start, then a ping. */
enum sl_status sl_mock_messages_stream_start(struct sl_buf *out, uint64_t seq,
                                             const struct sl_mock_chat *chat,
                                             const struct sl_mock_content *content,
                                             const char *usage_json);

/* Writes one text_delta event of content block 0. */
enum sl_status sl_mock_messages_stream_text(struct sl_buf *out, const char *piece, size_t len);

/*
 * Writes the end of the stream: the text block's stop, one tool_use block per scripted tool
 * call (its input in input_json_delta pieces), message_delta with the stop reason and output
 * tokens, and message_stop unless the script sets omit_done.
 */
enum sl_status sl_mock_messages_stream_tail(struct sl_buf *out, uint64_t seq,
                                            const struct sl_mock_script *script,
                                            const struct sl_mock_content *content,
                                            const char *usage_json);

/* Writes the in-band error event that error_after_chunks sends. */
enum sl_status sl_mock_messages_error_event(struct sl_buf *out);

/* Writes {"type":"error","error":{"type":...,"message":...},"request_id":...}. */
enum sl_status sl_mock_messages_error_json(struct sl_buf *out, int status, const char *message);

#endif /* SL_MOCK_ANTHROPIC_H */
