/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream -- curl multi on libuv; see upstream.h for the contract.
 *
 * Reentrancy rule: nothing here calls curl or an owner from inside a curl callback. The write
 * and header callbacks only store bytes and mark the call dirty; completed transfers and dirty
 * calls are handled in after_socket_action(), after curl has returned.
 */
#define SL_LOG_MODULE "upstream"
#include "gateway/upstream/upstream.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* Response heads larger than this are cut: providers send a few KiB at most. */
#define SL_UPSTREAM_HEAD_MAX_BYTES (64 * 1024)
/* Upstream connections kept alive per worker. */
#define SL_UPSTREAM_MAX_CONNECTS 256

struct sock_ctx {
    uv_poll_t poll;
    struct sl_upstream *up;
    curl_socket_t fd;
};

static void drain_dirty(struct sl_upstream *up);

/* ---------------------------------------------------------------- dirty list */

static void
mark_dirty(struct sl_call *call)
{
    if (call->dirty)
        return;
    call->dirty = 1;
    call->dirty_next = call->up->dirty;
    call->up->dirty = call;
}

static void
unlink_dirty(struct sl_call *call)
{
    struct sl_call **p = &call->up->dirty;

    if (!call->dirty)
        return;
    while (*p != NULL && *p != call)
        p = &(*p)->dirty_next;
    if (*p == call)
        *p = call->dirty_next;
    call->dirty = 0;
    call->dirty_next = NULL;
}

/* ---------------------------------------------------------------- call teardown */

static void
on_call_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
stop_idle_timer(struct sl_call *call)
{
    if (call->idle_timer_active) {
        uv_timer_stop(&call->idle_timer);
        call->idle_timer_active = 0;
    }
}

static void
finish_transfer(struct sl_call *call, CURLcode result, enum sl_status error)
{
    if (call->state == SL_CALL_DONE)
        return;
    curl_multi_remove_handle(call->up->multi, call->easy);
    call->state = SL_CALL_DONE;
    call->result = result;
    if (call->error == SL_OK)
        call->error = error;
    stop_idle_timer(call);
    mark_dirty(call);
}

static void
really_destroy(struct sl_call *call)
{
    unlink_dirty(call);
    if (call->state == SL_CALL_RUNNING)
        curl_multi_remove_handle(call->up->multi, call->easy);
    if (!call->up->closing && call->up->n_spare < SL_UPSTREAM_SPARE_EASY) {
        /* Reset drops every option of this call, the body and header pointers included. */
        curl_easy_reset(call->easy);
        call->up->spare[call->up->n_spare++] = call->easy;
    } else {
        curl_easy_cleanup(call->easy);
    }
    curl_slist_free_all(call->req_headers);
    free(call->req_body);
    sl_buf_dispose(&call->head);
    sl_buf_dispose(&call->in);
    stop_idle_timer(call);
    /* The timer handle lives in the call, so the call is freed in its close callback. */
    call->idle_timer.data = call;
    uv_close((uv_handle_t *)&call->idle_timer, on_call_closed);
}

void
sl_call_destroy(struct sl_call *call)
{
    if (call == NULL)
        return;
    if (call->in_progress_cb) {
        call->destroy_pending = 1;
        return;
    }
    really_destroy(call);
}

/* ---------------------------------------------------------------- curl callbacks */

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sl_call *call = userdata;
    size_t n = size * nmemb;

    if (call->pause_at != 0 && call->in.len >= call->pause_at) {
        call->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (sl_buf_append(&call->in, ptr, n) != SL_OK) {
        call->error = SL_ERR_TOO_LARGE;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    call->last_byte_ms = sl_now_ms();
    mark_dirty(call);
    return n;
}

static void
store_header(struct sl_call *call, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t name_len;
    size_t start;

    if (colon == NULL)
        return;
    name_len = (size_t)(colon - line);
    start = call->head.len;
    if (sl_buf_append(&call->head, line, name_len) != SL_OK)
        return;
    for (size_t i = start; i < call->head.len; i++)
        call->head.data[i] = (char)tolower((unsigned char)call->head.data[i]);

    /* Trim the value: one line per header, without the CRLF and surrounding blanks. */
    const char *v = colon + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (sl_buf_append(&call->head, "", 1) != SL_OK ||
        sl_buf_append(&call->head, v, (size_t)(end - v)) != SL_OK ||
        sl_buf_append(&call->head, "", 1) != SL_OK) {
        /* Over the cap: drop this header whole so the pairs stay aligned. */
        call->head.len = start;
        call->head.data[start] = '\0';
    }
}

static size_t
on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct sl_call *call = userdata;
    size_t n = size * nmemb;

    call->last_byte_ms = sl_now_ms();
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new head (after a 1xx, or the first): forget what came before. */
        const char *sp = memchr(line, ' ', n);
        long status = 0;

        for (const char *p = sp != NULL ? sp + 1 : line + n; p < line + n && isdigit((unsigned char)*p); p++)
            status = status * 10 + (*p - '0');
        call->status = status;
        call->head_done = 0;
        sl_buf_reset(&call->head);
        return n;
    }
    if (n <= 2 && (n == 0 || line[0] == '\r' || line[0] == '\n')) {
        if (call->status >= 200) {
            call->head_done = 1;
            mark_dirty(call);
        }
        return n;
    }
    store_header(call, line, n);
    return n;
}

