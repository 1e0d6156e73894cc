/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics -- the registry, the lock-free update path and the text exposition; see metrics.h.
 *
 * Memory: a series has one cell pointer per shard. Cells come from per-shard arenas of
 * cache-line-aligned chunks, so the cells one thread writes sit together and apart from other
 * threads' cells. Series, cells and hash tables are only freed by sl_metrics_shutdown(), which
 * is what lets readers walk them without a lock.
 */
#define SL_LOG_MODULE "metrics"
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

#define CACHE_LINE_BYTES 64
#define ARENA_CHUNK_BYTES 4096
#define TABLE_INITIAL_SLOTS 16
/* Room for every label value of one series, each followed by a NUL. */
#define KEY_MAX_BYTES (SL_METRICS_MAX_LABELS * (SL_METRICS_LABEL_VALUE_MAX_BYTES + 1))
#define DROPPED_NAME "sluice_metrics_series_dropped_total"
#define MAX_SERIES_ENV "SLUICE_METRICS_MAX_SERIES"

const double sl_metrics_latency_buckets[] = {
    0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0,  1.5,  2.0,  2.5,   3.0,
    3.5,   4.0,     4.5,    5.0,   5.5,  6.0, 6.5, 7.0,  7.5,  8.0,  8.5,   9.0,
    9.5,   10.0,    15.0,   20.0,  25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0,
};
const size_t sl_metrics_latency_buckets_n =
    sizeof(sl_metrics_latency_buckets) / sizeof(sl_metrics_latency_buckets[0]);

const double sl_metrics_default_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
};
const size_t sl_metrics_default_buckets_n =
    sizeof(sl_metrics_default_buckets) / sizeof(sl_metrics_default_buckets[0]);

/* Open addressing, at most half full; slots are only ever filled, never cleared. */
struct table {
    struct table *retired_next;
    size_t mask;
    _Atomic(struct sl_metric *) slots[];
};

struct sl_metric {
    struct sl_metric_family *family;
    struct sl_metric *next; /* creation order, for the scrape */
    uint64_t hash;
    size_t key_len;
    char *key;                 /* the label values, each followed by a NUL */
    _Atomic uint64_t gauge;    /* gauges: the bits of a double */
    _Atomic uint64_t *cells[]; /* counters and histograms: one cell per shard */
};

struct sl_metric_family {
    enum sl_metric_type type;
    char *name;
    char *help;
    char *labels[SL_METRICS_MAX_LABELS];
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    size_t n_cell_slots; /* counter: the value; histogram: each bucket, +Inf, then the sum */
    size_t max_series;
    sl_metrics_read_cb read;
    void *read_arg;

    pthread_mutex_t lock; /* series creation and the scrape's walk */
    _Atomic(struct table *) table;
    struct table *retired;
    struct sl_metric *first;
    struct sl_metric *last;
    size_t n_series;
    struct sl_metric *overflow; /* the series of SL_METRICS_OVERFLOW_VALUE values, once used */
    _Atomic uint64_t dropped;
};

struct arena {
    char *chunk; /* the newest chunk; its first bytes link to the previous one */
    size_t used;
};

struct registry {
    pthread_mutex_t lock; /* the family list; held for a whole scrape */
    pthread_mutex_t arena_lock;
    unsigned shards;
    size_t env_max_series; /* SLUICE_METRICS_MAX_SERIES, or 0 when unset */
    struct arena *arenas;
    struct sl_metric_family **families;
    size_t n_families;
    size_t cap_families;
    atomic_uint next_shard;
};

static struct registry *reg;
static __thread unsigned thread_shard; /* shard + 1; 0 until the thread's first update */

