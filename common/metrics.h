/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics -- the process-wide Prometheus registry: counters, gauges and histograms with fixed
 * label names, and their text exposition (format 0.0.4) for the /metrics route.
 *
 * Families are registered once at startup on the main thread and live until
 * sl_metrics_shutdown(). A family has one series (a "child") per combination of label values,
 * created on first use from any thread, up to a per-family maximum. Past it, updates for new
 * label values go to one overflow series whose label values are all SL_METRICS_OVERFLOW_VALUE.
 * Each such lookup is counted in sluice_metrics_series_dropped_total, and the first one per
 * family is logged.
 *
 * Threads: updates never take a lock once the series exists. Counter and histogram values are
 * split into shards, one per worker thread (sl_metrics_bind_thread), each in its own memory
 * arena so two threads never write the same cache line. A shard cell is updated with a relaxed
 * atomic add, so a thread that shares a shard with another still counts exactly. The scrape
 * sums the shards. A gauge is one atomic cell, since a set must replace the whole value.
 * Finding a series reads an insert-only hash table without a lock; creating one takes the
 * family's mutex. The design note is docs/observability.md.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>

#include "common/buf.h"

/*
 * Series per counter or gauge family, and per histogram family, when neither the registration
 * (max_series) nor the SLUICE_METRICS_MAX_SERIES environment variable sets a maximum. A
 * histogram series writes n_buckets + 3 lines (38 with the latency buckets), hence its lower
 * default. The overflow series comes on top.
 */
#define SL_METRICS_MAX_SERIES 1000
#define SL_METRICS_MAX_HISTOGRAM_SERIES 100
/* The largest value SLUICE_METRICS_MAX_SERIES may set. */
#define SL_METRICS_MAX_SERIES_LIMIT 1000000
/* The label values of the overflow series. */
#define SL_METRICS_OVERFLOW_VALUE "__other__"
/* Label values are cut to this many bytes, at a UTF-8 character boundary. */
#define SL_METRICS_LABEL_VALUE_MAX_BYTES 256
/* Label names per family. */
#define SL_METRICS_MAX_LABELS 16
/* Bucket upper bounds per histogram, without the implicit +Inf. */
#define SL_METRICS_MAX_BUCKETS 64

enum sl_metric_type {
    SL_METRIC_COUNTER,
    SL_METRIC_GAUGE,
    SL_METRIC_HISTOGRAM,
};

struct sl_metric_family;
struct sl_metric;

/*
 * The description of a family. sl_metrics_register() copies every pointer.
 * - name: the name as exposed; counters must end in "_total", as Prometheus clients expose
 *   them (LiteLLM's litellm_spend_metric is exposed as litellm_spend_metric_total).
 * - labels: label names ending with a NULL entry, or NULL for none. "le" is reserved.
 * - buckets: histograms only, strictly increasing finite upper bounds without +Inf.
 */
struct sl_metric_spec {
    const char *name;
    const char *help;
    const char *const *labels;
    const double *buckets;
    size_t n_buckets;
    size_t max_series; /* 0: the default, see SL_METRICS_MAX_SERIES */
};

/* LiteLLM's LATENCY_BUCKETS in seconds (35 bounds), used by its latency histograms. */
extern const double sl_metrics_latency_buckets[];
extern const size_t sl_metrics_latency_buckets_n;
/* The Prometheus client default buckets in seconds (14 bounds). */
extern const double sl_metrics_default_buckets[];
extern const size_t sl_metrics_default_buckets_n;

/*
 * Creates the registry with `shards` value shards (at least 1), usually one per worker thread
 * plus one for every other thread, and reads SLUICE_METRICS_MAX_SERIES (1 to
 * SL_METRICS_MAX_SERIES_LIMIT: the maximum series of every family that does not set its own;
 * another value is logged and ignored). Call once on the main thread before any registration.
 */
void sl_metrics_init(unsigned shards);

/* Frees every family and series. Call after every thread that updates metrics has ended. */
void sl_metrics_shutdown(void);

/*
 * Registers a family and returns its handle, valid until sl_metrics_shutdown(). A family
 * without labels gets its one series at once, so it is exposed as 0 before the first update.
 * An invalid name, label name or bucket list, or a name registered twice, is a programming
 * error: the process prints why and aborts. Thread-safe, but meant for startup.
 */
struct sl_metric_family *sl_metrics_register(enum sl_metric_type type,
                                             const struct sl_metric_spec *spec);

/* Called at every scrape for a callback gauge; `arg` is the one given at registration. */
typedef double (*sl_metrics_read_cb)(void *arg);

/*
 * Registers a gauge without labels whose value `read(arg)` returns at scrape time, e.g.
 * whether Redis is unreachable. `read` runs on the scraping worker thread while the registry
 * lock is held: it must be thread-safe, quick, and must not call this module.
 */
void sl_metrics_register_callback_gauge(const char *name, const char *help,
                                        sl_metrics_read_cb read, void *arg);

/*
 * Binds the calling thread to shard `index` modulo the shard count. Worker threads call it
 * when they start; a thread that never does gets shards in turn on its first update.
 */
void sl_metrics_bind_thread(unsigned index);

/*
 * Returns the series of `family` for `values` (one string per label name, in registration
 * order; a NULL entry means ""), creating it on first use. Values are cut to
 * SL_METRICS_LABEL_VALUE_MAX_BYTES and invalid UTF-8 bytes become '?'. When the family already
 * has max_series series, returns its overflow series instead and counts a dropped series. A
 * gauge's overflow series contains the last value set through it. Returns NULL for a callback
 * gauge or a NULL family; every update function accepts NULL and then does nothing. `values`
 * may be NULL for a family without labels. The handle stays valid until sl_metrics_shutdown(),
 * so it may be kept and reused.
 */
struct sl_metric *sl_metrics_series(struct sl_metric_family *family, const char *const *values);

/* Adds `v` (>= 0; other values are ignored) to a counter series. */
void sl_metric_add(struct sl_metric *m, double v);
/* Sets a gauge series. */
void sl_metric_set(struct sl_metric *m, double v);
/* Adds `v` (any sign) to a gauge series. */
void sl_metric_gauge_add(struct sl_metric *m, double v);
/* Records one observation of `v` in a histogram series. */
void sl_metric_observe(struct sl_metric *m, double v);

/* Look up the series, then update it: the usual calls from a request. */
void sl_metrics_counter_add(struct sl_metric_family *f, const char *const *values, double v);
void sl_metrics_gauge_set(struct sl_metric_family *f, const char *const *values, double v);
void sl_metrics_gauge_add(struct sl_metric_family *f, const char *const *values, double v);
void sl_metrics_observe(struct sl_metric_family *f, const char *const *values, double v);

/*
 * Appends the text exposition of every family to `out`, in registration order, series in
 * creation order, then sluice_metrics_series_dropped_total. Returns SL_OK, or SL_ERR_TOO_LARGE
 * when the text does not fit under the cap of `out`, which is then left unchanged.
 */
enum sl_status sl_metrics_render(struct sl_buf *out);

#endif /* SL_METRICS_H */
