/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis -- hiredis 0.14 async contexts driven by one libuv loop, with the deadlines, reconnects
 * and script handling that hiredis 0.14 lacks.
 *
 * hiredis frees a context itself after a failed connect or a lost connection, calling every
 * pending reply callback with a NULL reply first. So each connection keeps its current context
 * in `ac`, and a hiredis callback whose context is no longer `ac` is stale and ignored. A
 * command outlives both the reply callback and its deadline timer: it is freed when hiredis has
 * released it and its timer has closed, whichever comes last.
 *
 * NOTE: hiredis 0.14's reader has no cap on a reply's size and buffers each reply whole. The
 * peer is our own Redis, and the callers' scripts bound what they return.
 */
#define SL_LOG_MODULE "redis"
#include "common/redis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redis_internal.h"
#include "common/store_metrics.h"
#include "common/xalloc.h"

/* Connection failures are logged on each state change, then at most once per this interval. */
#define DOWN_LOG_INTERVAL_MS (30u * 1000u)

enum conn_kind {
    CONN_COMMAND,
    CONN_PUBSUB,
};

enum conn_state {
    CONN_DOWN,       /* no context; `timer` runs the reconnect delay */
    CONN_CONNECTING, /* context made, handshake not finished; `timer` is the connect deadline */
    CONN_UP,
};

struct conn {
    struct sl_redis *r;
    enum conn_kind kind;
    enum conn_state state;
    int reported_up; /* last state reported (to on_state for CONN_COMMAND): 1 up, 0 down, -1 none */
    redisAsyncContext *ac;
    uv_timer_t timer;
    uint32_t backoff_ms;
    unsigned handshake_pending; /* handshake replies still expected */
    struct sl_log_limiter down_log;
};

struct subscription {
    struct subscription *next;
    struct sl_redis *r;
    char *channel;
    sl_redis_message_cb cb;
    void *privdata;
    int confirmed; /* Redis acknowledged SUBSCRIBE on the current pub/sub connection */
};

struct sl_redis {
    uv_loop_t *loop;
    struct sl_redis_target target;
    char ip[INET6_ADDRSTRLEN]; /* target.host resolved once at creation */
    struct sl_redis_options opt;
    char *key_prefix;
    struct conn cmd;
    struct conn sub;
    int sub_started;
    struct subscription *subs;
    unsigned refs;      /* the owner's, one per open uv handle and one per live command */
    uint32_t in_flight; /* commands hiredis has not answered yet, timed out or not */
    int destroying;
};

struct command {
    struct sl_redis *r;
    sl_redis_reply_cb cb;
    void *privdata;
    uv_timer_t timer;
    int done;       /* cb has been called */
    int in_flight;  /* hiredis has a pending reply callback with this command */
    int timer_open; /* uv_close() has not completed yet */
    char name[SL_STORE_METRICS_NAME_MAX + 1]; /* the metrics label: command or script name */
    uint64_t sent_us;
    /* EVALSHA only: what the EVAL retry needs. argv[0] and argv[1] are rewritten for it. */
    const struct sl_redis_script *script;
    int retried;
    int argc;
    const char **argv;
    size_t *argvlen;
    char *argbuf;
};

static void conn_start(struct conn *c);
static void on_conn_timer(uv_timer_t *t);

/* ------------------------------------------------------------------------------------------ */
/* Lifetime                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void
redis_free(struct sl_redis *r)
{
    struct subscription *s = r->subs;

    while (s != NULL) {
        struct subscription *next = s->next;
        free(s->channel);
        free(s);
        s = next;
    }
    free(r->key_prefix);
    free(r);
}

static void
redis_unref(struct sl_redis *r)
{
    r->refs--;
    if (r->refs == 0 && r->destroying)
        redis_free(r);
}

static void
on_conn_timer_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    redis_unref(c->r);
}

static void
command_maybe_free(struct command *cmd)
{
    if (cmd->in_flight || cmd->timer_open)
        return;
    struct sl_redis *r = cmd->r;
    free(cmd->argv);
    free(cmd->argvlen);
    free(cmd->argbuf);
    free(cmd);
    redis_unref(r);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections: connect, handshake, loss and backoff                                          */
/* ------------------------------------------------------------------------------------------ */