/* ---------------------------------------------------------------- helpers */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Registration errors are bugs in a constant spec: print which one and abort. */
static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("metrics: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static uint64_t
to_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static double
from_bits(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

static void
atomic_add_double(_Atomic uint64_t *cell, double v)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(cell, &old, to_bits(from_bits(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

static unsigned
current_shard(void)
{
    unsigned shard = thread_shard;

    if (shard == 0) {
        shard = atomic_fetch_add_explicit(&reg->next_shard, 1, memory_order_relaxed) % reg->shards;
        thread_shard = shard + 1;
        return shard;
    }
    return (shard - 1) % reg->shards;
}

static uint64_t
hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;

    /* Eight bytes a step, each step a multiply and a shift: label keys run to hundreds of
     * bytes, and every request looks up one series per metric. */
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    for (; n > 0; p++, n--) {
        h = (h ^ (unsigned char)*p) * 0x94D049BB133111EBull;
        h ^= h >> 29;
    }
    return h;
}

static int
is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Returns the length of the valid UTF-8 character at `s` (NUL-terminated), or 0. */
static size_t
utf8_char_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return is_continuation(s[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        unsigned char hi = c == 0xED ? 0x9F : 0xBF; /* no UTF-16 surrogates */
        return s[1] >= lo && s[1] <= hi && is_continuation(s[2]) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
        return s[1] >= lo && s[1] <= hi && is_continuation(s[2]) && is_continuation(s[3]) ? 4 : 0;
    }
    return 0;
}

/* Copies `value` into `out` as valid UTF-8 of at most SL_METRICS_LABEL_VALUE_MAX_BYTES bytes,
 * followed by a NUL. Returns the bytes written, NUL included. */
static size_t
copy_label_value(const char *value, char *out)
{
    const unsigned char *s = (const unsigned char *)(value != NULL ? value : "");
    size_t n = 0;
    size_t whole = strnlen((const char *)s, SL_METRICS_LABEL_VALUE_MAX_BYTES + 1);
    unsigned char high = 0;

    /* A short ASCII value, by far the common case, is copied whole. */
    for (size_t i = 0; i < whole; i++)
        high |= s[i];
    if (whole <= SL_METRICS_LABEL_VALUE_MAX_BYTES && high < 0x80) {
        memcpy(out, s, whole);
        out[whole] = '\0';
        return whole + 1;
    }

    while (*s != '\0') {
        size_t len;

        /* ASCII, by far the common case, needs no decoding. */
        if (*s < 0x80) {
            if (n + 1 > SL_METRICS_LABEL_VALUE_MAX_BYTES)
                break;
            out[n++] = (char)*s++;
            continue;
        }
        len = utf8_char_len(s);
        if (n + (len != 0 ? len : 1) > SL_METRICS_LABEL_VALUE_MAX_BYTES)
            break;
        if (len == 0) {
            out[n++] = '?';
            s++;
            continue;
        }
        memcpy(out + n, s, len);
        n += len;
        s += len;
    }
    out[n++] = '\0';
    return n;
}

/* ---------------------------------------------------------------- validation */

static int
is_name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (colon && c == ':')
        return 1;
    return !first && c >= '0' && c <= '9';
}

static int
valid_name(const char *s, int colon)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    for (size_t i = 0; s[i] != '\0'; i++)
        if (!is_name_char(s[i], i == 0, colon))
            return 0;
    return 1;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Called with the registry lock held. */
static void
check_spec(enum sl_metric_type type, const struct sl_metric_spec *spec)
{
    size_t n_labels = 0;

    if (!valid_name(spec->name, 1))
        die("invalid metric name \"%s\"", spec->name != NULL ? spec->name : "(null)");
    if (spec->help == NULL)
        die("%s: help text missing", spec->name);
    if (type == SL_METRIC_COUNTER && !ends_with(spec->name, "_total"))
        die("%s: a counter name must end in _total", spec->name);
    if (strcmp(spec->name, DROPPED_NAME) == 0)
        die("%s: the name is reserved for the registry's own counter", spec->name);
    for (size_t i = 0; i < reg->n_families; i++)
        if (strcmp(reg->families[i]->name, spec->name) == 0)
            die("%s: registered twice", spec->name);

    for (; spec->labels != NULL && spec->labels[n_labels] != NULL; n_labels++) {
        const char *label = spec->labels[n_labels];

        if (n_labels == SL_METRICS_MAX_LABELS)
            die("%s: more than %d labels", spec->name, SL_METRICS_MAX_LABELS);
        if (!valid_name(label, 0) || strncmp(label, "__", 2) == 0 || strcmp(label, "le") == 0)
            die("%s: invalid or reserved label name \"%s\"", spec->name, label);
        for (size_t j = 0; j < n_labels; j++)
            if (strcmp(spec->labels[j], label) == 0)
                die("%s: label \"%s\" given twice", spec->name, label);
    }

    if (type != SL_METRIC_HISTOGRAM)
        return;
    if (spec->n_buckets == 0 || spec->n_buckets > SL_METRICS_MAX_BUCKETS || spec->buckets == NULL)
        die("%s: a histogram needs 1 to %d buckets", spec->name, SL_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < spec->n_buckets; i++)
        if (!isfinite(spec->buckets[i]) || (i > 0 && spec->buckets[i] <= spec->buckets[i - 1]))
            die("%s: bucket bounds must be finite and strictly increasing", spec->name);
}

/* ---------------------------------------------------------------- lifecycle */

/* Returns SLUICE_METRICS_MAX_SERIES as a positive count, or 0 (the built-in defaults) when it
 * is unset or invalid, which is logged. */
static size_t
read_env_max_series(void)
{
    const char *text = getenv(MAX_SERIES_ENV);
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] == '\0')
        return 0;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || n == 0 ||
        n > SL_METRICS_MAX_SERIES_LIMIT) {
        sl_log(SL_LOG_WARN, NULL, "metrics.invalid_max_series",
               SL_LOG_STR("message", MAX_SERIES_ENV " must be a whole number from 1 to 1000000; "
                                     "the built-in maximums apply"),
               SL_LOG_STR("value", text));
        return 0;
    }
    return (size_t)n;
}

