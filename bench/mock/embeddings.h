/* SPDX-License-Identifier: Apache-2.0 */
/*
 * embeddings -- OpenAI's embeddings route (POST /v1/embeddings) as the mock speaks it.
 *
 * Vectors are deterministic. Each value derives from a 64-bit FNV-1a hash of one input and the
 * value's position, and each vector is scaled to unit length. So equal inputs always get equal
 * vectors, and different inputs get different ones unless their hashes collide.
 */
#ifndef SL_MOCK_EMBEDDINGS_H
#define SL_MOCK_EMBEDDINGS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/status.h"

/* Values per vector when the request has no `dimensions`. */
#define SL_MOCK_EMBEDDING_DEFAULT_DIMENSIONS 8
/* Largest `dimensions` the mock accepts (OpenAI's largest model has 3,072). */
#define SL_MOCK_EMBEDDING_MAX_DIMENSIONS 65536
/* Largest number of inputs per request, as on OpenAI. */
#define SL_MOCK_EMBEDDING_MAX_INPUTS 2048
/* Largest number of values (inputs times dimensions) in one reply. */
#define SL_MOCK_EMBEDDING_MAX_VALUES (1u << 20)

/* A parsed embeddings request. Strings and `input` point into `root`. */
struct sl_mock_embedding_request {
    cJSON *root; /* owned */
    const char *model;
    const cJSON *input; /* a string or an array of strings, token ids or token id arrays */
    int inputs;         /* number of vectors to return */
    int dimensions;
    int base64; /* encoding_format "base64": little-endian float32 values, base64-encoded */
    int64_t prompt_tokens; /* ceil(bytes / 4) per string, one per token id */
};

/*
 * Parses and checks an embeddings request body. On SL_ERR_INVALID, `err` contains the message
 * for the client and `*param` names the invalid field (or is NULL); nothing needs disposing.
 */
enum sl_status sl_mock_embeddings_parse(const char *body, size_t len,
                                        struct sl_mock_embedding_request *req, const char **param,
                                        struct sl_errbuf *err);
void sl_mock_embeddings_dispose(struct sl_mock_embedding_request *req);

/* Writes the whole embeddings reply, with `usage` (an object or NULL) merged over the default
 * usage: top-level keys replace, and total_tokens follows prompt_tokens unless it is given. */
enum sl_status sl_mock_embeddings_json(struct sl_buf *out,
                                       const struct sl_mock_embedding_request *req,
                                       const cJSON *usage);

#endif /* SL_MOCK_EMBEDDINGS_H */
