// SPDX-License-Identifier: Apache-2.0
// The /organization/* management routes against a real PostgreSQL and Redis. Covered: the
// lifecycle with its budget row and audit_log rows, members, what an org_admin and a viewer
// may do, a delete rejected while a team belongs to the organization, and bad input. A key's
// cached auth record must be dropped when its organization's models change.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chatBody, expectErrorEnvelope, needs, postJson } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-orgs-41e9' });
let gw;

before(async () => {
    await stack.start();
    gw = await stack.startNode();
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

// Node's HTTP client sends a DELETE body without framing unless content-length is set.
function framed(method, body, headers) {
    if (method !== 'DELETE' || body === undefined) {
        return headers;
    }
    return { ...headers, 'content-length': String(Buffer.byteLength(JSON.stringify(body))) };
}

function call(method, route, body, headers = stack.admin) {
    return stack.call(gw, method, route, body, framed(method, body, headers));
}

function ok(method, route, body, headers = stack.admin) {
    return stack.ok(gw, method, route, body, framed(method, body, headers));
}

// A key whose user has `role`; returns its authorization header.
async function keyWithRole(userId, role) {
    stack.psql(`INSERT INTO users (user_id, user_role) VALUES ('${userId}', '${role}')`);
    const key = await stack.generate(gw, { user_id: userId });
    return { authorization: `Bearer ${key.key}` };
}

test('organization lifecycle with audit rows', async () => {
    const created = await ok('POST', '/organization/new', {
        organization_alias: 'Acme', organization_id: 'org-life', models: ['gpt-4o-mini'],
        max_budget: 50, rpm_limit: 100, budget_duration: '30d', metadata: { tier: 'gold' },
        model_rpm_limit: { 'gpt-4o-mini': 10 },
    });
    assert.equal(created.organization_id, 'org-life');
    assert.equal(created.organization_alias, 'Acme');
    assert.deepEqual(created.models, ['gpt-4o-mini']);
    assert.equal(created.spend, 0);
    assert.equal(created.max_budget, 50);
    assert.equal(created.rpm_limit, 100);
    assert.ok(created.budget_id, 'a budget row was created');
    assert.equal(created.litellm_budget_table.budget_id, created.budget_id);
    assert.equal(created.litellm_budget_table.max_budget, 50);
    assert.deepEqual(created.metadata, { tier: 'gold', model_rpm_limit: { 'gpt-4o-mini': 10 } });
    assert.ok(created.created_at);
    assert.ok(created.updated_at);

    const updated = await ok('PATCH', '/organization/update', {
        organization_id: 'org-life', organization_alias: 'Acme Corp', max_budget: 75,
        models: null,
    });
    assert.equal(updated.organization_alias, 'Acme Corp');
    assert.equal(updated.max_budget, 75);
    assert.equal(updated.budget_id, created.budget_id, 'the budget row is updated in place');
    assert.deepEqual(updated.models, ['gpt-4o-mini'], 'null leaves a field as it was');
    assert.equal(updated.rpm_limit, 100);

    const info = await ok('GET', '/organization/info?organization_id=org-life');
    assert.equal(info.organization_alias, 'Acme Corp');
    assert.deepEqual(info.members, []);
    assert.deepEqual(info.teams, []);
    const posted = await ok('POST', '/organization/info', { organization_id: 'org-life' });
    assert.equal(posted.organization_id, 'org-life');

    const list = await ok('GET', '/organization/list?org_alias=acme');
    assert.deepEqual(list.map((o) => o.organization_id), ['org-life']);
    const byId = await ok('GET', '/organization/list?org_id=org-none');
    assert.deepEqual(byId, []);

    const gone = await ok('DELETE', '/organization/delete',
        { organization_ids: ['org-life'] });
    assert.deepEqual(gone.map((o) => o.organization_id), ['org-life']);
    assert.equal(stack.psql("SELECT count(*) FROM organizations WHERE organization_id = 'org-life'"),
        '0');
    assert.deepEqual(stack.auditActions('organizations', 'org-life'),
        ['created', 'updated', 'deleted']);
    const res = await call('GET', '/organization/info?organization_id=org-life');
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'organization_id');
});

test('organization with an existing budget', async () => {
    await ok('POST', '/budget/new', { budget_id: 'b-org-shared', max_budget: 9 });
    const created = await ok('POST', '/organization/new',
        { organization_alias: 'Shared', budget_id: 'b-org-shared' });
    assert.match(created.organization_id, /^[0-9a-f-]{36}$/);
    assert.equal(created.budget_id, 'b-org-shared');
    assert.equal(created.max_budget, 9);
    const res = await call('POST', '/organization/new',
        { organization_alias: 'Missing', budget_id: 'b-none' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'budget_id');
});

test('member add, update and delete', async () => {
    await ok('POST', '/organization/new',
        { organization_alias: 'Members', organization_id: 'org-m' });
    stack.psql("INSERT INTO users (user_id, user_email) VALUES ('m-old', 'Old@Example.com')");
    const added = await ok('POST', '/organization/member_add', {
        organization_id: 'org-m',
        member: [
            { user_id: 'm-new', role: 'internal_user' },
            { user_email: 'old@example.com', role: 'org_admin' },
            { user_email: 'fresh@example.com', role: 'internal_user_viewer' },
        ],
    });
    assert.equal(added.organization_id, 'org-m');
    assert.equal(added.updated_organization_memberships.length, 3);
    assert.equal(added.updated_users.length, 3);
    assert.equal(stack.psql("SELECT user_role FROM organization_memberships WHERE user_id = 'm-old'"),
        'org_admin');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = 'm-new'"), '1');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_email = 'fresh@example.com'"),
        '1');
    assert.deepEqual(stack.auditActions('users', 'm-new'), ['created']);
    assert.deepEqual(stack.auditActions('organization_memberships', 'org-m/m-new'), ['created']);

    const single = await ok('POST', '/organization/member_add',
        { organization_id: 'org-m', member: { user_id: 'm-one', role: 'internal_user' } });
    assert.equal(single.updated_organization_memberships[0].user_id, 'm-one');
    let res = await call('POST', '/organization/member_add',
        { organization_id: 'org-m', member: { user_id: 'm-one', role: 'internal_user' } });
    assert.match(expectErrorEnvelope(assert, res, 400).message, /already a member/);

    const updated = await ok('PATCH', '/organization/member_update',
        { organization_id: 'org-m', user_id: 'm-new', role: 'org_admin' });
    assert.equal(updated.user_role, 'org_admin');
    const info = await ok('GET', '/organization/info?organization_id=org-m');
    assert.equal(info.members.length, 4);
    assert.equal(info.members.find((m) => m.user_id === 'm-old').user_email, 'Old@Example.com');

    const removed = await ok('DELETE', '/organization/member_delete',
        { organization_id: 'org-m', user_id: 'm-new' });
    assert.equal(removed.user_id, 'm-new');
    assert.deepEqual(stack.auditActions('organization_memberships', 'org-m/m-new'),
        ['created', 'updated', 'deleted']);
    res = await call('DELETE', '/organization/member_delete',
        { organization_id: 'org-m', user_id: 'm-new' });
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'user_id');
    res = await call('PATCH', '/organization/member_update',
        { organization_id: 'org-none', user_id: 'm-old', role: 'org_admin' });
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'organization_id');
});

