/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice-gateway -- flags, config, workers, signals.
 *
 * The main thread loads the config, builds the shared read-only state and the listening
 * socket, starts one worker per core (or --num-workers), then waits for SIGTERM or SIGINT and
 * drains the workers before it exits. SIGHUP is only logged, because nothing reloads the config.
 */
#define SL_LOG_MODULE "main"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/config.h"
#include "common/cost.h"
#include "common/redis.h"
#include "common/schema.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/otel_exporter.h"
#include "common/store_metrics.h"
#include "common/xalloc.h"
#include "gateway/gateway.h"
#include "gateway/http/litellm_metrics.h"
#include "gateway/http/metrics.h"
#include "gateway/http/trace.h"
#include "gateway/limits/limits.h"
#include "gateway/providers/provider.h"
#include "gateway/router/inflight.h"
#include "gateway/router/router.h"
#include "gateway/router/wildcard.h"
#include "gateway/worker.h"

#define SL_MAX_WORKERS 256
/* Time the trace exporter gets at shutdown to send the spans still queued. */
#define SL_TRACE_STOP_DEADLINE_MS 5000

struct options {
    const char *config;
    const char *host;
    int port;
    int num_workers;
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: sluice-gateway --config FILE [--host ADDR] [--port N] [--num-workers N]\n"
               "\n"
               "  --config FILE      LiteLLM-style config.yaml (required)\n"
               "  --host ADDR        numeric address to listen on (default 0.0.0.0)\n"
               "  --port N           TCP port (default 4000; 0 picks a free port)\n"
               "  --num-workers N    worker threads (default: one per CPU)\n"
               "  --help             this text and the config options\n\n");
}

