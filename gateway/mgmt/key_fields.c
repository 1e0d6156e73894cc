/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key_fields -- key generation, hashing, durations and the field checks of /key/generate and
 * /key/update. Values leave here as the text of SQL parameters, so keys.c only binds them.
 */
#include "gateway/mgmt/key_fields.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/budget_period.h"
#include "common/json.h"
#include "common/xalloc.h"

/* Maximum length of a string field (alias, ids, list items) in a body. */
#define SL_MGMT_TEXT_MAX_LEN 1024
/* Largest count (limits) accepted, far above any real limit. */
#define SL_MGMT_COUNT_MAX 1e12
/* Largest amount of money (USD) accepted. */
#define SL_MGMT_MONEY_MAX 1e15
#define SL_MGMT_MONTH_S   (30.0 * 86400.0)

/* ---------------------------------------------------------------- keys */

enum sl_status
sl_mgmt_key_generate(char out[SL_MGMT_KEY_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[SL_MGMT_KEY_RANDOM_BYTES];
    size_t pos = 3;
    unsigned bits = 0;
    unsigned acc = 0;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SL_ERR_IO;

    /* Unpadded URL-safe base64: 128 bits give 21 full sextets and one of 2 bits. */
    memcpy(out, "sk-", 3);
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[pos++] = alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0)
        out[pos++] = alphabet[(acc << (6 - bits)) & 0x3f];
    out[pos] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return SL_OK;
}

void
sl_mgmt_key_hash(const char *key, size_t len, char out[SL_MGMT_HASH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)key, len, digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[SL_MGMT_HASH_LEN] = '\0';
}

enum sl_status
sl_mgmt_key_ref(const char *ref, char out[SL_MGMT_HASH_LEN + 1], struct sl_errbuf *err)
{
    size_t len = strnlen(ref, SL_MGMT_KEY_MAX_LEN + 1);

    if (len > SL_MGMT_KEY_MAX_LEN) {
        sl_errbuf_set(err, "The key is longer than %d characters.", SL_MGMT_KEY_MAX_LEN);
        return SL_ERR_INVALID;
    }
    if (strncmp(ref, "sk-", 3) == 0) {
        sl_mgmt_key_hash(ref, len, out);
        return SL_OK;
    }
    if (len != SL_MGMT_HASH_LEN) {
        sl_errbuf_set(err, "Invalid key: expected a key starting with 'sk-' or its 64-digit "
                           "hex SHA-256 hash.");
        return SL_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)ref[i])) {
            sl_errbuf_set(err, "Invalid key: expected a key starting with 'sk-' or its "
                               "64-digit hex SHA-256 hash.");
            return SL_ERR_INVALID;
        }
        out[i] = (char)tolower((unsigned char)ref[i]);
    }
    out[len] = '\0';
    return SL_OK;
}

/* ---------------------------------------------------------------- durations */

enum sl_status
sl_mgmt_parse_duration(const char *text, struct sl_mgmt_duration *out)
{
    /* PostgreSQL interval units and lengths, indexed by enum sl_budget_unit. */
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {
        [SL_BUDGET_SECONDS] = {"seconds", 1},
        [SL_BUDGET_MINUTES] = {"minutes", 60},
        [SL_BUDGET_HOURS] = {"hours", 3600},
        [SL_BUDGET_DAYS] = {"days", 86400},
        [SL_BUDGET_WEEKS] = {"weeks", 7 * 86400},
        [SL_BUDGET_MONTHS] = {"months", SL_MGMT_MONTH_S},
    };
    struct sl_budget_duration d;

    if (sl_budget_duration_parse(text, &d) != SL_OK)
        return SL_ERR_INVALID;
    out->count = d.n;
    out->unit = units[d.unit].unit;
    out->approx_s = (double)d.n * units[d.unit].seconds;
    return SL_OK;
}

/* ---------------------------------------------------------------- fields */

enum field_kind {
    K_TEXT,
    K_TEXT_LIST,
    K_OBJECT,
    K_BOOL,
    K_MONEY,
    K_COUNT,
    K_DURATION,
    K_BUDGET_DURATION,
};

