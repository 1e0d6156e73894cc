/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis -- an asynchronous Redis client on one libuv loop (hiredis 0.14 underneath).
 *
 * A client owns one command connection and, from the first sl_redis_subscribe(), one pub/sub
 * connection. hiredis 0.14 has neither timeouts nor reconnects, so this module adds both: every
 * command has a deadline, and a lost connection is re-established with exponential backoff.
 * Scripts run as EVALSHA with the SHA-1 computed locally; a NOSCRIPT reply is retried once as
 * EVAL. The host name is resolved once, in sl_redis_create(); nothing on the loop blocks.
 *
 * Threads: a client belongs to the thread that runs its loop. Call its functions on that
 * thread only; its callbacks run there too. Scripts (struct sl_redis_script) are read-only and
 * may be shared. Design notes: docs/internals/redis.md.
 */
#ifndef SL_REDIS_H
#define SL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "common/status.h"

struct sl_config;
struct sl_redis;

/* Maximum lengths of a target's host name, user name and password, without the NUL. */
#define SL_REDIS_HOST_MAX   255
#define SL_REDIS_SECRET_MAX 511

/* Maximum number of arguments of one command, its name and a script's keys included. */
#define SL_REDIS_MAX_ARGS 1024

/* Defaults used when an option is 0 or NULL. */
#define SL_REDIS_DEFAULT_PORT               6379
#define SL_REDIS_DEFAULT_COMMAND_TIMEOUT_MS 200
#define SL_REDIS_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define SL_REDIS_DEFAULT_BACKOFF_MIN_MS     100
#define SL_REDIS_DEFAULT_BACKOFF_MAX_MS     5000
#define SL_REDIS_DEFAULT_MAX_IN_FLIGHT      10000
#define SL_REDIS_DEFAULT_KEY_PREFIX         "sluice:"

/* Address and credentials of the Redis server, as configured. */
struct sl_redis_target {
    char host[SL_REDIS_HOST_MAX + 1]; /* name or IP address */
    uint16_t port;
    char username[SL_REDIS_SECRET_MAX + 1]; /* "" sends AUTH with the password only */
    char password[SL_REDIS_SECRET_MAX + 1]; /* "" sends no AUTH */
    int db;                                 /* index for SELECT; 0 sends no SELECT */
    const char *source; /* static name of the setting it came from, e.g. "REDIS_URL" */
};

/* Connection state reported to sl_redis_options.on_state. */
enum sl_redis_state {
    SL_REDIS_UP,   /* connected, authenticated and on the right database */
    SL_REDIS_DOWN, /* the connection was lost or could not be made; a retry is scheduled */
};

typedef void (*sl_redis_state_cb)(struct sl_redis *r, enum sl_redis_state state, void *privdata);

struct sl_redis_options {
    uint32_t command_timeout_ms; /* deadline of each command; 0: the default */
    uint32_t connect_timeout_ms; /* TCP connect plus AUTH and SELECT; 0: the default */
    uint32_t backoff_min_ms;     /* first reconnect delay, doubled up to backoff_max_ms */
    uint32_t backoff_max_ms;
    /* Maximum number of commands awaiting their reply, timed-out ones included, so a hung
     * Redis costs bounded memory. 0: the default. */
    uint32_t max_in_flight;
    const char *key_prefix; /* copied; NULL: SL_REDIS_DEFAULT_KEY_PREFIX */
    /* Called on each change of the command connection's state; may be NULL. */
    sl_redis_state_cb on_state;
    void *state_privdata;
};

/* A binary-safe argument: `len` bytes at `ptr`, which need not be NUL-terminated. */
struct sl_redis_str {
    const char *ptr;
    size_t len;
};

/* An sl_redis_str of a NUL-terminated string. */
#define SL_REDIS_CSTR(s) ((struct sl_redis_str){.ptr = (s), .len = strlen(s)})

/*
 * Receives the outcome of one command, exactly once, on the loop thread:
 * - SL_OK with `reply` (error replies such as "ERR ..." included: check reply->type);
 * - SL_ERR_TIMEOUT when the command's deadline passed first (a late reply is dropped);
 * - SL_ERR_UNAVAILABLE when the connection was lost before the reply, or the client was
 *   destroyed with the command pending.
 * `reply` is NULL unless the status is SL_OK, and is borrowed until the callback returns.
 * The callback may issue new commands but must not destroy the client.
 */
typedef void (*sl_redis_reply_cb)(struct sl_redis *r, enum sl_status status,
                                  const redisReply *reply, void *privdata);

/*
 * Receives each message published on a subscribed channel. `payload` is borrowed until the
 * callback returns. Messages published while the pub/sub connection is down are lost.
 */
typedef void (*sl_redis_message_cb)(struct sl_redis *r, const char *channel, const char *payload,
                                    size_t payload_len, void *privdata);

/* A Lua script with its SHA-1, as sent by EVALSHA. */
struct sl_redis_script {
    char *name;   /* owned; used in error messages */
    char *source; /* owned; NUL-terminated */
    size_t len;
    char sha1_hex[41];
};

/*
 * Finds the Redis server in `cfg`, in this order: the REDIS_URL environment variable;
 * litellm_settings.cache_params host/port/password; router_settings.redis_url, then
 * router_settings.redis_host/port/password; the REDIS_HOST/REDIS_PORT/REDIS_PASSWORD
 * environment variables. Each source is used whole: its password never mixes with another's.
 *
 * Returns SL_OK with `*out` filled, SL_ERR_NOT_FOUND when no source names a server, or
 * SL_ERR_CONFIG for an invalid URL or port (a rediss:// URL among them, because hiredis 0.14
 * has no TLS). `err` names the setting and never contains the password. `*out` is written
 * only on success. Reads the environment: not thread-safe against setenv().
 */