void
sl_metrics_init(unsigned shards)
{
    if (reg != NULL)
        die("sl_metrics_init called twice");
    reg = sl_xcalloc(1, sizeof(*reg));
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->arena_lock, NULL);
    reg->shards = shards > 0 ? shards : 1;
    reg->arenas = sl_xcalloc(reg->shards, sizeof(*reg->arenas));
    reg->env_max_series = read_env_max_series();
}

static void
free_family(struct sl_metric_family *f)
{
    struct sl_metric *m = f->first;
    struct table *t = atomic_load_explicit(&f->table, memory_order_relaxed);

    while (m != NULL) {
        struct sl_metric *next = m->next;

        free(m->key);
        free(m);
        m = next;
    }
    free(t);
    while (f->retired != NULL) {
        t = f->retired;
        f->retired = t->retired_next;
        free(t);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

void
sl_metrics_shutdown(void)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n_families; i++)
        free_family(reg->families[i]);
    for (unsigned s = 0; s < reg->shards; s++) {
        char *chunk = reg->arenas[s].chunk;

        while (chunk != NULL) {
            char *prev;

            memcpy(&prev, chunk, sizeof(prev));
            free(chunk);
            chunk = prev;
        }
    }
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->arena_lock);
    free(reg->arenas);
    free(reg->families);
    free(reg);
    reg = NULL;
}

void
sl_metrics_bind_thread(unsigned index)
{
    thread_shard = (reg != NULL ? index % reg->shards : 0) + 1;
}

/* ---------------------------------------------------------------- series */

/* Returns `slots` zeroed 8-byte cells from shard `shard`'s arena. */
static _Atomic uint64_t *
arena_alloc(unsigned shard, size_t slots)
{
    struct arena *a = &reg->arenas[shard];
    size_t bytes = slots * sizeof(uint64_t);
    char *cell;

    /* The first cache line of a chunk stores the link to the previous chunk. */
    if (a->chunk == NULL || a->used + bytes > ARENA_CHUNK_BYTES) {
        char *chunk = aligned_alloc(CACHE_LINE_BYTES, ARENA_CHUNK_BYTES);

        if (chunk == NULL)
            die("out of memory");
        memset(chunk, 0, ARENA_CHUNK_BYTES);
        memcpy(chunk, &a->chunk, sizeof(a->chunk));
        a->chunk = chunk;
        a->used = CACHE_LINE_BYTES;
    }
    cell = a->chunk + a->used;
    a->used += bytes;
    return (_Atomic uint64_t *)(void *)cell;
}

static struct table *
table_create(size_t slots)
{
    struct table *t = sl_xcalloc(1, sizeof(*t) + slots * sizeof(t->slots[0]));

    t->mask = slots - 1;
    return t;
}

