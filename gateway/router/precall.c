/* SPDX-License-Identifier: Apache-2.0 */
/* precall -- the context-window check before a call; see precall.h. */
#include "gateway/router/precall.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Keys whose values are not text the model reads as tokens, or not text at all. */
static int
is_skipped_key(const char *key)
{
    static const char *const skipped[] = {"image_url", "url", "data", "source", "type", "role"};

    if (key == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
        if (strcmp(key, skipped[i]) == 0)
            return 1;
    return 0;
}

static uint64_t
text_bytes(const cJSON *item, int depth)
{
    uint64_t total = 0;
    const cJSON *child;

    if (item == NULL || depth > SL_PRECALL_MAX_DEPTH)
        return 0;
    if (cJSON_IsString(item))
        return item->valuestring != NULL ? strlen(item->valuestring) : 0;
    if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
        return 0;
    cJSON_ArrayForEach(child, item) {
        if (cJSON_IsObject(item) && is_skipped_key(child->string))
            continue;
        total += text_bytes(child, depth + 1);
    }
    return total;
}

uint64_t
sl_precall_estimate_tokens(const cJSON *body)
{
    static const char *const fields[] = {"messages", "system", "prompt", "input", "tools",
                                         "functions"};
    uint64_t bytes = 0;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        bytes += text_bytes(cJSON_GetObjectItemCaseSensitive(body, fields[i]), 0);
    return (bytes + SL_PRECALL_BYTES_PER_TOKEN - 1) / SL_PRECALL_BYTES_PER_TOKEN;
}

int
sl_precall_fits(const struct sl_deployment *d, uint64_t tokens)
{
    return d->max_input_tokens <= 0 || tokens <= (uint64_t)d->max_input_tokens;
}

size_t
sl_precall_filter(const struct sl_model_group *g, uint64_t tokens, struct sl_model_group *out)
{
    const struct sl_deployment **kept;
    size_t n = 0;

    *out = *g;
    for (size_t i = 0; i < g->n; i++)
        n += (size_t)sl_precall_fits(g->deployments[i], tokens);
    if (n == 0 || n == g->n)
        return n;

    kept = sl_xcalloc(n, sizeof(*kept));
    out->n = 0;
    out->total_weight = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!sl_precall_fits(g->deployments[i], tokens))
            continue;
        kept[out->n++] = g->deployments[i];
        out->total_weight += sl_router_weight(g->deployments[i]);
    }
    out->deployments = kept;
    return n;
}

int64_t
sl_precall_largest_window(const struct sl_model_group *g)
{
    int64_t largest = 0;

    for (size_t i = 0; i < g->n; i++)
        if (g->deployments[i]->max_input_tokens > largest)
            largest = g->deployments[i]->max_input_tokens;
    return largest;
}
