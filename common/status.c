/* SPDX-License-Identifier: Apache-2.0 */
/* status -- messages and HTTP statuses of enum sl_status, from the table in status.h. */
#include "common/status.h"

#include <stdio.h>

const char *
sl_status_str(enum sl_status st)
{
    switch (st) {
#define SL_STATUS_CASE(name, http, msg)                                                            \
    case SL_##name:                                                                                \
        return msg;
        SL_STATUS_MAP(SL_STATUS_CASE)
#undef SL_STATUS_CASE
    }
    return "unknown status";
}

int
sl_status_http(enum sl_status st)
{
    switch (st) {
#define SL_STATUS_CASE(name, http, msg)                                                            \
    case SL_##name:                                                                                \
        return http;
        SL_STATUS_MAP(SL_STATUS_CASE)
#undef SL_STATUS_CASE
    }
    return 500;
}

void
sl_errbuf_set(struct sl_errbuf *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}
