/* SPDX-License-Identifier: Apache-2.0 */
/*
 * embeddings -- request parsing and deterministic vectors for POST /v1/embeddings.
 *
 * Reply shape, as OpenAI sends it: {"object":"list","data":[{"object":"embedding","index":i,
 * "embedding":[...] or "<base64>"}],"model":...,"usage":{"prompt_tokens":P,"total_tokens":P}}.
 */
#include "bench/mock/embeddings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/json.h"
#include "common/xalloc.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* SplitMix64's output function: spreads consecutive seeds over the whole 64-bit range. */
static uint64_t
mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Returns the hash of one input: a string's bytes, or the decimal token ids. */
static uint64_t
hash_input(const cJSON *input)
{
    const cJSON *token;
    uint64_t h = FNV_OFFSET;

    if (cJSON_IsString(input))
        return fnv1a(h, input->valuestring, strlen(input->valuestring));
    h = fnv1a(h, "tokens:", 7);
    cJSON_ArrayForEach(token, input)
    {
        char digits[32];
        int n = snprintf(digits, sizeof(digits), "%.0f,", token->valuedouble);

        h = fnv1a(h, digits, (size_t)n);
    }
    return h;
}

/* Fills `v` with `dims` values in [-1, 1) from `seed`, scaled to unit length. */
static void
make_vector(uint64_t seed, float *v, int dims)
{
    double norm = 0;

    for (int k = 0; k < dims; k++) {
        uint64_t x = mix64(seed + (uint64_t)k * 0x9e3779b97f4a7c15ull);
        double value = (double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0;

        v[k] = (float)value;
        norm += value * value;
    }
    norm = sqrt(norm);
    for (int k = 0; k < dims && norm > 0; k++)
        v[k] = (float)(v[k] / norm);
}

/* Returns the i-th input: the string or token array itself for a single input. */
static const cJSON *
input_at(const struct sl_mock_embedding_request *req, int i)
{
    if (cJSON_IsString(req->input) || cJSON_IsNumber(req->input->child))
        return req->input;
    return cJSON_GetArrayItem(req->input, i);
}

static int
is_token(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble);
}

/* Checks the shape of `input` and counts its vectors and prompt tokens. */
static enum sl_status
check_input(struct sl_mock_embedding_request *req, struct sl_errbuf *err)
{
    const cJSON *input = req->input;
    const cJSON *item;
    const cJSON *token;
    size_t bytes = 0;
    int64_t tokens = 0;

    if (cJSON_IsString(input)) {
        req->inputs = 1;
        req->prompt_tokens = (int64_t)((strlen(input->valuestring) + 3) / 4);
        return SL_OK;
    }
    if (!cJSON_IsArray(input) || input->child == NULL) {
        sl_errbuf_set(err, "input must be a string or a non-empty array");
        return SL_ERR_INVALID;
    }
    if (cJSON_GetArraySize(input) > SL_MOCK_EMBEDDING_MAX_INPUTS) {
        sl_errbuf_set(err, "input has more than %d elements", SL_MOCK_EMBEDDING_MAX_INPUTS);
        return SL_ERR_INVALID;
    }
    req->inputs = cJSON_IsNumber(input->child) ? 1 : cJSON_GetArraySize(input);
    cJSON_ArrayForEach(item, input)
    {
        if (cJSON_IsString(input->child) && cJSON_IsString(item)) {
            bytes += strlen(item->valuestring);
            continue;
        }
        if (cJSON_IsNumber(input->child) && is_token(item)) {
            tokens++;
            continue;
        }
        if (!cJSON_IsArray(input->child) || !cJSON_IsArray(item) || item->child == NULL) {
            sl_errbuf_set(err, "input must be a string, or an array of strings, of token ids or "
                               "of non-empty token id arrays");
            return SL_ERR_INVALID;
        }
        cJSON_ArrayForEach(token, item)
        {
            if (!is_token(token)) {
                sl_errbuf_set(err, "token ids must be integers of at least 0");
                return SL_ERR_INVALID;
            }
            tokens++;
        }
    }
    req->prompt_tokens = tokens + (int64_t)((bytes + 3) / 4);
    return SL_OK;
}

