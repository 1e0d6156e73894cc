/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigv4 -- AWS Signature Version 4 signing; see sigv4.h.
 *
 * The steps follow AWS's published algorithm: canonical request, string to sign, signing key
 * derived from the secret by an HMAC chain over date, region, service and "aws4_request", and
 * the final HMAC of the string to sign. Strings are built in sl_buf, so nothing is truncated.
 */
#include "common/sigv4.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/xalloc.h"

#define SL_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

static const char hex_digits[] = "0123456789abcdef";

static void
to_hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[p[i] >> 4];
        out[2 * i + 1] = hex_digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void
sl_sigv4_sha256_hex(const void *p, size_t len, char out[SL_SIGV4_HEX_LEN + 1])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256(p != NULL ? p : (const void *)"", len, digest);
    to_hex(digest, sizeof(digest), out);
}

static void
hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
            unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned int n = SHA256_DIGEST_LENGTH;

    HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n);
}

void
sl_sigv4_format_date(int64_t unix_s, char out[SL_SIGV4_DATE_LEN + 1])
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, SL_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static int
is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void
sl_sigv4_uri_encode(struct sl_buf *out, const char *s, size_t n)
{
    static const char upper[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3] = {'%', upper[c >> 4], upper[c & 0x0f]};

        if (is_unreserved(c))
            sl_buf_append(out, &s[i], 1);
        else
            sl_buf_append(out, esc, 3);
    }
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends the percent-decoding of `n` bytes at `s`; '+' stays '+'. Returns -1 on a bad escape. */
static int
uri_decode(struct sl_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        sl_buf_append(out, &c, 1);
    }
    return 0;
}

/* ---------------------------------------------------------------- canonical request */

static void
append_canonical_uri(struct sl_buf *out, const char *path)
{
    const char *p = path;

    /* Each segment is encoded as it appears on the wire, so "%3A" becomes "%253A". */
    while (*p != '\0') {
        const char *slash = strchr(p + 1, '/');
        size_t seg_len = slash != NULL ? (size_t)(slash - p - 1) : strlen(p + 1);

        sl_buf_append(out, "/", 1);
        sl_sigv4_uri_encode(out, p + 1, seg_len);
        p += 1 + seg_len;
    }
}

struct query_param {
    struct sl_buf key;
    struct sl_buf value;
};

static int
compare_params(const void *a, const void *b)
{
    const struct query_param *x = a;
    const struct query_param *y = b;
    int c = strcmp(x->key.data, y->key.data);

    return c != 0 ? c : strcmp(x->value.data, y->value.data);
}

static enum sl_status
append_canonical_query(struct sl_buf *out, const char *query, struct sl_errbuf *err)
{
    struct query_param *params = NULL;
    size_t n = 0;
    enum sl_status rc = SL_OK;

    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t key_len = eq != NULL ? (size_t)(eq - p) : len;
        struct sl_buf raw_key;
        struct sl_buf raw_value;
        int bad;

        if (len > 0) {
            params = sl_xrealloc(params, (n + 1) * sizeof(*params));
            sl_buf_init(&params[n].key, 0);
            sl_buf_init(&params[n].value, 0);
            sl_buf_init(&raw_key, 0);
            sl_buf_init(&raw_value, 0);
            bad = uri_decode(&raw_key, p, key_len);
            if (eq != NULL)
                bad |= uri_decode(&raw_value, eq + 1, len - key_len - 1);
            sl_sigv4_uri_encode(&params[n].key, raw_key.data != NULL ? raw_key.data : "",
                                raw_key.len);
            sl_sigv4_uri_encode(&params[n].value, raw_value.data != NULL ? raw_value.data : "",
                                raw_value.len);
            sl_buf_append(&params[n].key, "", 0);
            sl_buf_append(&params[n].value, "", 0);
            sl_buf_dispose(&raw_key);
            sl_buf_dispose(&raw_value);
            n++;
            if (bad) {
                sl_errbuf_set(err, "the query has an invalid percent escape");
                rc = SL_ERR_INVALID;
                goto out;
            }
        }
        p = amp != NULL ? amp + 1 : p + len;
    }

    if (n > 0)
        qsort(params, n, sizeof(*params), compare_params);
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(out, "%s%s=%s", i > 0 ? "&" : "", params[i].key.data, params[i].value.data);

