/* SPDX-License-Identifier: Apache-2.0 */
/* auth -- key lookup and master key comparison; see auth.h. */
#include "gateway/auth/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

static int
has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && strncasecmp(s, prefix, n) == 0;
}

static void
trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

enum sl_auth_result
sl_auth_extract(const struct sl_auth_headers *h, const char **key, size_t *len)
{
    const char *k = NULL;
    size_t n = 0;

    if (h->litellm_api_key != NULL) {
        k = h->litellm_api_key;
        n = h->litellm_api_key_len;
        if (has_prefix_ci(k, n, "Bearer ")) {
            k += 7;
            n -= 7;
        }
    } else if (h->authorization != NULL) {
        k = h->authorization;
        n = h->authorization_len;
        if (!has_prefix_ci(k, n, "Bearer "))
            return SL_AUTH_MALFORMED;
        k += 7;
        n -= 7;
    } else if (h->api_key != NULL) {
        k = h->api_key;
        n = h->api_key_len;
    } else if (h->x_api_key != NULL) {
        k = h->x_api_key;
        n = h->x_api_key_len;
    }

    if (k != NULL)
        trim(&k, &n);
    if (k == NULL || n == 0)
        return h->authorization != NULL ? SL_AUTH_MALFORMED : SL_AUTH_MISSING;
    *key = k;
    *len = n;
    return SL_AUTH_OK;
}

int
sl_auth_is_master(const char *master_key, const char *key, size_t len)
{
    unsigned char a[SHA256_DIGEST_LENGTH];
    unsigned char b[SHA256_DIGEST_LENGTH];

    /* Hashing first makes the comparison length-independent as well. */
    SHA256((const unsigned char *)master_key, strlen(master_key), a);
    SHA256((const unsigned char *)key, len, b);
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

void
sl_auth_mask(const char *key, size_t len, char out[16])
{
    if (len <= 8) {
        snprintf(out, 16, "****");
        return;
    }
    snprintf(out, 16, "sk-...%.4s", key + len - 4);
}
