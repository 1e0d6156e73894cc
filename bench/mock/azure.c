/* SPDX-License-Identifier: Apache-2.0 */
/* azure -- maps Azure OpenAI deployment paths onto the mock's OpenAI routes. */
#include "bench/mock/azure.h"

#include <string.h>

#define DEPLOYMENTS_PREFIX "/openai/deployments/"

/* Returns 1 when the query string (after '?') has a non-empty api-version parameter. */
static int
has_api_version(const char *query, size_t len)
{
    static const char name[] = "api-version=";
    size_t n = sizeof(name) - 1;
    size_t i = 0;

    while (i < len) {
        size_t end = i;

        while (end < len && query[end] != '&')
            end++;
        if (end - i > n && memcmp(query + i, name, n) == 0)
            return 1;
        i = end + 1;
    }
    return 0;
}

enum sl_mock_azure_match
sl_mock_azure_match(const h2o_req_t *req, h2o_iovec_t *openai_path)
{
    static const struct {
        const char *suffix;
        const char *openai;
    } routes[] = {
        {"/chat/completions", "/v1/chat/completions"},
        {"/completions", "/v1/completions"},
        {"/embeddings", "/v1/embeddings"},
    };
    const char *path = req->path_normalized.base;
    size_t len = req->path_normalized.len;
    size_t prefix = sizeof(DEPLOYMENTS_PREFIX) - 1;
    const char *deployment;
    const char *slash;

    if (len <= prefix || memcmp(path, DEPLOYMENTS_PREFIX, prefix) != 0)
        return SL_MOCK_AZURE_NONE;
    deployment = path + prefix;
    slash = memchr(deployment, '/', len - prefix);
    if (slash == NULL || slash == deployment)
        return SL_MOCK_AZURE_NONE;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t n = strlen(routes[i].suffix);

        if ((size_t)(path + len - slash) != n || memcmp(slash, routes[i].suffix, n) != 0)
            continue;
        if (req->query_at == SIZE_MAX ||
            !has_api_version(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1))
            return SL_MOCK_AZURE_NO_VERSION;
        *openai_path = h2o_iovec_init(routes[i].openai, strlen(routes[i].openai));
        return SL_MOCK_AZURE_OK;
    }
    return SL_MOCK_AZURE_NONE;
}