enum sl_status sl_redis_target_from_config(const struct sl_config *cfg, struct sl_redis_target *out,
                                           struct sl_errbuf *err);

/*
 * Parses `url` of the form redis://[[user]:password@]host[:port][/db] into `*out` with `source`
 * as its source name. Percent-escapes in the user name and password are decoded. Returns SL_OK,
 * or SL_ERR_CONFIG with the reason in `err` (the password is never printed).
 */
enum sl_status sl_redis_target_parse_url(const char *url, const char *source,
                                         struct sl_redis_target *out, struct sl_errbuf *err);

/*
 * Creates a client on `loop` and starts connecting. The host name is resolved here, once,
 * with a blocking getaddrinfo(): call this at startup, never from a loop callback. Later
 * reconnects use the resolved address. `target` and `options` are copied; `options` may be
 * NULL for the defaults.
 *
 * Commands may be issued at once: they are queued behind the connection handshake.
 * Returns SL_OK with `*out` set, or SL_ERR_CONFIG (unresolvable host, invalid option) with the
 * reason in `err`.
 */
enum sl_status sl_redis_create(uv_loop_t *loop, const struct sl_redis_target *target,
                               const struct sl_redis_options *options, struct sl_redis **out,
                               struct sl_errbuf *err);

/*
 * Closes both connections and fails every pending command with SL_ERR_UNAVAILABLE, from inside
 * this call. The memory is released once the loop has closed the client's handles, so keep
 * running the loop afterwards. Must not be called from a callback of `r`. NULL is a no-op.
 */
void sl_redis_destroy(struct sl_redis *r);

/* Returns 1 while the command connection is up (handshake done), else 0. */
int sl_redis_is_up(const struct sl_redis *r);

/*
 * Sends the command made of `argc` arguments (`argv[i]` of `argvlen[i]` bytes, binary-safe,
 * copied before this returns). On SL_OK, `cb` will be called exactly once. While the client
 * has no connection, or max_in_flight commands await their reply, returns SL_ERR_UNAVAILABLE
 * at once and `cb` is never called; also SL_ERR_INVALID when `argc` is 0 or over SL_REDIS_MAX_ARGS.
 * Not for SUBSCRIBE and its relatives: use sl_redis_subscribe().
 */
enum sl_status sl_redis_command_argv(struct sl_redis *r, int argc, const char **argv,
                                     const size_t *argvlen, sl_redis_reply_cb cb, void *privdata);

/*
 * Returns a new script named `name` with a copy of `len` bytes of `source` and its SHA-1.
 * Scripts are independent of clients: load each once and share it between threads (it is
 * read-only). Free with sl_redis_script_destroy().
 */
struct sl_redis_script *sl_redis_script_load(const char *name, const char *source, size_t len);
void sl_redis_script_destroy(struct sl_redis_script *script);

/*
 * Runs `script` with `nkeys` keys and `nargs` arguments (binary-safe, copied) as EVALSHA. A
 * NOSCRIPT reply (Redis restarted, failed over or its script cache was flushed) is retried
 * once as EVAL, which also caches the script again. The caller receives only the final reply.
 * The deadline covers both attempts. `script` is borrowed until `cb` has been called.
 * Returns and calls `cb` as sl_redis_command_argv() does.
 */
enum sl_status sl_redis_eval(struct sl_redis *r, const struct sl_redis_script *script, size_t nkeys,
                             const struct sl_redis_str *keys, size_t nargs,
                             const struct sl_redis_str *args, sl_redis_reply_cb cb, void *privdata);

/*
 * Subscribes to `channel` (copied) on the client's pub/sub connection, which is opened on the
 * first call. After every reconnect the client subscribes again to every channel, so messages
 * keep flowing after an outage (those published during it are lost). `on_message` runs for
 * each message until the client is destroyed. Returns SL_OK, or SL_ERR_INVALID for an empty
 * channel name.
 */
enum sl_status sl_redis_subscribe(struct sl_redis *r, const char *channel,
                                  sl_redis_message_cb on_message, void *privdata);

/* Returns 1 while the pub/sub connection is up and every channel is subscribed, else 0. */
int sl_redis_subscriptions_live(const struct sl_redis *r);

/*
 * Writes the client's key prefix followed by the printf-style `fmt` into `buf` of `size`
 * bytes, NUL-terminated, e.g. "sluice:rl:key:ab12" for ("rl:key:%s", "ab12"). Returns SL_OK,
 * or SL_ERR_TOO_LARGE when the key does not fit (`buf` then contains an empty string).
 */
enum sl_status sl_redis_key(char *buf, size_t size, const struct sl_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Writes the client's key prefix followed by the `n` strings of `parts`, NUL-terminated, into
 * `buf` of `size` bytes: sl_redis_key() without the format parsing, for keys built on every
 * request. Returns SL_OK, or SL_ERR_TOO_LARGE when the key does not fit (`buf` then contains
 * an empty string).
 */
enum sl_status sl_redis_key_join(char *buf, size_t size, const struct sl_redis *r,
                                 const char *const *parts, size_t n);

#endif /* SL_REDIS_H */
