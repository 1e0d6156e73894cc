/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- request dispatch: the provider routes (logged and answered from scripts) and the
 * control API under /_mock/ (neither logged nor scripted).
 */
#include "bench/mock/mock.h"

#include <string.h>

#include "bench/mock/anthropic.h"
#include "bench/mock/azure.h"
#include "bench/mock/completions.h"
#include "bench/mock/embeddings.h"
#include "bench/mock/bedrock.h"
#include "bench/mock/exchange.h"
#include "bench/mock/gemini.h"
#include "bench/mock/openai.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

static int
path_is(h2o_iovec_t path, const char *s)
{
    return h2o_memis(path.base, path.len, s, strlen(s));
}

static int
method_is(h2o_req_t *req, const char *s)
{
    return h2o_memis(req->method.base, req->method.len, s, strlen(s));
}

static void
send_json(h2o_req_t *req, int status, const struct sl_buf *b)
{
    sl_mock_send_body(req, status, "application/json", b->data != NULL ? b->data : "", b->len);
}

/* Appends `s` JSON-escaped, without the surrounding quotes. */
static void
append_escaped(struct sl_buf *out, const char *s, size_t n)
{
    struct sl_buf tmp;

    sl_buf_init(&tmp, 0);
    if (sl_json_append_string(&tmp, s, n) == SL_OK)
        (void)sl_buf_append(out, tmp.data + 1, tmp.len - 2);
    sl_buf_dispose(&tmp);
}

/*
 * Appends the request headers as a JSON object; repeated names are joined with ", ". h2o keeps
 * the Host header (HTTP/1) or :authority (HTTP/2) apart from the others, so it is added back as
 * "host".
 */
static void
headers_to_json(const h2o_req_t *req, struct sl_buf *out)
{
    const h2o_headers_t *headers = &req->headers;

    (void)sl_buf_append(out, "{", 1);
    if (req->authority.len > 0 && h2o_find_header(headers, H2O_TOKEN_HOST, -1) == -1) {
        (void)sl_buf_append_str(out, "\"host\":");
        (void)sl_json_append_string(out, req->authority.base, req->authority.len);
    }
    for (size_t i = 0; i < headers->size; i++) {
        const h2o_header_t *h = &headers->entries[i];
        int first = 1;

        if (h2o_find_header_by_str(headers, h->name->base, h->name->len, -1) != (ssize_t)i)
            continue;
        if (out->len > 1)
            (void)sl_buf_append(out, ",", 1);
        (void)sl_json_append_string(out, h->name->base, h->name->len);
        (void)sl_buf_append(out, ":\"", 2);
        for (size_t j = i; j < headers->size; j++) {
            const h2o_header_t *o = &headers->entries[j];

            if (!h2o_memis(o->name->base, o->name->len, h->name->base, h->name->len))
                continue;
            if (!first)
                (void)sl_buf_append(out, ", ", 2);
            first = 0;
            append_escaped(out, o->value.base, o->value.len);
        }
        (void)sl_buf_append(out, "\"", 1);
    }
    (void)sl_buf_append(out, "}", 1);
}

static const char *
version_name(int version)
{
    if (version >= 0x200)
        return "2";
    return version == 0x100 ? "1.0" : "1.1";
}

/* Records a provider request in the log and returns its sequence number. */
static uint64_t
log_request(struct sl_mock_shared *shared, h2o_req_t *req)
{
    struct sl_mock_reqlog_input in;
    struct sl_buf headers;
    uint64_t seq;

    sl_buf_init(&headers, 0);
    headers_to_json(req, &headers);
    in.method = req->method.base;
    in.method_len = req->method.len;
    in.path = req->path.base;
    in.path_len = req->path.len;
    in.http_version = version_name(req->version);
    in.headers_json = headers.data;
    in.body = req->entity.base;
    in.body_len = req->entity.base != NULL ? req->entity.len : 0;
    in.received_ms = sl_now_ms() - shared->start_ms;

    pthread_mutex_lock(&shared->lock);
    seq = sl_mock_reqlog_add(shared->log, &in);
    pthread_mutex_unlock(&shared->lock);
    sl_buf_dispose(&headers);
    return seq;
}

static void
mark_completed(struct sl_mock_shared *shared, uint64_t seq)
{
    pthread_mutex_lock(&shared->lock);
    sl_mock_reqlog_mark_completed(shared->log, seq);
    pthread_mutex_unlock(&shared->lock);
}

