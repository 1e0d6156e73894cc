/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- LiteLLM's route groups as far as Sluice serves their routes, and the allow-list
 * match of a virtual key.
 */
#include "gateway/auth/routes.h"

#include <string.h>

static const char *const openai_routes[] = {
    "/chat/completions", "/v1/chat/completions", "/completions", "/v1/completions",
    "/embeddings",       "/v1/embeddings",       "/models",      "/v1/models",
    NULL,
};

static const char *const anthropic_routes[] = {
    "/v1/messages",
    "/v1/messages/count_tokens",
    NULL,
};

static const char *const info_routes[] = {
    "/key/info",      "/key/health",    "/team/info",      "/team/list",
    "/v2/team/list",  "/organization/list", "/team/available", "/user/info",
    "/model/info",    "/v1/model/info", "/v2/model/info",  "/v2/key/info",
    "/model_group/info", "/health",     "/key/list",       "/user/filter/ui",
    "/models",        "/v1/models",     NULL,
};

static const char *const key_management_routes[] = {
    "/key/generate",   "/key/update", "/key/delete", "/key/info",
    "/key/regenerate", "/key/service-account/generate", "/key/list",
    "/key/block",      "/key/unblock", "/key/bulk_update", NULL,
};

static const char *const management_routes[] = {
    "/user/new",        "/user/update",  "/user/delete", "/user/info",  "/user/list",
    "/team/new",        "/team/update",  "/team/delete", "/team/list",  "/team/info",
    "/team/block",      "/team/unblock", "/team/available", "/v2/team/list",
    "/model/new",       "/model/update", "/model/delete", "/model/info", NULL,
};

static int
list_holds(const char *const *list, const char *path, size_t len)
{
    for (; *list != NULL; list++) {
        if (strlen(*list) == len && memcmp(*list, path, len) == 0)
            return 1;
    }
    return 0;
}

/* Matches /key/<key>/regenerate, listed in the key management group as
 * /key/{key_id}/regenerate. */
static int
is_regenerate_path(const char *path, size_t len)
{
    static const char suffix[] = "/regenerate";
    size_t slen = sizeof(suffix) - 1;

    return len > 5 + slen && memcmp(path, "/key/", 5) == 0 &&
           memcmp(path + len - slen, suffix, slen) == 0;
}

int
sl_route_group_contains(const char *group, const char *path, size_t len)
{
    if (strcmp(group, "openai_routes") == 0)
        return list_holds(openai_routes, path, len);
    if (strcmp(group, "anthropic_routes") == 0)
        return list_holds(anthropic_routes, path, len);
    if (strcmp(group, "llm_api_routes") == 0)
        return list_holds(openai_routes, path, len) || list_holds(anthropic_routes, path, len);
    if (strcmp(group, "info_routes") == 0)
        return list_holds(info_routes, path, len);
    if (strcmp(group, "key_management_routes") == 0)
        return list_holds(key_management_routes, path, len) || is_regenerate_path(path, len);
    if (strcmp(group, "management_routes") == 0)
        return list_holds(management_routes, path, len) ||
               list_holds(key_management_routes, path, len) || is_regenerate_path(path, len);
    return 0;
}

int
sl_route_allowed(const char *const *entries, size_t n, const char *path, size_t len)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i];
        size_t elen = strlen(e);

        if (elen == len && memcmp(e, path, len) == 0)
            return 1;
        if (elen > 0 && e[elen - 1] == '*' && len >= elen - 1 && memcmp(e, path, elen - 1) == 0)
            return 1;
        if (sl_route_group_contains(e, path, len))
            return 1;
    }
    return 0;
}
