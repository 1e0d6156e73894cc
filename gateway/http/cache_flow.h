/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache_flow -- the response cache's part in a model request: the lookup between routing and
 * the relay, and the store after a complete response. Loop thread only.
 */
#ifndef SL_CACHE_FLOW_H
#define SL_CACHE_FLOW_H

#include "common/buf.h"

struct sl_auth_record;
struct sl_cache_state;
struct sl_request;

enum {
    SL_CACHE_PASS = 0, /* no lookup: go on to the relay */
    SL_CACHE_DONE = 1, /* the cache took the request: a lookup runs, or an error was sent */
};

/*
 * Applies the cache to a routed request of model group `group` whose key record is `rec`
 * (NULL for the master key): checks the body's cache controls against the key, computes the
 * cache key and starts the lookup. On a miss the lookup starts the relay itself.
 */
int sl_cache_begin(struct sl_request *r, const struct sl_auth_record *rec, const char *group);

/* Stores a whole successful response (`body`, in OpenAI's format) when the request is cached,
 * and for embeddings with cached inputs replaces `body` with the merged response. */
void sl_cache_whole(struct sl_request *r, struct sl_buf *body);

/* Feeds stream bytes sent to the client (OpenAI's SSE) to the assembler of the response. */
void sl_cache_frames(struct sl_request *r, const char *data, size_t len);

/* Stores the assembled response of a stream that ended with every choice finished. */
void sl_cache_stream_done(struct sl_request *r);

void sl_cache_state_free(struct sl_cache_state *c);

#endif /* SL_CACHE_FLOW_H */
