/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai -- request parsing and response bodies in the OpenAI chat-completions format.
 *
 * Field order follows responses recorded from the OpenAI API: id, object, created, model,
 * system_fingerprint, choices (index, delta, logprobs, finish_reason), then usage.
 */
#include "bench/mock/openai.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench/mock/completions.h"
#include "common/json.h"
#include "common/xalloc.h"

static const char fingerprint[] = "fp_mock";

/* Adds the bytes of a message's content: a string, or the text parts of an array. */
static size_t
content_bytes(const cJSON *content)
{
    const cJSON *part;
    size_t n = 0;

    if (cJSON_IsString(content))
        return strlen(content->valuestring);
    if (!cJSON_IsArray(content))
        return 0;
    cJSON_ArrayForEach(part, content)
    {
        const char *text = sl_json_get_string(part, "text");

        if (text != NULL)
            n += strlen(text);
    }
    return n;
}

static enum sl_status
parse_options(const cJSON *root, struct sl_mock_chat *chat, const char **param,
              struct sl_errbuf *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
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
    chat->stream = cJSON_IsTrue(stream);
    if (cJSON_IsObject(opts))
        chat->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    return SL_OK;
}

enum sl_status
sl_mock_chat_parse(const char *body, size_t len, struct sl_mock_chat *chat, const char **param,
                   struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const cJSON *messages, *msg;
    const char *model;
    size_t bytes = 0;
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
    messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(messages)) {
        *param = "messages";
        sl_errbuf_set(err, "missing required parameter: 'messages'");
        goto out;
    }
    cJSON_ArrayForEach(msg, messages) bytes +=
        content_bytes(cJSON_GetObjectItemCaseSensitive(msg, "content"));
    rc = parse_options(root, chat, param, err);
    if (rc != SL_OK)
        goto out;
    chat->model = sl_xstrdup(model);
    chat->prompt_tokens = (int64_t)((bytes + 3) / 4);
out:
    cJSON_Delete(root);
    return rc;
}

void
sl_mock_chat_dispose(struct sl_mock_chat *chat)
{
    free(chat->model);
    chat->model = NULL;
}

static int64_t
count_words(const char *s, size_t len)
{
    int64_t words = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
            words++;
    }
    return words;
}

/* One piece per word; a piece starts where a run of spaces after a word starts. */
static void
split_words(struct sl_mock_content *c)
{
    size_t n = 0;

    c->cuts = sl_xcalloc(c->text_len + 2, sizeof(*c->cuts));
    c->cuts[n++] = 0;
    for (size_t i = 1; i < c->text_len; i++) {
        if (c->text[i] == ' ' && c->text[i - 1] != ' ')
            c->cuts[n++] = i;
    }
    c->pieces = c->text_len == 0 ? 0 : (int64_t)n;
    c->cuts[c->pieces] = c->text_len;
}

/* `pieces` pieces of nearly equal byte length, never splitting a UTF-8 sequence. */
static void
split_even(struct sl_mock_content *c, int64_t pieces)
{
    size_t n = (size_t)pieces;

    c->cuts = sl_xcalloc(n + 1, sizeof(*c->cuts));
    c->pieces = pieces;
    for (size_t k = 1; k < n; k++) {
        size_t at = (size_t)((unsigned __int128)c->text_len * k / n);

        while (at < c->text_len && ((unsigned char)c->text[at] & 0xc0) == 0x80)
            at++;
        if (at < c->cuts[k - 1])
            at = c->cuts[k - 1];
        c->cuts[k] = at;
    }
    c->cuts[n] = c->text_len;
}

void
sl_mock_content_init(struct sl_mock_content *c, const struct sl_mock_script *script)
{
    memset(c, 0, sizeof(*c));
    c->text = script->text != NULL ? script->text : SL_MOCK_DEFAULT_TEXT;
    c->text_len = strlen(c->text);

    if (script->chunk_bytes > 0) {
        size_t size = (size_t)script->chunk_bytes + 26;

        c->chunk_bytes = script->chunk_bytes;
        c->pieces = script->chunks > 0 ? script->chunks : count_words(c->text, c->text_len);
        c->filler = sl_xmalloc(size);
        for (size_t i = 0; i < size; i++)
            c->filler[i] = (char)('a' + i % 26);
        c->completion_tokens = c->pieces;
        return;
    }
    if (script->chunks > 0)
        split_even(c, script->chunks);
    else
        split_words(c);
    c->completion_tokens = count_words(c->text, c->text_len);
}

void
sl_mock_content_dispose(struct sl_mock_content *c)
{
    free(c->cuts);
    free(c->filler);
    memset(c, 0, sizeof(*c));
}

void
sl_mock_content_piece(const struct sl_mock_content *c, int64_t k, const char **p, size_t *len)
{
    if (c->filler != NULL) {
        /* Filler continues across chunks: byte i of the whole content is 'a' + i % 26. */
        uint64_t start = (uint64_t)k * (uint64_t)c->chunk_bytes;

        *p = c->filler + start % 26;
        *len = (size_t)c->chunk_bytes;
        return;
    }
    *p = c->text + c->cuts[k];
    *len = c->cuts[k + 1] - c->cuts[k];
}