out:
    for (size_t i = 0; i < n; i++) {
        sl_buf_dispose(&params[i].key);
        sl_buf_dispose(&params[i].value);
    }
    free(params);
    return rc;
}

struct canonical_header {
    struct sl_buf name;  /* lower-cased */
    struct sl_buf value; /* trimmed, inner runs of spaces collapsed */
};

static int
compare_headers(const void *a, const void *b)
{
    const struct canonical_header *x = a;
    const struct canonical_header *y = b;

    return strcmp(x->name.data, y->name.data);
}

static void
canonical_value(struct sl_buf *out, const char *v)
{
    int pending_space = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
            pending_space = 1;
            continue;
        }
        if (pending_space && out->len > 0)
            sl_buf_append(out, " ", 1);
        pending_space = 0;
        sl_buf_append(out, v, 1);
    }
    sl_buf_append(out, "", 0);
}

static int
has_header(const struct sl_sigv4_input *in, const char *lower_name)
{
    for (size_t i = 0; i < in->n_headers; i++)
        if (strcasecmp(in->headers[i].name, lower_name) == 0)
            return 1;
    return 0;
}

/* Appends the canonical headers and fills out->signed_headers. Headers that share a name
 * (case-insensitively) are joined with commas in the order given. */
static enum sl_status
append_canonical_headers(struct sl_buf *creq, const struct sl_sigv4_header *headers, size_t n,
                         struct sl_sigv4_output *out, struct sl_errbuf *err)
{
    struct canonical_header *list = sl_xcalloc(n + 1, sizeof(*list));
    size_t used = 0;
    enum sl_status rc = SL_OK;

    for (size_t i = 0; i < n; i++) {
        struct sl_buf name;
        size_t j;

        if (headers[i].name == NULL || headers[i].name[0] == '\0' || headers[i].value == NULL) {
            sl_errbuf_set(err, "a header to sign has no name or no value");
            rc = SL_ERR_INVALID;
            goto out;
        }
        sl_buf_init(&name, 0);
        for (const char *c = headers[i].name; *c != '\0'; c++) {
            char l = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
            sl_buf_append(&name, &l, 1);
        }
        for (j = 0; j < used; j++)
            if (strcmp(list[j].name.data, name.data) == 0)
                break;
        if (j == used) {
            list[used].name = name;
            sl_buf_init(&list[used].value, 0);
            used++;
        } else {
            sl_buf_dispose(&name);
            sl_buf_append(&list[j].value, ",", 1);
        }
        canonical_value(&list[j].value, headers[i].value);
    }

    qsort(list, used, sizeof(*list), compare_headers);
    for (size_t i = 0; i < used; i++) {
        sl_buf_printf(creq, "%s:%s\n", list[i].name.data,
                      list[i].value.data != NULL ? list[i].value.data : "");
        sl_buf_printf(&out->signed_headers, "%s%s", i > 0 ? ";" : "", list[i].name.data);
    }

out:
    for (size_t i = 0; i < used; i++) {
        sl_buf_dispose(&list[i].name);
        sl_buf_dispose(&list[i].value);
    }
    free(list);
    return rc;
}

/* ---------------------------------------------------------------- signing */

void
sl_sigv4_output_init(struct sl_sigv4_output *out)
{
    memset(out, 0, sizeof(*out));
    sl_buf_init(&out->canonical_request, 0);
    sl_buf_init(&out->string_to_sign, 0);
    sl_buf_init(&out->signed_headers, 0);
    sl_buf_init(&out->authorization, 0);
}

void
sl_sigv4_output_dispose(struct sl_sigv4_output *out)
{
    sl_buf_dispose(&out->canonical_request);
    sl_buf_dispose(&out->string_to_sign);
    sl_buf_dispose(&out->signed_headers);
    sl_buf_dispose(&out->authorization);
}

