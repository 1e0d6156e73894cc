/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exchange -- timing and delivery of one scripted provider response.
 *
 * States: waiting for latency_ms, then either one whole response, or a stream made of steps
 * (the role chunks, each content chunk, then the tail: finish chunks, usage chunk, [DONE]).
 * Steps are chunk_interval_ms apart; with no interval, consecutive steps go out in one write of
 * up to STREAM_BATCH_BYTES. A step write waits for h2o's proceed before the next one (h2o 2.2.5
 * aborts on a second h2o_send before proceed).
 *
 * Client hang-ups: h2o reports HTTP/2 resets through the generator's stop and the pool's
 * dispose hook. h2o 2.2.5 does not read an HTTP/1 socket while a request is being answered, so
 * a timer polls the connection for POLLRDHUP every SL_MOCK_PROBE_MS while the request is held.
 */
#include "bench/mock/exchange.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bench/mock/anthropic.h"
#include "bench/mock/gemini.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

#define STREAM_BATCH_BYTES (64u * 1024u)

enum stream_phase {
    PHASE_ROLE,
    PHASE_CONTENT,
    PHASE_TAIL,
};

/* Action taken when the write in flight completes. */
enum after_write {
    AFTER_NEXT,  /* the next step, after `wait_ms` */
    AFTER_CUT,   /* end the response abruptly */
    AFTER_STALL, /* send nothing until the client leaves or SL_MOCK_STALL_MAX_MS passes */
};

struct sl_mock_exchange {
    h2o_generator_t gen;
    h2o_req_t *req; /* NULL once the request may no longer be touched */
    struct sl_mock_shared *shared;
    uint64_t seq;
    enum sl_mock_kind kind;
    struct sl_mock_script script;
    struct sl_mock_chat chat;
    struct sl_mock_content content;
    struct sl_mock_chunker chunker;
    char *usage_json;
    uv_timer_t timer; /* latency, chunk delays and the stall limit */
    uv_timer_t probe; /* HTTP/1 hang-up probe */
    int open_handles;
    int started;     /* h2o_start_response() was called */
    int done;        /* the mock sent its last bytes (FINAL or ERROR) */
    int client_gone; /* the client went away first */
    int in_flight;   /* an h2o_send() waits for proceed */
    int streaming;   /* content and chunker are initialised */
    enum stream_phase phase;
    int64_t next_piece; /* content chunks sent so far */
    enum after_write after;
    uint64_t wait_ms;
    struct sl_buf out; /* bytes of the write in flight; h2o reads them until proceed */
};

static void emit_steps(struct sl_mock_exchange *ex);