static enum sl_status
parse_options(struct sl_mock_embedding_request *req, const char **param, struct sl_errbuf *err)
{
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(req->root, "dimensions");
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(req->root, "encoding_format");

    req->dimensions = SL_MOCK_EMBEDDING_DEFAULT_DIMENSIONS;
    if (dims != NULL && !cJSON_IsNull(dims)) {
        if (!cJSON_IsNumber(dims) || dims->valuedouble < 1 ||
            dims->valuedouble > SL_MOCK_EMBEDDING_MAX_DIMENSIONS ||
            dims->valuedouble != floor(dims->valuedouble)) {
            *param = "dimensions";
            sl_errbuf_set(err, "dimensions must be an integer from 1 to %d",
                          SL_MOCK_EMBEDDING_MAX_DIMENSIONS);
            return SL_ERR_INVALID;
        }
        req->dimensions = (int)dims->valuedouble;
    }
    if (format != NULL && !cJSON_IsNull(format)) {
        if (!cJSON_IsString(format) || (strcmp(format->valuestring, "float") != 0 &&
                                        strcmp(format->valuestring, "base64") != 0)) {
            *param = "encoding_format";
            sl_errbuf_set(err, "encoding_format must be \"float\" or \"base64\"");
            return SL_ERR_INVALID;
        }
        req->base64 = strcmp(format->valuestring, "base64") == 0;
    }
    if ((uint64_t)req->inputs * (uint64_t)req->dimensions > SL_MOCK_EMBEDDING_MAX_VALUES) {
        *param = "dimensions";
        sl_errbuf_set(err, "inputs times dimensions must be at most %u",
                      SL_MOCK_EMBEDDING_MAX_VALUES);
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

enum sl_status
sl_mock_embeddings_parse(const char *body, size_t len, struct sl_mock_embedding_request *req,
                         const char **param, struct sl_errbuf *err)
{
    enum sl_status rc;

    memset(req, 0, sizeof(*req));
    *param = NULL;
    if (sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &req->root, err) != SL_OK) {
        sl_errbuf_set(err, "the request body is not valid JSON");
        return SL_ERR_INVALID;
    }
    rc = SL_ERR_INVALID;
    if (!cJSON_IsObject(req->root)) {
        sl_errbuf_set(err, "the request body must be a JSON object");
        goto fail;
    }
    req->model = sl_json_get_string(req->root, "model");
    if (req->model == NULL) {
        *param = "model";
        sl_errbuf_set(err, "you must provide a model parameter");
        goto fail;
    }
    req->input = cJSON_GetObjectItemCaseSensitive(req->root, "input");
    *param = "input";
    if (req->input == NULL) {
        sl_errbuf_set(err, "missing required parameter: 'input'");
        goto fail;
    }
    rc = check_input(req, err);
    if (rc != SL_OK)
        goto fail;
    *param = NULL;
    rc = parse_options(req, param, err);
    if (rc != SL_OK)
        goto fail;
    return SL_OK;
fail:
    sl_mock_embeddings_dispose(req);
    return rc;
}

void
sl_mock_embeddings_dispose(struct sl_mock_embedding_request *req)
{
    cJSON_Delete(req->root);
    memset(req, 0, sizeof(*req));
}

/* Appends the vector as a JSON array of numbers that read back to the same float32 values. */
static enum sl_status
append_floats(struct sl_buf *out, const float *v, int dims)
{
    enum sl_status rc = sl_buf_append(out, "[", 1);

    for (int k = 0; k < dims && rc == SL_OK; k++)
        rc = sl_buf_printf(out, "%s%.9g", k > 0 ? "," : "", (double)v[k]);
    if (rc == SL_OK)
        rc = sl_buf_append(out, "]", 1);
    return rc;
}

/* Appends the vector as a JSON string: base64 of the little-endian float32 values. */
static enum sl_status
append_base64(struct sl_buf *out, const float *v, int dims)
{
    size_t raw_len = (size_t)dims * 4;
    unsigned char *raw = sl_xmalloc(raw_len);
    unsigned char *text = sl_xmalloc(4 * ((raw_len + 2) / 3) + 1);
    enum sl_status rc;
    int text_len;

    for (int k = 0; k < dims; k++) {
        uint32_t bits;

        memcpy(&bits, &v[k], sizeof(bits));
        for (int b = 0; b < 4; b++)
            raw[(size_t)k * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b));
    }
    text_len = EVP_EncodeBlock(text, raw, (int)raw_len);
    rc = sl_buf_append(out, "\"", 1);
    if (rc == SL_OK)
        rc = sl_buf_append(out, text, (size_t)text_len);
    if (rc == SL_OK)
        rc = sl_buf_append(out, "\"", 1);
    free(raw);
    free(text);
    return rc;
}

/* Returns the usage object as JSON (caller frees): the defaults, then the overrides. */
static char *
usage_json(const cJSON *overrides, int64_t prompt_tokens)
{
    cJSON *u = cJSON_CreateObject();
    const cJSON *item;
    const cJSON *prompt;
    char *text;

    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)prompt_tokens);
    cJSON_ArrayForEach(item, overrides)
    {
        cJSON *copy = cJSON_Duplicate(item, 1);

        if (cJSON_HasObjectItem(u, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive(u, item->string, copy);
        else
            cJSON_AddItemToObject(u, item->string, copy);
    }
    prompt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    if (overrides != NULL && !cJSON_HasObjectItem(overrides, "total_tokens") &&
        cJSON_IsNumber(prompt))
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "total_tokens"),
                             prompt->valuedouble);
    text = sl_json_print(u);
    cJSON_Delete(u);
    return text;
}

enum sl_status
sl_mock_embeddings_json(struct sl_buf *out, const struct sl_mock_embedding_request *req,
                        const cJSON *usage)
{
    float *v = sl_xcalloc((size_t)req->dimensions, sizeof(*v));
    char *usage_text = usage_json(usage, req->prompt_tokens);
    enum sl_status rc = sl_buf_append_str(out, "{\"object\":\"list\",\"data\":[");

    for (int i = 0; i < req->inputs && rc == SL_OK; i++) {
        make_vector(hash_input(input_at(req, i)), v, req->dimensions);
        rc = sl_buf_printf(
            out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i > 0 ? "," : "", i);
        if (rc == SL_OK)
            rc = req->base64 ? append_base64(out, v, req->dimensions)
                             : append_floats(out, v, req->dimensions);
        if (rc == SL_OK)
            rc = sl_buf_append(out, "}", 1);
    }
    if (rc == SL_OK)
        rc = sl_buf_append_str(out, "],\"model\":");
    if (rc == SL_OK)
        rc = sl_json_append_string(out, req->model, strlen(req->model));
    if (rc == SL_OK)
        rc = sl_buf_printf(out, ",\"usage\":%s}", usage_text);
    free(usage_text);
    free(v);
    return rc;
}
