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
