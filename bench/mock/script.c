/* SPDX-License-Identifier: Apache-2.0 */
/*
 * script -- validation, parsing and FIFO matching of scripted responses.
 *
 * A script is validated once when it is queued (unknown fields and wrong types are rejected
 * with the field's name) and parsed again, from a private copy, by the request that uses it.
 */
#include "bench/mock/script.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

/* Headers that the mock computes itself; a script may not set them. */
static const char *const reserved_headers[] = {
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", NULL,
};

struct queued_script {
    cJSON *tree;
    enum sl_mock_route route;
    const char *model; /* points into tree; NULL matches any model */
    int64_t remaining; /* requests left to serve */
};

struct sl_mock_script_queue {
    struct queued_script *items;
    size_t len;
    size_t cap;
};

void
sl_mock_script_init_default(struct sl_mock_script *s)
{
    memset(s, 0, sizeof(*s));
    s->status = 200;
    s->finish_reason = "stop";
    s->cut_after = -1;
    s->error_after = -1;
    s->stall_after = -1;
    s->corrupt_after = -1;
}

void
sl_mock_script_dispose(struct sl_mock_script *s)
{
    for (size_t i = 0; i < s->header_count; i++) {
        free(s->headers[i].name);
        free(s->headers[i].value);
    }
    free(s->headers);
    free(s->body);
    cJSON_Delete(s->tree);
    sl_mock_script_init_default(s);
}

/* Reads an integer in [min, max] from `item`; the value must have no fractional part. */
static enum sl_status
get_int(const cJSON *item, int64_t min, int64_t max, int64_t *out, struct sl_errbuf *err)
{
    double d;

    if (!cJSON_IsNumber(item)) {
        sl_errbuf_set(err, "script field \"%s\" must be a number", item->string);
        return SL_ERR_INVALID;
    }
    d = item->valuedouble;
    if (d != floor(d) || d < (double)min || d > (double)max) {
        sl_errbuf_set(err, "script field \"%s\" must be an integer from %lld to %lld", item->string,
                      (long long)min, (long long)max);
        return SL_ERR_INVALID;
    }
    *out = (int64_t)d;
    return SL_OK;
}

static enum sl_status
get_delay(const cJSON *item, uint64_t *out, struct sl_errbuf *err)
{
    int64_t v;
    enum sl_status rc = get_int(item, 0, SL_MOCK_MAX_DELAY_MS, &v, err);

    if (rc == SL_OK)
        *out = (uint64_t)v;
    return rc;
}

static enum sl_status
get_string(const cJSON *item, const char **out, struct sl_errbuf *err)
{
    if (!cJSON_IsString(item)) {
        sl_errbuf_set(err, "script field \"%s\" must be a string", item->string);
        return SL_ERR_INVALID;
    }
    *out = item->valuestring;
    return SL_OK;
}

static int
is_reserved_header(const char *name)
{
    for (size_t i = 0; reserved_headers[i] != NULL; i++) {
        if (strcmp(name, reserved_headers[i]) == 0)
            return 1;
    }
    return 0;
}

