/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otel_exporter -- the span queue, its export thread and the settings from the environment;
 * see otel_exporter.h.
 */
#define SL_LOG_MODULE "otel"
#include "common/otel_exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"

/* Response bytes read from a collector; the rest is ignored. */
#define SL_OTEL_RESPONSE_MAX_BYTES 4096u
/* Longest accepted header entry and endpoint URL, in bytes. */
#define SL_OTEL_HEADER_MAX_BYTES 8192u
#define SL_OTEL_URL_MAX_BYTES 2048u

struct exporter {
    struct sl_otel_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct sl_otlp_span *queue; /* ring of cfg.queue_max spans */
    size_t head;
    size_t count;
    int stopping;
    uint64_t stop_at_ms; /* monotonic deadline once stopping */
    CURL *curl;
    struct curl_slist *headers;
};

static struct exporter exporter;
static int enabled;

static struct sl_metric *dropped_queue_full;
static struct sl_metric *dropped_export_failed;
static struct sl_metric *dropped_shutdown;
static struct sl_metric *exported_spans;
static struct sl_metric *failed_requests;

/* ---------------------------------------------------------------- settings */

static const char *
first_set(sl_otel_getenv_fn get, const char *a, const char *b)
{
    const char *v = get(a);

    if (v != NULL && v[0] != '\0')
        return v;
    v = b != NULL ? get(b) : NULL;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int
is_http_url(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* Returns `base` with its path replaced by /v1/traces, as LiteLLM normalises the endpoint. */
static char *
traces_url(const char *base)
{
    const char *host = strstr(base, "://") + 3;
    size_t host_len = strcspn(host, "/?#");
    struct sl_buf url;

    sl_buf_init(&url, 0);
    sl_buf_append(&url, base, (size_t)(host - base) + host_len);
    sl_buf_append_str(&url, "/v1/traces");
    return sl_buf_take(&url, NULL);
}

static int
is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Splits "k1=v1,k2=v2" on ',' and then on the first '='; no URL-decoding, as LiteLLM. Entry
 * positions, never values, go into `err`. */
static enum sl_status
parse_headers(struct sl_otel_config *cfg, const char *list, struct sl_errbuf *err)
{
    const char *p = list;
    size_t index = 0;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *entry = p;
        const char *eq = memchr(entry, '=', n);
        const char *name = entry;
        const char *value;
        size_t name_len;
        size_t value_len;

        index++;
        p += n;
        if (*p == ',')
            p++;
        trim(&entry, &n);
        if (n == 0)
            continue;
        if (eq == NULL || n > SL_OTEL_HEADER_MAX_BYTES) {
            sl_errbuf_set(err, "OTEL_EXPORTER_OTLP_HEADERS: entry %zu is not name=value", index);
            return SL_ERR_CONFIG;
        }
        name_len = (size_t)(eq - name);
        value = eq + 1;
        value_len = (size_t)(entry + n - value);
        trim(&name, &name_len);
        trim(&value, &value_len);
        for (size_t i = 0; i < name_len; i++)
            if (!is_token_char((unsigned char)name[i]))
                name_len = 0;
        for (size_t i = 0; i < value_len; i++)
            if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
                name_len = 0;
        if (name_len == 0) {
            sl_errbuf_set(err,
                          "OTEL_EXPORTER_OTLP_HEADERS: entry %zu has an invalid header name or a "
                          "control character in its value",
                          index);
            return SL_ERR_CONFIG;
        }
        if (cfg->n_headers == SL_OTEL_MAX_HEADERS) {
            sl_errbuf_set(err, "OTEL_EXPORTER_OTLP_HEADERS: more than %u entries",
                          SL_OTEL_MAX_HEADERS);
            return SL_ERR_CONFIG;
        }

        struct sl_buf line;

        sl_buf_init(&line, 0);
        sl_buf_printf(&line, "%.*s: %.*s", (int)name_len, name, (int)value_len, value);
        cfg->headers[cfg->n_headers++] = sl_buf_take(&line, NULL);
    }
    return SL_OK;
}

static enum sl_status
parse_protocol(struct sl_otel_config *cfg, const char *value, struct sl_errbuf *err)
{
    if (value == NULL || strcmp(value, "http/protobuf") == 0 || strcmp(value, "otlp_http") == 0 ||
        strcmp(value, "console") == 0) {
        /* LiteLLM switches "console" to OTLP/HTTP once an endpoint is set. */
        cfg->protocol = SL_OTEL_HTTP_PROTOBUF;
    } else if (strcmp(value, "http/json") == 0) {
        cfg->protocol = SL_OTEL_HTTP_JSON;
    } else if (strcmp(value, "grpc") == 0 || strcmp(value, "otlp_grpc") == 0) {
        sl_log(SL_LOG_WARN, NULL, "otel.protocol_unsupported", SL_LOG_STR("protocol", value),
               SL_LOG_STR("message", "OTLP over gRPC is not supported; sending http/protobuf "
                                     "to the same endpoint"));
        cfg->protocol = SL_OTEL_HTTP_PROTOBUF;
    } else {
        sl_errbuf_set(err,
                      "invalid OTEL_EXPORTER_OTLP_PROTOCOL \"%.64s\": expected http/protobuf, "
                      "http/json, otlp_http or grpc",
                      value);
        return SL_ERR_CONFIG;
    }
    return SL_OK;
}

static uint64_t
parse_timeout_ms(const char *value, uint64_t fallback)
{
    char *end = NULL;
    unsigned long long v;

    if (value == NULL)
        return fallback;
    errno = 0;
    v = strtoull(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v == 0 || v > 600000)
        return fallback;
    return v;
}

enum sl_status
sl_otel_config_from_env(struct sl_otel_config *cfg, sl_otel_getenv_fn get, struct sl_errbuf *err)
{
    const char *traces = first_set(get, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL);
    const char *base = first_set(get, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_ENDPOINT");
    const char *headers = first_set(get, "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_HEADERS");
    const char *service = first_set(get, "OTEL_SERVICE_NAME", NULL);
    const char *url = traces != NULL ? traces : base;
    enum sl_status rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->queue_max = SL_OTEL_QUEUE_MAX_SPANS;
    cfg->batch_max = SL_OTEL_BATCH_MAX_SPANS;
    cfg->batch_delay_ms = SL_OTEL_BATCH_DELAY_MS;
    cfg->max_retries = SL_OTEL_MAX_RETRIES;
    cfg->retry_base_ms = 500;
    cfg->timeout_ms = parse_timeout_ms(
        first_set(get, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
        SL_OTEL_TIMEOUT_MS);
    cfg->service_name = sl_xstrdup(service != NULL ? service : "litellm");

    rc = parse_protocol(cfg, first_set(get, "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER"), err);
    if (rc != SL_OK)
        goto out;
    if (url == NULL)
        goto out;
    if (!is_http_url(url) || strlen(url) > SL_OTEL_URL_MAX_BYTES) {
        sl_errbuf_set(err, "invalid OTLP endpoint \"%.128s\": expected an http:// or https:// URL",
                      url);
        rc = SL_ERR_CONFIG;
        goto out;
    }
    cfg->endpoint = traces != NULL ? sl_xstrdup(traces) : traces_url(base);
    if (headers != NULL)
        rc = parse_headers(cfg, headers, err);

out:
    if (rc != SL_OK)
        sl_otel_config_dispose(cfg);
    return rc;
}

void
sl_otel_config_dispose(struct sl_otel_config *cfg)
{
    free(cfg->endpoint);
    free(cfg->service_name);
    for (size_t i = 0; i < cfg->n_headers; i++)
        free(cfg->headers[i]);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---------------------------------------------------------------- metrics */

void
sl_otel_metrics_register(void)
{
    static const char *const reason_labels[] = {"reason", NULL};
    struct sl_metric_family *dropped;
    struct sl_metric_family *exported;
    struct sl_metric_family *failed;

    dropped = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){
            .name = "sluice_otel_spans_dropped_total",
            .help = "Trace spans not delivered, by reason: queue_full (the export queue was "
                    "full), export_failed (the collector refused them or could not be reached "
                    "after every retry), shutdown (still queued at the stop deadline).",
            .labels = reason_labels});
    exported = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_otel_spans_exported_total",
                                 .help = "Trace spans the OTLP collector accepted."});
    failed = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_otel_export_failures_total",
                                 .help = "OTLP export requests that failed, retries included."});
    dropped_queue_full = sl_metrics_series(dropped, (const char *const[]){"queue_full"});
    dropped_export_failed = sl_metrics_series(dropped, (const char *const[]){"export_failed"});
    dropped_shutdown = sl_metrics_series(dropped, (const char *const[]){"shutdown"});
    exported_spans = sl_metrics_series(exported, NULL);
    failed_requests = sl_metrics_series(failed, NULL);
}

