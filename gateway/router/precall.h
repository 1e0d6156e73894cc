/* SPDX-License-Identifier: Apache-2.0 */
/*
 * precall -- the context-window check made before a deployment is called
 * (router_settings.enable_pre_call_checks).
 *
 * The input tokens of a request are estimated from its body without a tokenizer: the bytes
 * of its text divided by SL_PRECALL_BYTES_PER_TOKEN, rounded up. A deployment whose
 * model_info.max_input_tokens is below the estimate is left out of the request's group;
 * gateway/http/failover.c builds that smaller group and sends a request that no deployment
 * fits to context_window_fallbacks. Pure functions, callable from any thread.
 */
#ifndef SL_PRECALL_H
#define SL_PRECALL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/config.h"
#include "gateway/router/router.h"

/* Bytes of text that the estimate counts as one token: about right for English text with
 * OpenAI's and Anthropic's tokenizers, low for code and for languages outside Latin script. */
#define SL_PRECALL_BYTES_PER_TOKEN 4u
/* Nesting below a body field that the estimate walks at most; deeper values are not counted. */
#define SL_PRECALL_MAX_DEPTH 32

/*
 * Returns the estimated input tokens of the request body `body`: the bytes of every string
 * under its messages, system, prompt, input, tools and functions fields, divided by
 * SL_PRECALL_BYTES_PER_TOKEN and rounded up. Strings under image_url, url, data and source
 * (images and files, often base64) and the values of type and role are not counted.
 */
uint64_t sl_precall_estimate_tokens(const cJSON *body);

/* Returns 1 when `d` accepts `tokens` input tokens: model_info.max_input_tokens is unset or
 * not below it. */
int sl_precall_fits(const struct sl_deployment *d, uint64_t tokens);

/*
 * Fills `out` with the deployments of `g` that accept `tokens` and returns their count.
 * `out` gets g's name and a new array that the caller frees with free(out->deployments);
 * nothing is allocated when the count is 0 or all of g fits (out is then a copy of *g whose
 * array is g's own, and the function returns g->n). Check with out->deployments != g->deployments.
 */
size_t sl_precall_filter(const struct sl_model_group *g, uint64_t tokens,
                         struct sl_model_group *out);

/* Returns the largest max_input_tokens among the deployments of `g`, 0 when none sets one. */
int64_t sl_precall_largest_window(const struct sl_model_group *g);

#endif /* SL_PRECALL_H */
