/* SPDX-License-Identifier: Apache-2.0 */
/* probe -- a health check's request and verdict; see probe.h. */
#include "gateway/health/probe.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "gateway/http/errors.h"

/* Text of the check's one user message or embedding input. */
#define PROBE_TEXT "ping"

/* Returns the model a check names upstream: model_info.health_check_model without a known
 * provider prefix ("openai/gpt-4o-mini" -> "gpt-4o-mini"), else the deployment's own. */
static const char *
probe_model(const struct sl_deployment *d)
{
    const char *m = d->health_check_model;
    const char *slash;
    char prefix[64];
    size_t n;

    if (m == NULL || m[0] == '\0')
        return d->provider_model;
    slash = strchr(m, '/');
    if (slash == NULL)
        return m;
    n = (size_t)(slash - m);
    if (n >= sizeof(prefix))
        return m;
    memcpy(prefix, m, n);
    prefix[n] = '\0';
    return sl_provider_find(prefix) != NULL ? slash + 1 : m;
}

static enum sl_call_kind
probe_kind(const struct sl_deployment *d)
{
    if (d->mode != NULL && strcmp(d->mode, "embedding") == 0)
        return SL_KIND_EMBEDDING;
    if (d->mode != NULL && strcmp(d->mode, "completion") == 0)
        return SL_KIND_COMPLETION;
    return SL_KIND_CHAT;
}

static cJSON *
probe_body(enum sl_call_kind kind, const char *model)
{
    cJSON *body = cJSON_CreateObject();

    cJSON_AddStringToObject(body, "model", model);
    if (kind == SL_KIND_EMBEDDING) {
        cJSON_AddStringToObject(body, "input", PROBE_TEXT);
    } else if (kind == SL_KIND_COMPLETION) {
        cJSON_AddStringToObject(body, "prompt", PROBE_TEXT);
        cJSON_AddNumberToObject(body, "max_tokens", 1);
    } else {
        cJSON *messages = cJSON_AddArrayToObject(body, "messages");
        cJSON *message = cJSON_CreateObject();

        cJSON_AddStringToObject(message, "role", "user");
        cJSON_AddStringToObject(message, "content", PROBE_TEXT);
        cJSON_AddItemToArray(messages, message);
        cJSON_AddNumberToObject(body, "max_tokens", 1);
    }
    return body;
}

enum sl_status
sl_health_probe_build(const struct sl_deployment *d, int64_t now_s, struct sl_health_probe *out,
                      struct sl_errbuf *err)
{
    const struct sl_provider *p = sl_provider_find(d->provider);
    struct sl_deployment target;
    struct sl_call_ctx ctx;
    struct sl_health_probe probe;
    cJSON *body = NULL;
    enum sl_status rc;

    if (p == NULL) {
        sl_errbuf_set(err, "unknown provider \"%s\"", d->provider);
        return SL_ERR_CONFIG;
    }
    /* The deployment is copied so that the family sends the health check model instead. */
    target = *d;
    target.provider_model = (char *)probe_model(d);
    if (strchr(target.provider_model, '*') != NULL) {
        sl_errbuf_set(err, "wildcard model \"%s\" needs model_info.health_check_model", d->model);
        return SL_ERR_INVALID;
    }

    memset(&probe, 0, sizeof(probe));
    sl_buf_init(&probe.req.url, 0);
    sl_buf_init(&probe.req.body, 0);
    probe.provider = p;
    probe.timeout_ms = (uint64_t)(d->health_check_timeout_s * 1000.0);

    memset(&ctx, 0, sizeof(ctx));
    ctx.kind = probe_kind(d);
    ctx.inbound = SL_FORMAT_OPENAI;
    ctx.native = p->native_format == SL_FORMAT_OPENAI;
    ctx.deployment = &target;
    ctx.requested_model = d->model_name;
    body = probe_body(ctx.kind, target.provider_model);
    ctx.body = body;
    ctx.now_unix_s = now_s;
    rc = p->build_request(&ctx, &probe.req, err);
    if (rc != SL_OK) {
        sl_health_probe_dispose(&probe);
        goto out;
    }
    *out = probe;

out:
    cJSON_Delete(body);
    return rc;
}

void
sl_health_probe_dispose(struct sl_health_probe *p)
{
    curl_slist_free_all(p->req.headers);
    p->req.headers = NULL;
    sl_buf_dispose(&p->req.url);
    sl_buf_dispose(&p->req.body);
}

/* Replaces each occurrence of `secret` in `text` by "***". Secrets shorter than three bytes
 * are left alone, so the text never grows. */
static void
redact_one(char *text, const char *secret)
{
    size_t n;
    char *hit;

    if (secret == NULL)
        return;
    n = strlen(secret);
    if (n < 3)
        return;
    hit = strstr(text, secret);
    while (hit != NULL) {
        memcpy(hit, "***", 3);
        memmove(hit + 3, hit + n, strlen(hit + n) + 1);
        hit = strstr(hit + 3, secret);
    }
}

void
sl_health_redact(char *text, const struct sl_deployment *d)
{
    redact_one(text, d->api_key);
    redact_one(text, d->aws_access_key_id);
    redact_one(text, d->aws_secret_access_key);
    redact_one(text, d->aws_session_token);
}

/* Copies at most SL_HEALTH_ERROR_MAX bytes of `text` into `msg`, with control bytes made
 * spaces so that the reason stays one line in logs and Redis messages. */
static void
copy_reason(char *msg, size_t msg_size, const char *text)
{
    size_t cap = msg_size - 1 < SL_HEALTH_ERROR_MAX ? msg_size - 1 : SL_HEALTH_ERROR_MAX;
    size_t n = strlen(text) < cap ? strlen(text) : cap;

    memcpy(msg, text, n);
    msg[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = ' ';
}

int
sl_health_probe_verdict(const struct sl_health_probe *p, const struct sl_deployment *d, long status,
                        const char *body, size_t len, const char *transport_error, char *msg,
                        size_t msg_size)
{
    struct sl_upstream_error e;
    char text[sizeof(e.message) + 32];

    if (msg_size == 0)
        return 0;
    msg[0] = '\0';
    if (transport_error == NULL && status >= 200 && status < 300)
        return 1;
    if (transport_error != NULL) {
        snprintf(text, sizeof(text), "%s", transport_error);
    } else {
        memset(&e, 0, sizeof(e));
        p->provider->parse_error(status, body != NULL ? body : "", body != NULL ? len : 0, &e);
        /* Redact before any cut, so that a key split by a cut cannot survive. */
        sl_health_redact(e.message, d);
        snprintf(text, sizeof(text), "HTTP %ld: %s", status, e.message);
    }
    sl_health_redact(text, d);
    copy_reason(msg, msg_size, text);
    return 0;
}
