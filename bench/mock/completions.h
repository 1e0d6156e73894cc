/* SPDX-License-Identifier: Apache-2.0 */
/*
 * completions -- OpenAI's legacy text completions (POST /v1/completions) as the mock speaks it.
 *
 * A text completions request becomes a struct sl_mock_chat with `text_completion` set, so the
 * exchange plays it with every chat script control. Only the JSON shapes differ: the object
 * is "text_completion", each choice carries `text` in place of `message` or `delta`, and a
 * stream has no role chunk.
 */
#ifndef SL_MOCK_COMPLETIONS_H
#define SL_MOCK_COMPLETIONS_H

#include <stddef.h>
#include <stdint.h>

#include "bench/mock/openai.h"
#include "common/buf.h"
#include "common/status.h"

/*
 * Parses a text completions request body into `chat`. On SL_ERR_INVALID, `err` contains the
 * message for the client and `*param` names the invalid request field (or is NULL).
 */
enum sl_status sl_mock_text_parse(const char *body, size_t len, struct sl_mock_chat *chat,
                                  const char **param, struct sl_errbuf *err);

/* Writes the whole non-stream text_completion body. */
enum sl_status sl_mock_text_completion_json(struct sl_buf *out, uint64_t seq, int64_t created,
                                            const struct sl_mock_chat *chat,
                                            const struct sl_mock_script *script,
                                            const struct sl_mock_content *content,
                                            const char *usage_json);

/* Writes the shared start of every stream frame, up to and including `"choices":[`. */
enum sl_status sl_mock_text_chunk_prefix(struct sl_buf *out, uint64_t seq, int64_t created,
                                         const char *model);

/* Writes one stream choice with `text`, and `reason` as finish_reason (NULL writes null). */
enum sl_status sl_mock_text_chunk_choice(struct sl_buf *out, int index, const char *text,
                                         size_t len, const char *reason);

#endif /* SL_MOCK_COMPLETIONS_H */
