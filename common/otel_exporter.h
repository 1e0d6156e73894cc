/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otel_exporter -- the process-wide OTLP/HTTP trace exporter.
 *
 * Worker threads hand finished spans to sl_otel_submit(), which only takes a short mutex to
 * put them in a bounded queue; when the queue is full the span is dropped and counted in
 * sluice_otel_spans_dropped_total{reason="queue_full"}. One background thread sends batches
 * (up to batch_max spans, or whatever waited batch_delay_ms) with its own curl easy handle,
 * retrying 429, 5xx and transport errors with exponential back-off a bounded number of times.
 * Batches it gives up on are counted with reason="export_failed".
 */
#ifndef SL_OTEL_EXPORTER_H
#define SL_OTEL_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/otlp.h"
#include "common/status.h"

/* Defaults of the exporter settings. */
#define SL_OTEL_QUEUE_MAX_SPANS 8192u
#define SL_OTEL_BATCH_MAX_SPANS 512u
#define SL_OTEL_BATCH_DELAY_MS 1000u
#define SL_OTEL_TIMEOUT_MS 10000u
#define SL_OTEL_MAX_RETRIES 3u
/* Headers taken from OTEL_EXPORTER_OTLP_HEADERS at most. */
#define SL_OTEL_MAX_HEADERS 32u

enum sl_otel_protocol {
    SL_OTEL_HTTP_PROTOBUF,
    SL_OTEL_HTTP_JSON,
};

/* The export settings: destination, encoding and headers of spans; all strings owned. */
struct sl_otel_config {
    char *endpoint; /* the full URL of the traces endpoint; NULL: tracing off */
    enum sl_otel_protocol protocol;
    char *service_name;
    char *headers[SL_OTEL_MAX_HEADERS]; /* "name: value" lines for curl */
    size_t n_headers;
    size_t queue_max;
    size_t batch_max;
    uint64_t batch_delay_ms;
    uint64_t timeout_ms;
    unsigned max_retries;
    uint64_t retry_base_ms; /* first back-off; doubled per retry */
};

/* Returns the value of environment variable `name`, or NULL; getenv() in production. */
typedef const char *(*sl_otel_getenv_fn)(const char *name);

/*
 * Reads the exporter settings from the environment through `get`:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as given), else OTEL_EXPORTER_OTLP_ENDPOINT or
 * LiteLLM's OTEL_ENDPOINT with its path set to /v1/traces; OTEL_EXPORTER_OTLP_PROTOCOL or
 * OTEL_EXPORTER (http/protobuf, otlp_http, http/json; grpc is not supported and falls back
 * to http/protobuf with a warning); OTEL_EXPORTER_OTLP_HEADERS or OTEL_HEADERS (k=v,k=v);
 * OTEL_SERVICE_NAME (default "litellm", as LiteLLM); OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or
 * OTEL_EXPORTER_OTLP_TIMEOUT in milliseconds. Leaves endpoint NULL when none is set. Returns
 * SL_ERR_CONFIG for an endpoint that is not an http(s) URL or a malformed header entry; header
 * values never appear in `err`.
 */
enum sl_status sl_otel_config_from_env(struct sl_otel_config *cfg, sl_otel_getenv_fn get,
                                       struct sl_errbuf *err);
void sl_otel_config_dispose(struct sl_otel_config *cfg);

/* Registers the exporter's metrics; call once after sl_metrics_init(), whether or not
 * tracing is on, so the counters are exposed as 0. */
void sl_otel_metrics_register(void);

/* Starts the export thread with `cfg`, which it takes over. Call before the workers start. */
enum sl_status sl_otel_start(struct sl_otel_config *cfg, struct sl_errbuf *err);

/* Returns 1 once sl_otel_start() succeeded and until sl_otel_stop(). Worker threads may read
 * it without a lock because it changes only while they do not run. */
int sl_otel_enabled(void);

/* Queues a finished span, taking it over (its fields are moved out, `span` is left empty).
 * Never blocks on the network; drops and counts the span when the queue is full. */
void sl_otel_submit(struct sl_otlp_span *span);

/* Sends what is queued, waiting at most `deadline_ms` in all, then ends the thread. Spans
 * still queued at the deadline are dropped with reason="shutdown". Call after the workers
 * ended. */
void sl_otel_stop(uint64_t deadline_ms);

#endif /* SL_OTEL_EXPORTER_H */
