/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http -- the coordinator's metric series and a minimal HTTP/1.0 responder for
 * Prometheus: GET /metrics returns the registry's text exposition, anything else 404. It runs
 * on a thread of its own, one connection at a time, each with a 2 s receive and send timeout,
 * so a slow scraper delays other scrapes but never the reconciler.
 */
#define SL_LOG_MODULE "metrics"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "coordinator/internal.h"

/* Largest request head read, in bytes; the rest of a longer one is ignored. */
#define REQUEST_MAX_BYTES 4096
/* Largest exposition served, in bytes. */
#define EXPOSITION_MAX_BYTES (8u * 1024 * 1024)

static int listen_fd = -1;
static int stop_pipe[2] = {-1, -1};
static pthread_t thread;
static int thread_started;

void
sl_coord__metrics_init(struct sl_coord_metrics *m)
{
    static const char *const outcome[] = {"outcome", NULL};
    struct sl_metric_family *f;

    sl_metrics_init(3); /* the main thread, the responder and the health checks */
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){
                                .name = "sluice_spend_backlog_entries",
                                .help = "Spend events pending or not yet read by the coordinator.",
                            });
    m->backlog_entries = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){
                                .name = "sluice_spend_backlog_age_seconds",
                                .help = "Age of the oldest spend event pending or not yet read.",
                            });
    m->backlog_age_s = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){
                                .name = "sluice_coordinator_leader",
                                .help = "1 while this coordinator has the leader lease, else 0.",
                            });
    m->leader = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){
                                .name = "litellm_total_users",
                                .help = "Users in the database, as the leader last counted them.",
                            });
    m->users = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_GAUGE,
                            &(struct sl_metric_spec){
                                .name = "litellm_teams_count",
                                .help = "Teams in the database, as the leader last counted them.",
                            });
    m->teams = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){
                                .name = "sluice_spend_events_total",
                                .help = "Spend events written to spend_logs (inserted), already "
                                        "there (duplicate) or unreadable (invalid).",
                                .labels = outcome,
                            });
    m->inserted = sl_metrics_series(f, (const char *const[]){"inserted"});
    m->duplicate = sl_metrics_series(f, (const char *const[]){"duplicate"});
    m->invalid = sl_metrics_series(f, (const char *const[]){"invalid"});
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){
                                .name = "sluice_spend_stream_trimmed_total",
                                .help = "Spend events trimmed from the stream before the "
                                        "coordinator read them.",
                            });
    m->trimmed = sl_metrics_series(f, NULL);
    f = sl_metrics_register(SL_METRIC_COUNTER,
                            &(struct sl_metric_spec){
                                .name = "sluice_health_checks_total",
                                .help = "Background health checks of deployments, by result.",
                                .labels = outcome,
                            });
    m->health_passed = sl_metrics_series(f, (const char *const[]){"healthy"});
    m->health_failed = sl_metrics_series(f, (const char *const[]){"unhealthy"});
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void
serve_one(int fd)
{
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    char req[REQUEST_MAX_BYTES + 1];
    size_t len = 0;
    struct sl_buf body;
    char head[256];
    int n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (len < REQUEST_MAX_BYTES) {
        ssize_t r = recv(fd, req + len, REQUEST_MAX_BYTES - len, 0);

        if (r <= 0)
            break;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
            break;
    }
    req[len] = '\0';

    sl_buf_init(&body, EXPOSITION_MAX_BYTES);
    if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET /metrics?", 13) != 0) {
        const char *msg = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n";

        write_all(fd, msg, strlen(msg));
    } else if (sl_metrics_render(&body) != SL_OK) {
        const char *msg = "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n";

        write_all(fd, msg, strlen(msg));
    } else {
        n = snprintf(head, sizeof(head),
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
                     "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     body.len);
        write_all(fd, head, (size_t)n);
        write_all(fd, body.data, body.len);
    }
    sl_buf_dispose(&body);
}

static void *
run_responder(void *arg)
{
    struct pollfd fds[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};

    (void)arg;
    sl_metrics_bind_thread(1);
    for (;;) {
        int client;

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents != 0)
            break;
        client = accept(listen_fd, NULL, NULL);
        if (client < 0)
            continue;
        serve_one(client);
        close(client);
    }
    return NULL;
}

enum sl_status
sl_coord__metrics_serve(const char *host, int port, struct sl_errbuf *err)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        sl_errbuf_set(err, "invalid metrics host '%s': expected an IPv4 address", host);
        return SL_ERR_CONFIG;
    }
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(listen_fd, 16) != 0 ||
        pipe(stop_pipe) != 0) {
        sl_errbuf_set(err, "cannot listen on %s:%d for /metrics: %s", host, port, strerror(errno));
        if (listen_fd >= 0)
            close(listen_fd);
        listen_fd = -1;
        return SL_ERR_UNAVAILABLE;
    }
    if (pthread_create(&thread, NULL, run_responder, NULL) != 0) {
        sl_errbuf_set(err, "cannot start the /metrics thread");
        sl_coord__metrics_stop();
        return SL_ERR_UNAVAILABLE;
    }
    thread_started = 1;
    return SL_OK;
}

void
sl_coord__metrics_stop(void)
{
    if (thread_started) {
        (void)!write(stop_pipe[1], "x", 1);
        pthread_join(thread, NULL);
        thread_started = 0;
    }
    for (int i = 0; i < 2; i++) {
        if (stop_pipe[i] >= 0)
            close(stop_pipe[i]);
        stop_pipe[i] = -1;
    }
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
}