static const struct {
    int status;
    const char *reason;
} reason_phrases[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {413, "Payload Too Large"},
    {422, "Unprocessable Entity"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {529, "Site Overloaded"},
};

/* Returns the reason phrase HTTP/1 prints after `status`; unlisted codes get a generic one. */
static const char *
reason_phrase(int status)
{
    for (size_t i = 0; i < sizeof(reason_phrases) / sizeof(reason_phrases[0]); i++) {
        if (reason_phrases[i].status == status)
            return reason_phrases[i].reason;
    }
    return status < 400 ? "OK" : "Error";
}

void
sl_mock_send_body(h2o_req_t *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   h2o_strdup(&req->pool, content_type, SIZE_MAX).base, strlen(content_type));
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

void
sl_mock_send_error(h2o_req_t *req, int status, const char *message, const char *type,
                   const char *param)
{
    struct sl_buf b;

    sl_buf_init(&b, 0);
    (void)sl_mock_error_json(&b, message, type, param);
    sl_mock_send_body(req, status, "application/json", b.data, b.len);
    sl_buf_dispose(&b);
}

static uint64_t
since_start_ms(const struct sl_mock_exchange *ex)
{
    return sl_now_ms() - ex->shared->start_ms;
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct sl_mock_exchange *ex = h->data;

    if (--ex->open_handles > 0)
        return;
    sl_mock_script_dispose(&ex->script);
    sl_mock_chat_dispose(&ex->chat);
    if (ex->streaming) {
        sl_mock_content_dispose(&ex->content);
        sl_mock_chunker_dispose(&ex->chunker);
    }
    free(ex->usage_json);
    sl_buf_dispose(&ex->out);
    free(ex);
}

/* Records that the client left before the mock finished; stops every timer. */
static void
mark_gone(struct sl_mock_exchange *ex)
{
    if (ex->client_gone || ex->done)
        return;
    ex->client_gone = 1;
    uv_timer_stop(&ex->timer);
    uv_timer_stop(&ex->probe);
    pthread_mutex_lock(&ex->shared->lock);
    sl_mock_reqlog_mark_client_gone(ex->shared->log, ex->seq, since_start_ms(ex));
    pthread_mutex_unlock(&ex->shared->lock);
    sl_log(SL_LOG_DEBUG, NULL, "mock.client_gone", SL_LOG_INT("seq", ex->seq),
           SL_LOG_BOOL("response_started", ex->started));
}

/* Records that the mock sends its last bytes now. */
static void
mark_done(struct sl_mock_exchange *ex)
{
    ex->done = 1;
    uv_timer_stop(&ex->timer);
    uv_timer_stop(&ex->probe);
    pthread_mutex_lock(&ex->shared->lock);
    sl_mock_reqlog_mark_completed(ex->shared->log, ex->seq);
    pthread_mutex_unlock(&ex->shared->lock);
}

/* h2o disposes the request's pool: the client left, or the response is over. */
static void
on_pool_dispose(void *p)
{
    struct sl_mock_exchange *ex = *(struct sl_mock_exchange **)p;

    if (!ex->done)
        mark_gone(ex);
    ex->req = NULL;
    uv_close((uv_handle_t *)&ex->timer, on_handle_closed);
    uv_close((uv_handle_t *)&ex->probe, on_handle_closed);
}

/* h2o stops a started response because the client left (or the connection failed). */
static void
on_generator_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct sl_mock_exchange *ex = H2O_STRUCT_FROM_MEMBER(struct sl_mock_exchange, gen, gen);

    (void)req;
    ex->in_flight = 0;
    mark_gone(ex);
    ex->req = NULL;
}

/*
 * Ends a started response abruptly: HTTP/1 closes the connection after the bytes already
 * written, HTTP/2 resets the stream. On HTTP/1 h2o would first write an invalid chunk header,
 * which makes some clients drop the data before it, so the socket is shut down first and the
 * peer sees a plain end of stream without the terminating chunk.
 */
static void
send_abort(struct sl_mock_exchange *ex)
{
    h2o_req_t *req = ex->req;

    if (!ex->client_gone)
        mark_done(ex);
    ex->req = NULL;
    if (req->version < 0x200) {
        h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);

        if (sock != NULL)
            shutdown(h2o_socket_get_fd(sock), SHUT_WR);
    }
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
}

static void
add_response_headers(struct sl_mock_exchange *ex, const char *default_type)
{
    h2o_req_t *req = ex->req;
    int has_type = 0;

    for (size_t i = 0; i < ex->script.header_count; i++) {
        const struct sl_mock_header *h = &ex->script.headers[i];
        h2o_iovec_t name = h2o_strdup(&req->pool, h->name, SIZE_MAX);
        h2o_iovec_t value = h2o_strdup(&req->pool, h->value, SIZE_MAX);

        if (strcmp(h->name, "content-type") == 0)
            has_type = 1;
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              value.base, value.len);
    }
    if (!has_type)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, default_type,
                       strlen(default_type));
}

static void
start_response(struct sl_mock_exchange *ex, const char *default_type, size_t content_length)
{
    h2o_req_t *req = ex->req;

    req->res.status = ex->script.status;
    req->res.reason = reason_phrase(ex->script.status);
    add_response_headers(ex, default_type);
    req->res.content_length = content_length;
    ex->started = 1;
    h2o_start_response(req, &ex->gen);
}

