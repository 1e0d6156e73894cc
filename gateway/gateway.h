/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway -- the state every worker reads and none writes: the loaded config, the model
 * router, upstream TLS choices and the h2o global config. main() builds it before the workers
 * start and frees it after they are joined.
 */
#ifndef SL_GATEWAY_H
#define SL_GATEWAY_H

#include <h2o.h>
#include <openssl/ssl.h>

#include "common/config.h"
#include "common/redis.h"
#include "gateway/router/router.h"
#include "gateway/upstream/upstream.h"

struct sl_inflight;
struct sl_worker;

struct sl_gateway {
    struct sl_config cfg;
    struct sl_router router;
    struct sl_upstream_tls tls;
    h2o_globalconf_t h2o;
    SSL_CTX *ssl_ctx; /* NULL: plain HTTP (HTTP/1.1 and h2c) */

    /* Shared state, each optional: without a database the gateway runs on the master key
     * alone; without Redis nothing is shared between nodes. Every worker opens its own
     * connections to them (worker.h). */
    int have_database;
    int have_redis;
    struct sl_redis_target redis_target;

    /* Routing state of each deployment shared by every worker: in-flight counts, latencies,
     * minute counts (router/inflight.h). Written by the workers with atomics. */
    struct sl_inflight *inflight;

    const char *host;
    int port;
    int num_workers;
    struct sl_worker *workers;
};

/*
 * Registers every route and filter into gw->h2o and, when the config names a certificate,
 * builds the TLS context. Returns SL_OK or SL_ERR_CONFIG with the reason in `err`.
 */
enum sl_status sl_server_setup(struct sl_gateway *gw, struct sl_errbuf *err);

/* Opens a listening TCP socket with SO_REUSEPORT on host:port; port 0 picks a free port, which
 * is written back to *port. Returns the fd, or -1 with the reason in `err`. */
int sl_server_listen(const char *host, int *port, struct sl_errbuf *err);

/* Releases what sl_server_setup() built. */
void sl_server_dispose(struct sl_gateway *gw);

#endif /* SL_GATEWAY_H */
