/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wildcard -- model groups whose model_name is a pattern with '*', such as "*" or a provider
 * prefix followed by '*'.
 *
 * A request whose model names no group exactly is served by the longest pattern group that
 * matches it. Each '*' of the pattern matches any run of characters, and the text it matched
 * replaces the '*'s of the deployment's litellm_params.model in order: a group "gpt-*" with
 * model "openai/gpt-*" serves "gpt-4o" by calling provider openai with model "gpt-4o". For
 * each such request a group is built that copies the pattern group's deployments with the
 * requested name and model. The request owns it (struct sl_request.wildcard), so it needs no
 * cache and lives exactly as long as the attempts that use it. The copies keep their
 * deployment ids, so cooldowns and metrics of a pattern deployment cover every name it
 * serves. Loop thread of the worker.
 *
 * The matching and the expansion are pure and come first, for tests.
 */
#ifndef SL_WILDCARD_H
#define SL_WILDCARD_H

#include <stddef.h>

#include "common/config.h"
#include "common/status.h"
#include "gateway/router/router.h"

/* '*'s a pattern may have; a pattern with more never matches. */
#define SL_WILDCARD_MAX_STARS 8u
/* Longest requested model name a pattern may match, in bytes. */
#define SL_WILDCARD_NAME_MAX 512u

/* The text each '*' of a pattern matched: name + offset[i], length len[i]. */
struct sl_wildcard_captures {
    size_t n;
    size_t offset[SL_WILDCARD_MAX_STARS];
    size_t len[SL_WILDCARD_MAX_STARS];
};

/*
 * Returns 1 when `pattern`, which contains at least one '*', matches all of `name`, and
 * fills `*caps`. A '*' matches any run of characters, the empty run included. A literal part
 * between two '*'s is matched at its first place after the previous one. Returns 0 for no
 * match, for a name longer than SL_WILDCARD_NAME_MAX and for a pattern without a '*' or with
 * more than SL_WILDCARD_MAX_STARS.
 */
int sl_wildcard_match(const char *pattern, const char *name, struct sl_wildcard_captures *caps);

/*
 * Returns the provider model for `name`, matched as `caps`, from the deployment's
 * litellm_params.model `model`: each '*' of `model` is replaced in order by the next capture.
 * A `model` without '*' is returned as is, and one with fewer '*'s than captures gives
 * `name` itself, as LiteLLM does. The caller frees the result.
 */
char *sl_wildcard_expand(const char *model, const char *name,
                         const struct sl_wildcard_captures *caps);

/* Returns the group of `r` whose name is the longest pattern matching `name` (the first in
 * config order on a tie), or NULL. Groups without a '*' are not considered. */
const struct sl_model_group *sl_wildcard_find(const struct sl_router *r, const char *name);

/* ---------------------------------------------------------------- per request */

struct sl_wildcard_copy;

/* A group built for one requested name from a pattern group. */
struct sl_wildcard_group {
    struct sl_model_group group; /* name: the requested model; deployments: the copies */
    const char *pattern;         /* the matched group's name; borrowed from the router */
    struct sl_wildcard_copy *copies;
};

/*
 * Builds the group that serves `name` from `pattern`, a group that matched it. The copies
 * borrow every field of the pattern's deployments but model_name, model, provider and
 * provider_model. A copy whose provider differs from its pattern's (a catch-all "*" with
 * model "*") takes its api_base and api_key from the provider's environment variables, not
 * from the pattern. `pattern` and its router must outlive the result. Returns SL_OK, or
 * SL_ERR_INVALID with the reason in `err` when the expanded model names an unknown provider
 * or a provider that needs an api_base. Free the result with sl_wildcard_group_destroy().
 */
enum sl_status sl_wildcard_group_create(const struct sl_model_group *pattern, const char *name,
                                        struct sl_wildcard_group **out, struct sl_errbuf *err);

/* Frees `g`; NULL is accepted. */
void sl_wildcard_group_destroy(struct sl_wildcard_group *g);

/*
 * Returns the group that serves `name` in `r`: the group of that exact name, else a group
 * built from the best pattern, which is stored in `*owned` for the caller to free, else
 * NULL. Returns NULL with `err` set (and `*owned` NULL) when the pattern's expansion is
 * unusable; `err->msg` is empty when nothing matched.
 */
const struct sl_model_group *sl_wildcard_resolve(const struct sl_router *r, const char *name,
                                                 struct sl_wildcard_group **owned,
                                                 struct sl_errbuf *err);

#endif /* SL_WILDCARD_H */
