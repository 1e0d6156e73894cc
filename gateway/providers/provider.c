/* SPDX-License-Identifier: Apache-2.0 */
/* provider -- the registry of provider families by model prefix. */
#include "gateway/providers/provider.h"

#include <stdio.h>
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

/* Sums of text lengths stop here, far past any request or response the gateway admits. */
#define CHARS_MAX ((int64_t)1e15)

static int64_t
add_capped(int64_t a, int64_t b)
{
    return b > CHARS_MAX - a ? CHARS_MAX : a + b;
}

/* Returns the text length of a content value: a string, a text part ({"text": ...}), or an
 * array of either. A number (a token id of a token array) counts as one token. */
static int64_t
text_chars(const cJSON *v)
{
    const cJSON *item;
    int64_t n = 0;

    if (cJSON_IsString(v))
        return (int64_t)strlen(v->valuestring);
    if (cJSON_IsNumber(v))
        return SL_USAGE_CHARS_PER_TOKEN;
    if (cJSON_IsObject(v)) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(v, "text");

        return cJSON_IsString(text) ? (int64_t)strlen(text->valuestring) : 0;
    }
    cJSON_ArrayForEach(item, v)
    {
        /* Token arrays of embeddings may nest one level: [[1, 2], [3]]. */
        if (cJSON_IsArray(item)) {
            const cJSON *token;

            cJSON_ArrayForEach(token, item)
                if (cJSON_IsNumber(token))
                    n = add_capped(n, SL_USAGE_CHARS_PER_TOKEN);
            continue;
        }
        n = add_capped(n, text_chars(item));
    }
    return n;
}

int64_t
sl_usage_request_chars(const cJSON *body)
{
    static const char *const members[] = {"system", "prompt", "input"};
    const cJSON *message;
    int64_t n = 0;

    cJSON_ArrayForEach(message, cJSON_GetObjectItemCaseSensitive(body, "messages"))
        n = add_capped(n, text_chars(cJSON_GetObjectItemCaseSensitive(message, "content")));
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
        n = add_capped(n, text_chars(cJSON_GetObjectItemCaseSensitive(body, members[i])));
    return n;
}

int64_t
sl_usage_response_chars(const cJSON *root)
{
    const cJSON *choice;
    int64_t n = 0;

    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(root, "choices"))
    {
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(choice, "text");

        n = add_capped(n, text_chars(cJSON_GetObjectItemCaseSensitive(message, "content")));
        n = add_capped(n, text_chars(cJSON_GetObjectItemCaseSensitive(delta, "content")));
        if (cJSON_IsString(text))
            n = add_capped(n, (int64_t)strlen(text->valuestring));
    }
    return n;
}

static int64_t
chars_to_tokens(int64_t chars)
{
    if (chars <= 0)
        return 0;
    return (chars + SL_USAGE_CHARS_PER_TOKEN - 1) / SL_USAGE_CHARS_PER_TOKEN;
}

void
sl_usage_estimate(struct sl_usage *usage, int64_t prompt_chars, int64_t completion_chars)
{
    if (usage->present)
        return;
    memset(usage, 0, sizeof(*usage));
    usage->present = 1;
    usage->estimated = 1;
    usage->prompt_tokens = chars_to_tokens(prompt_chars);
    usage->completion_tokens = chars_to_tokens(completion_chars);
    usage->total_tokens = usage->prompt_tokens + usage->completion_tokens;
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

void
sl_stream_note_finish(struct sl_stream_state *st, const char *reason)
{
    if (reason != NULL && st->finish_reason[0] == '\0')
        snprintf(st->finish_reason, sizeof(st->finish_reason), "%s", reason);
}
