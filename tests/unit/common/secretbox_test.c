/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secretbox_test -- AES-256-GCM sealing of stored secrets (common/secretbox.c): known-answer
 * tests from the GCM specification's test vectors, tag and size checks, the salt key choice, and
 * round trips through Node.js's crypto module as an independent implementation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secretbox.h"
#include "test.h"

static void
to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static size_t
from_hex(const char *s, unsigned char *out, size_t max)
{
    size_t n = 0;

    while (s[0] != '\0' && s[1] != '\0' && n < max) {
        unsigned int byte;

        if (sscanf(s, "%2x", &byte) != 1)
            break;
        out[n++] = (unsigned char)byte;
        s += 2;
    }
    return n;
}

/* A box whose key is `key` itself rather than a derived one, for the published vectors. */
static void
box_with_raw_key(struct sl_secretbox *box, const unsigned char key[SL_SECRETBOX_KEY_BYTES])
{
    memcpy(box->key, key, SL_SECRETBOX_KEY_BYTES);
}

/* GCM specification (McGrew and Viega), test case 13: 256-bit zero key, zero IV, no text. */
TEST(secretbox_gcm_vector_empty_plaintext)
{
    static const unsigned char zero[32] = {0};
    struct sl_secretbox box;
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char hex[80];

    box_with_raw_key(&box, zero);
    ASSERT_OK(sl_secretbox_seal_with_nonce(&box, "", 0, zero, &sealed, &sealed_len, NULL));
    ASSERT_EQ(16, sealed_len);
    to_hex(sealed, sealed_len, hex);
    ASSERT_STR_EQ("530f8afbc74536b9a963b4f1c4cb738b", hex);
    free(sealed);
}

/* Test case 14: 256-bit zero key, zero IV, one zero block. */
TEST(secretbox_gcm_vector_one_block)
{
    static const unsigned char zero[32] = {0};
    struct sl_secretbox box;
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char *plain = NULL;
    size_t plain_len = 0;
    char hex[80];

    box_with_raw_key(&box, zero);
    ASSERT_OK(sl_secretbox_seal_with_nonce(&box, zero, 16, zero, &sealed, &sealed_len, NULL));
    ASSERT_EQ(32, sealed_len);
    to_hex(sealed, sealed_len, hex);
    ASSERT_STR_EQ("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919", hex);

    ASSERT_OK(sl_secretbox_open(&box, zero, sealed, sealed_len, &plain, &plain_len, NULL));
    ASSERT_MEM_EQ(zero, 16, plain, plain_len);
    free(plain);
    free(sealed);
}

TEST(secretbox_round_trip_fresh_nonce)
{
    struct sl_secretbox box;
    const char *secret = "{\"api_key\":\"sk-upstream-1234\"}";
    unsigned char nonce1[SL_SECRETBOX_NONCE_BYTES];
    unsigned char nonce2[SL_SECRETBOX_NONCE_BYTES];
    unsigned char *s1 = NULL;
    unsigned char *s2 = NULL;
    size_t l1 = 0;
    size_t l2 = 0;
    char *plain = NULL;
    size_t plain_len = 0;

    sl_secretbox_init(&box, "salt", 4);
    ASSERT_OK(sl_secretbox_seal(&box, secret, strlen(secret), nonce1, &s1, &l1, NULL));
    ASSERT_OK(sl_secretbox_seal(&box, secret, strlen(secret), nonce2, &s2, &l2, NULL));
    ASSERT_EQ(strlen(secret) + SL_SECRETBOX_TAG_BYTES, l1);
    ASSERT_TRUE(memcmp(nonce1, nonce2, sizeof(nonce1)) != 0);
    ASSERT_TRUE(memcmp(s1, s2, l1) != 0);
    ASSERT_TRUE(memmem(s1, l1, "sk-upstream", 11) == NULL);

    ASSERT_OK(sl_secretbox_open(&box, nonce1, s1, l1, &plain, &plain_len, NULL));
    ASSERT_STR_EQ(secret, plain);
    ASSERT_EQ(strlen(secret), plain_len);
    free(plain);
    free(s1);
    free(s2);
    sl_secretbox_dispose(&box);
}