char *
sl_mock_usage_json(const cJSON *overrides, int64_t prompt_tokens, int64_t completion_tokens)
{
    cJSON *u = cJSON_CreateObject();
    cJSON *ptd, *ctd;
    const cJSON *item;
    char *text;

    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt_tokens + completion_tokens));
    ptd = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(ptd, "cached_tokens", 0);
    cJSON_AddNumberToObject(ptd, "audio_tokens", 0);
    ctd = cJSON_AddObjectToObject(u, "completion_tokens_details");
    cJSON_AddNumberToObject(ctd, "reasoning_tokens", 0);
    cJSON_AddNumberToObject(ctd, "audio_tokens", 0);
    cJSON_AddNumberToObject(ctd, "accepted_prediction_tokens", 0);
    cJSON_AddNumberToObject(ctd, "rejected_prediction_tokens", 0);

    cJSON_ArrayForEach(item, overrides)
    {
        cJSON *copy = cJSON_Duplicate(item, 1);

        if (cJSON_HasObjectItem(u, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive(u, item->string, copy);
        else
            cJSON_AddItemToObject(u, item->string, copy);
    }
    if (overrides != NULL && !cJSON_HasObjectItem(overrides, "total_tokens")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");

        if (cJSON_IsNumber(p) && cJSON_IsNumber(c))
            cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "total_tokens"),
                                 p->valuedouble + c->valuedouble);
    }
    text = sl_json_print(u);
    cJSON_Delete(u);
    return text;
}

/* Appends the content of the whole completion: the text, or every filler chunk. */
static enum sl_status
append_content(struct sl_buf *out, const struct sl_mock_content *content)
{
    struct sl_buf joined;
    enum sl_status rc = SL_OK;

    if (content->filler == NULL)
        return sl_json_append_string(out, content->text, content->text_len);
    sl_buf_init(&joined, SL_MOCK_MAX_FILLER_BODY);
    for (int64_t k = 0; k < content->pieces && rc == SL_OK; k++) {
        const char *p;
        size_t len;

        sl_mock_content_piece(content, k, &p, &len);
        rc = sl_buf_append(&joined, p, len);
    }
    if (rc == SL_OK)
        rc = sl_json_append_string(out, joined.data != NULL ? joined.data : "", joined.len);
    sl_buf_dispose(&joined);
    return rc;
}

static enum sl_status
append_finish_reason(struct sl_buf *out, const char *reason)
{
    if (reason == NULL)
        return sl_buf_append_str(out, "null");
    return sl_json_append_string(out, reason, strlen(reason));
}

static enum sl_status
append_choice(struct sl_buf *out, int index, const struct sl_mock_script *script,
              const struct sl_mock_content *content)
{
    enum sl_status rc;

    rc = sl_buf_printf(out, "%s{\"index\":%d,\"message\":{\"role\":\"assistant\",\"content\":",
                       index > 0 ? "," : "", index);
    if (rc == SL_OK)
        rc = append_content(out, content);
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                                    "\"finish_reason\":");
    if (rc == SL_OK)
        rc = append_finish_reason(out, script->finish_reason);
    if (rc == SL_OK)
        rc = sl_buf_append(out, "}", 1);
    return rc;
}

enum sl_status
sl_mock_completion_json(struct sl_buf *out, uint64_t seq, int64_t created,
                        const struct sl_mock_chat *chat, const struct sl_mock_script *script,
                        const struct sl_mock_content *content, const char *usage_json)
{
    enum sl_status rc;

    if (chat->text_completion)
        return sl_mock_text_completion_json(out, seq, created, chat, script, content, usage_json);
    rc = sl_buf_printf(out,
                       "{\"id\":\"chatcmpl-mock%" PRIu64 "\",\"object\":\"chat.completion\","
                       "\"created\":%" PRId64 ",\"model\":",
                       seq, created);
    if (rc == SL_OK)
        rc = sl_json_append_string(out, chat->model, strlen(chat->model));
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, ",\"choices\":[");
    for (int i = 0; i < chat->n && rc == SL_OK; i++)
        rc = append_choice(out, i, script, content);
    if (rc == SL_OK)
        rc = sl_buf_printf(out,
                           "],\"usage\":%s,\"service_tier\":\"default\","
                           "\"system_fingerprint\":\"%s\"}",
                           usage_json, fingerprint);
    return rc;
}

