/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_compat -- pieces of the OpenAI family (openai.c) that other families reuse.
 *
 * Families whose bodies are OpenAI's (Azure OpenAI) share the header helper, the model rewrite,
 * the usage reader and the response and stream translators. Families that build OpenAI-shaped
 * responses themselves (Anthropic, Bedrock, Gemini) share the response, chunk and usage
 * builders. So the OpenAI behaviour is written once. All functions are pure and thread-safe.
 */
#ifndef SL_OPENAI_COMPAT_H
#define SL_OPENAI_COMPAT_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/status.h"
#include "gateway/providers/provider.h"

/* Appends the header line "name: value" to `list` and returns the new list head. */
struct curl_slist *sl_openai_add_header(struct curl_slist *list, const char *name,
                                        const char *value);

/* Writes the JSON object `json` to `out` with `model` as its top-level model, every other byte
 * unchanged. SL_ERR_INVALID (with `err`, which may be NULL) when `json` is not an object. */
enum sl_status sl_openai_set_model(const char *json, size_t len, const char *model,
                                   struct sl_buf *out, struct sl_errbuf *err);

/* Returns 1 when `ctx` is a streamed chat or text completion whose body does not set
 * stream_options.include_usage to true: the upstream body then requests usage anyway, and the
 * usage-only chunk is recorded in the stream state but not sent to the client. */
int sl_openai_usage_forced(const struct sl_call_ctx *ctx);

/*
 * Writes the upstream body of `ctx` to `out`: the client's bytes (or the printed ctx->body
 * when it was converted) with ctx->deployment->provider_model as `model`, and with
 * stream_options.include_usage set to true when sl_openai_usage_forced(). Returns
 * SL_ERR_INVALID with `err` when the body is not a JSON object.
 */
enum sl_status sl_openai_request_body(const struct sl_call_ctx *ctx, struct sl_buf *out,
                                      struct sl_errbuf *err);

/* Reads root.usage (prompt, completion, total and cached tokens) into `usage` when present. */
void sl_openai_read_usage(const cJSON *root, struct sl_usage *usage);

/* The builders below emit the members of OpenAI's objects in OpenAI's order. The golden files
 * of the Anthropic, Bedrock and Gemini tests check that output byte for byte. */

/* Returns a usage object with prompt, completion and total tokens and
 * prompt_tokens_details.cached_tokens. Callers append family-specific members after these. */
cJSON *sl_openai_usage_json(const struct sl_usage *usage);

/* Returns a chat.completion object with `id`, `created` from ctx->now_unix_s and the model the
 * client requested. The caller adds `choices` and `usage`. */
cJSON *sl_openai_response_new(const struct sl_call_ctx *ctx, const char *id);

/* Returns a chat.completion.chunk object with `id`, `created` from ctx->now_unix_s, the model
 * the client requested and an empty `choices` array. */
cJSON *sl_openai_chunk_new(const struct sl_call_ctx *ctx, const char *id);

/* Returns a chunk choice with `index`, `delta` (taken over), `"logprobs": null` when
 * `with_logprobs` is set, and `finish_reason` (JSON null when NULL). */
cJSON *sl_openai_chunk_choice(int index, cJSON *delta, int with_logprobs,
                              const char *finish_reason);

/* Parses a provider's response body, nested up to four times SL_JSON_MAX_DEPTH, into `*root`.
 * SL_ERR_UPSTREAM_PROTO with `err` set when it is not a JSON object. */
enum sl_status sl_openai_parse_response(const char *body, size_t len, cJSON **root,
                                        struct sl_errbuf *err);

/* Appends `json` to `out` as compact JSON, then frees it. */
void sl_openai_append_json(struct sl_buf *out, cJSON *json);

/* Appends `chunk` to `out` as one SSE data frame, then frees it. */
void sl_openai_write_chunk(struct sl_buf *out, cJSON *chunk);

/* Appends a chunk whose only choice is index 0 with `delta` (taken over) and `finish_reason`
 * (JSON null when NULL). */
void sl_openai_write_delta(const struct sl_call_ctx *ctx, const char *id, cJSON *delta,
                           const char *finish_reason, struct sl_buf *out);

/* The OpenAI family's translate_response and translate_event (see struct sl_provider). */
enum sl_status sl_openai_translate_response(const struct sl_call_ctx *ctx, const char *body,
                                            size_t len, struct sl_buf *out, struct sl_usage *usage,
                                            struct sl_errbuf *err);
enum sl_stream_verdict sl_openai_translate_event(const struct sl_call_ctx *ctx,
                                                 struct sl_stream_state *st,
                                                 const struct sl_stream_event *ev,
                                                 struct sl_buf *out, struct sl_upstream_error *err);

#endif /* SL_OPENAI_COMPAT_H */
