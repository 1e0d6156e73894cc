/* SPDX-License-Identifier: Apache-2.0 */
/* provider -- the registry of provider families by model prefix. */
#include "gateway/providers/provider.h"

#include <string.h>

/* Defined by each family's file. */
extern const struct sl_provider sl_openai_families[];
extern const size_t sl_openai_family_count;
extern const struct sl_provider sl_azure_families[];
extern const size_t sl_azure_family_count;
extern const struct sl_provider sl_gemini_families[];
extern const size_t sl_gemini_family_count;
extern const struct sl_provider sl_bedrock_families[];
extern const size_t sl_bedrock_family_count;
extern const struct sl_provider sl_anthropic_families[];
extern const size_t sl_anthropic_family_count;

struct family_table {
    const struct sl_provider *items;
    const size_t *count;
};

static const struct family_table tables[] = {
    {sl_openai_families, &sl_openai_family_count},
    {sl_azure_families, &sl_azure_family_count},
    {sl_gemini_families, &sl_gemini_family_count},
    {sl_bedrock_families, &sl_bedrock_family_count},
    {sl_anthropic_families, &sl_anthropic_family_count},
};

int64_t
sl_usage_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
        return 0;
    return v->valuedouble >= 1e15 ? (int64_t)1e15 : (int64_t)v->valuedouble;
}

const struct sl_provider *
sl_provider_find(const char *prefix)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (size_t i = 0; i < *tables[t].count; i++)
            if (strcmp(tables[t].items[i].name, prefix) == 0)
                return &tables[t].items[i];
    return NULL;
}

void
sl_provider_list(struct sl_buf *out)
{
    int first = 1;

    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (size_t i = 0; i < *tables[t].count; i++) {
            sl_buf_printf(out, "%s%s", first ? "" : ", ", tables[t].items[i].name);
            first = 0;
        }
    }
}