test('org_admin manages only their organization', async () => {
    await ok('POST', '/organization/new',
        { organization_alias: 'Mine', organization_id: 'org-a' });
    await ok('POST', '/organization/new',
        { organization_alias: 'Theirs', organization_id: 'org-b' });
    const asAdmin = await keyWithRole('oa-user', 'internal_user');
    await ok('POST', '/organization/member_add',
        { organization_id: 'org-a', member: { user_id: 'oa-user', role: 'org_admin' } });

    await ok('POST', '/organization/member_add',
        { organization_id: 'org-a', member: { user_id: 'oa-added', role: 'internal_user' } },
        asAdmin);
    let res = await call('POST', '/organization/member_add',
        { organization_id: 'org-b', member: { user_id: 'oa-added', role: 'internal_user' } },
        asAdmin);
    assert.match(expectErrorEnvelope(assert, res, 403).message, /org_admin of organization org-b/);
    assert.equal(stack.psql("SELECT count(*) FROM organization_memberships WHERE "
        + "organization_id = 'org-b'"), '0');

    const updated = await ok('PATCH', '/organization/update',
        { organization_id: 'org-a', organization_alias: 'Mine 2' }, asAdmin);
    assert.equal(updated.organization_alias, 'Mine 2');
    res = await call('PATCH', '/organization/update',
        { organization_id: 'org-b', organization_alias: 'Taken' }, asAdmin);
    expectErrorEnvelope(assert, res, 403);
    // Limits, budgets and models of their own organization stay with proxy_admin.
    for (const [field, value] of [['max_budget', 1e9], ['models', ['*']], ['rpm_limit', 1e6],
        ['budget_id', 'b-any'], ['metadata', {}], ['model_tpm_limit', { m: 1 }]]) {
        res = await call('PATCH', '/organization/update',
            { organization_id: 'org-a', [field]: value }, asAdmin);
        assert.equal(expectErrorEnvelope(assert, res, 403).param, field);
    }
    res = await call('DELETE', '/organization/delete',
        { organization_ids: ['org-a', 'org-b'] }, asAdmin);
    assert.match(expectErrorEnvelope(assert, res, 403).message, /org-b/);
    assert.equal(stack.psql("SELECT count(*) FROM organizations WHERE organization_id = 'org-a'"),
        '1', 'nothing is deleted when one organization is refused');

    res = await call('POST', '/organization/new', { organization_alias: 'New' }, asAdmin);
    assert.match(expectErrorEnvelope(assert, res, 401).message, /Only proxy admin/);

    await ok('GET', '/organization/info?organization_id=org-a', undefined, asAdmin);
    res = await call('GET', '/organization/info?organization_id=org-b', undefined,
        asAdmin);
    expectErrorEnvelope(assert, res, 403);
    const list = await ok('GET', '/organization/list', undefined, asAdmin);
    assert.deepEqual(list.map((o) => o.organization_id), ['org-a']);

    // A plain member reads the organization but may not change it.
    const asMember = await keyWithRole('oa-member', 'internal_user');
    await ok('POST', '/organization/member_add',
        { organization_id: 'org-a', member: { user_id: 'oa-member', role: 'internal_user' } });
    await ok('GET', '/organization/info?organization_id=org-a', undefined, asMember);
    res = await call('PATCH', '/organization/member_update',
        { organization_id: 'org-a', user_id: 'oa-member', role: 'org_admin' }, asMember);
    expectErrorEnvelope(assert, res, 403);

    // Once demoted, the former org_admin loses the right at once.
    await ok('PATCH', '/organization/member_update',
        { organization_id: 'org-a', user_id: 'oa-user', role: 'internal_user' });
    res = await call('PATCH', '/organization/update',
        { organization_id: 'org-a', organization_alias: 'Mine 3' }, asAdmin);
    expectErrorEnvelope(assert, res, 403);
});

