/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream -- provider calls over one curl multi handle per worker, driven by libuv.
 *
 * curl's socket API is bound to uv_poll_t handles and one uv_timer_t. curl callbacks only
 * store bytes and mark the call dirty; after every curl_multi_socket_action() the worker
 * finishes completed transfers and then calls each dirty call's owner (on_progress), so
 * owners may use h2o and curl freely there (never from inside a curl callback).
 *
 * Backpressure: the received body waits in `call->in` until the owner consumes it. Once it
 * holds `pause_at` bytes the write callback pauses the transfer; sl_call_consume() resumes it.
 * A call without `pause_at` (a non-stream response) fails past `max_body` bytes instead.
 *
 * Lifetime: sl_call_create() returns a call the owner frees with sl_call_destroy(), which
 * cancels the transfer if it still runs. All on the worker's loop thread.
 */
#ifndef SL_UPSTREAM_H
#define SL_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/buf.h"
#include "common/status.h"

struct sl_call;

/* Called outside curl callbacks when the call has new head or body bytes, or has finished. */
typedef void (*sl_call_progress_cb)(struct sl_call *call, void *owner);

/* Easy handles kept for reuse per worker: creating one allocates several kilobytes. */
#define SL_UPSTREAM_SPARE_EASY 64

struct sl_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct sl_call *dirty; /* calls with news for their owner, linked through dirty_next */
    int closing;
    CURL *spare[SL_UPSTREAM_SPARE_EASY]; /* reset handles ready for the next call */
    size_t n_spare;
};

/* TLS and proxy choices shared by every call of a gateway. */
struct sl_upstream_tls {
    int verify;            /* 0 turns off certificate and host name verification */
    const char *ca_file;   /* CA bundle (PEM) or NULL for curl's default */
    const char *ca_path;   /* directory of CA certificates or NULL */
};

struct sl_call_options {
    const char *url;
    struct curl_slist *headers; /* taken: freed with the call */
    char *body;                 /* taken: freed with the call */
    size_t body_len;
    uint64_t total_timeout_ms;  /* 0: none (streams use the idle timeout instead) */
    uint64_t idle_timeout_ms;   /* 0: none; max silence before the first byte and between bytes */
    size_t pause_at;            /* 0: never pause */
    size_t max_body;            /* body bytes a call may hold before it fails */
    const struct sl_upstream_tls *tls;
};

enum sl_call_state {
    SL_CALL_RUNNING,
    SL_CALL_DONE,   /* transfer finished; see `result` */
};

struct sl_call {
    struct sl_upstream *up;
    CURL *easy;
    void *owner;
    sl_call_progress_cb on_progress;

    struct curl_slist *req_headers;
    char *req_body;

    /* Response head: the last status line seen and its headers as "name\0value\0" pairs with
     * lower-case names. `head_done` is set at the blank line that ends the head. */
    long status;
    struct sl_buf head;
    int head_done;

    struct sl_buf in; /* body bytes the owner has not consumed yet */
    size_t pause_at;
    int paused;

    enum sl_call_state state;
    CURLcode result;
    enum sl_status error;          /* SL_OK, or why the call failed on our side */
    char curl_error[CURL_ERROR_SIZE];

    uint64_t idle_timeout_ms;
    uint64_t last_byte_ms;
    uv_timer_t idle_timer;
    int idle_timer_active;

    int dirty;
    struct sl_call *dirty_next;
    int in_progress_cb; /* owner is running: destroy is deferred */
    int destroy_pending;
};

int sl_upstream_init(struct sl_upstream *up, uv_loop_t *loop);
/* Cancels every call still running and closes the handles; the loop must run to finish. */
void sl_upstream_dispose(struct sl_upstream *up);

/*
 * Starts a call. Returns NULL (and fills `err`) only if curl rejects the options. The call
 * keeps `owner` as an opaque pointer; `on_progress` runs on this loop, never re-entrantly.
 */
struct sl_call *sl_call_create(struct sl_upstream *up, const struct sl_call_options *opts,
                               void *owner, sl_call_progress_cb on_progress,
                               struct sl_errbuf *err);

/* Marks `n` bytes of `call->in` as consumed and resumes a paused transfer when room is back. */
void sl_call_consume(struct sl_call *call, size_t n);

/* Cancels the transfer if it runs and frees the call (deferred while its owner runs). */
void sl_call_destroy(struct sl_call *call);

/* Returns the value of response header `name` (lower case), or NULL. Borrowed from the call. */
const char *sl_call_header(const struct sl_call *call, const char *name);

/* Iterates the response headers: start with *pos = 0; returns 0 at the end. */
int sl_call_next_header(const struct sl_call *call, size_t *pos, const char **name,
                        const char **value);

#endif /* SL_UPSTREAM_H */
