/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigv4 -- AWS Signature Version 4 for requests signed in the Authorization header.
 *
 * Builds the canonical request, the string to sign and the Authorization value from a
 * request's method, path, query, headers and payload, with HMAC-SHA256 and SHA-256 from
 * OpenSSL. The gateway signs Bedrock requests with it and sluice-mock verifies them with it.
 * Pure functions, safe on any thread. Presigned URLs (signing in the query) are not built.
 */
#ifndef SL_SIGV4_H
#define SL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

/* Length of an X-Amz-Date value ("20150830T123600Z") without its NUL. */
#define SL_SIGV4_DATE_LEN 16
/* Length of a hex SHA-256 digest without its NUL. */
#define SL_SIGV4_HEX_LEN 64

struct sl_sigv4_header {
    const char *name;
    const char *value;
};

/* A request to sign. Every pointer is borrowed for the duration of the call. */
struct sl_sigv4_input {
    const char *method;
    const char *path;  /* as sent on the wire, already percent-encoded, e.g. "/model/a%3Ab/x" */
    const char *query; /* without '?', percent-encoded; NULL or "" for none */
    const struct sl_sigv4_header *headers; /* every header to sign, including Host */
    size_t n_headers;
    const void *payload;
    size_t payload_len;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL: none; else signed as x-amz-security-token */
    const char *region;
    const char *service; /* the signing name, e.g. "bedrock" */
    int64_t now_unix_s;
    int sign_content_sha256; /* 1: also sign an x-amz-content-sha256 header */
};

/* The results; sl_sigv4_output_dispose() frees the buffers. */
struct sl_sigv4_output {
    char amz_date[SL_SIGV4_DATE_LEN + 1];    /* the X-Amz-Date header value */
    char payload_hash[SL_SIGV4_HEX_LEN + 1]; /* hex SHA-256 of the payload */
    struct sl_buf canonical_request;
    struct sl_buf string_to_sign;
    struct sl_buf signed_headers; /* "host;x-amz-date", for the Authorization */
    char signature[SL_SIGV4_HEX_LEN + 1];
    struct sl_buf authorization; /* the Authorization header value */
    /* Headers the caller must send beside its own. The signer adds X-Amz-Date, and
     * X-Amz-Security-Token or x-amz-content-sha256 when asked, unless `headers` already has
     * them. Names point to static strings and values into this struct. */
    struct sl_sigv4_header added[3];
    size_t n_added;
};

void sl_sigv4_output_init(struct sl_sigv4_output *out);
void sl_sigv4_output_dispose(struct sl_sigv4_output *out);

/*
 * Signs `in` into `out` (initialised by the caller). The canonical URI encodes each path
 * segment again, as AWS services other than S3 expect. The query is decoded, re-encoded and
 * sorted. Header names are lower-cased, and values are trimmed with inner runs of spaces
 * collapsed.
 * Returns SL_ERR_INVALID with a reason in `err` for a missing field, a path that does not
 * start with '/', a header without a name, or a malformed percent escape.
 */
enum sl_status sl_sigv4_sign(const struct sl_sigv4_input *in, struct sl_sigv4_output *out,
                             struct sl_errbuf *err);

/* Writes the X-Amz-Date form of `unix_s` (UTC) into `out`. */
void sl_sigv4_format_date(int64_t unix_s, char out[SL_SIGV4_DATE_LEN + 1]);

/* Writes the lowercase hex SHA-256 of `len` bytes at `p` into `out`. */
void sl_sigv4_sha256_hex(const void *p, size_t len, char out[SL_SIGV4_HEX_LEN + 1]);

/* Appends `n` bytes of `s` percent-encoded: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX
 * with uppercase hex digits. */
void sl_sigv4_uri_encode(struct sl_buf *out, const char *s, size_t n);

#endif /* SL_SIGV4_H */
