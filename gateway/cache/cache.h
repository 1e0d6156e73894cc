/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache -- the pure part of the exact-match response cache: per-request cache controls, cache
 * keys, the assembly of a streamed response into one chat.completion, its replay as an SSE
 * stream, and the JSON format of a stored entry. Nothing here does I/O; the Redis calls are in
 * gateway/cache/store.c.
 *
 * A key is the hex SHA-256 of a canonical JSON text of the request (object members sorted,
 * numbers in one form), the model group and the tenant. So equal requests share an entry
 * whatever their member order, and a changed parameter never hits another request's response.
 *
 * Every function is thread-safe: it touches only its arguments.
 */
#ifndef SL_CACHE_H
#define SL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/status.h"

/* Maximum length of a namespace, from the config or a request's cache.namespace, in bytes. */
#define SL_CACHE_NAMESPACE_MAX SL_CONFIG_CACHE_NAMESPACE_MAX

/* Size of a key buffer: "<namespace>:" then 64 hex digits and a NUL. */
#define SL_CACHE_KEY_MAX (SL_CACHE_NAMESPACE_MAX + 1 + 64 + 1)

/* A stored entry longer than this is rejected by sl_cache_entry_decode() before parsing. It is
 * also the maximum of litellm_settings.cache_params.max_entry_bytes. */
#define SL_CACHE_ENTRY_MAX_BYTES (64u * 1024u * 1024u)

/* Choices and tool calls per choice that the assembler accepts; higher indexes fail a feed. */
#define SL_CACHE_MAX_CHOICES    128
#define SL_CACHE_MAX_TOOL_CALLS 128

/* The controls a request sets in its body: the "cache" object and "caching": false. */
struct sl_cache_controls {
    int no_cache;     /* 1: skip the lookup (the response is still stored) */
    int no_store;     /* 1: do not store the response */
    long ttl_s;       /* seconds an entry written now lives; -1 when unset */
    long s_maxage_s;  /* maximum age in seconds of an entry to serve; -1 when unset */
    char *namespace;  /* owned; NULL when unset, "" for an explicit empty namespace */
    int use_cache;    /* 1 when "use-cache": true, the opt-in of mode default_off */
    int caching_off;  /* 1 when the body has "caching": false */
};

/*
 * Reads the controls from the request `body` into `*out`: cache.ttl, cache["s-maxage"] (or
 * its spelling "s-max-age"), cache["no-cache"], cache["no-store"], cache.namespace and
 * cache["use-cache"], and body.caching. Unknown members of "cache" are ignored, as LiteLLM
 * does. A wrong type or value returns SL_ERR_INVALID with a message in `err` and the body
 * member's path in `*param` (e.g. "cache.ttl"), for the error's "param" field. `*out` is always
 * initialised and must be disposed, even on failure.
 */
enum sl_status sl_cache_controls_parse(const cJSON *body, struct sl_cache_controls *out,
                                       const char **param, struct sl_errbuf *err);

/* Frees what `c` owns and resets it to the unset values. */
void sl_cache_controls_dispose(struct sl_cache_controls *c);

/*
 * Returns the name of the first member of the body's "cache" object that is not among the `n`
 * names of `allowed` (a key's allowed_cache_controls), or NULL when every member is allowed or
 * `n` is 0. Every member counts, known or not and whatever its value, as in LiteLLM, so the
 * check reads `body` and `c` is not used. The name is borrowed from `body`.
 */
const char *sl_cache_controls_forbidden(const struct sl_cache_controls *c, const cJSON *body,
                                        const char *const *allowed, size_t n);

/*
 * Writes the cache key of the request `body` into `out`: "<namespace>:<hex>", or "<hex>" when
 * `namespace` is NULL or "". The hash covers `kind` ("chat", "completion" or "embedding"),
 * `model_group` (in place of the body's "model") and `tenant` (NULL when entries are shared
 * across tenants). It also covers every body member except those that do not change the
 * response: stream, user, metadata, cache controls and LiteLLM routing fields (listed in
 * cache.c). A namespace
 * longer than SL_CACHE_NAMESPACE_MAX is cut to that length.
 */
void sl_cache_key(const cJSON *body, const char *kind, const char *model_group,
                  const char *tenant, const char *namespace, char out[SL_CACHE_KEY_MAX]);

