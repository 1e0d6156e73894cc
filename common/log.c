/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log -- JSON lines on stdout. A line is formatted into a local buffer and written with one
 * write(2) under a mutex, so lines from different threads never interleave.
 */
#include "common/log.h"

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

void
sl_log_init(const char *proc)
{
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    const char *dbg = getenv("SLUICE_LOG_DEBUG");

    log_proc = proc;
    if (lvl != NULL) {
        for (int i = 0; i < 4; i++)
            if (strcasecmp(lvl, level_names[i]) == 0)
                sl_log_min_level = (enum sl_log_level)i;
    }
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
    return env_level != NULL && strcasecmp(env_level, "debug") == 0;
}

static void
append_ts(struct sl_buf *b)
{
    uint64_t ms = sl_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char ts[32];

    gmtime_r(&secs, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    sl_buf_printf(b, "{\"ts\":\"%s.%03uZ\"", ts, (unsigned)(ms % 1000));
}

static void
append_str_field(struct sl_buf *b, const char *key, const char *value)
{
    size_t n = strlen(value);

    sl_buf_printf(b, ",\"%s\":", key);
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
            if (f.v.s == NULL)
                sl_buf_printf(&b, ",\"%s\":null", f.key);
            else
                append_str_field(&b, f.key, f.v.s);
            break;
        case SL_LOG_T_INT:
            sl_buf_printf(&b, ",\"%s\":%lld", f.key, (long long)f.v.i);
            break;
        case SL_LOG_T_DBL:
            sl_buf_printf(&b, ",\"%s\":%.6g", f.key, f.v.d);
            break;
        case SL_LOG_T_BOOL:
            sl_buf_printf(&b, ",\"%s\":%s", f.key, f.v.i ? "true" : "false");
            break;
        case SL_LOG_T_RAW:
            sl_buf_printf(&b, ",\"%s\":%s", f.key, f.v.s != NULL ? f.v.s : "null");
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
