/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bedrock -- the mock's Bedrock runtime routes; see bedrock.h.
 *
 * A request is first authenticated like Bedrock does: the Authorization header's SigV4
 * signature is recomputed with common/sigv4.c from the wire path, the signed headers and the
 * body, and a wrong key or signature gets 403 in Bedrock's error shape. The response is built
 * whole: Converse JSON, or every event-stream frame of the stream at once (with correct CRCs
 * unless the script requests a corrupt frame). Delays and stalls are not played on these
 * routes.
 */
#include "bench/mock/bedrock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/mock/exchange.h"
#include "bench/mock/openai.h"
#include "common/eventstream.h"
#include "common/json.h"
#include "common/sigv4.h"

/* Bedrock's exception names by HTTP status, for the x-amzn-ErrorType header. */
static const struct {
    int status;
    const char *type;
} error_types[] = {
    {400, "ValidationException"},       {403, "AccessDeniedException"},
    {404, "ResourceNotFoundException"}, {408, "ModelTimeoutException"},
    {424, "ModelErrorException"},       {429, "ThrottlingException"},
    {500, "InternalServerException"},   {503, "ServiceUnavailableException"},
};

static const char *
error_type_for(int status)
{
    for (size_t i = 0; i < sizeof(error_types) / sizeof(error_types[0]); i++)
        if (error_types[i].status == status)
            return error_types[i].type;
    return status >= 500 ? "InternalServerException" : "ValidationException";
}

static int
ends_with(h2o_iovec_t s, const char *suffix)
{
    size_t n = strlen(suffix);

    return s.len >= n && memcmp(s.base + s.len - n, suffix, n) == 0;
}

static h2o_iovec_t
path_only(const h2o_req_t *req)
{
    h2o_iovec_t p = req->path;
    const char *q = memchr(p.base, '?', p.len);

    if (q != NULL)
        p.len = (size_t)(q - p.base);
    return p;
}

int
sl_mock_bedrock_match(h2o_iovec_t path)
{
    const char *q = memchr(path.base, '?', path.len);

    if (q != NULL)
        path.len = (size_t)(q - path.base);
    return path.len > 7 && memcmp(path.base, "/model/", 7) == 0 &&
           (ends_with(path, "/converse") || ends_with(path, "/converse-stream") ||
            ends_with(path, "/invoke"));
}

/* Sends {"message": ...} with x-amzn-ErrorType, as Bedrock reports errors. */
static void
send_aws_error(h2o_req_t *req, int status, const char *type, const char *message)
{
    struct sl_buf body;

    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{\"message\":");
    sl_json_append_string(&body, message, strlen(message));
    sl_buf_append_str(&body, "}");
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-amzn-errortype"), 0, NULL,
                          type, strlen(type));
    sl_mock_send_body(req, status, "application/json", body.data, body.len);
    sl_buf_dispose(&body);
}

static const char *
env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : fallback;
}

/* ---------------------------------------------------------------- signature check */

/* Copies the text after `key` up to `stop` (or the end) into the pool; NULL when absent. */
static const char *
field_after(h2o_req_t *req, const char *text, const char *key, char stop)
{
    const char *p = strstr(text, key);
    const char *end;

    if (p == NULL)
        return NULL;
    p += strlen(key);
    end = strchr(p, stop);
    return h2o_strdup(&req->pool, p, end != NULL ? (size_t)(end - p) : strlen(p)).base;
}

#define SCOPE_PART_BYTES 128

/* Copies the part of `*p` up to the next '/' into `out`; returns -1 when it is empty, too long
 * or not followed by '/'. */
static int
next_scope_part(const char **p, char out[SCOPE_PART_BYTES])
{
    size_t n = strcspn(*p, "/");

    if (n == 0 || n >= SCOPE_PART_BYTES || (*p)[n] != '/')
        return -1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n + 1;
    return 0;
}

/* Splits "KEY/YYYYMMDD/REGION/SERVICE/aws4_request"; returns -1 when it has another shape. */
static int
split_scope(const char *credential, char *key, char *region, char *service)
{
    char date[SCOPE_PART_BYTES];
    const char *p = credential;

    if (next_scope_part(&p, key) != 0 || next_scope_part(&p, date) != 0 || strlen(date) != 8 ||
        next_scope_part(&p, region) != 0 || next_scope_part(&p, service) != 0 ||
        strcmp(p, "aws4_request") != 0)
        return -1;
    return 0;
}

