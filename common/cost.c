/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cost -- request prices from deployments and a small built-in table. Prices are USD per
 * token as the providers list them per million tokens (list price, no discounts, no batch
 * or cache-read rates).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "common/cost.h"

struct model_price {
    const char *model;
    double input_per_mtok;
    double output_per_mtok;
};

/* Sorted by name for bsearch. */
static const struct model_price builtin[] = {
    {"claude-3-5-haiku-latest", 0.8, 4.0},
    {"claude-3-5-sonnet-latest", 3.0, 15.0},
    {"claude-3-7-sonnet-latest", 3.0, 15.0},
    {"claude-3-haiku", 0.25, 1.25},
    {"claude-haiku-4-5", 1.0, 5.0},
    {"claude-opus-4", 15.0, 75.0},
    {"claude-opus-4-1", 15.0, 75.0},
    {"claude-sonnet-4", 3.0, 15.0},
    {"claude-sonnet-4-5", 3.0, 15.0},
    {"gemini-2.0-flash", 0.1, 0.4},
    {"gemini-2.0-flash-lite", 0.075, 0.3},
    {"gemini-2.5-flash", 0.3, 2.5},
    {"gemini-2.5-flash-lite", 0.1, 0.4},
    {"gemini-2.5-pro", 1.25, 10.0},
    {"gpt-3.5-turbo", 0.5, 1.5},
    {"gpt-4.1", 2.0, 8.0},
    {"gpt-4.1-mini", 0.4, 1.6},
    {"gpt-4.1-nano", 0.1, 0.4},
    {"gpt-4o", 2.5, 10.0},
    {"gpt-4o-mini", 0.15, 0.6},
    {"gpt-5", 1.25, 10.0},
    {"gpt-5-mini", 0.25, 2.0},
    {"gpt-5-nano", 0.05, 0.4},
    {"o3", 2.0, 8.0},
    {"o3-mini", 1.1, 4.4},
    {"o4-mini", 1.1, 4.4},
    {"text-embedding-3-large", 0.13, 0.0},
    {"text-embedding-3-small", 0.02, 0.0},
    {"text-embedding-ada-002", 0.1, 0.0},
};

static const struct model_price *
find_exact(const char *model, size_t len)
{
    size_t lo = 0;
    size_t hi = sizeof(builtin) / sizeof(builtin[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(builtin[mid].model, model, len);

        if (c == 0 && builtin[mid].model[len] != '\0')
            c = 1;
        if (c == 0)
            return &builtin[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Finds `model`, then the name without a trailing "-YYYY-MM-DD" or "-YYYYMMDD" date, then
 * the name after the last '.' (Bedrock's "anthropic.claude-..." ids) the same two ways. */
static const struct model_price *
find_model(const char *model)
{
    const char *dot = strrchr(model, '.');
    const char *names[2] = {model, dot != NULL && dot[1] != '\0' ? dot + 1 : NULL};

    for (size_t i = 0; i < 2 && names[i] != NULL; i++) {
        const char *name = names[i];
        size_t len = strlen(name);
        const struct model_price *p = find_exact(name, len);

        if (p != NULL)
            return p;
        /* Bedrock appends a version: "...-20250514-v1:0". */
        const char *v = strstr(name, "-v");
        if (v != NULL && strchr(v, ':') != NULL)
            len = (size_t)(v - name);
        if (len > 11 && name[len - 11] == '-' && name[len - 6] == '-' && name[len - 3] == '-')
            len -= 11;
        else if (len > 9 && name[len - 9] == '-' && strspn(name + len - 8, "0123456789") == 8)
            len -= 9;
        p = find_exact(name, len);
        if (p != NULL)
            return p;
    }
    return NULL;
}

int
sl_cost_prices(const struct sl_deployment *d, struct sl_cost_prices *out)
{
    const struct model_price *p = NULL;
    int known = 1;

    out->input = d->input_cost_per_token;
    out->output = d->output_cost_per_token;
    if ((isnan(out->input) || isnan(out->output)) && d->provider_model != NULL)
        p = find_model(d->base_model != NULL ? d->base_model : d->provider_model);
    if (isnan(out->input)) {
        out->input = p != NULL ? p->input_per_mtok / 1e6 : 0.0;
        known = known && p != NULL;
    }
    if (isnan(out->output)) {
        out->output = p != NULL ? p->output_per_mtok / 1e6 : 0.0;
        known = known && p != NULL;
    }
    return known;
}

double
sl_cost_of(const struct sl_deployment *d, const struct sl_cost_tokens *t)
{
    struct sl_cost_prices p;

    if (d == NULL)
        return 0.0;
    sl_cost_prices(d, &p);
    return (double)t->prompt * p.input + (double)t->completion * p.output;
}

int
sl_cost_is_free(const struct sl_deployment *d)
{
    return d->input_cost_per_token == 0.0 && d->output_cost_per_token == 0.0;
}
