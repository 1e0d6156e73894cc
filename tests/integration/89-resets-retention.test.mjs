// SPDX-License-Identifier: Apache-2.0
// The coordinator's budget reset and spend log retention jobs (coordinator/resets.c,
// coordinator/retention.c) against a real PostgreSQL migrated by sluice-coordinator, run once
// per call through the coord_jobs_check program with a fixed `now`, so every period is exact.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { IN_CI, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('postgres', 'redis');
needsCoordinator();

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHECKER = process.env.SLUICE_COORD_JOBS_CHECK_BIN
    || path.join(process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build'),
        'tests/tools/coord_jobs_check');
if (!fs.existsSync(CHECKER)) {
    const why = `${CHECKER} not found (build the coord_jobs_check target)`;
    console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
    process.exit(IN_CI ? 1 : 77);
}

const DAY = 86400;
// Unix seconds of a UTC date and time.
const utc = (y, mo, d, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
// Sunday 2026-03-15 12:34:56 UTC.
const NOW = utc(2026, 3, 15, 12, 34, 56);

const stack = new MgmtStack();

before(async () => {
    await stack.start();
});

after(async () => {
    await stack.stop();
});

// Runs one job and returns its exit code, its parsed JSON lines and its stderr.
function runJob(args) {
    const res = spawnSync(CHECKER, [args[0], stack.pg.url, ...args.slice(1).map(String)], {
        encoding: 'utf8', timeout: 60000, env: { ...process.env, SLUICE_LOG_LEVEL: 'debug' },
    });
    assert.doesNotMatch(res.stderr, /Sanitizer|runtime error:/, res.stderr);
    const lines = res.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    return { code: res.status, lines, stderr: res.stderr };
}

// Runs a job that must succeed and returns its result count and its log line `event`.
function runOk(args, event) {
    const res = runJob(args);
    assert.equal(res.code, 0, `coord_jobs_check ${args.join(' ')}: ${res.stderr}`);
    const result = res.lines.find((l) => l.result === 'ok');
    assert.ok(result, 'a result line is printed');
    const logged = res.lines.filter((l) => l.event === event);
    assert.equal(logged.length, 1, `one ${event} line per run: ${JSON.stringify(res.lines)}`);
    return { count: result.count, log: logged[0] };
}

const period = (id) => stack.psql('SELECT extract(epoch FROM budget_period_start)::bigint || \',\' '
    + `|| extract(epoch FROM budget_reset_at)::bigint FROM budgets WHERE budget_id = '${id}'`);
const spendOf = (table, where) => Number(stack.psql(`SELECT spend FROM ${table} WHERE ${where}`));
const token = (n) => String(n).repeat(64).slice(0, 64);

function insertBudget(id, duration, resetAt, periodStart = null) {
    const dur = duration === null ? 'NULL' : `'${duration}'`;
    const start = periodStart === null ? 'NULL' : `to_timestamp(${periodStart})`;
    stack.psql('INSERT INTO budgets (budget_id, budget_duration, budget_reset_at, '
        + `budget_period_start) VALUES ('${id}', ${dur}, to_timestamp(${resetAt}), ${start})`);
}

test('due budgets move to the current period and their spend is zeroed', () => {
    insertBudget('b-day', '1d', utc(2026, 3, 15), utc(2026, 3, 14));
    insertBudget('b-month', '30d', utc(2026, 3, 1), utc(2026, 2, 1)); // two weeks late
    insertBudget('b-week', '7d', utc(2026, 3, 9));
    insertBudget('b-hours', '2h', utc(2026, 3, 15, 12));
    insertBudget('b-member', '1mo', utc(2026, 3, 1));
    insertBudget('b-edge', '1m', NOW); // due at exactly now
    insertBudget('b-future', '1d', utc(2026, 3, 16), utc(2026, 3, 15));
    insertBudget('b-bad', 'weekly', utc(2026, 3, 1), utc(2026, 2, 1));
    insertBudget('b-none', null, utc(2026, 3, 1), utc(2026, 2, 1));

    stack.psql(`INSERT INTO organizations (organization_id, organization_alias, budget_id, spend)
        VALUES ('o1', 'o1', 'b-hours', 8), ('o2', 'o2', 'b-future', 8)`);
    stack.psql(`INSERT INTO users (user_id, budget_id, spend) VALUES
        ('u1', 'b-month', 4), ('u2', NULL, 1), ('u3', 'b-none', 2)`);
    stack.psql(`INSERT INTO teams (team_id, budget_id, member_budget_id, spend) VALUES
        ('t1', 'b-week', 'b-member', 9), ('t2', 'b-future', NULL, 6)`);
    stack.psql(`INSERT INTO team_memberships (team_id, user_id, budget_id, spend) VALUES
        ('t1', 'u1', NULL, 1.5), ('t1', 'u2', 'b-hours', 2.5), ('t1', 'u3', 'b-future', 4),
        ('t2', 'u1', NULL, 3)`);
    stack.psql(`INSERT INTO organization_memberships (organization_id, user_id, budget_id, spend)
        VALUES ('o1', 'u1', 'b-day', 1), ('o2', 'u1', NULL, 1)`);
    stack.psql(`INSERT INTO end_users (end_user_id, budget_id, spend) VALUES
        ('e1', 'b-edge', 0.7), ('e2', 'b-bad', 0.3)`);
    stack.psql(`INSERT INTO keys (token, budget_id, spend) VALUES
        ('${token(1)}', 'b-day', 5), ('${token(2)}', 'b-future', 3), ('${token(3)}', 'b-bad', 2),
        ('${token(4)}', NULL, 7)`);
    stack.psql(`INSERT INTO spend_logs (request_id, call_type, spend, start_time, end_time, status)
        VALUES ('r-hist', 'completion', 1.25, to_timestamp(${NOW - DAY}),
                to_timestamp(${NOW - DAY}), 'success')`);
    stack.psql(`INSERT INTO daily_spend (date, entity_type, entity_id, spend) VALUES
        ('2026-03-14', 'key', '${token(1)}', 5)`);

    const run = runOk(['reset', NOW], 'budget.reset');
    assert.equal(run.count, 6);
    assert.equal(run.log.level, 'warn', 'a skipped budget makes the line a warning');
    assert.equal(run.log.budgets, 6);
    assert.equal(run.log.keys, 1);
    assert.equal(run.log.users, 1);
    assert.equal(run.log.teams, 1);
    assert.equal(run.log.team_memberships, 2);
    assert.equal(run.log.organizations, 1);
    assert.equal(run.log.organization_memberships, 1);
    assert.equal(run.log.end_users, 1);
    assert.equal(run.log.skipped_invalid_duration, 1);

    assert.equal(period('b-day'), `${utc(2026, 3, 15)},${utc(2026, 3, 16)}`);
    assert.equal(period('b-month'), `${utc(2026, 3, 1)},${utc(2026, 4, 1)}`);
    assert.equal(period('b-week'), `${utc(2026, 3, 9)},${utc(2026, 3, 16)}`, 'Monday to Monday');
    assert.equal(period('b-hours'), `${utc(2026, 3, 15, 12)},${utc(2026, 3, 15, 14)}`);
    assert.equal(period('b-member'), `${utc(2026, 3, 1)},${utc(2026, 4, 1)}`);
    assert.equal(period('b-edge'), `${utc(2026, 3, 15, 12, 34)},${utc(2026, 3, 15, 12, 35)}`);

    assert.equal(spendOf('keys', `token = '${token(1)}'`), 0);
    assert.equal(spendOf('users', "user_id = 'u1'"), 0);
    assert.equal(spendOf('teams', "team_id = 't1'"), 0);
    assert.equal(spendOf('team_memberships', "team_id = 't1' AND user_id = 'u1'"), 0,
        'a membership without a budget follows the team member budget');
    assert.equal(spendOf('team_memberships', "team_id = 't1' AND user_id = 'u2'"), 0,
        'a membership with its own budget follows it');
    assert.equal(spendOf('organizations', "organization_id = 'o1'"), 0);
    assert.equal(spendOf('organization_memberships', "organization_id = 'o1'"), 0);
    assert.equal(spendOf('end_users', "end_user_id = 'e1'"), 0);
});

test('budgets not due and invalid durations are untouched', () => {
    assert.equal(period('b-future'), `${utc(2026, 3, 15)},${utc(2026, 3, 16)}`);
    assert.equal(period('b-bad'), `${utc(2026, 2, 1)},${utc(2026, 3, 1)}`);
    assert.equal(period('b-none'), `${utc(2026, 2, 1)},${utc(2026, 3, 1)}`);
    assert.equal(spendOf('keys', `token = '${token(2)}'`), 3);
    assert.equal(spendOf('keys', `token = '${token(3)}'`), 2, 'invalid duration: spend kept');
    assert.equal(spendOf('keys', `token = '${token(4)}'`), 7, 'no budget: spend kept');
    assert.equal(spendOf('users', "user_id = 'u2'"), 1);
    assert.equal(spendOf('users', "user_id = 'u3'"), 2, 'budget without a duration: kept');
    assert.equal(spendOf('teams', "team_id = 't2'"), 6);
    assert.equal(spendOf('team_memberships', "team_id = 't1' AND user_id = 'u3'"), 4,
        'an own budget not due wins over the due team member budget');
    assert.equal(spendOf('team_memberships', "team_id = 't2' AND user_id = 'u1'"), 3);
    assert.equal(spendOf('organizations', "organization_id = 'o2'"), 8);
    assert.equal(spendOf('organization_memberships', "organization_id = 'o2'"), 1);
    assert.equal(spendOf('end_users', "end_user_id = 'e2'"), 0.3);
});

test('spend history is never touched by a reset', () => {
    assert.equal(stack.psql("SELECT spend FROM spend_logs WHERE request_id = 'r-hist'"), '1.25');
    assert.equal(stack.psql('SELECT spend FROM daily_spend'), '5');
});

test('repeated resets at the same now change nothing', () => {
    stack.psql(`UPDATE keys SET spend = 0.5 WHERE token = '${token(1)}'`);
    const res = runJob(['reset', NOW, 3]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(res.lines.filter((l) => l.result).map((l) => l.count), [0, 0, 0]);
    const logged = res.lines.filter((l) => l.event === 'budget.reset');
    assert.deepEqual(logged.map((l) => l.budgets), [0, 0, 0]);
    assert.deepEqual(logged.map((l) => l.keys), [0, 0, 0]);
    assert.deepEqual(logged.map((l) => l.skipped_invalid_duration), [1, 1, 1]);
    assert.deepEqual(logged.map((l) => l.level), ['warn', 'debug', 'debug'],
        'the skipped budget is a warning once, then rate-limited');
    assert.equal(spendOf('keys', `token = '${token(1)}'`), 0.5, 'spend of the new period is kept');
    assert.equal(period('b-day'), `${utc(2026, 3, 15)},${utc(2026, 3, 16)}`);
});

test('next day resets the daily budgets again', () => {
    const next = utc(2026, 3, 16, 0, 0, 5);
    const run = runOk(['reset', next], 'budget.reset');
    // b-day, b-future (1d), b-hours (2h), b-edge (1m); b-week ends at 03-16 00:00 too.
    assert.equal(run.count, 5);
    assert.equal(period('b-day'), `${utc(2026, 3, 16)},${utc(2026, 3, 17)}`);
    assert.equal(period('b-future'), `${utc(2026, 3, 16)},${utc(2026, 3, 17)}`);
    assert.equal(period('b-week'), `${utc(2026, 3, 16)},${utc(2026, 3, 23)}`);
    assert.equal(period('b-month'), `${utc(2026, 3, 1)},${utc(2026, 4, 1)}`, 'month not due');
    assert.equal(spendOf('keys', `token = '${token(1)}'`), 0);
    assert.equal(spendOf('keys', `token = '${token(2)}'`), 0);
});

test('reset rejects a time outside the calendar', () => {
    const res = runJob(['reset', -1]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /invalid input: budget reset time -1 is outside/);
});

// Inserts `n` spend_logs rows named `${prefix}-<i>` that started at `startS`.
function insertLogs(prefix, n, startS) {
    stack.psql(`INSERT INTO spend_logs (request_id, call_type, spend, start_time, end_time, status)
        SELECT '${prefix}-' || i, 'completion', 0.01, to_timestamp(${startS}),
               to_timestamp(${startS}), 'success' FROM generate_series(1, ${n}) AS i`);
}

const countLogs = (prefix) => Number(stack.psql(
    `SELECT count(*) FROM spend_logs WHERE request_id LIKE '${prefix}-%'`));

test('retention deletes only old rows, in batches', () => {
    const maxAge = 30 * DAY;
    insertLogs('old', 5, NOW - 40 * DAY);
    insertLogs('older', 2, NOW - 400 * DAY);
    insertLogs('cutoff', 1, NOW - maxAge); // exactly the cutoff: not older, kept
    insertLogs('young', 3, NOW - maxAge + 1);
    insertLogs('new', 2, NOW - 60);

    const run = runOk(['retention', NOW, maxAge, 2], 'spend_logs.retention');
    assert.equal(run.count, 7);
    assert.equal(run.log.deleted, 7);
    assert.equal(run.log.batches, 4, 'batches of 2, 2, 2 and 1 rows');
    assert.equal(run.log.finished, true);
    assert.equal(countLogs('old'), 0);
    assert.equal(countLogs('older'), 0);
    assert.equal(countLogs('cutoff'), 1);
    assert.equal(countLogs('young'), 3);
    assert.equal(countLogs('new'), 2);
    assert.equal(stack.psql('SELECT count(*) FROM daily_spend'), '1', 'daily totals are kept');

    const again = runOk(['retention', NOW, maxAge, 2], 'spend_logs.retention');
    assert.equal(again.count, 0);
    assert.equal(again.log.batches, 1);
    assert.equal(again.log.level, 'debug');
});

test('retention of many rows in default-size batches', () => {
    insertLogs('bulk', 2500, NOW - 90 * DAY);
    const run = runOk(['retention', NOW, 30 * DAY, 1000], 'spend_logs.retention');
    assert.equal(run.count, 2500);
    assert.equal(run.log.batches, 3);
    assert.equal(run.log.level, 'info');
    assert.equal(countLogs('bulk'), 0);
    assert.equal(countLogs('young'), 3);
});

test('retention rejects a zero batch or age', () => {
    const noBatch = runJob(['retention', NOW, 30 * DAY, 0]);
    assert.equal(noBatch.code, 1);
    assert.match(noBatch.stderr, /batch of 0 rows is invalid: expected 1 to 100000/);
    const noAge = runJob(['retention', NOW, 0, 10]);
    assert.equal(noAge.code, 1);
    assert.match(noAge.stderr, /retention period 0 s is invalid/);
    assert.equal(countLogs('young'), 3);
});