static const char *
header_value(h2o_req_t *req, const char *name)
{
    ssize_t i;

    if (strcmp(name, "host") == 0)
        return h2o_strdup(&req->pool, req->authority.base, req->authority.len).base;
    i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    return h2o_strdup(&req->pool, req->headers.entries[i].value.base,
                      req->headers.entries[i].value.len)
        .base;
}

static int
parse_amz_date(const char *s, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strlen(s) != SL_SIGV4_DATE_LEN || strptime(s, "%Y%m%dT%H%M%SZ", &tm) == NULL)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/*
 * Recomputes the request's signature. Returns 1 when it matches; otherwise sends the 403
 * Bedrock would send and returns 0.
 */
static int
verify_signature(h2o_req_t *req)
{
    const char *key_id = env_or("SLUICE_MOCK_AWS_ACCESS_KEY_ID", SL_MOCK_AWS_DEFAULT_ACCESS_KEY_ID);
    const char *secret =
        env_or("SLUICE_MOCK_AWS_SECRET_ACCESS_KEY", SL_MOCK_AWS_DEFAULT_SECRET_ACCESS_KEY);
    const char *authz = header_value(req, "authorization");
    const char *credential;
    const char *signed_list;
    char scope_key[SCOPE_PART_BYTES];
    char region[SCOPE_PART_BYTES];
    char service[SCOPE_PART_BYTES];
    struct sl_sigv4_header headers[32];
    size_t n = 0;
    struct sl_sigv4_input in;
    struct sl_sigv4_output out;
    struct sl_errbuf err;
    h2o_iovec_t path = path_only(req);
    int ok;

    if (authz == NULL || strncmp(authz, "AWS4-HMAC-SHA256 ", 17) != 0) {
        send_aws_error(req, 403, "MissingAuthenticationTokenException",
                       "Missing Authentication Token");
        return 0;
    }
    credential = field_after(req, authz, "Credential=", ',');
    signed_list = field_after(req, authz, "SignedHeaders=", ',');
    if (credential == NULL || signed_list == NULL ||
        split_scope(credential, scope_key, region, service) != 0) {
        send_aws_error(req, 403, "IncompleteSignatureException",
                       "Authorization header requires Credential and SignedHeaders.");
        return 0;
    }
    if (strcmp(scope_key, key_id) != 0 || strcmp(service, "bedrock") != 0) {
        send_aws_error(req, 403, "UnrecognizedClientException",
                       "The security token included in the request is invalid.");
        return 0;
    }

    memset(&in, 0, sizeof(in));
    for (const char *p = signed_list; *p != '\0' && n < sizeof(headers) / sizeof(headers[0]);) {
        size_t len = strcspn(p, ";");
        const char *name = h2o_strdup(&req->pool, p, len).base;

        headers[n].name = name;
        headers[n].value = header_value(req, name);
        if (headers[n].value == NULL) {
            send_aws_error(req, 403, "InvalidSignatureException",
                           "A signed header is missing from the request.");
            return 0;
        }
        n++;
        p += len + (p[len] == ';' ? 1 : 0);
    }
    if (parse_amz_date(header_value(req, "x-amz-date"), &in.now_unix_s) != 0) {
        send_aws_error(req, 403, "IncompleteSignatureException", "X-Amz-Date is missing.");
        return 0;
    }
    in.method = h2o_strdup(&req->pool, req->method.base, req->method.len).base;
    in.path = h2o_strdup(&req->pool, path.base, path.len).base;
    in.query = path.len < req->path.len ? h2o_strdup(&req->pool, req->path.base + path.len + 1,
                                                     req->path.len - path.len - 1)
                                              .base
                                        : NULL;
    in.headers = headers;
    in.n_headers = n;
    in.payload = req->entity.base;
    in.payload_len = req->entity.base != NULL ? req->entity.len : 0;
    in.access_key_id = key_id;
    in.secret_access_key = secret;
    in.region = region;
    in.service = service;

    sl_sigv4_output_init(&out);
    ok = sl_sigv4_sign(&in, &out, &err) == SL_OK && strcmp(out.authorization.data, authz) == 0;
    sl_sigv4_output_dispose(&out);
    if (!ok)
        send_aws_error(req, 403, "InvalidSignatureException",
                       "The request signature we calculated does not match the signature you "
                       "provided. Check your AWS Secret Access Key and signing method.");
    return ok;
}