static int
parse_int(const char *s, int min, int max, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},   {"num-workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;

    o->host = "0.0.0.0";
    o->port = 4000;
    o->num_workers = 0;
    for (;;) {
        c = getopt_long(argc, argv, "c:H:p:w:h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &o->port) != 0) {
                fprintf(stderr, "sluice-gateway: invalid --port \"%s\": expected 0 to 65535\n", optarg);
                return 2;
            }
            break;
        case 'w':
            if (parse_int(optarg, 1, SL_MAX_WORKERS, &o->num_workers) != 0) {
                fprintf(stderr, "sluice-gateway: invalid --num-workers \"%s\": expected 1 to %d\n",
                        optarg, SL_MAX_WORKERS);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            sl_config_write_help(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->config == NULL) {
        fprintf(stderr, "sluice-gateway: missing --config FILE\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Checks what the config loader cannot know: provider prefixes and credentials. */
static enum sl_status
check_deployments(struct sl_config *cfg, struct sl_errbuf *err)
{
    for (size_t i = 0; i < cfg->n_deployments; i++) {
        char where[512];

        snprintf(where, sizeof(where), "%s: model_list[%zu]", cfg->path, i);
        if (sl_router_check_deployment(&cfg->deployments[i], where, err) != SL_OK)
            return SL_ERR_CONFIG;
    }
    return SL_OK;
}

/*
 * Finds the database and Redis the config names. A database must carry the schema this build
 * needs (`sluice-coordinator migrate` applies it); an unreachable one only delays start-up
 * errors to the requests that need it. Redis is optional.
 */
static enum sl_status
check_stores(struct sl_gateway *gw, struct sl_errbuf *err)
{
    enum sl_status rc;

    if (gw->cfg.database_url != NULL) {
        rc = sl_schema_check(gw->cfg.database_url, err);
        if (rc == SL_ERR_CONFIG)
            return rc;
        if (rc != SL_OK)
            sl_log(SL_LOG_WARN, NULL, "database.unavailable", SL_LOG_STR("message", err->msg));
        gw->have_database = 1;
    }

    rc = sl_redis_target_from_config(&gw->cfg, &gw->redis_target, err);
    if (rc == SL_OK)
        gw->have_redis = 1;
    else if (rc != SL_ERR_NOT_FOUND)
        return rc;
    return SL_OK;
}

static void
log_config_warnings(const struct sl_config *cfg)
{
    for (size_t i = 0; i < cfg->unknown_keys.n; i++)
        sl_log(SL_LOG_WARN, NULL, "config.unknown_key", SL_LOG_STR("key", cfg->unknown_keys.items[i]),
               SL_LOG_STR("file", cfg->path));
    for (size_t i = 0; i < cfg->unset_env.n; i++)
        sl_log(SL_LOG_WARN, NULL, "config.unset_env", SL_LOG_STR("reference", cfg->unset_env.items[i]),
               SL_LOG_STR("file", cfg->path));
    if (cfg->master_key == NULL)
        sl_log(SL_LOG_WARN, NULL, "auth.disabled",
               SL_LOG_STR("message", "NO MASTER KEY IS SET: authentication is off and anyone who "
                                     "can reach this port can use every model. Set "
                                     "general_settings.master_key or LITELLM_MASTER_KEY."));
}

/* Returns 1 when `name` is a group of `r`, exactly or through a wildcard pattern group. */
static int
group_exists(const struct sl_router *r, const char *name)
{
    return sl_router_find(r, name) != NULL || sl_wildcard_find(r, name) != NULL;
}

static void
warn_unknown_group(const struct sl_config *cfg, const char *option, const char *role,
                   const char *group)
{
    sl_log(SL_LOG_WARN, NULL, "config.unknown_model_group", SL_LOG_STR("option", option),
           SL_LOG_STR("role", role), SL_LOG_STR("group", group), SL_LOG_STR("file", cfg->path),
           SL_LOG_STR("message", "No model_list entry matches this model group, exactly or "
                                 "as a pattern. A deployment added later through /model/new "
                                 "may still create it."));
}

static void
check_fallback_groups(const struct sl_router *r, const struct sl_config *cfg, const char *option,
                      const struct sl_fallbacks *list)
{
    for (size_t i = 0; i < list->n; i++) {
        const struct sl_fallback *f = &list->items[i];

        if (strcmp(f->group, "*") != 0 && !group_exists(r, f->group))
            warn_unknown_group(cfg, option, "source", f->group);
        for (size_t j = 0; j < f->targets.n; j++)
            if (!group_exists(r, f->targets.items[j]))
                warn_unknown_group(cfg, option, "target", f->targets.items[j]);
    }
}

static void
check_default_fallbacks(const struct sl_router *r, const struct sl_config *cfg, const char *option,
                        const struct sl_strlist *targets)
{
    for (size_t i = 0; i < targets->n; i++)
        if (!group_exists(r, targets->items[i]))
            warn_unknown_group(cfg, option, "target", targets->items[i]);
}

/*
 * Logs config.unknown_model_group for each fallback group and model_group_retry_policy group
 * that names no group of the config's model_list. The file is still accepted, because a
 * deployment added later through /model/new may create the group.
 */
static void
check_group_references(const struct sl_router *r, const struct sl_config *cfg)
{
    check_fallback_groups(r, cfg, "litellm_settings.fallbacks", &cfg->fallbacks);
    check_fallback_groups(r, cfg, "litellm_settings.context_window_fallbacks",
                          &cfg->context_window_fallbacks);
    check_fallback_groups(r, cfg, "litellm_settings.content_policy_fallbacks",
                          &cfg->content_policy_fallbacks);
    check_default_fallbacks(r, cfg, "litellm_settings.default_fallbacks", &cfg->default_fallbacks);
    check_fallback_groups(r, cfg, "router_settings.fallbacks", &cfg->router_fallbacks);
    check_fallback_groups(r, cfg, "router_settings.context_window_fallbacks",
                          &cfg->router_context_window_fallbacks);
    check_fallback_groups(r, cfg, "router_settings.content_policy_fallbacks",
                          &cfg->router_content_policy_fallbacks);
    check_default_fallbacks(r, cfg, "router_settings.default_fallbacks",
                            &cfg->router_default_fallbacks);
    for (size_t i = 0; i < cfg->model_group_retry_policy.n; i++) {
        const char *group = cfg->model_group_retry_policy.items[i].group;

        if (!group_exists(r, group))
            warn_unknown_group(cfg, "router_settings.model_group_retry_policy", "policy", group);
    }
}

static uv_signal_t sigterm_handle;
static uv_signal_t sigint_handle;
static uv_signal_t sighup_handle;

/* The first SIGTERM or SIGINT starts the drain; the main loop then ends once the signal
 * handles are closed, and main() joins the workers. */
static void
on_signal(uv_signal_t *s, int signum)
{
    struct sl_gateway *gw = s->data;

    sl_log(SL_LOG_INFO, NULL, "gateway.draining", SL_LOG_INT("signal", signum),
           SL_LOG_DBL("drain_timeout_s", gw->cfg.drain_timeout_s));
    for (int i = 0; i < gw->num_workers; i++)
        sl_worker_request_stop(&gw->workers[i]);
    uv_close((uv_handle_t *)&sigterm_handle, NULL);
    uv_close((uv_handle_t *)&sigint_handle, NULL);
    uv_close((uv_handle_t *)&sighup_handle, NULL);
}

/*
 * SIGHUP would otherwise end the process at once, without a drain. The workers share the
 * config and the router read-only and hold pointers into them. A reload would need a way to
 * swap them under running requests, and none exists, so the signal is only logged.
 */
static void
on_sighup(uv_signal_t *s, int signum)
{
    (void)s;
    sl_log(SL_LOG_WARN, NULL, "gateway.reload_unsupported", SL_LOG_INT("signal", signum),
           SL_LOG_STR("message", "SIGHUP ignored because the config is read only at start. "
                                 "Restart the gateway to apply changes to the config file."));
}

static struct sl_gateway gateway;

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer reads this at exit. h2o keeps per-thread free lists of socket buffers
 * (h2o_mem_alloc_recycle) that it never releases, and they become unreachable when a worker
 * thread ends; they are a fixed cache, not a leak that grows with traffic.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n";
}
#endif

int
main(int argc, char **argv)
{
    struct options opts = {0};
    struct sl_gateway *gw = &gateway;
    struct sl_errbuf err = {{0}};
    uv_loop_t *main_loop = uv_default_loop();
    int rc;
    int fd;

    rc = parse_options(argc, argv, &opts);
    if (rc != 0)
        return rc == 1 ? 0 : rc;

    signal(SIGPIPE, SIG_IGN);
    sl_xalloc_install();
    sl_log_init("gateway");

    if (sl_config_load(opts.config, &gw->cfg, &err) != SL_OK ||
        check_deployments(&gw->cfg, &err) != SL_OK || check_stores(gw, &err) != SL_OK ||
        sl_cost_table_load(gw->cfg.model_cost_map_path, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "config.invalid", SL_LOG_STR("message", err.msg));
        return 1;
    }
    log_config_warnings(&gw->cfg);

    gw->tls.verify = gw->cfg.ssl_verify;
    gw->tls.ca_file = gw->cfg.ssl_ca_bundle != NULL ? gw->cfg.ssl_ca_bundle : getenv("SSL_CERT_FILE");
    gw->tls.ca_path = getenv("SSL_CERT_DIR");
    sl_router_init(&gw->router, &gw->cfg);
    check_group_references(&gw->router, &gw->cfg);
    gw->inflight = sl_inflight_create();
    if (sl_server_setup(gw, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "config.invalid", SL_LOG_STR("message", err.msg));
        return 1;
    }

    gw->host = opts.host;
    gw->port = opts.port;
    gw->num_workers = opts.num_workers > 0 ? opts.num_workers : (int)uv_available_parallelism();
    if (gw->num_workers > SL_MAX_WORKERS)
        gw->num_workers = SL_MAX_WORKERS;
    gw->workers = sl_xcalloc((size_t)gw->num_workers, sizeof(*gw->workers));

    /* One metrics shard per worker, and one more for every other thread. Metrics are
     * registered here, before any worker starts. */
    sl_metrics_init((unsigned)gw->num_workers + 1);
    sl_http_metrics_register();
    sl_limits_metrics_register();
    sl_litellm_metrics_register(&gw->cfg);
    sl_store_metrics_register();
    sl_otel_metrics_register();
    if (sl_trace_start(&gw->cfg, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "config.invalid", SL_LOG_STR("message", err.msg));
        return 1;
    }

    /* The first socket settles the port (0 means any); the others share it by SO_REUSEPORT. */
    for (int i = 0; i < gw->num_workers; i++) {
        fd = sl_server_listen(gw->host, &gw->port, &err);
        if (fd == -1 || sl_worker_init(&gw->workers[i], i, gw, fd) != 0) {
            sl_log(SL_LOG_ERROR, NULL, "gateway.listen_failed", SL_LOG_STR("message", err.msg));
            return 1;
        }
    }

    uv_signal_init(main_loop, &sigterm_handle);
    sigterm_handle.data = gw;
    uv_signal_start_oneshot(&sigterm_handle, on_signal, SIGTERM);
    uv_signal_init(main_loop, &sigint_handle);
    sigint_handle.data = gw;
    uv_signal_start_oneshot(&sigint_handle, on_signal, SIGINT);
    uv_signal_init(main_loop, &sighup_handle);
    uv_signal_start(&sighup_handle, on_sighup, SIGHUP);

    for (int i = 0; i < gw->num_workers; i++)
        sl_worker_start(&gw->workers[i]);
    sl_log(SL_LOG_INFO, NULL, "gateway.listening", SL_LOG_STR("host", gw->host),
           SL_LOG_INT("port", gw->port), SL_LOG_INT("workers", gw->num_workers),
           SL_LOG_BOOL("tls", gw->ssl_ctx != NULL), SL_LOG_INT("model_groups", (int64_t)gw->router.n_groups),
           SL_LOG_BOOL("database", gw->have_database), SL_LOG_BOOL("redis", gw->have_redis),
           SL_LOG_STR("version", SL_VERSION));

    uv_run(main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < gw->num_workers; i++)
        sl_worker_join(&gw->workers[i]);
    sl_inflight_destroy(gw->inflight);
    gw->inflight = NULL;
    sl_trace_stop(SL_TRACE_STOP_DEADLINE_MS);
    sl_metrics_shutdown();
    sl_log(SL_LOG_INFO, NULL, "gateway.stopped");
    return 0;
}