static const struct {
    const char *name;
    enum field_kind kind;
} field_specs[SL_MGMT_F_COUNT] = {
    [SL_MGMT_F_KEY_ALIAS] = {"key_alias", K_TEXT},
    [SL_MGMT_F_USER_ID] = {"user_id", K_TEXT},
    [SL_MGMT_F_TEAM_ID] = {"team_id", K_TEXT},
    [SL_MGMT_F_ORGANIZATION_ID] = {"organization_id", K_TEXT},
    [SL_MGMT_F_BUDGET_ID] = {"budget_id", K_TEXT},
    [SL_MGMT_F_MODELS] = {"models", K_TEXT_LIST},
    [SL_MGMT_F_ALIASES] = {"aliases", K_OBJECT},
    [SL_MGMT_F_CONFIG] = {"config", K_OBJECT},
    [SL_MGMT_F_PERMISSIONS] = {"permissions", K_OBJECT},
    [SL_MGMT_F_METADATA] = {"metadata", K_OBJECT},
    [SL_MGMT_F_ALLOWED_ROUTES] = {"allowed_routes", K_TEXT_LIST},
    [SL_MGMT_F_ALLOWED_CACHE_CONTROLS] = {"allowed_cache_controls", K_TEXT_LIST},
    [SL_MGMT_F_BLOCKED] = {"blocked", K_BOOL},
    [SL_MGMT_F_DURATION] = {"duration", K_DURATION},
    [SL_MGMT_F_MAX_BUDGET] = {"max_budget", K_MONEY},
    [SL_MGMT_F_SOFT_BUDGET] = {"soft_budget", K_MONEY},
    [SL_MGMT_F_MAX_PARALLEL_REQUESTS] = {"max_parallel_requests", K_COUNT},
    [SL_MGMT_F_TPM_LIMIT] = {"tpm_limit", K_COUNT},
    [SL_MGMT_F_RPM_LIMIT] = {"rpm_limit", K_COUNT},
    [SL_MGMT_F_BUDGET_DURATION] = {"budget_duration", K_BUDGET_DURATION},
};

const char *
sl_mgmt_field_name(enum sl_mgmt_field f)
{
    return field_specs[f].name;
}

static void
set_value(struct sl_mgmt_value *v, char *text)
{
    free(v->text);
    v->set = 1;
    v->text = text;
}

static char *format_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format_text(const char *fmt, ...)
{
    char tmp[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return sl_xstrdup(tmp);
}

static enum sl_status
check_string_list(const cJSON *item, const char *name, struct sl_errbuf *err)
{
    const cJSON *el;

    if (!cJSON_IsArray(item)) {
        sl_errbuf_set(err, "%s must be a list of strings.", name);
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsString(el) || strlen(el->valuestring) > SL_MGMT_TEXT_MAX_LEN) {
            sl_errbuf_set(err, "%s must be a list of strings of at most %d characters.", name,
                          SL_MGMT_TEXT_MAX_LEN);
            return SL_ERR_INVALID;
        }
    }
    return SL_OK;
}

/* Returns the interval text of a duration, NULL for "-1" (never), via `*text`. */
static enum sl_status
duration_value(const char *s, const char *name, char **text, double *seconds, struct sl_errbuf *err)
{
    struct sl_mgmt_duration d;

    if (strcmp(s, "-1") == 0) {
        *text = NULL;
        *seconds = INFINITY;
        return SL_OK;
    }
    if (sl_mgmt_parse_duration(s, &d) != SL_OK) {
        sl_errbuf_set(err,
                      "Invalid %s \"%.64s\": expected a whole number from 1 to 100000 "
                      "followed by s, m, h, d, w or mo, e.g. \"30d\".",
                      name, s);
        return SL_ERR_INVALID;
    }
    *text = format_text("%lld %s", d.count, d.unit);
    *seconds = d.approx_s;
    return SL_OK;
}

static enum sl_status
parse_one(const cJSON *item, enum sl_mgmt_field f, struct sl_mgmt_key_fields *out,
          struct sl_errbuf *err)
{
    struct sl_mgmt_value *v = &out->v[f];
    const char *name = field_specs[f].name;
    char *text = NULL;
    double seconds;