/* Copies the `headers` object into `s`, lowercasing names; values may be strings or numbers. */
static enum sl_status
parse_headers(struct sl_mock_script *s, const cJSON *obj, struct sl_errbuf *err)
{
    const cJSON *h;
    size_t n = 0;

    if (!cJSON_IsObject(obj)) {
        sl_errbuf_set(err, "script field \"headers\" must be an object of strings");
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(h, obj) n++;
    s->headers = sl_xcalloc(n == 0 ? 1 : n, sizeof(*s->headers));
    cJSON_ArrayForEach(h, obj)
    {
        char *name = sl_xstrdup(h->string);
        size_t len = strlen(name);
        char num[32];
        const char *value = h->valuestring;

        for (char *p = name; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        s->headers[s->header_count].name = name;
        s->header_count++;
        if (len == 0 || strpbrk(name, " :\r\n\t") != NULL || is_reserved_header(name)) {
            sl_errbuf_set(err, "script header \"%s\" is not allowed (the mock sets it)", name);
            return SL_ERR_INVALID;
        }
        if (cJSON_IsNumber(h)) {
            snprintf(num, sizeof(num), "%.15g", h->valuedouble);
            value = num;
        } else if (!cJSON_IsString(h)) {
            sl_errbuf_set(err, "script header \"%s\" must be a string or a number", name);
            return SL_ERR_INVALID;
        }
        if (strpbrk(value, "\r\n") != NULL) {
            sl_errbuf_set(err, "script header \"%s\" contains a line break", name);
            return SL_ERR_INVALID;
        }
        s->headers[s->header_count - 1].value = sl_xstrdup(value);
    }
    return SL_OK;
}

static enum sl_status
parse_body(struct sl_mock_script *s, const cJSON *item)
{
    s->has_body = 1;
    if (cJSON_IsString(item)) {
        s->body_len = strlen(item->valuestring);
        s->body = sl_xstrndup(item->valuestring, s->body_len);
    } else {
        s->body = sl_json_print(item);
        s->body_len = strlen(s->body);
    }
    return SL_OK;
}

static enum sl_status
parse_finish_reason(struct sl_mock_script *s, const cJSON *item, struct sl_errbuf *err)
{
    if (cJSON_IsNull(item)) {
        s->finish_reason = NULL;
        return SL_OK;
    }
    return get_string(item, &s->finish_reason, err);
}

/* The values of a script's `route` field and the provider routes they stand for. */
static const struct {
    const char *name;
    enum sl_mock_route route;
} route_names[] = {
    {"chat", SL_MOCK_ROUTE_CHAT},
    {"models", SL_MOCK_ROUTE_MODELS},
    {"embeddings", SL_MOCK_ROUTE_EMBEDDINGS},
    {"completions", SL_MOCK_ROUTE_COMPLETIONS},
    {"messages", SL_MOCK_ROUTE_MESSAGES},
    {"count_tokens", SL_MOCK_ROUTE_COUNT_TOKENS},
};

/* Looks up a `route` value; returns 0 when the name is unknown. */
static int
route_from_name(const char *name, enum sl_mock_route *route)
{
    for (size_t i = 0; i < sizeof(route_names) / sizeof(route_names[0]); i++) {
        if (strcmp(name, route_names[i].name) == 0) {
            *route = route_names[i].route;
            return 1;
        }
    }
    return 0;
}

static enum sl_status
parse_route(const cJSON *item, struct sl_errbuf *err)
{
    enum sl_mock_route route;
    char names[256];
    size_t used = 0;

    if (cJSON_IsString(item) && route_from_name(item->valuestring, &route))
        return SL_OK;
    names[0] = '\0';
    for (size_t i = 0; i < sizeof(route_names) / sizeof(route_names[0]); i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s\"%s\"", i > 0 ? ", " : "",
                         route_names[i].name);

        if (n < 0 || (size_t)n >= sizeof(names) - used)
            break;
        used += (size_t)n;
    }
    sl_errbuf_set(err, "script field \"route\" must be one of %s", names);
    return SL_ERR_INVALID;
}

/* Checks `tool_calls`: an array of objects with a string name, an optional string id and an
 * optional object input. */
static enum sl_status
parse_tool_calls(struct sl_mock_script *s, const cJSON *item, struct sl_errbuf *err)
{
    const cJSON *call;

    if (!cJSON_IsArray(item)) {
        sl_errbuf_set(err, "script field \"tool_calls\" must be an array");
        return SL_ERR_INVALID;
    }
    cJSON_ArrayForEach(call, item)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(call, "input");

        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(call, "name")) ||
            (id != NULL && !cJSON_IsString(id)) || (input != NULL && !cJSON_IsObject(input))) {
            sl_errbuf_set(err, "each script tool call needs a string \"name\", and \"id\" and "
                               "\"input\" must be a string and an object when present");
            return SL_ERR_INVALID;
        }
    }
    s->tool_calls = item;
    return SL_OK;
}

/* Parses one member of the script object into `s`. */
static enum sl_status
parse_field(struct sl_mock_script *s, const cJSON *item, struct sl_errbuf *err)
{
    const char *k = item->string;
    const char *unused;
    int64_t v = 0;
    enum sl_status rc;

    if (strcmp(k, "route") == 0)
        return parse_route(item, err);
    if (strcmp(k, "model") == 0)
        return get_string(item, &unused, err);
    if (strcmp(k, "count") == 0)
        return get_int(item, 1, INT32_MAX, &v, err);
    if (strcmp(k, "status") == 0) {
        rc = get_int(item, 200, 599, &v, err);
        s->status = (int)v;
        return rc;
    }
    if (strcmp(k, "headers") == 0)
        return parse_headers(s, item, err);
    if (strcmp(k, "body") == 0)
        return parse_body(s, item);
    if (strcmp(k, "content_type") == 0)
        return get_string(item, &s->content_type, err);
    if (strcmp(k, "text") == 0)
        return get_string(item, &s->text, err);
    if (strcmp(k, "finish_reason") == 0)
        return parse_finish_reason(s, item, err);
    if (strcmp(k, "usage") == 0) {
        if (!cJSON_IsObject(item)) {
            sl_errbuf_set(err, "script field \"usage\" must be an object");
            return SL_ERR_INVALID;
        }
        s->usage = item;
        return SL_OK;
    }
    if (strcmp(k, "tool_calls") == 0)
        return parse_tool_calls(s, item, err);
    if (strcmp(k, "latency_ms") == 0)
        return get_delay(item, &s->latency_ms, err);
    if (strcmp(k, "first_chunk_ms") == 0)
        return get_delay(item, &s->first_chunk_ms, err);
    if (strcmp(k, "chunk_interval_ms") == 0)
        return get_delay(item, &s->chunk_interval_ms, err);
    if (strcmp(k, "chunks") == 0)
        return get_int(item, 1, 100 * 1000 * 1000, &s->chunks, err);
    if (strcmp(k, "chunk_bytes") == 0)
        return get_int(item, 1, 16 * 1024 * 1024, &s->chunk_bytes, err);
    if (strcmp(k, "cut_after_chunks") == 0)
        return get_int(item, 0, INT32_MAX, &s->cut_after, err);
    if (strcmp(k, "error_after_chunks") == 0)
        return get_int(item, 0, INT32_MAX, &s->error_after, err);
    if (strcmp(k, "stall_after_chunks") == 0)
        return get_int(item, 0, INT32_MAX, &s->stall_after, err);
    if (strcmp(k, "corrupt_after_chunks") == 0)
        return get_int(item, 0, INT32_MAX, &s->corrupt_after, err);
    if (strcmp(k, "omit_done") == 0) {
        if (!cJSON_IsBool(item)) {
            sl_errbuf_set(err, "script field \"omit_done\" must be true or false");
            return SL_ERR_INVALID;
        }
        s->omit_done = cJSON_IsTrue(item);
        return SL_OK;
    }
    sl_errbuf_set(err, "unknown script field \"%s\"", k);
    return SL_ERR_INVALID;
}

