/* SPDX-License-Identifier: Apache-2.0 */
/* errors -- OpenAI error envelope and provider error bodies; see errors.h. */
#include "gateway/http/errors.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/json.h"

/* At most this much of a non-JSON error body is quoted back to the client. */
#define SL_ERRORS_SNIPPET_BYTES 200

void
sl_errors_envelope(struct sl_buf *out, int status, const char *message, const char *type,
                   const char *param)
{
    sl_buf_append_str(out, "{\"error\":{\"message\":");
    sl_json_append_string(out, message, strlen(message));
    sl_buf_append_str(out, ",\"type\":");
    if (type != NULL)
        sl_json_append_string(out, type, strlen(type));
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"param\":");
    if (param != NULL)
        sl_json_append_string(out, param, strlen(param));
    else
        sl_buf_append_str(out, "null");
    sl_buf_printf(out, ",\"code\":\"%d\"}}", status);
}

const char *
sl_errors_default_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_denied_error";
    case 404:
        return "not_found_error";
    case 405:
        return "method_not_allowed";
    case 408:
        return "timeout";
    case 413:
        return "request_too_large";
    case 422:
        return "unprocessable_entity_error";
    case 429:
        return "rate_limit_error";
    case 502:
        return "api_connection_error";
    case 503:
        return "service_unavailable_error";
    default:
        return status >= 500 ? "internal_server_error" : "invalid_request_error";
    }
}

static void
copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

/* Non-JSON bodies (HTML from a proxy, plain text) are summarised, printable bytes only. */
static void
summarise(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    char snippet[SL_ERRORS_SNIPPET_BYTES + 1];
    size_t n = 0;

    for (size_t i = 0; i < len && n < SL_ERRORS_SNIPPET_BYTES; i++) {
        unsigned char c = (unsigned char)body[i];
        snippet[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    snippet[n] = '\0';
    if (n == 0)
        snprintf(out->message, sizeof(out->message), "the provider returned HTTP %ld", status);
    else
        snprintf(out->message, sizeof(out->message), "the provider returned HTTP %ld: %s", status,
                 snippet);
}

void
sl_errors_parse_openai(long status, const char *body, size_t len, struct sl_upstream_error *out)
{
    cJSON *root = NULL;
    const cJSON *error;
    const char *s;

    memset(out, 0, sizeof(*out));
    out->status = (int)status;
    if (len == 0 || sl_json_parse(body, len, SL_JSON_MAX_DEPTH, &root, NULL) != SL_OK) {
        summarise(status, body, len, out);
        return;
    }

    error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(error)) {
        copy_str(out->message, sizeof(out->message), error->valuestring);
    } else if (cJSON_IsObject(error)) {
        s = sl_json_get_string(error, "message");
        if (s != NULL)
            copy_str(out->message, sizeof(out->message), s);
        s = sl_json_get_string(error, "type");
        if (s != NULL)
            copy_str(out->type, sizeof(out->type), s);
        s = sl_json_get_string(error, "param");
        if (s != NULL)
            copy_str(out->param, sizeof(out->param), s);
    } else {
        s = sl_json_get_string(root, "message");
        if (s != NULL)
            copy_str(out->message, sizeof(out->message), s);
    }
    if (out->message[0] == '\0')
        summarise(status, body, len, out);
    cJSON_Delete(root);
}