static const char *
conn_name(const struct conn *c)
{
    return c->kind == CONN_COMMAND ? "command" : "pubsub";
}

static void
report_state(struct conn *c, int up)
{
    struct sl_redis *r = c->r;

    if (c->reported_up == up)
        return;
    c->reported_up = up;
    if (c->kind == CONN_COMMAND && r->opt.on_state != NULL)
        r->opt.on_state(r, up ? SL_REDIS_UP : SL_REDIS_DOWN, r->opt.state_privdata);
}

/* Returns the next reconnect delay: the current backoff less up to a quarter of it, so that
 * many gateways that lost Redis together do not all come back in the same millisecond. */
static uint64_t
next_delay_ms(struct conn *c)
{
    uint64_t delay = c->backoff_ms;
    uint64_t spread = delay / 4 + 1;

    delay -= (uv_hrtime() / 1000u) % spread;
    c->backoff_ms = c->backoff_ms >= c->r->opt.backoff_max_ms / 2 ? c->r->opt.backoff_max_ms
                                                                  : c->backoff_ms * 2;
    return delay;
}

/* Marks `c` down (its context is already gone or being freed by hiredis) and schedules a
 * reconnect. */
static void
conn_down(struct conn *c, const char *reason)
{
    int was_up = c->state == CONN_UP;
    uint64_t delay = next_delay_ms(c);

    c->state = CONN_DOWN;
    c->ac = NULL;
    /* A state change is always logged; repeated failures of an outage are rate-limited. */
    int allowed = sl_log_limiter_allow(&c->down_log, sl_now_ms(), DOWN_LOG_INTERVAL_MS);
    if (allowed || was_up || c->reported_up != 0)
        sl_log(SL_LOG_WARN, NULL, was_up ? "redis.disconnected" : "redis.connect_failed",
               SL_LOG_STR("connection", conn_name(c)), SL_LOG_STR("host", c->r->target.host),
               SL_LOG_INT("port", c->r->target.port), SL_LOG_STR("reason", reason),
               SL_LOG_INT("retry_in_ms", delay),
               SL_LOG_INT("suppressed", allowed ? c->down_log.suppressed : 0));
    for (struct subscription *s = c->r->subs; s != NULL && c->kind == CONN_PUBSUB; s = s->next)
        s->confirmed = 0;
    report_state(c, 0);
    if (!c->r->destroying)
        uv_timer_start(&c->timer, on_conn_timer, delay, 0);
}

static void
conn_up(struct conn *c)
{
    uv_timer_stop(&c->timer);
    c->state = CONN_UP;
    c->backoff_ms = c->r->opt.backoff_min_ms;
    sl_log(SL_LOG_INFO, NULL, "redis.connected", SL_LOG_STR("connection", conn_name(c)),
           SL_LOG_STR("host", c->r->target.host), SL_LOG_INT("port", c->r->target.port),
           SL_LOG_INT("db", c->r->target.db));
    report_state(c, 1);
}

/* Fires while DOWN (time to reconnect) and while CONNECTING (the handshake took too long). */
static void
on_conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->state == CONN_DOWN) {
        conn_start(c);
        return;
    }
    if (c->state == CONN_CONNECTING && c->ac != NULL) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL; /* the callbacks redisAsyncFree() runs now see a stale context */
        redisAsyncFree(ac);
        conn_down(c, "connect timed out");
    }
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;

    if (c->ac != ac || status == REDIS_OK)
        return;
    /* hiredis frees the context after this callback returns. */
    conn_down(c, ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;

    if (c->ac != ac)
        return;
    conn_down(c, status == REDIS_OK ? "closed" : ac->errstr);
}

static void
on_handshake_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct conn *c = privdata;
    redisReply *reply = reply_ptr;

    if (reply == NULL || c->ac != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* A wrong password or database index will not fix itself quickly, but the server's
         * configuration may change, so keep retrying with backoff. */
        char reason[160];
        snprintf(reason, sizeof(reason), "handshake rejected: %.120s", reply->str);
        /* Inside a reply callback hiredis defers the free until the callback returns; the
         * commands queued behind the handshake then get SL_ERR_UNAVAILABLE. */
        c->ac = NULL;
        redisAsyncFree(ac);
        conn_down(c, reason);
        return;
    }
    c->handshake_pending--;
    if (c->handshake_pending == 0)
        conn_up(c);
}