test('viewers read but never write', async () => {
    await ok('POST', '/organization/new',
        { organization_alias: 'Viewed', organization_id: 'org-v' });
    const asViewer = await keyWithRole('ov-viewer', 'proxy_admin_viewer');
    const info = await ok('GET', '/organization/info?organization_id=org-v', undefined,
        asViewer);
    assert.equal(info.organization_id, 'org-v');
    const list = await ok('GET', '/organization/list', undefined, asViewer);
    assert.ok(list.some((o) => o.organization_id === 'org-v'));

    const writes = [
        ['POST', '/organization/new', { organization_alias: 'X' }],
        ['PATCH', '/organization/update', { organization_id: 'org-v', organization_alias: 'X' }],
        ['DELETE', '/organization/delete', { organization_ids: ['org-v'] }],
        ['POST', '/organization/member_add',
            { organization_id: 'org-v', member: { user_id: 'x', role: 'internal_user' } }],
        ['PATCH', '/organization/member_update',
            { organization_id: 'org-v', user_id: 'x', role: 'internal_user' }],
        ['DELETE', '/organization/member_delete', { organization_id: 'org-v', user_id: 'x' }],
    ];
    for (const [method, route, body] of writes) {
        const res = await call(method, route, body, asViewer);
        assert.match(expectErrorEnvelope(assert, res, 403).message, /role= proxy_admin_viewer/,
            route);
    }
    assert.equal(stack.psql("SELECT organization_alias FROM organizations WHERE "
        + "organization_id = 'org-v'"), 'Viewed');
});

