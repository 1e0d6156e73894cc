/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemini -- the Gemini API wire format as the mock speaks it: request parsing, response
 * bodies, stream events and Google's error envelope. Field order follows recorded responses.
 */
#include "bench/mock/gemini.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/mock/embeddings.h"
#include "common/json.h"
#include "common/xalloc.h"

enum sl_mock_gemini_method
sl_mock_gemini_match(const char *path, size_t len, char *model, size_t size)
{
    static const char *const prefixes[] = {"/v1beta/models/", "/v1/models/"};
    static const struct {
        const char *suffix;
        enum sl_mock_gemini_method method;
    } methods[] = {
        {":generateContent", SL_MOCK_GEMINI_GENERATE},
        {":streamGenerateContent", SL_MOCK_GEMINI_STREAM},
        {":batchEmbedContents", SL_MOCK_GEMINI_EMBED},
    };

    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        size_t plen = strlen(prefixes[p]);

        if (len <= plen || memcmp(path, prefixes[p], plen) != 0)
            continue;
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            size_t slen = strlen(methods[m].suffix);
            size_t model_len;

            if (len < plen + slen + 1 || memcmp(path + len - slen, methods[m].suffix, slen) != 0)
                continue;
            model_len = len - plen - slen;
            if (model_len + 1 > size || memchr(path + plen, ':', model_len) != NULL)
                return SL_MOCK_GEMINI_NONE;
            memcpy(model, path + plen, model_len);
            model[model_len] = '\0';
            return methods[m].method;
        }
    }
    return SL_MOCK_GEMINI_NONE;
}

/* Adds the byte length of every part's text in `contents` (an array of Content objects). */
static size_t
text_bytes(const cJSON *contents)
{
    const cJSON *content;
    size_t total = 0;

    cJSON_ArrayForEach(content, contents)
    {
        const cJSON *part;

        cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(content, "parts"))
        {
            const char *text = sl_json_get_string(part, "text");

            if (text != NULL)
                total += strlen(text);
        }
    }
    return total;
}

enum sl_status
sl_mock_gemini_parse(const char *body, size_t len, const char *model, int stream,
                     struct sl_mock_chat *chat, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const cJSON *contents;
    const cJSON *system;
    const cJSON *count;
    size_t bytes;

    memset(chat, 0, sizeof(*chat));
    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, err) != SL_OK)
        return SL_ERR_INVALID;
    contents = cJSON_GetObjectItemCaseSensitive(root, "contents");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(contents)) {
        cJSON_Delete(root);
        sl_errbuf_set(err, "* GenerateContentRequest.contents: contents is not specified");
        return SL_ERR_INVALID;
    }
    count = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "generationConfig"), "candidateCount");
    if (count != NULL && (!cJSON_IsNumber(count) || count->valuedouble < 1 ||
                          count->valuedouble > SL_MOCK_MAX_CHOICES)) {
        cJSON_Delete(root);
        sl_errbuf_set(err, "generationConfig.candidateCount must be between 1 and %d",
                      SL_MOCK_MAX_CHOICES);
        return SL_ERR_INVALID;
    }
    system = cJSON_GetObjectItemCaseSensitive(root, "systemInstruction");
    bytes = text_bytes(contents);
    if (cJSON_IsObject(system)) {
        cJSON *wrapped = cJSON_CreateArray();

        cJSON_AddItemReferenceToArray(wrapped, (cJSON *)system);
        bytes += text_bytes(wrapped);
        cJSON_Delete(wrapped);
    }
    chat->model = sl_xstrdup(model);
    chat->n = count != NULL ? (int)count->valuedouble : 1;
    chat->stream = stream;
    chat->include_usage = 1;
    chat->prompt_tokens = (int64_t)((bytes + 3) / 4);
    cJSON_Delete(root);
    return SL_OK;
}

/* Maps the script's OpenAI finish_reason to Gemini's; other names pass as they are. */
static const char *
finish_name(const char *reason)
{
    if (strcmp(reason, "stop") == 0 || strcmp(reason, "tool_calls") == 0)
        return "STOP";
    if (strcmp(reason, "length") == 0)
        return "MAX_TOKENS";
    if (strcmp(reason, "content_filter") == 0)
        return "SAFETY";
    return reason;
}

