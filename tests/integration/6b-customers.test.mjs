// SPDX-License-Identifier: Apache-2.0
// The /customer/* management routes (also served under /end_user/) against a real PostgreSQL
// and Redis. Covered: the lifecycle with its budget row and audit_log rows, block and
// unblock, the rules on budget_id and allowed_model_region, bad input, and which roles may
// call them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-customers-5a80' });
let gw;

before(async () => {
    await stack.start();
    gw = await stack.startNode();
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('customer lifecycle with audit rows', async () => {
    const created = await stack.ok(gw, 'POST', '/customer/new', {
        user_id: 'cust-life', alias: 'Life', max_budget: 10, rpm_limit: 30,
        budget_duration: '1d', allowed_model_region: 'eu', default_model: 'gpt-4o-mini',
    });
    assert.equal(created.user_id, 'cust-life');
    assert.equal(created.alias, 'Life');
    assert.equal(created.blocked, false);
    assert.equal(created.spend, 0);
    assert.equal(created.allowed_model_region, 'eu');
    assert.equal(created.default_model, 'gpt-4o-mini');
    assert.equal(created.litellm_budget_table.max_budget, 10);
    assert.equal(created.litellm_budget_table.rpm_limit, 30);
    assert.equal(created.litellm_budget_table.budget_period_start, undefined);

    const info = await stack.ok(gw, 'GET', '/customer/info?end_user_id=cust-life');
    assert.equal(info.alias, 'Life');
    assert.equal(info.litellm_budget_table.budget_id, created.litellm_budget_table.budget_id);

    const updated = await stack.ok(gw, 'POST', '/customer/update',
        { user_id: 'cust-life', max_budget: 20, alias: null, allowed_model_region: 'us' });
    assert.equal(updated.alias, 'Life', 'null leaves a field as it was');
    assert.equal(updated.allowed_model_region, 'us');
    assert.equal(updated.litellm_budget_table.max_budget, 20);
    assert.equal(updated.litellm_budget_table.rpm_limit, 30);
    assert.equal(updated.budget_id, created.budget_id, 'the budget row is updated in place');

    const list = await stack.ok(gw, 'GET', '/customer/list');
    assert.ok(list.some((c) => c.user_id === 'cust-life'));

    const gone = await stack.ok(gw, 'POST', '/customer/delete', { user_ids: ['cust-life'] });
    assert.equal(gone.deleted_customers, 1);
    assert.equal(gone.message, "Successfully deleted customers with ids: ['cust-life']");
    assert.equal(stack.psql("SELECT count(*) FROM end_users WHERE end_user_id = 'cust-life'"),
        '0');
    assert.deepEqual(stack.auditActions('end_users', 'cust-life'),
        ['created', 'updated', 'deleted']);
    const res = await stack.call(gw, 'GET', '/customer/info?end_user_id=cust-life');
    assert.match(expectErrorEnvelope(assert, res, 404).message,
        /End User Id=cust-life does not exist/);
});

test('end_user prefix serves the same routes', async () => {
    const created = await stack.ok(gw, 'POST', '/end_user/new', { user_id: 'cust-alias' });
    assert.equal(created.litellm_budget_table, null, 'no budget fields, no budget row');
    assert.equal(created.budget_id, null);
    const info = await stack.ok(gw, 'GET', '/end_user/info?end_user_id=cust-alias');
    assert.equal(info.user_id, 'cust-alias');
    await stack.ok(gw, 'POST', '/end_user/update', { user_id: 'cust-alias', alias: 'A' });
    await stack.ok(gw, 'POST', '/end_user/block', { user_ids: ['cust-alias'] });
    await stack.ok(gw, 'POST', '/end_user/unblock', { user_ids: ['cust-alias'] });
    const list = await stack.ok(gw, 'GET', '/end_user/list');
    assert.ok(list.some((c) => c.user_id === 'cust-alias' && c.alias === 'A'));
    await stack.ok(gw, 'POST', '/end_user/delete', { user_ids: ['cust-alias'] });
    assert.deepEqual(stack.auditActions('end_users', 'cust-alias'),
        ['created', 'updated', 'blocked', 'unblocked', 'deleted']);
});

test('block creates missing customers and unblock reverts', async () => {
    await stack.ok(gw, 'POST', '/customer/new', { user_id: 'cust-b1' });
    const blocked = await stack.ok(gw, 'POST', '/customer/block',
        { user_ids: ['cust-b1', 'cust-b2'] });
    assert.deepEqual(blocked.blocked_users.map((c) => [c.user_id, c.blocked]),
        [['cust-b1', true], ['cust-b2', true]]);
    assert.equal(stack.psql("SELECT blocked FROM end_users WHERE end_user_id = 'cust-b2'"), 't');

    let res = await stack.call(gw, 'POST', '/customer/unblock',
        { user_ids: ['cust-b1', 'cust-missing'] });
    assert.match(expectErrorEnvelope(assert, res, 404).message, /cust-missing/);
    assert.equal(stack.psql("SELECT blocked FROM end_users WHERE end_user_id = 'cust-b1'"), 't',
        'an unknown id unblocks nothing');

    const unblocked = await stack.ok(gw, 'POST', '/customer/unblock',
        { user_ids: ['cust-b1', 'cust-b2'] });
    assert.deepEqual(unblocked.unblocked_users.map((c) => c.blocked), [false, false]);
    assert.deepEqual(stack.auditActions('end_users', 'cust-b2'), ['blocked', 'unblocked']);

    res = await stack.call(gw, 'POST', '/customer/delete', { user_ids: ['cust-b1', 'cust-x'] });
    assert.match(expectErrorEnvelope(assert, res, 404).message, /cust-x/);
    assert.equal(stack.psql("SELECT count(*) FROM end_users WHERE end_user_id = 'cust-b1'"), '1',
        'an unknown id deletes nothing');
});

test('customer with an existing budget_id', async () => {
    await stack.ok(gw, 'POST', '/budget/new', { budget_id: 'b-cust', max_budget: 3 });
    const created = await stack.ok(gw, 'POST', '/customer/new',
        { user_id: 'cust-shared', budget_id: 'b-cust' });
    assert.equal(created.budget_id, 'b-cust');
    assert.equal(created.litellm_budget_table.max_budget, 3);
    let res = await stack.call(gw, 'POST', '/customer/new',
        { user_id: 'cust-nobudget', budget_id: 'b-none' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
    res = await stack.call(gw, 'POST', '/customer/new', { user_id: 'cust-shared' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_id');
});

test('bad customer input names the field', async () => {
    const cases = [
        ['/customer/new', { user_id: 'c', max_budget: 1, budget_id: 'b' }, 'max_budget',
            /^Set either 'max_budget' or 'budget_id', not both\.$/],
        ['/customer/new', { user_id: 'c', allowed_model_region: 'asia' },
            'allowed_model_region', /"eu" or "us"/],
        ['/customer/new', {}, 'user_id', /required/],
        ['/customer/new', { user_id: 5 }, 'user_id', /string/],
        ['/customer/new', { user_id: 'c', blocked: 'yes' }, 'blocked', /true or false/],
        ['/customer/new', { user_id: 'c', spend: -2 }, 'spend', /negative/],
        ['/customer/new', { user_id: 'c', tpm_limit: 'many' }, 'tpm_limit', /number/],
        ['/customer/new', { user_id: 'c', budget_duration: 'x' }, 'budget_duration', /Invalid/],
        ['/customer/new', { user_id: 'c', soft_budget: 1, budget_id: 'b' }, 'budget_id',
            /not both/],
        ['/customer/update', { alias: 'a' }, 'user_id', /required/],
        ['/customer/update', { user_id: 'c', allowed_model_region: 'EU' },
            'allowed_model_region', /"eu" or "us"/],
        ['/customer/delete', {}, 'user_ids', /user_ids/],
        ['/customer/delete', { user_ids: [] }, 'user_ids', /user_ids/],
        ['/customer/block', { user_ids: 'c' }, 'user_ids', /user_ids/],
        ['/customer/unblock', { user_ids: [1] }, 'user_ids', /user_ids/],
    ];
    for (const [route, body, param, message] of cases) {
        const res = await stack.call(gw, 'POST', route, body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, `${route} ${JSON.stringify(body)}`);
        assert.match(err.message, message);
    }
    let res = await stack.call(gw, 'GET', '/customer/info');
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'end_user_id');
    res = await stack.call(gw, 'POST', '/customer/update', { user_id: 'cust-none', alias: 'a' });
    expectErrorEnvelope(assert, res, 404);
    res = await stack.call(gw, 'GET', '/customer/new');
    expectErrorEnvelope(assert, res, 405);
    assert.equal(res.headers.allow, 'POST');
});

test('viewers read customers, others are rejected', async () => {
    await stack.ok(gw, 'POST', '/customer/new', { user_id: 'cust-read' });
    stack.psql("INSERT INTO users (user_id, user_role) VALUES ('cv', 'proxy_admin_viewer'), "
        + "('cu', 'internal_user')");
    const viewer = await stack.generate(gw, { user_id: 'cv' });
    const user = await stack.generate(gw, { user_id: 'cu' });
    const asViewer = { authorization: `Bearer ${viewer.key}` };
    const asUser = { authorization: `Bearer ${user.key}` };

    await stack.ok(gw, 'GET', '/customer/info?end_user_id=cust-read', undefined, asViewer);
    await stack.ok(gw, 'GET', '/customer/list', undefined, asViewer);
    const writes = [
        ['/customer/new', { user_id: 'cust-v' }],
        ['/customer/update', { user_id: 'cust-read', alias: 'v' }],
        ['/customer/delete', { user_ids: ['cust-read'] }],
        ['/customer/block', { user_ids: ['cust-read'] }],
        ['/end_user/unblock', { user_ids: ['cust-read'] }],
    ];
    for (const [route, body] of writes) {
        let res = await stack.call(gw, 'POST', route, body, asViewer);
        assert.match(expectErrorEnvelope(assert, res, 403).message, /role= proxy_admin_viewer/);
        res = await stack.call(gw, 'POST', route, body, asUser);
        assert.match(expectErrorEnvelope(assert, res, 401).message, /Only proxy admin/);
    }
    const res = await stack.call(gw, 'GET', '/customer/list', undefined, asUser);
    expectErrorEnvelope(assert, res, 401);
    assert.equal(stack.psql("SELECT blocked FROM end_users WHERE end_user_id = 'cust-read'"), 'f');
});
