/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice-mock -- a mock OpenAI-compatible provider for Sluice's integration tests and
 * benchmarks, scripted over HTTP through its control API (see README.md next to this file).
 *
 * main() parses the command line, builds the h2o configuration, opens one SO_REUSEPORT
 * listening socket per worker thread on the same port, logs `mock.listening` and waits for
 * SIGINT or SIGTERM, then stops the workers and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http2.h>

#include "bench/mock/mock.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

#define MAX_THREADS 64

struct options {
    const char *host;
    int port;
    int threads;
    const char *tls_cert;
    const char *tls_key;
};

static const char usage_text[] =
    "usage: sluice-mock [--host ADDR] [--port N] [--threads N] [--tls-cert FILE --tls-key FILE]\n"
    "  --host ADDR      address to listen on (default 127.0.0.1; IPv4 or IPv6)\n"
    "  --port N         TCP port; 0 picks a free one (default 0)\n"
    "  --threads N      worker threads sharing the port through SO_REUSEPORT (default 1)\n"
    "  --tls-cert FILE  serve HTTPS with this PEM certificate chain (needs --tls-key)\n"
    "  --tls-key FILE   PEM private key for --tls-cert\n";

/* Parses a decimal integer in [min, max]; returns -1 when `s` is not one. */
static long
parse_long(const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    return v;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *o = (struct options){.host = "127.0.0.1", .port = 0, .threads = 1};
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            o->port = (int)parse_long(optarg, 0, 65535);
            break;
        case 't':
            o->threads = (int)parse_long(optarg, 1, MAX_THREADS);
            break;
        case 'c':
            o->tls_cert = optarg;
            break;
        case 'k':
            o->tls_key = optarg;
            break;
        case 'H':
            fputs(usage_text, stdout);
            exit(0);
        default:
            return -1;
        }
        if (o->port < 0 || o->threads < 0) {
            fprintf(stderr, "sluice-mock: invalid value \"%s\" for --%s\n", optarg,
                    c == 'p' ? "port (0-65535)" : "threads (1-64)");
            return -1;
        }
    }
    if (optind != argc || (o->tls_cert == NULL) != (o->tls_key == NULL)) {
        fprintf(stderr, "sluice-mock: give --tls-cert and --tls-key together; positional "
                        "arguments are not accepted\n");
        return -1;
    }
    return 0;
}

/* Opens a SO_REUSEPORT socket bound to host:port; returns the fd or -1 with errno set. */
static int
open_listener(const char *host, int port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    int fd, on = 1;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        len = sizeof(*sin6);
    } else {
        errno = EINVAL;
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static SSL_CTX *
create_tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

static void
on_accept(uv_stream_t *listener, int status)
{
    struct sl_mock_worker *w = listener->data;
    uv_tcp_t *conn;

    if (status != 0)
        return;
    conn = sl_xmalloc(sizeof(*conn));
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    /* libuv's h2o binding leaves Nagle on, which delays small SSE chunks. */
    uv_tcp_nodelay(conn, 1);
    h2o_accept(&w->accept_ctx, h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free));
}

static void
on_stop(uv_async_t *a)
{
    uv_stop(a->loop);
}

/* Workers that left their loop and wait for the process to exit. */
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_cond = PTHREAD_COND_INITIALIZER;
static int parked_count;

/*
 * Runs the worker's loop until stop_async, then parks the thread for good. A worker thread
 * never exits: h2o 2.2.5 keeps per-thread memory caches that it cannot free, and a live thread
 * keeps them reachable until the process exits.
 */
static void *
run_worker(void *arg)
{
    struct sl_mock_worker *w = arg;

    uv_run(&w->loop, UV_RUN_DEFAULT);
    pthread_mutex_lock(&parked_lock);
    parked_count++;
    pthread_cond_signal(&parked_cond);
    pthread_mutex_unlock(&parked_lock);
    for (;;)
        pause();
    return NULL;
}

static void
wait_for_parked_workers(int count)
{
    pthread_mutex_lock(&parked_lock);
    while (parked_count < count)
        pthread_cond_wait(&parked_cond, &parked_lock);
    pthread_mutex_unlock(&parked_lock);
}