/* Sends `ex->out` as the whole response. */
static void
send_whole(struct sl_mock_exchange *ex, const char *default_type)
{
    h2o_req_t *req = ex->req;
    h2o_iovec_t iov = h2o_iovec_init(ex->out.data != NULL ? ex->out.data : "", ex->out.len);

    start_response(ex, default_type, ex->out.len);
    mark_done(ex);
    ex->req = NULL;
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
}

/* Sends `ex->out` as the next part of a stream; FINAL ends it. */
static void
send_part(struct sl_mock_exchange *ex, h2o_send_state_t state)
{
    h2o_req_t *req = ex->req;
    h2o_iovec_t iov = h2o_iovec_init(ex->out.data != NULL ? ex->out.data : "", ex->out.len);

    if (state == H2O_SEND_STATE_FINAL) {
        mark_done(ex);
        ex->req = NULL;
    } else {
        ex->in_flight = 1;
    }
    /*
     * One buffer even when it is empty: on HTTP/2 an empty buffer makes h2o write the response
     * head (used by first_chunk_ms), while no buffer at all only schedules proceed.
     */
    h2o_send(req, &iov, 1, state);
}

static void
on_stall_limit(uv_timer_t *t)
{
    struct sl_mock_exchange *ex = t->data;

    if (ex->req != NULL && !ex->client_gone)
        send_abort(ex);
}

static void
on_step_timer(uv_timer_t *t)
{
    struct sl_mock_exchange *ex = t->data;

    if (ex->req != NULL && !ex->client_gone)
        emit_steps(ex);
}

static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct sl_mock_exchange *ex = H2O_STRUCT_FROM_MEMBER(struct sl_mock_exchange, gen, gen);

    (void)req;
    ex->in_flight = 0;
    if (ex->req == NULL)
        return;
    if (ex->client_gone) {
        /* The HTTP/1 probe saw the hang-up while this write was in flight. */
        ex->req = NULL;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    switch (ex->after) {
    case AFTER_CUT:
        send_abort(ex);
        break;
    case AFTER_STALL:
        uv_timer_start(&ex->timer, on_stall_limit, SL_MOCK_STALL_MAX_MS, 0);
        break;
    case AFTER_NEXT:
        if (ex->wait_ms > 0)
            uv_timer_start(&ex->timer, on_step_timer, ex->wait_ms, 0);
        else
            emit_steps(ex);
        break;
    }
}

enum stream_action {
    ACTION_NONE,
    ACTION_CUT,
    ACTION_ERROR,
    ACTION_STALL,
};

/* Returns what the script asks for now that `next_piece` content chunks have been sent. */
static enum stream_action
pending_action(const struct sl_mock_exchange *ex)
{
    if (ex->phase == PHASE_ROLE)
        return ACTION_NONE;
    if (ex->script.cut_after == ex->next_piece)
        return ACTION_CUT;
    if (ex->script.error_after == ex->next_piece)
        return ACTION_ERROR;
    if (ex->script.stall_after == ex->next_piece)
        return ACTION_STALL;
    return ACTION_NONE;
}

/* append_step() for Anthropic's Messages stream: one event group per step. */
static int
append_messages_step(struct sl_mock_exchange *ex)
{
    const char *piece;
    size_t len;

    switch (ex->phase) {
    case PHASE_ROLE:
        (void)sl_mock_messages_stream_start(&ex->out, ex->seq, &ex->chat, &ex->content,
                                            ex->usage_json);
        ex->phase = ex->content.pieces > 0 ? PHASE_CONTENT : PHASE_TAIL;
        return 0;
    case PHASE_CONTENT:
        sl_mock_content_piece(&ex->content, ex->next_piece, &piece, &len);
        (void)sl_mock_messages_stream_text(&ex->out, piece, len);
        if (++ex->next_piece == ex->content.pieces)
            ex->phase = PHASE_TAIL;
        return 0;
    case PHASE_TAIL:
        break;
    }
    (void)sl_mock_messages_stream_tail(&ex->out, ex->seq, &ex->script, &ex->content,
                                       ex->usage_json);
    return 1;
}

