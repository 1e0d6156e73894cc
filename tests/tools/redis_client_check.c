/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_client_check -- drives common/redis.c against a real Redis for the integration tests.
 *
 * Usage: redis_client_check SCENARIO PORT, with SCENARIO one of basic, script, timeout, pubsub,
 * window, auth, restart, unreachable. Each check prints "ok - NAME" or "not ok - NAME: DETAIL"; the
 * exit status is 0 when every check passed. The restart scenario shuts Redis down itself, prints
 * "redis down" and waits up to 15 s for the test to start Redis again on the same port.
 * The loop runs in main(); each step waits for its callbacks with run_until().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/redis.h"
#include "common/xalloc.h"

static uv_loop_t loop;
static int failures;
static uint16_t port;

/* ------------------------------------------------------------------------------------------ */
/* Checks and waiting                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void check(int cond, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
check(int cond, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (cond) {
        printf("ok - %s\n", name);
    } else {
        failures++;
        printf("not ok - %s: ", name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
}

static void
on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag is non-zero or `timeout_ms` passed. Returns the flag. */
static int
run_until(const int *flag, uint64_t timeout_ms)
{
    uv_timer_t tick;
    uint64_t deadline = sl_now_ms() + timeout_ms;

    /* A short repeating timer makes every uv_run() pass return, so the deadline is seen. */
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    while (!*flag && sl_now_ms() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return *flag;
}

static void
sleep_loop_ms(uint64_t ms)
{
    int never = 0;
    run_until(&never, ms);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands with their outcome copied                                                         */
/* ------------------------------------------------------------------------------------------ */

struct outcome {
    int done;
    int calls;
    enum sl_status status;
    int type;
    long long integer;
    char str[4096];
    size_t len;
    long long elements[8];
    size_t n_elements;
    uint64_t at_ms;
};

static void
on_reply(struct sl_redis *r, enum sl_status status, const redisReply *reply, void *privdata)
{
    struct outcome *o = privdata;

    (void)r;
    o->calls++;
    o->done = 1;
    o->status = status;
    o->at_ms = sl_now_ms();
    if (reply == NULL)
        return;
    o->type = reply->type;
    o->integer = reply->integer;
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_ERROR) {
        o->len = reply->len;
        size_t n = reply->len < sizeof(o->str) - 1 ? reply->len : sizeof(o->str) - 1;
        memcpy(o->str, reply->str, n);
    }
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements && i < 8; i++) {
        o->elements[i] = reply->element[i]->integer;
        o->n_elements = i + 1;
    }
}

/* Sends a command of NUL-terminated words and waits up to 3 s for its outcome. */
static enum sl_status
cmd(struct sl_redis *r, struct outcome *o, int argc, ...)
{
    const char *argv[16];
    size_t argvlen[16];
    va_list ap;

    memset(o, 0, sizeof(*o));
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, const char *);
        argvlen[i] = strlen(argv[i]);
    }
    va_end(ap);
    enum sl_status rc = sl_redis_command_argv(r, argc, argv, argvlen, on_reply, o);
    if (rc == SL_OK)
        run_until(&o->done, 3000);
    return rc;
}

static void
on_state(struct sl_redis *r, enum sl_redis_state state, void *privdata)
{
    int *up = privdata;

    (void)r;
    *up = state == SL_REDIS_UP ? 1 : -1;
}

static struct sl_redis *
connect_client(const struct sl_redis_target *t, struct sl_redis_options *opt, int *up)
{
    struct sl_redis *r = NULL;
    struct sl_errbuf err;

    opt->on_state = on_state;
    opt->state_privdata = up;
    *up = 0;
    if (sl_redis_create(&loop, t, opt, &r, &err) != SL_OK) {
        printf("not ok - create client: %s\n", err.msg);
        exit(1);
    }
    return r;
}

static struct sl_redis_target
local_target(void)
{
    struct sl_redis_target t;

    memset(&t, 0, sizeof(t));
    snprintf(t.host, sizeof(t.host), "localhost");
    t.port = port;
    t.source = "test";
    return t;
}

/* Waits up to `ms` for the client's command connection to report itself up. */
static int
wait_up(struct sl_redis *r, const int *up, uint64_t ms)
{
    uint64_t deadline = sl_now_ms() + ms;

    while (!(*up == 1 && sl_redis_is_up(r)) && sl_now_ms() < deadline)
        sleep_loop_ms(10);
    return *up == 1 && sl_redis_is_up(r);
}

