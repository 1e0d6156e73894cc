/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_test -- model access of virtual keys (gateway/auth/access.c): list-wide grants, exact
 * names, access groups, wildcards, all-team-models, the key/team/user/org order, and names
 * that only look like an allowed one.
 */
#include <string.h>

#include "gateway/auth/access.h"
#include "common/config.h"
#include "test.h"

#define LIST(...)                                                                                  \
    ((struct sl_access_list){(const char *const[]){__VA_ARGS__},                                   \
                             sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), 1})
#define EMPTY ((struct sl_access_list){NULL, 0, 1})
#define ABSENT ((struct sl_access_list){NULL, 0, 0})

/* A model group with one deployment, built in the caller's storage. */
struct fixture {
    struct sl_deployment dep;
    const struct sl_deployment *deps[1];
    char *groups[1];
    struct sl_model_group group;
};

/* Fills `f` with group `name` served by litellm model `model`, in `access_group` (NULL for
 * none), and returns the group. */
static const struct sl_model_group *
make_group(struct fixture *f, const char *name, const char *model, const char *access_group)
{
    memset(f, 0, sizeof(*f));
    f->dep.model_name = (char *)name;
    f->dep.model = (char *)model;
    if (access_group != NULL) {
        f->groups[0] = (char *)access_group;
        f->dep.access_groups.items = f->groups;
        f->dep.access_groups.n = 1;
    }
    f->deps[0] = &f->dep;
    f->group.name = name;
    f->group.deployments = f->deps;
    f->group.n = 1;
    return &f->group;
}

static int
key_allows(struct sl_access_list key, const char *model, const struct sl_model_group *g)
{
    struct sl_access_lists lists = {key, ABSENT, ABSENT, ABSENT};
    enum sl_access_scope scope;

    return sl_access_check(&lists, model, g, &scope);
}

TEST(access_empty_list_allows_all)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(EMPTY, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_star_allows_all)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(LIST("*"), "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_all_proxy_models_allows_all)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(LIST("all-proxy-models"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_exact_name_allowed)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(LIST("claude", "gpt-4o"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_other_name_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("claude"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_longer_lookalike_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("gpt-4o-mini"), "gpt-4o-mini-2",
                            make_group(&f, "gpt-4o-mini-2", "azure/gpt-4o-mini-2", NULL)));
}

TEST(access_shorter_lookalike_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("gpt-4o-mini"), "gpt-4o",
                            make_group(&f, "gpt-4o", "azure/gpt-4o", NULL)));
}

TEST(access_provider_prefixed_lookalike_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("gpt-4o"), "openai/gpt-4o",
                            make_group(&f, "openai/gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_case_differs_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("gpt-4o"), "GPT-4o",
                            make_group(&f, "GPT-4o", "openai/gpt-4o", NULL)));
}

TEST(access_unknown_model_denied_by_list)
{
    ASSERT_EQ(0, key_allows(LIST("gpt-4o"), "gpt-5", NULL));
}

TEST(access_unknown_model_allowed_by_star)
{
    ASSERT_EQ(1, key_allows(LIST("*"), "gpt-5", NULL));
}

