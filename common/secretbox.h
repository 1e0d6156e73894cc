/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secretbox -- AES-256-GCM encryption of secrets stored in PostgreSQL (the secret parameters
 * of models added through the management API).
 *
 * The 32-byte key is the SHA-256 of a salt key string. Each seal draws a fresh 12-byte nonce
 * from RAND_bytes() and returns the ciphertext with the 16-byte tag appended, which is the
 * layout of schema/0002_models.sql (secret_ciphertext, secret_nonce). There is no additional
 * authenticated data. Any AES-256-GCM implementation decrypts the result, e.g. Node.js:
 * createDecipheriv("aes-256-gcm", sha256(salt), nonce) with setAuthTag(last 16 bytes).
 *
 * A box is immutable after sl_secretbox_init(), so threads may share one.
 */
#ifndef SL_SECRETBOX_H
#define SL_SECRETBOX_H

#include <stddef.h>

#include "common/status.h"

#define SL_SECRETBOX_KEY_BYTES   32
#define SL_SECRETBOX_NONCE_BYTES 12
#define SL_SECRETBOX_TAG_BYTES   16
/* Largest plaintext sealed or opened; a larger input is rejected before any allocation. */
#define SL_SECRETBOX_MAX_PLAINTEXT_BYTES (256u * 1024u)

struct sl_secretbox {
    unsigned char key[SL_SECRETBOX_KEY_BYTES];
};

/*
 * Returns the salt key string: the environment variable SLUICE_SALT_KEY, else
 * LITELLM_SALT_KEY, else `master_key` (LiteLLM's fallback too), else NULL. Empty variables
 * count as unset. `*source` (may be NULL) gets the name of the setting used, for logs.
 *
 * NOTE: with the master key as the fallback, changing the master key makes every stored
 * secret unreadable, so a deployment that stores models should set a salt key of its own.
 */
const char *sl_secretbox_salt_key(const char *master_key, const char **source);

/* Derives the key: SHA-256 of the `len` bytes of `salt_key`. */
void sl_secretbox_init(struct sl_secretbox *box, const char *salt_key, size_t len);

/* Wipes the key. */
void sl_secretbox_dispose(struct sl_secretbox *box);

/*
 * Encrypts `len` bytes of `plain` under a new random nonce, written to `nonce`. `*sealed`
 * (malloc'd, `len` + SL_SECRETBOX_TAG_BYTES bytes in `*sealed_len`) is the ciphertext followed
 * by the tag. Returns SL_OK, SL_ERR_TOO_LARGE above SL_SECRETBOX_MAX_PLAINTEXT_BYTES, or
 * SL_ERR_IO when the random generator or the cipher fails, with the reason in `err`.
 */
enum sl_status sl_secretbox_seal(const struct sl_secretbox *box, const void *plain, size_t len,
                                 unsigned char nonce[SL_SECRETBOX_NONCE_BYTES],
                                 unsigned char **sealed, size_t *sealed_len,
                                 struct sl_errbuf *err);

/* As sl_secretbox_seal() with the caller's `nonce`: for known-answer tests only, because a
 * nonce used twice under one key breaks GCM. */
enum sl_status sl_secretbox_seal_with_nonce(const struct sl_secretbox *box, const void *plain,
                                            size_t len,
                                            const unsigned char nonce[SL_SECRETBOX_NONCE_BYTES],
                                            unsigned char **sealed, size_t *sealed_len,
                                            struct sl_errbuf *err);

/*
 * Decrypts `sealed_len` bytes (ciphertext and tag) sealed under `nonce`. On SL_OK `*plain` is
 * malloc'd with `*plain_len` bytes followed by a NUL that is not counted. Returns
 * SL_ERR_INVALID when the input is shorter than a tag or the tag does not match (wrong key or
 * altered bytes), SL_ERR_TOO_LARGE above the cap, SL_ERR_IO when the cipher fails.
 */
enum sl_status sl_secretbox_open(const struct sl_secretbox *box,
                                 const unsigned char nonce[SL_SECRETBOX_NONCE_BYTES],
                                 const unsigned char *sealed, size_t sealed_len, char **plain,
                                 size_t *plain_len, struct sl_errbuf *err);

#endif /* SL_SECRETBOX_H */
