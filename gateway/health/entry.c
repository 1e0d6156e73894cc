/* SPDX-License-Identifier: Apache-2.0 */
/* entry -- health check results in Redis and in a worker's table; see entry.h. */
#include "gateway/health/entry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"

/* The largest integer a JSON number carries exactly as a double. */
#define EXACT_INT_MAX 9007199254740992.0

void
sl_health_entry_encode(const struct sl_health_entry *e, struct sl_buf *out)
{
    sl_buf_append_str(out, "{\"id\":");
    sl_json_append_string(out, e->id, strlen(e->id));
    sl_buf_printf(out, ",\"healthy\":%s,\"checked_at_ms\":%llu,\"ttl_ms\":%llu,\"error\":",
                  e->healthy ? "true" : "false", (unsigned long long)e->checked_at_ms,
                  (unsigned long long)e->ttl_ms);
    sl_json_append_string(out, e->error, strlen(e->error));
    sl_buf_append_str(out, "}");
}

/* Reads a non-negative integer member; returns 0 when it is missing or not one. */
static int
get_count(const cJSON *root, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > EXACT_INT_MAX ||
        floor(v->valuedouble) != v->valuedouble)
        return 0;
    *out = (uint64_t)v->valuedouble;
    return 1;
}

enum sl_status
sl_health_entry_decode(const char *text, size_t len, struct sl_health_entry *out)
{
    struct sl_health_entry e;
    cJSON *root = NULL;
    const cJSON *healthy;
    const char *id;
    const char *error;
    enum sl_status rc = SL_ERR_INVALID;

    if (len > SL_HEALTH_ENTRY_MAX_BYTES)
        return SL_ERR_TOO_LARGE;
    if (sl_json_parse(text, len, 2, &root, NULL) != SL_OK)
        return SL_ERR_INVALID;

    memset(&e, 0, sizeof(e));
    id = sl_json_get_string(root, "id");
    error = sl_json_get_string(root, "error");
    healthy = cJSON_GetObjectItemCaseSensitive(root, "healthy");
    if (id == NULL || id[0] == '\0' || strlen(id) > SL_HEALTH_ID_MAX)
        goto out;
    if (error == NULL || strlen(error) > SL_HEALTH_ERROR_MAX || !cJSON_IsBool(healthy))
        goto out;
    if (!get_count(root, "checked_at_ms", &e.checked_at_ms) ||
        !get_count(root, "ttl_ms", &e.ttl_ms))
        goto out;
    memcpy(e.id, id, strlen(id) + 1);
    memcpy(e.error, error, strlen(error) + 1);
    e.healthy = cJSON_IsTrue(healthy);
    *out = e;
    rc = SL_OK;

out:
    cJSON_Delete(root);
    return rc;
}

int
sl_health_entry_fresh(const struct sl_health_entry *e, uint64_t now_ms)
{
    return now_ms < e->checked_at_ms + e->ttl_ms;
}

void
sl_health_table_init(struct sl_health_table *t)
{
    memset(t, 0, sizeof(*t));
}

void
sl_health_table_dispose(struct sl_health_table *t)
{
    free(t->entries);
    memset(t, 0, sizeof(*t));
}

static struct sl_health_entry *
find(const struct sl_health_table *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].id, id) == 0)
            return &t->entries[i];
    return NULL;
}

void
sl_health_table_put(struct sl_health_table *t, const struct sl_health_entry *e)
{
    struct sl_health_entry *slot = find(t, e->id);

    if (slot != NULL) {
        if (slot->checked_at_ms <= e->checked_at_ms)
            *slot = *e;
        return;
    }
    if (t->n == t->cap && t->cap < SL_HEALTH_MAX_ENTRIES) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;

        if (cap > SL_HEALTH_MAX_ENTRIES)
            cap = SL_HEALTH_MAX_ENTRIES;
        t->entries = sl_xrealloc(t->entries, cap * sizeof(*t->entries));
        t->cap = cap;
    }
    if (t->n < t->cap) {
        t->entries[t->n++] = *e;
        return;
    }
    /* Full: the oldest result makes room. */
    slot = &t->entries[0];
    for (size_t i = 1; i < t->n; i++)
        if (t->entries[i].checked_at_ms < slot->checked_at_ms)
            slot = &t->entries[i];
    *slot = *e;
}

const struct sl_health_entry *
sl_health_table_get(const struct sl_health_table *t, const char *id, uint64_t now_ms)
{
    const struct sl_health_entry *e = find(t, id);

    return e != NULL && sl_health_entry_fresh(e, now_ms) ? e : NULL;
}