void
sl_mock_chunker_init(struct sl_mock_chunker *ck, uint64_t seq, int64_t created,
                     const struct sl_mock_chat *chat)
{
    sl_buf_init(&ck->prefix, 0);
    ck->text_completion = chat->text_completion;
    ck->suffix = chat->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n";
    if (chat->text_completion) {
        (void)sl_buf_append_str(&ck->prefix, "data: ");
        (void)sl_mock_text_chunk_prefix(&ck->prefix, seq, created, chat->model);
        return;
    }
    (void)sl_buf_printf(&ck->prefix,
                        "data: {\"id\":\"chatcmpl-mock%" PRIu64 "\","
                        "\"object\":\"chat.completion.chunk\",\"created\":%" PRId64 ",\"model\":",
                        seq, created);
    (void)sl_json_append_string(&ck->prefix, chat->model, strlen(chat->model));
    (void)sl_buf_printf(&ck->prefix, ",\"system_fingerprint\":\"%s\",\"choices\":[", fingerprint);
}

void
sl_mock_chunker_dispose(struct sl_mock_chunker *ck)
{
    sl_buf_dispose(&ck->prefix);
}

enum sl_status
sl_mock_chunk_role(const struct sl_mock_chunker *ck, struct sl_buf *out, int index)
{
    enum sl_status rc;

    if (ck->text_completion)
        return SL_OK; /* text completion streams have no role chunk */
    rc = sl_buf_append(out, ck->prefix.data, ck->prefix.len);
    if (rc == SL_OK)
        rc = sl_buf_printf(out,
                           "{\"index\":%d,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                           "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}%s",
                           index, ck->suffix);
    return rc;
}

enum sl_status
sl_mock_chunk_content(const struct sl_mock_chunker *ck, struct sl_buf *out, int index,
                      const char *piece, size_t len)
{
    enum sl_status rc = sl_buf_append(out, ck->prefix.data, ck->prefix.len);

    if (rc == SL_OK && ck->text_completion) {
        rc = sl_mock_text_chunk_choice(out, index, piece, len, NULL);
        return rc == SL_OK ? sl_buf_append_str(out, ck->suffix) : rc;
    }
    if (rc == SL_OK)
        rc = sl_buf_printf(out, "{\"index\":%d,\"delta\":{\"content\":", index);
    if (rc == SL_OK)
        rc = sl_json_append_string(out, piece, len);
    if (rc == SL_OK)
        rc = sl_buf_printf(out, "},\"logprobs\":null,\"finish_reason\":null}%s", ck->suffix);
    return rc;
}

enum sl_status
sl_mock_chunk_finish(const struct sl_mock_chunker *ck, struct sl_buf *out, int index,
                     const char *reason)
{
    enum sl_status rc = sl_buf_append(out, ck->prefix.data, ck->prefix.len);

    if (rc == SL_OK && ck->text_completion) {
        rc = sl_mock_text_chunk_choice(out, index, "", 0, reason);
        return rc == SL_OK ? sl_buf_append_str(out, ck->suffix) : rc;
    }
    if (rc == SL_OK)
        rc = sl_buf_printf(
            out, "{\"index\":%d,\"delta\":{},\"logprobs\":null,\"finish_reason\":", index);
    if (rc == SL_OK)
        rc = append_finish_reason(out, reason);
    if (rc == SL_OK)
        rc = sl_buf_printf(out, "}%s", ck->suffix);
    return rc;
}

enum sl_status
sl_mock_chunk_usage(const struct sl_mock_chunker *ck, struct sl_buf *out, const char *usage_json)
{
    enum sl_status rc = sl_buf_append(out, ck->prefix.data, ck->prefix.len);

    if (rc == SL_OK)
        rc = sl_buf_printf(out, "],\"usage\":%s}\n\n", usage_json);
    return rc;
}

enum sl_status
sl_mock_chunk_error(struct sl_buf *out)
{
    return sl_buf_append_str(out,
                             "data: {\"error\":{\"message\":\"mock in-band error\","
                             "\"type\":\"server_error\",\"param\":null,\"code\":\"500\"}}\n\n");
}

enum sl_status
sl_mock_chunk_done(struct sl_buf *out)
{
    return sl_buf_append_str(out, "data: [DONE]\n\n");
}

enum sl_status
sl_mock_error_json(struct sl_buf *out, const char *message, const char *type, const char *param)
{
    enum sl_status rc = sl_buf_append_str(out, "{\"error\":{\"message\":");

    if (rc == SL_OK)
        rc = sl_json_append_string(out, message, strlen(message));
    if (rc == SL_OK)
        rc = sl_buf_printf(out, ",\"type\":\"%s\",\"param\":", type);
    if (rc == SL_OK && param != NULL)
        rc = sl_json_append_string(out, param, strlen(param));
    else if (rc == SL_OK)
        rc = sl_buf_append_str(out, "null");
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, ",\"code\":null}}");
    return rc;
}

enum sl_status
sl_mock_models_json(struct sl_buf *out)
{
    static const char *const ids[] = {"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"};
    enum sl_status rc = sl_buf_append_str(out, "{\"object\":\"list\",\"data\":[");

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]) && rc == SL_OK; i++)
        rc = sl_buf_printf(out,
                           "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1715367049,"
                           "\"owned_by\":\"sluice-mock\"}",
                           i > 0 ? "," : "", ids[i]);
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, "]}");
    return rc;
}
