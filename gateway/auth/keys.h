/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys -- finding a virtual key's record by the SHA-256 of the key: in the worker's local
 * cache (1 s), then in Redis (a msgpack record under <prefix>auth:<hash>, 60 s), then in
 * Postgres (the key joined with its user, team, team membership and organization). A Postgres
 * hit fills Redis and the local cache. The key itself is hashed at once and never stored.
 *
 * A management change calls sl_auth_invalidate(), which deletes the Redis record and
 * publishes the hash on <prefix>auth:invalidate; every worker of every node subscribes and
 * drops the hash from its local cache. A lost message costs at most the local cache's TTL.
 * Without Redis the chain is local cache then Postgres, and an invalidation reaches only the
 * worker that made it: other workers see the change when their entry expires (1 s).
 *
 * Everything runs on the worker's loop thread. Design notes: docs/internals/auth.md.
 */
#ifndef SL_KEYS_H
#define SL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

struct sl_worker;

#define SL_AUTH_HASH_HEX_LEN 64
/* How long a worker trusts its local copy of a record, in milliseconds. */
#define SL_AUTH_LOCAL_TTL_MS 1000
/* How long a record stays in Redis, in seconds. */
#define SL_AUTH_REDIS_TTL_S 60
/* Records a worker keeps at most. */
#define SL_AUTH_LOCAL_SLOTS 4096

/* A list of model names; items owned by the record. */
struct sl_auth_models {
    char **items;
    size_t n;
};

/* Version of the Redis record layout; a record of another version is a miss. */
#define SL_AUTH_RECORD_VERSION 6

/* A count limit left out of its budget row. */
#define SL_AUTH_LIMIT_UNSET (-1)

/*
 * The limits of one entity, read from its budget row. Counts are SL_AUTH_LIMIT_UNSET and money
 * NAN when the row leaves them out or the entity has no budget row.
 */
struct sl_auth_limits {
    int64_t rpm_limit;
    int64_t tpm_limit;
    int64_t max_parallel_requests;
    double max_budget;     /* USD */
    double soft_budget;    /* USD */
    char *budget_duration; /* as stored, e.g. "30d"; NULL: the budget never resets */
    double spend;           /* the entity's spend reconciled in PostgreSQL, USD; 0 when none */
    int64_t period_start_s; /* the budget row's budget_period_start, Unix seconds; 0 none */
};

/* One entry of model_rpm_limit / model_tpm_limit, merged by model name. */
struct sl_auth_model_limit {
    char *model;
    int64_t rpm_limit; /* SL_AUTH_LIMIT_UNSET when only the other map names the model */
    int64_t tpm_limit;
};

struct sl_auth_model_limits {
    struct sl_auth_model_limit *items;
    size_t n;
};

/* The stored facts of one virtual key. Strings are owned, and NULL when absent. */
struct sl_auth_record {
    char token[SL_AUTH_HASH_HEX_LEN + 1]; /* lowercase hex SHA-256 of the key */
    char *key_name;                       /* "sk-..." and the key's last 4 characters */
    char *key_alias;
    char *user_id;
    char *user_email; /* the user's e-mail, for metric labels */
    char *team_alias; /* the team's alias, for metric labels */
    char *user_role;
    char *team_id;
    char *team_member_role; /* the user's role in the key's team, "admin" or "user" */
    char *org_id;           /* the key's organization, else its team's */
    char *metadata;         /* the key's metadata as JSON text */
    int64_t expires;        /* Unix seconds; 0 never expires */
    int blocked;
    int has_team; /* the team row exists: team_models and team_blocked apply */
    int team_blocked;
    int has_user; /* the user row exists: user_models applies */
    int has_org;  /* the organization row exists: org_models applies */
    struct sl_auth_models models;
    struct sl_auth_models team_models;
    struct sl_auth_models user_models;
    struct sl_auth_models org_models;
    struct sl_auth_models allowed_routes;         /* empty: every route */
    struct sl_auth_models allowed_cache_controls; /* empty: every control of `cache` */

