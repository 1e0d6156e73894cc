/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_test -- the Prometheus registry and its text exposition (common/metrics.c). */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "test.h"

/* Renders the whole registry into a string the caller frees. */
static char *
render(void)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_metrics_render(&out));
    return sl_buf_take(&out, NULL);
}

static double
read_seven(void *arg)
{
    return *(const double *)arg;
}

TEST(metrics_exposition_small_registry)
{
    static const char *const labels[] = {"route", "status", NULL};
    static const double buckets[] = {0.5, 1.0};
    static const double seven = 7;
    struct sl_metric_family *requests;
    struct sl_metric_family *up;
    struct sl_metric_family *latency;
    char *text;

    sl_metrics_init(2);
    requests = sl_metrics_register(SL_METRIC_COUNTER,
                                   &(struct sl_metric_spec){.name = "requests_total",
                                                            .help = "Requests served.",
                                                            .labels = labels});
    up = sl_metrics_register(SL_METRIC_GAUGE,
                             &(struct sl_metric_spec){.name = "up", .help = "Always 1."});
    latency = sl_metrics_register(SL_METRIC_HISTOGRAM,
                                  &(struct sl_metric_spec){.name = "latency_seconds",
                                                           .help = "Request latency.",
                                                           .buckets = buckets,
                                                           .n_buckets = 2});
    sl_metrics_register_callback_gauge("seven", "Read at scrape.", read_seven, (void *)&seven);

    sl_metrics_counter_add(requests, (const char *const[]){"/chat/completions", "200"}, 1);
    sl_metrics_counter_add(requests, (const char *const[]){"/models", "401"}, 1);
    sl_metrics_counter_add(requests, (const char *const[]){"/chat/completions", "200"}, 2);
    sl_metrics_gauge_set(up, NULL, 1);
    sl_metrics_observe(latency, NULL, 0.25);
    sl_metrics_observe(latency, NULL, 0.75);
    sl_metrics_observe(latency, NULL, 3);

    text = render();
    ASSERT_STR_EQ("# HELP requests_total Requests served.\n"
                  "# TYPE requests_total counter\n"
                  "requests_total{route=\"/chat/completions\",status=\"200\"} 3.0\n"
                  "requests_total{route=\"/models\",status=\"401\"} 1.0\n"
                  "# HELP up Always 1.\n"
                  "# TYPE up gauge\n"
                  "up 1.0\n"
                  "# HELP latency_seconds Request latency.\n"
                  "# TYPE latency_seconds histogram\n"
                  "latency_seconds_bucket{le=\"0.5\"} 1\n"
                  "latency_seconds_bucket{le=\"1.0\"} 2\n"
                  "latency_seconds_bucket{le=\"+Inf\"} 3\n"
                  "latency_seconds_sum 4.0\n"
                  "latency_seconds_count 3\n"
                  "# HELP seven Read at scrape.\n"
                  "# TYPE seven gauge\n"
                  "seven 7.0\n"
                  "# HELP sluice_metrics_series_dropped_total Lookups of new label values that "
                  "the metric had no room for, so the update went to its series whose label "
                  "values are all __other__.\n"
                  "# TYPE sluice_metrics_series_dropped_total counter\n"
                  "sluice_metrics_series_dropped_total{metric=\"requests_total\"} 0.0\n",
                  text);
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_unlabelled_series_exposed_before_update)
{
    char *text;

    sl_metrics_init(1);
    sl_metrics_register(SL_METRIC_COUNTER,
                        &(struct sl_metric_spec){.name = "starts_total", .help = "Starts."});
    text = render();
    ASSERT_CONTAINS(text, "\nstarts_total 0.0\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_escapes_label_values_and_help)
{
    static const char *const labels[] = {"model", NULL};
    struct sl_metric_family *f;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "calls_total",
                                                     .help = "Calls with \\ and\nsecond line.",
                                                     .labels = labels});
    sl_metrics_counter_add(f, (const char *const[]){"a\\b\"c\nd"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){NULL}, 1);

    text = render();
    ASSERT_CONTAINS(text, "# HELP calls_total Calls with \\\\ and\\nsecond line.\n");
    ASSERT_CONTAINS(text, "calls_total{model=\"a\\\\b\\\"c\\nd\"} 1.0\n");
    ASSERT_CONTAINS(text, "calls_total{model=\"\"} 1.0\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_histogram_bounds_are_inclusive)
{
    static const char *const labels[] = {"model", NULL};
    struct sl_metric_family *f;
    struct sl_metric *m;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_HISTOGRAM,
                            &(struct sl_metric_spec){.name = "wait_seconds",
                                                     .help = "Wait.",
                                                     .labels = labels,
                                                     .buckets = sl_metrics_latency_buckets,
                                                     .n_buckets = sl_metrics_latency_buckets_n});
    m = sl_metrics_series(f, (const char *const[]){"gpt"});
    sl_metric_observe(m, 0.005);   /* on the first bound */
    sl_metric_observe(m, 0.006);   /* between 0.005 and 0.00625 */
    sl_metric_observe(m, 300);     /* on the last bound */
    sl_metric_observe(m, 301);     /* only in +Inf */
    sl_metric_observe(m, NAN);     /* ignored */

    text = render();
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"0.005\"} 1\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"0.00625\"} 2\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"0.0125\"} 2\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"240.0\"} 2\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"300.0\"} 3\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"gpt\",le=\"+Inf\"} 4\n");
    ASSERT_CONTAINS(text, "wait_seconds_sum{model=\"gpt\"} 601.011\n");
    ASSERT_CONTAINS(text, "wait_seconds_count{model=\"gpt\"} 4\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_series_cap_folds_into_overflow)
{
    static const char *const labels[] = {"key", "route", NULL};
    struct sl_metric_family *f;
    struct sl_metric *overflow;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "hits_total",
                                                     .help = "Hits.",
                                                     .labels = labels,
                                                     .max_series = 2});
    sl_metrics_counter_add(f, (const char *const[]){"a", "r"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"b", "r"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"c", "r"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"d", "r"}, 2);
    sl_metrics_counter_add(f, (const char *const[]){"a", "r"}, 1);
    overflow = sl_metrics_series(f, (const char *const[]){"e", "r"});
    ASSERT_TRUE(overflow != NULL);
    ASSERT_TRUE(sl_metrics_series(f, (const char *const[]){"f", "s"}) == overflow);
    ASSERT_TRUE(sl_metrics_series(f, (const char *const[]){"__other__", "__other__"}) == overflow);
    ASSERT_TRUE(sl_metrics_series(f, (const char *const[]){"b", "r"}) != overflow);

    text = render();
    ASSERT_CONTAINS(text, "hits_total{key=\"a\",route=\"r\"} 2.0\n");
    ASSERT_CONTAINS(text, "hits_total{key=\"b\",route=\"r\"} 1.0\n");
    ASSERT_CONTAINS(text, "hits_total{key=\"__other__\",route=\"__other__\"} 3.0\n");
    ASSERT_TRUE(strstr(text, "key=\"c\"") == NULL);
    ASSERT_TRUE(strstr(text, "key=\"d\"") == NULL);
    ASSERT_CONTAINS(text, "sluice_metrics_series_dropped_total{metric=\"hits_total\"} 4.0\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_overflow_reuses_client_other_series)
{
    static const char *const labels[] = {"model", NULL};
    struct sl_metric_family *f;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "calls_total",
                                                     .help = "Calls.",
                                                     .labels = labels,
                                                     .max_series = 2});
    /* A client sent the marker itself before the cap was reached: the overflow shares it. */
    sl_metrics_counter_add(f, (const char *const[]){"__other__"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"a"}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"b"}, 1);

    text = render();
    ASSERT_CONTAINS(text, "calls_total{model=\"__other__\"} 2.0\n");
    ASSERT_CONTAINS(text, "calls_total{model=\"a\"} 1.0\n");
    ASSERT_TRUE(strstr(text, "model=\"b\"") == NULL);
    ASSERT_TRUE(strstr(strstr(text, "calls_total{model=\"__other__\"}") + 1,
                       "calls_total{model=\"__other__\"}") == NULL);
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_histogram_overflow_stays_consistent)
{
    static const char *const labels[] = {"model", NULL};
    static const double buckets[] = {1.0};
    struct sl_metric_family *f;
    char name[32];
    char *text;

    sl_metrics_init(2);
    f = sl_metrics_register(SL_METRIC_HISTOGRAM,
                            &(struct sl_metric_spec){.name = "wait_seconds",
                                                     .help = "Wait.",
                                                     .labels = labels,
                                                     .buckets = buckets,
                                                     .n_buckets = 1,
                                                     .max_series = 3});
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "model-%d", i);
        sl_metrics_observe(f, (const char *const[]){name}, i < 50 ? 0.5 : 2.0);
    }

    text = render();
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"model-2\",le=\"+Inf\"} 1\n");
    ASSERT_TRUE(strstr(text, "model=\"model-3\"") == NULL);
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"__other__\",le=\"1.0\"} 47\n");
    ASSERT_CONTAINS(text, "wait_seconds_bucket{model=\"__other__\",le=\"+Inf\"} 97\n");
    ASSERT_CONTAINS(text, "wait_seconds_sum{model=\"__other__\"} 123.5\n");
    ASSERT_CONTAINS(text, "wait_seconds_count{model=\"__other__\"} 97\n");
    ASSERT_CONTAINS(text,
                    "sluice_metrics_series_dropped_total{metric=\"wait_seconds\"} 97.0\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_default_caps_by_type)
{
    static const char *const labels[] = {"model", NULL};
    static const double buckets[] = {1.0};
    struct sl_metric_family *counter;
    struct sl_metric_family *histogram;
    char name[32];
    char *text;

    unsetenv("SLUICE_METRICS_MAX_SERIES");
    sl_metrics_init(1);
    counter = sl_metrics_register(SL_METRIC_COUNTER,
                                  &(struct sl_metric_spec){.name = "c_total",
                                                           .help = "C.",
                                                           .labels = labels});
    histogram = sl_metrics_register(SL_METRIC_HISTOGRAM,
                                    &(struct sl_metric_spec){.name = "h_seconds",
                                                             .help = "H.",
                                                             .labels = labels,
                                                             .buckets = buckets,
                                                             .n_buckets = 1});
    for (int i = 0; i < SL_METRICS_MAX_SERIES + 5; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        sl_metrics_counter_add(counter, (const char *const[]){name}, 1);
        sl_metrics_observe(histogram, (const char *const[]){name}, 0.5);
    }

    text = render();
    ASSERT_CONTAINS(text, "sluice_metrics_series_dropped_total{metric=\"c_total\"} 5.0\n");
    snprintf(name, sizeof(name), "%d.0\n",
             SL_METRICS_MAX_SERIES + 5 - SL_METRICS_MAX_HISTOGRAM_SERIES);
    ASSERT_CONTAINS(text, "sluice_metrics_series_dropped_total{metric=\"h_seconds\"} ");
    ASSERT_CONTAINS(strstr(text, "sluice_metrics_series_dropped_total{metric=\"h_seconds\"} "),
                    name);
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_env_sets_max_series)
{
    static const char *const labels[] = {"model", NULL};
    struct sl_metric_family *f;
    struct sl_metric_family *own;
    char name[32];
    char *text;

    ASSERT_EQ(setenv("SLUICE_METRICS_MAX_SERIES", "4", 1), 0);
    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "c_total",
                                                     .help = "C.",
                                                     .labels = labels});
    own = sl_metrics_register(SL_METRIC_COUNTER,
                              &(struct sl_metric_spec){.name = "own_total",
                                                       .help = "Own cap.",
                                                       .labels = labels,
                                                       .max_series = 6});
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        sl_metrics_counter_add(f, (const char *const[]){name}, 1);
        sl_metrics_counter_add(own, (const char *const[]){name}, 1);
    }
    text = render();
    ASSERT_CONTAINS(text, "c_total{model=\"m3\"} 1.0\n");
    ASSERT_CONTAINS(text, "c_total{model=\"__other__\"} 6.0\n");
    ASSERT_CONTAINS(text, "own_total{model=\"m5\"} 1.0\n");
    ASSERT_CONTAINS(text, "own_total{model=\"__other__\"} 4.0\n");
    free(text);
    sl_metrics_shutdown();

    /* An invalid value is ignored: the default applies. */
    ASSERT_EQ(setenv("SLUICE_METRICS_MAX_SERIES", "4x", 1), 0);
    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "c_total",
                                                     .help = "C.",
                                                     .labels = labels});
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        sl_metrics_counter_add(f, (const char *const[]){name}, 1);
    }
    text = render();
    ASSERT_CONTAINS(text, "c_total{model=\"m9\"} 1.0\n");
    ASSERT_TRUE(strstr(text, "model=\"__other__\"") == NULL);
    free(text);
    sl_metrics_shutdown();
    ASSERT_EQ(unsetenv("SLUICE_METRICS_MAX_SERIES"), 0);
}

