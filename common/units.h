/* SPDX-License-Identifier: Apache-2.0 */
/*
 * units -- parsing of durations and sizes written by operators in config files and env vars.
 *
 * Both parsers take NUL-terminated text, accept only plain decimal numbers (no sign, exponent,
 * hex, "inf" or surrounding spaces) and never write `*out` on failure. Thread-safe.
 */
#ifndef SL_UNITS_H
#define SL_UNITS_H

#include <stdint.h>

#include "common/status.h"

/*
 * Parses a duration into seconds: a number of seconds ("30", "1.5") or a number followed by
 * one unit among s, m, h, d and w ("30s", "5m", "1h", "2d", "1w"). Returns SL_OK or
 * SL_ERR_INVALID.
 */
enum sl_status sl_units_parse_duration(const char *text, double *out_s);

/*
 * Parses a size in mebibytes ("32", "0.5") into bytes, rounded down. Returns SL_OK, or
 * SL_ERR_INVALID for bad text or a size that does not fit in 64 bits.
 */
enum sl_status sl_units_parse_size_mb(const char *text, uint64_t *out_bytes);

#endif /* SL_UNITS_H */
