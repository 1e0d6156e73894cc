/* SPDX-License-Identifier: Apache-2.0 */
/* units -- strict decimal numbers with duration and size units; see units.h. */
#include "common/units.h"

#include <stdlib.h>
#include <string.h>

/* Longer numbers are typing mistakes, and the cap keeps the copy for strtod() on the stack. */
#define SL_UNITS_MAX_DIGITS 40

/*
 * Reads "digits[.digits]" at the start of `text` into `*value` and returns the number of bytes
 * read, or 0 when `text` does not start with such a number. strtod() alone would also take
 * signs, exponents, hex, "nan" and leading spaces, which are not valid here.
 */
static size_t
parse_decimal(const char *text, double *value)
{
    char copy[SL_UNITS_MAX_DIGITS + 1];
    size_t i = 0;
    size_t int_digits = 0;
    size_t frac_digits = 0;

    while (text[i] >= '0' && text[i] <= '9') {
        i++;
        int_digits++;
    }
    if (int_digits > 0 && text[i] == '.') {
        i++;
        while (text[i] >= '0' && text[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits == 0)
            return 0;
    }
    if (int_digits == 0 || i > SL_UNITS_MAX_DIGITS)
        return 0;

    memcpy(copy, text, i);
    copy[i] = '\0';
    *value = strtod(copy, NULL);
    return i;
}

enum sl_status
sl_units_parse_duration(const char *text, double *out_s)
{
    double value;
    size_t n = parse_decimal(text, &value);
    double scale;

    if (n == 0)
        return SL_ERR_INVALID;

    switch (text[n]) {
    case '\0':
    case 's':
        scale = 1;
        break;
    case 'm':
        scale = 60;
        break;
    case 'h':
        scale = 3600;
        break;
    case 'd':
        scale = 86400;
        break;
    case 'w':
        scale = 7 * 86400;
        break;
    default:
        return SL_ERR_INVALID;
    }
    if (text[n] != '\0' && text[n + 1] != '\0')
        return SL_ERR_INVALID;

    *out_s = value * scale;
    return SL_OK;
}

enum sl_status
sl_units_parse_size_mb(const char *text, uint64_t *out_bytes)
{
    double mb;
    size_t n = parse_decimal(text, &mb);
    double bytes;

    if (n == 0 || text[n] != '\0')
        return SL_ERR_INVALID;

    /* 2^64 is exact as a double, so the comparison rejects every value that would overflow. */
    bytes = mb * 1048576.0;
    if (bytes >= 18446744073709551616.0)
        return SL_ERR_INVALID;

    *out_bytes = (uint64_t)bytes;
    return SL_OK;
}