TEST(metrics_label_value_cut_at_char_boundary)
{
    static const char *const labels[] = {"agent", NULL};
    char long_value[SL_METRICS_LABEL_VALUE_MAX_BYTES + 40];
    char other_tail[SL_METRICS_LABEL_VALUE_MAX_BYTES + 40];
    char expected[SL_METRICS_LABEL_VALUE_MAX_BYTES + 64];
    struct sl_metric_family *f;
    char *text;

    /* 255 ASCII bytes and then "é" (2 bytes): the cut falls inside it, so it is left out. */
    memset(long_value, 'x', SL_METRICS_LABEL_VALUE_MAX_BYTES - 1);
    snprintf(long_value + SL_METRICS_LABEL_VALUE_MAX_BYTES - 1, 40, "\xc3\xa9tail-one");
    memcpy(other_tail, long_value, sizeof(long_value));
    snprintf(other_tail + SL_METRICS_LABEL_VALUE_MAX_BYTES - 1, 40, "\xc3\xa9tail-two");

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "agents_total",
                                                     .help = "Agents.",
                                                     .labels = labels});
    sl_metrics_counter_add(f, (const char *const[]){long_value}, 1);
    sl_metrics_counter_add(f, (const char *const[]){other_tail}, 1);
    sl_metrics_counter_add(f, (const char *const[]){"ok\xff\xc3(\xe2\x82\xac"}, 1);

    text = render();
    snprintf(expected, sizeof(expected), "agents_total{agent=\"%.*s\"} 2.0\n",
             SL_METRICS_LABEL_VALUE_MAX_BYTES - 1, long_value);
    ASSERT_CONTAINS(text, expected);
    /* Each invalid byte becomes '?', and the valid euro sign after them stays. */
    ASSERT_CONTAINS(text, "agents_total{agent=\"ok?" "?(\xe2\x82\xac\"} 1.0\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_gauge_set_and_add)
{
    static const char *const labels[] = {"team", NULL};
    struct sl_metric_family *f;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){.name = "remaining_budget",
                                                     .help = "Budget left in USD.",
                                                     .labels = labels});
    sl_metrics_gauge_set(f, (const char *const[]){"a"}, 10);
    sl_metrics_gauge_add(f, (const char *const[]){"a"}, -2.5);
    sl_metrics_gauge_add(f, (const char *const[]){"b"}, -1);
    sl_metrics_gauge_set(f, (const char *const[]){"c"}, INFINITY);

    text = render();
    ASSERT_CONTAINS(text, "remaining_budget{team=\"a\"} 7.5\n");
    ASSERT_CONTAINS(text, "remaining_budget{team=\"b\"} -1.0\n");
    ASSERT_CONTAINS(text, "remaining_budget{team=\"c\"} +Inf\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_counter_ignores_negative_and_nan)
{
    struct sl_metric_family *f;
    char *text;

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){.name = "spend_total", .help = "USD."});
    sl_metrics_counter_add(f, NULL, 0.25);
    sl_metrics_counter_add(f, NULL, -1);
    sl_metrics_counter_add(f, NULL, NAN);
    text = render();
    ASSERT_CONTAINS(text, "\nspend_total 0.25\n");
    free(text);
    sl_metrics_shutdown();
}

