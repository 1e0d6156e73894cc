/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_kinds_fuzz -- libFuzzer target for sl_validate_embeddings and
 * sl_validate_completions (gateway/http/validate.c).
 *
 * The input is a client body. Both validators must return SL_OK or SL_ERR_INVALID, with a
 * message on failure and no param on success. A body they accept must have what the gateway
 * relies on next: a non-empty model string and an `input`/`prompt` of an accepted shape,
 * checked here by an independent reference check. Any mismatch aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "gateway/http/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "validate_kinds_fuzz: %s\n", what);
        abort();
    }
}

static int
is_token_id(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 &&
           v->valuedouble <= 2147483647.0 && v->valuedouble == floor(v->valuedouble);
}

static int
is_token_array(const cJSON *v)
{
    const cJSON *t;

    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return 0;
    cJSON_ArrayForEach(t, v)
    {
        if (!is_token_id(t))
            return 0;
    }
    return 1;
}

/* The reference check of `input`/`prompt`: one string, or a non-empty array whose elements are
 * all strings, all token ids, or all non-empty token id arrays. */
static int
input_shape_ok(const cJSON *v, int allow_empty_string)
{
    const cJSON *e;
    int strings = 1;
    int tokens = 1;
    int arrays = 1;

    if (cJSON_IsString(v))
        return allow_empty_string || v->valuestring[0] != '\0';
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
        cJSON_GetArraySize(v) > SL_VALIDATE_MAX_INPUTS)
        return 0;
    cJSON_ArrayForEach(e, v)
    {
        strings &= cJSON_IsString(e) && (allow_empty_string || e->valuestring[0] != '\0');
        tokens &= is_token_id(e);
        arrays &= is_token_array(e);
    }
    return strings || tokens || arrays;
}

static void
check_result(const cJSON *body, enum sl_status rc, const char *param, const struct sl_errbuf *err,
             const char *input_name, int allow_empty_string)
{
    const cJSON *model;

    check(rc == SL_OK || rc == SL_ERR_INVALID, "status is neither SL_OK nor SL_ERR_INVALID");
    if (rc == SL_ERR_INVALID) {
        check(err->msg[0] != '\0', "a rejection has no message");
        /* A named param is a member of the body, or the required member that is missing. */
        check(param == NULL || cJSON_GetObjectItemCaseSensitive(body, param) != NULL ||
                  strcmp(param, "model") == 0 || strcmp(param, input_name) == 0,
              "a rejection names a param that is not in the body");
        return;
    }
    check(param == NULL, "an accepted body names a param");
    model = cJSON_GetObjectItemCaseSensitive(body, "model");
    check(cJSON_IsString(model) && model->valuestring[0] != '\0', "accepted without a model");
    check(input_shape_ok(cJSON_GetObjectItemCaseSensitive(body, input_name), allow_empty_string),
          "accepted an input the reference check rejects");
}

static void
check_embeddings(const cJSON *body)
{
    struct sl_errbuf err = {{0}};
    const char *param = "(unset)";
    enum sl_status rc = sl_validate_embeddings(body, &param, &err);
    const cJSON *format;
    const cJSON *dims;

    check_result(body, rc, param, &err, "input", 0);
    if (rc != SL_OK)
        return;
    check(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream")),
          "embeddings accepted with stream true");
    format = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");
    check(format == NULL || cJSON_IsNull(format) ||
              (cJSON_IsString(format) && (strcmp(format->valuestring, "float") == 0 ||
                                          strcmp(format->valuestring, "base64") == 0)),
          "embeddings accepted with another encoding_format");
    dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
    check(dims == NULL || cJSON_IsNull(dims) ||
              (cJSON_IsNumber(dims) && dims->valuedouble >= 1 &&
               dims->valuedouble == floor(dims->valuedouble)),
          "embeddings accepted with dimensions below 1 or not whole");
}

static void
check_completions(const cJSON *body)
{
    struct sl_errbuf err = {{0}};
    const char *param = "(unset)";
    enum sl_status rc = sl_validate_completions(body, &param, &err);
    const cJSON *n;
    const cJSON *best_of;

    check_result(body, rc, param, &err, "prompt", 1);
    if (rc != SL_OK)
        return;
    n = cJSON_GetObjectItemCaseSensitive(body, "n");
    best_of = cJSON_GetObjectItemCaseSensitive(body, "best_of");
    check(!cJSON_IsNumber(n) || (n->valuedouble >= 1 && n->valuedouble <= SL_VALIDATE_MAX_CHOICES),
          "completions accepted with n out of range");
    check(!cJSON_IsNumber(n) || !cJSON_IsNumber(best_of) || best_of->valuedouble >= n->valuedouble,
          "completions accepted with best_of below n");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *body = NULL;

    if (sl_json_parse((const char *)data, size, SL_JSON_MAX_DEPTH, &body, NULL) != SL_OK)
        return 0;
    check_embeddings(body);
    check_completions(body);
    cJSON_Delete(body);
    return 0;
}
