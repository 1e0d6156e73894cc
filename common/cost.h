/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cost -- the price of one request in USD from its token usage. Prices come from the
 * deployment (litellm_params, then model_info), else from the price table: the JSON file
 * common/data/model_prices.json, embedded at build time, overlaid by the file named by
 * litellm_settings.model_cost_map_path. Both are in the shape of LiteLLM's
 * model_prices_and_context_window.json. A model that has no price costs 0 and is reported
 * as unpriced, with one warning per model name per process.
 */
#ifndef SL_COST_H
#define SL_COST_H

#include <stdint.h>

#include "common/config.h"
#include "common/status.h"

/* Maximum size of a price file, in bytes (LiteLLM's own file is about 1.5 MB). */
#define SL_COST_FILE_MAX_BYTES (32u * 1024u * 1024u)

/* Prompts longer than this many tokens use an entry's *_above_200k_tokens prices. */
#define SL_COST_TIER_TOKENS 200000

/* Token counts of one request in OpenAI's terms. */
struct sl_cost_tokens {
    int64_t prompt;         /* every prompt token, cached and cache-written ones included */
    int64_t completion;     /* every completion token, reasoning ones included */
    int64_t cached;         /* prompt tokens read from the provider's cache */
    int64_t cache_creation; /* prompt tokens written to the provider's cache */
    int64_t reasoning;      /* completion tokens spent on reasoning */
    int embedding;          /* 1: an embeddings call, priced by its prompt tokens only */
};

/* Prices that apply to one deployment, in USD per token. The cache and reasoning prices
 * already fall back to the input and output prices, so none is NAN. */
struct sl_cost_prices {
    struct sl_token_prices base;
    int has_tier;                /* 1: `above_tier` applies past SL_COST_TIER_TOKENS */
    struct sl_token_prices above_tier;
};

/*
 * Reads the price file at `path` and overlays it on the embedded table: its entries replace
 * the embedded entries of the same name and add new ones. With `path` NULL, loads the
 * embedded table only. Call it once at startup, before any thread prices a request: it
 * replaces the table without locking. SL_ERR_INVALID (or the I/O error) with a message
 * that names the file and the entry when the file is unreadable, larger than
 * SL_COST_FILE_MAX_BYTES, not a JSON object, or has a price that is not a number >= 0.
 * Fields other than the prices are ignored. Without a call, the first lookup loads the
 * embedded table.
 */
enum sl_status sl_cost_table_load(const char *path, struct sl_errbuf *err);

/* Returns the number of models in the loaded table. */
size_t sl_cost_table_size(void);

/*
 * Writes the prices of `d` into `*out`. A deployment that sets an input or output price
 * (litellm_params, else model_info, field by field) uses its own prices only. Otherwise the
 * prices are those of the first table entry found for model_info.base_model, then for the
 * deployment's model, each tried as "<provider>/<model>", "<model>", the model without a
 * Bedrock region prefix ("us.", "eu.", ...), and the model without its date or version
 * suffix ("-2024-08-06", "-20250514", "-v1:0"). Returns 1 when the input and output prices
 * are known, else 0 (unknown prices are 0).
 */
int sl_cost_prices(const struct sl_deployment *d, struct sl_cost_prices *out);

/*
 * Writes the cost of `t` on deployment `d` into `*cost`, in USD:
 *   (prompt - cached - cache_creation) * input + cached * cache_read
 *   + cache_creation * cache_creation price + (completion - reasoning) * output
 *   + reasoning * reasoning price,
 * with an embedding priced as prompt * input. Returns 1 when the model is priced, 0 when it
 * is not (the cost is then 0 and a warning naming the model is logged once per process).
 * Thread-safe. `d` NULL costs 0 and counts as priced.
 */
int sl_cost_compute(const struct sl_deployment *d, const struct sl_cost_tokens *t,
                    double *cost);

/* Returns 1 when `d` sets both input_cost_per_token and output_cost_per_token to 0. */
int sl_cost_is_free(const struct sl_deployment *d);

#endif /* SL_COST_H */
