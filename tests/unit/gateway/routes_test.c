/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes_test -- a virtual key's allowed_routes: exact paths, "*" prefixes, LiteLLM's route
 * group names, and the paths each group must not hold.
 */
#include <string.h>

#include "gateway/auth/routes.h"
#include "test.h"

static int
allowed(const char *const *entries, size_t n, const char *path)
{
    return sl_route_allowed(entries, n, path, strlen(path));
}

TEST(empty_list_allows_every_path)
{
    ASSERT_EQ(allowed(NULL, 0, "/key/generate"), 1);
    ASSERT_EQ(allowed(NULL, 0, "/chat/completions"), 1);
}

TEST(exact_entry_allows_only_that_path)
{
    const char *const e[] = {"/chat/completions"};

    ASSERT_EQ(allowed(e, 1, "/chat/completions"), 1);
    ASSERT_EQ(allowed(e, 1, "/chat/completions2"), 0);
    ASSERT_EQ(allowed(e, 1, "/chat/completion"), 0);
    ASSERT_EQ(allowed(e, 1, "/v1/chat/completions"), 0);
}

TEST(star_entry_allows_prefix)
{
    const char *const e[] = {"/key/*"};

    ASSERT_EQ(allowed(e, 1, "/key/info"), 1);
    ASSERT_EQ(allowed(e, 1, "/key/"), 1);
    ASSERT_EQ(allowed(e, 1, "/key"), 0);
    ASSERT_EQ(allowed(e, 1, "/team/info"), 0);
}

TEST(llm_api_group_model_routes_only)
{
    const char *const e[] = {"llm_api_routes"};

    ASSERT_EQ(allowed(e, 1, "/v1/chat/completions"), 1);
    ASSERT_EQ(allowed(e, 1, "/embeddings"), 1);
    ASSERT_EQ(allowed(e, 1, "/v1/messages"), 1);
    ASSERT_EQ(allowed(e, 1, "/v1/messages/count_tokens"), 1);
    ASSERT_EQ(allowed(e, 1, "/key/generate"), 0);
    ASSERT_EQ(allowed(e, 1, "/user/new"), 0);
}

TEST(info_group_reads_only)
{
    const char *const e[] = {"info_routes"};

    ASSERT_EQ(allowed(e, 1, "/key/info"), 1);
    ASSERT_EQ(allowed(e, 1, "/team/list"), 1);
    ASSERT_EQ(allowed(e, 1, "/v1/models"), 1);
    ASSERT_EQ(allowed(e, 1, "/key/generate"), 0);
    ASSERT_EQ(allowed(e, 1, "/chat/completions"), 0);
}

TEST(management_group_includes_key_routes)
{
    const char *const e[] = {"management_routes"};

    ASSERT_EQ(allowed(e, 1, "/key/generate"), 1);
    ASSERT_EQ(allowed(e, 1, "/key/sk-abc/regenerate"), 1);
    ASSERT_EQ(allowed(e, 1, "/team/new"), 1);
    ASSERT_EQ(allowed(e, 1, "/chat/completions"), 0);
}

TEST(key_management_group_excludes_teams)
{
    const char *const e[] = {"key_management_routes"};

    ASSERT_EQ(allowed(e, 1, "/key/list"), 1);
    ASSERT_EQ(allowed(e, 1, "/team/new"), 0);
    ASSERT_EQ(allowed(e, 1, "/key/regenerate/x"), 0);
}

TEST(unknown_group_name_allows_nothing)
{
    const char *const e[] = {"admin_routes"};

    ASSERT_EQ(sl_route_group_contains("admin_routes", "/key/info", 9), 0);
    ASSERT_EQ(allowed(e, 1, "/key/info"), 0);
}

TEST(any_entry_may_allow)
{
    const char *const e[] = {"/team/info", "llm_api_routes"};

    ASSERT_EQ(allowed(e, 2, "/team/info"), 1);
    ASSERT_EQ(allowed(e, 2, "/chat/completions"), 1);
    ASSERT_EQ(allowed(e, 2, "/team/list"), 0);
}
