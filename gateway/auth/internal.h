/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth internal -- helpers shared by the files of gateway/auth/ only: the hash check and the
 * limits of an entity (record.c owns their memory, keys.c reads them from PostgreSQL rows).
 * The caps below bind both the PostgreSQL reader and the msgpack decoder of a record, so that
 * every record read from PostgreSQL also decodes from Redis.
 */
#ifndef SL_AUTH_INTERNAL_H
#define SL_AUTH_INTERNAL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/pg.h"
#include "gateway/auth/keys.h"

struct sl_worker;

/* Valid entries that one model_rpm_limit or model_tpm_limit map contributes at most; later
 * ones, in the order PostgreSQL renders the jsonb object, are ignored. */
#define SL_AUTH_MODEL_LIMITS_PER_MAP 256
/* Entries of a merged struct sl_auth_model_limits at most: one map's models, then the
 * other's. */
#define SL_AUTH_MODEL_LIMITS_MAX (2 * SL_AUTH_MODEL_LIMITS_PER_MAP)
/* Maximum length of a model name in a per-model limit, in bytes. Longer entries are ignored. */
#define SL_AUTH_MODEL_NAME_MAX 256
/* Maximum length of a budget_duration, in bytes ("30d", "1mo", ...). */
#define SL_AUTH_BUDGET_DURATION_MAX 64
/* Maximum length of a model_rpm_limit or model_tpm_limit JSON text, in bytes. */
#define SL_AUTH_MODEL_LIMITS_JSON_MAX (1024 * 1024)

/* Returns 1 when `s` is 64 lowercase hex digits, else 0. */
int sl_auth__is_hash(const char *s);

/* Sets every limit of `l` to unset (SL_AUTH_LIMIT_UNSET, NAN, NULL) without freeing. */
void sl_auth__limits_unset(struct sl_auth_limits *l);

/* Zeroes `rec` (without freeing it) and leaves every limit of it unset. */
void sl_auth__record_clear(struct sl_auth_record *rec);

/* Frees what `l` owns and sets every limit to unset. */
void sl_auth__limits_dispose(struct sl_auth_limits *l);

/* Copies `src` into `dst`, which is overwritten without being freed. */
void sl_auth__limits_copy(struct sl_auth_limits *dst, const struct sl_auth_limits *src);

/* Frees what `m` owns and empties it. */
void sl_auth__model_limits_dispose(struct sl_auth_model_limits *m);

/*
 * Reads the six budget columns rpm_limit, tpm_limit, max_parallel_requests, max_budget,
 * soft_budget, budget_duration that start at column `col` of row 0 into `out`. SQL NULL
 * (absent, or no budget row) is unset. Returns 0, or -1 for a value that is not a number or a
 * budget_duration over SL_AUTH_BUDGET_DURATION_MAX. `out` then contains what was read so
 * far and must still be disposed.
 */
int sl_auth__limits_from_row(const PGresult *res, int col, struct sl_auth_limits *out);

/*
 * Merges the JSON objects `rpm_json` and `tpm_json` ({"<model>": <requests or tokens per
 * minute>}; NULL when absent) into `out`, which is emptied first. Entries whose value is not a
 * whole number >= 0, whose name is empty or longer than SL_AUTH_MODEL_NAME_MAX, or that repeat
 * a name of the same map are ignored, as are valid entries past SL_AUTH_MODEL_LIMITS_PER_MAP.
 * Returns 0, or -1 when a text is not a JSON object or is longer than
 * SL_AUTH_MODEL_LIMITS_JSON_MAX. That map is then ignored, and the other one is still read.
 */
int sl_auth__model_limits_from_json(const char *rpm_json, size_t rpm_len, const char *tpm_json,
                                    size_t tpm_len, struct sl_auth_model_limits *out);

/*
 * Sends the end-user query `sql` with the one text parameter `id`, under the contract of
 * sl_pg_query(). The default sends it on the worker's PostgreSQL client and returns
 * SL_ERR_UNAVAILABLE without one.
 */
typedef enum sl_status (*sl_end_user__query_fn)(struct sl_worker *w, const char *sql,
                                                const char *id, sl_pg_query_cb cb,
                                                void *privdata);

/* Replaces how the end-user cache of `w` sends its queries (NULL: the default), for tests
 * that complete them with results built by hand. */
void sl_end_user__set_query(struct sl_worker *w, sl_end_user__query_fn fn);

#endif /* SL_AUTH_INTERNAL_H */
