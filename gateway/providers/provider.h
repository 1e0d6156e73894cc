/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider -- the vtable behind which every provider family sits.
 *
 * A family builds the upstream request for a client's chat call, translates a complete
 * response and each stream event into OpenAI's shapes, and reads the provider's error bodies.
 * Nothing outside gateway/providers/ tests which family it talks to. Families are stateless
 * and shared by all workers; per-stream state lives in struct sl_stream_state.
 */
#ifndef SL_PROVIDER_H
#define SL_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/sse.h"
#include "common/status.h"
#include "gateway/http/errors.h"

/* One chat call as a provider sees it. Everything is borrowed for the call's lifetime. */
struct sl_chat_ctx {
    const struct sl_deployment *deployment;
    const char *requested_model; /* the model name the client sent: echoed in responses */
    const cJSON *body;           /* the client's parsed body */
    const char *raw_body;        /* the client's bytes, `raw_len` long */
    size_t raw_len;
    int stream;
};

/* What a family builds for curl. The caller owns and frees every field. */
struct sl_upstream_request {
    struct sl_buf url;
    struct curl_slist *headers;
    struct sl_buf body;
};

struct sl_usage {
    int present;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t total_tokens;
};

/* Maximum number of choices (`n`) whose finish_reason a stream tracks. */
#define SL_STREAM_MAX_CHOICES 128

/* Per-stream bookkeeping shared by every family's event translator. */
struct sl_stream_state {
    int saw_done;      /* the provider ended the stream in order */
    int finish_count;  /* distinct choice indexes that received a finish_reason */
    uint8_t finished[SL_STREAM_MAX_CHOICES];
    struct sl_usage usage;
};

enum sl_stream_verdict {
    SL_STREAM_CONTINUE, /* frames (maybe none) were appended; more events follow */
    SL_STREAM_END,      /* the provider's end marker; the relay writes the terminator */
    SL_STREAM_FAILED,   /* an in-band error: `err` is filled, nothing was appended */
};

struct sl_provider {
    const char *name;             /* the model prefix, e.g. "openai" */
    const char *default_api_base; /* NULL when api_base is required */
    const char *api_key_env;      /* env var read when a deployment has no api_key, or NULL */

    /* Builds the upstream request; SL_ERR_INVALID with `err` for a request it cannot express. */
    enum sl_status (*build_chat)(const struct sl_chat_ctx *ctx, struct sl_upstream_request *out,
                                 struct sl_errbuf *err);

    /* Translates a complete 2xx response body into an OpenAI chat.completion in `out`, with
     * the usage it reports. SL_ERR_UPSTREAM_PROTO when the body is not what the family sends. */
    enum sl_status (*translate_chat)(const struct sl_chat_ctx *ctx, const char *body, size_t len,
                                     struct sl_buf *out, struct sl_usage *usage,
                                     struct sl_errbuf *err);

    /* Translates one upstream stream event into OpenAI SSE frames appended to `out`. */
    enum sl_stream_verdict (*translate_chat_event)(const struct sl_chat_ctx *ctx,
                                                   struct sl_stream_state *st,
                                                   const struct sl_sse_event *ev,
                                                   struct sl_buf *out,
                                                   struct sl_upstream_error *err);

    /* Reads an error response into `out` (status, message, type, param). */
    void (*parse_error)(long status, const char *body, size_t len, struct sl_upstream_error *out);
};

/* Returns the family for a model prefix ("openai", "hosted_vllm", ...), or NULL. */
const struct sl_provider *sl_provider_find(const char *prefix);

/* Writes the comma-separated list of known prefixes into `out`, for error messages. */
void sl_provider_list(struct sl_buf *out);

#endif /* SL_PROVIDER_H */
