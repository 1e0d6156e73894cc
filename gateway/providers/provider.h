/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider -- the vtable behind which every provider family sits.
 *
 * A family builds the upstream request for a client's call, translates a complete response
 * and each stream event into OpenAI's shapes, and reads the provider's error bodies. Nothing
 * outside gateway/providers/ tests which family it talks to. Families are stateless and shared
 * by all workers; per-stream state lives in struct sl_stream_state.
 *
 * Formats: requests reach a family in OpenAI's shape (the inbound layer converts other client
 * formats first) and the family returns OpenAI's shape, which the inbound layer converts
 * back. When the client already speaks the family's own format (`ctx->native`), the family
 * passes bodies and events through with only the model rewritten.
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

/* The kind of call a client makes. */
enum sl_call_kind {
    SL_KIND_CHAT,       /* /v1/chat/completions, or /v1/messages converted to it */
    SL_KIND_COMPLETION, /* /v1/completions (legacy text completions) */
    SL_KIND_EMBEDDING,  /* /v1/embeddings */
    /* /v1/messages/count_tokens: the handler starts it only on a family whose native_format
     * is the client's, so it is always native and never streams. The family sends the body to
     * its token counting endpoint and passes the provider's response through unchanged. */
    SL_KIND_COUNT_TOKENS,
};

/* The wire format a client speaks. */
enum sl_format {
    SL_FORMAT_OPENAI,
    SL_FORMAT_ANTHROPIC,
    /* No client speaks it: the native format of a family (e.g. Bedrock's Converse) that
     * always translates, because ctx->native is never set when this is its native_format. */
    SL_FORMAT_NONE,
};

/* The framing of a family's streamed responses. */
enum sl_stream_framing {
    SL_FRAMING_SSE,             /* text/event-stream */
    SL_FRAMING_AWS_EVENTSTREAM, /* application/vnd.amazon.eventstream (binary, CRC-checked) */
};

/* One call, as given to a family. Everything is borrowed for the call's lifetime. */
struct sl_call_ctx {
    enum sl_call_kind kind;
    enum sl_format inbound;      /* the client's format */
    int native;                  /* 1: the family's own format is the client's: pass through */
    const struct sl_deployment *deployment;
    const char *requested_model; /* the model name the client sent: echoed in responses */
    const cJSON *body;           /* the request: OpenAI's shape, or the client's own if native */
    const char *raw_body;        /* `body` as the client sent it, `raw_len` long; NULL when
                                    `body` was converted from another format */
    size_t raw_len;
    int stream;
    int64_t now_unix_s;          /* wall clock at the call's start, for request signing */
    /* Client headers that the inbound format forwards (a fixed allow-list per format, e.g.
     * anthropic-version and anthropic-beta for Anthropic's; none for OpenAI's), with lower-case
     * names. A family may send them upstream and must ignore the names it does not know. The
     * memory belongs to the client's request: read it in build_request only. */
    const struct sl_header *client_headers;
    size_t n_client_headers;
};

/* The upstream request a family builds for curl. The caller owns and frees every field. */
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
    int64_t cached_tokens;         /* prompt tokens read from the provider's cache */
    int64_t cache_creation_tokens; /* prompt tokens written to the provider's cache */
    int64_t reasoning_tokens;      /* completion tokens spent on reasoning (a part of them) */
    /* 1: the provider reported no usage, so the counts are estimates from text lengths
     * (sl_usage_estimate) */
    int estimated;
};

/* Maximum number of choices (`n`) whose finish_reason a stream tracks. */
#define SL_STREAM_MAX_CHOICES 128

/* Per-stream bookkeeping shared by every family's event translator. */
struct sl_stream_state {
    int saw_done;     /* the provider ended the stream in order */
    int finish_count; /* distinct choice indexes that received a finish_reason */
    uint8_t finished[SL_STREAM_MAX_CHOICES];
    char finish_reason[24]; /* the first finish reason sent, in OpenAI's terms; "" for none */
    struct sl_usage usage;
    int64_t generated_chars; /* bytes of generated text seen, for sl_usage_estimate() */
    /* A family's own translation state, created on first use; the relay calls family_free. */
    void *family;
    void (*family_free)(void *family);
};

/* Records `reason` as the stream's finish reason unless one was recorded; NULL is ignored. */
void sl_stream_note_finish(struct sl_stream_state *st, const char *reason);

