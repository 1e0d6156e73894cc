/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resets -- the coordinator's budget reset job: moves every budget whose period has ended to the
 * aligned period that contains now (common/budget_period.h) and sets to 0 the reconciled `spend`
 * column of every entity that the budget limits.
 *
 * The gateways never wait for this job: they compute the current period themselves and count
 * live spend in Redis per period (docs/limits.md). The job only keeps the PostgreSQL columns
 * budget_period_start, budget_reset_at and the entities' spend totals in step. The leader calls
 * it every few seconds on a blocking connection; spend history (spend_logs, daily_spend) is
 * never touched. Design notes: docs/coordinator.md, "Budget resets and retention".
 */
#ifndef SL_COORD_RESETS_H
#define SL_COORD_RESETS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/status.h"

/*
 * Resets every budget whose budget_reset_at is at or before `now_s` (Unix seconds) and whose
 * budget_duration sl_budget_duration_parse() accepts. Its budget_period_start and
 * budget_reset_at become the start and end of the period that contains `now_s`. Its entities'
 * `spend` becomes 0: the keys, users, teams, team memberships, organizations, organization
 * memberships and end users whose budget_id is that budget, and the team memberships without a
 * budget of their own whose team's member_budget_id is that budget. Budgets with a duration the
 * parser rejects are left as they are and counted in the log line. One statement does every
 * update, so a run applies whole or not at all.
 *
 * Logs one `budget.reset` line with the counts (debug level when nothing was due). On SL_OK
 * `*reset_count` (may be NULL) receives the number of budgets reset. Errors, with the reason in
 * `err`: SL_ERR_INVALID when `now_s` is outside 0 to 253402300799, SL_ERR_STORE when a statement
 * failed, SL_ERR_UNAVAILABLE when the connection is gone. Call from one thread at a time per
 * process, because the log rate limit of skipped budgets is per thread.
 */
enum sl_status sl_coord_reset_budgets(PGconn *conn, int64_t now_s, size_t *reset_count,
                                      struct sl_errbuf *err);

#endif /* SL_COORD_RESETS_H */