TEST(access_group_allows_member)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(LIST("beta-models"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", "beta-models")));
}

TEST(access_group_lookalike_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("beta-model"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", "beta-models")));
}

TEST(access_group_not_member_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("beta-models"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", "prod-models")));
}

TEST(access_wildcard_matches_provider)
{
    struct fixture f;

    ASSERT_EQ(1, key_allows(LIST("openai/*"), "gpt-4o",
                            make_group(&f, "gpt-4o", "openai/gpt-4o", NULL)));
}

TEST(access_wildcard_other_provider_denied)
{
    struct fixture f;

    ASSERT_EQ(0, key_allows(LIST("openai/*"), "claude",
                            make_group(&f, "claude", "anthropic/claude-sonnet-4", NULL)));
}

TEST(access_wildcard_needs_slash)
{
    struct fixture f;

    /* The wildcard must not match a provider whose name only starts with "openai". */
    ASSERT_EQ(0, key_allows(LIST("openai/*"), "compat",
                            make_group(&f, "compat", "openai_compat/model", NULL)));
}

TEST(access_wildcard_ignores_group_name)
{
    struct fixture f;

    /* A group named like the wildcard but served by another provider stays denied. */
    ASSERT_EQ(0, key_allows(LIST("openai/*"), "openai/claude",
                            make_group(&f, "openai/claude", "anthropic/claude-sonnet-4", NULL)));
}

TEST(access_team_denies_after_key)
{
    struct fixture f;
    struct sl_access_lists lists = {LIST("gpt-4o"), LIST("claude"), ABSENT, ABSENT};
    enum sl_access_scope scope = SL_ACCESS_KEY;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_TEAM, scope);
}

TEST(access_key_denies_first)
{
    struct fixture f;
    struct sl_access_lists lists = {LIST("claude"), LIST("claude"), ABSENT, LIST("claude")};
    enum sl_access_scope scope = SL_ACCESS_TEAM;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_KEY, scope);
}

TEST(access_all_team_models_defers)
{
    struct fixture f;
    struct sl_access_lists lists = {LIST("all-team-models"), LIST("gpt-4o"), ABSENT, ABSENT};
    enum sl_access_scope scope;

    ASSERT_EQ(1, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
}

TEST(access_all_team_models_team_denies)
{
    struct fixture f;
    struct sl_access_lists lists = {LIST("all-team-models"), LIST("claude"), ABSENT, ABSENT};
    enum sl_access_scope scope = SL_ACCESS_KEY;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_TEAM, scope);
}

TEST(access_all_team_models_without_team)
{
    struct fixture f;
    struct sl_access_lists lists = {LIST("all-team-models"), ABSENT, EMPTY, ABSENT};
    enum sl_access_scope scope = SL_ACCESS_TEAM;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_KEY, scope);
}

TEST(access_user_checked_for_personal_key)
{
    struct fixture f;
    struct sl_access_lists lists = {EMPTY, ABSENT, LIST("claude"), ABSENT};
    enum sl_access_scope scope = SL_ACCESS_KEY;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_USER, scope);
}

TEST(access_user_skipped_for_team_key)
{
    struct fixture f;
    struct sl_access_lists lists = {EMPTY, EMPTY, LIST("claude"), ABSENT};
    enum sl_access_scope scope;

    ASSERT_EQ(1, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
}

TEST(access_org_denies_last)
{
    struct fixture f;
    struct sl_access_lists lists = {EMPTY, EMPTY, ABSENT, LIST("claude")};
    enum sl_access_scope scope = SL_ACCESS_KEY;

    ASSERT_EQ(0, sl_access_check(&lists, "gpt-4o", make_group(&f, "gpt-4o", "openai/gpt-4o", NULL),
                                 &scope));
    ASSERT_EQ(SL_ACCESS_ORG, scope);
}

TEST(access_error_types_named)
{
    ASSERT_STR_EQ("key_model_access_denied", sl_access_error_type(SL_ACCESS_KEY));
    ASSERT_STR_EQ("team_model_access_denied", sl_access_error_type(SL_ACCESS_TEAM));
    ASSERT_STR_EQ("user_model_access_denied", sl_access_error_type(SL_ACCESS_USER));
    ASSERT_STR_EQ("org_model_access_denied", sl_access_error_type(SL_ACCESS_ORG));
}

TEST(access_list_printed_as_python)
{
    struct sl_buf out;
    struct sl_access_list list = LIST("gpt-4o", "openai/*");

    sl_buf_init(&out, 0);
    sl_access_append_list(&out, &list);
    ASSERT_STR_EQ("['gpt-4o', 'openai/*']", out.data);
    sl_buf_dispose(&out);
}
