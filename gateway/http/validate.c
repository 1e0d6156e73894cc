/* SPDX-License-Identifier: Apache-2.0 */
/* validate -- request body checks per route; see validate.h. Messages follow OpenAI's wording. */
#include "gateway/http/validate.h"

#include <math.h>
#include <string.h>

#include "common/json.h"

enum field_kind {
    KIND_BOOL,
    KIND_NUMBER,
    KIND_INTEGER,
    KIND_STRING,
    KIND_OBJECT,
    KIND_ARRAY,
    KIND_STRING_OR_ARRAY,
    KIND_STRING_OR_OBJECT,
};

struct field_rule {
    const char *name;
    enum field_kind kind;
};

/* Optional fields whose type is checked; null is accepted for each, as OpenAI does. */
static const struct field_rule rules[] = {
    {"stream", KIND_BOOL},
    {"temperature", KIND_NUMBER},
    {"top_p", KIND_NUMBER},
    {"presence_penalty", KIND_NUMBER},
    {"frequency_penalty", KIND_NUMBER},
    {"max_tokens", KIND_INTEGER},
    {"max_completion_tokens", KIND_INTEGER},
    {"n", KIND_INTEGER},
    {"seed", KIND_INTEGER},
    {"top_logprobs", KIND_INTEGER},
    {"logprobs", KIND_BOOL},
    {"parallel_tool_calls", KIND_BOOL},
    {"user", KIND_STRING},
    {"stream_options", KIND_OBJECT},
    {"response_format", KIND_OBJECT},
    {"logit_bias", KIND_OBJECT},
    {"metadata", KIND_OBJECT},
    {"tools", KIND_ARRAY},
    {"functions", KIND_ARRAY},
    {"stop", KIND_STRING_OR_ARRAY},
    {"tool_choice", KIND_STRING_OR_OBJECT},
    {"function_call", KIND_STRING_OR_OBJECT},
};

const char *
sl_validate_type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

static int
kind_matches(const cJSON *v, enum field_kind kind)
{
    switch (kind) {
    case KIND_BOOL:
        return cJSON_IsBool(v);
    case KIND_NUMBER:
        return cJSON_IsNumber(v) && isfinite(v->valuedouble);
    case KIND_INTEGER:
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               v->valuedouble == floor(v->valuedouble);
    case KIND_STRING:
        return cJSON_IsString(v);
    case KIND_OBJECT:
        return cJSON_IsObject(v);
    case KIND_ARRAY:
        return cJSON_IsArray(v);
    case KIND_STRING_OR_ARRAY:
        return cJSON_IsString(v) || cJSON_IsArray(v);
    case KIND_STRING_OR_OBJECT:
        return cJSON_IsString(v) || cJSON_IsObject(v);
    }
    return 0;
}

static const char *
kind_name(enum field_kind kind)
{
    switch (kind) {
    case KIND_BOOL:
        return "a boolean";
    case KIND_NUMBER:
        return "a number";
    case KIND_INTEGER:
        return "an integer";
    case KIND_STRING:
        return "a string";
    case KIND_OBJECT:
        return "an object";
    case KIND_ARRAY:
        return "an array";
    case KIND_STRING_OR_ARRAY:
        return "a string or an array";
    case KIND_STRING_OR_OBJECT:
        return "a string or an object";
    }
    return "a value";
}

static enum sl_status
check_messages(const cJSON *messages, const char **param, struct sl_errbuf *err)
{
    const cJSON *m;
    int i = 0;

    *param = "messages";
    if (messages == NULL) {
        sl_errbuf_set(err, "Missing required parameter: 'messages'.");
        return SL_ERR_INVALID;
    }
    if (!cJSON_IsArray(messages)) {
        sl_errbuf_set(err, "Invalid type for 'messages': expected an array, but got %s instead.",
                      sl_validate_type_name(messages));
        return SL_ERR_INVALID;
    }
    if (cJSON_GetArraySize(messages) == 0) {
        sl_errbuf_set(err, "Invalid 'messages': empty array. Expected an array with minimum "
                           "length 1, but got an empty array instead.");
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (!cJSON_IsObject(m)) {
            sl_errbuf_set(err, "Invalid type for 'messages[%d]': expected an object, but got %s "
                               "instead.", i, sl_validate_type_name(m));
            return SL_ERR_INVALID;
        }
        if (!cJSON_IsString(role)) {
            sl_errbuf_set(err, "Missing or invalid 'messages[%d].role': expected a string.", i);
            return SL_ERR_INVALID;
        }
        i++;
    }
    return SL_OK;
}