static void on_subscription_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata);

static int
send_subscribe(struct conn *c, struct subscription *s)
{
    const char *argv[2] = {"SUBSCRIBE", s->channel};
    size_t argvlen[2] = {9, strlen(s->channel)};

    return redisAsyncCommandArgv(c->ac, on_subscription_reply, s, 2, argv, argvlen);
}

/* Queues the handshake: AUTH, SELECT, then PING whose reply marks the connection up. */
static int
send_handshake(struct conn *c)
{
    const struct sl_redis_target *t = &c->r->target;
    int rc = REDIS_OK;

    c->handshake_pending = 0;
    if (t->password[0] != '\0') {
        const char *argv[3] = {"AUTH", t->username, t->password};
        size_t argvlen[3] = {4, strlen(t->username), strlen(t->password)};
        int with_user = t->username[0] != '\0';
        if (!with_user) {
            argv[1] = t->password;
            argvlen[1] = argvlen[2];
        }
        rc = redisAsyncCommandArgv(c->ac, on_handshake_reply, c, with_user ? 3 : 2, argv, argvlen);
        c->handshake_pending++;
    }
    if (rc == REDIS_OK && t->db != 0 && c->kind == CONN_COMMAND) {
        char db[16];
        int n = snprintf(db, sizeof(db), "%d", t->db);
        const char *argv[2] = {"SELECT", db};
        size_t argvlen[2] = {6, (size_t)n};
        rc = redisAsyncCommandArgv(c->ac, on_handshake_reply, c, 2, argv, argvlen);
        c->handshake_pending++;
    }
    if (rc == REDIS_OK) {
        rc = redisAsyncCommand(c->ac, on_handshake_reply, c, "PING");
        c->handshake_pending++;
    }
    for (struct subscription *s = c->r->subs; rc == REDIS_OK && c->kind == CONN_PUBSUB && s != NULL;
         s = s->next)
        rc = send_subscribe(c, s);
    return rc;
}

static void
conn_start(struct conn *c)
{
    struct sl_redis *r = c->r;
    redisAsyncContext *ac = redisAsyncConnect(r->ip, r->target.port);

    if (ac == NULL) {
        conn_down(c, "out of memory");
        return;
    }
    if (ac->err != 0) {
        char reason[128];
        snprintf(reason, sizeof(reason), "%s", ac->errstr);
        redisAsyncFree(ac);
        conn_down(c, reason);
        return;
    }
    ac->data = c;
    if (sl_redis__attach_libuv(ac, r->loop) != 0) {
        redisAsyncFree(ac);
        conn_down(c, "cannot watch the socket on the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = CONN_CONNECTING;
    uv_timer_start(&c->timer, on_conn_timer, r->opt.connect_timeout_ms, 0);
    if (send_handshake(c) != REDIS_OK) {
        c->ac = NULL;
        redisAsyncFree(ac);
        conn_down(c, "cannot queue the handshake");
    }
}

static void
conn_init(struct sl_redis *r, struct conn *c, enum conn_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->r = r;
    c->kind = kind;
    c->state = CONN_DOWN;
    c->reported_up = -1;
    c->backoff_ms = r->opt.backoff_min_ms;
    uv_timer_init(r->loop, &c->timer);
    c->timer.data = c;
    r->refs++;
}

static void
conn_close(struct conn *c)
{
    redisAsyncContext *ac = c->ac;

    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
    c->ac = NULL;
    c->state = CONN_DOWN;
    if (ac != NULL)
        redisAsyncFree(ac); /* runs every pending reply callback with NULL */
}

/* ------------------------------------------------------------------------------------------ */
/* Commands                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void
on_command_timer_closed(uv_handle_t *h)
{
    struct command *cmd = h->data;

    cmd->timer_open = 0;
    command_maybe_free(cmd);
}

/* Calls the caller's callback, the one time it is called, and stops the deadline. */
static void
command_finish(struct command *cmd, enum sl_status status, const redisReply *reply)
{
    cmd->done = 1;
    uv_timer_stop(&cmd->timer);
    uv_close((uv_handle_t *)&cmd->timer, on_command_timer_closed);
    sl_store_metrics_redis(cmd->name, status, reply != NULL && reply->type == REDIS_REPLY_ERROR,
                           sl_now_us() - cmd->sent_us, 1);
    cmd->cb(cmd->r, status, reply, cmd->privdata);
}

static void
on_command_timeout(uv_timer_t *t)
{
    struct command *cmd = t->data;

    /* The reply may still come. on_command_reply() then finds `done` set and drops it. */
    if (!cmd->done)
        command_finish(cmd, SL_ERR_TIMEOUT, NULL);
}

static int
is_noscript(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->len >= 8 &&
           memcmp(reply->str, "NOSCRIPT", 8) == 0;
}

static void on_command_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata);

/* Re-sends an EVALSHA that got NOSCRIPT as EVAL with the script's source. Returns 0 when the
 * retry is on its way. */
static int
retry_as_eval(struct command *cmd)
{
    redisAsyncContext *ac = cmd->r->cmd.ac;

    if (ac == NULL)
        return -1;
    cmd->retried = 1;
    cmd->argv[0] = "EVAL";
    cmd->argvlen[0] = 4;
    cmd->argv[1] = cmd->script->source;
    cmd->argvlen[1] = cmd->script->len;
    if (redisAsyncCommandArgv(ac, on_command_reply, cmd, cmd->argc, cmd->argv, cmd->argvlen) !=
        REDIS_OK)
        return -1;
    cmd->in_flight = 1;
    cmd->r->in_flight++;
    return 0;
}

static void
on_command_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct command *cmd = privdata;
    const redisReply *reply = reply_ptr;

    (void)ac;
    cmd->in_flight = 0;
    cmd->r->in_flight--;
    if (!cmd->done) {
        if (reply != NULL && cmd->script != NULL && !cmd->retried && is_noscript(reply) &&
            retry_as_eval(cmd) == 0)
            return;
        command_finish(cmd, reply != NULL ? SL_OK : SL_ERR_UNAVAILABLE, reply);
    }
    command_maybe_free(cmd);
}

