/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure -- Azure OpenAI's deployment paths, served by the OpenAI handlers.
 *
 * /openai/deployments/{deployment}/chat/completions (and /completions, /embeddings) with an
 * api-version query parameter are answered like /v1/chat/completions and the others; the
 * api-key header is recorded in the request log like every header.
 */
#ifndef SL_MOCK_AZURE_H
#define SL_MOCK_AZURE_H

#include <h2o.h>

/* Result of matching an Azure path. */
enum sl_mock_azure_match {
    SL_MOCK_AZURE_NONE,       /* not an Azure deployment path */
    SL_MOCK_AZURE_OK,         /* `*openai_path` is the OpenAI path to serve */
    SL_MOCK_AZURE_NO_VERSION, /* a deployment path without the api-version parameter */
};

/* Matches `req`'s path; on SL_MOCK_AZURE_OK sets `*openai_path` to a static OpenAI path. */
enum sl_mock_azure_match sl_mock_azure_match(const h2o_req_t *req, h2o_iovec_t *openai_path);

#endif /* SL_MOCK_AZURE_H */