enum sl_validate_fault
sl_validate_envelope(const cJSON *body, int max_members, const char **dup)
{
    const cJSON *model;

    *dup = NULL;
    if (!cJSON_IsObject(body))
        return SL_VALIDATE_NOT_OBJECT;
    if (cJSON_GetArraySize(body) > max_members)
        return SL_VALIDATE_TOO_MANY_MEMBERS;

    /* Parsers disagree on which duplicate wins, so a duplicate could slip past later checks. */
    *dup = sl_json_duplicate_key(body);
    if (*dup != NULL)
        return SL_VALIDATE_DUPLICATE_KEY;

    model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model == NULL)
        return SL_VALIDATE_MODEL_MISSING;
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0')
        return SL_VALIDATE_MODEL_INVALID;
    return SL_VALIDATE_OK;
}

/* Runs sl_validate_envelope() and sets the error message OpenAI sends for the fault. */
static enum sl_status
check_envelope(const cJSON *body, const char **param, struct sl_errbuf *err)
{
    const cJSON *model;
    const char *dup;

    *param = NULL;
    switch (sl_validate_envelope(body, SL_VALIDATE_MAX_MEMBERS, &dup)) {
    case SL_VALIDATE_OK:
        return SL_OK;
    case SL_VALIDATE_NOT_OBJECT:
        sl_errbuf_set(err, "The request body must be a JSON object, but got %s.",
                      sl_validate_type_name(body));
        return SL_ERR_INVALID;
    case SL_VALIDATE_TOO_MANY_MEMBERS:
        sl_errbuf_set(err, "The request body has more than %d top-level fields.",
                      SL_VALIDATE_MAX_MEMBERS);
        return SL_ERR_INVALID;
    case SL_VALIDATE_DUPLICATE_KEY:
        *param = dup;
        sl_errbuf_set(err, "Duplicate field '%s' in the request body.", dup);
        return SL_ERR_INVALID;
    case SL_VALIDATE_MODEL_MISSING:
        *param = "model";
        sl_errbuf_set(err, "Missing required parameter: 'model'.");
        return SL_ERR_INVALID;
    case SL_VALIDATE_MODEL_INVALID:
        break;
    }
    model = cJSON_GetObjectItemCaseSensitive(body, "model");
    *param = "model";
    sl_errbuf_set(err, "Invalid type for 'model': expected a non-empty string, but got %s "
                       "instead.",
                  cJSON_IsString(model) ? "an empty string" : sl_validate_type_name(model));
    return SL_ERR_INVALID;
}

enum sl_status
sl_validate_chat(const cJSON *body, const char **param, struct sl_errbuf *err)
{
    enum sl_status rc;

    rc = check_envelope(body, param, err);
    if (rc != SL_OK)
        return rc;

    rc = check_messages(cJSON_GetObjectItemCaseSensitive(body, "messages"), param, err);
    if (rc != SL_OK)
        return rc;

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, rules[i].name);

        if (v == NULL || cJSON_IsNull(v) || kind_matches(v, rules[i].kind))
            continue;
        *param = rules[i].name;
        sl_errbuf_set(err, "Invalid type for '%s': expected %s, but got %s instead.",
                      rules[i].name, kind_name(rules[i].kind), sl_validate_type_name(v));
        return SL_ERR_INVALID;
    }

    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");
    if (cJSON_IsNumber(n) && (n->valuedouble < 1 || n->valuedouble > SL_VALIDATE_MAX_CHOICES)) {
        *param = "n";
        sl_errbuf_set(err, "Invalid 'n': %g is out of range; expected 1 to %d.", n->valuedouble,
                      SL_VALIDATE_MAX_CHOICES);
        return SL_ERR_INVALID;
    }
    *param = NULL;
    return SL_OK;
}

/* ---------------------------------------------------------------- embeddings, completions */

/* Optional fields of a text completions request; null is accepted for each. */
static const struct field_rule completion_rules[] = {
    {"stream", KIND_BOOL},
    {"echo", KIND_BOOL},
    {"temperature", KIND_NUMBER},
    {"top_p", KIND_NUMBER},
    {"presence_penalty", KIND_NUMBER},
    {"frequency_penalty", KIND_NUMBER},
    {"max_tokens", KIND_INTEGER},
    {"n", KIND_INTEGER},
    {"best_of", KIND_INTEGER},
    {"logprobs", KIND_INTEGER},
    {"seed", KIND_INTEGER},
    {"suffix", KIND_STRING},
    {"user", KIND_STRING},
    {"stream_options", KIND_OBJECT},
    {"logit_bias", KIND_OBJECT},
    {"metadata", KIND_OBJECT},
    {"stop", KIND_STRING_OR_ARRAY},
};