static struct sl_metric *
table_find(struct table *t, uint64_t hash, const char *key, size_t key_len)
{
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        struct sl_metric *m = atomic_load_explicit(&t->slots[i], memory_order_acquire);

        if (m == NULL)
            return NULL;
        if (m->hash == hash && m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            return m;
    }
}

/* Publishes `m` in `t`; the release store makes its fields visible to lock-free readers. */
static void
table_put(struct table *t, struct sl_metric *m)
{
    size_t i = m->hash & t->mask;

    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != NULL)
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slots[i], m, memory_order_release);
}

/* Called with f->lock held when the table would pass half full: readers still on the old
 * table miss, take the lock and find the series in the new one. */
static void
grow_table(struct sl_metric_family *f)
{
    struct table *old = atomic_load_explicit(&f->table, memory_order_relaxed);
    struct table *t = table_create((old->mask + 1) * 2);

    for (struct sl_metric *m = f->first; m != NULL; m = m->next)
        table_put(t, m);
    atomic_store_explicit(&f->table, t, memory_order_release);
    old->retired_next = f->retired;
    f->retired = old;
}

/* Creates the series for `key` with f->lock held. */
static struct sl_metric *
create_series(struct sl_metric_family *f, uint64_t hash, const char *key, size_t key_len)
{
    struct sl_metric *m = sl_xcalloc(1, sizeof(*m) + reg->shards * sizeof(m->cells[0]));
    struct table *t = atomic_load_explicit(&f->table, memory_order_relaxed);

    m->family = f;
    m->hash = hash;
    m->key_len = key_len;
    m->key = sl_xmalloc(key_len > 0 ? key_len : 1);
    memcpy(m->key, key, key_len);
    if (f->n_cell_slots > 0) {
        pthread_mutex_lock(&reg->arena_lock);
        for (unsigned s = 0; s < reg->shards; s++)
            m->cells[s] = arena_alloc(s, f->n_cell_slots);
        pthread_mutex_unlock(&reg->arena_lock);
    }

    if ((f->n_series + 1) * 2 > t->mask + 1) {
        grow_table(f);
        t = atomic_load_explicit(&f->table, memory_order_relaxed);
    }
    if (f->last != NULL)
        f->last->next = m;
    else
        f->first = m;
    f->last = m;
    f->n_series++;
    table_put(t, m);
    return m;
}

/*
 * Returns the family's overflow series, whose label values are all SL_METRICS_OVERFLOW_VALUE,
 * creating it past max_series if no series has those values yet. Counts the lookup as dropped
 * and logs the first one. Called with f->lock held.
 */
static struct sl_metric *
overflow_series(struct sl_metric_family *f)
{
    char key[KEY_MAX_BYTES];
    size_t key_len = 0;
    uint64_t hash;

    if (atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed) == 0)
        sl_log(SL_LOG_WARN, NULL, "metrics.series_limit",
               SL_LOG_STR("message", "the metric has its maximum number of series; updates for "
                                     "new label values go to its series with every label value "
                                     "\"" SL_METRICS_OVERFLOW_VALUE "\""),
               SL_LOG_STR("metric", f->name), SL_LOG_INT("max_series", f->max_series));
    if (f->overflow != NULL)
        return f->overflow;

    for (size_t i = 0; i < f->n_labels; i++)
        key_len += copy_label_value(SL_METRICS_OVERFLOW_VALUE, key + key_len);
    hash = hash_bytes(key, key_len);
    f->overflow =
        table_find(atomic_load_explicit(&f->table, memory_order_relaxed), hash, key, key_len);
    if (f->overflow == NULL)
        f->overflow = create_series(f, hash, key, key_len);
    return f->overflow;
}

