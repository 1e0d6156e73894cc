/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_target -- where Sluice's Redis is, from the config file and the environment.
 *
 * The config table binds no env var to the Redis keys, so the loaded struct holds only the
 * file's values. This file reads REDIS_URL and REDIS_HOST/PORT/PASSWORD itself and ranks the
 * sources in one order: REDIS_URL, then the file's cache_params, then router_settings, then
 * REDIS_HOST/PORT/PASSWORD. Runs at startup on one thread.
 */
#include "common/redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#define REDIS_SCHEME  "redis://"
#define REDISS_SCHEME "rediss://"

/* Returns the value of env var `name`, or NULL when it is unset or empty. */
static const char *
env_value(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Returns the value of hex digit `c`, or -1. */
static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies `len` bytes of `s` into `out` of `size` bytes, decoding %XX escapes when `decode`.
 * Returns 0, or -1 when the result does not fit or an escape is invalid or decodes to NUL. */
static int
copy_part(char *out, size_t size, const char *s, size_t len, int decode)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (decode && ch == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return 0;
}

/* Parses a decimal in [min, max] from `len` bytes of `s`. Returns 0 or -1. */
static int
parse_number(const char *s, size_t len, long min, long max, long *out)
{
    char text[16];
    char *end = NULL;

    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
    }
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

enum sl_status
sl_redis_target_parse_url(const char *url, const char *source, struct sl_redis_target *out,
                          struct sl_errbuf *err)
{
    struct sl_redis_target t;
    long number = 0;

    memset(&t, 0, sizeof(t));
    t.port = SL_REDIS_DEFAULT_PORT;
    t.source = source;

    if (strncmp(url, REDISS_SCHEME, strlen(REDISS_SCHEME)) == 0) {
        sl_errbuf_set(err,
                      "%s: rediss:// (TLS) is not supported: hiredis 0.14 has no TLS; run a "
                      "TLS sidecar such as stunnel on loopback and point a redis:// URL at it",
                      source);
        return SL_ERR_CONFIG;
    }
    if (strncmp(url, REDIS_SCHEME, strlen(REDIS_SCHEME)) != 0) {
        sl_errbuf_set(err,
                      "%s: invalid Redis URL (expected "
                      "redis://[[user]:password@]host[:port][/db])",
                      source);
        return SL_ERR_CONFIG;
    }
    const char *p = url + strlen(REDIS_SCHEME);
    const char *end = p + strcspn(p, "/?#");

    /* The user info ends at the last '@' before the path, so a password with a raw '@' (which
     * should be written %40) still parses. */
    const char *at = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '@')
            at = q;
    }
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon != NULL ? colon : at;
        if (copy_part(t.username, sizeof(t.username), p, (size_t)(user_end - p), 1) != 0 ||
            (colon != NULL && copy_part(t.password, sizeof(t.password), colon + 1,
                                        (size_t)(at - colon - 1), 1) != 0)) {
            sl_errbuf_set(err, "%s: invalid or too long user name or password in the Redis URL",
                          source);
            return SL_ERR_CONFIG;
        }
        if (colon == NULL) {
            /* redis://secret@host: a lone user-info part is the password, as in redis-cli. */
            memcpy(t.password, t.username, sizeof(t.password));
            t.username[0] = '\0';
        }
        p = at + 1;
    }

    /* Host: a bracketed IPv6 address or a name up to the port's ':'. */
    const char *host_end;
    const char *port_start = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL) {
            sl_errbuf_set(err, "%s: unterminated [ in the host of the Redis URL", source);
            return SL_ERR_CONFIG;
        }
        if (copy_part(t.host, sizeof(t.host), p + 1, (size_t)(close - p - 1), 0) != 0)
            goto bad_host;
        host_end = close + 1;
        if (host_end < end && *host_end == ':')
            port_start = host_end + 1;
        else if (host_end != end)
            goto bad_host;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon != NULL ? colon : end;
        if (copy_part(t.host, sizeof(t.host), p, (size_t)(host_end - p), 0) != 0)
            goto bad_host;
        if (colon != NULL)
            port_start = colon + 1;
    }
    if (t.host[0] == '\0')
        goto bad_host;
    if (port_start != NULL) {
        if (parse_number(port_start, (size_t)(end - port_start), 1, 65535, &number) != 0) {
            sl_errbuf_set(err, "%s: invalid port \"%.*s\" in the Redis URL (expected 1 to 65535)",
                          source, (int)(end - port_start), port_start);
            return SL_ERR_CONFIG;
        }
        t.port = (uint16_t)number;
    }

    /* Path: an optional database index; a query string is not understood. */
    if (*end == '?' || *end == '#') {
        sl_errbuf_set(err, "%s: query parameters in the Redis URL are not supported", source);
        return SL_ERR_CONFIG;
    }
    if (*end == '/' && end[1] != '\0') {
        if (parse_number(end + 1, strlen(end + 1), 0, 1000000, &number) != 0) {
            sl_errbuf_set(err,
                          "%s: invalid database \"%.20s\" in the Redis URL (expected a "
                          "number such as /0)",
                          source, end + 1);
            return SL_ERR_CONFIG;
        }
        t.db = (int)number;
    }
    *out = t;
    return SL_OK;

