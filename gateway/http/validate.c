/* SPDX-License-Identifier: Apache-2.0 */
/* validate -- chat request checks; see validate.h. Messages follow OpenAI's own wording. */
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

static const char *
type_name(const cJSON *v)
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
                      type_name(messages));
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
                               "instead.", i, type_name(m));
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

enum sl_status
sl_validate_chat(const cJSON *body, const char **param, struct sl_errbuf *err)
{
    const cJSON *model;
    const char *dup;
    enum sl_status rc;

    *param = NULL;
    if (!cJSON_IsObject(body)) {
        sl_errbuf_set(err, "The request body must be a JSON object, but got %s.", type_name(body));
        return SL_ERR_INVALID;
    }
    if (cJSON_GetArraySize(body) > SL_VALIDATE_MAX_MEMBERS) {
        sl_errbuf_set(err, "The request body has more than %d top-level fields.",
                      SL_VALIDATE_MAX_MEMBERS);
        return SL_ERR_INVALID;
    }

    /* Parsers disagree on which duplicate wins, so a duplicate could slip past our checks. */
    dup = sl_json_duplicate_key(body);
    if (dup != NULL) {
        *param = dup;
        sl_errbuf_set(err, "Duplicate field '%s' in the request body.", dup);
        return SL_ERR_INVALID;
    }

    model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model == NULL) {
        *param = "model";
        sl_errbuf_set(err, "Missing required parameter: 'model'.");
        return SL_ERR_INVALID;
    }
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        *param = "model";
        sl_errbuf_set(err, "Invalid type for 'model': expected a non-empty string, but got %s "
                           "instead.", cJSON_IsString(model) ? "an empty string" : type_name(model));
        return SL_ERR_INVALID;
    }

    rc = check_messages(cJSON_GetObjectItemCaseSensitive(body, "messages"), param, err);
    if (rc != SL_OK)
        return rc;

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, rules[i].name);

        if (v == NULL || cJSON_IsNull(v) || kind_matches(v, rules[i].kind))
            continue;
        *param = rules[i].name;
        sl_errbuf_set(err, "Invalid type for '%s': expected %s, but got %s instead.",
                      rules[i].name, kind_name(rules[i].kind), type_name(v));
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
