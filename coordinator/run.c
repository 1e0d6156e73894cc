/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run -- the coordinator's main loop on one thread: keep Redis connected, take or renew the
 * leader lease, and, while leading, reconcile one batch of spend events per turn. Signals only
 * set a flag, which the loop checks between batches, so a batch is always finished (committed
 * and acknowledged, or left pending) before the process exits.
 */
#define SL_LOG_MODULE "main"
#include "coordinator/run.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"
#include "coordinator/health.h"
#include "coordinator/internal.h"
#include "coordinator/reconcile.h"
#include "coordinator/resets.h"
#include "coordinator/retention.h"

/* Pause between turns of a standby or of a loop waiting for Redis, in ms. */
#define IDLE_TURN_MS 200
/* How often the leader moves budgets whose period ended into the current one. */
#define RESET_INTERVAL_MS 5000
/* How often the leader counts users and teams for litellm_total_users and litellm_teams_count. */
#define COUNT_INTERVAL_MS 30000

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t hangup_pending;

static void
on_signal(int signum)
{
    stop_signal = signum;
}

/* SIGHUP would otherwise end the process. The config is read only at start, so the loop
 * logs the signal and goes on. */
static void
on_hangup(int signum)
{
    (void)signum;
    hangup_pending = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Sleeps `ms` unless a signal arrives first. */
static void
pause_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The instance id, also the consumer name: host name, process id and random bytes, so that a
 * restarted process never takes the identity of the one before it. */
static void
make_instance_id(char *out, size_t size)
{
    char host[128] = "unknown";
    unsigned char rnd[4] = {0};
    FILE *f = fopen("/dev/urandom", "rb");

    if (f != NULL) {
        if (fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        fclose(f);
    }
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(out, size, "%s-%ld-%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1], rnd[2],
             rnd[3]);
}

/* When the leader's periodic jobs run next, in sl_now_ms() time. */
struct jobs {
    uint64_t next_reset_ms;
    uint64_t next_retention_ms;
    uint64_t next_count_ms;
};

/* Sets the user and team gauges from one query; a failure is logged and retried later. */
static void
count_entities(struct sl_coord_pg *pg, struct sl_coord_metrics *metrics)
{
    PGresult *res = PQexec(pg->conn, "SELECT (SELECT count(*) FROM users),"
                                     " (SELECT count(*) FROM teams)");

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        sl_metric_set(metrics->users, strtod(PQgetvalue(res, 0, 0), NULL));
        sl_metric_set(metrics->teams, strtod(PQgetvalue(res, 0, 1), NULL));
    } else {
        sl_log(SL_LOG_WARN, NULL, "coordinator.count_failed",
               SL_LOG_STR("message", PQresultErrorMessage(res)));
        sl_coord__pg_check(pg);
    }
    PQclear(res);
}

/* Runs the leader's periodic jobs that are due: budget resets every RESET_INTERVAL_MS, and the
 * retention of spend logs every maximum_spend_logs_retention_interval when a period is set.
 * A failure is logged and the job runs again at its next turn. */
static void
run_jobs(struct jobs *jobs, struct sl_coord_pg *pg, struct sl_coord_metrics *metrics,
         const struct sl_config *cfg, uint64_t now)
{
    int retention = !isnan(cfg->spend_logs_retention_period_s);
    struct sl_errbuf err = {{0}};
    size_t count = 0;

    if (now < jobs->next_reset_ms && now < jobs->next_count_ms &&
        (!retention || now < jobs->next_retention_ms))
        return;
    if (sl_coord__pg_ensure(pg) != SL_OK)
        return;
    if (now >= jobs->next_count_ms) {
        jobs->next_count_ms = now + COUNT_INTERVAL_MS;
        count_entities(pg, metrics);
        if (pg->conn == NULL)
            return;
    }
    if (now >= jobs->next_reset_ms) {
        jobs->next_reset_ms = now + RESET_INTERVAL_MS;
        if (sl_coord_reset_budgets(pg->conn, (int64_t)time(NULL), &count, &err) != SL_OK) {
            sl_log(SL_LOG_WARN, NULL, "budget.reset_failed", SL_LOG_STR("message", err.msg));
            sl_coord__pg_check(pg);
            return;
        }
    }
    if (retention && now >= jobs->next_retention_ms) {
        jobs->next_retention_ms = now + (uint64_t)(cfg->spend_logs_retention_interval_s * 1000.0);
        if (sl_coord_retention(pg->conn, (int64_t)time(NULL), cfg->spend_logs_retention_period_s,
                               SL_COORD_RETENTION_BATCH_DEFAULT, &count, &err) != SL_OK) {
            sl_log(SL_LOG_WARN, NULL, "spend_logs.retention_failed",
                   SL_LOG_STR("message", err.msg));
            sl_coord__pg_check(pg);
        }
    }
}

static int
fail(const char *message)
{
    sl_log(SL_LOG_ERROR, NULL, "coordinator.start_failed", SL_LOG_STR("reason", message));
    fprintf(stderr, "sluice-coordinator: %s\n", message);
    return 1;
}

int
sl_coord_run(const struct sl_coord_run_options *opts)
{
    const struct sl_config *cfg = opts->config;
    struct sl_coord_redis redis;
    struct sl_coord_pg pg;
    struct sl_coord_leader leader;
    struct sl_coord_reconciler rc;
    struct sl_coord_metrics metrics;
    struct sl_coord_health *health = NULL;
    struct sl_errbuf err = {{0}};
    char instance[256];
    int port;
    int was_leader = 0;
    struct jobs jobs = {0, 0, 0};

    memset(&redis, 0, sizeof(redis));
    memset(&pg, 0, sizeof(pg));
    if (cfg->database_url == NULL || cfg->database_url[0] == '\0')
        return fail("no database configured: set general_settings.database_url in the config "
                    "file or the DATABASE_URL environment variable");
    if (sl_redis_target_from_config(cfg, &redis.target, &err) != SL_OK)
        return fail(err.msg[0] != '\0' ? err.msg
                                       : "no Redis configured: set REDIS_URL or the config's "
                                         "Redis settings");
    pg.url = cfg->database_url;
    sl_coord__backoff_reset(&redis.backoff);
    sl_coord__backoff_reset(&pg.backoff);

    sl_coord__metrics_init(&metrics);
    port = opts->metrics_port >= 0 ? opts->metrics_port : (int)cfg->coordinator_metrics_port;
    if (port > 0 && sl_coord__metrics_serve(opts->metrics_host, port, &err) != SL_OK) {
        sl_metrics_shutdown();
        return fail(err.msg);
    }

    make_instance_id(instance, sizeof(instance));
    sl_coord__leader_init(&leader, SL_REDIS_DEFAULT_KEY_PREFIX, instance);
    sl_coord__reconciler_init(&rc, &redis, &pg, &metrics, SL_REDIS_DEFAULT_KEY_PREFIX, instance);
    install_signals();
    health = sl_coord_health_start(cfg, &redis.target, SL_REDIS_DEFAULT_KEY_PREFIX, &metrics);
    sl_log(SL_LOG_INFO, NULL, "coordinator.started", SL_LOG_STR("instance", instance),
           SL_LOG_STR("redis_host", redis.target.host), SL_LOG_INT("redis_port", redis.target.port),
           SL_LOG_INT("metrics_port", port));

    while (stop_signal == 0) {
        uint64_t now = sl_now_ms();
        int leading;

        if (hangup_pending) {
            hangup_pending = 0;
            sl_log(SL_LOG_WARN, NULL, "coordinator.reload_unsupported",
                   SL_LOG_INT("signal", SIGHUP),
                   SL_LOG_STR("message", "SIGHUP ignored because the config is read only at "
                                         "start. Restart the coordinator to apply changes to "
                                         "the config file."));
        }
        if (sl_coord__redis_ensure(&redis) != SL_OK) {
            leading = sl_coord__leader_tick(&leader, &redis, now);
            sl_metric_set(metrics.leader, leading);
            sl_coord_health_set_leading(health, leading);
            pause_ms(IDLE_TURN_MS);
            continue;
        }
        leading = sl_coord__leader_tick(&leader, &redis, now);
        sl_metric_set(metrics.leader, leading);
        sl_coord_health_set_leading(health, leading);
        if (leading && !was_leader)
            sl_coord__reconciler_on_elected(&rc);
        was_leader = leading;
        if (!leading) {
            pause_ms(IDLE_TURN_MS);
            continue;
        }

        run_jobs(&jobs, &pg, &metrics, cfg, now);
        sl_coord__reconcile_step(&rc);
        sl_coord__backlog_update(&rc, sl_now_ms());
        if (rc.retry.next_attempt_ms > sl_now_ms())
            pause_ms(IDLE_TURN_MS);
    }

    sl_log(SL_LOG_INFO, NULL, "coordinator.stopping", SL_LOG_INT("signal", stop_signal),
           SL_LOG_STR("instance", instance));
    sl_coord_health_stop(health);
    sl_coord__leader_release(&leader, &redis);
    sl_coord__leader_dispose(&leader);
    sl_coord__redis_close(&redis);
    sl_coord__pg_close(&pg);
    sl_coord__metrics_stop();
    sl_metrics_shutdown();
    sl_log(SL_LOG_INFO, NULL, "coordinator.stopped", SL_LOG_STR("instance", instance));
    return 0;
}