/* ---------------------------------------------------------------- queue */

int
sl_otel_enabled(void)
{
    return enabled;
}

void
sl_otel_submit(struct sl_otlp_span *span)
{
    struct exporter *e = &exporter;
    int full;

    pthread_mutex_lock(&e->lock);
    full = e->count >= e->cfg.queue_max || e->stopping;
    if (!full) {
        e->queue[(e->head + e->count) % e->cfg.queue_max] = *span;
        memset(span, 0, sizeof(*span));
        e->count++;
        if (e->count >= e->cfg.batch_max)
            pthread_cond_signal(&e->wake);
    }
    pthread_mutex_unlock(&e->lock);
    if (full) {
        sl_metric_add(dropped_queue_full, 1);
        sl_otlp_span_dispose(span);
    }
}

/* Moves up to batch_max queued spans into `out`; called with the lock held. */
static size_t
take_batch(struct exporter *e, struct sl_otlp_span *out)
{
    size_t n = e->count < e->cfg.batch_max ? e->count : e->cfg.batch_max;

    for (size_t i = 0; i < n; i++)
        out[i] = e->queue[(e->head + i) % e->cfg.queue_max];
    e->head = (e->head + n) % e->cfg.queue_max;
    e->count -= n;
    return n;
}

/* Waits on the condition variable until `until_ms` (monotonic) at the latest; lock held. */
static void
wait_until(struct exporter *e, uint64_t until_ms)
{
    struct timespec ts;
    uint64_t now = sl_now_ms();
    uint64_t wait_ms = until_ms > now ? until_ms - now : 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)((wait_ms % 1000) * 1000000);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&e->wake, &e->lock, &ts);
}