/* Optional fields of an embeddings request; null is accepted for each. */
static const struct field_rule embedding_rules[] = {
    {"stream", KIND_BOOL},
    {"encoding_format", KIND_STRING},
    {"dimensions", KIND_INTEGER},
    {"user", KIND_STRING},
    {"metadata", KIND_OBJECT},
};

/* The largest token id accepted in an `input` or `prompt` token array. */
#define MAX_TOKEN_ID 2147483647.0
/* The upper bound of `dimensions` and `logprobs`. Their real limits depend on the model, so
 * they are left to the provider. */
#define MAX_INT32_PARAM 2147483647.0

/* What the elements of an `input` or `prompt` array are; the first element decides. */
enum input_shape {
    SHAPE_STRINGS,
    SHAPE_TOKENS,
    SHAPE_TOKEN_ARRAYS,
};

static enum sl_status
check_rules(const cJSON *body, const struct field_rule *table, size_t count, const char **param,
            struct sl_errbuf *err)
{
    for (size_t i = 0; i < count; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, table[i].name);

        if (v == NULL || cJSON_IsNull(v) || kind_matches(v, table[i].kind))
            continue;
        *param = table[i].name;
        sl_errbuf_set(err, "Invalid type for '%s': expected %s, but got %s instead.",
                      table[i].name, kind_name(table[i].kind), sl_validate_type_name(v));
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

/* Checks that the integer field `name`, when present, lies in [min, max]. */
static enum sl_status
check_range(const cJSON *body, const char *name, double min, double max, const char **param,
            struct sl_errbuf *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (!cJSON_IsNumber(v) || (v->valuedouble >= min && v->valuedouble <= max))
        return SL_OK;
    *param = name;
    sl_errbuf_set(err, "Invalid '%s': %g is out of range; expected %.0f to %.0f.", name,
                  v->valuedouble, min, max);
    return SL_ERR_INVALID;
}

static int
is_token_id(const cJSON *v)
{
    return kind_matches(v, KIND_INTEGER) && v->valuedouble >= 0 &&
           v->valuedouble <= MAX_TOKEN_ID;
}

/* Checks element `i` of an `input`/`prompt` array against the shape of element 0. */
static enum sl_status
check_input_element(const char *name, int i, const cJSON *v, enum input_shape shape,
                    int allow_empty_string, struct sl_errbuf *err)
{
    static const char *const expected[] = {
        [SHAPE_STRINGS] = "a string",
        [SHAPE_TOKENS] = "a token id (an integer from 0 to 2147483647)",
        [SHAPE_TOKEN_ARRAYS] = "an array of token ids",
    };
    const cJSON *token;
    int j = 0;

    switch (shape) {
    case SHAPE_STRINGS:
        if (!cJSON_IsString(v))
            break;
        if (!allow_empty_string && v->valuestring[0] == '\0') {
            sl_errbuf_set(err, "Invalid '%s[%d]': empty string. Expected a non-empty string.",
                          name, i);
            return SL_ERR_INVALID;
        }
        return SL_OK;
    case SHAPE_TOKENS:
        if (is_token_id(v))
            return SL_OK;
        break;
    case SHAPE_TOKEN_ARRAYS:
        if (!cJSON_IsArray(v))
            break;
        if (cJSON_GetArraySize(v) == 0) {
            sl_errbuf_set(err, "Invalid '%s[%d]': empty array. Expected at least one token id.",
                          name, i);
            return SL_ERR_INVALID;
        }
        cJSON_ArrayForEach(token, v)
        {
            if (!is_token_id(token)) {
                sl_errbuf_set(err, "Invalid '%s[%d][%d]': expected %s, but got %s instead.",
                              name, i, j, expected[SHAPE_TOKENS], sl_validate_type_name(token));
                return SL_ERR_INVALID;
            }
            j++;
        }
        return SL_OK;
    }
    sl_errbuf_set(err, "Invalid '%s[%d]': expected %s like '%s[0]', but got %s instead.", name, i,
                  expected[shape], name, sl_validate_type_name(v));
    return SL_ERR_INVALID;
}

/*
 * Checks the required `input` (embeddings) or `prompt` (completions) member `name`: a string,
 * or a non-empty array whose elements all have the shape of the first one.
 */
static enum sl_status
check_input(const cJSON *body, const char *name, int allow_empty_string, const char **param,
            struct sl_errbuf *err)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, name);
    const cJSON *first;
    const cJSON *v;
    enum input_shape shape;
    int i = 0;

    *param = name;
    if (input == NULL) {
        sl_errbuf_set(err, "Missing required parameter: '%s'.", name);
        return SL_ERR_INVALID;
    }
    if (cJSON_IsString(input)) {
        if (!allow_empty_string && input->valuestring[0] == '\0') {
            sl_errbuf_set(err, "Invalid '%s': empty string. Expected a non-empty string.", name);
            return SL_ERR_INVALID;
        }
        return SL_OK;
    }
    if (!cJSON_IsArray(input)) {
        sl_errbuf_set(err, "Invalid type for '%s': expected a string or an array, but got %s "
                           "instead.", name, sl_validate_type_name(input));
        return SL_ERR_INVALID;
    }
    if (cJSON_GetArraySize(input) == 0) {
        sl_errbuf_set(err, "Invalid '%s': empty array. Expected an array with minimum length 1, "
                           "but got an empty array instead.", name);
        return SL_ERR_INVALID;
    }
    if (cJSON_GetArraySize(input) > SL_VALIDATE_MAX_INPUTS) {
        sl_errbuf_set(err, "Invalid '%s': %d elements; at most %d are accepted per request.",
                      name, cJSON_GetArraySize(input), SL_VALIDATE_MAX_INPUTS);
        return SL_ERR_INVALID;
    }

    first = input->child;
    if (cJSON_IsString(first)) {
        shape = SHAPE_STRINGS;
    } else if (cJSON_IsNumber(first)) {
        shape = SHAPE_TOKENS;
    } else if (cJSON_IsArray(first)) {
        shape = SHAPE_TOKEN_ARRAYS;
    } else {
        sl_errbuf_set(err, "Invalid '%s[0]': expected a string, a token id or an array of token "
                           "ids, but got %s instead.", name, sl_validate_type_name(first));
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(v, input)
    {
        enum sl_status rc = check_input_element(name, i, v, shape, allow_empty_string, err);

        if (rc != SL_OK)
            return rc;
        i++;
    }
    *param = NULL;
    return SL_OK;
}

