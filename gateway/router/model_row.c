/* SPDX-License-Identifier: Apache-2.0 */
/* model_row -- rows of the models table as deployments; see model_row.h. */
#include "gateway/router/model_row.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "gateway/router/deployment_check.h"

/* The credentials LiteLLM's docs put in litellm_params; each goes to the sealed part. */
static const char *const secret_params[] = {
    "api_key",          "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "azure_ad_token",   "client_secret",     "vertex_credentials",
};

int
sl_model_row_is_secret(const char *name)
{
    for (size_t i = 0; i < sizeof(secret_params) / sizeof(secret_params[0]); i++) {
        if (strcmp(name, secret_params[i]) == 0)
            return 1;
    }
    return 0;
}

void
sl_model_row_split_secrets(cJSON *params, cJSON **secrets)
{
    cJSON *item = params != NULL ? params->child : NULL;

    *secrets = NULL;
    while (item != NULL) {
        cJSON *next = item->next;

        if (item->string != NULL && sl_model_row_is_secret(item->string)) {
            if (*secrets == NULL)
                *secrets = cJSON_CreateObject();
            cJSON_AddItemToObject(*secrets, item->string,
                                  cJSON_DetachItemViaPointer(params, item));
        }
        item = next;
    }
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum sl_status
sl_model_row_unhex(const char *hex, size_t max, unsigned char **out, size_t *len)
{
    size_t n = strlen(hex);
    unsigned char *bytes;

    if (n % 2 != 0)
        return SL_ERR_INVALID;
    if (n / 2 > max)
        return SL_ERR_TOO_LARGE;
    bytes = sl_xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(bytes);
            return SL_ERR_INVALID;
        }
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    *out = bytes;
    *len = n / 2;
    return SL_OK;
}

void
sl_model_row_hex(const unsigned char *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/* Parses `text` as a JSON object; NULL text gives an empty object. */
static enum sl_status
parse_object(const char *text, const char *column, cJSON **out, struct sl_errbuf *err)
{
    size_t len = text != NULL ? strlen(text) : 0;

    if (text == NULL) {
        *out = cJSON_CreateObject();
        return SL_OK;
    }
    if (len > SL_MODEL_ROW_MAX_JSON_BYTES) {
        sl_errbuf_set(err, "%s is %zu bytes, over the limit of %u", column, len,
                      SL_MODEL_ROW_MAX_JSON_BYTES);
        return SL_ERR_TOO_LARGE;
    }
    if (sl_json_parse(text, len, SL_JSON_MAX_DEPTH, out, NULL) != SL_OK) {
        sl_errbuf_set(err, "%s is not valid JSON", column);
        return SL_ERR_INVALID;
    }
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        sl_errbuf_set(err, "%s is not a JSON object", column);
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

/* Opens the sealed secrets of `row` into a JSON object, NULL when the row has none. */
static enum sl_status
open_secrets(const struct sl_model_row *row, const struct sl_secretbox *box, cJSON **out,
             struct sl_errbuf *err)
{
    unsigned char *sealed = NULL;
    unsigned char *nonce = NULL;
    size_t sealed_len = 0;
    size_t nonce_len = 0;
    char *plain = NULL;
    size_t plain_len = 0;
    enum sl_status rc;

    *out = NULL;
    if (row->secret_hex == NULL)
        return SL_OK;
    if (box == NULL) {
        sl_errbuf_set(err, "the row has sealed credentials but no salt key is configured (set "
                           "SLUICE_SALT_KEY, LITELLM_SALT_KEY or general_settings.master_key)");
        return SL_ERR_CONFIG;
    }
    rc = sl_model_row_unhex(row->secret_hex,
                            SL_SECRETBOX_MAX_PLAINTEXT_BYTES + SL_SECRETBOX_TAG_BYTES, &sealed,
                            &sealed_len);
    if (rc == SL_OK)
        rc = row->nonce_hex != NULL
                 ? sl_model_row_unhex(row->nonce_hex, SL_SECRETBOX_NONCE_BYTES, &nonce, &nonce_len)
                 : SL_ERR_INVALID;
    if (rc != SL_OK || nonce_len != SL_SECRETBOX_NONCE_BYTES) {
        sl_errbuf_set(err, "secret_ciphertext or secret_nonce is malformed");
        rc = SL_ERR_INVALID;
        goto out;
    }
    rc = sl_secretbox_open(box, nonce, sealed, sealed_len, &plain, &plain_len, err);
    if (rc != SL_OK)
        goto out;
    if (sl_json_parse(plain, plain_len, SL_JSON_MAX_DEPTH, out, NULL) != SL_OK ||
        !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        sl_errbuf_set(err, "the opened secrets are not a JSON object");
        rc = SL_ERR_INVALID;
    }

out:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    free(sealed);
    free(nonce);
    return rc;
}

/* Wipes every string of `item` and its children, before the caller frees them. */
static void
wipe_strings(cJSON *item)
{
    for (cJSON *c = item != NULL ? item->child : NULL; c != NULL; c = c->next)
        wipe_strings(c);
    if (item != NULL && cJSON_IsString(item) && item->valuestring != NULL)
        OPENSSL_cleanse(item->valuestring, strlen(item->valuestring));
}

enum sl_status
sl_model_row_to_deployment(const struct sl_model_row *row, const struct sl_secretbox *box,
                           struct sl_deployment *out, struct sl_errbuf *err)
{
    cJSON *params = NULL;
    cJSON *info = NULL;
    cJSON *secrets = NULL;
    cJSON *item = NULL;
    char *text = NULL;
    char where[SL_MODEL_ROW_MAX_ID_BYTES + 16];
    struct sl_deployment d;
    enum sl_status rc;

    if (strlen(row->model_id) > SL_MODEL_ROW_MAX_ID_BYTES) {
        sl_errbuf_set(err, "model_id is longer than %u bytes", SL_MODEL_ROW_MAX_ID_BYTES);
        return SL_ERR_INVALID;
    }
    snprintf(where, sizeof(where), "model %s", row->model_id);
    rc = parse_object(row->litellm_params, "litellm_params", &params, err);
    if (rc == SL_OK)
        rc = parse_object(row->model_info, "model_info", &info, err);
    if (rc == SL_OK)
        rc = open_secrets(row, box, &secrets, err);
    if (rc != SL_OK)
        goto out;

    /* The sealed values win over any member of the same name left in the clear. */
    while (secrets != NULL && secrets->child != NULL) {
        cJSON *s = cJSON_DetachItemViaPointer(secrets, secrets->child);

        cJSON_DeleteItemFromObjectCaseSensitive(params, s->string);
        cJSON_AddItemToObject(params, s->string, s);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(info, "id");
    cJSON_AddStringToObject(info, "id", row->model_id);

    item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "model_name", row->model_name);
    cJSON_AddItemToObject(item, "litellm_params", params);
    cJSON_AddItemToObject(item, "model_info", info);
    params = NULL;
    info = NULL;
    text = sl_json_print(item);

    rc = sl_config_parse_deployment(text, strlen(text), where, &d, NULL, err);
    if (rc != SL_OK)
        goto out;
    rc = sl_router_check_deployment(&d, where, err);
    if (rc != SL_OK) {
        sl_config_deployment_dispose(&d);
        goto out;
    }
    *out = d;

out:
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    wipe_strings(item);
    cJSON_Delete(item);
    wipe_strings(params);
    cJSON_Delete(params);
    cJSON_Delete(info);
    wipe_strings(secrets);
    cJSON_Delete(secrets);
    return rc;
}
