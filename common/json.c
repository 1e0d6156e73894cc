/* SPDX-License-Identifier: Apache-2.0 */
/* json -- depth-capped parsing and escaping; see json.h. */
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"

/* Returns the length of the escape sequence starting at text[i] (a backslash), or 0 when it is
 * not one of JSON's: \" \\ \/ \b \f \n \r \t or \u with four hex digits. */
static size_t
escape_length(const char *text, size_t len, size_t i)
{
    if (i + 1 >= len)
        return 0;
    if (strchr("\"\\/bfnrt", text[i + 1]) != NULL && text[i + 1] != '\0')
        return 2;
    if (text[i + 1] != 'u' || i + 6 > len)
        return 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        char h = text[k];

        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
            return 0;
    }
    return 6;
}

static int
clamp_offset(size_t i)
{
    return i > INT32_MAX ? INT32_MAX : (int)i;
}

/* Scans `text` once for the maximum nesting depth and the first control byte that JSON does not
 * allow: unescaped inside a string, or outside strings other than its four whitespace bytes.
 * cJSON accepts both, and then reads a key such as "model\0x" as "model". Also finds the first
 * \u0000 escape: JSON allows it, but cJSON strings end at the NUL, so "lb\u0000x" would read
 * as "lb". */
static int
scan(const char *text, size_t len, int *bad_byte_at, int *nul_escape_at)
{
    int depth = 0;
    int max = 0;
    int in_string = 0;

    *bad_byte_at = -1;
    *nul_escape_at = -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\') {
                /* Only JSON's escapes: cJSON reads some others, and its reading of a bad \u
                 * can make a member name differ from what a strict parser sees. */
                size_t skip = escape_length(text, len, i);

                if (skip == 0 && *bad_byte_at < 0)
                    *bad_byte_at = clamp_offset(i);
                if (skip == 6 && *nul_escape_at < 0 && memcmp(text + i + 2, "0000", 4) == 0)
                    *nul_escape_at = clamp_offset(i);
                i += skip > 0 ? skip - 1 : 1;
            } else if (c == '"')
                in_string = 0;
            else if ((unsigned char)c < 0x20 && *bad_byte_at < 0)
                *bad_byte_at = clamp_offset(i); /* JSON wants it escaped */
            continue;
        }
        if ((unsigned char)c < 0x20 && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            if (*bad_byte_at < 0)
                *bad_byte_at = clamp_offset(i);
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int
sl_json_depth(const char *text, size_t len)
{
    int bad_byte_at;
    int nul_escape_at;

    return scan(text, len, &bad_byte_at, &nul_escape_at);
}

enum sl_status
sl_json_parse(const char *text, size_t len, int max_depth, cJSON **out, struct sl_errbuf *err)
{
    const char *end = NULL;
    cJSON *root;
    int bad_byte_at;
    int nul_escape_at;

    if (scan(text, len, &bad_byte_at, &nul_escape_at) > max_depth) {
        sl_errbuf_set(err, "JSON is nested deeper than %d levels", max_depth);
        return SL_ERR_TOO_DEEP;
    }
    if (bad_byte_at >= 0) {
        sl_errbuf_set(err, "invalid JSON: control character or bad escape at byte %d",
                      bad_byte_at);
        return SL_ERR_INVALID;
    }
    if (nul_escape_at >= 0) {
        sl_errbuf_set(err, "invalid JSON: strings must not contain \\u0000 (found at byte %d)",
                      nul_escape_at);
        return SL_ERR_INVALID;
    }

    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root == NULL) {
        size_t pos = 0;

        /* cJSON points at the byte where parsing stopped; it may lie outside on empty input. */
        if (end != NULL && end >= text && end <= text + len)
            pos = (size_t)(end - text);
        sl_errbuf_set(err, "invalid JSON at byte %zu", pos);
        return SL_ERR_INVALID;
    }

    /* Trailing bytes other than whitespace make the body invalid, as in strict parsers. */
    for (const char *p = end; p != NULL && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            sl_errbuf_set(err, "invalid JSON: unexpected data at byte %zu", (size_t)(p - text));
            cJSON_Delete(root);
            return SL_ERR_INVALID;
        }
    }

    *out = root;
    return SL_OK;
}