TEST(metrics_value_formats)
{
    static const char *const labels[] = {"case", NULL};
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {0.1, "0.1"},         {1e-7, "1e-07"},    {2.5e20, "2.5e+20"},
        {1234567, "1234567.0"}, {-0.5, "-0.5"},   {1.0 / 3, "0.3333333333333333"},
        {NAN, "NaN"},         {-INFINITY, "-Inf"},
    };
    struct sl_metric_family *f;
    char *text;
    char expected[128];
    char name[16];

    sl_metrics_init(1);
    f = sl_metrics_register(SL_METRIC_GAUGE, &(struct sl_metric_spec){
                                                 .name = "values", .help = "V.", .labels = labels});
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "%zu", i);
        sl_metrics_gauge_set(f, (const char *const[]){name}, cases[i].value);
    }
    text = render();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(expected, sizeof(expected), "values{case=\"%zu\"} %s\n", i, cases[i].text);
        ASSERT_CONTAINS(text, expected);
    }
    free(text);
    sl_metrics_shutdown();
}

/* ---------------------------------------------------------------- threads */

#define THREADS 4
#define ROUNDS 100000
#define NEW_SERIES_PER_THREAD 250

struct worker_args {
    unsigned index;
    struct sl_metric_family *counter;
    struct sl_metric_family *histogram;
    struct sl_metric_family *gauge;
    struct sl_metric_family *created;
};