    switch (field_specs[f].kind) {
    case K_TEXT:
        if (!cJSON_IsString(item) || strlen(item->valuestring) > SL_MGMT_TEXT_MAX_LEN) {
            sl_errbuf_set(err, "%s must be a string of at most %d characters.", name,
                          SL_MGMT_TEXT_MAX_LEN);
            return SL_ERR_INVALID;
        }
        set_value(v, sl_xstrdup(item->valuestring));
        return SL_OK;
    case K_TEXT_LIST:
        if (check_string_list(item, name, err) != SL_OK)
            return SL_ERR_INVALID;
        set_value(v, sl_json_print(item));
        return SL_OK;
    case K_OBJECT:
        if (!cJSON_IsObject(item)) {
            sl_errbuf_set(err, "%s must be a JSON object.", name);
            return SL_ERR_INVALID;
        }
        set_value(v, sl_json_print(item));
        return SL_OK;
    case K_BOOL:
        if (!cJSON_IsBool(item)) {
            sl_errbuf_set(err, "%s must be true or false.", name);
            return SL_ERR_INVALID;
        }
        set_value(v, sl_xstrdup(cJSON_IsTrue(item) ? "true" : "false"));
        return SL_OK;
    case K_MONEY:
    case K_COUNT:
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
            sl_errbuf_set(err, "%s must be a number.", name);
            return SL_ERR_INVALID;
        }
        if (item->valuedouble < 0) {
            sl_errbuf_set(err, "%s cannot be negative. Received: %g", name, item->valuedouble);
            return SL_ERR_INVALID;
        }
        if (field_specs[f].kind == K_MONEY) {
            if (item->valuedouble > SL_MGMT_MONEY_MAX) {
                sl_errbuf_set(err, "%s must be at most %g.", name, SL_MGMT_MONEY_MAX);
                return SL_ERR_INVALID;
            }
            set_value(v, format_text("%.17g", item->valuedouble));
            return SL_OK;
        }
        if (item->valuedouble > SL_MGMT_COUNT_MAX ||
            item->valuedouble != floor(item->valuedouble)) {
            sl_errbuf_set(err, "%s must be a whole number of at most %g.", name, SL_MGMT_COUNT_MAX);
            return SL_ERR_INVALID;
        }
        set_value(v, format_text("%lld", (long long)item->valuedouble));
        return SL_OK;
    case K_DURATION:
    case K_BUDGET_DURATION:
        if (!cJSON_IsString(item)) {
            sl_errbuf_set(err, "%s must be a string such as \"30d\".", name);
            return SL_ERR_INVALID;
        }
        if (duration_value(item->valuestring, name, &text, &seconds, err) != SL_OK)
            return SL_ERR_INVALID;
        if (field_specs[f].kind == K_DURATION) {
            set_value(v, text);
            out->duration_s = seconds;
            snprintf(out->duration_input, sizeof(out->duration_input), "%s", item->valuestring);
            return SL_OK;
        }
        free(text);
        /* A budget period has to end: "-1" means nothing here. */
        if (isinf(seconds)) {
            sl_errbuf_set(err, "Invalid budget_duration \"-1\": expected e.g. \"30d\".");
            return SL_ERR_INVALID;
        }
        set_value(v, sl_xstrdup(item->valuestring));
        return SL_OK;
    }
    return SL_ERR_INVALID;
}

/* Writes "abcd****wxyz" of a rejected custom key, as LiteLLM masks it. */
static void
mask_key(const char *key, char out[16])
{
    size_t len = strlen(key);

    if (len <= 8)
        snprintf(out, 16, "****");
    else
        snprintf(out, 16, "%.4s****%s", key, key + len - 4);
}

static enum sl_status
parse_custom_key(const cJSON *item, struct sl_mgmt_key_fields *out, struct sl_errbuf *err)
{
    char masked[16];

    if (!cJSON_IsString(item) || strlen(item->valuestring) > SL_MGMT_KEY_MAX_LEN) {
        sl_errbuf_set(err, "key must be a string of at most %d characters.", SL_MGMT_KEY_MAX_LEN);
        return SL_ERR_INVALID;
    }
    if (strncmp(item->valuestring, "sk-", 3) != 0) {
        mask_key(item->valuestring, masked);
        sl_errbuf_set(err,
                      "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. "
                      "Received: %s",
                      masked);
        return SL_ERR_INVALID;
    }
    out->custom_key = sl_xstrdup(item->valuestring);
    return SL_OK;
}

