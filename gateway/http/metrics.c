/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http/metrics -- GET /metrics in the Prometheus text format 0.0.4, and the gateway's HTTP
 * metrics. The route needs no key, as in LiteLLM, so that a scraper needs no secret.
 */
#define SL_LOG_MODULE "http"
#include "gateway/http/metrics.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/worker.h"

/* A scrape text larger than this gets a 500 response instead of growing memory further. */
#define SL_METRICS_SCRAPE_MAX_BYTES (64u * 1024u * 1024u)
#define SL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct sl_metric_family *requests_total;

void
sl_http_metrics_register(void)
{
    static const char *const build_labels[] = {"version", NULL};
    static const char *const request_labels[] = {"route", "status", NULL};
    struct sl_metric_family *build_info;

    build_info = sl_metrics_register(
        SL_METRIC_GAUGE, &(struct sl_metric_spec){
                             .name = "sluice_build_info",
                             .help = "Always 1; the version label is the running Sluice version.",
                             .labels = build_labels});
    sl_metrics_gauge_set(build_info, (const char *const[]){SL_VERSION}, 1);

    /* Routes are the canonical paths of the route tables, never a client's path, so the
     * series stay few. */
    requests_total = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_http_requests_total",
                                 .help = "HTTP requests finished, by route and response status "
                                         "(499: the client went away first).",
                                 .labels = request_labels});
}

void
sl_http_metrics_count_request(const struct sl_request *r)
{
    char status[16];
    int code = r->client_gone && r->status == 0 ? 499 : r->status;

    snprintf(status, sizeof(status), "%d", code);
    sl_metrics_counter_add(requests_total,
                           (const char *const[]){r->route != NULL ? r->route : "unmatched", status},
                           1);
}

int
sl_handle_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_worker *w = sl_worker_from_ctx(req->conn->ctx);
    struct sl_request *r = sl_request_create(w, req, "/metrics");
    struct sl_buf out;

    (void)self;
    /* h2o hands this handler every path under /metrics/. */
    if (strcmp(r->path, "/metrics") != 0 && strcmp(r->path, "/metrics/") != 0) {
        r->route = NULL;
        sl_request_respond_error(r, 404, "not_found_error", NULL, "Route %s %s not found.",
                                 r->method, r->path);
        return 0;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        sl_request_add_header(r, "allow", "GET");
        sl_request_respond_error(r, 405, "invalid_request_error", NULL,
                                 "Method %s is not allowed on %s; use GET.", r->method, r->path);
        return 0;
    }

    sl_buf_init(&out, SL_METRICS_SCRAPE_MAX_BYTES);
    if (sl_metrics_render(&out) != SL_OK) {
        sl_log(SL_LOG_ERROR, r->call_id, "metrics.too_large",
               SL_LOG_INT("max_bytes", SL_METRICS_SCRAPE_MAX_BYTES));
        sl_request_respond_error(r, 500, NULL, NULL,
                                 "The metrics text exceeds %u bytes; lower the number of series.",
                                 SL_METRICS_SCRAPE_MAX_BYTES);
    } else {
        sl_request_respond(r, 200, SL_METRICS_CONTENT_TYPE, out.data, out.len);
    }
    sl_buf_dispose(&out);
    return 0;
}
