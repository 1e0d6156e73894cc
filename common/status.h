/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status -- the one error enum of Sluice, generated from an X-macro table.
 *
 * Each row gives the code, the HTTP status a client sees when the error ends a request, and a
 * short message. Lower layers return an enum sl_status and write human detail into a caller's
 * struct sl_errbuf; the edges (HTTP responses, logs) turn both into text.
 */
#ifndef SL_STATUS_H
#define SL_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#define SL_STATUS_MAP(X)                                                                           \
    X(OK, 200, "ok")                                                                               \
    X(ERR_INVALID, 400, "invalid input")                                                           \
    X(ERR_TOO_LARGE, 413, "input over its size limit")                                             \
    X(ERR_TOO_DEEP, 400, "input nested too deeply")                                                \
    X(ERR_NOT_FOUND, 404, "not found")                                                             \
    X(ERR_AUTH, 401, "authentication failed")                                                      \
    X(ERR_CONFIG, 500, "invalid configuration")                                                    \
    X(ERR_IO, 500, "input/output error")                                                           \
    X(ERR_UPSTREAM, 502, "upstream request failed")                                                \
    X(ERR_UPSTREAM_PROTO, 502, "upstream sent an invalid response")                                \
    X(ERR_REFUSED, 400, "refused by the provider's content policy")                                \
    X(ERR_TIMEOUT, 408, "timed out")                                                               \
    X(ERR_UNAVAILABLE, 503, "service unavailable")                                                 \
    X(ERR_STORE, 503, "state store unavailable")

enum sl_status {
#define SL_STATUS_ENUM(name, http, msg) SL_##name,
    SL_STATUS_MAP(SL_STATUS_ENUM)
#undef SL_STATUS_ENUM
};

/* Returns a static message for `st`; never NULL. */
const char *sl_status_str(enum sl_status st);

/* Returns the HTTP status a client gets when `st` ends its request. */
int sl_status_http(enum sl_status st);

/* Human detail that goes beside an enum sl_status: what failed, on which value. */
struct sl_errbuf {
    char msg[512];
};

/* Formats into `err` (truncating at its size); `err` may be NULL, which drops the message. */
void sl_errbuf_set(struct sl_errbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* SL_STATUS_H */