/* ---------------------------------------------------------------- multi glue */

static void
after_socket_action(struct sl_upstream *up)
{
    CURLMsg *msg;
    int left;

    for (;;) {
        msg = curl_multi_info_read(up->multi, &left);
        if (msg == NULL)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;

        /* Read the message before removing the handle: the message dies with it. */
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct sl_call *call = NULL;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
        if (call != NULL)
            finish_transfer(call, result, SL_OK);
    }
    drain_dirty(up);
}

static void
drain_dirty(struct sl_upstream *up)
{
    static __thread int draining;

    if (draining)
        return; /* the outer loop below picks up calls marked meanwhile */
    draining = 1;
    while (up->dirty != NULL) {
        struct sl_call *call = up->dirty;

        up->dirty = call->dirty_next;
        call->dirty = 0;
        call->dirty_next = NULL;

        call->in_progress_cb = 1;
        call->on_progress(call, call->owner);
        call->in_progress_cb = 0;
        if (call->destroy_pending)
            really_destroy(call);
    }
    draining = 0;
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
    struct sock_ctx *ctx = handle->data;
    struct sl_upstream *up = ctx->up;
    curl_socket_t fd = ctx->fd;
    int flags = 0;
    int running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;

    /* ctx may be closed inside socket_action: use the copies taken above. */
    curl_multi_socket_action(up->multi, fd, flags, &running);
    after_socket_action(up);
}

static void
on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct sl_upstream *up = userp;
    struct sock_ctx *ctx = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ctx != NULL) {
            uv_poll_stop(&ctx->poll);
            uv_close((uv_handle_t *)&ctx->poll, on_sock_closed);
            curl_multi_assign(up->multi, s, NULL);
        }
        return 0;
    }

    if (ctx == NULL) {
        ctx = sl_xcalloc(1, sizeof(*ctx));
        ctx->up = up;
        ctx->fd = s;
        uv_poll_init_socket(up->loop, &ctx->poll, s);
        ctx->poll.data = ctx;
        curl_multi_assign(up->multi, s, ctx);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, on_poll);
    return 0;
}

static void
on_timer(uv_timer_t *t)
{
    struct sl_upstream *up = t->data;
    int running;

    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    after_socket_action(up);
}

/* Arms the timer curl requests; calling socket_action from here would re-enter curl. */
static int
on_timer_request(CURLM *multi, long timeout_ms, void *userp)
{
    struct sl_upstream *up = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&up->timer);
    else
        uv_timer_start(&up->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

int
sl_upstream_init(struct sl_upstream *up, uv_loop_t *loop)
{
    memset(up, 0, sizeof(*up));
    up->loop = loop;
    up->multi = curl_multi_init();
    if (up->multi == NULL)
        return -1;
    uv_timer_init(loop, &up->timer);
    up->timer.data = up;
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_timer_request);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)SL_UPSTREAM_MAX_CONNECTS);
    return 0;
}

void
sl_upstream_dispose(struct sl_upstream *up)
{
    up->closing = 1;
    while (up->n_spare > 0)
        curl_easy_cleanup(up->spare[--up->n_spare]);
    uv_timer_stop(&up->timer);
    uv_close((uv_handle_t *)&up->timer, NULL);
    /* Cleanup closes the cached connections, which reports CURL_POLL_REMOVE for each socket. */
    curl_multi_cleanup(up->multi);
    up->multi = NULL;
}

/* ---------------------------------------------------------------- idle timeout */