/* append_step() for a Gemini stream: no role event, one event per piece, then the finish. */
static int
append_gemini_step(struct sl_mock_exchange *ex)
{
    const char *piece;
    size_t len;

    switch (ex->phase) {
    case PHASE_ROLE:
        ex->phase = ex->content.pieces > 0 ? PHASE_CONTENT : PHASE_TAIL;
        return 0;
    case PHASE_CONTENT:
        sl_mock_content_piece(&ex->content, ex->next_piece, &piece, &len);
        (void)sl_mock_gemini_stream_text(&ex->out, ex->seq, &ex->chat, piece, len);
        if (++ex->next_piece == ex->content.pieces)
            ex->phase = PHASE_TAIL;
        return 0;
    case PHASE_TAIL:
        break;
    }
    (void)sl_mock_gemini_stream_tail(&ex->out, ex->seq, &ex->chat, &ex->script, ex->usage_json);
    return 1;
}

/* Appends the next step to `ex->out`; returns 1 when that step was the tail. */
static int
append_step(struct sl_mock_exchange *ex)
{
    const char *piece;
    size_t len;
    int n = ex->chat.n;

    if (ex->kind == SL_MOCK_KIND_MESSAGES)
        return append_messages_step(ex);
    if (ex->kind == SL_MOCK_KIND_GEMINI)
        return append_gemini_step(ex);
    switch (ex->phase) {
    case PHASE_ROLE:
        for (int i = 0; i < n; i++)
            (void)sl_mock_chunk_role(&ex->chunker, &ex->out, i);
        ex->phase = ex->content.pieces > 0 ? PHASE_CONTENT : PHASE_TAIL;
        return 0;
    case PHASE_CONTENT:
        sl_mock_content_piece(&ex->content, ex->next_piece, &piece, &len);
        for (int i = 0; i < n; i++)
            (void)sl_mock_chunk_content(&ex->chunker, &ex->out, i, piece, len);
        if (++ex->next_piece == ex->content.pieces)
            ex->phase = PHASE_TAIL;
        return 0;
    case PHASE_TAIL:
        break;
    }
    for (int i = 0; i < n && ex->script.finish_reason != NULL; i++)
        (void)sl_mock_chunk_finish(&ex->chunker, &ex->out, i, ex->script.finish_reason);
    if (ex->chat.include_usage)
        (void)sl_mock_chunk_usage(&ex->chunker, &ex->out, ex->usage_json);
    if (!ex->script.omit_done)
        (void)sl_mock_chunk_done(&ex->out);
    return 1;
}

/* Writes the steps that are due now, then waits for proceed. */
static void
emit_steps(struct sl_mock_exchange *ex)
{
    sl_buf_reset(&ex->out);
    ex->after = AFTER_NEXT;
    ex->wait_ms = ex->script.chunk_interval_ms;
    for (;;) {
        enum stream_action action = pending_action(ex);

        if (action == ACTION_ERROR) {
            if (ex->kind == SL_MOCK_KIND_MESSAGES)
                (void)sl_mock_messages_error_event(&ex->out);
            else if (ex->kind == SL_MOCK_KIND_GEMINI)
                (void)sl_mock_gemini_error_event(&ex->out);
            else
                (void)sl_mock_chunk_error(&ex->out);
            send_part(ex, H2O_SEND_STATE_FINAL);
            return;
        }
        if (action == ACTION_CUT || action == ACTION_STALL) {
            ex->after = action == ACTION_CUT ? AFTER_CUT : AFTER_STALL;
            break;
        }
        if (append_step(ex)) {
            send_part(ex, H2O_SEND_STATE_FINAL);
            return;
        }
        /* A step may write nothing (text completions have no role chunk): go on at once. */
        if ((ex->wait_ms > 0 && ex->out.len > 0) || ex->out.len >= STREAM_BATCH_BYTES)
            break;
    }
    if (ex->out.len > 0)
        send_part(ex, H2O_SEND_STATE_IN_PROGRESS);
    else if (ex->after == AFTER_CUT)
        send_abort(ex);
    else
        uv_timer_start(&ex->timer, on_stall_limit, SL_MOCK_STALL_MAX_MS, 0);
}

