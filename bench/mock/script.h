/* SPDX-License-Identifier: Apache-2.0 */
/*
 * script -- scripted responses queued through POST /_mock/responses.
 *
 * The queue stores each validated script as a JSON tree. A provider request takes the first
 * script whose route and model match (FIFO) and gets its own parsed copy, so the copy can be
 * used on the worker thread without the lock. The queue itself is not locked: the caller holds
 * the shared state's mutex around every queue call.
 */
#ifndef SL_MOCK_SCRIPT_H
#define SL_MOCK_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/status.h"

enum sl_mock_route {
    SL_MOCK_ROUTE_CHAT,
    SL_MOCK_ROUTE_MODELS,
    SL_MOCK_ROUTE_EMBEDDINGS,
    SL_MOCK_ROUTE_COMPLETIONS,
    SL_MOCK_ROUTE_MESSAGES, /* Anthropic's POST /v1/messages */
    SL_MOCK_ROUTE_COUNT_TOKENS, /* Anthropic's POST /v1/messages/count_tokens */
};

/* Maximum delay a script may request, in milliseconds. */
#define SL_MOCK_MAX_DELAY_MS (10u * 60u * 1000u)
/* The mock ends a stalled stream abruptly after this many milliseconds. */
#define SL_MOCK_STALL_MAX_MS (120u * 1000u)

struct sl_mock_header {
    char *name; /* lowercase */
    char *value;
};

/* One response to play. Strings point into `tree` or are owned, as noted. */
struct sl_mock_script {
    cJSON *tree; /* owned; NULL for the default script */
    int status;
    struct sl_mock_header *headers; /* owned array, strings owned */
    size_t header_count;
    char *body; /* owned; the exact response body when has_body is set */
    size_t body_len;
    int has_body;
    const char *content_type;  /* for `body`; NULL means application/json */
    const char *text;          /* NULL means the default text */
    const char *finish_reason; /* NULL means no finish chunk and a null finish_reason */
    const cJSON *usage;        /* object merged over the default usage, or NULL */
    const cJSON *tool_calls;   /* array of {"name","id"?,"input"?} (messages route), or NULL */
    uint64_t latency_ms;
    uint64_t first_chunk_ms;
    uint64_t chunk_interval_ms;
    int64_t chunks;      /* number of content chunks; 0 means one per word */
    int64_t chunk_bytes; /* filler bytes per chunk; 0 means use the text */
    int64_t cut_after;   /* content chunks before the action; -1 means never */
    int64_t error_after;
    int64_t stall_after;
    int omit_done;
    int64_t corrupt_after; /* AWS event-stream: content chunks before a frame with a bad CRC */
};

struct sl_mock_script_queue;

struct sl_mock_script_queue *sl_mock_script_queue_create(void);
void sl_mock_script_queue_destroy(struct sl_mock_script_queue *q);

/*
 * Validates the script object `json` and appends it. Returns SL_ERR_INVALID with the offending
 * field in `err` when a field is unknown or has the wrong type or range. On success `*queued`
 * is the number of scripts now waiting.
 */
enum sl_status sl_mock_script_queue_push(struct sl_mock_script_queue *q, const cJSON *json,
                                         size_t *queued, struct sl_errbuf *err);

/*
 * Removes one use of the first script for `route` whose model is absent or equals `model`.
 * A NULL `model` matches only scripts without a model. Returns a copy of the script's tree for
 * sl_mock_script_parse(), or NULL when no script matches.
 */
cJSON *sl_mock_script_queue_take(struct sl_mock_script_queue *q, enum sl_mock_route route,
                                 const char *model);

void sl_mock_script_queue_clear(struct sl_mock_script_queue *q);

/* Fills `s` with the defaults: status 200, default text, finish "stop", no delays. */
void sl_mock_script_init_default(struct sl_mock_script *s);

/*
 * Parses `tree` (taken over by `s` on success and on failure) into `s`. Also used by the queue
 * to validate scripts, so a tree returned by sl_mock_script_queue_take() always parses.
 */
enum sl_status sl_mock_script_parse(struct sl_mock_script *s, cJSON *tree, struct sl_errbuf *err);

void sl_mock_script_dispose(struct sl_mock_script *s);

#endif /* SL_MOCK_SCRIPT_H */