/* ---------------------------------------------------------------- sending */

static size_t
on_response_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sl_buf *body = arg;
    size_t n = size * nmemb;

    /* Only the start of an error body is kept for the log; the rest is read and dropped. */
    if (body->len < SL_OTEL_RESPONSE_MAX_BYTES)
        sl_buf_append(body, data, n < SL_OTEL_RESPONSE_MAX_BYTES - body->len
                                      ? n
                                      : SL_OTEL_RESPONSE_MAX_BYTES - body->len);
    return n;
}

/* Sends one request; returns the HTTP status, or 0 for a transport error. */
static long
post_once(struct exporter *e, const struct sl_buf *payload, uint64_t timeout_ms, char *error,
          size_t error_len)
{
    struct sl_buf response;
    char curl_error[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;

    sl_buf_init(&response, 0);
    curl_easy_setopt(e->curl, CURLOPT_URL, e->cfg.endpoint);
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, payload->data);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload->len);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_response_body);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, curl_error);
    rc = curl_easy_perform(e->curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
        snprintf(error, error_len, "HTTP %ld", status);
    } else {
        snprintf(error, error_len, "%s", curl_error[0] != '\0' ? curl_error : curl_easy_strerror(rc));
    }
    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, NULL);
    sl_buf_dispose(&response);
    return status;
}

static int
is_retryable(long status)
{
    return status == 0 || status == 429 || status >= 500;
}

/* Posts `payload`, retrying with back-off; returns 1 once the collector accepted it. The lock
 * is not held. */
static int
post_with_retries(struct exporter *e, const struct sl_buf *payload, size_t n_spans)
{
    uint64_t delay_ms = e->cfg.retry_base_ms;
    char error[256];

    for (unsigned attempt = 0;; attempt++) {
        uint64_t timeout_ms = e->cfg.timeout_ms;
        long status;

        pthread_mutex_lock(&e->lock);
        if (e->stopping) {
            uint64_t now = sl_now_ms();

            timeout_ms = e->stop_at_ms > now ? e->stop_at_ms - now : 0;
        }
        pthread_mutex_unlock(&e->lock);
        if (timeout_ms == 0)
            return 0;
        if (timeout_ms > e->cfg.timeout_ms)
            timeout_ms = e->cfg.timeout_ms;

        status = post_once(e, payload, timeout_ms, error, sizeof(error));
        if (status >= 200 && status < 300)
            return 1;
        sl_metric_add(failed_requests, 1);
        if (!is_retryable(status) || attempt >= e->cfg.max_retries) {
            sl_log(SL_LOG_WARN, NULL, "otel.export_failed", SL_LOG_STR("error", error),
                   SL_LOG_INT("spans", (int64_t)n_spans), SL_LOG_INT("attempts", attempt + 1));
            return 0;
        }
        sl_log(SL_LOG_DEBUG, NULL, "otel.export_retry", SL_LOG_STR("error", error),
               SL_LOG_INT("delay_ms", (int64_t)delay_ms));

        /* The back-off ends early at the stop deadline. */
        pthread_mutex_lock(&e->lock);
        uint64_t until = sl_now_ms() + delay_ms;
        while (sl_now_ms() < until && !(e->stopping && sl_now_ms() >= e->stop_at_ms))
            wait_until(e, e->stopping && e->stop_at_ms < until ? e->stop_at_ms : until);
        pthread_mutex_unlock(&e->lock);
        delay_ms *= 2;
    }
}