/* Builds usageMetadata from OpenAI's usage JSON (`full` 0: prompt counts only). */
static cJSON *
usage_metadata(const char *usage_json, int64_t prompt_tokens, int full)
{
    cJSON *usage = cJSON_Parse(usage_json != NULL ? usage_json : "{}");
    cJSON *meta = cJSON_CreateObject();
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    const cJSON *completion = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(usage, "total_tokens");
    const cJSON *cached = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"), "cached_tokens");
    double p = cJSON_IsNumber(prompt) ? prompt->valuedouble : (double)prompt_tokens;

    cJSON_AddNumberToObject(meta, "promptTokenCount", p);
    if (full && cJSON_IsNumber(completion))
        cJSON_AddNumberToObject(meta, "candidatesTokenCount", completion->valuedouble);
    if (full && cJSON_IsNumber(total))
        cJSON_AddNumberToObject(meta, "totalTokenCount", total->valuedouble);
    else
        cJSON_AddNumberToObject(meta, "totalTokenCount", p);
    if (full && cJSON_IsNumber(cached) && cached->valuedouble > 0)
        cJSON_AddNumberToObject(meta, "cachedContentTokenCount", cached->valuedouble);
    cJSON_Delete(usage);
    return meta;
}

static cJSON *
candidate(int index, const char *text, size_t len, const char *finish)
{
    cJSON *c = cJSON_CreateObject();
    cJSON *content = cJSON_AddObjectToObject(c, "content");
    cJSON *part = cJSON_CreateObject();
    char *copy = sl_xstrndup(text, len);

    cJSON_AddStringToObject(part, "text", copy);
    free(copy);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(content, "parts"), part);
    cJSON_AddStringToObject(content, "role", "model");
    if (finish != NULL)
        cJSON_AddStringToObject(c, "finishReason", finish);
    cJSON_AddNumberToObject(c, "index", index);
    return c;
}

/* Appends `root` as JSON, or as one CRLF-framed SSE event when `event` is set; frees it. */
static enum sl_status
emit(struct sl_buf *out, cJSON *root, int event)
{
    char *text = cJSON_PrintUnformatted(root);
    enum sl_status rc = SL_OK;

    if (event)
        rc = sl_buf_append_str(out, "data: ");
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, text);
    if (rc == SL_OK && event)
        rc = sl_buf_append_str(out, "\r\n\r\n");
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}

static cJSON *
new_response(cJSON **candidates)
{
    cJSON *root = cJSON_CreateObject();

    *candidates = cJSON_AddArrayToObject(root, "candidates");
    return root;
}

/* Adds modelVersion and responseId, which follow usageMetadata in recorded responses. */
static void
add_trailer(cJSON *root, uint64_t seq, const struct sl_mock_chat *chat)
{
    char id[48];

    snprintf(id, sizeof(id), "mock-%" PRIu64, seq);
    cJSON_AddStringToObject(root, "modelVersion", chat->model);
    cJSON_AddStringToObject(root, "responseId", id);
}

enum sl_status
sl_mock_gemini_response_json(struct sl_buf *out, uint64_t seq, const struct sl_mock_chat *chat,
                             const struct sl_mock_script *script,
                             const struct sl_mock_content *content, const char *usage_json)
{
    struct sl_buf text;
    cJSON *candidates;
    cJSON *root = new_response(&candidates);
    const char *finish = script->finish_reason != NULL ? finish_name(script->finish_reason) : NULL;
    enum sl_status rc = SL_OK;

    sl_buf_init(&text, SL_MOCK_MAX_FILLER_BODY);
    for (int64_t k = 0; k < content->pieces && rc == SL_OK; k++) {
        const char *piece;
        size_t len;

        sl_mock_content_piece(content, k, &piece, &len);
        rc = sl_buf_append(&text, piece, len);
    }
    if (rc != SL_OK) {
        sl_buf_dispose(&text);
        cJSON_Delete(root);
        return rc;
    }
    for (int i = 0; i < chat->n; i++)
        cJSON_AddItemToArray(candidates,
                             candidate(i, text.data != NULL ? text.data : "", text.len, finish));
    sl_buf_dispose(&text);
    cJSON_AddItemToObject(root, "usageMetadata",
                          usage_metadata(usage_json, chat->prompt_tokens, 1));
    add_trailer(root, seq, chat);
    return emit(out, root, 0);
}

enum sl_status
sl_mock_gemini_stream_text(struct sl_buf *out, uint64_t seq, const struct sl_mock_chat *chat,
                           const char *piece, size_t len)
{
    cJSON *candidates;
    cJSON *root = new_response(&candidates);

    for (int i = 0; i < chat->n; i++)
        cJSON_AddItemToArray(candidates, candidate(i, piece, len, NULL));
    cJSON_AddItemToObject(root, "usageMetadata", usage_metadata(NULL, chat->prompt_tokens, 0));
    add_trailer(root, seq, chat);
    return emit(out, root, 1);
}

enum sl_status
sl_mock_gemini_stream_tail(struct sl_buf *out, uint64_t seq, const struct sl_mock_chat *chat,
                           const struct sl_mock_script *script, const char *usage_json)
{
    cJSON *candidates;
    cJSON *root;

    if (script->finish_reason == NULL)
        return SL_OK;
    root = new_response(&candidates);
    for (int i = 0; i < chat->n; i++)
        cJSON_AddItemToArray(candidates, candidate(i, "", 0, finish_name(script->finish_reason)));
    cJSON_AddItemToObject(root, "usageMetadata",
                          usage_metadata(usage_json, chat->prompt_tokens, 1));
    add_trailer(root, seq, chat);
    return emit(out, root, 1);
}

