// SPDX-License-Identifier: Apache-2.0
// Input the management API must reject with a 400 before it reaches PostgreSQL: bodies and
// query values that are not UTF-8, strings with \u0000, empty ids, and a key's budget_id
// sent with budget fields; plus budget_id and organization_id on keys and who may set them,
// and the audit rows of users created on the way by other routes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, httpRequest, needs, postJson } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-input-5a7c' });
let gw;

before(async () => {
    await stack.start();
    gw = await stack.startNode();
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('body that is not UTF-8 is 400', async () => {
    const raw = Buffer.concat([Buffer.from('{"user_id":"bad'), Buffer.from([0xff, 0xfe]),
        Buffer.from('x"}')]);
    for (const route of ['/user/new', '/team/new', '/key/generate', '/budget/new',
        '/customer/new']) {
        const res = await httpRequest(`${gw.url}${route}`, { method: 'POST',
            headers: { ...stack.admin, 'content-type': 'application/json',
                'content-length': String(raw.length) }, body: raw });
        const err = expectErrorEnvelope(assert, res, 400);
        assert.match(err.message, /not valid UTF-8/, route);
    }
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id LIKE 'bad%'"), '0');
});

test('nul escape in a string is 400', async () => {
    const res = await postJson(`${gw.url}/key/generate`, '{"key_alias":"a\\u0000b"}',
        stack.admin);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /u0000/);
    assert.equal(stack.psql("SELECT count(*) FROM keys WHERE key_alias = 'a'"), '0');
});

test('query value that is not UTF-8 is 400', async () => {
    for (const route of ['/user/info?user_id=%FF', '/team/info?team_id=%E0%A4',
        '/key/list?user_id=%C0%80', '/user/list?role=%FF', '/model/info?litellm_model_id=%FF']) {
        const res = await stack.call(gw, 'GET', route);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.match(err.message, /not UTF-8/, route);
        assert.ok(!res.body.includes('\ufffd'), `the body echoes no raw byte: ${route}`);
    }
});

test('empty ids are 400 naming the field', async () => {
    const cases = [
        ['/key/generate', { user_id: '' }, 'user_id'],
        ['/key/generate', { key_alias: '' }, 'key_alias'],
        ['/budget/new', { budget_id: '' }, 'budget_id'],
        ['/team/new', { team_id: '' }, 'team_id'],
        ['/customer/new', { user_id: '' }, null],
    ];
    for (const [route, body, param] of cases) {
        const res = await stack.call(gw, 'POST', route, body);
        const err = expectErrorEnvelope(assert, res, 400);
        if (param !== null) {
            assert.equal(err.param, param, `${route} ${JSON.stringify(body)}`);
        }
    }
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = ''"), '0');
    assert.equal(stack.psql("SELECT count(*) FROM teams WHERE team_id = ''"), '0');
    assert.equal(stack.psql("SELECT count(*) FROM budgets WHERE budget_id = ''"), '0');
});

test('key on an existing budget shows its limits', async () => {
    await stack.ok(gw, 'POST', '/budget/new', { budget_id: 'b-keys', max_budget: 7,
        rpm_limit: 70 });
    const out = await stack.generate(gw, { budget_id: 'b-keys' });
    assert.equal(out.budget_id, 'b-keys');
    assert.equal(out.max_budget, 7);
    assert.equal(out.rpm_limit, 70);
    assert.equal(stack.psql(`SELECT budget_id FROM keys WHERE token = '${out.token}'`), 'b-keys');

    const other = await stack.generate(gw, {});
    const updated = await stack.ok(gw, 'POST', '/key/update', { key: other.token,
        budget_id: 'b-keys' });
    assert.equal(updated.budget_id, 'b-keys');
    assert.equal(updated.rpm_limit, 70);
});

test('key budget_id must exist and excludes budget fields', async () => {
    let res = await stack.call(gw, 'POST', '/key/generate', { budget_id: 'b-missing' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
    res = await stack.call(gw, 'POST', '/key/generate', { budget_id: 'b-keys', max_budget: 1 });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
    res = await stack.call(gw, 'POST', '/key/generate', { budget_id: [] });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
});

test('only admins put keys in organizations and budgets', async () => {
    stack.psql("INSERT INTO users (user_id, user_role) VALUES ('in-user', 'internal_user')");
    stack.psql("INSERT INTO organizations (organization_id, organization_alias) "
        + "VALUES ('org-in', 'in')");
    const own = await stack.generate(gw, { user_id: 'in-user' });
    const as = { authorization: `Bearer ${own.key}` };
    let res = await stack.call(gw, 'POST', '/key/generate', { organization_id: 'org-in' }, as);
    assert.equal(expectErrorEnvelope(assert, res, 403).param, 'organization_id');
    res = await stack.call(gw, 'POST', '/key/update', { key: own.token,
        organization_id: 'org-in' }, as);
    assert.equal(expectErrorEnvelope(assert, res, 403).param, 'organization_id');
    res = await stack.call(gw, 'POST', '/key/generate', { budget_id: 'b-keys' }, as);
    assert.equal(expectErrorEnvelope(assert, res, 403).param, 'budget_id');
    assert.equal(stack.psql("SELECT count(*) FROM keys WHERE organization_id = 'org-in'"), '0');
});

test('user created by a key has an audit row', async () => {
    await stack.generate(gw, { user_id: 'implicit-u1' });
    assert.equal(stack.psql("SELECT user_role FROM users WHERE user_id = 'implicit-u1'"),
        'internal_user');
    assert.deepEqual(stack.auditActions('users', 'implicit-u1'), ['created']);
});

test('user created as a team member has an audit row', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-audit',
        members_with_roles: [{ role: 'user', user_id: 'implicit-u2' }] });
    await stack.ok(gw, 'POST', '/team/member_add', { team_id: 't-audit',
        member: { role: 'user', user_id: 'implicit-u3' } });
    assert.deepEqual(stack.auditActions('users', 'implicit-u2'), ['created']);
    assert.deepEqual(stack.auditActions('users', 'implicit-u3'), ['created']);
});
