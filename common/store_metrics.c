/* SPDX-License-Identifier: Apache-2.0 */
/* store_metrics -- Redis and PostgreSQL client metrics; see store_metrics.h. */
#include "common/store_metrics.h"

#include <stdio.h>
#include <string.h>

#include "common/metrics.h"

/* Redis answers in well under a millisecond on a LAN; the buckets reach down to 100 us and
 * up to the clients' default deadlines. */
static const double store_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5,
                                       5.0,    10.0};

static struct sl_metric_family *redis_duration;
static struct sl_metric_family *redis_errors;
static struct sl_metric_family *pg_duration;
static struct sl_metric_family *pg_errors;

void
sl_store_metrics_register(void)
{
    static const char *const redis_labels[] = {"command", NULL};
    static const char *const redis_error_labels[] = {"command", "error", NULL};
    static const char *const pg_labels[] = {"operation", NULL};
    static const char *const pg_error_labels[] = {"operation", "error", NULL};
    const size_t n_buckets = sizeof(store_buckets) / sizeof(store_buckets[0]);

    redis_duration = sl_metrics_register(
        SL_METRIC_HISTOGRAM,
        &(struct sl_metric_spec){.name = "sluice_redis_command_duration_seconds",
                                 .help = "Time from sending a Redis command to its reply or "
                                         "deadline, by command (a script by its name).",
                                 .labels = redis_labels,
                                 .buckets = store_buckets,
                                 .n_buckets = n_buckets});
    redis_errors = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_redis_command_errors_total",
                                 .help = "Redis commands that failed, by command and error: "
                                         "not_sent, timeout, unavailable or reply_error.",
                                 .labels = redis_error_labels});
    pg_duration = sl_metrics_register(
        SL_METRIC_HISTOGRAM,
        &(struct sl_metric_spec){.name = "sluice_postgres_query_duration_seconds",
                                 .help = "Time from queueing a PostgreSQL query to its result, "
                                         "by the first SQL keyword.",
                                 .labels = pg_labels,
                                 .buckets = store_buckets,
                                 .n_buckets = n_buckets});
    pg_errors = sl_metrics_register(
        SL_METRIC_COUNTER,
        &(struct sl_metric_spec){.name = "sluice_postgres_query_errors_total",
                                 .help = "PostgreSQL queries that failed, by the first SQL "
                                         "keyword and error: timeout, unavailable or "
                                         "query_error.",
                                 .labels = pg_error_labels});
}

static const char *
error_name(enum sl_status status)
{
    switch (status) {
    case SL_ERR_TIMEOUT:
        return "timeout";
    case SL_ERR_UNAVAILABLE:
        return "unavailable";
    default:
        return "query_error";
    }
}

void
sl_store_metrics_redis(const char *command, enum sl_status status, int reply_error,
                       uint64_t elapsed_us, int sent)
{
    const char *error = NULL;

    if (redis_duration == NULL)
        return;
    if (sent)
        sl_metrics_observe(redis_duration, (const char *const[]){command},
                           (double)elapsed_us / 1e6);
    if (!sent)
        error = "not_sent";
    else if (status != SL_OK)
        error = error_name(status);
    else if (reply_error)
        error = "reply_error";
    if (error != NULL)
        sl_metrics_counter_add(redis_errors, (const char *const[]){command, error}, 1);
}

void
sl_store_metrics_pg(const char *operation, enum sl_status status, uint64_t elapsed_us)
{
    if (pg_duration == NULL)
        return;
    sl_metrics_observe(pg_duration, (const char *const[]){operation}, (double)elapsed_us / 1e6);
    if (status != SL_OK)
        sl_metrics_counter_add(pg_errors, (const char *const[]){operation, error_name(status)},
                               1);
}

void
sl_store_metrics_operation(const char *sql, char out[SL_STORE_METRICS_NAME_MAX + 1])
{
    size_t n = 0;

    while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
        sql++;
    while (n < SL_STORE_METRICS_NAME_MAX &&
           ((sql[n] >= 'a' && sql[n] <= 'z') || (sql[n] >= 'A' && sql[n] <= 'Z'))) {
        char c = sql[n];

        out[n] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        n++;
    }
    if (n == 0)
        snprintf(out, SL_STORE_METRICS_NAME_MAX + 1, "OTHER");
    else
        out[n] = '\0';
}
