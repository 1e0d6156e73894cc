/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coord_jobs_check -- runs a coordinator job against a PostgreSQL database, for the
 * integration test 89-resets-retention:
 *
 *   coord_jobs_check reset URL NOW_S [RUNS]
 *   coord_jobs_check retention URL NOW_S MAX_AGE_S BATCH
 *
 * `reset` runs the job RUNS times (default 1) in this process, as the leader does. Each run's
 * own JSON log line goes to stdout (SLUICE_LOG_LEVEL=debug shows runs that changed nothing),
 * followed by one line {"result":"ok","count":N}: budgets reset or rows deleted.
 * Exits 0 on success, 1 with the status and reason on stderr when the job failed, 2 on bad
 * arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "coordinator/resets.h"
#include "coordinator/retention.h"

static const char USAGE[] = "usage: coord_jobs_check reset URL NOW_S [RUNS]\n"
                            "       coord_jobs_check retention URL NOW_S MAX_AGE_S BATCH\n";

/* Parses a whole decimal integer; returns 0 on success. */
static int
parse_int(const char *text, long long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoll(text, &end, 10);
    return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

static int
parse_double(const char *text, double *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtod(text, &end);
    return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

int
main(int argc, char **argv)
{
    struct sl_errbuf err = {{0}};
    PGconn *conn = NULL;
    enum sl_status rc;
    long long now_s;
    long long batch = 0;
    long long runs = 1;
    double max_age_s = 0;
    size_t count = 0;
    int is_reset;

    if (argc < 4 || parse_int(argv[3], &now_s) != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    is_reset = strcmp(argv[1], "reset") == 0;
    if (is_reset ? argc > 5 || (argc == 5 && (parse_int(argv[4], &runs) != 0 || runs < 1))
                 : strcmp(argv[1], "retention") != 0 || argc != 6 ||
                       parse_double(argv[4], &max_age_s) != 0 || parse_int(argv[5], &batch) != 0 ||
                       batch < 0) {
        fputs(USAGE, stderr);
        return 2;
    }

    sl_log_init("coordinator");
    conn = sl_pg_connect_sync(argv[2], 5, &err);
    if (conn == NULL) {
        fprintf(stderr, "coord_jobs_check: %s\n", err.msg);
        return 1;
    }

    for (long long run = 0; run < runs; run++) {
        if (is_reset)
            rc = sl_coord_reset_budgets(conn, (int64_t)now_s, &count, &err);
        else
            rc = sl_coord_retention(conn, (int64_t)now_s, max_age_s, (size_t)batch, &count, &err);
        if (rc != SL_OK) {
            fprintf(stderr, "coord_jobs_check: %s: %s\n", sl_status_str(rc), err.msg);
            PQfinish(conn);
            return 1;
        }
        printf("{\"result\":\"ok\",\"count\":%zu}\n", count);
        fflush(stdout);
    }
    PQfinish(conn);
    return 0;
}