/* Sets up the worker's loop, h2o context and listener; returns 0 or a libuv error. */
static int
init_worker(struct sl_mock_worker *w, h2o_globalconf_t *conf, SSL_CTX *ssl)
{
    int rc;

    uv_loop_init(&w->loop);
    h2o_context_init(&w->ctx, &w->loop, conf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = conf->hosts;
    w->accept_ctx.ssl_ctx = ssl;
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, w->listen_fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_accept);
    return rc;
}

static void
configure_h2o(h2o_globalconf_t *conf)
{
    h2o_hostconf_t *host;

    h2o_config_init(conf);
    conf->server_name = h2o_iovec_init(H2O_STRLIT("sluice-mock"));
    conf->max_request_entity_size = SL_MOCK_MAX_BODY;
    /* h2o's HTTP/1 timeout covers the whole upload and the keep-alive idle time. */
    conf->http1.req_timeout = 60 * 1000;
    host = h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    sl_mock_routes_register(host);
}

/* Opens one listener per worker on one port (the first picks it when port is 0). */
static int
open_listeners(struct sl_mock_worker *workers, const struct options *o, int *port)
{
    *port = o->port;
    for (int i = 0; i < o->threads; i++) {
        workers[i].listen_fd = open_listener(o->host, *port);
        if (workers[i].listen_fd == -1) {
            sl_log(SL_LOG_ERROR, NULL, "mock.listen_failed", SL_LOG_STR("host", o->host),
                   SL_LOG_INT("port", *port), SL_LOG_STR("error", strerror(errno)));
            return -1;
        }
        if (i == 0)
            *port = bound_port(workers[0].listen_fd);
    }
    return 0;
}

static void
wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    sl_log(SL_LOG_INFO, NULL, "mock.stopping",
           SL_LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
}

int
main(int argc, char **argv)
{
    static h2o_globalconf_t conf;
    static struct sl_mock_shared shared;
    static struct sl_mock_worker workers[MAX_THREADS];
    struct options o;
    SSL_CTX *ssl = NULL;
    sigset_t set;
    int port;

    sl_xalloc_install();
    sl_log_init("mock");
    if (parse_options(argc, argv, &o) != 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Workers inherit this mask, so only the main thread's sigwait() receives the signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    pthread_mutex_init(&shared.lock, NULL);
    shared.scripts = sl_mock_script_queue_create();
    shared.log = sl_mock_reqlog_create();
    shared.start_ms = sl_now_ms();
    configure_h2o(&conf);

    if (o.tls_cert != NULL) {
        ssl = create_tls_context(o.tls_cert, o.tls_key);
        if (ssl == NULL) {
            sl_log(SL_LOG_ERROR, NULL, "mock.tls_failed", SL_LOG_STR("cert", o.tls_cert),
                   SL_LOG_STR("key", o.tls_key),
                   SL_LOG_STR("error", "cannot load the certificate chain or the key"));
            return 1;
        }
    }
    if (open_listeners(workers, &o, &port) != 0)
        return 1;
    for (int i = 0; i < o.threads; i++) {
        int rc;

        workers[i].shared = &shared;
        rc = init_worker(&workers[i], &conf, ssl);
        if (rc != 0) {
            sl_log(SL_LOG_ERROR, NULL, "mock.listen_failed", SL_LOG_STR("host", o.host),
                   SL_LOG_INT("port", port), SL_LOG_STR("error", uv_strerror(rc)));
            return 1;
        }
    }
    for (int i = 0; i < o.threads; i++)
        pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]);
    sl_log(SL_LOG_INFO, NULL, "mock.listening", SL_LOG_STR("host", o.host),
           SL_LOG_INT("port", port), SL_LOG_BOOL("tls", ssl != NULL),
           SL_LOG_INT("threads", o.threads));

    wait_for_signal();
    for (int i = 0; i < o.threads; i++)
        uv_async_send(&workers[i].stop_async);
    wait_for_parked_workers(o.threads);
    return 0;
}