/* Takes the script for this request from the queue, or the defaults when none matches. */
static void
take_script(struct sl_mock_shared *shared, enum sl_mock_route route, const char *model,
            struct sl_mock_script *script)
{
    struct sl_errbuf err;
    cJSON *tree;

    pthread_mutex_lock(&shared->lock);
    tree = sl_mock_script_queue_take(shared->scripts, route, model);
    pthread_mutex_unlock(&shared->lock);
    if (tree == NULL || sl_mock_script_parse(script, tree, &err) != SL_OK)
        sl_mock_script_init_default(script); /* a queued script was validated when queued */
}

static void
on_chat(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_chat chat;
    struct sl_mock_script script;
    struct sl_errbuf err;
    const char *param;

    if (sl_mock_chat_parse(req->entity.base != NULL ? req->entity.base : "",
                           req->entity.base != NULL ? req->entity.len : 0, &chat, &param,
                           &err) != SL_OK) {
        mark_completed(shared, seq);
        sl_mock_send_error(req, 400, err.msg, "invalid_request_error", param);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_CHAT, chat.model, &script);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_CHAT, &script, &chat);
}

static void
on_completions(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_chat chat;
    struct sl_mock_script script;
    struct sl_errbuf err;
    const char *param;

    if (sl_mock_text_parse(req->entity.base != NULL ? req->entity.base : "",
                           req->entity.base != NULL ? req->entity.len : 0, &chat, &param,
                           &err) != SL_OK) {
        mark_completed(shared, seq);
        sl_mock_send_error(req, 400, err.msg, "invalid_request_error", param);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_COMPLETIONS, chat.model, &script);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_CHAT, &script, &chat);
}

/* Anthropic's Messages API; errors use Anthropic's envelope. */
static void
on_messages(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_chat chat;
    struct sl_mock_script script;
    struct sl_errbuf err;
    struct sl_buf body;
    const char *param;

    if (sl_mock_messages_parse(req->entity.base != NULL ? req->entity.base : "",
                               req->entity.base != NULL ? req->entity.len : 0, &chat, &param,
                               &err) != SL_OK) {
        mark_completed(shared, seq);
        sl_buf_init(&body, 0);
        (void)sl_mock_messages_error_json(&body, 400, err.msg);
        send_json(req, 400, &body);
        sl_buf_dispose(&body);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_MESSAGES, chat.model, &script);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_MESSAGES, &script, &chat);
}

/* Anthropic's token counting: the count is built here and played as the script's body, and a
 * scripted error without a body gets Anthropic's envelope. */
static void
on_count_tokens(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_chat chat;
    struct sl_mock_script script;
    struct sl_errbuf err;
    struct sl_buf body;
    const char *param;

    sl_buf_init(&body, 0);
    if (sl_mock_count_tokens_parse(req->entity.base != NULL ? req->entity.base : "",
                                   req->entity.base != NULL ? req->entity.len : 0, &chat, &param,
                                   &err) != SL_OK) {
        mark_completed(shared, seq);
        (void)sl_mock_messages_error_json(&body, 400, err.msg);
        send_json(req, 400, &body);
        sl_buf_dispose(&body);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_COUNT_TOKENS, chat.model, &script);
    if (!script.has_body) {
        if (script.status >= 400) {
            char message[96];

            snprintf(message, sizeof(message), "sluice-mock scripted error (status %d)",
                     script.status);
            (void)sl_mock_messages_error_json(&body, script.status, message);
        } else {
            (void)sl_mock_count_tokens_json(&body, &chat);
        }
        script.body = sl_buf_take(&body, &script.body_len);
        script.has_body = 1;
        script.content_type = NULL;
    }
    sl_buf_dispose(&body);
    sl_mock_chat_dispose(&chat);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_EMBEDDINGS, &script, NULL);
}

/* Embeddings never stream, so the reply is built here and played as the script's body. */
static void
on_embeddings(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_embedding_request emb;
    struct sl_mock_script script;
    struct sl_errbuf err;
    struct sl_buf body;
    const char *param;

    if (sl_mock_embeddings_parse(req->entity.base != NULL ? req->entity.base : "",
                                 req->entity.base != NULL ? req->entity.len : 0, &emb, &param,
                                 &err) != SL_OK) {
        mark_completed(shared, seq);
        sl_mock_send_error(req, 400, err.msg, "invalid_request_error", param);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_EMBEDDINGS, emb.model, &script);
    if (!script.has_body && script.status < 400) {
        sl_buf_init(&body, 0);
        (void)sl_mock_embeddings_json(&body, &emb, script.usage);
        script.body = sl_buf_take(&body, &script.body_len);
        script.has_body = 1;
        script.content_type = NULL;
    }
    sl_mock_embeddings_dispose(&emb);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_EMBEDDINGS, &script, NULL);
}

