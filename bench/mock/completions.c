/* SPDX-License-Identifier: Apache-2.0 */
/*
 * completions -- request parsing and response bodies of OpenAI's legacy text completions.
 *
 * Field order: id, object, created, model, choices (text, index, logprobs, finish_reason), then
 * usage. The gateway and the SDKs read these bodies by name, so the order is only cosmetic.
 */
#include "bench/mock/completions.h"

#include <inttypes.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

/* Adds the prompt's token estimate: ceil(bytes / 4) per string, one token per token id. */
static int64_t
prompt_tokens(const cJSON *prompt)
{
    const cJSON *item;
    size_t bytes = 0;
    int64_t tokens = 0;

    if (cJSON_IsString(prompt))
        return (int64_t)((strlen(prompt->valuestring) + 3) / 4);
    cJSON_ArrayForEach(item, prompt)
    {
        if (cJSON_IsString(item))
            bytes += strlen(item->valuestring);
        else if (cJSON_IsNumber(item))
            tokens++;
        else if (cJSON_IsArray(item))
            tokens += cJSON_GetArraySize(item);
    }
    return tokens + (int64_t)((bytes + 3) / 4);
}

static enum sl_status
parse_choices(const cJSON *root, struct sl_mock_chat *chat, const char **param,
              struct sl_errbuf *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "stream_options");

    chat->n = 1;
    if (n != NULL && !cJSON_IsNull(n)) {
        if (!cJSON_IsNumber(n) || n->valuedouble < 1 || n->valuedouble > SL_MOCK_MAX_CHOICES ||
            n->valuedouble != (double)(int)n->valuedouble) {
            *param = "n";
            sl_errbuf_set(err, "n must be an integer from 1 to %d", SL_MOCK_MAX_CHOICES);
            return SL_ERR_INVALID;
        }
        chat->n = (int)n->valuedouble;
    }
    chat->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
    if (cJSON_IsObject(opts))
        chat->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    return SL_OK;
}

enum sl_status
sl_mock_text_parse(const char *body, size_t len, struct sl_mock_chat *chat, const char **param,
                   struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const cJSON *prompt;
    const char *model;
    enum sl_status rc;

    memset(chat, 0, sizeof(*chat));
    *param = NULL;
    rc = sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, err);
    if (rc != SL_OK) {
        sl_errbuf_set(err, "the request body is not valid JSON");
        goto out;
    }
    rc = SL_ERR_INVALID;
    if (!cJSON_IsObject(root)) {
        sl_errbuf_set(err, "the request body must be a JSON object");
        goto out;
    }
    model = sl_json_get_string(root, "model");
    if (model == NULL) {
        *param = "model";
        sl_errbuf_set(err, "you must provide a model parameter");
        goto out;
    }
    prompt = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!cJSON_IsString(prompt) && !cJSON_IsArray(prompt)) {
        *param = "prompt";
        sl_errbuf_set(err, "missing required parameter: 'prompt' (a string or an array)");
        goto out;
    }
    rc = parse_choices(root, chat, param, err);
    if (rc != SL_OK)
        goto out;
    chat->model = sl_xstrdup(model);
    chat->prompt_tokens = prompt_tokens(prompt);
    chat->text_completion = 1;
out:
    cJSON_Delete(root);
    return rc;
}

static enum sl_status
append_reason(struct sl_buf *out, const char *reason)
{
    if (reason == NULL)
        return sl_buf_append_str(out, "null");
    return sl_json_append_string(out, reason, strlen(reason));
}

enum sl_status
sl_mock_text_chunk_prefix(struct sl_buf *out, uint64_t seq, int64_t created, const char *model)
{
    enum sl_status rc;

    rc = sl_buf_printf(out,
                       "{\"id\":\"cmpl-mock%" PRIu64 "\",\"object\":\"text_completion\","
                       "\"created\":%" PRId64 ",\"model\":",
                       seq, created);
    if (rc == SL_OK)
        rc = sl_json_append_string(out, model, strlen(model));
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, ",\"choices\":[");
    return rc;
}

enum sl_status
sl_mock_text_chunk_choice(struct sl_buf *out, int index, const char *text, size_t len,
                          const char *reason)
{
    enum sl_status rc = sl_buf_append_str(out, "{\"text\":");

    if (rc == SL_OK)
        rc = sl_json_append_string(out, text, len);
    if (rc == SL_OK)
        rc = sl_buf_printf(out, ",\"index\":%d,\"logprobs\":null,\"finish_reason\":", index);
    if (rc == SL_OK)
        rc = append_reason(out, reason);
    if (rc == SL_OK)
        rc = sl_buf_append(out, "}", 1);
    return rc;
}

/* Joins the content pieces: the text, or every filler chunk (up to SL_MOCK_MAX_FILLER_BODY). */
static enum sl_status
join_content(const struct sl_mock_content *content, struct sl_buf *joined)
{
    enum sl_status rc = SL_OK;

    if (content->filler == NULL)
        return sl_buf_append(joined, content->text, content->text_len);
    for (int64_t k = 0; k < content->pieces && rc == SL_OK; k++) {
        const char *p;
        size_t len;

        sl_mock_content_piece(content, k, &p, &len);
        rc = sl_buf_append(joined, p, len);
    }
    return rc;
}

enum sl_status
sl_mock_text_completion_json(struct sl_buf *out, uint64_t seq, int64_t created,
                             const struct sl_mock_chat *chat, const struct sl_mock_script *script,
                             const struct sl_mock_content *content, const char *usage_json)
{
    struct sl_buf text;
    enum sl_status rc;

    sl_buf_init(&text, SL_MOCK_MAX_FILLER_BODY);
    rc = join_content(content, &text);
    if (rc == SL_OK)
        rc = sl_mock_text_chunk_prefix(out, seq, created, chat->model);
    for (int i = 0; i < chat->n && rc == SL_OK; i++) {
        if (i > 0)
            rc = sl_buf_append(out, ",", 1);
        if (rc == SL_OK)
            rc = sl_mock_text_chunk_choice(out, i, text.data != NULL ? text.data : "", text.len,
                                           script->finish_reason);
    }
    if (rc == SL_OK)
        rc = sl_buf_printf(out, "],\"usage\":%s}", usage_json);
    sl_buf_dispose(&text);
    return rc;
}
