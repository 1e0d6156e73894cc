/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- a virtual key's route allow-list (`allowed_routes`, also set by `key_type`): which
 * paths the key may call. An entry allows a path when it equals it, when it ends in "*" and
 * the rest is a prefix of it, or when it names one of LiteLLM's route groups that contains
 * it (llm_api_routes, openai_routes, anthropic_routes, info_routes, management_routes,
 * key_management_routes). Pure functions, safe on any thread.
 */
#ifndef SL_AUTH_ROUTES_H
#define SL_AUTH_ROUTES_H

#include <stddef.h>

/* Returns 1 when the group named `group` contains `path`, 0 otherwise and for an unknown
 * group name. */
int sl_route_group_contains(const char *group, const char *path, size_t path_len);

/* Returns 1 when the `n` entries allow `path` (`path_len` bytes); an empty list allows all. */
int sl_route_allowed(const char *const *entries, size_t n, const char *path, size_t path_len);

#endif /* SL_AUTH_ROUTES_H */
