/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai -- the OpenAI chat-completions wire format as the mock speaks it.
 *
 * Parses the request fields the mock uses and splits the completion text into stream chunks.
 * Writes non-stream bodies, SSE chunk frames, the usage object, the model list and error
 * envelopes, with the field order of real OpenAI responses.
 */
#ifndef SL_MOCK_OPENAI_H
#define SL_MOCK_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "bench/mock/script.h"
#include "common/buf.h"
#include "common/status.h"

#define SL_MOCK_DEFAULT_TEXT "Hello from sluice-mock."
/* Largest non-stream content built from chunk_bytes filler. */
#define SL_MOCK_MAX_FILLER_BODY (64u * 1024u * 1024u)
/* Largest `n` (choices per request) the mock accepts. */
#define SL_MOCK_MAX_CHOICES 128

/* The fields of a chat request the mock uses. */
struct sl_mock_chat {
    char *model; /* owned */
    int n;
    int stream;
    int include_usage;
    int64_t prompt_tokens; /* ceil(bytes of all message contents / 4) */
    int text_completion;   /* a /v1/completions request: see completions.h */
};

/*
 * Parses a chat-completions request body. On SL_ERR_INVALID, `err` contains the message for
 * the client and `*param` names the invalid request field (or is NULL).
 */
enum sl_status sl_mock_chat_parse(const char *body, size_t len, struct sl_mock_chat *chat,
                                  const char **param, struct sl_errbuf *err);
void sl_mock_chat_dispose(struct sl_mock_chat *chat);

/* The completion content split into stream chunks. */
struct sl_mock_content {
    const char *text; /* borrowed from the script, or the default text */
    size_t text_len;
    int64_t pieces;      /* number of content chunks */
    size_t *cuts;        /* pieces + 1 offsets into text; NULL with filler */
    int64_t chunk_bytes; /* > 0: filler pieces of this size */
    char *filler;        /* chunk_bytes + 26 bytes of a-z cycling */
    int64_t completion_tokens;
};

void sl_mock_content_init(struct sl_mock_content *c, const struct sl_mock_script *script);
void sl_mock_content_dispose(struct sl_mock_content *c);

/* Points `*p`/`*len` at the bytes of content chunk `k` (0-based). */
void sl_mock_content_piece(const struct sl_mock_content *c, int64_t k, const char **p, size_t *len);

/* Returns the usage object as JSON (caller frees): defaults, then the script's overrides. */
char *sl_mock_usage_json(const cJSON *overrides, int64_t prompt_tokens, int64_t completion_tokens);

/* Writes the whole non-stream chat.completion body. */
enum sl_status sl_mock_completion_json(struct sl_buf *out, uint64_t seq, int64_t created,
                                       const struct sl_mock_chat *chat,
                                       const struct sl_mock_script *script,
                                       const struct sl_mock_content *content,
                                       const char *usage_json);

/* The shared beginning and end of every chunk frame of one stream. */
struct sl_mock_chunker {
    struct sl_buf prefix; /* `data: {...,"choices":[` */
    const char *suffix;   /* `]}` plus `,"usage":null` when usage is requested, then LF LF */
    int text_completion;  /* frames in the text completions shape: see completions.h */
};

void sl_mock_chunker_init(struct sl_mock_chunker *ck, uint64_t seq, int64_t created,
                          const struct sl_mock_chat *chat);
void sl_mock_chunker_dispose(struct sl_mock_chunker *ck);

enum sl_status sl_mock_chunk_role(const struct sl_mock_chunker *ck, struct sl_buf *out, int index);
enum sl_status sl_mock_chunk_content(const struct sl_mock_chunker *ck, struct sl_buf *out,
                                     int index, const char *piece, size_t len);
enum sl_status sl_mock_chunk_finish(const struct sl_mock_chunker *ck, struct sl_buf *out, int index,
                                    const char *reason);
/* The final usage chunk: `"choices":[]` and the usage object. */
enum sl_status sl_mock_chunk_usage(const struct sl_mock_chunker *ck, struct sl_buf *out,
                                   const char *usage_json);
/* The in-band error event sent by error_after_chunks. */
enum sl_status sl_mock_chunk_error(struct sl_buf *out);
enum sl_status sl_mock_chunk_done(struct sl_buf *out);

/* Writes {"error":{"message":...,"type":...,"param":...,"code":null}}; `param` may be NULL. */
enum sl_status sl_mock_error_json(struct sl_buf *out, const char *message, const char *type,
                                  const char *param);

/* Writes the fixed model list of GET /v1/models. */
enum sl_status sl_mock_models_json(struct sl_buf *out);

#endif /* SL_MOCK_OPENAI_H */
