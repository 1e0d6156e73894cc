/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- the list of management route tables that sl_handle_mgmt() searches.
 */
#include "gateway/mgmt/routes.h"

#include <stddef.h>

const struct sl_mgmt_route *const sl_mgmt_route_tables[] = {
    sl_mgmt_budget_routes,
    sl_mgmt_org_routes,
    sl_mgmt_customer_routes,
    sl_mgmt_team_routes,
    sl_mgmt_user_routes,
    sl_mgmt_cache_routes,
    sl_mgmt_spend_routes,
    NULL,
};

const struct sl_mgmt_route *const sl_mgmt_no_db_route_tables[] = {
    sl_mgmt_cache_routes,
    NULL,
};
