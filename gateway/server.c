/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server -- the h2o global config: routes, limits, the JSON 413 filter, listener TLS, and
 * the listening socket. Built once on the main thread before any worker starts.
 */
#define SL_LOG_MODULE "server"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "gateway/gateway.h"

#include <h2o/http2.h>
#include "gateway/http/errors.h"
#include "gateway/http/handlers.h"
#include "gateway/http/request.h"
#include "gateway/mgmt/http.h"
#include "gateway/mgmt/mgmt.h"
#include "gateway/mgmt/models.h"

/* HTTP/1 deadline for headers plus body, and the keep-alive idle time: h2o's 10 s default
 * cuts slow uploads of large prompts. */
#define SL_SERVER_HTTP1_REQ_TIMEOUT_MS 60000

struct route {
    const char *path;
    int (*on_req)(h2o_handler_t *, h2o_req_t *);
};

/* Order matters: h2o matches by prefix, first registered first, so "/" comes last. */
static const struct route routes[] = {
    {"/v1/chat/completions", sl_handle_chat},
    {"/chat/completions", sl_handle_chat},
    {"/v1/messages/count_tokens", sl_handle_count_tokens},
    {"/v1/messages", sl_handle_messages},
    {"/v1/completions", sl_handle_completions},
    {"/completions", sl_handle_completions},
    {"/v1/embeddings", sl_handle_embeddings},
    {"/embeddings", sl_handle_embeddings},
    {"/v1/models", sl_handle_models},
    {"/models", sl_handle_models},
    {"/health/liveliness", sl_handle_liveliness},
    {"/health/liveness", sl_handle_liveliness},
    {"/health/readiness", sl_handle_readiness},
    {"/health", sl_handle_health}, /* after the /health/ routes, which it would take */
    {"/metrics", sl_handle_metrics}, /* also /metrics/, which LiteLLM serves */
    {"/key/", sl_handle_key},
    {"/user/", sl_handle_mgmt},
    {"/team/", sl_handle_mgmt},
    {"/organization/", sl_handle_mgmt},
    {"/budget/", sl_handle_mgmt},
    {"/customer/", sl_handle_mgmt},
    {"/end_user/", sl_handle_mgmt},
    {"/cache/", sl_handle_mgmt},
    {"/spend/", sl_handle_mgmt},
    {"/global/spend", sl_handle_mgmt},
    {"/model/", sl_handle_model},
    {"/v1/model/info", sl_handle_model},
    {"/", sl_handle_not_found},
};

/* ---------------------------------------------------------------- JSON 413 */

/*
 * h2o rejects a body over max_request_entity_size itself, in plain text, before any handler
 * runs. This filter on the fallback path (where h2o binds such requests) swaps that body for
 * the OpenAI error envelope so SDKs can read it.
 */
struct envelope_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static void
on_send_envelope(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                 h2o_send_state_t state)
{
    struct envelope_ostream *os = (struct envelope_ostream *)self;

    (void)bufs;
    (void)bufcnt;
    h2o_ostream_send_next(&os->super, req, &os->body, 1, state);
}

static void
on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct envelope_ostream *os;
    struct sl_buf body;
    char call_id[37];

    (void)self;
    if (req->res.status == 413) {
        sl_buf_init(&body, 0);
        sl_errors_envelope(&body, 413,
                           "Request body is too large (general_settings.max_request_size_mb).",
                           "request_too_large", NULL);
        memset(&req->res.headers, 0, sizeof(req->res.headers));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        sl_request_new_call_id(call_id);
        h2o_iovec_t id = h2o_strdup(&req->pool, call_id, strlen(call_id));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-litellm-call-id"), 0,
                              NULL, id.base, id.len);
        req->res.content_length = body.len;
        os = (struct envelope_ostream *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = on_send_envelope;
        os->body = h2o_strdup(&req->pool, body.data, body.len);
        sl_buf_dispose(&body);
        slot = &os->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

/* ---------------------------------------------------------------- TLS */

static enum sl_status
setup_tls(struct sl_gateway *gw, struct sl_errbuf *err)
{
    const struct sl_config *cfg = &gw->cfg;

    if (cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL)
        return SL_OK;
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL) {
        sl_errbuf_set(err, "%s: general_settings.tls_cert_file and tls_key_file must be set "
                           "together", cfg->path);
        return SL_ERR_CONFIG;
    }

    gw->ssl_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(gw->ssl_ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(gw->ssl_ctx, cfg->tls_cert_file) != 1) {
        sl_errbuf_set(err, "%s: general_settings.tls_cert_file: cannot load certificate chain "
                           "\"%s\"", cfg->path, cfg->tls_cert_file);
        return SL_ERR_CONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(gw->ssl_ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(gw->ssl_ctx) != 1) {
        sl_errbuf_set(err, "%s: general_settings.tls_key_file: cannot load a private key that "
                           "matches the certificate from \"%s\"", cfg->path, cfg->tls_key_file);
        return SL_ERR_CONFIG;
    }
    /* HTTP/2 when the client offers it through ALPN, else HTTP/1.1, which is also named back to
     * clients that offer only it (h2o's own list has the HTTP/2 names only). */
    static const h2o_iovec_t alpn[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(gw->ssl_ctx, alpn);
    return SL_OK;
}

/* ---------------------------------------------------------------- setup */

enum sl_status
sl_server_setup(struct sl_gateway *gw, struct sl_errbuf *err)
{
    h2o_hostconf_t *host;
    h2o_filter_t *filter;

    h2o_config_init(&gw->h2o);
    gw->h2o.server_name = h2o_iovec_init(H2O_STRLIT("sluice"));
    gw->h2o.max_request_entity_size = (size_t)gw->cfg.max_request_size_bytes;
    gw->h2o.http1.req_timeout = SL_SERVER_HTTP1_REQ_TIMEOUT_MS;

    host = h2o_config_register_host(&gw->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        /* The returned pathconf moves on the next registration: use it at once. */
        h2o_pathconf_t *pc = h2o_config_register_path(host, routes[i].path, 0);
        h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));

        h->on_req = routes[i].on_req;
    }
    filter = h2o_create_filter(&host->fallback_path, sizeof(*filter));
    filter->on_setup_ostream = on_setup_ostream;

    return setup_tls(gw, err);
}

void
sl_server_dispose(struct sl_gateway *gw)
{
    h2o_config_dispose(&gw->h2o);
    if (gw->ssl_ctx != NULL)
        SSL_CTX_free(gw->ssl_ctx);
    gw->ssl_ctx = NULL;
}

int
sl_server_listen(const char *host, int *port, struct sl_errbuf *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port_str[16];
    int fd = -1;
    int on = 1;
    int rc;

    snprintf(port_str, sizeof(port_str), "%d", *port);
    rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0) {
        sl_errbuf_set(err, "invalid listen address %s:%d: %s (use a numeric IP address)", host,
                      *port, gai_strerror(rc));
        return -1;
    }

    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0)
        goto fail;

    /* Port 0 asked the kernel for a free port: report which one, for the other workers too. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return fd;

fail:
    sl_errbuf_set(err, "cannot listen on %s:%d: %s", host, *port, strerror(errno));
    if (fd != -1)
        close(fd);
    freeaddrinfo(res);
    return -1;
}