/* Returns 1 when a query string (after '?') has `param` ("name=value") in it. */
static int
query_has(const h2o_req_t *req, const char *param)
{
    size_t n = strlen(param);
    const char *q;
    size_t len;

    if (req->query_at == SIZE_MAX)
        return 0;
    q = req->path.base + req->query_at + 1;
    len = req->path.len - req->query_at - 1;
    for (size_t i = 0; i + n <= len; i++)
        if ((i == 0 || q[i - 1] == '&') && memcmp(q + i, param, n) == 0 &&
            (i + n == len || q[i + n] == '&'))
            return 1;
    return 0;
}

/* Gemini's batchEmbedContents: built here and played as the script's body, like embeddings. */
static void
on_gemini_embed(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq, const char *model)
{
    struct sl_mock_script script;
    struct sl_errbuf err;
    struct sl_buf body;

    sl_buf_init(&body, 0);
    if (sl_mock_gemini_embed_json(req->entity.base != NULL ? req->entity.base : "",
                                  req->entity.base != NULL ? req->entity.len : 0, model, &body,
                                  &err) != SL_OK) {
        sl_buf_reset(&body);
        (void)sl_mock_gemini_error_json(&body, 400, err.msg);
        mark_completed(shared, seq);
        send_json(req, 400, &body);
        sl_buf_dispose(&body);
        return;
    }
    take_script(shared, SL_MOCK_ROUTE_EMBEDDINGS, model, &script);
    if (!script.has_body && script.status < 400) {
        script.body = sl_buf_take(&body, &script.body_len);
        script.has_body = 1;
        script.content_type = NULL;
    }
    sl_buf_dispose(&body);
    sl_mock_exchange_start(req, seq, SL_MOCK_KIND_EMBEDDINGS, &script, NULL);
}

/* Gemini's generateContent and batchEmbedContents routes; returns 0 for any other request. */
static int
on_gemini(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct sl_mock_chat chat;
    struct sl_mock_script script;
    struct sl_errbuf err;
    struct sl_buf body;
    char model[256];
    enum sl_mock_gemini_method method = sl_mock_gemini_match(
        req->path_normalized.base, req->path_normalized.len, model, sizeof(model));

    if (method == SL_MOCK_GEMINI_NONE || !method_is(req, "POST"))
        return 0;
    sl_buf_init(&body, 0);
    if (method == SL_MOCK_GEMINI_EMBED) {
        on_gemini_embed(shared, req, seq, model);
        sl_buf_dispose(&body);
        return 1;
    }
    if (method == SL_MOCK_GEMINI_STREAM && !query_has(req, "alt=sse")) {
        /* Without alt=sse Google streams a JSON array, which the mock does not write. */
        (void)sl_mock_gemini_error_json(&body, 400, "sluice-mock streams only with alt=sse");
    } else if (sl_mock_gemini_parse(req->entity.base != NULL ? req->entity.base : "",
                                    req->entity.base != NULL ? req->entity.len : 0, model,
                                    method == SL_MOCK_GEMINI_STREAM, &chat, &err) != SL_OK) {
        (void)sl_mock_gemini_error_json(&body, 400, err.msg);
    } else {
        sl_buf_dispose(&body);
        take_script(shared, SL_MOCK_ROUTE_CHAT, chat.model, &script);
        sl_mock_exchange_start(req, seq, SL_MOCK_KIND_GEMINI, &script, &chat);
        return 1;
    }
    mark_completed(shared, seq);
    send_json(req, 400, &body);
    sl_buf_dispose(&body);
    return 1;
}