struct sl_metric *
sl_metrics_series(struct sl_metric_family *f, const char *const *values)
{
    char key[KEY_MAX_BYTES];
    size_t key_len = 0;
    uint64_t hash;
    struct sl_metric *m;

    if (f == NULL || f->read != NULL)
        return NULL;
    for (size_t i = 0; i < f->n_labels; i++)
        key_len += copy_label_value(values != NULL ? values[i] : NULL, key + key_len);
    hash = hash_bytes(key, key_len);

    m = table_find(atomic_load_explicit(&f->table, memory_order_acquire), hash, key, key_len);
    if (m != NULL)
        return m;

    pthread_mutex_lock(&f->lock);
    m = table_find(atomic_load_explicit(&f->table, memory_order_relaxed), hash, key, key_len);
    if (m == NULL && f->n_series < f->max_series)
        m = create_series(f, hash, key, key_len);
    else if (m == NULL)
        m = overflow_series(f);
    pthread_mutex_unlock(&f->lock);
    return m;
}

/* ---------------------------------------------------------------- registration */

static void
add_family(struct sl_metric_family *f)
{
    if (reg->n_families == reg->cap_families) {
        reg->cap_families = reg->cap_families > 0 ? reg->cap_families * 2 : 16;
        reg->families =
            sl_xrealloc(reg->families, reg->cap_families * sizeof(reg->families[0]));
    }
    reg->families[reg->n_families++] = f;
}

/* The spec's max_series, else SLUICE_METRICS_MAX_SERIES, else the default for the type. */
static size_t
family_max_series(enum sl_metric_type type, const struct sl_metric_spec *spec, size_t n_labels)
{
    if (n_labels == 0)
        return 1;
    if (spec->max_series > 0)
        return spec->max_series;
    if (reg->env_max_series > 0)
        return reg->env_max_series;
    return type == SL_METRIC_HISTOGRAM ? SL_METRICS_MAX_HISTOGRAM_SERIES : SL_METRICS_MAX_SERIES;
}

