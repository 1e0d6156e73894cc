/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cost -- the price of one request in USD from its token usage: the deployment's
 * input_cost_per_token and output_cost_per_token when it sets them, else the price of the
 * provider's model in a small built-in table of common models. A model that neither names is
 * priced at 0, so only explicitly priced or listed models count against budgets.
 */
#ifndef SL_COST_H
#define SL_COST_H

#include <stdint.h>

#include "common/config.h"

/* Token counts of one request, as the provider reported them. */
struct sl_cost_tokens {
    int64_t prompt;
    int64_t completion;
};

/* Per-token prices in USD. */
struct sl_cost_prices {
    double input;
    double output;
};

/*
 * Writes the prices of `d` into `*out`: each price the deployment sets, else the built-in
 * price of d->provider_model (looked up without a date suffix when the full name is unknown).
 * Returns 1 when both prices were found, 0 when at least one price is unknown (it is then 0).
 */
int sl_cost_prices(const struct sl_deployment *d, struct sl_cost_prices *out);

/* Returns the cost of `t` on deployment `d` in USD; 0 when `d` is NULL. */
double sl_cost_of(const struct sl_deployment *d, const struct sl_cost_tokens *t);

/* Returns 1 when `d` sets both input_cost_per_token and output_cost_per_token to 0. */
int sl_cost_is_free(const struct sl_deployment *d);

#endif /* SL_COST_H */
