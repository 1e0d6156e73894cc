/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access -- whether a virtual key may call a model group: the key's model list, then its
 * team's, then (for a key without a team) its user's, then its organization's, each read with
 * LiteLLM's rules. Pure functions over borrowed data, safe on any thread.
 */
#ifndef SL_ACCESS_H
#define SL_ACCESS_H

#include <stddef.h>

#include "common/buf.h"
#include "gateway/router/router.h"

/* One entity's list of allowed models; `present` is 0 when the key has no such entity. */
struct sl_access_list {
    const char *const *items;
    size_t n;
    int present;
};

/* The entity whose list rejected the model. */
enum sl_access_scope {
    SL_ACCESS_KEY,
    SL_ACCESS_TEAM,
    SL_ACCESS_USER,
    SL_ACCESS_ORG,
};

/* The lists of one key, in the order they are checked. */
struct sl_access_lists {
    struct sl_access_list key;
    struct sl_access_list team;
    struct sl_access_list user; /* checked only when `team` is absent (a personal key) */
    struct sl_access_list org;
};

/*
 * Returns 1 when `list` allows `model`, whose group is `group` (NULL when no group has that
 * name, so only list-wide grants and exact names can match). An entry allows the model when it
 * is "*" or "all-proxy-models", equals `model`, names an access group of one of the group's
 * deployments, or ends in "*" and is a prefix of a deployment's litellm model. An empty list
 * allows every model. "all-team-models" is not handled here: see sl_access_check().
 */
int sl_access_list_allows(const struct sl_access_list *list, const char *model,
                          const struct sl_model_group *group);

/*
 * Checks `model` against every present list of `lists` in order. A key list holding
 * "all-team-models" defers to the team list. Returns 1 when allowed; else 0 with the scope
 * that denied it in `*denied_by`.
 */
int sl_access_check(const struct sl_access_lists *lists, const char *model,
                    const struct sl_model_group *group, enum sl_access_scope *denied_by);

/* Returns "key", "team", "user" or "org". */
const char *sl_access_scope_name(enum sl_access_scope scope);

/* Returns the error type of a denial by `scope`, e.g. "key_model_access_denied". */
const char *sl_access_error_type(enum sl_access_scope scope);

/* Appends `list` as a Python list literal, e.g. ['gpt-4o', 'azure-models'], as LiteLLM prints it
 * in its denial message. */
void sl_access_append_list(struct sl_buf *out, const struct sl_access_list *list);

#endif /* SL_ACCESS_H */