/* ---------------------------------------------------------------- request and script */

/* The Converse request fields the mock uses. */
struct converse_request {
    cJSON *root;
    const char *tool_name; /* the first tool of toolConfig, or NULL */
    int64_t prompt_tokens; /* ceil(bytes of every text block / 4) */
};

static void
count_text(const cJSON *item, int64_t *bytes)
{
    const cJSON *child;

    if (cJSON_IsObject(item)) {
        const char *t = sl_json_get_string(item, "text");

        if (t != NULL)
            *bytes += (int64_t)strlen(t);
    }
    cJSON_ArrayForEach(child, item) count_text(child, bytes);
}

static int
parse_converse(h2o_req_t *req, struct converse_request *c)
{
    const cJSON *tools;
    int64_t bytes = 0;

    memset(c, 0, sizeof(*c));
    if (req->entity.base == NULL ||
        sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, &c->root, NULL) !=
            SL_OK ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c->root, "messages"))) {
        cJSON_Delete(c->root);
        c->root = NULL;
        return 0;
    }
    tools = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(c->root, "toolConfig"), "tools");
    c->tool_name = sl_json_get_string(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tools, 0), "toolSpec"), "name");
    count_text(cJSON_GetObjectItemCaseSensitive(c->root, "messages"), &bytes);
    count_text(cJSON_GetObjectItemCaseSensitive(c->root, "system"), &bytes);
    c->prompt_tokens = (bytes + 3) / 4;
    return 1;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Returns the model id of the path, percent-decoded, in the request's pool. */