/* model_rpm_limit, model_tpm_limit and tags are stored inside metadata, as LiteLLM does. */
static enum sl_status
parse_metadata_patch(const cJSON *body, struct sl_mgmt_key_fields *out, const char **param,
                     struct sl_errbuf *err)
{
    static const char *const limit_maps[] = {"model_rpm_limit", "model_tpm_limit"};
    cJSON *patch = cJSON_CreateObject();
    enum sl_status rc = SL_OK;

    for (size_t i = 0; i < 2; i++) {
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(body, limit_maps[i]);
        const cJSON *el;

        if (map == NULL || cJSON_IsNull(map))
            continue;
        *param = limit_maps[i];
        if (!cJSON_IsObject(map)) {
            sl_errbuf_set(err, "%s must be an object of model names to limits.", limit_maps[i]);
            rc = SL_ERR_INVALID;
            goto out;
        }
        cJSON_ArrayForEach(el, map)
        {
            if (!cJSON_IsNumber(el) || el->valuedouble < 0 || el->valuedouble > SL_MGMT_COUNT_MAX) {
                sl_errbuf_set(err, "%s[\"%.64s\"] must be a number from 0 to %g.", limit_maps[i],
                              el->string, SL_MGMT_COUNT_MAX);
                rc = SL_ERR_INVALID;
                goto out;
            }
        }
        cJSON_AddItemToObject(patch, limit_maps[i], cJSON_Duplicate(map, 1));
    }

    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(body, "tags");
    if (tags != NULL && !cJSON_IsNull(tags)) {
        *param = "tags";
        rc = check_string_list(tags, "tags", err);
        if (rc != SL_OK)
            goto out;
        cJSON_AddItemToObject(patch, "tags", cJSON_Duplicate(tags, 1));
    }
    if (patch->child != NULL)
        out->metadata_patch = sl_json_print(patch);

out:
    cJSON_Delete(patch);
    return rc;
}

static enum sl_status
apply_key_type(const cJSON *body, struct sl_mgmt_key_fields *out, struct sl_errbuf *err)
{
    static const struct {
        const char *type;
        const char *routes; /* NULL: no restriction */
    } types[] = {
        {"default", NULL},
        {"llm_api", "[\"llm_api_routes\"]"},
        {"management", "[\"management_routes\"]"},
        {"read_only", "[\"info_routes\"]"},
    };
    const char *type = sl_json_get_string(body, "key_type");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, "key_type");

    if (item == NULL || cJSON_IsNull(item))
        return SL_OK;
    for (size_t i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(type, types[i].type) != 0)
            continue;
        out->key_type = type;
        /* An explicit allowed_routes list wins over the one the type implies. */
        if (types[i].routes != NULL && !out->v[SL_MGMT_F_ALLOWED_ROUTES].set)
            set_value(&out->v[SL_MGMT_F_ALLOWED_ROUTES], sl_xstrdup(types[i].routes));
        return SL_OK;
    }
    sl_errbuf_set(err, "Invalid key_type: expected one of default, llm_api, management, "
                       "read_only.");
    return SL_ERR_INVALID;
}

enum sl_status
sl_mgmt_key_fields_parse(const cJSON *body, int for_update, struct sl_mgmt_key_fields *out,
                         const char **param, struct sl_errbuf *err)
{
    enum sl_status rc;

    *param = NULL;
    if (!cJSON_IsObject(body)) {
        sl_errbuf_set(err, "The request body must be a JSON object.");
        return SL_ERR_INVALID;
    }
    for (int f = 0; f < SL_MGMT_F_COUNT; f++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, field_specs[f].name);

        /* Null is LiteLLM's default of every field: the same as leaving it out. */
        if (item == NULL || cJSON_IsNull(item))
            continue;
        rc = parse_one(item, (enum sl_mgmt_field)f, out, err);
        if (rc != SL_OK) {
            *param = field_specs[f].name;
            return rc;
        }
    }

    const cJSON *key = cJSON_GetObjectItemCaseSensitive(body, "key");
    if (!for_update && key != NULL && !cJSON_IsNull(key)) {
        *param = "key";
        rc = parse_custom_key(key, out, err);
        if (rc != SL_OK)
            return rc;
    }

    rc = parse_metadata_patch(body, out, param, err);
    if (rc != SL_OK)
        return rc;

    *param = "key_type";
    rc = apply_key_type(body, out, err);
    if (rc != SL_OK)
        return rc;
    *param = NULL;
    return SL_OK;
}

