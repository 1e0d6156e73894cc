/* SPDX-License-Identifier: Apache-2.0 */
/*
 * url -- a URL as the gateway may show it outside the process: in response headers, /health,
 * metric labels, trace attributes and spend logs. Deployment URLs from the configuration can
 * carry a password in their user-info or a key in their query, and neither may leave the
 * process. Pure functions, thread-safe.
 */
#ifndef SL_URL_H
#define SL_URL_H

#include "common/buf.h"

/* Text that replaces the value of a query parameter that carries a credential. */
#define SL_URL_REDACTED "***"

/*
 * Appends `url` to `out` without its user-info ("user:password@" before the host), without
 * its fragment, and with the value of every credential query parameter replaced by
 * SL_URL_REDACTED. A URL without a scheme ("user:pw@host/v1") is read as starting with its
 * authority, as curl reads it, unless it starts with '/'. The authority ends at the first '/',
 * '?' or '#' and its user-info at the last '@' before that end, so an '@' in the path or the
 * query is kept. See sl_url_is_credential_param() for the parameter names.
 */
void sl_url_append_redacted(struct sl_buf *out, const char *url);

/*
 * Returns 1 when a query parameter named `name` (`len` bytes, still percent-encoded) carries
 * a credential. The name is percent-decoded, compared without case and with '-' read as '_'.
 * It carries one when it equals "sig", "auth", "code" or "x_amz_credential", or ends in "key",
 * "token", "secret", "password", "passwd" or "signature" (e.g. "key", "api_key",
 * "subscription-key", "access_token", "X-Amz-Signature").
 */
int sl_url_is_credential_param(const char *name, size_t len);

/*
 * Writes the form of `url` that sl_url_append_redacted() returns, without its query, to `out`
 * (`size` > 0 bytes, NUL-terminated, truncated to fit). This is the api_base that response
 * headers, metric labels, trace attributes and spend logs show.
 */
void sl_url_write_base(const char *url, char *out, size_t size);

#endif /* SL_URL_H */
