/* SPDX-License-Identifier: Apache-2.0 */
/* json -- depth-capped parsing and escaping; see json.h. */
#include "common/json.h"

#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"

int
sl_json_depth(const char *text, size_t len)
{
    int depth = 0;
    int max = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++; /* skip the escaped character, including an escaped quote */
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
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

enum sl_status
sl_json_parse(const char *text, size_t len, int max_depth, cJSON **out, struct sl_errbuf *err)
{
    const char *end = NULL;
    cJSON *root;

    if (sl_json_depth(text, len) > max_depth) {
        sl_errbuf_set(err, "JSON is nested deeper than %d levels", max_depth);
        return SL_ERR_TOO_DEEP;
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

enum sl_status
sl_json_replace_top_string(const char *json, size_t len, const char *key, const char *value,
                           struct sl_buf *out)
{
    size_t key_len = strlen(key);
    size_t i = skip_blanks(json, len, 0);
    int depth = 0;
    int expect_key = 1;

    if (i >= len || json[i] != '{')
        return SL_ERR_INVALID;

    /* Walk the top-level members: at depth 1 a string after '{' or ',' is a member name. */
    for (; i < len; i++) {
        char c = json[i];

        if (c == '"') {
            size_t end = skip_string(json, len, i);

            if (depth == 1 && expect_key && end - i - 2 == key_len &&
                memcmp(json + i + 1, key, key_len) == 0) {
                size_t v = skip_blanks(json, len, end);

                if (v < len && json[v] == ':')
                    v = skip_blanks(json, len, v + 1);
                if (v < len && json[v] == '"') {
                    size_t v_end = skip_string(json, len, v);

                    sl_buf_append(out, json, v);
                    sl_json_append_string(out, value, strlen(value));
                    sl_buf_append(out, json + v_end, len - v_end);
                    return SL_OK;
                }
            }
            if (depth == 1 && expect_key)
                expect_key = 0;
            i = end - 1;
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth == 1)
                expect_key = 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            expect_key = 1;
        }
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
