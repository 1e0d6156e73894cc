/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log -- one JSON object per line on stdout, safe to call from any thread.
 *
 * Every line carries `ts` (RFC 3339 in ms, UTC), `level`, `event` (a stable dotted name that
 * alerts can key on), `proc`, `module` and, inside a request, `request_id`; typed fields follow.
 * The sl_log() macro tests the level before evaluating any argument, so a disabled line costs
 * one comparison. Strings are JSON-escaped and capped; the caller never logs keys, prompts or
 * completions unless the operator turned content logging on.
 *
 * A .c file names its module by defining SL_LOG_MODULE before including this header.
 * Environment: SLUICE_LOG_LEVEL (debug|info|warn|error, default info; without it, LiteLLM's
 * LITELLM_LOG with DEBUG, INFO, WARNING, ERROR or CRITICAL) and SLUICE_LOG_DEBUG
 * (comma-separated modules that log at debug level whatever the global level).
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdint.h>

#ifndef SL_LOG_MODULE
#define SL_LOG_MODULE "main"
#endif

enum sl_log_level {
    SL_LOG_DEBUG,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR,
};

enum sl_log_type {
    SL_LOG_T_END,
    SL_LOG_T_STR,
    SL_LOG_T_INT,
    SL_LOG_T_DBL,
    SL_LOG_T_BOOL,
    SL_LOG_T_RAW, /* already-valid JSON, copied as it is */
};

struct sl_log_field {
    const char *key;
    enum sl_log_type type;
    union {
        const char *s;
        int64_t i;
        double d;
    } v;
};

#define SL_LOG_STR(k, x) ((struct sl_log_field){.key = (k), .type = SL_LOG_T_STR, .v.s = (x)})
#define SL_LOG_INT(k, x)                                                                           \
    ((struct sl_log_field){.key = (k), .type = SL_LOG_T_INT, .v.i = (int64_t)(x)})
#define SL_LOG_DBL(k, x)                                                                           \
    ((struct sl_log_field){.key = (k), .type = SL_LOG_T_DBL, .v.d = (double)(x)})
#define SL_LOG_BOOL(k, x)                                                                          \
    ((struct sl_log_field){.key = (k), .type = SL_LOG_T_BOOL, .v.i = (x) ? 1 : 0})
#define SL_LOG_RAW(k, x) ((struct sl_log_field){.key = (k), .type = SL_LOG_T_RAW, .v.s = (x)})
#define SL_LOG_END ((struct sl_log_field){.key = 0, .type = SL_LOG_T_END})

extern enum sl_log_level sl_log_min_level;

/* Log `event` with the fields that follow; `request_id` may be NULL. */
#define sl_log(level, request_id, ...)                                                             \
    do {                                                                                           \
        if ((level) >= sl_log_min_level && sl_log_enabled((level), SL_LOG_MODULE))                 \
            sl_log_emit((level), SL_LOG_MODULE, (request_id), __VA_ARGS__, SL_LOG_END);            \
    } while (0)

/* Sets the `proc` field and reads the environment. Call once before threads start. */
void sl_log_init(const char *proc);

int sl_log_enabled(enum sl_log_level level, const char *module);

/* Writes one line; the variadic part is struct sl_log_field values ending with SL_LOG_END. */
void sl_log_emit(enum sl_log_level level, const char *module, const char *request_id,
                 const char *event, ...);

/*
 * Rate limit for repeated log lines: allow a line on the first call and then at most once per
 * `interval_ms`, counting what was suppressed in between. Not thread-safe: keep one per thread
 * or per object owned by one thread.
 */
struct sl_log_limiter {
    uint64_t last_ms;
    uint64_t pending;    /* lines dropped since the last allowed one */
    uint64_t suppressed; /* after sl_log_limiter_allow() returned 1: lines dropped before it */
    int used;
};

/* Returns 1 if the caller should log now, with the dropped count in `suppressed`. */
int sl_log_limiter_allow(struct sl_log_limiter *lim, uint64_t now_ms, uint64_t interval_ms);

#endif /* SL_LOG_H */
