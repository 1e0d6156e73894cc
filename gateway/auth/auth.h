/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth -- finding the caller's key in a request and checking it against the master key.
 *
 * Header order follows LiteLLM: x-litellm-api-key, then Authorization (Bearer), then api-key,
 * then x-api-key. The comparison takes the same time whatever the key, so response timing
 * tells an attacker nothing about the master key. Pure functions, thread-safe.
 */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stddef.h>

/* The header values a key may come from; a NULL base means the header is absent. */
struct sl_auth_headers {
    const char *litellm_api_key;
    size_t litellm_api_key_len;
    const char *authorization;
    size_t authorization_len;
    const char *api_key;
    size_t api_key_len;
    const char *x_api_key;
    size_t x_api_key_len;
};

enum sl_auth_result {
    SL_AUTH_OK,
    SL_AUTH_MISSING,   /* no key in any header */
    SL_AUTH_MALFORMED, /* Authorization without a Bearer prefix */
    SL_AUTH_INVALID,   /* a key that is not the master key */
};

/* Finds the key; on SL_AUTH_OK `*key` points into the given headers. */
enum sl_auth_result sl_auth_extract(const struct sl_auth_headers *h, const char **key,
                                    size_t *len);

/* Returns 1 when `key` equals `master_key`, in time independent of both contents. */
int sl_auth_is_master(const char *master_key, const char *key, size_t len);

/* Writes "sk-...wxyz" (the last four characters of `key`) for messages; never the whole key. */
void sl_auth_mask(const char *key, size_t len, char out[16]);

#endif /* SL_AUTH_H */