TEST(secretbox_open_rejects_altered_bytes)
{
    struct sl_secretbox box;
    struct sl_secretbox other;
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char *plain = NULL;
    size_t plain_len = 0;
    struct sl_errbuf err;

    sl_secretbox_init(&box, "salt", 4);
    sl_secretbox_init(&other, "pepper", 6);
    ASSERT_OK(sl_secretbox_seal(&box, "secret", 6, nonce, &sealed, &sealed_len, NULL));

    /* Another key. */
    ASSERT_EQ(SL_ERR_INVALID,
              sl_secretbox_open(&other, nonce, sealed, sealed_len, &plain, &plain_len, &err));
    ASSERT_CONTAINS(err.msg, "failed authentication");

    /* A flipped ciphertext bit, then a flipped tag bit. */
    sealed[0] ^= 1;
    ASSERT_EQ(SL_ERR_INVALID,
              sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
    sealed[0] ^= 1;
    sealed[sealed_len - 1] ^= 0x80;
    ASSERT_EQ(SL_ERR_INVALID,
              sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
    sealed[sealed_len - 1] ^= 0x80;

    /* Another nonce. */
    nonce[0] ^= 1;
    ASSERT_EQ(SL_ERR_INVALID,
              sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
    nonce[0] ^= 1;

    /* Shorter than a tag. */
    ASSERT_EQ(SL_ERR_INVALID, sl_secretbox_open(&box, nonce, sealed, 15, &plain, &plain_len, &err));
    ASSERT_CONTAINS(err.msg, "shorter than");

    ASSERT_OK(sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
    ASSERT_STR_EQ("secret", plain);
    free(plain);
    free(sealed);
}

TEST(secretbox_rejects_oversized_input)
{
    struct sl_secretbox box;
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES] = {0};
    size_t big = SL_SECRETBOX_MAX_PLAINTEXT_BYTES + 1;
    unsigned char *data = calloc(1, big + SL_SECRETBOX_TAG_BYTES);
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char *plain = NULL;
    size_t plain_len = 0;

    sl_secretbox_init(&box, "salt", 4);
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_secretbox_seal(&box, data, big, nonce, &sealed, &sealed_len,
                                                  NULL));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_secretbox_open(&box, nonce, data, big + SL_SECRETBOX_TAG_BYTES,
                                                  &plain, &plain_len, NULL));
    ASSERT_TRUE(sealed == NULL);
    ASSERT_TRUE(plain == NULL);
    free(data);
}

TEST(secretbox_salt_key_order)
{
    const char *source = NULL;

    unsetenv("SLUICE_SALT_KEY");
    unsetenv("LITELLM_SALT_KEY");
    ASSERT_TRUE(sl_secretbox_salt_key(NULL, &source) == NULL);
    ASSERT_TRUE(source == NULL);

    ASSERT_STR_EQ("sk-master", sl_secretbox_salt_key("sk-master", &source));
    ASSERT_STR_EQ("general_settings.master_key", source);

    setenv("LITELLM_SALT_KEY", "litellm-salt", 1);
    ASSERT_STR_EQ("litellm-salt", sl_secretbox_salt_key("sk-master", &source));
    ASSERT_STR_EQ("LITELLM_SALT_KEY", source);

    setenv("SLUICE_SALT_KEY", "sluice-salt", 1);
    ASSERT_STR_EQ("sluice-salt", sl_secretbox_salt_key("sk-master", &source));
    ASSERT_STR_EQ("SLUICE_SALT_KEY", source);

    /* An empty variable counts as unset. */
    setenv("SLUICE_SALT_KEY", "", 1);
    ASSERT_STR_EQ("litellm-salt", sl_secretbox_salt_key("sk-master", &source));
    unsetenv("SLUICE_SALT_KEY");
    unsetenv("LITELLM_SALT_KEY");
}

/* ---------------------------------------------------------------- Node.js interoperability */

/* Skips the test (exit 77) when node is missing, except under CI where that fails. */
static void
require_node(void)
{
    const char *ci = getenv("CI");

    if (system("node --version >/dev/null 2>&1") == 0)
        return;
    if (ci != NULL && strcmp(ci, "true") == 0)
        SL_TEST_FAIL("node is not on PATH, and CI=true forbids skipping");
    fprintf(stderr, "skipped: node is not on PATH\n");
    exit(77);
}

/* Runs `cmd` and returns its first output line without the newline, or fails the test. */
static void
run_line(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");

    ASSERT_TRUE(p != NULL);
    if (fgets(out, (int)size, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    ASSERT_EQ(0, pclose(p));
}

/* Sealed in C, opened by Node.js with the key derived the same way. */
TEST(secretbox_node_opens_c_seal)
{
    struct sl_secretbox box;
    const char *secret = "{\"api_key\":\"sk-from-c\",\"aws_secret_access_key\":\"abc/+=\"}";
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    char nonce_hex[2 * SL_SECRETBOX_NONCE_BYTES + 1];
    char sealed_hex[512];
    char cmd[2048];
    char line[512];

    require_node();
    sl_secretbox_init(&box, "interop-salt", strlen("interop-salt"));
    ASSERT_OK(sl_secretbox_seal(&box, secret, strlen(secret), nonce, &sealed, &sealed_len, NULL));
    to_hex(nonce, sizeof(nonce), nonce_hex);
    to_hex(sealed, sealed_len, sealed_hex);
    snprintf(cmd, sizeof(cmd),
             "node -e '"
             "const c = require(\"crypto\");"
             "const [nonce, sealed] = process.argv.slice(1).map((h) => Buffer.from(h, \"hex\"));"
             "const key = c.createHash(\"sha256\").update(\"interop-salt\").digest();"
             "const d = c.createDecipheriv(\"aes-256-gcm\", key, nonce);"
             "d.setAuthTag(sealed.subarray(sealed.length - 16));"
             "const p = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), "
             "d.final()]);"
             "console.log(p.toString(\"utf8\"));' %s %s",
             nonce_hex, sealed_hex);
    run_line(cmd, line, sizeof(line));
    ASSERT_STR_EQ(secret, line);
    free(sealed);
}

/* Sealed by Node.js, opened in C; then one altered byte must fail the C tag check. */
TEST(secretbox_c_opens_node_seal)
{
    struct sl_secretbox box;
    unsigned char nonce[SL_SECRETBOX_NONCE_BYTES];
    unsigned char sealed[256];
    size_t sealed_len;
    char *plain = NULL;
    size_t plain_len = 0;
    char line[1024];
    char *space;

    require_node();
    run_line("node -e '"
             "const c = require(\"crypto\");"
             "const key = c.createHash(\"sha256\").update(\"interop-salt\").digest();"
             "const nonce = c.randomBytes(12);"
             "const e = c.createCipheriv(\"aes-256-gcm\", key, nonce);"
             "const ct = Buffer.concat([e.update(\"sealed by node\", \"utf8\"), e.final()]);"
             "console.log(nonce.toString(\"hex\") + \" \" + "
             "Buffer.concat([ct, e.getAuthTag()]).toString(\"hex\"));'",
             line, sizeof(line));
    space = strchr(line, ' ');
    ASSERT_TRUE(space != NULL);
    *space = '\0';
    ASSERT_EQ(SL_SECRETBOX_NONCE_BYTES, from_hex(line, nonce, sizeof(nonce)));
    sealed_len = from_hex(space + 1, sealed, sizeof(sealed));
    ASSERT_EQ(strlen("sealed by node") + SL_SECRETBOX_TAG_BYTES, sealed_len);

    sl_secretbox_init(&box, "interop-salt", strlen("interop-salt"));
    ASSERT_OK(sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
    ASSERT_STR_EQ("sealed by node", plain);
    free(plain);

    sealed[3] ^= 0x10;
    ASSERT_EQ(SL_ERR_INVALID,
              sl_secretbox_open(&box, nonce, sealed, sealed_len, &plain, &plain_len, NULL));
}
