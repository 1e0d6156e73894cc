/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bedrock -- AWS Bedrock's Converse and ConverseStream routes as the mock speaks them.
 *
 * POST /model/{model id}/converse, /converse-stream and /invoke (Titan text embeddings) verify
 * the request's SigV4 signature (service "bedrock") against the mock's test credentials, then
 * reply from the script queue (route "chat", matched by model id) in Converse JSON, as AWS
 * event-stream frames, or as a Titan embedding.
 * The credentials come from SLUICE_MOCK_AWS_ACCESS_KEY_ID and SLUICE_MOCK_AWS_SECRET_ACCESS_KEY,
 * or default to the values below.
 */
#ifndef SL_MOCK_BEDROCK_H
#define SL_MOCK_BEDROCK_H

#include <stdint.h>

#include <h2o.h>

#include "bench/mock/mock.h"

#define SL_MOCK_AWS_DEFAULT_ACCESS_KEY_ID     "AKIDSLUICEMOCK"
#define SL_MOCK_AWS_DEFAULT_SECRET_ACCESS_KEY "sluice-mock-secret"

/* Returns 1 when `path` (without its query) is a Bedrock runtime route. */
int sl_mock_bedrock_match(h2o_iovec_t path);

/* Replies to a Bedrock request already logged as `seq`. */
void sl_mock_bedrock_handle(struct sl_mock_shared *shared, h2o_req_t *req, uint64_t seq);

#endif /* SL_MOCK_BEDROCK_H */
