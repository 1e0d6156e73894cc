/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secretbox -- AES-256-GCM through OpenSSL's EVP interface; see secretbox.h. Lengths are
 * capped before the int conversions that EVP needs.
 */
#include "common/secretbox.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/xalloc.h"

const char *
sl_secretbox_salt_key(const char *master_key, const char **source)
{
    static const char *const vars[] = {"SLUICE_SALT_KEY", "LITELLM_SALT_KEY"};
    const char *used = NULL;
    const char *value = NULL;

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && value == NULL; i++) {
        const char *v = getenv(vars[i]);

        if (v != NULL && v[0] != '\0') {
            value = v;
            used = vars[i];
        }
    }
    if (value == NULL && master_key != NULL && master_key[0] != '\0') {
        value = master_key;
        used = "general_settings.master_key";
    }
    if (source != NULL)
        *source = used;
    return value;
}

void
sl_secretbox_init(struct sl_secretbox *box, const char *salt_key, size_t len)
{
    unsigned int out_len = 0;

    if (EVP_Digest(salt_key, len, box->key, &out_len, EVP_sha256(), NULL) != 1 ||
        out_len != SL_SECRETBOX_KEY_BYTES)
        abort(); /* only out of memory makes SHA-256 unavailable */
}

void
sl_secretbox_dispose(struct sl_secretbox *box)
{
    OPENSSL_cleanse(box->key, sizeof(box->key));
}

enum sl_status
sl_secretbox_seal_with_nonce(const struct sl_secretbox *box, const void *plain, size_t len,
                             const unsigned char nonce[SL_SECRETBOX_NONCE_BYTES],
                             unsigned char **sealed, size_t *sealed_len, struct sl_errbuf *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *out = NULL;
    int n = 0;
    int tail = 0;
    enum sl_status rc = SL_ERR_IO;

    if (len > SL_SECRETBOX_MAX_PLAINTEXT_BYTES) {
        sl_errbuf_set(err, "secret is %zu bytes, over the limit of %u", len,
                      SL_SECRETBOX_MAX_PLAINTEXT_BYTES);
        return SL_ERR_TOO_LARGE;
    }
    out = sl_xmalloc(len + SL_SECRETBOX_TAG_BYTES);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SL_SECRETBOX_NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, box->key, nonce) != 1 ||
        (len > 0 && EVP_EncryptUpdate(ctx, out, &n, plain, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, out + n, &tail) != 1 || (size_t)(n + tail) != len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SL_SECRETBOX_TAG_BYTES, out + len) != 1) {
        sl_errbuf_set(err, "AES-256-GCM encryption failed");
        goto out;
    }
    *sealed = out;
    *sealed_len = len + SL_SECRETBOX_TAG_BYTES;
    out = NULL;
    rc = SL_OK;

out:
    EVP_CIPHER_CTX_free(ctx);
    free(out);
    return rc;
}

enum sl_status
sl_secretbox_seal(const struct sl_secretbox *box, const void *plain, size_t len,
                  unsigned char nonce[SL_SECRETBOX_NONCE_BYTES], unsigned char **sealed,
                  size_t *sealed_len, struct sl_errbuf *err)
{
    if (RAND_bytes(nonce, SL_SECRETBOX_NONCE_BYTES) != 1) {
        sl_errbuf_set(err, "the random generator failed to make a nonce");
        return SL_ERR_IO;
    }
    return sl_secretbox_seal_with_nonce(box, plain, len, nonce, sealed, sealed_len, err);
}

enum sl_status
sl_secretbox_open(const struct sl_secretbox *box,
                  const unsigned char nonce[SL_SECRETBOX_NONCE_BYTES],
                  const unsigned char *sealed, size_t sealed_len, char **plain, size_t *plain_len,
                  struct sl_errbuf *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char tag[SL_SECRETBOX_TAG_BYTES];
    unsigned char *out = NULL;
    size_t len;
    int n = 0;
    int tail = 0;
    enum sl_status rc = SL_ERR_IO;

    if (sealed_len < SL_SECRETBOX_TAG_BYTES) {
        sl_errbuf_set(err, "sealed secret is %zu bytes, shorter than the %d-byte tag", sealed_len,
                      SL_SECRETBOX_TAG_BYTES);
        return SL_ERR_INVALID;
    }
    len = sealed_len - SL_SECRETBOX_TAG_BYTES;
    if (len > SL_SECRETBOX_MAX_PLAINTEXT_BYTES) {
        sl_errbuf_set(err, "sealed secret is %zu bytes, over the limit of %u", len,
                      SL_SECRETBOX_MAX_PLAINTEXT_BYTES);
        return SL_ERR_TOO_LARGE;
    }
    memcpy(tag, sealed + len, sizeof(tag));
    out = sl_xmalloc(len + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL ||
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SL_SECRETBOX_NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, box->key, nonce) != 1 ||
        (len > 0 && EVP_DecryptUpdate(ctx, out, &n, sealed, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SL_SECRETBOX_TAG_BYTES, tag) != 1) {
        sl_errbuf_set(err, "AES-256-GCM decryption failed");
        goto out;
    }
    /* The tag is checked here: a mismatch means another key or altered bytes. */
    if (EVP_DecryptFinal_ex(ctx, out + n, &tail) != 1 || (size_t)(n + tail) != len) {
        sl_errbuf_set(err, "sealed secret failed authentication (wrong salt key or altered "
                           "data)");
        rc = SL_ERR_INVALID;
        goto out;
    }
    out[len] = '\0';
    *plain = (char *)out;
    *plain_len = len;
    out = NULL;
    rc = SL_OK;

out:
    EVP_CIPHER_CTX_free(ctx);
    if (out != NULL) {
        OPENSSL_cleanse(out, len + 1);
        free(out);
    }
    return rc;
}
