/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace -- the OpenTelemetry spans of one model request, handed to common/otel_exporter.h.
 *
 * A model request gets a SERVER span named "Received Proxy Server Request", as LiteLLM names
 * it, that carries LiteLLM's attributes (gen_ai.*, metadata.*, hidden_params) and ends when the
 * access log line is written. Each provider call, retries and fallbacks included, is a CLIENT
 * child span, and the provider receives a traceparent header naming that child. A valid
 * traceparent from the client continues its trace; otherwise the trace id is new.
 *
 * Every function does nothing when r->trace is NULL, which it is unless tracing is on, so a
 * request without tracing allocates nothing here. Loop thread only.
 */
#ifndef SL_TRACE_H
#define SL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/status.h"

struct sl_config;
struct sl_errbuf;
struct sl_request;
struct sl_trace;
struct sl_upstream_error;

/*
 * Starts the OTLP exporter when litellm_settings.callbacks or success_callback lists "otel"
 * and the environment names an endpoint (common/otel_exporter.h reads it); logs why tracing
 * stays off otherwise. Call on the main thread after sl_metrics_init() and before the
 * workers start. Returns SL_ERR_CONFIG for invalid OTEL_* variables.
 */
enum sl_status sl_trace_start(const struct sl_config *cfg, struct sl_errbuf *err);

/* Sends the spans still queued, waiting at most `deadline_ms`, and stops the exporter. Call
 * after the workers ended and before sl_metrics_shutdown(). */
void sl_trace_stop(uint64_t deadline_ms);

/* Starts the trace of `r` on a model route when tracing is on; call from sl_request_create(). */
void sl_trace_begin(struct sl_request *r);

/* Opens the span of the provider call about to start and appends its traceparent to
 * `*headers`. Call once per attempt, right before the call is created. */
void sl_trace_attempt_begin(struct sl_request *r, struct curl_slist **headers);

/* Ends the open attempt span: an error when `e` is set, else the call's HTTP status. Does
 * nothing when no attempt is open, so every way out of a call may call it. */
void sl_trace_attempt_end(struct sl_request *r, const struct sl_upstream_error *e);

/*
 * Opens a CLIENT child span named `name` for a call to a store (Redis or PostgreSQL) made for
 * `r` before its provider call, such as admission or the key lookup. Returns the span's index
 * for sl_trace_store_end(), or -1 when tracing is off or the request has too many.
 */
int sl_trace_store_begin(struct sl_request *r, const char *name);

/*
 * Writes the trace id and the server span id of `r` and returns 1 when `r` is traced, else
 * returns 0. For a store call that outlives the request, such as settlement, whose span the
 * caller builds and submits itself once the call ends.
 */
int sl_trace_ids(const struct sl_request *r, uint8_t trace_id[16], uint8_t span_id[8]);

/* Ends store span `index` with db.system `system` (NULL when no store was asked, as for a
 * record found in the worker's memory) and, on failure, the error `error`. -1 is ignored. */
void sl_trace_store_end(struct sl_request *r, int index, const char *system, const char *error);

/* Reads the response id, model and finish reasons of a whole response in the client's
 * format, and keeps its messages when content logging applies. */
void sl_trace_response(struct sl_request *r, const char *body, size_t len);

/* Ends the server span and queues every span of the request for export. */
void sl_trace_end(struct sl_request *r);

/* Frees the state; NULL is accepted. */
void sl_trace_free(struct sl_trace *t);

#endif /* SL_TRACE_H */