static void *
hammer(void *arg)
{
    struct worker_args *a = arg;
    static const char *const shared[] = {"/chat/completions", "200"};
    char name[32];

    /* Threads 0 and 2 share shard 0 of 2, so their cells see concurrent adds too. */
    sl_metrics_bind_thread(a->index);
    for (unsigned i = 0; i < ROUNDS; i++) {
        sl_metrics_counter_add(a->counter, shared, 1);
        sl_metrics_observe(a->histogram, NULL, i % 2 == 0 ? 0.5 : 2);
        sl_metrics_gauge_add(a->gauge, NULL, 1);
        /* New series while other threads read the same table, which then grows. */
        if (i % (ROUNDS / NEW_SERIES_PER_THREAD) == 0) {
            snprintf(name, sizeof(name), "t%u-%u", a->index, i);
            sl_metrics_counter_add(a->created, (const char *const[]){name}, 1);
        }
    }
    return NULL;
}

/* Returns the value of the sample line that starts with `prefix`. */
static double
sample_value(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);

    if (p == NULL)
        SL_TEST_FAIL("no sample line starting with %s", prefix);
    return strtod(p + strlen(prefix), NULL);
}

TEST(metrics_concurrent_updates_sum_exactly)
{
    static const char *const route_labels[] = {"route", "status", NULL};
    static const char *const name_labels[] = {"name", NULL};
    static const double buckets[] = {1.0};
    struct worker_args args[THREADS];
    pthread_t threads[THREADS];
    struct sl_metric_family *created;
    size_t lines = 0;
    char *text;

    sl_metrics_init(2);
    created = sl_metrics_register(SL_METRIC_COUNTER,
                                  &(struct sl_metric_spec){.name = "created_total",
                                                           .help = "Created.",
                                                           .labels = name_labels});
    for (unsigned t = 0; t < THREADS; t++) {
        args[t] = (struct worker_args){.index = t, .created = created};
        if (t == 0) {
            args[t].counter = sl_metrics_register(
                SL_METRIC_COUNTER, &(struct sl_metric_spec){.name = "requests_total",
                                                            .help = "Requests.",
                                                            .labels = route_labels});
            args[t].histogram = sl_metrics_register(
                SL_METRIC_HISTOGRAM, &(struct sl_metric_spec){.name = "latency_seconds",
                                                              .help = "Latency.",
                                                              .buckets = buckets,
                                                              .n_buckets = 1});
            args[t].gauge = sl_metrics_register(
                SL_METRIC_GAUGE, &(struct sl_metric_spec){.name = "level", .help = "Level."});
        } else {
            args[t].counter = args[0].counter;
            args[t].histogram = args[0].histogram;
            args[t].gauge = args[0].gauge;
        }
    }
    for (unsigned t = 0; t < THREADS; t++)
        ASSERT_OK(pthread_create(&threads[t], NULL, hammer, &args[t]));
    for (unsigned t = 0; t < THREADS; t++)
        ASSERT_OK(pthread_join(threads[t], NULL));

    text = render();
    ASSERT_DBL_EQ(THREADS * ROUNDS, sample_value(text, "requests_total{route=\"/chat/completions\","
                                                       "status=\"200\"} "));
    ASSERT_DBL_EQ(THREADS * ROUNDS / 2, sample_value(text, "latency_seconds_bucket{le=\"1.0\"} "));
    ASSERT_DBL_EQ(THREADS * ROUNDS, sample_value(text, "latency_seconds_bucket{le=\"+Inf\"} "));
    ASSERT_DBL_EQ(THREADS * ROUNDS, sample_value(text, "latency_seconds_count "));
    ASSERT_DBL_EQ(THREADS * ROUNDS / 2 * 2.5, sample_value(text, "latency_seconds_sum "));
    ASSERT_DBL_EQ(THREADS * ROUNDS, sample_value(text, "\nlevel "));
    for (const char *p = strstr(text, "\ncreated_total{"); p != NULL;
         p = strstr(p + 1, "\ncreated_total{")) {
        ASSERT_DBL_EQ(1, strtod(strstr(p, "} ") + 2, NULL));
        lines++;
    }
    ASSERT_EQ(THREADS * NEW_SERIES_PER_THREAD, lines);
    free(text);
    sl_metrics_shutdown();
}
