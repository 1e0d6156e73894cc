/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format_anthropic -- Anthropic's Messages API as a client format (POST /v1/messages).
 *
 * Clients such as Claude Code and the Anthropic SDKs send Anthropic requests. For a family that
 * speaks Anthropic's format the body passes through; for any other family the request becomes
 * an OpenAI chat request and the family's OpenAI-shaped responses become Anthropic messages and
 * stream events again. The format ops are reached through sl_format_ops_for(); this header adds
 * the request-shape check used by the route handlers.
 */
#ifndef SL_FORMAT_ANTHROPIC_H
#define SL_FORMAT_ANTHROPIC_H

#include <cjson/cJSON.h>

#include "common/status.h"
#include "gateway/http/format.h"

/* Top-level members beyond this make a body invalid: the Messages API has about twenty. */
#define SL_ANTHROPIC_MAX_MEMBERS 256

/* Returns the operations of the Anthropic client format. */
const struct sl_format_ops *sl_format_anthropic_ops(void);

/*
 * Checks `body` as a Messages API request: model, messages (roles user and assistant, content a
 * string or an array of typed blocks), max_tokens (an integer of at least 1, required unless
 * `count_tokens`), and the types of system, tools, tool_choice, stream, stop_sequences,
 * temperature, top_p, top_k, metadata and thinking. Returns SL_OK, or SL_ERR_INVALID with a
 * message in `err` that starts with the offending field's path.
 */
enum sl_status sl_anthropic_validate(const cJSON *body, int count_tokens, struct sl_errbuf *err);

/*
 * Converts a checked Messages API body into an OpenAI chat request in `*out` (the caller frees
 * it). SL_ERR_INVALID with `err` for content an OpenAI request cannot carry: document blocks,
 * server tools, malformed image sources. Used as the format's convert_request.
 */
enum sl_status sl_anthropic_convert_request(const struct sl_call_ctx *ctx, const cJSON *in,
                                            cJSON **out, struct sl_errbuf *err);

#endif /* SL_FORMAT_ANTHROPIC_H */