/* ---------------------------------------------------------------- config */

static enum sl_status
check_number_bound(struct sl_mgmt_key_fields *f, enum sl_mgmt_field field, double bound, int fill,
                   int integer, const char **param, struct sl_errbuf *err)
{
    struct sl_mgmt_value *v = &f->v[field];

    if (!v->set) {
        if (fill)
            set_value(v, integer ? format_text("%lld", (long long)bound)
                                 : format_text("%.17g", bound));
        return SL_OK;
    }
    if (v->text != NULL && strtod(v->text, NULL) > bound) {
        *param = field_specs[field].name;
        sl_errbuf_set(err, "%s is over max limit set in config - user_value=%s; max_value=%g",
                      field_specs[field].name, v->text, bound);
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

/* `user_text` is what the body sent (the interval text for duration), compared in seconds. */
static enum sl_status
check_duration_bound(struct sl_mgmt_key_fields *f, enum sl_mgmt_field field, const char *bound,
                     int fill, const char **param, struct sl_errbuf *err)
{
    struct sl_mgmt_value *v = &f->v[field];
    const char *name = field_specs[field].name;
    char *bound_text = NULL;
    double bound_s;
    double user_s;
    struct sl_mgmt_duration d;

    if (duration_value(bound, name, &bound_text, &bound_s, err) != SL_OK)
        return SL_ERR_CONFIG;
    if (!v->set) {
        if (fill && !isinf(bound_s)) {
            set_value(v, field == SL_MGMT_F_DURATION ? bound_text : sl_xstrdup(bound));
            if (field == SL_MGMT_F_DURATION) {
                f->duration_s = bound_s;
                snprintf(f->duration_input, sizeof(f->duration_input), "%s", bound);
            } else {
                free(bound_text);
            }
        } else {
            free(bound_text);
        }
        return SL_OK;
    }
    free(bound_text);

    /* budget_duration is the body's text, while duration is compared through duration_s. */
    if (field == SL_MGMT_F_DURATION) {
        user_s = f->duration_s;
    } else {
        if (sl_mgmt_parse_duration(v->text, &d) != SL_OK)
            return SL_ERR_INVALID;
        user_s = d.approx_s;
    }
    if (user_s > bound_s) {
        *param = name;
        sl_errbuf_set(err, "%s is over max limit set in config - user_value=%s; max_value=%s", name,
                      field == SL_MGMT_F_DURATION ? f->duration_input : v->text, bound);
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

enum sl_status
sl_mgmt_apply_upper_bounds(const struct sl_config *cfg, int fill, struct sl_mgmt_key_fields *f,
                           const char **param, struct sl_errbuf *err)
{
    enum sl_status rc = SL_OK;

    if (!isnan(cfg->key_upper_max_budget))
        rc = check_number_bound(f, SL_MGMT_F_MAX_BUDGET, cfg->key_upper_max_budget, fill, 0, param,
                                err);
    if (rc == SL_OK && cfg->key_upper_max_parallel_requests != SL_CONFIG_UNSET_INT)
        rc = check_number_bound(f, SL_MGMT_F_MAX_PARALLEL_REQUESTS,
                                (double)cfg->key_upper_max_parallel_requests, fill, 1, param, err);
    if (rc == SL_OK && cfg->key_upper_tpm_limit != SL_CONFIG_UNSET_INT)
        rc = check_number_bound(f, SL_MGMT_F_TPM_LIMIT, (double)cfg->key_upper_tpm_limit, fill, 1,
                                param, err);
    if (rc == SL_OK && cfg->key_upper_rpm_limit != SL_CONFIG_UNSET_INT)
        rc = check_number_bound(f, SL_MGMT_F_RPM_LIMIT, (double)cfg->key_upper_rpm_limit, fill, 1,
                                param, err);
    if (rc == SL_OK && cfg->key_upper_budget_duration != NULL)
        rc = check_duration_bound(f, SL_MGMT_F_BUDGET_DURATION, cfg->key_upper_budget_duration,
                                  fill, param, err);
    if (rc == SL_OK && cfg->key_upper_duration != NULL)
        rc = check_duration_bound(f, SL_MGMT_F_DURATION, cfg->key_upper_duration, fill, param, err);
    if (rc == SL_ERR_CONFIG)
        sl_errbuf_set(err, "litellm_settings.upperbound_key_generate_params has an invalid "
                           "duration; expected e.g. \"30d\" or \"-1\".");
    return rc;
}

static void
fill_text(struct sl_mgmt_key_fields *f, enum sl_mgmt_field field, const char *value)
{
    if (value != NULL && !f->v[field].set)
        set_value(&f->v[field], sl_xstrdup(value));
}

static void
fill_count(struct sl_mgmt_key_fields *f, enum sl_mgmt_field field, int64_t value)
{
    if (value != SL_CONFIG_UNSET_INT && !f->v[field].set)
        set_value(&f->v[field], format_text("%" PRId64, value));
}

enum sl_status
sl_mgmt_apply_defaults(const struct sl_config *cfg, struct sl_mgmt_key_fields *f,
                       struct sl_errbuf *err)
{
    struct sl_mgmt_value *models = &f->v[SL_MGMT_F_MODELS];

    if (!isnan(cfg->key_default_max_budget) && !f->v[SL_MGMT_F_MAX_BUDGET].set)
        set_value(&f->v[SL_MGMT_F_MAX_BUDGET], format_text("%.17g", cfg->key_default_max_budget));
    fill_count(f, SL_MGMT_F_MAX_PARALLEL_REQUESTS, cfg->key_default_max_parallel_requests);
    fill_count(f, SL_MGMT_F_TPM_LIMIT, cfg->key_default_tpm_limit);
    fill_count(f, SL_MGMT_F_RPM_LIMIT, cfg->key_default_rpm_limit);
    fill_text(f, SL_MGMT_F_USER_ID, cfg->key_default_user_id);
    fill_text(f, SL_MGMT_F_TEAM_ID, cfg->key_default_team_id);

    if (cfg->key_default_budget_duration != NULL && !f->v[SL_MGMT_F_BUDGET_DURATION].set) {
        struct sl_mgmt_duration d;

        if (sl_mgmt_parse_duration(cfg->key_default_budget_duration, &d) != SL_OK)
            goto bad_duration;
        fill_text(f, SL_MGMT_F_BUDGET_DURATION, cfg->key_default_budget_duration);
    }
    if (cfg->key_default_duration != NULL && !f->v[SL_MGMT_F_DURATION].set) {
        char *text = NULL;
        double seconds;

        if (duration_value(cfg->key_default_duration, "duration", &text, &seconds, err) != SL_OK)
            goto bad_duration;
        set_value(&f->v[SL_MGMT_F_DURATION], text);
        f->duration_s = seconds;
        snprintf(f->duration_input, sizeof(f->duration_input), "%s", cfg->key_default_duration);
    }

    /* LiteLLM fills models when the list is empty, not only when it is absent. */
    if (cfg->key_default_models.n > 0 &&
        (!models->set || models->text == NULL || strcmp(models->text, "[]") == 0)) {
        cJSON *list = cJSON_CreateArray();

        for (size_t i = 0; i < cfg->key_default_models.n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(cfg->key_default_models.items[i]));
        set_value(models, sl_json_print(list));
        cJSON_Delete(list);
    }
    return SL_OK;

bad_duration:
    sl_errbuf_set(err, "litellm_settings.default_key_generate_params has an invalid duration; "
                       "expected e.g. \"30d\".");
    return SL_ERR_CONFIG;
}

int
sl_mgmt_personal_key_allowed(const struct sl_config *cfg, const char *role)
{
    const struct sl_strlist *roles = &cfg->personal_key_allowed_roles;

    if (roles->n == 0)
        return 1;
    for (size_t i = 0; i < roles->n; i++) {
        if (role != NULL && strcmp(roles->items[i], role) == 0)
            return 1;
    }
    return 0;
}

void
sl_mgmt_key_fields_dispose(struct sl_mgmt_key_fields *f)
{
    for (int i = 0; i < SL_MGMT_F_COUNT; i++)
        free(f->v[i].text);
    free(f->metadata_patch);
    if (f->custom_key != NULL) {
        OPENSSL_cleanse(f->custom_key, strlen(f->custom_key));
        free(f->custom_key);
    }
    memset(f, 0, sizeof(*f));
}
