/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice-coordinator -- command line.
 *
 * `sluice-coordinator migrate` brings the database schema up to date and exits.
 * `sluice-coordinator run` (also the default without a command) is the long-running job in
 * run.c: leader election and the spend reconciler. docs/coordinator.md describes both.
 */
#define SL_LOG_MODULE "main"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/xalloc.h"
#include "coordinator/migrate.h"
#include "coordinator/run.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: sluice-coordinator migrate [--config FILE]\n"
            "       sluice-coordinator [run] --config FILE [--metrics-port N] [--metrics-host IP]\n"
            "\n"
            "  migrate            apply the pending database migrations (schema version %d\n"
            "                     in this build), then exit: 0 done, 1 failed\n"
            "  run                the default: elect a leader among the coordinators through\n"
            "                     Redis; the leader moves spend events from Redis into\n"
            "                     PostgreSQL. Runs until SIGTERM or SIGINT, then exits 0.\n"
            "  --config FILE      LiteLLM-style config.yaml, the gateway's. The database URL is\n"
            "                     general_settings.database_url, which DATABASE_URL overrides;\n"
            "                     Redis is found as the gateway finds it (REDIS_URL first).\n"
            "                     Without --config, migrate reads DATABASE_URL only.\n"
            "  --metrics-port N   TCP port of Prometheus /metrics for run; 0 turns it off\n"
            "                     (default: general_settings.coordinator_metrics_port, 4001)\n"
            "  --metrics-host IP  IPv4 address that port listens on (default 0.0.0.0)\n"
            "  --help             this text\n",
            sl_schema_required_version());
}

static void
fail(const char *message)
{
    sl_log(SL_LOG_ERROR, NULL, "migrate.failed", SL_LOG_STR("reason", message));
    fprintf(stderr, "sluice-coordinator migrate: %s\n", message);
}

/* Finds the database URL: the config file's (env-overridden) value, else DATABASE_URL. */
static int
run_migrate(const char *config_path)
{
    struct sl_config cfg;
    struct sl_errbuf err = {{0}};
    const char *url = NULL;
    int status = 1;

    memset(&cfg, 0, sizeof(cfg));
    if (config_path != NULL) {
        if (sl_config_load(config_path, &cfg, &err) != SL_OK) {
            fail(err.msg);
            goto out;
        }
        url = cfg.database_url;
    } else {
        url = getenv("DATABASE_URL");
    }
    if (url == NULL || url[0] == '\0') {
        fail("no database configured: set general_settings.database_url in the config file "
             "or the DATABASE_URL environment variable");
        goto out;
    }
    if (sl_migrate_run(url, &err) != SL_OK) {
        fail(err.msg);
        goto out;
    }
    status = 0;

out:
    sl_config_dispose(&cfg);
    return status;
}

/* Loads the config and runs the long-running mode until a signal ends it. */
static int
run_long(const char *config_path, int metrics_port, const char *metrics_host)
{
    struct sl_config cfg;
    struct sl_errbuf err = {{0}};
    struct sl_coord_run_options opts = {
        .config = &cfg, .metrics_port = metrics_port, .metrics_host = metrics_host};
    int status;

    memset(&cfg, 0, sizeof(cfg));
    if (sl_config_load(config_path, &cfg, &err) != SL_OK) {
        sl_log(SL_LOG_ERROR, NULL, "coordinator.start_failed", SL_LOG_STR("reason", err.msg));
        fprintf(stderr, "sluice-coordinator: %s\n", err.msg);
        sl_config_dispose(&cfg);
        return 1;
    }
    status = sl_coord_run(&opts);
    sl_config_dispose(&cfg);
    return status;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"metrics-port", required_argument, NULL, 'm'},
        {"metrics-host", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    const char *metrics_host = "0.0.0.0";
    long metrics_port = -1;
    int migrate = 0;
    char *end;
    int c;

    sl_xalloc_install();
    sl_log_init("coordinator");

    for (;;) {
        c = getopt_long(argc, argv, "c:m:H:h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'm':
            metrics_port = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || metrics_port < 0 || metrics_port > 65535) {
                fprintf(stderr, "sluice-coordinator: invalid --metrics-port '%s': expected a "
                                "port from 0 to 65535\n", optarg);
                return 1;
            }
            break;
        case 'H':
            metrics_host = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        if (optind + 1 != argc ||
            (strcmp(argv[optind], "migrate") != 0 && strcmp(argv[optind], "run") != 0)) {
            fprintf(stderr, "sluice-coordinator: unknown command '%s'\n", argv[optind]);
            usage(stderr);
            return 1;
        }
        migrate = strcmp(argv[optind], "migrate") == 0;
    }

    if (migrate)
        return run_migrate(config_path);

    if (config_path == NULL) {
        usage(stderr);
        return 1;
    }
    return run_long(config_path, (int)metrics_port, metrics_host);
}
