/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_row -- a row of the models table (schema/0002_models.sql) and the deployment it
 * describes.
 *
 * A row keeps the parameters that are not secret in `litellm_params` (jsonb) and the secret
 * ones (api_key, aws_secret_access_key, ...) in one JSON object sealed with the secret box.
 * This module splits a client's litellm_params into those two parts, and builds a deployment
 * from a row through the same option table and checks as a config.yaml model_list item.
 * Pure functions, safe on any thread (they read the environment for os.environ/ values).
 */
#ifndef SL_MODEL_ROW_H
#define SL_MODEL_ROW_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/config.h"
#include "common/secretbox.h"
#include "common/status.h"

/* Maximum length of the text of a row's litellm_params or model_info, and of a model id. */
#define SL_MODEL_ROW_MAX_JSON_BYTES (64u * 1024u)
#define SL_MODEL_ROW_MAX_ID_BYTES   255u

/* Returns 1 when the litellm_params key `name` is a credential kept only in the sealed part. */
int sl_model_row_is_secret(const char *name);

/*
 * Moves every secret member of the object `params` into a new object `*secrets` (NULL when
 * there is none). `params` keeps the other members.
 */
void sl_model_row_split_secrets(cJSON *params, cJSON **secrets);

/* A row as read from PostgreSQL; every string is borrowed. */
struct sl_model_row {
    const char *model_id;
    const char *model_name;
    const char *litellm_params; /* JSON object text */
    const char *model_info;     /* JSON object text, may be NULL */
    const char *secret_hex;     /* hex of secret_ciphertext, NULL when the row has no secret */
    const char *nonce_hex;      /* hex of secret_nonce */
};

/*
 * Builds the deployment of `row` into `*out`. The sealed secrets are opened with `box` and
 * merged into litellm_params. `box` is NULL when no salt key is configured, which fails a row
 * that has secrets. model_info.id is set to model_id. The result goes through
 * sl_config_parse_deployment() and sl_router_check_deployment(). Returns SL_OK, or
 * SL_ERR_INVALID / SL_ERR_CONFIG / SL_ERR_TOO_LARGE with the reason in `err`, which never
 * contains a secret. `*out` is written only on success.
 */
enum sl_status sl_model_row_to_deployment(const struct sl_model_row *row,
                                          const struct sl_secretbox *box,
                                          struct sl_deployment *out, struct sl_errbuf *err);

/*
 * Decodes the hex text `hex` into `*out` (malloc'd, `*len` bytes). Returns SL_ERR_INVALID for
 * odd lengths or non-hex characters, SL_ERR_TOO_LARGE when over `max` bytes.
 */
enum sl_status sl_model_row_unhex(const char *hex, size_t max, unsigned char **out, size_t *len);

/* Appends the lowercase hex of `len` bytes of `p` to `out` and NUL-terminates it. */
void sl_model_row_hex(const unsigned char *p, size_t len, char *out);

#endif /* SL_MODEL_ROW_H */
