/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access -- model access rules of virtual keys; see access.h. Names are compared whole and
 * case-sensitively, so a name that only starts like an allowed one (gpt-4o-mini-2 against
 * gpt-4o-mini) never matches.
 */
#include "gateway/auth/access.h"

#include <string.h>

#include "common/config.h"

static int
grants_all(const char *entry)
{
    return strcmp(entry, "*") == 0 || strcmp(entry, "all-proxy-models") == 0;
}

static int
group_has_access_group(const struct sl_model_group *group, const char *name)
{
    for (size_t i = 0; i < group->n; i++) {
        const struct sl_strlist *groups = &group->deployments[i]->access_groups;

        for (size_t k = 0; k < groups->n; k++)
            if (strcmp(groups->items[k], name) == 0)
                return 1;
    }
    return 0;
}

/* An entry such as "openai/" followed by a star matches a group when one of its deployments' litellm model
 * starts with the text before the star. */
static int
group_matches_wildcard(const struct sl_model_group *group, const char *entry)
{
    size_t len = strlen(entry);

    if (len < 2 || entry[len - 1] != '*')
        return 0;
    for (size_t i = 0; i < group->n; i++) {
        const char *model = group->deployments[i]->model;

        if (model != NULL && strncmp(model, entry, len - 1) == 0)
            return 1;
    }
    return 0;
}

int
sl_access_list_allows(const struct sl_access_list *list, const char *model,
                      const struct sl_model_group *group)
{
    if (list->n == 0)
        return 1;
    for (size_t i = 0; i < list->n; i++) {
        const char *entry = list->items[i];

        if (grants_all(entry) || strcmp(entry, model) == 0)
            return 1;
        if (group != NULL &&
            (group_has_access_group(group, entry) || group_matches_wildcard(group, entry)))
            return 1;
    }
    return 0;
}

static int
list_contains(const struct sl_access_list *list, const char *name)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i], name) == 0)
            return 1;
    return 0;
}

int
sl_access_check(const struct sl_access_lists *lists, const char *model,
                const struct sl_model_group *group, enum sl_access_scope *denied_by)
{
    /* "all-team-models" hands the decision to the team list checked next; a key without a
     * team then has no model at all, as in LiteLLM. */
    if (list_contains(&lists->key, "all-team-models")) {
        if (!lists->team.present) {
            *denied_by = SL_ACCESS_KEY;
            return 0;
        }
    } else if (!sl_access_list_allows(&lists->key, model, group)) {
        *denied_by = SL_ACCESS_KEY;
        return 0;
    }

    if (lists->team.present && !sl_access_list_allows(&lists->team, model, group)) {
        *denied_by = SL_ACCESS_TEAM;
        return 0;
    }
    if (!lists->team.present && lists->user.present &&
        !sl_access_list_allows(&lists->user, model, group)) {
        *denied_by = SL_ACCESS_USER;
        return 0;
    }
    if (lists->org.present && !sl_access_list_allows(&lists->org, model, group)) {
        *denied_by = SL_ACCESS_ORG;
        return 0;
    }
    return 1;
}

const char *
sl_access_scope_name(enum sl_access_scope scope)
{
    switch (scope) {
    case SL_ACCESS_KEY:
        return "key";
    case SL_ACCESS_TEAM:
        return "team";
    case SL_ACCESS_USER:
        return "user";
    case SL_ACCESS_ORG:
        return "org";
    }
    return "key";
}

const char *
sl_access_error_type(enum sl_access_scope scope)
{
    switch (scope) {
    case SL_ACCESS_KEY:
        return "key_model_access_denied";
    case SL_ACCESS_TEAM:
        return "team_model_access_denied";
    case SL_ACCESS_USER:
        return "user_model_access_denied";
    case SL_ACCESS_ORG:
        return "org_model_access_denied";
    }
    return "key_model_access_denied";
}

void
sl_access_append_list(struct sl_buf *out, const struct sl_access_list *list)
{
    sl_buf_append_str(out, "[");
    for (size_t i = 0; i < list->n; i++) {
        if (i > 0)
            sl_buf_append_str(out, ", ");
        sl_buf_printf(out, "'%s'", list->items[i]);
    }
    sl_buf_append_str(out, "]");
}