/* Copies a command name for the metrics label, in upper case and cut to its maximum. */
static void
set_name(char out[SL_STORE_METRICS_NAME_MAX + 1], const char *name, size_t len)
{
    size_t n = len < SL_STORE_METRICS_NAME_MAX ? len : SL_STORE_METRICS_NAME_MAX;

    for (size_t i = 0; i < n; i++)
        out[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
    out[n] = '\0';
}

static struct command *
command_new(struct sl_redis *r, sl_redis_reply_cb cb, void *privdata)
{
    struct command *cmd = sl_xcalloc(1, sizeof(*cmd));

    cmd->r = r;
    cmd->cb = cb;
    cmd->privdata = privdata;
    r->refs++;
    return cmd;
}

/* Writes the RESP header line of `n` ("*3\r\n" for `kind` '*', "$5\r\n" for '$') at `p`
 * and returns the end. */
static char *
put_count(char *p, char kind, size_t n)
{
    char digits[24];
    size_t len = 0;

    *p++ = kind;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    while (len > 0)
        *p++ = digits[--len];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/*
 * Encodes a command as a RESP array of bulk strings into one buffer that the caller frees,
 * and sets `*len`. This is what redisAsyncCommandArgv() sends, but hiredis 0.14 builds it
 * with a formatted append per argument: about a tenth of the gateway's instructions per
 * request in the pipeline benchmark (callgrind), whose two script calls carry 60 arguments.
 */
static char *
format_command(int argc, const char **argv, const size_t *argvlen, size_t *len)
{
    /* 24 bytes hold a header line: the kind, 20 digits and CRLF. */
    size_t size = 24;
    char *text;
    char *p;

    for (int i = 0; i < argc; i++)
        size += 24 + argvlen[i] + 2;
    text = sl_xmalloc(size);
    p = put_count(text, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = put_count(p, '$', argvlen[i]);
        if (argvlen[i] > 0)
            memcpy(p, argv[i], argvlen[i]);
        p += argvlen[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    *len = (size_t)(p - text);
    return text;
}

/* Sends `cmd` and arms its deadline; on failure frees it and returns SL_ERR_UNAVAILABLE. */
static enum sl_status
command_send(struct command *cmd, int argc, const char **argv, const size_t *argvlen)
{
    struct sl_redis *r = cmd->r;
    int sent = REDIS_ERR;

    if (r->cmd.ac != NULL) {
        size_t len;
        char *text = format_command(argc, argv, argvlen, &len);

        /* hiredis copies the text into its output buffer. */
        sent = redisAsyncFormattedCommand(r->cmd.ac, on_command_reply, cmd, text, len);
        free(text);
    }
    if (sent != REDIS_OK) {
        sl_store_metrics_redis(cmd->name, SL_ERR_UNAVAILABLE, 0, 0, 0);
        command_maybe_free(cmd);
        return SL_ERR_UNAVAILABLE;
    }
    cmd->sent_us = sl_now_us();
    cmd->in_flight = 1;
    r->in_flight++;
    uv_timer_init(r->loop, &cmd->timer);
    cmd->timer.data = cmd;
    cmd->timer_open = 1;
    uv_timer_start(&cmd->timer, on_command_timeout, r->opt.command_timeout_ms, 0);
    return SL_OK;
}

enum sl_status
sl_redis_command_argv(struct sl_redis *r, int argc, const char **argv, const size_t *argvlen,
                      sl_redis_reply_cb cb, void *privdata)
{
    struct command *cmd;
    char name[SL_STORE_METRICS_NAME_MAX + 1];

    if (argc <= 0 || argc > SL_REDIS_MAX_ARGS)
        return SL_ERR_INVALID;
    set_name(name, argv[0], argvlen[0]);
    if (r->cmd.ac == NULL || r->destroying || r->in_flight >= r->opt.max_in_flight) {
        sl_store_metrics_redis(name, SL_ERR_UNAVAILABLE, 0, 0, 0);
        return SL_ERR_UNAVAILABLE;
    }
    cmd = command_new(r, cb, privdata);
    memcpy(cmd->name, name, sizeof(name));
    return command_send(cmd, argc, argv, argvlen);
}

/* ------------------------------------------------------------------------------------------ */
/* Scripts                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct sl_redis_script *
sl_redis_script_load(const char *name, const char *source, size_t len)
{
    struct sl_redis_script *s = sl_xcalloc(1, sizeof(*s));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const char hex[] = "0123456789abcdef";

    s->name = sl_xstrdup(name);
    s->source = sl_xstrndup(source, len);
    s->len = len;
    /* EVALSHA names a script by the lowercase hex SHA-1 of its exact source bytes. */
    if (EVP_Digest(source, len, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        abort(); /* only an OpenSSL without SHA-1 fails here */
    for (unsigned int i = 0; i < md_len; i++) {
        s->sha1_hex[2 * i] = hex[md[i] >> 4];
        s->sha1_hex[2 * i + 1] = hex[md[i] & 0xf];
    }
    s->sha1_hex[40] = '\0';
    return s;
}

void
sl_redis_script_destroy(struct sl_redis_script *script)
{
    if (script == NULL)
        return;
    free(script->name);
    free(script->source);
    free(script);
}

enum sl_status
sl_redis_eval(struct sl_redis *r, const struct sl_redis_script *script, size_t nkeys,
              const struct sl_redis_str *keys, size_t nargs, const struct sl_redis_str *args,
              sl_redis_reply_cb cb, void *privdata)
{
    if (nkeys > SL_REDIS_MAX_ARGS - 3 || nargs > SL_REDIS_MAX_ARGS - 3 - nkeys)
        return SL_ERR_INVALID;
    if (r->cmd.ac == NULL || r->destroying || r->in_flight >= r->opt.max_in_flight) {
        char name[SL_STORE_METRICS_NAME_MAX + 1];

        set_name(name, script->name, strlen(script->name));
        sl_store_metrics_redis(name, SL_ERR_UNAVAILABLE, 0, 0, 0);
        return SL_ERR_UNAVAILABLE;
    }

    struct command *cmd = command_new(r, cb, privdata);

    set_name(cmd->name, script->name, strlen(script->name));
    int argc = (int)(3 + nkeys + nargs);
    size_t total = 0;
    char numkeys[24];
    int numkeys_len = snprintf(numkeys, sizeof(numkeys), "%zu", nkeys);

    /* The arguments are copied because a NOSCRIPT retry sends them again later. */
    for (size_t i = 0; i < nkeys; i++)
        total += keys[i].len;
    for (size_t i = 0; i < nargs; i++)
        total += args[i].len;
    cmd->script = script;
    cmd->argc = argc;
    cmd->argv = sl_xcalloc((size_t)argc, sizeof(*cmd->argv));
    cmd->argvlen = sl_xcalloc((size_t)argc, sizeof(*cmd->argvlen));
    cmd->argbuf = sl_xmalloc(total + (size_t)numkeys_len + 1);

    char *p = cmd->argbuf;
    memcpy(p, numkeys, (size_t)numkeys_len);
    cmd->argv[0] = "EVALSHA";
    cmd->argvlen[0] = 7;
    cmd->argv[1] = script->sha1_hex;
    cmd->argvlen[1] = 40;
    cmd->argv[2] = p;
    cmd->argvlen[2] = (size_t)numkeys_len;
    p += numkeys_len;
    for (size_t i = 0; i < nkeys + nargs; i++) {
        const struct sl_redis_str *a = i < nkeys ? &keys[i] : &args[i - nkeys];
        if (a->len > 0)
            memcpy(p, a->ptr, a->len);
        cmd->argv[3 + i] = p;
        cmd->argvlen[3 + i] = a->len;
        p += a->len;
    }
    return command_send(cmd, argc, cmd->argv, cmd->argvlen);
}

/* ------------------------------------------------------------------------------------------ */
/* Pub/sub                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int
element_is(const redisReply *e, const char *s)
{
    size_t n = strlen(s);

    return e->type == REDIS_REPLY_STRING && (size_t)e->len == n && memcmp(e->str, s, n) == 0;
}

static void
on_subscription_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct subscription *s = privdata;
    redisReply *reply = reply_ptr;

    if (reply == NULL || s->r->sub.ac != ac || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements < 3)
        return;
    if (element_is(reply->element[0], "subscribe")) {
        s->confirmed = 1;
    } else if (element_is(reply->element[0], "message") &&
               reply->element[2]->type == REDIS_REPLY_STRING) {
        s->cb(s->r, s->channel, reply->element[2]->str, (size_t)reply->element[2]->len,
              s->privdata);
    }
}

enum sl_status
sl_redis_subscribe(struct sl_redis *r, const char *channel, sl_redis_message_cb on_message,
                   void *privdata)
{
    struct subscription **tail = &r->subs;

    if (channel == NULL || channel[0] == '\0' || r->destroying)
        return SL_ERR_INVALID;
    /* hiredis 0.14 keeps one callback per channel: a second SUBSCRIBE would replace the first. */
    for (; *tail != NULL; tail = &(*tail)->next) {
        if (strcmp((*tail)->channel, channel) == 0)
            return SL_ERR_INVALID;
    }

    struct subscription *s = sl_xcalloc(1, sizeof(*s));
    s->r = r;
    s->channel = sl_xstrdup(channel);
    s->cb = on_message;
    s->privdata = privdata;
    *tail = s;

    if (!r->sub_started) {
        r->sub_started = 1;
        conn_init(r, &r->sub, CONN_PUBSUB);
        conn_start(&r->sub); /* subscribes to every channel in its handshake */
    } else if (r->sub.ac != NULL) {
        /* A failure here means the connection is going away; the reconnect subscribes. */
        (void)send_subscribe(&r->sub, s);
    }
    return SL_OK;
}

int
sl_redis_subscriptions_live(const struct sl_redis *r)
{
    if (!r->sub_started || r->sub.state != CONN_UP)
        return 0;
    for (const struct subscription *s = r->subs; s != NULL; s = s->next) {
        if (!s->confirmed)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Resolves `host` once, so reconnects never block the loop on DNS (hiredis 0.14 would call a
 * blocking getaddrinfo() inside redisAsyncConnect()). */
static enum sl_status
resolve_host(const char *host, char ip[INET6_ADDRSTRLEN], struct sl_errbuf *err)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        sl_errbuf_set(err, "cannot resolve Redis host \"%s\": %s", host, gai_strerror(rc));
        return SL_ERR_CONFIG;
    }

    const void *addr = res->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    const char *ok = inet_ntop(res->ai_family, addr, ip, INET6_ADDRSTRLEN);
    freeaddrinfo(res);
    if (ok == NULL) {
        sl_errbuf_set(err, "cannot use the address of Redis host \"%s\"", host);
        return SL_ERR_CONFIG;
    }
    return SL_OK;
}

enum sl_status
sl_redis_create(uv_loop_t *loop, const struct sl_redis_target *target,
                const struct sl_redis_options *options, struct sl_redis **out,
                struct sl_errbuf *err)
{
    struct sl_redis_options opt;
    char ip[INET6_ADDRSTRLEN];

    memset(&opt, 0, sizeof(opt));
    if (options != NULL)
        opt = *options;
    if (opt.command_timeout_ms == 0)
        opt.command_timeout_ms = SL_REDIS_DEFAULT_COMMAND_TIMEOUT_MS;
    if (opt.connect_timeout_ms == 0)
        opt.connect_timeout_ms = SL_REDIS_DEFAULT_CONNECT_TIMEOUT_MS;
    if (opt.backoff_min_ms == 0)
        opt.backoff_min_ms = SL_REDIS_DEFAULT_BACKOFF_MIN_MS;
    if (opt.backoff_max_ms == 0)
        opt.backoff_max_ms = SL_REDIS_DEFAULT_BACKOFF_MAX_MS;
    if (opt.max_in_flight == 0)
        opt.max_in_flight = SL_REDIS_DEFAULT_MAX_IN_FLIGHT;
    if (opt.backoff_max_ms < opt.backoff_min_ms) {
        sl_errbuf_set(err, "Redis reconnect backoff: maximum %u ms is below minimum %u ms",
                      opt.backoff_max_ms, opt.backoff_min_ms);
        return SL_ERR_CONFIG;
    }
    if (target->db < 0) {
        sl_errbuf_set(err, "Redis target from %s: invalid database index %d (expected 0 or more)",
                      target->source != NULL ? target->source : "the caller", target->db);
        return SL_ERR_CONFIG;
    }
    if (target->host[0] == '\0' || target->port == 0) {
        sl_errbuf_set(err, "Redis target from %s has no host or port",
                      target->source != NULL ? target->source : "the caller");
        return SL_ERR_CONFIG;
    }

    enum sl_status rc = resolve_host(target->host, ip, err);
    if (rc != SL_OK)
        return rc;

    struct sl_redis *r = sl_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->target = *target;
    memcpy(r->ip, ip, sizeof(ip));
    r->key_prefix =
        sl_xstrdup(opt.key_prefix != NULL ? opt.key_prefix : SL_REDIS_DEFAULT_KEY_PREFIX);
    opt.key_prefix = r->key_prefix;
    r->opt = opt;
    r->refs = 1;
    conn_init(r, &r->cmd, CONN_COMMAND);
    conn_start(&r->cmd);
    *out = r;
    return SL_OK;
}

void
sl_redis_destroy(struct sl_redis *r)
{
    if (r == NULL)
        return;
    r->destroying = 1;
    conn_close(&r->cmd);
    if (r->sub_started)
        conn_close(&r->sub);
    redis_unref(r);
}

int
sl_redis_is_up(const struct sl_redis *r)
{
    return r->cmd.state == CONN_UP;
}

enum sl_status
sl_redis_key_join(char *buf, size_t size, const struct sl_redis *r, const char *const *parts,
                  size_t n)
{
    size_t used = strlen(r->key_prefix);

    if (used >= size)
        goto fail;
    memcpy(buf, r->key_prefix, used);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);

        if (len >= size - used)
            goto fail;
        memcpy(buf + used, parts[i], len);
        used += len;
    }
    buf[used] = '\0';
    return SL_OK;

fail:
    if (size > 0)
        buf[0] = '\0';
    return SL_ERR_TOO_LARGE;
}

enum sl_status
sl_redis_key(char *buf, size_t size, const struct sl_redis *r, const char *fmt, ...)
{
    va_list ap;

    if (size == 0)
        return SL_ERR_TOO_LARGE;
    int n = snprintf(buf, size, "%s", r->key_prefix);
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return SL_ERR_TOO_LARGE;
    }
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, size - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= size - (size_t)n) {
        buf[0] = '\0';
        return SL_ERR_TOO_LARGE;
    }
    return SL_OK;
}