/*
 * Writes the key of one input of an embeddings request: the key of `body` with "input"
 * replaced by `input_item`, under its own kind, so it never equals a whole-request key.
 * The other members, such as dimensions and encoding_format, count as in sl_cache_key().
 */
void sl_cache_embedding_input_key(const cJSON *body, const cJSON *input_item,
                                  const char *model_group, const char *tenant,
                                  const char *namespace, char out[SL_CACHE_KEY_MAX]);

struct sl_cache__choice; /* private to cache.c */

/*
 * Collects the chat.completion.chunk objects of one stream into one chat.completion. Lives in
 * caller storage; used from one thread.
 */
struct sl_cache_assembler {
    size_t _max_bytes;
    size_t _bytes;       /* text and structure accumulated so far, estimated in bytes */
    enum sl_status _status; /* the first failure of a feed, or SL_OK */
    int _uncacheable;    /* a chunk had a member the assembler cannot rebuild */
    char *_id;
    char *_model;
    char *_system_fingerprint;
    double _created;
    int _has_created;
    cJSON *_usage;
    struct sl_cache__choice *_choices; /* indexed by choice index */
    size_t _n_choices;
};

/* Initialises an assembler that fails once it contains more than `max_bytes` of text. */
void sl_cache_assembler_init(struct sl_cache_assembler *a, size_t max_bytes);

/*
 * Adds one parsed chunk. Returns SL_ERR_TOO_LARGE once the accumulated text passes the cap,
 * or SL_ERR_INVALID for a chunk that is not a chat.completion.chunk (not an object, choices
 * not an array, an index out of range, a text delta that is not a string). After a failure
 * every later feed returns it again and sl_cache_assembler_finish() returns NULL, so the
 * caller stops collecting and skips storing the response.
 */
enum sl_status sl_cache_assembler_feed(struct sl_cache_assembler *a, const cJSON *chunk);

/*
 * Returns the chat.completion built from the chunks (the caller frees it with cJSON_Delete),
 * or NULL when a feed failed, no chunk had an id and a model, no choice was seen, a choice has
 * no finish_reason (a cut stream), or a chunk carried something the assembler does not
 * rebuild, such as logprobs or audio. Call it after the stream's [DONE], so that the usage
 * chunk that follows the finish_reason chunks is included. The assembler stays valid.
 */
cJSON *sl_cache_assembler_finish(struct sl_cache_assembler *a);

void sl_cache_assembler_dispose(struct sl_cache_assembler *a);

/*
 * Appends the stored chat.completion `completion` to `out` as an OpenAI SSE stream: per choice
 * a role chunk, one chunk per text field present (content, reasoning_content, refusal), one
 * chunk per tool call and a finish_reason chunk, then a usage chunk with empty choices when
 * `include_usage` is set and the completion has usage, then "data: [DONE]". Every chunk
 * carries the completion's id, created, model and system_fingerprint. `out` must have no cap
 * (max_len 0): with a smaller cap a failed append leaves the stream cut.
 */
void sl_cache_stream_frames(const cJSON *completion, int include_usage, struct sl_buf *out);

/*
 * Gives a response read from the cache a new random "id", made of `prefix` (e.g. "chatcmpl-")
 * and 32 hex digits, and sets "created" to the current time. Only members the response has
 * are replaced, so an embeddings response, which has neither, is left as it is. With `prefix`
 * NULL the old id's text up to its first '-' is kept.
 */
void sl_cache_refresh(cJSON *response, const char *prefix);

/* Returns the stored form of `response`, {"timestamp": now, "response": ...}, as LiteLLM
 * writes it, in a NUL-terminated string the caller frees. `now` is in epoch seconds. */
char *sl_cache_entry_encode(const cJSON *response, int64_t now);

/*
 * Parses a stored entry (`len` bytes, not necessarily NUL-terminated) and returns its
 * "response" object, which the caller frees, with the entry's time in `*timestamp`. Returns
 * NULL for anything else: over SL_CACHE_ENTRY_MAX_BYTES, nested too deeply, invalid JSON or
 * UTF-8, a member named twice, a timestamp that is not a whole non-negative number of seconds,
 * or a response that is not an object. `*timestamp` is written only on success.
 */
cJSON *sl_cache_entry_decode(const char *text, size_t len, int64_t *timestamp);

#endif /* SL_CACHE_H */