static void
export_batch(struct exporter *e, struct sl_otlp_span *spans, size_t n)
{
    const struct sl_otlp_span *ptrs[SL_OTEL_BATCH_MAX_SPANS];
    struct sl_otlp_resource res = {.service_name = e->cfg.service_name,
                                   .scope_name = "sluice",
                                   .scope_version = SL_VERSION};
    struct sl_buf payload;
    enum sl_status rc;

    for (size_t i = 0; i < n; i++)
        ptrs[i] = &spans[i];
    sl_buf_init(&payload, 0);
    if (e->cfg.protocol == SL_OTEL_HTTP_JSON)
        rc = sl_otlp_encode_json(&res, ptrs, n, &payload);
    else
        rc = sl_otlp_encode_proto(&res, ptrs, n, &payload);
    if (rc == SL_OK && post_with_retries(e, &payload, n))
        sl_metric_add(exported_spans, (double)n);
    else
        sl_metric_add(dropped_export_failed, (double)n);
    sl_buf_dispose(&payload);
    for (size_t i = 0; i < n; i++)
        sl_otlp_span_dispose(&spans[i]);
}

static void *
run(void *arg)
{
    struct exporter *e = arg;
    struct sl_otlp_span *batch = sl_xcalloc(e->cfg.batch_max, sizeof(*batch));

    sl_log(SL_LOG_INFO, NULL, "otel.started", SL_LOG_STR("endpoint", e->cfg.endpoint),
           SL_LOG_STR("protocol",
                      e->cfg.protocol == SL_OTEL_HTTP_JSON ? "http/json" : "http/protobuf"),
           SL_LOG_STR("service_name", e->cfg.service_name),
           SL_LOG_INT("headers", (int64_t)e->cfg.n_headers));
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->stopping && e->count == 0)
            wait_until(e, sl_now_ms() + 1000);

        /* A batch goes out when it is full, when its first span waited batch_delay_ms, or at
         * once while stopping. */
        uint64_t due = sl_now_ms() + e->cfg.batch_delay_ms;

        while (!e->stopping && e->count < e->cfg.batch_max && sl_now_ms() < due)
            wait_until(e, due);
        if (e->stopping && (e->count == 0 || sl_now_ms() >= e->stop_at_ms))
            break;

        size_t n = take_batch(e, batch);

        pthread_mutex_unlock(&e->lock);
        export_batch(e, batch, n);
        pthread_mutex_lock(&e->lock);
    }
    if (e->count > 0) {
        sl_metric_add(dropped_shutdown, (double)e->count);
        while (e->count > 0) {
            sl_otlp_span_dispose(&e->queue[e->head]);
            e->head = (e->head + 1) % e->cfg.queue_max;
            e->count--;
        }
    }
    pthread_mutex_unlock(&e->lock);
    free(batch);
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

enum sl_status
sl_otel_start(struct sl_otel_config *cfg, struct sl_errbuf *err)
{
    struct exporter *e = &exporter;
    pthread_condattr_t attr;

    memset(e, 0, sizeof(*e));
    e->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    if (e->cfg.batch_max > SL_OTEL_BATCH_MAX_SPANS || e->cfg.batch_max == 0)
        e->cfg.batch_max = SL_OTEL_BATCH_MAX_SPANS;
    if (e->cfg.queue_max < e->cfg.batch_max)
        e->cfg.queue_max = e->cfg.batch_max;

    e->curl = curl_easy_init();
    if (e->curl == NULL) {
        sl_errbuf_set(err, "curl_easy_init failed for the OTLP exporter");
        sl_otel_config_dispose(&e->cfg);
        return SL_ERR_IO;
    }
    e->headers = curl_slist_append(NULL, e->cfg.protocol == SL_OTEL_HTTP_JSON
                                             ? "Content-Type: application/json"
                                             : "Content-Type: application/x-protobuf");
    e->headers = curl_slist_append(e->headers, "Expect:");
    for (size_t i = 0; i < e->cfg.n_headers; i++)
        e->headers = curl_slist_append(e->headers, e->cfg.headers[i]);
    e->queue = sl_xcalloc(e->cfg.queue_max, sizeof(*e->queue));

    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        sl_errbuf_set(err, "could not start the OTLP export thread");
        curl_slist_free_all(e->headers);
        curl_easy_cleanup(e->curl);
        free(e->queue);
        sl_otel_config_dispose(&e->cfg);
        return SL_ERR_IO;
    }
    enabled = 1;
    return SL_OK;
}

void
sl_otel_stop(uint64_t deadline_ms)
{
    struct exporter *e = &exporter;

    if (!enabled)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    e->stop_at_ms = sl_now_ms() + deadline_ms;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    enabled = 0;

    sl_log(SL_LOG_INFO, NULL, "otel.stopped");
    curl_slist_free_all(e->headers);
    curl_easy_cleanup(e->curl);
    free(e->queue);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    sl_otel_config_dispose(&e->cfg);
}
