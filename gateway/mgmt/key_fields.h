/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key_fields -- the pure parts of the key management API: generating and hashing virtual keys,
 * parsing LiteLLM durations, and checking the fields of a /key/generate or /key/update body
 * against their types, the config's upper bounds and its defaults.
 *
 * Nothing here touches the network or the database; gateway/mgmt/keys.c turns the checked
 * fields into SQL parameters. Thread-safe.
 */
#ifndef SL_MGMT_KEY_FIELDS_H
#define SL_MGMT_KEY_FIELDS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/config.h"
#include "common/status.h"

/* "sk-" and 22 URL-safe base64 characters of 16 random bytes, as LiteLLM generates keys. */
#define SL_MGMT_KEY_RANDOM_BYTES 16
#define SL_MGMT_KEY_LEN          25
/* Lowercase hex SHA-256 of a key, the `token` column. */
#define SL_MGMT_HASH_LEN 64
/* Maximum length of a plaintext key from a client (a custom `key` or a key reference). */
#define SL_MGMT_KEY_MAX_LEN 512

/* Writes a new random key and its NUL into `out`. Returns SL_ERR_IO when OpenSSL's random
 * generator fails. */
enum sl_status sl_mgmt_key_generate(char out[SL_MGMT_KEY_LEN + 1]);

/* Writes the lowercase hex SHA-256 of `len` bytes of `key` and a NUL into `out`. */
void sl_mgmt_key_hash(const char *key, size_t len, char out[SL_MGMT_HASH_LEN + 1]);

/*
 * Turns a key reference as management calls accept it into the stored hash: a value starting
 * with "sk-" is hashed, anything else must already be a 64-digit hex hash (case-insensitive).
 * Returns SL_ERR_INVALID with a reason that never repeats the key.
 */
enum sl_status sl_mgmt_key_ref(const char *ref, char out[SL_MGMT_HASH_LEN + 1],
                               struct sl_errbuf *err);

/* A LiteLLM duration: `count` of `unit` ("seconds" ... "months", a PostgreSQL interval unit). */
struct sl_mgmt_duration {
    long long count;
    const char *unit;
    double approx_s; /* length in seconds, with a month counted as 30 days */
};

/*
 * Parses a duration with sl_budget_duration_parse(), so that key expiry and every
 * budget_duration accept the same text: a whole number from 1 to 100000, then s, m (minutes),
 * h, d, w or mo and nothing else. Anything else, "1hr" included, is SL_ERR_INVALID.
 */
enum sl_status sl_mgmt_parse_duration(const char *text, struct sl_mgmt_duration *out);

/* The body fields of /key/generate and /key/update that the API stores. */
enum sl_mgmt_field {
    SL_MGMT_F_KEY_ALIAS,
    SL_MGMT_F_USER_ID,
    SL_MGMT_F_TEAM_ID,
    SL_MGMT_F_ORGANIZATION_ID,
    SL_MGMT_F_BUDGET_ID, /* an existing budget row; excludes the budget fields below */
    SL_MGMT_F_MODELS,         /* JSON array of strings */
    SL_MGMT_F_ALIASES,        /* JSON object */
    SL_MGMT_F_CONFIG,         /* JSON object */
    SL_MGMT_F_PERMISSIONS,    /* JSON object */
    SL_MGMT_F_METADATA,       /* JSON object, replaces the stored one */
    SL_MGMT_F_ALLOWED_ROUTES, /* JSON array of strings */
    SL_MGMT_F_ALLOWED_CACHE_CONTROLS,
    SL_MGMT_F_BLOCKED,    /* "true" or "false" */
    SL_MGMT_F_DURATION,   /* PostgreSQL interval text, or SQL NULL for "never expires" */
    SL_MGMT_F_MAX_BUDGET, /* the rest are budget columns; numbers as decimal text */
    SL_MGMT_F_SOFT_BUDGET,
    SL_MGMT_F_MAX_PARALLEL_REQUESTS,
    SL_MGMT_F_TPM_LIMIT,
    SL_MGMT_F_RPM_LIMIT,
    SL_MGMT_F_BUDGET_DURATION, /* as written, e.g. "30d" */
    SL_MGMT_F_COUNT
};

/* First field that lives in the key's budget row. */
#define SL_MGMT_F_FIRST_BUDGET SL_MGMT_F_MAX_BUDGET

struct sl_mgmt_value {
    int set;    /* the body sent the field (or a default or bound filled it) */
    char *text; /* SQL parameter text; NULL with `set` is SQL NULL; owned */
};

struct sl_mgmt_key_fields {
    struct sl_mgmt_value v[SL_MGMT_F_COUNT];
    /* Entries merged into the stored metadata: model_rpm_limit, model_tpm_limit, tags. JSON
     * object text, NULL when none were sent; owned. */
    char *metadata_patch;
    /* A custom key from the body's `key` field (generate only); owned, wiped on dispose. */
    char *custom_key;
    const char *key_type; /* borrowed from the body; NULL when absent */
    /* Length of the duration field in seconds (a month counts 30 days), INFINITY for "-1";
     * meaningful only while v[SL_MGMT_F_DURATION].set. */
    double duration_s;
    char duration_input[32]; /* the duration as written, for messages */
};

/* Returns the body name of `f`, e.g. "max_budget". */
const char *sl_mgmt_field_name(enum sl_mgmt_field f);

/*
 * Checks `body` (a JSON object) and fills `out` with every field it sets. `for_update` selects
 * /key/update rules: JSON null leaves a field unchanged, "-1" as duration clears the expiry,
 * and a custom `key` is not accepted. On SL_ERR_INVALID `err` has the 400 message and `*param`
 * the field at fault. `out` must be zeroed; free it with sl_mgmt_key_fields_dispose() either way.
 */
enum sl_status sl_mgmt_key_fields_parse(const cJSON *body, int for_update,
                                        struct sl_mgmt_key_fields *out, const char **param,
                                        struct sl_errbuf *err);

/*
 * Applies litellm_settings.upperbound_key_generate_params: a field over its bound is
 * SL_ERR_INVALID ("<field> is over max limit set in config - user_value=...; max_value=...").
 * With `fill` (generate), a field left out takes its bound as value. Returns SL_ERR_CONFIG when
 * a configured duration cannot be parsed.
 */
enum sl_status sl_mgmt_apply_upper_bounds(const struct sl_config *cfg, int fill,
                                          struct sl_mgmt_key_fields *f, const char **param,
                                          struct sl_errbuf *err);

/* Fills fields the body left out from litellm_settings.default_key_generate_params. Returns
 * SL_ERR_CONFIG when a configured duration cannot be parsed. */
enum sl_status sl_mgmt_apply_defaults(const struct sl_config *cfg, struct sl_mgmt_key_fields *f,
                                      struct sl_errbuf *err);

/* Returns 1 when a user with `role` may create a key without a team_id under
 * key_generation_settings.personal_key_generation.allowed_user_roles. */
int sl_mgmt_personal_key_allowed(const struct sl_config *cfg, const char *role);

void sl_mgmt_key_fields_dispose(struct sl_mgmt_key_fields *f);

#endif /* SL_MGMT_KEY_FIELDS_H */
