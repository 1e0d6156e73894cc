/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log -- JSON lines on stdout. A line is formatted into a local buffer and written with one
 * write(2) under a mutex, so lines from different threads never interleave.
 */
#include "common/log.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"

/* A value longer than this is cut: logs must not grow with what a client sends. */
#define SL_LOG_VALUE_MAX_BYTES 2048
#define SL_LOG_LINE_MAX_BYTES (64 * 1024)

enum sl_log_level sl_log_min_level = SL_LOG_INFO;

static const char *log_proc = "sluice";
static char log_debug_modules[256];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Reads a level name: ours, or LiteLLM's LITELLM_LOG names (DEBUG, INFO, WARNING, ERROR,
 * CRITICAL). Returns -1 for anything else. */
static int
parse_level(const char *text)
{
    if (text == NULL)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, level_names[i]) == 0)
            return i;
    if (strcasecmp(text, "warning") == 0)
        return SL_LOG_WARN;
    if (strcasecmp(text, "critical") == 0)
        return SL_LOG_ERROR;
    return -1;
}

void
sl_log_init(const char *proc)
{
    int level = parse_level(getenv("SLUICE_LOG_LEVEL"));
    const char *dbg = getenv("SLUICE_LOG_DEBUG");

    log_proc = proc;
    /* SLUICE_LOG_LEVEL wins; LITELLM_LOG lets a LiteLLM deployment keep its setting. */
    if (level < 0)
        level = parse_level(getenv("LITELLM_LOG"));
    if (level >= 0)
        sl_log_min_level = (enum sl_log_level)level;
    if (dbg != NULL && dbg[0] != '\0') {
        snprintf(log_debug_modules, sizeof(log_debug_modules), ",%s,", dbg);
        sl_log_min_level = SL_LOG_DEBUG; /* the per-module test below filters */
    }
}

int
sl_log_enabled(enum sl_log_level level, const char *module)
{
    char needle[64];
    const char *env_level;

    if (level != SL_LOG_DEBUG || log_debug_modules[0] == '\0')
        return 1;

    /* Debug lines pass when their module is listed, or when the global level is debug. */
    snprintf(needle, sizeof(needle), ",%s,", module);
    if (strstr(log_debug_modules, needle) != NULL)
        return 1;
    env_level = getenv("SLUICE_LOG_LEVEL");
    if (env_level == NULL)
        env_level = getenv("LITELLM_LOG");
    return parse_level(env_level) == SL_LOG_DEBUG;
}

/* Appends `,"key":`. Keys are literals of the code, so they need no escaping. */
static void
append_key(struct sl_buf *b, const char *key)
{
    sl_buf_append(b, ",\"", 2);
    sl_buf_append_str(b, key);
    sl_buf_append(b, "\":", 2);
}

/* Appends `v` in decimal, without printf: the access line has several integers per request. */
static void
append_int(struct sl_buf *b, int64_t v)
{
    char text[24];
    size_t pos = sizeof(text);
    uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        text[--pos] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (v < 0)
        text[--pos] = '-';
    sl_buf_append(b, text + pos, sizeof(text) - pos);
}

/* Appends `,"key":v` with the shortest digits that read back as `v`, so a cost keeps every
 * digit and a duration in ms stays short. JSON has no NaN or infinity, so those are null. */
static void
append_double(struct sl_buf *b, const char *key, double v)
{
    char text[32];

    append_key(b, key);
    if (!isfinite(v)) {
        sl_buf_append_str(b, "null");
        return;
    }
    /* Below a million, %g prints a whole number without an exponent, as this does. */
    if (fabs(v) < 1e6 && v == (double)(int64_t)v && !signbit(v)) {
        append_int(b, (int64_t)v);
        return;
    }
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(text, sizeof(text), "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    sl_buf_append_str(b, text);
}

/* Appends `{"ts":"<UTC time with ms>"`. The text of the second is kept per thread, because
 * gmtime_r() and strftime() cost more than the rest of a short line. */
static void
append_ts(struct sl_buf *b)
{
    static __thread int64_t cached_secs = -1;
    static __thread char cached[32];
    uint64_t ms = sl_wall_ms();
    unsigned frac = (unsigned)(ms % 1000);
    char tail[7];

    if ((int64_t)(ms / 1000) != cached_secs) {
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_secs = (int64_t)(ms / 1000);
    }
    sl_buf_append_str(b, "{\"ts\":\"");
    sl_buf_append_str(b, cached);
    tail[0] = '.';
    tail[1] = (char)('0' + frac / 100);
    tail[2] = (char)('0' + frac / 10 % 10);
    tail[3] = (char)('0' + frac % 10);
    tail[4] = 'Z';
    tail[5] = '"';
    sl_buf_append(b, tail, 6);
}

static void
append_str_field(struct sl_buf *b, const char *key, const char *value)
{
    size_t n = strlen(value);

    append_key(b, key);
    sl_json_append_string(b, value, n > SL_LOG_VALUE_MAX_BYTES ? SL_LOG_VALUE_MAX_BYTES : n);
}

void
sl_log_emit(enum sl_log_level level, const char *module, const char *request_id,
            const char *event, ...)
{
    struct sl_buf b;
    va_list ap;

    sl_buf_init(&b, SL_LOG_LINE_MAX_BYTES);
    append_ts(&b);
    append_str_field(&b, "level", level_names[level]);
    append_str_field(&b, "event", event);
    append_str_field(&b, "proc", log_proc);
    append_str_field(&b, "module", module);
    if (request_id != NULL)
        append_str_field(&b, "request_id", request_id);

    va_start(ap, event);
    for (;;) {
        struct sl_log_field f = va_arg(ap, struct sl_log_field);

        if (f.type == SL_LOG_T_END)
            break;
        switch (f.type) {
        case SL_LOG_T_STR:
            if (f.v.s == NULL) {
                append_key(&b, f.key);
                sl_buf_append_str(&b, "null");
            } else {
                append_str_field(&b, f.key, f.v.s);
            }
            break;
        case SL_LOG_T_INT:
            append_key(&b, f.key);
            append_int(&b, f.v.i);
            break;
        case SL_LOG_T_DBL:
            append_double(&b, f.key, f.v.d);
            break;
        case SL_LOG_T_BOOL:
            append_key(&b, f.key);
            sl_buf_append_str(&b, f.v.i ? "true" : "false");
            break;
        case SL_LOG_T_RAW:
            append_key(&b, f.key);
            sl_buf_append_str(&b, f.v.s != NULL ? f.v.s : "null");
            break;
        case SL_LOG_T_END:
            break;
        }
    }
    va_end(ap);

    if (sl_buf_append(&b, "}\n", 2) != SL_OK) {
        /* Over the line cap: keep the fixed fields and say so rather than emit broken JSON. */
        sl_buf_reset(&b);
        append_ts(&b);
        append_str_field(&b, "level", level_names[level]);
        append_str_field(&b, "event", event);
        append_str_field(&b, "proc", log_proc);
        sl_buf_append_str(&b, ",\"truncated\":true}\n");
    }

    pthread_mutex_lock(&log_lock);
    for (size_t off = 0; off < b.len;) {
        ssize_t w = write(STDOUT_FILENO, b.data + off, b.len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
    sl_buf_dispose(&b);
}

int
sl_log_limiter_allow(struct sl_log_limiter *lim, uint64_t now_ms, uint64_t interval_ms)
{
    if (lim->used && now_ms - lim->last_ms < interval_ms) {
        lim->pending++;
        return 0;
    }
    lim->used = 1;
    lim->last_ms = now_ms;
    lim->suppressed = lim->pending;
    lim->pending = 0;
    return 1;
}
