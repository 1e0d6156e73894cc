/* SPDX-License-Identifier: Apache-2.0 */
/* report -- the GET /health body; see report.h. */
#include "gateway/health/report.h"

#include <math.h>
#include <string.h>

#include "common/json.h"
#include "common/url.h"

static void
add_string(struct sl_buf *out, const char *key, const char *value)
{
    if (value == NULL)
        return;
    sl_buf_printf(out, ",\"%s\":", key);
    sl_json_append_string(out, value, strlen(value));
}

static void
add_number(struct sl_buf *out, const char *key, double value)
{
    if (!isnan(value))
        sl_buf_printf(out, ",\"%s\":%.17g", key, value);
}

static void
add_count(struct sl_buf *out, const char *key, int64_t value)
{
    if (value != SL_CONFIG_UNSET_INT)
        sl_buf_printf(out, ",\"%s\":%lld", key, (long long)value);
}

/* Appends the object of `d` without its closing brace. */
static void
open_params(struct sl_buf *out, const struct sl_deployment *d)
{
    sl_buf_append_str(out, "{\"model\":");
    sl_json_append_string(out, d->model, strlen(d->model));
    add_string(out, "model_id", d->id);
    if (d->api_base != NULL) {
        struct sl_buf base;

        sl_buf_init(&base, 0);
        sl_url_append_redacted(&base, d->api_base);
        sl_buf_append_str(out, ",\"api_base\":");
        sl_json_append_string(out, base.data != NULL ? base.data : "", base.len);
        sl_buf_dispose(&base);
    }
    add_string(out, "api_version", d->api_version);
    add_string(out, "organization", d->organization);
    add_number(out, "timeout", d->timeout_s);
    add_number(out, "stream_timeout", d->stream_timeout_s);
    add_count(out, "max_retries", d->max_retries);
    add_count(out, "rpm", d->rpm);
    add_count(out, "tpm", d->tpm);
    add_number(out, "weight", d->weight);
    add_count(out, "order", d->order);
    add_string(out, "region_name", d->region_name);
    add_string(out, "aws_region_name", d->aws_region_name);
    add_string(out, "aws_bedrock_runtime_endpoint", d->aws_bedrock_runtime_endpoint);
}

void
sl_health_append_params(struct sl_buf *out, const struct sl_deployment *d)
{
    open_params(out, d);
    sl_buf_append_str(out, "}");
}

void
sl_health_report_init(struct sl_health_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    sl_buf_init(&rep->healthy, 0);
    sl_buf_init(&rep->unhealthy, 0);
}

void
sl_health_report_dispose(struct sl_health_report *rep)
{
    sl_buf_dispose(&rep->healthy);
    sl_buf_dispose(&rep->unhealthy);
}

void
sl_health_report_add(struct sl_health_report *rep, const struct sl_deployment *d, const char *error)
{
    struct sl_buf *list = error == NULL ? &rep->healthy : &rep->unhealthy;
    size_t *n = error == NULL ? &rep->n_healthy : &rep->n_unhealthy;

    if (*n > 0)
        sl_buf_append_str(list, ",");
    open_params(list, d);
    add_string(list, "error", error);
    sl_buf_append_str(list, "}");
    (*n)++;
}

void
sl_health_report_finish(const struct sl_health_report *rep, struct sl_buf *out)
{
    sl_buf_append_str(out, "{\"healthy_endpoints\":[");
    sl_buf_append(out, rep->healthy.data, rep->healthy.len);
    sl_buf_append_str(out, "],\"unhealthy_endpoints\":[");
    sl_buf_append(out, rep->unhealthy.data, rep->unhealthy.len);
    sl_buf_printf(out, "],\"healthy_count\":%zu,\"unhealthy_count\":%zu}", rep->n_healthy,
                  rep->n_unhealthy);
}