enum sl_status
sl_json_append_string(struct sl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    enum sl_status rc = sl_buf_append(b, "\"", 1);
    size_t run = 0;

    for (size_t i = 0; i < n && rc == SL_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t esc_len = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        rc = sl_buf_append(b, s + i - run, run);
        run = 0;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            esc_len = 6;
            break;
        }
        if (rc == SL_OK)
            rc = sl_buf_append(b, esc, esc_len);
    }
    if (rc == SL_OK)
        rc = sl_buf_append(b, s + n - run, run);
    if (rc == SL_OK)
        rc = sl_buf_append(b, "\"", 1);
    return rc;
}

const char *
sl_json_get_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

char *
sl_json_print(const cJSON *item)
{
    char *s = cJSON_PrintUnformatted(item);

    /* cJSON allocates through our aborting hooks, so NULL means an unprintable value. */
    return s != NULL ? s : sl_xstrdup("null");
}

/* Returns the index just past the JSON string starting at json[i] (a quote), or len. */
static size_t
skip_string(const char *json, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (json[i] == '\\')
            i++;
        else if (json[i] == '"')
            return i + 1;
    }
    return len;
}

static size_t
skip_blanks(const char *json, size_t len, size_t i)
{
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n'))
        i++;
    return i;
}

/* Returns the index just past the JSON value starting at json[i], or len. */
static size_t
skip_value(const char *json, size_t len, size_t i)
{
    int depth = 0;

    if (i < len && json[i] == '"')
        return skip_string(json, len, i);
    for (; i < len; i++) {
        char c = json[i];

        if (c == '"') {
            i = skip_string(json, len, i) - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            return i;
        }
    }
    return len;
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

/*
 * Returns 1 when the JSON string token json[start, end) (quotes included) decodes to `key`.
 * Escapes are decoded, so "mod\u0065l" matches "model"; a key that needs an escape beyond
 * the Basic Latin range never matches, which callers treat as "not found".
 */
static int
string_token_equals(const char *json, size_t start, size_t end, const char *key, size_t key_len)
{
    size_t k = 0;

    if (end < start + 2)
        return 0;
    for (size_t i = start + 1; i < end - 1; i++) {
        char c = json[i];

        if (c == '\\' && i + 1 < end - 1) {
            char e = json[++i];

            if (e == 'u' && i + 4 < end - 1) {
                int code = 0;

                for (int d = 1; d <= 4; d++) {
                    int h = hex_value(json[i + (size_t)d]);
                    if (h < 0)
                        return 0;
                    code = code * 16 + h;
                }
                if (code >= 0x80)
                    return 0;
                c = (char)code;
                i += 4;
            } else {
                static const char from[] = "\"\\/bfnrt";
                static const char to[] = "\"\\/\b\f\n\r\t";
                const char *at = strchr(from, e);

                if (at == NULL || e == '\0')
                    return 0;
                c = to[at - from];
            }
        }
        if (k >= key_len || key[k] != c)
            return 0;
        k++;
    }
    return k == key_len;
}

enum sl_status
sl_json_replace_top_raw(const char *json, size_t len, const char *key, const char *raw,
                        size_t raw_len, struct sl_buf *out)
{
    size_t key_len = strlen(key);
    size_t i = skip_blanks(json, len, 0);
    size_t copied = 0;
    int found = 0;

    if (i >= len || json[i] != '{')
        return SL_ERR_INVALID;

    /* Walk the top-level members. Every member spelled `key` (duplicates too) gets the new
     * value, so no reader can pick up the old one whichever duplicate it prefers. */
    i = skip_blanks(json, len, i + 1);
    while (i < len && json[i] == '"') {
        size_t name_end = skip_string(json, len, i);
        size_t v = skip_blanks(json, len, name_end);
        size_t v_end;

        if (v >= len || json[v] != ':')
            return SL_ERR_INVALID;
        v = skip_blanks(json, len, v + 1);
        v_end = skip_value(json, len, v);
        if (string_token_equals(json, i, name_end, key, key_len)) {
            sl_buf_append(out, json + copied, v - copied);
            sl_buf_append(out, raw, raw_len);
            copied = v_end;
            found = 1;
        }
        i = skip_blanks(json, len, v_end);
        if (i < len && json[i] == ',')
            i = skip_blanks(json, len, i + 1);
        else
            break;
    }

    if (!found) {
        /* Insert the member first, so the rest of the object keeps its bytes. */
        size_t open = skip_blanks(json, len, 0) + 1;
        size_t next = skip_blanks(json, len, open);

        sl_buf_append(out, json, open);
        sl_json_append_string(out, key, key_len);
        sl_buf_append(out, ":", 1);
        sl_buf_append(out, raw, raw_len);
        if (next < len && json[next] != '}')
            sl_buf_append(out, ",", 1);
        sl_buf_append(out, json + open, len - open);
        return SL_OK;
    }
    sl_buf_append(out, json + copied, len - copied);
    return SL_OK;
}

enum sl_status
sl_json_replace_top_string(const char *json, size_t len, const char *key, const char *value,
                           struct sl_buf *out)
{
    struct sl_buf quoted;
    enum sl_status rc;

    sl_buf_init(&quoted, 0);
    sl_json_append_string(&quoted, value, strlen(value));
    rc = sl_json_replace_top_raw(json, len, key, quoted.data, quoted.len, out);
    sl_buf_dispose(&quoted);
    return rc;
}

enum sl_status
sl_json_find_top(const char *json, size_t len, const char *key, size_t *start, size_t *end)
{
    size_t key_len = strlen(key);
    size_t i = skip_blanks(json, len, 0);

    if (i >= len || json[i] != '{')
        return SL_ERR_INVALID;

    i = skip_blanks(json, len, i + 1);
    while (i < len && json[i] == '"') {
        size_t name_end = skip_string(json, len, i);
        size_t v = skip_blanks(json, len, name_end);
        size_t v_end;

        if (v >= len || json[v] != ':')
            return SL_ERR_INVALID;
        v = skip_blanks(json, len, v + 1);
        v_end = skip_value(json, len, v);
        if (string_token_equals(json, i, name_end, key, key_len)) {
            *start = v;
            *end = v_end;
            return SL_OK;
        }
        i = skip_blanks(json, len, v_end);
        if (i < len && json[i] == ',')
            i = skip_blanks(json, len, i + 1);
        else
            break;
    }
    return SL_ERR_NOT_FOUND;
}

const char *
sl_json_duplicate_key(const cJSON *obj)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next)
        for (const cJSON *b = a->next; b != NULL; b = b->next)
            if (a->string != NULL && b->string != NULL && strcmp(a->string, b->string) == 0)
                return a->string;
    return NULL;
}

int
sl_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t extra;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i <= extra)
            return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0u) != 0x80u)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += extra + 1;
    }
    return 1;
}

int
sl_json_has_nul_escape(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        /* Skip the escaped character, so that "\\u0000" (a backslash, then text) is no match. */
        i++;
        if (text[i] == 'u' && len - i > 4 && memcmp(text + i + 1, "0000", 4) == 0)
            return 1;
    }
    return 0;
}

int
sl_json_has_duplicate_key(const cJSON *item)
{
    const cJSON *child;

    if (cJSON_IsObject(item) && sl_json_duplicate_key(item) != NULL)
        return 1;
    cJSON_ArrayForEach(child, item)
    {
        if ((cJSON_IsObject(child) || cJSON_IsArray(child)) && sl_json_has_duplicate_key(child))
            return 1;
    }
    return 0;
}