    /* Limits of each entity the key belongs to (gateway/limits/limits.h applies them). */
    struct sl_auth_limits key_limits;
    struct sl_auth_limits user_limits;   /* when has_user; else every limit unset */
    struct sl_auth_limits team_limits;   /* when has_team */
    struct sl_auth_limits member_limits; /* the membership's budget row, else the team's
                                          * member_budget_id row; when has_member */
    struct sl_auth_limits org_limits;    /* when has_org */
    int has_member;                      /* a team_memberships row joins the key's user and team */
    struct sl_auth_model_limits key_model_limits;  /* the key's metadata */
    struct sl_auth_model_limits team_model_limits; /* the team's metadata */
};

enum sl_auth_lookup_status {
    SL_AUTH_FOUND,
    SL_AUTH_NOT_FOUND,   /* no key row has this hash */
    SL_AUTH_UNAVAILABLE, /* no cache had it and Postgres could not be asked */
};

/*
 * Receives the outcome of one lookup. `rec` is non-NULL only with SL_AUTH_FOUND and is
 * borrowed until the callback returns.
 */
typedef void (*sl_auth_lookup_cb)(enum sl_auth_lookup_status status,
                                  const struct sl_auth_record *rec, void *privdata);

/*
 * Writes the lowercase hex SHA-256 of `len` bytes of `key` and a NUL into `out`.
 */
void sl_auth_hash_key(const char *key, size_t len, char out[SL_AUTH_HASH_HEX_LEN + 1]);

/*
 * Looks up the record of `key` (`len` bytes, borrowed for this call only). `cb` runs exactly
 * once: before this returns when the local cache has a fresh record, or when no store is
 * configured (SL_AUTH_UNAVAILABLE); otherwise on a later loop iteration. Must run on the loop
 * thread of `w` after sl_auth_worker_init().
 */
void sl_auth_lookup(struct sl_worker *w, const char *key, size_t len, sl_auth_lookup_cb cb,
                    void *privdata);

/* Returns the store that the lookup whose callback runs now asked last: "redis" or
 * "postgresql", or NULL when the record came from the worker's memory. Call it only from a
 * sl_auth_lookup_cb. */
const char *sl_auth_lookup_source(const struct sl_worker *w);

/*
 * Forgets the record of `token_hash` (64 lowercase hex characters) everywhere: this worker's
 * local cache at once, the Redis record, and, through a message on <prefix>auth:invalidate,
 * the local cache of every worker of every node. Call it after each change to a key, or to
 * the user, team or organization of a key, is committed in Postgres. Returns SL_OK, or
 * SL_ERR_INVALID when `token_hash` is not a hash; a Redis failure is logged, not returned,
 * because the entries then expire by their TTLs.
 */
enum sl_status sl_auth_invalidate(struct sl_worker *w, const char *token_hash);

/* Creates the worker's local cache and subscribes it to invalidations when Redis is set. */
void sl_auth_worker_init(struct sl_worker *w);

/* Frees the worker's local cache. */
void sl_auth_worker_dispose(struct sl_worker *w);

/* Frees what `rec` owns and zeroes it. */
void sl_auth_record_dispose(struct sl_auth_record *rec);

/* Copies `src` into `dst`, which is overwritten without being freed. */
void sl_auth_record_copy(struct sl_auth_record *dst, const struct sl_auth_record *src);

/* Appends `rec` as the msgpack map stored in Redis. */
void sl_auth_record_encode(const struct sl_auth_record *rec, struct sl_buf *out);

/*
 * Reads a record written by sl_auth_record_encode() into `rec` (zeroed first). Returns SL_OK,
 * or SL_ERR_INVALID for bytes that are not such a record, which the caller treats as a miss.
 */
enum sl_status sl_auth_record_decode(const char *data, size_t len, struct sl_auth_record *rec);

#endif /* SL_KEYS_H */