/* Returns the usage object of the response in the request's format (caller frees). */
static char *
usage_json(const struct sl_mock_exchange *ex, int64_t completion_tokens)
{
    if (ex->kind == SL_MOCK_KIND_MESSAGES)
        return sl_mock_messages_usage_json(ex->script.usage, ex->chat.prompt_tokens,
                                           completion_tokens);
    return sl_mock_usage_json(ex->script.usage, ex->chat.prompt_tokens, completion_tokens);
}

/* Appends an error body in the request's format; `type` applies to OpenAI's envelope. */
static void
append_error(struct sl_mock_exchange *ex, const char *message, const char *type)
{
    if (ex->kind == SL_MOCK_KIND_MESSAGES)
        (void)sl_mock_messages_error_json(&ex->out, ex->script.status, message);
    else if (ex->kind == SL_MOCK_KIND_GEMINI)
        (void)sl_mock_gemini_error_json(&ex->out, ex->script.status, message);
    else
        (void)sl_mock_error_json(&ex->out, message, type, NULL);
}

static void
begin_stream(struct sl_mock_exchange *ex)
{
    h2o_req_t *req = ex->req;

    sl_mock_content_init(&ex->content, &ex->script);
    sl_mock_chunker_init(&ex->chunker, ex->seq, (int64_t)time(NULL), &ex->chat);
    ex->streaming = 1;
    ex->usage_json = usage_json(ex, ex->content.completion_tokens);
    ex->phase = PHASE_ROLE;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    start_response(ex, "text/event-stream", SIZE_MAX);
    if (ex->script.first_chunk_ms == 0) {
        emit_steps(ex);
        return;
    }
    /*
     * Send the head now; the first chunk follows after first_chunk_ms. h2o 2.2.5's chunked
     * encoder drops an empty write on HTTP/1.1 (so the head would wait for the first chunk),
     * which is why HTTP/1.1 gets an SSE comment line that SSE parsers ignore.
     */
    sl_buf_reset(&ex->out);
    if (ex->req->version == 0x101)
        (void)sl_buf_append_str(&ex->out, ":\n\n");
    ex->after = AFTER_NEXT;
    ex->wait_ms = ex->script.first_chunk_ms;
    send_part(ex, H2O_SEND_STATE_IN_PROGRESS);
}

/* Builds the non-stream completion into `ex->out`; fails when the filler is too large. */
static enum sl_status
build_completion(struct sl_mock_exchange *ex)
{
    struct sl_mock_content content;
    enum sl_status rc;

    sl_mock_content_init(&content, &ex->script);
    ex->usage_json = usage_json(ex, content.completion_tokens);
    if (ex->kind == SL_MOCK_KIND_MESSAGES)
        rc = sl_mock_message_json(&ex->out, ex->seq, &ex->chat, &ex->script, &content,
                                  ex->usage_json);
    else if (ex->kind == SL_MOCK_KIND_GEMINI)
        rc = sl_mock_gemini_response_json(&ex->out, ex->seq, &ex->chat, &ex->script, &content,
                                          ex->usage_json);
    else
        rc = sl_mock_completion_json(&ex->out, ex->seq, (int64_t)time(NULL), &ex->chat,
                                     &ex->script, &content, ex->usage_json);
    sl_mock_content_dispose(&content);
    return rc;
}

