// SPDX-License-Identifier: Apache-2.0
// The /budget/* management routes against a real PostgreSQL and Redis: create, update, info,
// list and delete, the rows and audit_log entries they write, a budget in use that cannot be
// deleted, bad input, and which roles may call them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-budgets-7c2d' });
let gw;

before(async () => {
    await stack.start();
    gw = await stack.startNode();
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('budget lifecycle with audit rows', async () => {
    const created = await stack.ok(gw, 'POST', '/budget/new', {
        budget_id: 'b-life', max_budget: 25.5, soft_budget: 20, rpm_limit: 60, tpm_limit: 6000,
        max_parallel_requests: 4, budget_duration: '30d',
        model_max_budget: { 'gpt-4o-mini': { budget_limit: 1, time_period: '1d' } },
    });
    assert.equal(created.budget_id, 'b-life');
    assert.equal(created.max_budget, 25.5);
    assert.equal(created.rpm_limit, 60);
    assert.equal(created.budget_duration, '30d');
    assert.ok(created.budget_reset_at, 'a budget with a duration has a reset time');
    assert.equal(created.budget_period_start, undefined);
    assert.equal(created.created_by, 'default_user_id');

    const updated = await stack.ok(gw, 'POST', '/budget/update', { budget_id: 'b-life',
        max_budget: 30, rpm_limit: null });
    assert.equal(updated.max_budget, 30);
    assert.equal(updated.rpm_limit, 60, 'null leaves a field as it was');

    const info = await stack.ok(gw, 'POST', '/budget/info', { budgets: ['b-life', 'b-none'] });
    assert.equal(info.length, 1);
    assert.equal(info[0].max_budget, 30);

    const list = await stack.ok(gw, 'GET', '/budget/list');
    assert.ok(list.some((b) => b.budget_id === 'b-life'));

    const gone = await stack.ok(gw, 'POST', '/budget/delete', { id: 'b-life' });
    assert.equal(gone.budget_id, 'b-life');
    assert.equal(stack.psql("SELECT count(*) FROM budgets WHERE budget_id = 'b-life'"), '0');
    assert.deepEqual(stack.auditActions('budgets', 'b-life'), ['created', 'updated', 'deleted']);
});

test('a generated budget id is returned', async () => {
    const created = await stack.ok(gw, 'POST', '/budget/new', { max_budget: 1 });
    assert.match(created.budget_id, /^[0-9a-f-]{36}$/);
});

test('a budget that a team points at cannot be deleted', async () => {
    await stack.ok(gw, 'POST', '/budget/new', { budget_id: 'b-used', max_budget: 5 });
    stack.psql("INSERT INTO teams (team_id, budget_id) VALUES ('t-budget', 'b-used')");
    const res = await stack.call(gw, 'POST', '/budget/delete', { id: 'b-used' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /still used/);
    assert.equal(stack.psql("SELECT count(*) FROM budgets WHERE budget_id = 'b-used'"), '1');
});

test('a duplicate budget id is a 400', async () => {
    await stack.ok(gw, 'POST', '/budget/new', { budget_id: 'b-dup' });
    const res = await stack.call(gw, 'POST', '/budget/new', { budget_id: 'b-dup' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, 'budget_id');
});

test('bad budget input gets a 400 naming the field', async () => {
    const cases = [
        [{ max_budget: -1 }, 'max_budget', /cannot be negative/],
        [{ rpm_limit: 1.5 }, 'rpm_limit', /whole number/],
        [{ budget_duration: 'soon' }, 'budget_duration', /Invalid budget_duration/],
        [{ model_max_budget: [] }, 'model_max_budget', /JSON object/],
        [{ budget_id: 7 }, 'budget_id', /string/],
    ];
    for (const [body, param, message] of cases) {
        const res = await stack.call(gw, 'POST', '/budget/new', body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, JSON.stringify(body));
        assert.match(err.message, message);
    }
    let res = await stack.call(gw, 'POST', '/budget/update', { max_budget: 1 });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
    res = await stack.call(gw, 'POST', '/budget/update', { budget_id: 'b-missing' });
    expectErrorEnvelope(assert, res, 404);
    res = await stack.call(gw, 'POST', '/budget/delete', {});
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'id');
    res = await stack.call(gw, 'POST', '/budget/info', { budgets: 'b' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budgets');
    res = await stack.call(gw, 'GET', '/budget/new');
    expectErrorEnvelope(assert, res, 405);
    assert.equal(res.headers.allow, 'POST');
});

test('viewers may read budgets but only proxy_admin may change them', async () => {
    stack.psql("INSERT INTO users (user_id, user_role) VALUES ('bv', 'proxy_admin_viewer'), "
        + "('bu', 'internal_user')");
    const viewer = await stack.generate(gw, { user_id: 'bv' });
    const user = await stack.generate(gw, { user_id: 'bu' });
    const asViewer = { authorization: `Bearer ${viewer.key}` };
    const asUser = { authorization: `Bearer ${user.key}` };

    await stack.ok(gw, 'GET', '/budget/list', undefined, asViewer);
    let res = await stack.call(gw, 'POST', '/budget/new', { max_budget: 1 }, asViewer);
    assert.match(expectErrorEnvelope(assert, res, 403).message, /role= proxy_admin_viewer/);
    res = await stack.call(gw, 'GET', '/budget/list', undefined, asUser);
    assert.match(expectErrorEnvelope(assert, res, 401).message, /Only proxy admin/);
    res = await stack.call(gw, 'POST', '/budget/new', { max_budget: 1 }, asUser);
    expectErrorEnvelope(assert, res, 401);
});

// The UTC period that contains `ms`, as [start, end) in ms, computed apart from the gateway.
function periodOf(duration, ms) {
    const day = 86400000;
    const d = new Date(ms);
    switch (duration) {
    case '30m':
        return [Math.floor(ms / 1800000) * 1800000, Math.floor(ms / 1800000) * 1800000 + 1800000];
    case '1d':
        return [Math.floor(ms / day) * day, Math.floor(ms / day) * day + day];
    case '2w': {
        // Weeks are counted from Monday 1969-12-29, three days before the epoch.
        const anchor = -3 * day;
        const start = anchor + Math.floor((ms - anchor) / (14 * day)) * 14 * day;
        return [start, start + 14 * day];
    }
    case '1mo':
    case '30d':
        return [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
            Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)];
    default:
        throw new Error(`no expected period for ${duration}`);
    }
}

// Checks the stored period of budget row `id` against the period around the call, which may
// have crossed a boundary between `before` and `after`.
function assertPeriod(id, duration, before, after) {
    const row = stack.psql('SELECT (extract(epoch FROM budget_period_start) * 1000)::bigint || '
        + "' ' || (extract(epoch FROM budget_reset_at) * 1000)::bigint FROM budgets "
        + `WHERE budget_id = '${id}'`);
    const [start, end] = row.split(' ').map(Number);
    const expected = [periodOf(duration, before), periodOf(duration, after)];
    assert.ok(expected.some(([s, e]) => s === start && e === end),
        `${duration}: stored [${new Date(start).toISOString()}, ${new Date(end).toISOString()}), `
        + `expected ${expected.map(([s, e]) => new Date(s).toISOString() + '..'
            + new Date(e).toISOString()).join(' or ')}`);
}

test('budget periods are aligned to UTC boundaries', async () => {
    for (const duration of ['30m', '1d', '2w', '1mo', '30d']) {
        const id = `b-period-${duration}`;
        const before = Date.now();
        const created = await stack.ok(gw, 'POST', '/budget/new', { budget_id: id,
            max_budget: 1, budget_duration: duration });
        const after = Date.now();
        assert.equal(created.budget_duration, duration);
        assert.ok(periodOf(duration, before)[1] === Date.parse(created.budget_reset_at)
            || periodOf(duration, after)[1] === Date.parse(created.budget_reset_at),
            `${duration}: budget_reset_at ${created.budget_reset_at}`);
        assertPeriod(id, duration, before, after);
    }

    // A new duration moves the row to the period of that duration.
    const before = Date.now();
    await stack.ok(gw, 'POST', '/budget/update', { budget_id: 'b-period-30m',
        budget_duration: '1mo' });
    assertPeriod('b-period-30m', '1mo', before, Date.now());

    // Without a duration a budget is a lifetime budget: it starts now and never resets.
    await stack.ok(gw, 'POST', '/budget/new', { budget_id: 'b-period-none', max_budget: 1 });
    assert.equal(stack.psql("SELECT budget_period_start IS NOT NULL AND budget_reset_at IS NULL "
        + "FROM budgets WHERE budget_id = 'b-period-none'"), 't');
});

test('key and team budget periods are aligned too', async () => {
    let before = Date.now();
    const key = await stack.generate(gw, { max_budget: 1, budget_duration: '2w' });
    const budgetOf = (hash) => stack.psql(`SELECT budget_id FROM keys WHERE token = '${hash}'`);
    const hash = stack.psql('SELECT token FROM keys ORDER BY created_at DESC LIMIT 1');
    assertPeriod(budgetOf(hash), '2w', before, Date.now());

    before = Date.now();
    await stack.ok(gw, 'POST', '/key/update', { key: key.key, budget_duration: '1d' });
    assertPeriod(budgetOf(hash), '1d', before, Date.now());

    before = Date.now();
    const team = await stack.ok(gw, 'POST', '/team/new', { team_id: 't-period', max_budget: 1,
        budget_duration: '1mo' });
    assert.equal(team.team_id, 't-period');
    const teamBudget = stack.psql("SELECT budget_id FROM teams WHERE team_id = 't-period'");
    assertPeriod(teamBudget, '1mo', before, Date.now());
});

test('every route rejects a budget_duration outside the accepted syntax', async () => {
    const bad = ['1hr', '1y', 'mo', '0d', '-1d', ' 1d', '1 d', '100001s', '1month',
        '1'.repeat(40) + 'd'];
    for (const value of bad) {
        for (const [path, body, param] of [
            ['/budget/new', { budget_duration: value }, 'budget_duration'],
            ['/key/generate', { budget_duration: value }, 'budget_duration'],
            ['/team/new', { team_member_budget_duration: value }, 'team_member_budget_duration'],
        ]) {
            const res = await stack.call(gw, 'POST', path, body);
            const err = expectErrorEnvelope(assert, res, 400);
            assert.equal(err.param, param, `${path} ${JSON.stringify(value)}`);
            assert.match(err.message, new RegExp(`Invalid ${param}`), `${path} ${value}`);
        }
    }
    for (const value of ['1w', '2w', '1mo', '3mo', '100000s']) {
        const res = await stack.call(gw, 'POST', '/budget/new', { budget_duration: value });
        assert.equal(res.status, 200, `${value}: ${JSON.stringify(res.body)}`);
    }
});