static void
on_idle_timer(uv_timer_t *t)
{
    struct sl_call *call = t->data;
    uint64_t now = sl_now_ms();
    uint64_t quiet = now - call->last_byte_ms;

    call->idle_timer_active = 0;
    if (call->state != SL_CALL_RUNNING)
        return;

    /* A transfer we paused for a slow client is not idle on the provider's side. */
    if (call->paused || quiet < call->idle_timeout_ms) {
        uint64_t wait = call->paused ? call->idle_timeout_ms : call->idle_timeout_ms - quiet;
        uv_timer_start(&call->idle_timer, on_idle_timer, wait, 0);
        call->idle_timer_active = 1;
        return;
    }

    snprintf(call->curl_error, sizeof(call->curl_error), "no data from the provider for %llu ms",
             (unsigned long long)quiet);
    finish_transfer(call, CURLE_OPERATION_TIMEDOUT, SL_ERR_TIMEOUT);
    drain_dirty(call->up);
}

/* ---------------------------------------------------------------- calls */

static void
apply_tls(CURL *easy, const struct sl_upstream_tls *tls)
{
    if (tls == NULL)
        return;
    if (!tls->verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (tls->ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, tls->ca_file);
    if (tls->ca_path != NULL)
        curl_easy_setopt(easy, CURLOPT_CAPATH, tls->ca_path);
}

struct sl_call *
sl_call_create(struct sl_upstream *up, const struct sl_call_options *opts, void *owner,
               sl_call_progress_cb on_progress, struct sl_errbuf *err)
{
    struct sl_call *call = sl_xcalloc(1, sizeof(*call));
    CURL *easy = up->n_spare > 0 ? up->spare[--up->n_spare] : curl_easy_init();

    call->up = up;
    call->easy = easy;
    call->owner = owner;
    call->on_progress = on_progress;
    call->req_headers = curl_slist_append(opts->headers, "Expect:");
    call->req_body = opts->body;
    call->pause_at = opts->pause_at;
    call->idle_timeout_ms = opts->idle_timeout_ms;
    call->last_byte_ms = sl_now_ms();
    sl_buf_init(&call->head, SL_UPSTREAM_HEAD_MAX_BYTES);
    sl_buf_init(&call->in, opts->max_body);
    uv_timer_init(up->loop, &call->idle_timer);
    call->idle_timer.data = call;

    curl_easy_setopt(easy, CURLOPT_URL, opts->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->req_body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)opts->body_len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, call->req_headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->curl_error);
    /* Over TLS, ALPN reports at the handshake whether a connection can multiplex. In clear
     * text curl learns it only from the first response's head, so waiting would queue
     * concurrent calls to a new host behind the first one. */
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, strncmp(opts->url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    if (opts->total_timeout_ms != 0) {
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)opts->total_timeout_ms);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)opts->total_timeout_ms);
    } else if (opts->idle_timeout_ms != 0) {
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)opts->idle_timeout_ms);
    }
    apply_tls(easy, opts->tls);

    if (curl_multi_add_handle(up->multi, easy) != CURLM_OK) {
        sl_errbuf_set(err, "the HTTP client rejected the request to %s", opts->url);
        call->state = SL_CALL_DONE; /* never added: nothing to remove */
        really_destroy(call);
        return NULL;
    }
    if (call->idle_timeout_ms != 0) {
        uv_timer_start(&call->idle_timer, on_idle_timer, call->idle_timeout_ms, 0);
        call->idle_timer_active = 1;
    }
    return call;
}

void
sl_call_consume(struct sl_call *call, size_t n)
{
    sl_buf_consume(&call->in, n);
    if (!call->paused || call->state != SL_CALL_RUNNING || call->in.len >= call->pause_at / 2)
        return;

    /* Resuming may call on_write synchronously. Its bytes are handed to the owner on the next
     * loop iteration, never from inside this call, so owners are not re-entered. */
    call->paused = 0;
    curl_easy_pause(call->easy, CURLPAUSE_CONT);
    if (call->up->dirty != NULL)
        uv_timer_start(&call->up->timer, on_timer, 0, 0);
}

const char *
sl_call_header(const struct sl_call *call, const char *name)
{
    size_t pos = 0;
    const char *n;
    const char *v;

    while (sl_call_next_header(call, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

int
sl_call_next_header(const struct sl_call *call, size_t *pos, const char **name,
                    const char **value)
{
    size_t p = *pos;

    if (p >= call->head.len)
        return 0;
    *name = call->head.data + p;
    p += strlen(*name) + 1;
    *value = call->head.data + p;
    p += strlen(*value) + 1;
    *pos = p;
    return 1;
}
