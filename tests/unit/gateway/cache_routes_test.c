/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache_routes_test -- the /cache/ route table: its access classes (any role may ping, only
 * proxy_admin may delete or flush) and its listing among the routes that need no database.
 */
#include <string.h>

#include "gateway/mgmt/routes.h"
#include "test.h"

static const struct sl_mgmt_route *
find(const char *path)
{
    for (const struct sl_mgmt_route *rt = sl_mgmt_cache_routes; rt->path != NULL; rt++) {
        if (strcmp(rt->path, path) == 0)
            return rt;
    }
    return NULL;
}

static int
status_of(const char *role, const char *path)
{
    struct sl_errbuf err;

    return sl_mgmt_access_status(role, find(path)->access, path, &err);
}

TEST(cache_ping_open_to_every_role)
{
    ASSERT_EQ(status_of("proxy_admin", "/cache/ping"), 200);
    ASSERT_EQ(status_of("proxy_admin_viewer", "/cache/ping"), 200);
    ASSERT_EQ(status_of("internal_user", "/cache/ping"), 200);
    ASSERT_EQ(status_of("internal_user_viewer", "/cache/ping"), 200);
}

TEST(cache_writes_need_proxy_admin)
{
    ASSERT_EQ(status_of("proxy_admin", "/cache/delete"), 200);
    ASSERT_EQ(status_of("proxy_admin", "/cache/flushall"), 200);
    ASSERT_EQ(status_of("proxy_admin_viewer", "/cache/delete"), 403);
    ASSERT_EQ(status_of("proxy_admin_viewer", "/cache/flushall"), 403);
    ASSERT_EQ(status_of("internal_user", "/cache/delete"), 401);
    ASSERT_EQ(status_of("internal_user", "/cache/flushall"), 401);
    ASSERT_EQ(status_of("", "/cache/flushall"), 401);
}

TEST(cache_routes_methods)
{
    ASSERT_STR_EQ(find("/cache/ping")->method, "GET");
    ASSERT_STR_EQ(find("/cache/delete")->method, "POST");
    ASSERT_STR_EQ(find("/cache/flushall")->method, "POST");
}

TEST(cache_routes_registered_without_db)
{
    int listed = 0;
    int no_db = 0;

    for (size_t m = 0; sl_mgmt_route_tables[m] != NULL; m++)
        listed += sl_mgmt_route_tables[m] == sl_mgmt_cache_routes;
    for (size_t m = 0; sl_mgmt_no_db_route_tables[m] != NULL; m++)
        no_db += sl_mgmt_no_db_route_tables[m] == sl_mgmt_cache_routes;
    ASSERT_EQ(listed, 1);
    ASSERT_EQ(no_db, 1);
    ASSERT_EQ(sl_mgmt_is_route("/cache/ping", strlen("/cache/ping")), 1);
    ASSERT_EQ(sl_mgmt_is_route("/cache/flushall", strlen("/cache/flushall")), 1);
}