static void
destroy_client(struct sl_redis *r)
{
    sl_redis_destroy(r);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* ------------------------------------------------------------------------------------------ */
/* Scenarios                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Commands and replies: status, bulk, integer, nil, error replies; binary-safe arguments. */
static void
scenario_basic(void)
{
    struct sl_redis_options opt = {0};
    struct sl_redis_target t = local_target();
    struct outcome o;
    int up;
    char key[64];

    struct sl_redis *r = connect_client(&t, &opt, &up);
    /* Queued before the handshake completes, the command still gets its reply. */
    check(cmd(r, &o, 1, "PING") == SL_OK && o.status == SL_OK && o.type == REDIS_REPLY_STATUS &&
              strcmp(o.str, "PONG") == 0,
          "ping before connect", "status %d type %d str %s", o.status, o.type, o.str);
    check(wait_up(r, &up, 3000), "state up", "on_state never reported up");

    check(sl_redis_key(key, sizeof(key), r, "check:%s", "basic") == SL_OK &&
              strcmp(key, "sluice:check:basic") == 0,
          "key prefix", "key %s", key);
    struct sl_redis_options other_opt = {.key_prefix = "tenant-a:"};
    int other_up;
    struct sl_redis *other = connect_client(&t, &other_opt, &other_up);
    check(sl_redis_key(key, sizeof(key), other, "check:%d", 7) == SL_OK &&
              strcmp(key, "tenant-a:check:7") == 0,
          "custom key prefix", "key %s", key);
    destroy_client(other);
    sl_redis_key(key, sizeof(key), r, "check:%s", "basic");

    struct sl_redis_target negative = t;
    struct sl_errbuf err;
    struct sl_redis *never = NULL;
    negative.db = -1;
    check(sl_redis_create(&loop, &negative, NULL, &never, &err) == SL_ERR_CONFIG && never == NULL &&
              strstr(err.msg, "database") != NULL,
          "negative database rejected", "%s", err.msg);

    char tiny[8];
    check(sl_redis_key(tiny, sizeof(tiny), r, "check:%s", "basic") == SL_ERR_TOO_LARGE &&
              tiny[0] == '\0',
          "key too long", "key %s", tiny);

    /* A value with NUL, CR and LF bytes survives the round trip. */
    static const char value[] = {'a', '\0', 'b', '\r', '\n', '*', '3', '\0'};
    const char *argv[3] = {"SET", key, value};
    size_t argvlen[3] = {3, strlen(key), sizeof(value)};
    memset(&o, 0, sizeof(o));
    check(sl_redis_command_argv(r, 3, argv, argvlen, on_reply, &o) == SL_OK &&
              run_until(&o.done, 3000) && o.type == REDIS_REPLY_STATUS,
          "binary set", "status %d type %d", o.status, o.type);
    cmd(r, &o, 2, "GET", key);
    check(o.status == SL_OK && o.type == REDIS_REPLY_STRING && o.len == sizeof(value) &&
              memcmp(o.str, value, sizeof(value)) == 0,
          "binary get", "type %d len %zu", o.type, o.len);
    cmd(r, &o, 2, "STRLEN", key);
    check(o.type == REDIS_REPLY_INTEGER && o.integer == (long long)sizeof(value), "binary strlen",
          "integer %lld", o.integer);

    cmd(r, &o, 2, "INCR", key);
    check(o.status == SL_OK && o.type == REDIS_REPLY_ERROR && strncmp(o.str, "ERR", 3) == 0,
          "error reply", "status %d type %d str %s", o.status, o.type, o.str);
    cmd(r, &o, 2, "DEL", key);
    cmd(r, &o, 2, "GET", key);
    check(o.type == REDIS_REPLY_NIL, "nil reply", "type %d", o.type);
    cmd(r, &o, 2, "INCR", key);
    check(o.type == REDIS_REPLY_INTEGER && o.integer == 1, "integer reply", "%lld", o.integer);
    cmd(r, &o, 2, "DEL", key);

    /* Many commands in flight at once come back in order, each exactly once. */
    struct outcome many[200];
    for (int i = 0; i < 200; i++) {
        memset(&many[i], 0, sizeof(many[i]));
        const char *a[2] = {"ECHO", key};
        size_t al[2] = {4, strlen(key)};
        if (sl_redis_command_argv(r, 2, a, al, on_reply, &many[i]) != SL_OK)
            break;
    }
    run_until(&many[199].done, 3000);
    int all_once = 1;
    for (int i = 0; i < 200; i++)
        all_once = all_once && many[i].calls == 1 && many[i].status == SL_OK;
    check(all_once, "pipelined commands", "a command was not answered exactly once");

    memset(&o, 0, sizeof(o));
    check(sl_redis_command_argv(r, 0, argv, argvlen, on_reply, &o) == SL_ERR_INVALID &&
              o.calls == 0,
          "zero arguments rejected", "calls %d", o.calls);

    /* Destroying the client fails what is still pending, from inside sl_redis_destroy(). */
    memset(&o, 0, sizeof(o));
    const char *blpop[3] = {"BLPOP", key, "5"};
    size_t blpoplen[3] = {5, strlen(key), 1};
    sl_redis_command_argv(r, 3, blpop, blpoplen, on_reply, &o);
    sleep_loop_ms(50);
    destroy_client(r);
    check(o.calls == 1 && o.status == SL_ERR_UNAVAILABLE, "destroy fails pending",
          "calls %d status %d", o.calls, o.status);
}

/* EVALSHA, then recovery through EVAL after SCRIPT FLUSH; binary-safe script arguments. */
static void
scenario_script(void)
{
    struct sl_redis_options opt = {0};
    struct sl_redis_target t = local_target();
    struct outcome o;
    int up;
    static const char echo_src[] = "return {KEYS[1], ARGV[1], #ARGV[1]}";

    struct sl_redis *r = connect_client(&t, &opt, &up);
    wait_up(r, &up, 3000);
    struct sl_redis_script *echo = sl_redis_script_load("echo", echo_src, strlen(echo_src));
    const struct sl_lua_script *embedded = sl_lua_script_find("window_incr");
    check(embedded != NULL && embedded->len == strlen(embedded->source) && embedded->len > 100,
          "window_incr embedded", "missing or truncated");

    cmd(r, &o, 3, "SCRIPT", "LOAD", echo_src);
    check(o.type == REDIS_REPLY_STRING && strcmp(o.str, echo->sha1_hex) == 0, "local sha1",
          "redis %s local %s", o.str, echo->sha1_hex);

    cmd(r, &o, 2, "SCRIPT", "FLUSH");
    cmd(r, &o, 2, "CONFIG", "RESETSTAT");
    static const char arg[] = {'x', '\0', 'y'};
    struct sl_redis_str keys[1] = {SL_REDIS_CSTR("k1")};
    struct sl_redis_str args[1] = {{arg, sizeof(arg)}};
    for (int round = 0; round < 2; round++) {
        memset(&o, 0, sizeof(o));
        check(sl_redis_eval(r, echo, 1, keys, 1, args, on_reply, &o) == SL_OK &&
                  run_until(&o.done, 3000) && o.calls == 1 && o.status == SL_OK &&
                  o.type == REDIS_REPLY_ARRAY && o.n_elements == 3 && o.elements[2] == 3,
              round == 0 ? "eval after script flush" : "evalsha cached",
              "status %d type %d n %zu len %lld", o.status, o.type, o.n_elements, o.elements[2]);
    }
    cmd(r, &o, 2, "INFO", "commandstats");
    check(strstr(o.str, "cmdstat_eval:calls=1,") != NULL &&
              strstr(o.str, "cmdstat_evalsha:calls=2,") != NULL,
          "one eval fallback", "%s", o.str);

    /* The caller receives the reply of the EVAL retry, an error reply included. */
    static const char bad_src[] = "return redis.error_reply('E_TEST failure')";
    struct sl_redis_script *bad = sl_redis_script_load("bad", bad_src, strlen(bad_src));
    memset(&o, 0, sizeof(o));
    sl_redis_eval(r, bad, 0, NULL, 0, NULL, on_reply, &o);
    run_until(&o.done, 3000);
    check(o.calls == 1 && o.type == REDIS_REPLY_ERROR && strstr(o.str, "E_TEST") != NULL,
          "script error reply", "type %d str %s", o.type, o.str);

    destroy_client(r);
    sl_redis_script_destroy(echo);
    sl_redis_script_destroy(bad);
}

/* A command slower than its deadline gets SL_ERR_TIMEOUT once; its late reply is dropped. */
static void
scenario_timeout(void)
{
    struct sl_redis_options opt = {.command_timeout_ms = 200, .max_in_flight = 2};
    struct sl_redis_target t = local_target();
    struct outcome slow;
    struct outcome o;
    int up;
    /* Spins about one second inside Redis, which blocks every client meanwhile. */
    static const char busy_src[] =
        "local t = redis.call('TIME') "
        "local start = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
        "while true do "
        "  local n = redis.call('TIME') "
        "  if tonumber(n[1]) * 1000000 + tonumber(n[2]) - start > 1000000 then break end "
        "end "
        "return 7";

    struct sl_redis *r = connect_client(&t, &opt, &up);
    wait_up(r, &up, 3000);
    struct sl_redis_script *busy = sl_redis_script_load("busy", busy_src, strlen(busy_src));
    memset(&slow, 0, sizeof(slow));
    uint64_t start = sl_now_ms();
    sl_redis_eval(r, busy, 0, NULL, 0, NULL, on_reply, &slow);
    run_until(&slow.done, 3000);
    uint64_t took = slow.at_ms - start;
    check(slow.status == SL_ERR_TIMEOUT && took >= 180 && took < 800, "deadline fires",
          "status %d after %" PRIu64 " ms", slow.status, took);

    /* The timed-out script still counts as in flight: one more fits, the next fails fast. */
    struct outcome queued;
    memset(&queued, 0, sizeof(queued));
    memset(&o, 0, sizeof(o));
    const char *ping[1] = {"PING"};
    size_t pinglen[1] = {4};
    check(sl_redis_command_argv(r, 1, ping, pinglen, on_reply, &queued) == SL_OK,
          "second command in flight", "rejected");
    check(sl_redis_command_argv(r, 1, ping, pinglen, on_reply, &o) == SL_ERR_UNAVAILABLE &&
              o.calls == 0,
          "in-flight cap", "calls %d", o.calls);

    /* Let the script finish and its late reply arrive: the callback must not run again. */
    sleep_loop_ms(1300);
    check(slow.calls == 1, "late reply dropped", "callback ran %d times", slow.calls);
    check(queued.calls == 1 && queued.status == SL_ERR_TIMEOUT, "queued command timed out",
          "calls %d status %d", queued.calls, queued.status);
    cmd(r, &o, 1, "PING");
    check(o.status == SL_OK && o.type == REDIS_REPLY_STATUS, "usable after timeout", "status %d",
          o.status);
    destroy_client(r);
    sl_redis_script_destroy(busy);
}

struct inbox {
    int count;
    char channel[64];
    char payload[64];
    size_t len;
};

static void
on_message(struct sl_redis *r, const char *channel, const char *payload, size_t len, void *privdata)
{
    struct inbox *in = privdata;

    (void)r;
    in->count++;
    snprintf(in->channel, sizeof(in->channel), "%s", channel);
    in->len = len;
    memcpy(in->payload, payload, len < sizeof(in->payload) ? len : sizeof(in->payload));
}

static int
wait_live(struct sl_redis *r, uint64_t ms)
{
    uint64_t deadline = sl_now_ms() + ms;

    while (!sl_redis_subscriptions_live(r) && sl_now_ms() < deadline)
        sleep_loop_ms(10);
    return sl_redis_subscriptions_live(r);
}

static void
publish(struct sl_redis *r, const char *channel, const char *payload, size_t len)
{
    struct outcome o;
    const char *argv[3] = {"PUBLISH", channel, payload};
    size_t argvlen[3] = {7, strlen(channel), len};

    memset(&o, 0, sizeof(o));
    if (sl_redis_command_argv(r, 3, argv, argvlen, on_reply, &o) == SL_OK)
        run_until(&o.done, 3000);
}

/* Messages reach the right handler, binary payloads intact, and keep flowing after the
 * pub/sub connection is killed. */
static void
scenario_pubsub(void)
{
    struct sl_redis_options opt = {.backoff_min_ms = 50};
    struct sl_redis_target t = local_target();
    struct outcome o;
    struct inbox a = {0};
    struct inbox b = {0};
    int up;
    static const char payload[] = {'k', '\0', 'e', 'y'};

    struct sl_redis *r = connect_client(&t, &opt, &up);
    wait_up(r, &up, 3000);
    check(sl_redis_subscribe(r, "sluice:check:a", on_message, &a) == SL_OK &&
              sl_redis_subscribe(r, "sluice:check:b", on_message, &b) == SL_OK,
          "subscribe", "rejected");
    check(sl_redis_subscribe(r, "sluice:check:a", on_message, &b) == SL_ERR_INVALID,
          "duplicate channel rejected", "accepted");
    check(wait_live(r, 3000), "subscriptions live", "not confirmed within 3 s");

    publish(r, "sluice:check:a", payload, sizeof(payload));
    publish(r, "sluice:check:b", "two", 3);
    run_until(&b.count, 2000);
    check(a.count == 1 && a.len == sizeof(payload) && memcmp(a.payload, payload, a.len) == 0 &&
              strcmp(a.channel, "sluice:check:a") == 0,
          "binary message", "count %d len %zu", a.count, a.len);
    check(b.count == 1 && b.len == 3 && memcmp(b.payload, "two", 3) == 0, "second channel",
          "count %d", b.count);

    cmd(r, &o, 4, "CLIENT", "KILL", "TYPE", "pubsub");
    check(o.type == REDIS_REPLY_INTEGER && o.integer >= 1, "pubsub connection killed",
          "type %d integer %lld", o.type, o.integer);
    sleep_loop_ms(20);
    check(wait_live(r, 5000), "resubscribed", "not live again within 5 s");
    a.count = 0;
    publish(r, "sluice:check:a", "after", 5);
    run_until(&a.count, 2000);
    check(a.count == 1 && a.len == 5 && memcmp(a.payload, "after", 5) == 0,
          "message after reconnect", "count %d", a.count);
    destroy_client(r);
}

/* Runs window_incr through `r` and returns its reply in `o` (waits up to 3 s). */
static void
window_incr(struct sl_redis *r, const struct sl_redis_script *s, const char *key, long long limit,
            long long window_ms, long long now_ms, long long cost, struct outcome *o)
{
    char a[4][24];
    struct sl_redis_str keys[1] = {SL_REDIS_CSTR(key)};
    struct sl_redis_str args[4];
    long long v[4] = {limit, window_ms, now_ms, cost};

    for (int i = 0; i < 4; i++) {
        snprintf(a[i], sizeof(a[i]), "%lld", v[i]);
        args[i] = SL_REDIS_CSTR(a[i]);
    }
    memset(o, 0, sizeof(*o));
    if (sl_redis_eval(r, s, 1, keys, 4, args, on_reply, o) != SL_OK)
        o->status = SL_ERR_UNAVAILABLE;
}

/* window_incr.lua: exact admissions from two connections, weighting, ageing out, TTL. */
static void
scenario_window(void)
{
    struct sl_redis_options opt = {.command_timeout_ms = 2000};
    struct sl_redis_target t = local_target();
    struct outcome o;
    int up1;
    int up2;
    char key[64];
    enum { N = 7, SENT = 30 };
    const long long window = 60000;
    const long long base = 1700000040000LL; /* a multiple of the window */

    struct sl_redis *r1 = connect_client(&t, &opt, &up1);
    struct sl_redis *r2 = connect_client(&t, &opt, &up2);
    wait_up(r1, &up1, 3000);
    wait_up(r2, &up2, 3000);
    const struct sl_lua_script *src = sl_lua_script_find("window_incr");
    struct sl_redis_script *s = sl_redis_script_load(src->name, src->source, src->len);
    sl_redis_key(key, sizeof(key), r1, "check:window:%d", (int)uv_os_getpid());
    cmd(r1, &o, 2, "DEL", key);

    /* SENT requests at once, alternating connections, within one sub-window. */
    struct outcome res[SENT];
    for (int i = 0; i < SENT; i++)
        window_incr(i % 2 ? r2 : r1, s, key, N, window, base + 1000 + i, 1, &res[i]);
    run_until(&res[SENT - 1].done, 5000);
    run_until(&res[SENT - 2].done, 5000);
    int allowed = 0;
    int answered = 0;
    for (int i = 0; i < SENT; i++) {
        answered += res[i].calls == 1 && res[i].status == SL_OK && res[i].n_elements == 4;
        allowed += res[i].elements[0] == 1;
    }
    check(answered == SENT, "window replies", "%d of %d answered", answered, SENT);
    check(allowed == N, "exact admissions", "%d admitted, limit %d", allowed, N);
    check(res[SENT - 1].elements[1] == N, "current at limit", "current %lld",
          res[SENT - 1].elements[1]);
    check(res[SENT - 1].elements[2] == window - 1000 - (SENT - 1), "ttl to sub-window end",
          "ttl %lld", res[SENT - 1].elements[2]);

    /* Next sub-window, 1/4 in: 7 * 0.75 = 5.25 still counts, so one more fits, not two. */
    window_incr(r1, s, key, N, window, base + window + window / 4, 1, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 1 && o.elements[1] == 7, "weighted previous window",
          "allowed %lld current %lld", o.elements[0], o.elements[1]);
    window_incr(r2, s, key, N, window, base + window + window / 4, 1, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 0 && o.elements[3] > 0 && o.elements[3] <= window,
          "rejected with retry hint", "allowed %lld retry %lld", o.elements[0], o.elements[3]);
    /* At the hinted time the same request fits. */
    long long retry_at = base + window + window / 4 + o.elements[3];
    window_incr(r2, s, key, N, window, retry_at, 1, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 1, "admitted at retry hint", "allowed %lld current %lld", o.elements[0],
          o.elements[1]);

    /* Two sub-windows later everything has aged out. */
    window_incr(r1, s, key, N, window, base + 3 * window + 10, N, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 1 && o.elements[1] == N, "counts age out", "allowed %lld current %lld",
          o.elements[0], o.elements[1]);
    window_incr(r1, s, key, N, window, base + 3 * window + 10, N + 1, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 0 && o.elements[3] == -1, "cost over limit never fits",
          "allowed %lld retry %lld", o.elements[0], o.elements[3]);
    cmd(r1, &o, 2, "PTTL", key);
    check(o.integer > 0 && o.integer <= 2 * window, "key expires", "pttl %lld", o.integer);

    /* Real time: with a 200 ms window the key is gone 2 windows after the last admission. */
    cmd(r1, &o, 2, "DEL", key);
    long long now = (long long)sl_wall_ms();
    window_incr(r1, s, key, 2, 200, now, 2, &o);
    run_until(&o.done, 3000);
    window_incr(r2, s, key, 2, 200, now, 1, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 0, "real-time limit reached", "allowed %lld", o.elements[0]);
    sleep_loop_ms(450);
    cmd(r1, &o, 2, "EXISTS", key);
    check(o.integer == 0, "real-time key expired", "exists %lld", o.integer);
    window_incr(r2, s, key, 2, 200, (long long)sl_wall_ms(), 2, &o);
    run_until(&o.done, 3000);
    check(o.elements[0] == 1, "real-time admitted again", "allowed %lld", o.elements[0]);

    /* One invalid value per argument: limit, window_ms, now_ms, cost. */
    static const char *bad[4] = {"-1", "0", "x", "1.5"};
    for (int i = 0; i < 4; i++) {
        struct sl_redis_str keys[1] = {SL_REDIS_CSTR(key)};
        struct sl_redis_str args[4] = {SL_REDIS_CSTR("5"), SL_REDIS_CSTR("1000"),
                                       SL_REDIS_CSTR("1"), SL_REDIS_CSTR("1")};
        args[i] = SL_REDIS_CSTR(bad[i]);
        memset(&o, 0, sizeof(o));
        sl_redis_eval(r1, s, 1, keys, 4, args, on_reply, &o);
        run_until(&o.done, 3000);
        check(o.type == REDIS_REPLY_ERROR && strstr(o.str, "window_incr:") != NULL,
              "invalid argument rejected", "argument %d = %s: type %d", i, bad[i], o.type);
    }
    cmd(r1, &o, 2, "DEL", key);
    destroy_client(r1);
    destroy_client(r2);
    sl_redis_script_destroy(s);
}

/* AUTH with the right and a wrong password, and SELECT of a database. */
static void
scenario_auth(void)
{
    struct sl_redis_options opt = {.backoff_min_ms = 50};
    struct sl_redis_target t = local_target();
    struct outcome o;
    int up_admin;
    int up_good;
    int up_bad;
    int up_db;

    struct sl_redis *admin = connect_client(&t, &opt, &up_admin);
    wait_up(admin, &up_admin, 3000);
    cmd(admin, &o, 4, "CONFIG", "SET", "requirepass", "s3cret pass");

    struct sl_redis_target good = t;
    snprintf(good.password, sizeof(good.password), "s3cret pass");
    struct sl_redis *r = connect_client(&good, &opt, &up_good);
    check(wait_up(r, &up_good, 3000), "auth accepted", "not up");
    cmd(r, &o, 1, "PING");
    check(o.type == REDIS_REPLY_STATUS, "command after auth", "type %d %s", o.type, o.str);

    struct sl_redis_target wrong = t;
    snprintf(wrong.password, sizeof(wrong.password), "wrong");
    struct sl_redis *bad = connect_client(&wrong, &opt, &up_bad);
    run_until(&up_bad, 3000);
    check(up_bad == -1 && !sl_redis_is_up(bad), "wrong password down", "state %d", up_bad);

    /* SELECT: a key written through db 5 is not visible in db 0. */
    struct sl_redis_target db5 = good;
    db5.db = 5;
    struct sl_redis *r5 = connect_client(&db5, &opt, &up_db);
    check(wait_up(r5, &up_db, 3000), "select accepted", "not up");
    cmd(r5, &o, 3, "SET", "sluice:check:db", "five");
    cmd(r, &o, 2, "EXISTS", "sluice:check:db");
    check(o.integer == 0, "db 0 does not see db 5", "exists %lld", o.integer);
    cmd(r5, &o, 2, "GET", "sluice:check:db");
    check(strcmp(o.str, "five") == 0, "db 5 sees its key", "%s", o.str);
    cmd(r5, &o, 2, "DEL", "sluice:check:db");

    cmd(r, &o, 4, "CONFIG", "SET", "requirepass", "");
    destroy_client(bad);
    destroy_client(r5);
    destroy_client(r);
    destroy_client(admin);
}

/* Redis goes away: pending commands fail, new ones fail fast, and everything (subscriptions
 * included) comes back once Redis is started again on the same port. */
static void
scenario_restart(void)
{
    struct sl_redis_options opt = {
        .command_timeout_ms = 3000, .backoff_min_ms = 50, .backoff_max_ms = 400};
    struct sl_redis_target t = local_target();
    struct outcome o;
    struct outcome pending;
    struct outcome shutdown;
    struct inbox in = {0};
    int up;

    struct sl_redis *r = connect_client(&t, &opt, &up);
    check(wait_up(r, &up, 3000), "connected", "not up");
    sl_redis_subscribe(r, "sluice:check:restart", on_message, &in);
    check(wait_live(r, 3000), "subscribed", "not live");

    /* A blocking command is pending when the server shuts down. */
    memset(&pending, 0, sizeof(pending));
    memset(&shutdown, 0, sizeof(shutdown));
    const char *blpop[3] = {"BLPOP", "sluice:check:restart:list", "0"};
    size_t blpoplen[3] = {5, strlen(blpop[1]), 1};
    sl_redis_command_argv(r, 3, blpop, blpoplen, on_reply, &pending);
    struct sl_redis *killer = NULL;
    int up_killer;
    killer = connect_client(&t, &opt, &up_killer);
    wait_up(killer, &up_killer, 3000);
    const char *shut[2] = {"SHUTDOWN", "NOSAVE"};
    size_t shutlen[2] = {8, 6};
    sl_redis_command_argv(killer, 2, shut, shutlen, on_reply, &shutdown);
    run_until(&pending.done, 3000);
    check(pending.calls == 1 && pending.status == SL_ERR_UNAVAILABLE, "pending command fails",
          "calls %d status %d", pending.calls, pending.status);
    run_until(&shutdown.done, 3000);
    destroy_client(killer);

    int down_seen = up == -1;
    if (!down_seen) {
        sleep_loop_ms(200);
        down_seen = up == -1;
    }
    check(down_seen, "state down", "on_state did not report down");
    uint64_t start = sl_now_ms();
    memset(&o, 0, sizeof(o));
    const char *ping[1] = {"PING"};
    size_t pinglen[1] = {4};
    enum sl_status rc = sl_redis_command_argv(r, 1, ping, pinglen, on_reply, &o);
    check(rc == SL_ERR_UNAVAILABLE && o.calls == 0 && sl_now_ms() - start < 50, "fail fast",
          "rc %d calls %d", rc, o.calls);
    printf("redis down\n");
    fflush(stdout);

    check(wait_up(r, &up, 15000), "reconnected", "not up again within 15 s");
    cmd(r, &o, 1, "PING");
    check(o.status == SL_OK && o.type == REDIS_REPLY_STATUS, "command after reconnect", "status %d",
          o.status);
    check(wait_live(r, 5000), "resubscribed after restart", "not live");
    publish(r, "sluice:check:restart", "back", 4);
    run_until(&in.count, 2000);
    check(in.count == 1 && in.len == 4 && memcmp(in.payload, "back", 4) == 0,
          "message after restart", "count %d", in.count);
    destroy_client(r);
}

/* A server that accepts TCP connections but never replies, and a port where nothing listens:
 * the connect deadline and a refused connect both end in SL_REDIS_DOWN, and the commands
 * queued meanwhile fail with SL_ERR_UNAVAILABLE. `port` is not used. */
static void
scenario_unreachable(void)
{
    struct sl_redis_options opt = {.connect_timeout_ms = 300, .command_timeout_ms = 5000};
    struct sl_redis_target t = local_target();
    struct sockaddr_in addr;
    socklen_t addr_len = sizeof(addr);
    struct outcome o;
    int up;

    /* The kernel completes the TCP handshake from the listen backlog; nobody reads. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        printf("not ok - silent listener: %s\n", strerror(errno));
        exit(1);
    }
    t.port = ntohs(addr.sin_port);
    struct sl_redis *r = connect_client(&t, &opt, &up);
    uint64_t start = sl_now_ms();
    memset(&o, 0, sizeof(o));
    const char *ping[1] = {"PING"};
    size_t pinglen[1] = {4};
    check(sl_redis_command_argv(r, 1, ping, pinglen, on_reply, &o) == SL_OK,
          "queued while connecting", "rejected");
    run_until(&o.done, 3000);
    uint64_t took = o.at_ms - start;
    check(o.calls == 1 && o.status == SL_ERR_UNAVAILABLE && took >= 250 && took < 2000,
          "connect deadline", "calls %d status %d after %" PRIu64 " ms", o.calls, o.status, took);
    check(up == -1 && !sl_redis_is_up(r), "silent server down", "state %d", up);
    destroy_client(r);

    /* Closing the listener frees its port: connects there are refused. */
    close(fd);
    r = connect_client(&t, &opt, &up);
    run_until(&up, 3000);
    check(up == -1, "refused connect down", "state %d", up);
    memset(&o, 0, sizeof(o));
    check(sl_redis_command_argv(r, 1, ping, pinglen, on_reply, &o) == SL_ERR_UNAVAILABLE &&
              o.calls == 0,
          "refused fails fast", "calls %d", o.calls);
    destroy_client(r);
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } scenarios[] = {
        {"basic", scenario_basic},     {"script", scenario_script},
        {"timeout", scenario_timeout}, {"pubsub", scenario_pubsub},
        {"window", scenario_window},   {"auth", scenario_auth},
        {"restart", scenario_restart}, {"unreachable", scenario_unreachable},
    };
    char *end = NULL;

    if (argc != 3) {
        fprintf(stderr, "usage: %s SCENARIO PORT\n", argv[0]);
        return 2;
    }
    long p = strtol(argv[2], &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
        fprintf(stderr, "invalid port %s\n", argv[2]);
        return 2;
    }
    port = (uint16_t)p;
    uv_loop_init(&loop);
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(argv[1], scenarios[i].name) != 0)
            continue;
        scenarios[i].run();
        /* Every handle of every client must be closed now: a leak here is a bug. */
        uv_run(&loop, UV_RUN_DEFAULT);
        int closed = uv_loop_close(&loop) == 0;
        check(closed, "loop closes", "handles still open");
        return failures == 0 ? 0 : 1;
    }
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
