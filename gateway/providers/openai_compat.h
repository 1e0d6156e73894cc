/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_compat -- pieces of the OpenAI family (openai.c) that other families reuse.
 *
 * Families whose bodies are OpenAI's (Azure OpenAI) or that build OpenAI-shaped answers
 * (Gemini) share the header helper, the model rewrite, the usage reader and the response and
 * stream translators, so the OpenAI behaviour is written once. All functions are pure and
 * thread-safe.
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

/* Reads root.usage (prompt, completion, total and cached tokens) into `usage` when present. */
void sl_openai_read_usage(const cJSON *root, struct sl_usage *usage);

/* The OpenAI family's translate_response and translate_event (see struct sl_provider). */
enum sl_status sl_openai_translate_response(const struct sl_call_ctx *ctx, const char *body,
                                            size_t len, struct sl_buf *out, struct sl_usage *usage,
                                            struct sl_errbuf *err);
enum sl_stream_verdict sl_openai_translate_event(const struct sl_call_ctx *ctx,
                                                 struct sl_stream_state *st,
                                                 const struct sl_stream_event *ev,
                                                 struct sl_buf *out, struct sl_upstream_error *err);

#endif /* SL_OPENAI_COMPAT_H */