test('delete rejected while teams or keys remain', async () => {
    await ok('POST', '/organization/new',
        { organization_alias: 'Busy', organization_id: 'org-busy' });
    stack.psql("INSERT INTO teams (team_id, organization_id) VALUES ('t-busy', 'org-busy')");
    let res = await call('DELETE', '/organization/delete',
        { organization_ids: ['org-busy'] });
    let err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /org-busy still has teams or keys/);
    assert.equal(err.param, 'organization_ids');

    stack.psql("UPDATE teams SET organization_id = NULL WHERE team_id = 't-busy'");
    await stack.generate(gw, { organization_id: 'org-busy' });
    res = await call('DELETE', '/organization/delete',
        { organization_ids: ['org-busy'] });
    err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /still has teams or keys/);
    assert.equal(stack.psql("SELECT count(*) FROM organizations WHERE organization_id = "
        + "'org-busy'"), '1');
    assert.deepEqual(stack.auditActions('organizations', 'org-busy'), ['created']);

    res = await call('DELETE', '/organization/delete',
        { organization_ids: ['org-none'] });
    assert.match(expectErrorEnvelope(assert, res, 404).message, /org-none/);
});

test('key loses a model removed from its organization', async () => {
    await ok('POST', '/organization/new',
        { organization_alias: 'Models', organization_id: 'org-models', models: ['gpt-4o-mini'] });
    const key = await stack.generate(gw, { organization_id: 'org-models' });
    const headers = { authorization: `Bearer ${key.key}` };

    // The upstream is unreachable, so an allowed request fails later, but not with a 401.
    let res = await postJson(`${gw.url}/v1/chat/completions`, chatBody('gpt-4o-mini'), headers);
    stack.bodies.push(res.body);
    assert.notEqual(res.status, 401, res.body);

    await ok('PATCH', '/organization/update',
        { organization_id: 'org-models', models: ['gpt-4o'] });
    res = await postJson(`${gw.url}/v1/chat/completions`, chatBody('gpt-4o-mini'), headers);
    stack.bodies.push(res.body);
    const err = expectErrorEnvelope(assert, res, 401);
    assert.equal(err.type, 'org_model_access_denied');
    assert.match(err.message, /org not allowed to access model/);
});

test('bad input names the field', async () => {
    const cases = [
        ['POST', '/organization/new', {}, 'organization_alias'],
        ['POST', '/organization/new', { organization_alias: 5 }, 'organization_alias'],
        ['POST', '/organization/new', { organization_alias: 'a', models: 'gpt' }, 'models'],
        ['POST', '/organization/new', { organization_alias: 'a', max_budget: -1 }, 'max_budget'],
        ['POST', '/organization/new', { organization_alias: 'a', metadata: [] }, 'metadata'],
        ['POST', '/organization/new', { organization_alias: 'a', model_tpm_limit: 3 },
            'model_tpm_limit'],
        ['POST', '/organization/new', { organization_alias: 'a', budget_id: 'b', max_budget: 1 },
            'budget_id'],
        ['POST', '/organization/new', { organization_alias: 'a', organization_id: ['x'] },
            'organization_id'],
        ['PATCH', '/organization/update', { organization_alias: 'a' }, 'organization_id'],
        ['PATCH', '/organization/update', { organization_id: 'org-x', budget_duration: 'soon' },
            'budget_duration'],
        ['DELETE', '/organization/delete', {}, 'organization_ids'],
        ['DELETE', '/organization/delete', { organization_ids: [1] }, 'organization_ids'],
        ['POST', '/organization/info', {}, 'organization_id'],
        ['POST', '/organization/member_add', { organization_id: 'o' }, 'member'],
        ['POST', '/organization/member_add',
            { organization_id: 'o', member: { user_id: 'u', role: 'proxy_admin' } }, 'member'],
        ['POST', '/organization/member_add',
            { organization_id: 'o', member: { role: 'internal_user' } }, 'member'],
        ['POST', '/organization/member_add', { organization_id: 'o', member: [] }, 'member'],
        ['PATCH', '/organization/member_update', { organization_id: 'o', user_id: 'u' }, 'role'],
        ['DELETE', '/organization/member_delete', { organization_id: 'o' }, 'user_id'],
    ];
    for (const [method, route, body, param] of cases) {
        const res = await call(method, route, body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, `${route} ${JSON.stringify(body)}`);
    }
    let res = await call('GET', '/organization/info');
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'organization_id');
    await ok('POST', '/organization/new',
        { organization_alias: 'Dup', organization_id: 'org-dup' });
    res = await call('POST', '/organization/new',
        { organization_alias: 'Dup', organization_id: 'org-dup' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'organization_id');
    res = await call('POST', '/organization/update', { organization_id: 'org-dup' });
    expectErrorEnvelope(assert, res, 405);
    assert.equal(res.headers.allow, 'PATCH');
});
