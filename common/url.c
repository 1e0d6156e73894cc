/* SPDX-License-Identifier: Apache-2.0 */
/* url -- URLs without their credentials; see url.h. */
#include "common/url.h"

#include <stdint.h>
#include <string.h>

/* Longest decoded parameter name compared; a longer name counts as a credential. */
#define SL_URL_NAME_MAX 255

static const char *const exact_names[] = {"sig", "auth", "code", "x_amz_credential"};
static const char *const name_suffixes[] = {"key",      "token",  "secret",
                                            "password", "passwd", "signature"};

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

/* Writes the percent-decoded, lowercased name to `out` with '-' as '_'. Returns its length,
 * or SIZE_MAX when it does not fit in SL_URL_NAME_MAX bytes. */
static size_t
normalize_name(const char *name, size_t len, char out[SL_URL_NAME_MAX + 1])
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (c == '%' && i + 2 < len && hex_value(name[i + 1]) >= 0 &&
            hex_value(name[i + 2]) >= 0) {
            c = (char)(hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]));
            i += 2;
        }
        if (n == SL_URL_NAME_MAX)
            return SIZE_MAX;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (c == '-')
            c = '_';
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

int
sl_url_is_credential_param(const char *name, size_t len)
{
    char norm[SL_URL_NAME_MAX + 1];
    size_t n = normalize_name(name, len, norm);

    if (n == SIZE_MAX)
        return 1;
    for (size_t i = 0; i < sizeof(exact_names) / sizeof(exact_names[0]); i++)
        if (strcmp(norm, exact_names[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(name_suffixes) / sizeof(name_suffixes[0]); i++) {
        size_t slen = strlen(name_suffixes[i]);

        if (n >= slen && memcmp(norm + n - slen, name_suffixes[i], slen) == 0)
            return 1;
    }
    return 0;
}

/* Returns the length of a "scheme://" prefix of `url`, or 0 when it has none. */
static size_t
scheme_length(const char *url)
{
    size_t i = 0;

    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return 0;
    while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
           (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' || url[i] == '.')
        i++;
    if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/')
        return i + 3;
    return 0;
}

/* Appends the query `q` (`len` bytes, without its '?') with credential values redacted. */
static void
append_query(struct sl_buf *out, const char *q, size_t len)
{
    size_t pos = 0;

    while (pos <= len) {
        const char *param = q + pos;
        const char *amp = memchr(param, '&', len - pos);
        size_t plen = amp != NULL ? (size_t)(amp - param) : len - pos;
        const char *eq = memchr(param, '=', plen);

        if (eq != NULL && sl_url_is_credential_param(param, (size_t)(eq - param))) {
            sl_buf_append(out, param, (size_t)(eq - param) + 1);
            sl_buf_append_str(out, SL_URL_REDACTED);
        } else {
            sl_buf_append(out, param, plen);
        }
        if (amp == NULL)
            break;
        sl_buf_append_str(out, "&");
        pos += plen + 1;
    }
}

void
sl_url_append_redacted(struct sl_buf *out, const char *url)
{
    size_t scheme = scheme_length(url);
    const char *authority = url + scheme;
    size_t auth_len;
    const char *at;
    const char *rest;
    size_t path_len;

    if (scheme == 0 && url[0] == '/' && url[1] == '/')
        authority = url + 2; /* a scheme-relative URL */
    else if (scheme == 0 && url[0] == '/')
        authority = url; /* a path alone: no authority */
    sl_buf_append(out, url, (size_t)(authority - url));

    /* NOTE: a password with an unencoded '/', '?' or '#' ends the authority early, so its
     * tail is kept. Such a URL is invalid (RFC 3986) and curl cannot use it either. */
    auth_len = authority == url && url[0] == '/' ? 0 : strcspn(authority, "/?#");
    at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (authority[i] == '@')
            at = authority + i;
    if (at != NULL)
        sl_buf_append(out, at + 1, auth_len - (size_t)(at + 1 - authority));
    else
        sl_buf_append(out, authority, auth_len);

    rest = authority + auth_len;
    path_len = strcspn(rest, "?#");
    sl_buf_append(out, rest, path_len);
    rest += path_len;
    if (*rest == '?') {
        size_t qlen = strcspn(rest + 1, "#");

        sl_buf_append_str(out, "?");
        append_query(out, rest + 1, qlen);
    }
    /* The fragment is dropped: clients never send it, so it only ever carries local data. */
}

void
sl_url_write_base(const char *url, char *out, size_t size)
{
    struct sl_buf redacted;
    size_t len;

    sl_buf_init(&redacted, 0);
    sl_url_append_redacted(&redacted, url);
    len = redacted.len;
    if (redacted.data != NULL) {
        const char *query = memchr(redacted.data, '?', redacted.len);

        if (query != NULL)
            len = (size_t)(query - redacted.data);
    }
    if (len >= size)
        len = size - 1;
    if (len > 0)
        memcpy(out, redacted.data, len);
    out[len] = '\0';
    sl_buf_dispose(&redacted);
}