/* Returns the google.rpc.Code name Google sends with an HTTP status. */
static const char *
status_name(int status)
{
    switch (status) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 499:
        return "CANCELLED";
    case 501:
        return "UNIMPLEMENTED";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

enum sl_status
sl_mock_gemini_error_json(struct sl_buf *out, int status, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *error = cJSON_AddObjectToObject(root, "error");

    cJSON_AddNumberToObject(error, "code", status);
    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(error, "status", status_name(status));
    return emit(out, root, 0);
}

enum sl_status
sl_mock_gemini_error_event(struct sl_buf *out)
{
    return sl_buf_append_str(out, "data: {\"error\":{\"code\":500,\"message\":\"mock in-band "
                                  "error\",\"status\":\"INTERNAL\"}}\r\n\r\n");
}

/* Builds the OpenAI embeddings request that stands for a batchEmbedContents body. */
static enum sl_status
embed_as_openai(const char *body, size_t len, const char *model, cJSON **out, struct sl_errbuf *err)
{
    cJSON *root = NULL;
    const cJSON *requests;
    const cJSON *r;
    cJSON *openai;
    cJSON *input;
    double dimensions = 0;

    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, err) != SL_OK)
        return SL_ERR_INVALID;
    requests = cJSON_GetObjectItemCaseSensitive(root, "requests");
    if (!cJSON_IsArray(requests) || cJSON_GetArraySize(requests) == 0) {
        cJSON_Delete(root);
        sl_errbuf_set(err, "* BatchEmbedContentsRequest.requests: requests is not specified");
        return SL_ERR_INVALID;
    }
    openai = cJSON_CreateObject();
    cJSON_AddStringToObject(openai, "model", model);
    input = cJSON_AddArrayToObject(openai, "input");
    cJSON_ArrayForEach(r, requests)
    {
        const cJSON *parts = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(r, "content"), "parts");
        const cJSON *dims = cJSON_GetObjectItemCaseSensitive(r, "outputDimensionality");
        struct sl_buf text;
        const cJSON *part;

        if (!cJSON_IsArray(parts)) {
            cJSON_Delete(openai);
            cJSON_Delete(root);
            sl_errbuf_set(err, "* BatchEmbedContentsRequest.requests: content.parts is missing");
            return SL_ERR_INVALID;
        }
        sl_buf_init(&text, 0);
        cJSON_ArrayForEach(part, parts)
        {
            const char *t = sl_json_get_string(part, "text");

            if (t != NULL)
                (void)sl_buf_append_str(&text, t);
        }
        cJSON_AddItemToArray(input, cJSON_CreateString(text.data != NULL ? text.data : ""));
        sl_buf_dispose(&text);
        if (cJSON_IsNumber(dims))
            dimensions = dims->valuedouble;
    }
    if (dimensions > 0)
        cJSON_AddNumberToObject(openai, "dimensions", dimensions);
    cJSON_Delete(root);
    *out = openai;
    return SL_OK;
}

enum sl_status
sl_mock_gemini_embed_json(const char *body, size_t len, const char *model, struct sl_buf *out,
                          struct sl_errbuf *err)
{
    struct sl_mock_embedding_request req;
    struct sl_buf reply;
    cJSON *openai = NULL;
    cJSON *parsed = NULL;
    cJSON *root;
    cJSON *embeddings;
    const cJSON *item;
    const char *param;
    char *text;
    enum sl_status rc = embed_as_openai(body, len, model, &openai, err);

    if (rc != SL_OK)
        return rc;
    text = cJSON_PrintUnformatted(openai);
    cJSON_Delete(openai);
    rc = sl_mock_embeddings_parse(text, strlen(text), &req, &param, err);
    cJSON_free(text);
    if (rc != SL_OK)
        return rc;
    sl_buf_init(&reply, 0);
    rc = sl_mock_embeddings_json(&reply, &req, NULL);
    sl_mock_embeddings_dispose(&req);
    if (rc == SL_OK)
        parsed = cJSON_ParseWithLength(reply.data, reply.len);
    sl_buf_dispose(&reply);
    if (parsed == NULL) {
        sl_errbuf_set(err, "sluice-mock could not build the embeddings");
        return SL_ERR_INVALID;
    }
    root = cJSON_CreateObject();
    embeddings = cJSON_AddArrayToObject(root, "embeddings");
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(parsed, "data"))
    {
        cJSON *e = cJSON_CreateObject();

        cJSON_AddItemToObject(
            e, "values", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(item, "embedding"), 1));
        cJSON_AddItemToArray(embeddings, e);
    }
    cJSON_Delete(parsed);
    return emit(out, root, 0);
}