enum sl_stream_verdict {
    SL_STREAM_CONTINUE, /* frames (maybe none) were appended; more events follow */
    SL_STREAM_END,      /* the provider's end marker; the inbound format writes its terminator */
    SL_STREAM_FAILED,   /* an in-band error: `err` is filled, nothing was appended */
};

/* One event of a provider stream: an SSE event, or an AWS event-stream message whose
 * `event` is its :event-type (or :exception-type) header and `data` its payload. */
struct sl_stream_event {
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
};

struct sl_provider {
    const char *name;             /* the model prefix, e.g. "openai" */
    const char *default_api_base; /* NULL when api_base is required */
    const char *api_key_env;      /* env var read when a deployment has no api_key, or NULL */
    /* Env var that supplies api_base when a deployment has none, or NULL. A deployment without
     * api_base loads only when default_api_base or this variable is set. */
    const char *api_base_env;
    /* 1: without api_base the family builds its URL from other settings (Bedrock: the AWS
     * region), so a deployment loads with neither api_base nor default_api_base. */
    int derives_api_base;
    enum sl_format native_format; /* the client format this family passes through */
    enum sl_stream_framing framing;

    /* Builds the upstream request for ctx->kind; SL_ERR_INVALID with `err` for a request the
     * family cannot express (e.g. embeddings on a family without them). */
    enum sl_status (*build_request)(const struct sl_call_ctx *ctx,
                                    struct sl_upstream_request *out, struct sl_errbuf *err);

    /* Translates a complete 2xx response body into OpenAI's shape for ctx->kind (or passes it
     * through when native) in `out`, with the usage it reports. SL_ERR_UPSTREAM_PROTO when the
     * body is not what the family sends; SL_ERR_REFUSED, with the provider's words in `err`,
     * when the provider withheld its output under its content policy (the client gets a 400
     * content_policy_violation). */
    enum sl_status (*translate_response)(const struct sl_call_ctx *ctx, const char *body,
                                         size_t len, struct sl_buf *out, struct sl_usage *usage,
                                         struct sl_errbuf *err);

    /* Translates one upstream stream event into OpenAI SSE frames (or native frames when
     * ctx->native) appended to `out`, tracking finish reasons and usage in `st`. */
    enum sl_stream_verdict (*translate_event)(const struct sl_call_ctx *ctx,
                                              struct sl_stream_state *st,
                                              const struct sl_stream_event *ev,
                                              struct sl_buf *out, struct sl_upstream_error *err);

    /* Reads an error response into `out` (status, message, type, param). */
    void (*parse_error)(long status, const char *body, size_t len, struct sl_upstream_error *out);
};

/* Returns a token count read from a provider's JSON: 0 for a missing, negative or non-number
 * value, and at most 10^15, so later sums and int64_t conversions stay defined. */
int64_t sl_usage_count(const cJSON *v);

/* Characters per token assumed by estimates: about right for English text with OpenAI's
 * tokenizers, an estimate for anything else. */
#define SL_USAGE_CHARS_PER_TOKEN 4

/* Returns the bytes of text a request sends: the string and text-part contents of
 * `messages`, and `system`, `prompt` and `input` (a number in a token array counts as
 * SL_USAGE_CHARS_PER_TOKEN bytes). Other members and images count nothing. */
int64_t sl_usage_request_chars(const cJSON *body);

/* Returns the bytes of generated text in a response or stream chunk in OpenAI's shape:
 * choices[].message.content, choices[].delta.content and choices[].text. */
int64_t sl_usage_response_chars(const cJSON *root);

/* Fills `usage` with estimates when the provider reported none for a successful call:
 * ceil(chars / SL_USAGE_CHARS_PER_TOKEN) prompt and completion tokens, with `present` and
 * `estimated` set. Does nothing when usage->present is already set. */
void sl_usage_estimate(struct sl_usage *usage, int64_t prompt_chars, int64_t completion_chars);

/* Returns the family for a model prefix ("openai", "hosted_vllm", ...), or NULL. */
const struct sl_provider *sl_provider_find(const char *prefix);

/* Writes the comma-separated list of known prefixes into `out`, for error messages. */
void sl_provider_list(struct sl_buf *out);

#endif /* SL_PROVIDER_H */