enum sl_status
sl_mock_script_parse(struct sl_mock_script *s, cJSON *tree, struct sl_errbuf *err)
{
    const cJSON *item;
    enum sl_status rc = SL_OK;

    sl_mock_script_init_default(s);
    s->tree = tree;
    if (!cJSON_IsObject(tree)) {
        sl_errbuf_set(err, "a script must be a JSON object");
        rc = SL_ERR_INVALID;
        goto out;
    }
    cJSON_ArrayForEach(item, tree)
    {
        rc = parse_field(s, item, err);
        if (rc != SL_OK)
            goto out;
    }
out:
    if (rc != SL_OK)
        sl_mock_script_dispose(s);
    return rc;
}

struct sl_mock_script_queue *
sl_mock_script_queue_create(void)
{
    return sl_xcalloc(1, sizeof(struct sl_mock_script_queue));
}

void
sl_mock_script_queue_clear(struct sl_mock_script_queue *q)
{
    for (size_t i = 0; i < q->len; i++)
        cJSON_Delete(q->items[i].tree);
    q->len = 0;
}

void
sl_mock_script_queue_destroy(struct sl_mock_script_queue *q)
{
    if (q == NULL)
        return;
    sl_mock_script_queue_clear(q);
    free(q->items);
    free(q);
}

enum sl_status
sl_mock_script_queue_push(struct sl_mock_script_queue *q, const cJSON *json, size_t *queued,
                          struct sl_errbuf *err)
{
    struct sl_mock_script check;
    struct queued_script *item;
    const cJSON *route, *model, *count;
    enum sl_status rc;

    rc = sl_mock_script_parse(&check, cJSON_Duplicate(json, 1), err);
    if (rc != SL_OK)
        return rc;
    sl_mock_script_dispose(&check);

    if (q->len == q->cap) {
        q->cap = q->cap == 0 ? 16 : q->cap * 2;
        q->items = sl_xrealloc(q->items, q->cap * sizeof(*q->items));
    }
    item = &q->items[q->len++];
    item->tree = cJSON_Duplicate(json, 1);
    route = cJSON_GetObjectItemCaseSensitive(item->tree, "route");
    model = cJSON_GetObjectItemCaseSensitive(item->tree, "model");
    count = cJSON_GetObjectItemCaseSensitive(item->tree, "count");
    item->route = SL_MOCK_ROUTE_CHAT;
    if (route != NULL)
        (void)route_from_name(route->valuestring, &item->route);
    item->model = model != NULL ? model->valuestring : NULL;
    item->remaining = count != NULL ? (int64_t)count->valuedouble : 1;
    *queued = q->len;
    return SL_OK;
}

cJSON *
sl_mock_script_queue_take(struct sl_mock_script_queue *q, enum sl_mock_route route,
                          const char *model)
{
    for (size_t i = 0; i < q->len; i++) {
        struct queued_script *item = &q->items[i];
        cJSON *copy;

        if (item->route != route)
            continue;
        if (item->model != NULL && (model == NULL || strcmp(item->model, model) != 0))
            continue;
        copy = cJSON_Duplicate(item->tree, 1);
        if (--item->remaining == 0) {
            cJSON_Delete(item->tree);
            memmove(item, item + 1, (q->len - i - 1) * sizeof(*item));
            q->len--;
        }
        return copy;
    }
    return NULL;
}