static struct sl_metric_family *
family_create(enum sl_metric_type type, const char *name, const char *help)
{
    struct sl_metric_family *f = sl_xcalloc(1, sizeof(*f));

    f->type = type;
    f->name = sl_xstrdup(name);
    f->help = sl_xstrdup(help);
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

struct sl_metric_family *
sl_metrics_register(enum sl_metric_type type, const struct sl_metric_spec *spec)
{
    struct sl_metric_family *f;

    if (reg == NULL)
        die("%s: registered before sl_metrics_init", spec->name);
    pthread_mutex_lock(&reg->lock);
    check_spec(type, spec);

    f = family_create(type, spec->name, spec->help);
    for (; spec->labels != NULL && spec->labels[f->n_labels] != NULL; f->n_labels++)
        f->labels[f->n_labels] = sl_xstrdup(spec->labels[f->n_labels]);
    if (type == SL_METRIC_HISTOGRAM) {
        f->n_buckets = spec->n_buckets;
        f->buckets = sl_xmalloc(spec->n_buckets * sizeof(double));
        memcpy(f->buckets, spec->buckets, spec->n_buckets * sizeof(double));
        f->n_cell_slots = spec->n_buckets + 2;
    } else if (type == SL_METRIC_COUNTER) {
        f->n_cell_slots = 1;
    }
    f->max_series = family_max_series(type, spec, f->n_labels);
    atomic_init(&f->table, table_create(TABLE_INITIAL_SLOTS));
    add_family(f);
    pthread_mutex_unlock(&reg->lock);

    if (f->n_labels == 0)
        sl_metrics_series(f, NULL);
    return f;
}

void
sl_metrics_register_callback_gauge(const char *name, const char *help, sl_metrics_read_cb read,
                                   void *arg)
{
    struct sl_metric_spec spec = {.name = name, .help = help};
    struct sl_metric_family *f;

    if (reg == NULL)
        die("%s: registered before sl_metrics_init", name);
    if (read == NULL)
        die("%s: callback gauge without a callback", name);
    pthread_mutex_lock(&reg->lock);
    check_spec(SL_METRIC_GAUGE, &spec);
    f = family_create(SL_METRIC_GAUGE, name, help);
    f->read = read;
    f->read_arg = arg;
    atomic_init(&f->table, table_create(TABLE_INITIAL_SLOTS));
    add_family(f);
    pthread_mutex_unlock(&reg->lock);
}

/* ---------------------------------------------------------------- updates */

static void
check_type(const struct sl_metric *m, enum sl_metric_type type, const char *call)
{
    if (m->family->type != type)
        die("%s called on %s, which has another type", call, m->family->name);
}

void
sl_metric_add(struct sl_metric *m, double v)
{
    if (m == NULL || !(v >= 0))
        return;
    check_type(m, SL_METRIC_COUNTER, "sl_metric_add");
    atomic_add_double(m->cells[current_shard()], v);
}

void
sl_metric_set(struct sl_metric *m, double v)
{
    if (m == NULL)
        return;
    check_type(m, SL_METRIC_GAUGE, "sl_metric_set");
    atomic_store_explicit(&m->gauge, to_bits(v), memory_order_relaxed);
}

void
sl_metric_gauge_add(struct sl_metric *m, double v)
{
    if (m == NULL)
        return;
    check_type(m, SL_METRIC_GAUGE, "sl_metric_gauge_add");
    atomic_add_double(&m->gauge, v);
}

/* NaN is ignored: it would land in +Inf and turn _sum into NaN for good. */
void
sl_metric_observe(struct sl_metric *m, double v)
{
    struct sl_metric_family *f;
    _Atomic uint64_t *cell;
    size_t i = 0;

    if (m == NULL || isnan(v))
        return;
    check_type(m, SL_METRIC_HISTOGRAM, "sl_metric_observe");
    f = m->family;
    while (i < f->n_buckets && v > f->buckets[i])
        i++;
    cell = m->cells[current_shard()];
    atomic_fetch_add_explicit(&cell[i], 1, memory_order_relaxed);
    atomic_add_double(&cell[f->n_buckets + 1], v);
}

void
sl_metrics_counter_add(struct sl_metric_family *f, const char *const *values, double v)
{
    sl_metric_add(sl_metrics_series(f, values), v);
}

void
sl_metrics_gauge_set(struct sl_metric_family *f, const char *const *values, double v)
{
    sl_metric_set(sl_metrics_series(f, values), v);
}

void
sl_metrics_gauge_add(struct sl_metric_family *f, const char *const *values, double v)
{
    sl_metric_gauge_add(sl_metrics_series(f, values), v);
}

void
sl_metrics_observe(struct sl_metric_family *f, const char *const *values, double v)
{
    sl_metric_observe(sl_metrics_series(f, values), v);
}

/* ---------------------------------------------------------------- exposition */

/*
 * Writes `v` in the shortest form that reads back equal. Integral values keep a ".0", as
 * Python's prometheus_client (floatToGoString, used by LiteLLM) writes them, so bucket labels
 * match LiteLLM's (le="1.0"). Values of 1e6 and more are spelled differently but parse equal.
 */
static void
append_double(struct sl_buf *out, double v)
{
    char tmp[40];

    if (isnan(v)) {
        sl_buf_append_str(out, "NaN");
        return;
    }
    if (isinf(v)) {
        sl_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e16) {
        sl_buf_printf(out, "%.0f.0", v);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(tmp, sizeof(tmp), "%.*g", precision, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    sl_buf_append_str(out, tmp);
}

/* Escapes backslash and newline, plus the double quote inside label values. */
static void
append_escaped(struct sl_buf *out, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            sl_buf_append_str(out, "\\\\");
        else if (*s == '\n')
            sl_buf_append_str(out, "\\n");
        else if (quote && *s == '"')
            sl_buf_append_str(out, "\\\"");
        else
            sl_buf_append(out, s, 1);
    }
}

/* Writes `name<suffix>{label="value",...,le="x"} ` for series `m` (NULL: no labels). */
static void
append_sample_name(struct sl_buf *out, const struct sl_metric_family *f,
                   const struct sl_metric *m, const char *suffix, const char *le)
{
    const char *value = m != NULL ? m->key : "";
    int any = 0;

    sl_buf_append_str(out, f->name);
    sl_buf_append_str(out, suffix);
    for (size_t i = 0; i < f->n_labels; i++) {
        sl_buf_append_str(out, any ? "," : "{");
        sl_buf_append_str(out, f->labels[i]);
        sl_buf_append_str(out, "=\"");
        append_escaped(out, value, 1);
        sl_buf_append_str(out, "\"");
        value += strlen(value) + 1;
        any = 1;
    }
    if (le != NULL) {
        sl_buf_append_str(out, any ? ",le=\"" : "{le=\"");
        sl_buf_append_str(out, le);
        sl_buf_append_str(out, "\"");
        any = 1;
    }
    sl_buf_append_str(out, any ? "} " : " ");
}

static double
sum_shards(const struct sl_metric *m, size_t slot)
{
    double sum = 0;

    for (unsigned s = 0; s < reg->shards; s++)
        sum += from_bits(atomic_load_explicit(&m->cells[s][slot], memory_order_relaxed));
    return sum;
}

static uint64_t
count_shards(const struct sl_metric *m, size_t slot)
{
    uint64_t sum = 0;

    for (unsigned s = 0; s < reg->shards; s++)
        sum += atomic_load_explicit(&m->cells[s][slot], memory_order_relaxed);
    return sum;
}

/* _count is the sum of the buckets, not a cell of its own, so it always equals le="+Inf". */
static void
render_histogram(struct sl_buf *out, const struct sl_metric_family *f, const struct sl_metric *m)
{
    uint64_t cumulative = 0;
    struct sl_buf le;

    sl_buf_init(&le, 0);
    for (size_t i = 0; i <= f->n_buckets; i++) {
        cumulative += count_shards(m, i);
        sl_buf_reset(&le);
        if (i < f->n_buckets)
            append_double(&le, f->buckets[i]);
        else
            sl_buf_append_str(&le, "+Inf");
        append_sample_name(out, f, m, "_bucket", le.data);
        sl_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
    }
    sl_buf_dispose(&le);
    append_sample_name(out, f, m, "_sum", NULL);
    append_double(out, sum_shards(m, f->n_buckets + 1));
    sl_buf_append_str(out, "\n");
    append_sample_name(out, f, m, "_count", NULL);
    sl_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
}

static void
render_family(struct sl_buf *out, struct sl_metric_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};

    sl_buf_printf(out, "# HELP %s ", f->name);
    append_escaped(out, f->help, 0);
    sl_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    if (f->read != NULL) {
        append_sample_name(out, f, NULL, "", NULL);
        append_double(out, f->read(f->read_arg));
        sl_buf_append_str(out, "\n");
        return;
    }

    pthread_mutex_lock(&f->lock);
    for (const struct sl_metric *m = f->first; m != NULL; m = m->next) {
        if (f->type == SL_METRIC_HISTOGRAM) {
            render_histogram(out, f, m);
            continue;
        }
        append_sample_name(out, f, m, "", NULL);
        if (f->type == SL_METRIC_COUNTER)
            append_double(out, sum_shards(m, 0));
        else
            append_double(out, from_bits(atomic_load_explicit(&m->gauge, memory_order_relaxed)));
        sl_buf_append_str(out, "\n");
    }
    pthread_mutex_unlock(&f->lock);
}

/* The registry's own counter: one series per family that has labels. */
static void
render_dropped(struct sl_buf *out)
{
    sl_buf_append_str(out, "# HELP " DROPPED_NAME " Lookups of new label values that the metric "
                           "had no room for, so the update went to its series whose label "
                           "values are all " SL_METRICS_OVERFLOW_VALUE ".\n"
                           "# TYPE " DROPPED_NAME " counter\n");
    for (size_t i = 0; i < reg->n_families; i++) {
        const struct sl_metric_family *f = reg->families[i];

        if (f->n_labels == 0)
            continue;
        sl_buf_append_str(out, DROPPED_NAME "{metric=\"");
        sl_buf_append_str(out, f->name);
        sl_buf_append_str(out, "\"} ");
        append_double(out, (double)atomic_load_explicit(&f->dropped, memory_order_relaxed));
        sl_buf_append_str(out, "\n");
    }
}

enum sl_status
sl_metrics_render(struct sl_buf *out)
{
    struct sl_buf text;
    enum sl_status st;

    if (reg == NULL)
        return SL_OK;

    /* The text is built without a cap (the series caps bound it) and appended in one call, so
     * a full `out` fails whole instead of losing lines in the middle. */
    sl_buf_init(&text, 0);
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n_families; i++)
        render_family(&text, reg->families[i]);
    render_dropped(&text);
    pthread_mutex_unlock(&reg->lock);

    st = sl_buf_append(out, text.data, text.len);
    sl_buf_dispose(&text);
    return st;
}
