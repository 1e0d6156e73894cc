/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes -- the route tables of the management modules that sl_handle_mgmt() serves. Each
 * module defines one table ending with an entry whose path is NULL; routes.c lists them.
 */
#ifndef SL_MGMT_ROUTES_H
#define SL_MGMT_ROUTES_H

#include "gateway/mgmt/http.h"

extern const struct sl_mgmt_route sl_mgmt_user_routes[];
extern const struct sl_mgmt_route sl_mgmt_team_routes[];
extern const struct sl_mgmt_route sl_mgmt_org_routes[];
extern const struct sl_mgmt_route sl_mgmt_budget_routes[];
extern const struct sl_mgmt_route sl_mgmt_customer_routes[];
extern const struct sl_mgmt_route sl_mgmt_model_routes[];
extern const struct sl_mgmt_route sl_mgmt_cache_routes[];
extern const struct sl_mgmt_route sl_mgmt_spend_routes[];

/* Every table, ending with NULL. */
extern const struct sl_mgmt_route *const sl_mgmt_route_tables[];

/* The tables among them whose routes run without a database, ending with NULL. Their POST
 * routes also accept an empty body, which reaches `run` as NULL. */
extern const struct sl_mgmt_route *const sl_mgmt_no_db_route_tables[];

#endif /* SL_MGMT_ROUTES_H */