/* Sends the scripted response now that latency_ms has passed. */
static void
respond(struct sl_mock_exchange *ex)
{
    char message[96];

    if (ex->script.has_body) {
        (void)sl_buf_append(&ex->out, ex->script.body, ex->script.body_len);
        send_whole(ex,
                   ex->script.content_type != NULL ? ex->script.content_type : "application/json");
        return;
    }
    if (ex->script.status >= 400) {
        snprintf(message, sizeof(message), "sluice-mock scripted error (status %d)",
                 ex->script.status);
        append_error(ex, message,
                     ex->script.status >= 500 ? "server_error" : "invalid_request_error");
        send_whole(ex, "application/json");
        return;
    }
    if (ex->kind == SL_MOCK_KIND_MODELS) {
        (void)sl_mock_models_json(&ex->out);
        send_whole(ex, "application/json");
        return;
    }
    if (ex->chat.stream) {
        begin_stream(ex);
        return;
    }
    if (build_completion(ex) != SL_OK) {
        sl_buf_reset(&ex->out);
        ex->script.status = 500;
        append_error(ex, "sluice-mock: non-stream filler content over 64 MiB", "server_error");
    }
    send_whole(ex, "application/json");
}

static void
on_latency(uv_timer_t *t)
{
    struct sl_mock_exchange *ex = t->data;

    if (ex->req != NULL && !ex->client_gone)
        respond(ex);
}

/* Polls an HTTP/1 connection for a hang-up that h2o does not report while it holds a request. */
static void
on_probe(uv_timer_t *t)
{
    struct sl_mock_exchange *ex = t->data;
    h2o_req_t *req = ex->req;
    h2o_socket_t *sock;
    struct pollfd p;

    if (req == NULL || ex->done || ex->client_gone) {
        uv_timer_stop(t);
        return;
    }
    sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL)
        return;
    p.fd = h2o_socket_get_fd(sock);
    p.events = POLLRDHUP;
    p.revents = 0;
    if (poll(&p, 1, 0) <= 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0)
        return;

    mark_gone(ex);
    if (!ex->started) {
        ex->req = NULL;
        h2o_send_error_generic(req, 499, "Client Closed Request", "client closed the connection\n",
                               H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    } else if (!ex->in_flight) {
        ex->req = NULL;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
    }
    /* Otherwise on_proceed or on_generator_stop ends the response. */
}

void
sl_mock_exchange_start(h2o_req_t *req, uint64_t seq, enum sl_mock_kind kind,
                       struct sl_mock_script *script, struct sl_mock_chat *chat)
{
    struct sl_mock_worker *w = sl_mock_worker_of(req);
    struct sl_mock_exchange *ex = sl_xcalloc(1, sizeof(*ex));
    struct sl_mock_exchange **hook;

    ex->gen.proceed = on_proceed;
    ex->gen.stop = on_generator_stop;
    ex->req = req;
    ex->shared = w->shared;
    ex->seq = seq;
    ex->kind = kind;
    ex->script = *script;
    sl_mock_script_init_default(script);
    if (chat != NULL) {
        ex->chat = *chat;
        memset(chat, 0, sizeof(*chat));
    }
    sl_buf_init(&ex->out, 0);
    uv_timer_init(&w->loop, &ex->timer);
    uv_timer_init(&w->loop, &ex->probe);
    ex->timer.data = ex;
    ex->probe.data = ex;
    ex->open_handles = 2;

    hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_pool_dispose);
    *hook = ex;

    if (ex->script.latency_ms > 0)
        uv_timer_start(&ex->timer, on_latency, ex->script.latency_ms, 0);
    else
        respond(ex);
    if (ex->req != NULL && !ex->done && !ex->client_gone && ex->req->version < 0x200)
        uv_timer_start(&ex->probe, on_probe, SL_MOCK_PROBE_MS, SL_MOCK_PROBE_MS);
}