static void
on_provider_request(struct sl_mock_shared *shared, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    uint64_t seq = log_request(shared, req);
    /* Azure deployment paths are served as the OpenAI path they stand for. */
    enum sl_mock_azure_match azure = sl_mock_azure_match(req, &path);
    struct sl_mock_script script;
    int chat = path_is(path, "/v1/chat/completions") || path_is(path, "/chat/completions");
    int models = path_is(path, "/v1/models") || path_is(path, "/models");
    int completions = path_is(path, "/v1/completions") || path_is(path, "/completions");
    int embeddings = path_is(path, "/v1/embeddings") || path_is(path, "/embeddings");
    int messages = path_is(path, "/v1/messages");
    int count_tokens = path_is(path, "/v1/messages/count_tokens");

    if (azure == SL_MOCK_AZURE_NO_VERSION) {
        mark_completed(shared, seq);
        sl_mock_send_error(req, 404, "Resource not found: the api-version query parameter is "
                                     "missing",
                           "invalid_request_error", "api-version");
        return;
    }
    if (on_gemini(shared, req, seq))
        return;
    if (sl_mock_bedrock_match(req->path)) {
        sl_mock_bedrock_handle(shared, req, seq);
        return;
    }
    if (completions && method_is(req, "POST")) {
        on_completions(shared, req, seq);
        return;
    }
    if (messages && method_is(req, "POST")) {
        on_messages(shared, req, seq);
        return;
    }
    if (count_tokens && method_is(req, "POST")) {
        on_count_tokens(shared, req, seq);
        return;
    }
    if (embeddings && method_is(req, "POST")) {
        on_embeddings(shared, req, seq);
        return;
    }
    if ((chat && method_is(req, "POST")) || (models && method_is(req, "GET"))) {
        if (chat) {
            on_chat(shared, req, seq);
            return;
        }
        take_script(shared, SL_MOCK_ROUTE_MODELS, NULL, &script);
        sl_mock_exchange_start(req, seq, SL_MOCK_KIND_MODELS, &script, NULL);
        return;
    }
    mark_completed(shared, seq);
    if (chat || models || completions || embeddings || messages || count_tokens)
        sl_mock_send_error(req, 405, "method not allowed on this path", "invalid_request_error",
                           NULL);
    else
        sl_mock_send_error(req, 404, "unknown path", "invalid_request_error", NULL);
}

static void
on_queue_script(struct sl_mock_shared *shared, h2o_req_t *req)
{
    struct sl_errbuf err;
    struct sl_buf out;
    cJSON *json = NULL;
    size_t queued = 0;
    enum sl_status rc;

    sl_buf_init(&out, 0);
    rc = sl_json_parse(req->entity.base != NULL ? req->entity.base : "",
                       req->entity.base != NULL ? req->entity.len : 0, SL_JSON_MAX_DEPTH, &json,
                       &err);
    if (rc == SL_OK) {
        pthread_mutex_lock(&shared->lock);
        rc = sl_mock_script_queue_push(shared->scripts, json, &queued, &err);
        pthread_mutex_unlock(&shared->lock);
    }
    if (rc == SL_OK) {
        (void)sl_buf_printf(&out, "{\"queued\":%zu}", queued);
        send_json(req, 200, &out);
    } else {
        sl_log(SL_LOG_WARN, NULL, "mock.script_rejected", SL_LOG_STR("reason", err.msg));
        (void)sl_mock_error_json(&out, err.msg, "invalid_request_error", NULL);
        send_json(req, 400, &out);
    }
    cJSON_Delete(json);
    sl_buf_dispose(&out);
}

static void
on_list_requests(struct sl_mock_shared *shared, h2o_req_t *req)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    pthread_mutex_lock(&shared->lock);
    (void)sl_mock_reqlog_to_json(shared->log, &out);
    pthread_mutex_unlock(&shared->lock);
    send_json(req, 200, &out);
    sl_buf_dispose(&out);
}

static void
on_reset(struct sl_mock_shared *shared, h2o_req_t *req)
{
    static const char body[] = "{\"ok\":true}";

    pthread_mutex_lock(&shared->lock);
    sl_mock_script_queue_clear(shared->scripts);
    sl_mock_reqlog_clear(shared->log);
    pthread_mutex_unlock(&shared->lock);
    sl_mock_send_body(req, 200, "application/json", body, sizeof(body) - 1);
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct sl_mock_shared *shared = sl_mock_worker_of(req)->shared;
    h2o_iovec_t path = req->path_normalized;

    (void)self;
    if (path.len < 7 || memcmp(path.base, "/_mock/", 7) != 0) {
        on_provider_request(shared, req);
        return 0;
    }
    if (path_is(path, "/_mock/responses") && method_is(req, "POST"))
        on_queue_script(shared, req);
    else if (path_is(path, "/_mock/requests") && method_is(req, "GET"))
        on_list_requests(shared, req);
    else if (path_is(path, "/_mock/reset") && method_is(req, "POST"))
        on_reset(shared, req);
    else
        sl_mock_send_error(req, 404, "unknown control path or method", "invalid_request_error",
                           NULL);
    return 0;
}

void
sl_mock_routes_register(h2o_hostconf_t *host)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);

    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = on_req;
}