static const char *
model_of(h2o_req_t *req)
{
    h2o_iovec_t path = path_only(req);
    const char *start = path.base + 7;
    const char *end = memchr(start, '/', path.len - 7);
    size_t n = end != NULL ? (size_t)(end - start) : 0;
    char *out = h2o_mem_alloc_pool(&req->pool, n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hex_digit(start[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(start[i + 2]) : -1;

        if (start[i] == '%' && hi >= 0 && lo >= 0) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = start[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void
take_script(struct sl_mock_shared *shared, const char *model, struct sl_mock_script *script)
{
    struct sl_errbuf err;
    cJSON *tree;

    pthread_mutex_lock(&shared->lock);
    tree = sl_mock_script_queue_take(shared->scripts, SL_MOCK_ROUTE_CHAT, model);
    pthread_mutex_unlock(&shared->lock);
    if (tree == NULL || sl_mock_script_parse(script, tree, &err) != SL_OK)
        sl_mock_script_init_default(script);
}

/* Maps the script's OpenAI-style finish_reason to a Converse stopReason. */
static const char *
stop_reason_of(const struct sl_mock_script *s)
{
    const char *f = s->finish_reason != NULL ? s->finish_reason : "stop";

    if (strcmp(f, "stop") == 0)
        return "end_turn";
    if (strcmp(f, "length") == 0)
        return "max_tokens";
    if (strcmp(f, "tool_calls") == 0)
        return "tool_use";
    return f;
}

static void
add_script_headers(h2o_req_t *req, const struct sl_mock_script *s)
{
    for (size_t i = 0; i < s->header_count; i++) {
        h2o_iovec_t name = h2o_strdup(&req->pool, s->headers[i].name, SIZE_MAX);
        h2o_iovec_t value = h2o_strdup(&req->pool, s->headers[i].value, SIZE_MAX);

        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              value.base, value.len);
    }
}

static void
append_usage(struct sl_buf *out, int64_t prompt, int64_t completion)
{
    sl_buf_printf(out,
                  "\"usage\":{\"inputTokens\":%lld,\"outputTokens\":%lld,\"totalTokens\":%lld}",
                  (long long)prompt, (long long)completion, (long long)(prompt + completion));
}

/* ---------------------------------------------------------------- answers */

static void
send_converse(h2o_req_t *req, const struct sl_mock_script *s, const struct converse_request *c,
              const struct sl_mock_content *content)
{
    struct sl_buf body;
    const char *stop = stop_reason_of(s);
    int tool = c->tool_name != NULL && strcmp(stop, "tool_use") == 0;

    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[");
    if (tool) {
        /* The script's text is the tool input; it must be a JSON object. */
        sl_buf_append_str(&body, "{\"toolUse\":{\"toolUseId\":\"tooluse_mock1\",\"name\":");
        sl_json_append_string(&body, c->tool_name, strlen(c->tool_name));
        sl_buf_append_str(&body, ",\"input\":");
        sl_buf_append(&body, content->text, content->text_len);
        sl_buf_append_str(&body, "}}");
    } else {
        sl_buf_append_str(&body, "{\"text\":");
        sl_json_append_string(&body, content->text, content->text_len);
        sl_buf_append_str(&body, "}");
    }
    sl_buf_printf(&body, "]}},\"stopReason\":\"%s\",", stop);
    append_usage(&body, c->prompt_tokens, content->completion_tokens);
    sl_buf_append_str(&body, ",\"metrics\":{\"latencyMs\":0}}");
    sl_mock_send_body(req, 200, "application/json", body.data, body.len);
    sl_buf_dispose(&body);
}

static void
append_event(struct sl_buf *out, const char *type, const char *payload, size_t len)
{
    struct sl_es_header h[3] = {
        sl_es_string_header(":event-type", type),
        sl_es_string_header(":content-type", "application/json"),
        sl_es_string_header(":message-type", "event"),
    };

    (void)sl_es_encode(out, h, 3, payload, len);
}

/* What ends a stream early, decided before content chunk `k` is written. */
static int
interrupt_before(const struct sl_mock_script *s, int64_t k, struct sl_buf *out)
{
    static const char throttled[] = "{\"message\":\"Rate exceeded (sluice-mock).\"}";
    struct sl_es_header h[3] = {
        sl_es_string_header(":exception-type", "throttlingException"),
        sl_es_string_header(":content-type", "application/json"),
        sl_es_string_header(":message-type", "exception"),
    };

    if (k == s->error_after) {
        (void)sl_es_encode(out, h, 3, throttled, sizeof(throttled) - 1);
        return 1;
    }
    return 0;
}

static void
send_stream(h2o_req_t *req, const struct sl_mock_script *s, const struct converse_request *c,
            const struct sl_mock_content *content)
{
    struct sl_buf out;
    struct sl_buf payload;
    const char *stop = stop_reason_of(s);
    int tool = c->tool_name != NULL && strcmp(stop, "tool_use") == 0;
    int64_t k;

    sl_buf_init(&out, 0);
    sl_buf_init(&payload, 0);
    append_event(&out, "messageStart", "{\"role\":\"assistant\"}", 20);
    if (tool) {
        sl_buf_append_str(&payload, "{\"start\":{\"toolUse\":{\"toolUseId\":\"tooluse_mock1\","
                                    "\"name\":");
        sl_json_append_string(&payload, c->tool_name, strlen(c->tool_name));
        sl_buf_append_str(&payload, "}},\"contentBlockIndex\":0}");
        append_event(&out, "contentBlockStart", payload.data, payload.len);
    }

    for (k = 0; k < content->pieces; k++) {
        const char *piece;
        size_t len;
        size_t frame_start = out.len;

        if (interrupt_before(s, k, &out))
            goto send;
        sl_mock_content_piece(content, k, &piece, &len);
        sl_buf_reset(&payload);
        if (tool)
            sl_buf_append_str(&payload, "{\"delta\":{\"toolUse\":{\"input\":");
        else
            sl_buf_append_str(&payload, "{\"delta\":{\"text\":");
        sl_json_append_string(&payload, piece, len);
        sl_buf_append_str(&payload, tool ? "}}" : "}");
        sl_buf_append_str(&payload, ",\"contentBlockIndex\":0}");
        append_event(&out, "contentBlockDelta", payload.data, payload.len);
        if (k == s->corrupt_after) {
            out.data[out.len - 1] = (char)(out.data[out.len - 1] ^ 0x5a); /* message CRC */
            goto send;
        }
        if (k == s->cut_after) {
            out.len = frame_start + (out.len - frame_start) / 2; /* ends inside a frame */
            goto send;
        }
    }
    if (interrupt_before(s, k, &out))
        goto send;

    append_event(&out, "contentBlockStop", "{\"contentBlockIndex\":0}", 23);
    sl_buf_reset(&payload);
    sl_buf_printf(&payload, "{\"stopReason\":\"%s\"}", stop);
    append_event(&out, "messageStop", payload.data, payload.len);
    sl_buf_reset(&payload);
    sl_buf_append_str(&payload, "{");
    append_usage(&payload, c->prompt_tokens, content->completion_tokens);
    sl_buf_append_str(&payload, ",\"metrics\":{\"latencyMs\":0}}");
    append_event(&out, "metadata", payload.data, payload.len);

send:
    sl_mock_send_body(req, 200, "application/vnd.amazon.eventstream", out.data, out.len);
    sl_buf_dispose(&payload);
    sl_buf_dispose(&out);
}

/* InvokeModel for Titan text embeddings: {"inputText"} in, {"embedding","inputTextTokenCount"}
 * out. The vector has `dimensions` values (default 8, at most 1024) derived from the input's
 * bytes, so equal inputs get equal vectors. */
static void
send_titan_embedding(h2o_req_t *req, const struct sl_mock_script *script)
{
    cJSON *root = NULL;
    const char *text = NULL;
    const cJSON *dims;
    int64_t n = 8;
    struct sl_buf body;
    uint32_t h = 2166136261u;

    if (req->entity.base != NULL &&
        sl_json_parse(req->entity.base, req->entity.len, SL_JSON_MAX_DEPTH, &root, NULL) == SL_OK)
        text = sl_json_get_string(root, "inputText");
    dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
    if (cJSON_IsNumber(dims))
        n = (int64_t)dims->valuedouble;
    if (text == NULL || n < 1 || n > 1024) {
        send_aws_error(req, 400, "ValidationException",
                       "inputText is required and dimensions must be from 1 to 1024.");
        cJSON_Delete(root);
        return;
    }
    if (script->status != 200) {
        send_aws_error(req, script->status, error_type_for(script->status),
                       "Scripted error from sluice-mock.");
        cJSON_Delete(root);
        return;
    }

    for (const char *c = text; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    sl_buf_init(&body, 0);
    sl_buf_append_str(&body, "{\"embedding\":[");
    for (int64_t i = 0; i < n; i++) {
        h = h * 1664525u + 1013904223u;
        sl_buf_printf(&body, "%s%.6f", i > 0 ? "," : "", (double)(h >> 8) / 16777216.0 - 0.5);
    }
    sl_buf_printf(&body, "],\"inputTextTokenCount\":%zu}", (strlen(text) + 3) / 4);
    sl_mock_send_body(req, 200, "application/json", body.data, body.len);
    sl_buf_dispose(&body);
    cJSON_Delete(root);
}

void
sl_mock_bedrock_handle(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq)
{
    struct converse_request c;
    struct sl_mock_script script;
    struct sl_mock_content content;
    int stream = ends_with(path_only(req), "/converse-stream");

    pthread_mutex_lock(&shared->lock);
    sl_mock_reqlog_mark_completed(shared->log, seq);
    pthread_mutex_unlock(&shared->lock);

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        send_aws_error(req, 405, "ValidationException", "Only POST is allowed on this path.");
        return;
    }
    if (!verify_signature(req))
        return;
    if (ends_with(path_only(req), "/invoke")) {
        take_script(shared, model_of(req), &script);
        add_script_headers(req, &script);
        send_titan_embedding(req, &script);
        sl_mock_script_dispose(&script);
        return;
    }
    if (!parse_converse(req, &c)) {
        send_aws_error(req, 400, "ValidationException",
                       "The request body is not a Converse request: messages is required.");
        return;
    }

    take_script(shared, model_of(req), &script);
    add_script_headers(req, &script);
    if (script.status != 200) {
        if (script.has_body) {
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-amzn-errortype"), 0,
                                  NULL, error_type_for(script.status),
                                  strlen(error_type_for(script.status)));
            sl_mock_send_body(req, script.status, "application/json", script.body, script.body_len);
        } else {
            send_aws_error(req, script.status, error_type_for(script.status),
                           "Scripted error from sluice-mock.");
        }
    } else if (script.has_body) {
        sl_mock_send_body(req, 200,
                          script.content_type != NULL ? script.content_type : "application/json",
                          script.body, script.body_len);
    } else {
        sl_mock_content_init(&content, &script);
        if (stream)
            send_stream(req, &script, &c, &content);
        else
            send_converse(req, &script, &c, &content);
        sl_mock_content_dispose(&content);
    }
    sl_mock_script_dispose(&script);
    cJSON_Delete(c.root);
}
