/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry -- one deployment's health check result as stored in Redis, and the table of them
 * that each gateway worker keeps.
 *
 * The coordinator writes every result as a JSON object into the hash <prefix>health:all
 * (field: the deployment id) and publishes the same text on <prefix>deployments:health. An
 * entry carries its own time to live: a reader ignores it once checked_at_ms + ttl_ms has
 * passed, so results of a coordinator that stopped checking fade out by themselves. Pure
 * functions and plain data, safe on any thread; the caller owns every table.
 */
#ifndef SL_HEALTH_ENTRY_H
#define SL_HEALTH_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"
#include "gateway/health/probe.h"

/* Length of a deployment id that an entry accepts, without the NUL. */
#define SL_HEALTH_ID_MAX 255u
/* Bytes of an encoded entry read from Redis at most; longer ones are rejected unparsed. */
#define SL_HEALTH_ENTRY_MAX_BYTES 2048u
/* Maximum entries of a table; a new id beyond that replaces the oldest result. */
#define SL_HEALTH_MAX_ENTRIES 4096u
/* Key of the hash and name of the channel, after the Redis key prefix. */
#define SL_HEALTH_HASH_KEY "health:all"
#define SL_HEALTH_CHANNEL  "deployments:health"

struct sl_health_entry {
    char id[SL_HEALTH_ID_MAX + 1];
    int healthy;                         /* 1: the last check passed */
    uint64_t checked_at_ms;              /* wall clock of the check's end, Unix ms */
    uint64_t ttl_ms;                     /* the entry is ignored from checked_at_ms + ttl_ms on */
    char error[SL_HEALTH_ERROR_MAX + 1]; /* "" when healthy */
};

/* Appends `e` as {"id":...,"healthy":...,"checked_at_ms":...,"ttl_ms":...,"error":...}. */
void sl_health_entry_encode(const struct sl_health_entry *e, struct sl_buf *out);

/*
 * Reads an encoded entry of `len` bytes. Returns SL_OK, SL_ERR_TOO_LARGE past
 * SL_HEALTH_ENTRY_MAX_BYTES, or SL_ERR_INVALID for anything else that is not an entry (an id
 * that is empty or too long, an error text too long, a missing member). `out` is written
 * only on SL_OK.
 */
enum sl_status sl_health_entry_decode(const char *text, size_t len, struct sl_health_entry *out);

/* Returns 1 while `e` is within its time to live at `now_ms`, else 0. */
int sl_health_entry_fresh(const struct sl_health_entry *e, uint64_t now_ms);

struct sl_health_table {
    struct sl_health_entry *entries; /* owned */
    size_t n;
    size_t cap;
};

void sl_health_table_init(struct sl_health_table *t);
void sl_health_table_dispose(struct sl_health_table *t);

/* Stores a copy of `e` unless the table contains a newer result of the same id. */
void sl_health_table_put(struct sl_health_table *t, const struct sl_health_entry *e);

/* Returns the fresh entry of `id` at `now_ms` (borrowed until the next put), or NULL. */
const struct sl_health_entry *sl_health_table_get(const struct sl_health_table *t, const char *id,
                                                  uint64_t now_ms);

#endif /* SL_HEALTH_ENTRY_H */
