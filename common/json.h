/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json -- helpers around cJSON for bytes that come from clients and providers.
 *
 * cJSON parses recursively, so nesting is checked by a linear scan before cJSON sees the text;
 * sizes are capped by the caller before the bytes are read. Everything here is thread-safe.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/status.h"

/* Nesting deeper than this in a request body is rejected before parsing. */
#define SL_JSON_MAX_DEPTH 64

/*
 * Parses `len` bytes of `text` (need not be NUL-terminated) into `*out`, which the caller frees
 * with cJSON_Delete. Fails with SL_ERR_TOO_DEEP past `max_depth` levels of arrays and objects,
 * or SL_ERR_INVALID with the position of the error in `err`. Stricter than JSON in one point:
 * the escape \u0000 is rejected, since cJSON would end the string at the NUL. `*out` is written
 * only on success.
 */
enum sl_status sl_json_parse(const char *text, size_t len, int max_depth, cJSON **out,
                             struct sl_errbuf *err);

/* Returns the maximum nesting depth of arrays and objects in `text`, ignoring string contents. */
int sl_json_depth(const char *text, size_t len);

/* Returns 1 when the `n` bytes at `p` are well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF), else 0. */
int sl_utf8_valid(const char *p, size_t n);

/* Returns 1 when the JSON text contains the escape \u0000 inside a string, which cJSON would
 * cut the string at, else 0. */
int sl_json_has_nul_escape(const char *text, size_t len);

/* Appends `s` (`n` bytes, may contain NUL) as a quoted JSON string; invalid UTF-8 passes as is. */
enum sl_status sl_json_append_string(struct sl_buf *b, const char *s, size_t n);

/* Returns the string value of `obj[key]`, or NULL when absent or not a string. Borrowed. */
const char *sl_json_get_string(const cJSON *obj, const char *key);

/*
 * Copies the JSON object `json` into `out` with the value of every top-level member named `key`
 * (escapes in member names are decoded) replaced by the string `value`, leaving every other
 * byte as it was. When no such member exists, it is inserted first in the object. Returns
 * SL_ERR_INVALID, with `out` unspecified, when `json` is not an object.
 */
enum sl_status sl_json_replace_top_string(const char *json, size_t len, const char *key,
                                          const char *value, struct sl_buf *out);

/* Like sl_json_replace_top_string(), with `raw_len` bytes of JSON text `raw` (an object, a
 * number, true, ...) as the new value, copied as they are. The caller checks `raw`. */
enum sl_status sl_json_replace_top_raw(const char *json, size_t len, const char *key,
                                       const char *raw, size_t raw_len, struct sl_buf *out);

/*
 * Finds the first top-level member named `key` of the JSON object `json` (escapes in member
 * names are decoded) and writes the byte range of its value, json[*start, *end). Returns
 * SL_OK, SL_ERR_NOT_FOUND when no member has that name, or SL_ERR_INVALID when `json` is not
 * an object. The range is only meaningful for a text that cJSON parses.
 */
enum sl_status sl_json_find_top(const char *json, size_t len, const char *key, size_t *start,
                                size_t *end);

/* Returns the name of the first top-level member of `obj` that appears twice, or NULL. */
const char *sl_json_duplicate_key(const cJSON *obj);

/* Returns 1 when an object anywhere in `item` (itself included) names a member twice. The
 * recursion is bounded by the depth cap `item` was parsed with. */
int sl_json_has_duplicate_key(const cJSON *item);

/* Prints `item` without whitespace into a new NUL-terminated string the caller frees. */
char *sl_json_print(const cJSON *item);

#endif /* SL_JSON_H */
