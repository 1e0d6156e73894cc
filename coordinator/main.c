/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice-coordinator -- command line.
 *
 * `sluice-coordinator migrate` brings the database schema up to date and exits. The long-running
 * mode (spend reconciler, budget resets, health checks) is not built yet: without `migrate` the
 * program prints that and exits with status 2.
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

/* Exit status when the requested mode is not part of this build. */
#define EXIT_NOT_BUILT 2

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: sluice-coordinator migrate [--config FILE]\n"
            "       sluice-coordinator --config FILE [--metrics-port N]\n"
            "\n"
            "  migrate            apply the pending database migrations (schema version %d\n"
            "                     in this build), then exit: 0 done, 1 failed\n"
            "  --config FILE      LiteLLM-style config.yaml; the database URL is read from\n"
            "                     general_settings.database_url, which DATABASE_URL overrides.\n"
            "                     Without --config, migrate reads DATABASE_URL only.\n"
            "  --metrics-port N   port of /metrics for the long-running mode\n"
            "  --help             this text\n"
            "\n"
            "The long-running mode (spend reconciler, budget resets, health checks) is not built\n"
            "yet: without `migrate` the program prints a message and exits with status %d.\n",
            sl_schema_required_version(), EXIT_NOT_BUILT);
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

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"metrics-port", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int migrate = 0;
    int c;

    sl_xalloc_install();
    sl_log_init("coordinator");

    for (;;) {
        c = getopt_long(argc, argv, "c:m:h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'm':
            break; /* accepted for the long-running mode, which is not built yet */
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        if (strcmp(argv[optind], "migrate") != 0 || optind + 1 != argc) {
            fprintf(stderr, "sluice-coordinator: unknown command '%s'\n", argv[optind]);
            usage(stderr);
            return 1;
        }
        migrate = 1;
    }

    if (migrate)
        return run_migrate(config_path);

    if (config_path == NULL) {
        usage(stderr);
        return 1;
    }
    fprintf(stderr, "sluice-coordinator: the long-running mode (spend reconciler, budget resets, "
                    "health checks) is not built yet; only `sluice-coordinator migrate` works\n");
    return EXIT_NOT_BUILT;
}