static void
derive_signature(const struct sl_sigv4_input *in, const char *date8, struct sl_sigv4_output *out)
{
    unsigned char k[SHA256_DIGEST_LENGTH];
    unsigned char sig[SHA256_DIGEST_LENGTH];
    struct sl_buf secret;

    sl_buf_init(&secret, 0);
    sl_buf_printf(&secret, "AWS4%s", in->secret_access_key);
    hmac_sha256(secret.data, secret.len, date8, strlen(date8), k);
    hmac_sha256(k, sizeof(k), in->region, strlen(in->region), k);
    hmac_sha256(k, sizeof(k), in->service, strlen(in->service), k);
    hmac_sha256(k, sizeof(k), "aws4_request", strlen("aws4_request"), k);
    hmac_sha256(k, sizeof(k), out->string_to_sign.data, out->string_to_sign.len, sig);
    to_hex(sig, sizeof(sig), out->signature);

    OPENSSL_cleanse(secret.data, secret.len);
    OPENSSL_cleanse(k, sizeof(k));
    sl_buf_dispose(&secret);
}

enum sl_status
sl_sigv4_sign(const struct sl_sigv4_input *in, struct sl_sigv4_output *out, struct sl_errbuf *err)
{
    struct sl_sigv4_header *all = NULL;
    char hash[SL_SIGV4_HEX_LEN + 1];
    char date8[9];
    size_t n = 0;
    enum sl_status rc;

    if (in->method == NULL || in->path == NULL || in->path[0] != '/' || in->access_key_id == NULL ||
        in->secret_access_key == NULL || in->region == NULL || in->service == NULL) {
        sl_errbuf_set(err, "the request to sign lacks a method, a path starting with '/', "
                           "credentials, a region or a service");
        return SL_ERR_INVALID;
    }

    sl_sigv4_format_date(in->now_unix_s, out->amz_date);
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';
    sl_sigv4_sha256_hex(in->payload, in->payload_len, out->payload_hash);

    /* The caller's headers plus the ones the signer adds. */
    all = sl_xcalloc(in->n_headers + 3, sizeof(*all));
    for (size_t i = 0; i < in->n_headers; i++)
        all[n++] = in->headers[i];
    out->n_added = 0;
    if (!has_header(in, "x-amz-date"))
        out->added[out->n_added++] = (struct sl_sigv4_header){"X-Amz-Date", out->amz_date};
    if (in->session_token != NULL && !has_header(in, "x-amz-security-token"))
        out->added[out->n_added++] =
            (struct sl_sigv4_header){"X-Amz-Security-Token", in->session_token};
    if (in->sign_content_sha256 && !has_header(in, "x-amz-content-sha256"))
        out->added[out->n_added++] =
            (struct sl_sigv4_header){"x-amz-content-sha256", out->payload_hash};
    for (size_t i = 0; i < out->n_added; i++)
        all[n++] = out->added[i];

    /* Canonical request. */
    sl_buf_printf(&out->canonical_request, "%s\n", in->method);
    append_canonical_uri(&out->canonical_request, in->path);
    sl_buf_append(&out->canonical_request, "\n", 1);
    rc = append_canonical_query(&out->canonical_request, in->query, err);
    if (rc != SL_OK)
        goto out;
    sl_buf_append(&out->canonical_request, "\n", 1);
    rc = append_canonical_headers(&out->canonical_request, all, n, out, err);
    if (rc != SL_OK)
        goto out;
    sl_buf_printf(&out->canonical_request, "\n%s\n%s", out->signed_headers.data, out->payload_hash);

    /* String to sign. */
    sl_sigv4_sha256_hex(out->canonical_request.data, out->canonical_request.len, hash);
    sl_buf_printf(&out->string_to_sign, "%s\n%s\n%s/%s/%s/aws4_request\n%s", SL_SIGV4_ALGORITHM,
                  out->amz_date, date8, in->region, in->service, hash);

    derive_signature(in, date8, out);
    sl_buf_printf(&out->authorization,
                  "%s Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                  SL_SIGV4_ALGORITHM, in->access_key_id, date8, in->region, in->service,
                  out->signed_headers.data, out->signature);

out:
    free(all);
    return rc;
}