bad_host:
    sl_errbuf_set(err, "%s: missing, invalid or too long host in the Redis URL", source);
    return SL_ERR_CONFIG;
}

/* Fills a target from separate host, port and password settings. */
static enum sl_status
target_from_parts(const char *source, const char *host, int64_t port, const char *password,
                  struct sl_redis_target *out, struct sl_errbuf *err)
{
    struct sl_redis_target t;

    memset(&t, 0, sizeof(t));
    t.source = source;
    if (port == SL_CONFIG_UNSET_INT)
        port = SL_REDIS_DEFAULT_PORT;
    if (port < 1 || port > 65535) {
        sl_errbuf_set(err, "%s: invalid Redis port %lld (expected 1 to 65535)", source,
                      (long long)port);
        return SL_ERR_CONFIG;
    }
    if (copy_part(t.host, sizeof(t.host), host, strlen(host), 0) != 0 || t.host[0] == '\0') {
        sl_errbuf_set(err, "%s: invalid or too long Redis host", source);
        return SL_ERR_CONFIG;
    }
    if (password != NULL &&
        copy_part(t.password, sizeof(t.password), password, strlen(password), 0) != 0) {
        sl_errbuf_set(err, "%s: Redis password longer than %d bytes", source, SL_REDIS_SECRET_MAX);
        return SL_ERR_CONFIG;
    }
    t.port = (uint16_t)port;
    *out = t;
    return SL_OK;
}

enum sl_status
sl_redis_target_from_config(const struct sl_config *cfg, struct sl_redis_target *out,
                            struct sl_errbuf *err)
{
    const char *url = env_value("REDIS_URL");
    if (url != NULL)
        return sl_redis_target_parse_url(url, "REDIS_URL", out, err);

    if (cfg->cache_host != NULL)
        return target_from_parts("litellm_settings.cache_params", cfg->cache_host, cfg->cache_port,
                                 cfg->cache_password, out, err);

    if (cfg->redis_url != NULL)
        return sl_redis_target_parse_url(cfg->redis_url, "router_settings.redis_url", out, err);

    if (cfg->redis_host != NULL)
        return target_from_parts("router_settings.redis_host", cfg->redis_host, cfg->redis_port,
                                 cfg->redis_password, out, err);

    const char *env_host = env_value("REDIS_HOST");
    if (env_host != NULL) {
        long port = SL_REDIS_DEFAULT_PORT;
        const char *env_port = env_value("REDIS_PORT");
        if (env_port != NULL && parse_number(env_port, strlen(env_port), 1, 65535, &port) != 0) {
            sl_errbuf_set(err, "REDIS_PORT: invalid port \"%.20s\" (expected 1 to 65535)",
                          env_port);
            return SL_ERR_CONFIG;
        }
        return target_from_parts("REDIS_HOST", env_host, port, env_value("REDIS_PASSWORD"), out,
                                 err);
    }

    sl_errbuf_set(err, "Redis is not configured: set REDIS_URL, litellm_settings.cache_params."
                       "host, router_settings.redis_host or REDIS_HOST");
    return SL_ERR_NOT_FOUND;
}