enum sl_status
sl_validate_embeddings(const cJSON *body, const char **param, struct sl_errbuf *err)
{
    const cJSON *format;
    enum sl_status rc;

    rc = check_envelope(body, param, err);
    if (rc == SL_OK)
        rc = check_input(body, "input", 0, param, err);
    if (rc == SL_OK)
        rc = check_rules(body, embedding_rules, sizeof(embedding_rules) / sizeof(embedding_rules[0]),
                         param, err);
    if (rc != SL_OK)
        return rc;

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"))) {
        *param = "stream";
        sl_errbuf_set(err, "Invalid 'stream': embeddings cannot be streamed. Set 'stream' to "
                           "false or leave it out.");
        return SL_ERR_INVALID;
    }
    format = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");
    if (cJSON_IsString(format) && strcmp(format->valuestring, "float") != 0 &&
        strcmp(format->valuestring, "base64") != 0) {
        *param = "encoding_format";
        sl_errbuf_set(err, "Invalid value for 'encoding_format': expected 'float' or 'base64', "
                           "but got '%.64s'.", format->valuestring);
        return SL_ERR_INVALID;
    }
    rc = check_range(body, "dimensions", 1, MAX_INT32_PARAM, param, err);
    if (rc == SL_OK)
        *param = NULL;
    return rc;
}

enum sl_status
sl_validate_completions(const cJSON *body, const char **param, struct sl_errbuf *err)
{
    const cJSON *n;
    const cJSON *best_of;
    enum sl_status rc;

    rc = check_envelope(body, param, err);
    if (rc == SL_OK)
        rc = check_input(body, "prompt", 1, param, err);
    if (rc == SL_OK)
        rc = check_rules(body, completion_rules,
                         sizeof(completion_rules) / sizeof(completion_rules[0]), param, err);
    if (rc == SL_OK)
        rc = check_range(body, "n", 1, SL_VALIDATE_MAX_CHOICES, param, err);
    if (rc == SL_OK)
        rc = check_range(body, "best_of", 1, SL_VALIDATE_MAX_CHOICES, param, err);
    if (rc == SL_OK)
        rc = check_range(body, "logprobs", 0, MAX_INT32_PARAM, param, err);
    if (rc != SL_OK)
        return rc;

    /* The provider generates best_of candidates and returns the n best of them. */
    n = cJSON_GetObjectItemCaseSensitive(body, "n");
    best_of = cJSON_GetObjectItemCaseSensitive(body, "best_of");
    if (cJSON_IsNumber(n) && cJSON_IsNumber(best_of) && best_of->valuedouble < n->valuedouble) {
        *param = "best_of";
        sl_errbuf_set(err, "Invalid 'best_of': %g is less than n (%g); best_of must be at least "
                           "n.", best_of->valuedouble, n->valuedouble);
        return SL_ERR_INVALID;
    }
    *param = NULL;
    return SL_OK;
}
