/* SPDX-License-Identifier: Apache-2.0 */
/*
 * end_users -- the limits and blocked flag of an end user (LiteLLM's customer): the id a
 * request names in x-litellm-customer-id, x-litellm-end-user-id, the header named by
 * general_settings.user_header_name, or the body's `user`. Rows live in end_users with their
 * budget row. A worker keeps what it read for SL_END_USER_LOCAL_TTL_MS, unknown ids included,
 * so a change made through the /customer/ routes reaches every worker within that time.
 * Everything runs on the worker's loop thread.
 */
#ifndef SL_END_USERS_H
#define SL_END_USERS_H

#include <stddef.h>

#include "gateway/auth/keys.h"

struct sl_worker;

/* How long a worker trusts what it read about an end user, in milliseconds. */
#define SL_END_USER_LOCAL_TTL_MS 1000
/* Longest end-user id accepted, in bytes; a longer one is refused with a 400. */
#define SL_END_USER_ID_MAX 256
/* End users a worker keeps at most. */
#define SL_END_USER_LOCAL_SLOTS 4096

enum sl_end_user_status {
    SL_END_USER_FOUND,
    SL_END_USER_NOT_FOUND,   /* no end_users row: no limits apply */
    SL_END_USER_UNAVAILABLE, /* nothing cached and PostgreSQL could not be asked */
};

struct sl_end_user {
    int blocked;
    struct sl_auth_limits limits; /* the row's budget; every limit unset without one */
};

/* Receives the outcome once; `eu` is non-NULL only with SL_END_USER_FOUND and is borrowed
 * until the callback returns. */
typedef void (*sl_end_user_cb)(enum sl_end_user_status status, const struct sl_end_user *eu,
                               void *privdata);

/*
 * Looks up end user `id` (`len` bytes, 1 to SL_END_USER_ID_MAX, copied). `cb` runs exactly
 * once: before this returns on a fresh local entry or without a database, else on a later
 * loop iteration. An id that no row can have (empty, too long, with a NUL byte or not UTF-8)
 * is reported SL_END_USER_NOT_FOUND at once. When PostgreSQL fails, an expired entry still
 * serves for a while (SL_END_USER_STALE_MAX_MS in end_users.c).
 */
void sl_end_user_lookup(struct sl_worker *w, const char *id, size_t len, sl_end_user_cb cb,
                        void *privdata);

/* Creates and frees the worker's local cache. */
void sl_end_user_worker_init(struct sl_worker *w);
void sl_end_user_worker_dispose(struct sl_worker *w);

#endif /* SL_END_USERS_H */
