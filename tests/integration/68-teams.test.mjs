// SPDX-License-Identifier: Apache-2.0
// The /team/* management routes against a real PostgreSQL and Redis. Covered: create with
// members and budgets, update, block and unblock with their effect on a team key, members,
// and delete with the team's keys. Also who may call what (proxy_admin, team admins, members,
// proxy_admin_viewer), bad input, and the audit_log rows.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs, sleep } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-teams-4e1a' });
let gw;

before(async () => {
    await stack.start();
    gw = await stack.startNode();
    stack.psql("INSERT INTO users (user_id, user_email, user_role) VALUES "
        + "('t-admin', 'admin@example.com', 'internal_user'), "
        + "('t-member', 'member@example.com', 'internal_user'), "
        + "('t-outsider', NULL, 'internal_user'), "
        + "('t-viewer', NULL, 'proxy_admin_viewer')");
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

function as(key) {
    return { authorization: `Bearer ${key}` };
}

async function eventually(fn, what, timeoutMs = 1500) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await fn()) {
            return;
        }
        if (Date.now() > deadline) {
            assert.fail(`${what} within ${timeoutMs} ms`);
        }
        await sleep(20);
    }
}

test('team new with members and budgets shows in info', async () => {
    const created = await stack.ok(gw, 'POST', '/team/new', {
        team_id: 't-life', team_alias: 'Life', models: ['gpt-4o-mini'], max_budget: 10,
        soft_budget: 5, rpm_limit: 100, budget_duration: '30d', tags: ['prod'],
        model_rpm_limit: { 'gpt-4o-mini': 7 }, metadata: { owner: 'ops' },
        team_member_budget: 2, team_member_rpm_limit: 9, team_member_budget_duration: '1d',
        team_member_permissions: ['/key/info'], model_aliases: { small: 'gpt-4o-mini' },
        members_with_roles: [
            { role: 'admin', user_id: 't-admin' },
            { role: 'user', user_email: 'member@example.com' },
            { user_id: 't-brand-new' },
            { user_email: 'fresh@example.com' },
        ],
    });
    assert.equal(created.team_id, 't-life');
    assert.equal(created.team_alias, 'Life');
    assert.deepEqual(created.models, ['gpt-4o-mini']);
    assert.equal(created.max_budget, 10);
    assert.equal(created.soft_budget, 5);
    assert.equal(created.rpm_limit, 100);
    assert.equal(created.litellm_budget_table.max_budget, 10);
    assert.equal(created.litellm_budget_table.budget_duration, '30d');
    assert.equal(created.metadata.owner, 'ops');
    assert.deepEqual(created.metadata.tags, ['prod']);
    assert.deepEqual(created.metadata.model_rpm_limit, { 'gpt-4o-mini': 7 });
    assert.equal(created.metadata.team_member_budget_id, created.member_budget_id);
    assert.equal(created.created_by, 'default_user_id');

    const members = Object.fromEntries(created.members_with_roles.map((m) => [m.user_id, m]));
    assert.equal(members['t-admin'].role, 'admin');
    assert.equal(members['t-member'].role, 'user', 'a user_email finds the existing user');
    assert.equal(members['t-member'].user_email, 'member@example.com');
    assert.equal(members['t-brand-new'].role, 'user');
    assert.equal(created.members_with_roles.length, 4);
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = 't-brand-new'"), '1');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_email = 'fresh@example.com'"),
        '1', 'an unknown user_email creates a user');

    const info = await stack.ok(gw, 'GET', '/team/info?team_id=t-life');
    assert.equal(info.team_id, 't-life');
    assert.equal(info.team_info.max_budget, 10);
    assert.equal(info.team_info.team_member_budget_table.max_budget, 2);
    assert.equal(info.team_info.team_member_budget_table.rpm_limit, 9);
    assert.equal(info.team_info.team_member_budget_table.budget_duration, '1d');
    assert.equal(info.team_info.members_with_roles.length, 4);
    assert.deepEqual(info.keys, []);
    assert.equal(info.team_memberships.length, 4);
    for (const m of info.team_memberships) {
        assert.equal(m.litellm_budget_table.max_budget, 2, 'memberships share the member budget');
    }
    assert.deepEqual(stack.auditActions('teams', 't-life'), ['created']);
    assert.deepEqual(stack.auditActions('team_memberships', 't-life'),
        ['created', 'created', 'created', 'created']);
});

test('team update changes sent fields only', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-upd', team_alias: 'Before',
        max_budget: 3, rpm_limit: 30, metadata: { a: 1 } });
    const res = await stack.ok(gw, 'POST', '/team/update', { team_id: 't-upd',
        team_alias: 'After', max_budget: 4, rpm_limit: null, models: ['m1'], tags: ['x'],
        team_member_budget: 1.5 });
    assert.equal(res.team_id, 't-upd');
    assert.equal(res.data.team_alias, 'After');
    assert.equal(res.data.max_budget, 4);
    assert.equal(res.data.rpm_limit, 30, 'null leaves a field as it was');
    assert.deepEqual(res.data.models, ['m1']);
    assert.equal(res.data.metadata.a, 1);
    assert.deepEqual(res.data.metadata.tags, ['x']);
    assert.ok(res.data.member_budget_id, 'a member budget was created');
    assert.equal(res.data.metadata.team_member_budget_id, res.data.member_budget_id);
    assert.equal(stack.psql(`SELECT max_budget FROM budgets WHERE budget_id = `
        + `'${res.data.member_budget_id}'`), '1.5');

    const again = await stack.ok(gw, 'POST', '/team/update', { team_id: 't-upd',
        team_member_budget: 2.5 });
    assert.equal(again.data.member_budget_id, res.data.member_budget_id,
        'the shared member budget is updated in place');
    assert.equal(stack.psql(`SELECT max_budget FROM budgets WHERE budget_id = `
        + `'${res.data.member_budget_id}'`), '2.5');
    assert.deepEqual(stack.auditActions('teams', 't-upd'), ['created', 'updated', 'updated']);
    const before = JSON.parse(stack.psql("SELECT before_value FROM audit_log WHERE table_name = "
        + "'teams' AND object_id = 't-upd' AND action = 'updated' ORDER BY id LIMIT 1"));
    assert.equal(before.team_alias, 'Before');
    assert.equal(before.max_budget, 3);
});

test('team update with every field at once', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-all' });
    const res = await stack.ok(gw, 'POST', '/team/update', {
        team_id: 't-all', team_alias: 'All', organization_id: null, models: ['a'],
        blocked: false, model_aliases: { b: 'a' }, team_member_permissions: ['/key/info'],
        router_settings: { num_retries: 1 }, max_budget: 9, soft_budget: 1,
        max_parallel_requests: 2, tpm_limit: 3, rpm_limit: 4, budget_duration: '1h',
        model_max_budget: { a: { budget_limit: 1, time_period: '1d' } }, metadata: { z: 1 },
        tags: ['t'], model_rpm_limit: { a: 1 }, model_tpm_limit: { a: 2 },
        team_member_budget: 1, team_member_tpm_limit: 5, team_member_rpm_limit: 6,
        team_member_budget_duration: '7d',
    });
    assert.equal(res.data.max_parallel_requests, 2);
    assert.equal(res.data.budget_duration, '1h');
    assert.deepEqual(res.data.router_settings, { num_retries: 1 });
    assert.deepEqual(res.data.metadata.model_tpm_limit, { a: 2 });
});

test('blocked team key is rejected until unblock', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-block' });
    const key = await stack.generate(gw, { team_id: 't-block' });
    for (let i = 0; i < 3; i++) {
        const res = await stack.call(gw, 'GET', '/v1/models', undefined, as(key.key));
        assert.equal(res.status, 200, res.body);
    }
    const blocked = await stack.ok(gw, 'POST', '/team/block', { team_id: 't-block' });
    assert.equal(blocked.blocked, true);
    await eventually(async () => {
        const res = await stack.call(gw, 'GET', '/v1/models', undefined, as(key.key));
        return res.status === 401 && res.json().error.message
            === 'Authentication Error, Team=t-block is blocked. Update via `/team/unblock` '
            + 'if your admin.';
    }, 'the blocked team key was not rejected');

    const unblocked = await stack.ok(gw, 'POST', '/team/unblock', { team_id: 't-block' });
    assert.equal(unblocked.blocked, false);
    await eventually(async () => {
        const res = await stack.call(gw, 'GET', '/v1/models', undefined, as(key.key));
        return res.status === 200;
    }, 'the unblocked team key was not accepted');
    assert.deepEqual(stack.auditActions('teams', 't-block'), ['created', 'blocked', 'unblocked']);

    const info = await stack.ok(gw, 'GET', '/team/info?team_id=t-block', undefined, as(key.key));
    assert.equal(info.keys.length, 1, 'a key of the team may read its team');
    assert.equal(info.keys[0].token, key.token);
    const res = await stack.call(gw, 'GET', '/team/info?team_id=t-life', undefined, as(key.key));
    expectErrorEnvelope(assert, res, 403);
});

test('member add, update and delete', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-mem', team_member_budget: 4 });
    const added = await stack.ok(gw, 'POST', '/team/member_add', { team_id: 't-mem',
        member: { role: 'user', user_id: 't-member' }, max_budget_in_team: 1.25 });
    assert.equal(added.team_id, 't-mem');
    assert.deepEqual(added.members_with_roles.map((m) => m.user_id), ['t-member']);
    assert.equal(added.updated_users.length, 1);
    assert.equal(added.updated_users[0].user_id, 't-member');
    assert.equal(added.updated_team_memberships.length, 1);
    assert.equal(added.updated_team_memberships[0].litellm_budget_table.max_budget, 1.25);

    const list = await stack.ok(gw, 'POST', '/team/member_add', { team_id: 't-mem',
        member: [{ role: 'admin', user_id: 't-admin' }, { user_id: 't-member' },
            { user_email: 'new-member@example.com' }] });
    assert.equal(list.members_with_roles.length, 3, 'members already in the team are skipped');
    assert.equal(list.updated_users.length, 2);
    assert.equal(list.updated_team_memberships[0].litellm_budget_table.max_budget, 4,
        'a member without a budget of their own uses the team member budget');

    let res = await stack.call(gw, 'POST', '/team/member_add', { team_id: 't-mem',
        member: { role: 'user', user_id: 't-member' } });
    let err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.type, 'team_member_already_in_team');
    assert.match(err.message, /User already in team=t-mem. Member: t-member/);

    const updated = await stack.ok(gw, 'POST', '/team/member_update', { team_id: 't-mem',
        user_email: 'MEMBER@example.com', role: 'admin', max_budget_in_team: 3, rpm_limit: 11 });
    assert.equal(updated.user_id, 't-member');
    assert.equal(updated.role, 'admin');
    assert.equal(updated.max_budget_in_team, 3);
    assert.equal(updated.rpm_limit, 11);
    assert.equal(stack.psql("SELECT role FROM team_memberships WHERE team_id = 't-mem' AND "
        + "user_id = 't-member'"), 'admin');

    const shared = await stack.ok(gw, 'POST', '/team/member_update', { team_id: 't-mem',
        user_id: 't-admin', max_budget_in_team: 0.5 });
    assert.equal(shared.max_budget_in_team, 0.5);
    const memberBudget = stack.psql("SELECT member_budget_id FROM teams WHERE team_id = 't-mem'");
    assert.equal(stack.psql(`SELECT max_budget FROM budgets WHERE budget_id = '${memberBudget}'`),
        '4', 'the shared member budget is left alone');

    const removed = await stack.ok(gw, 'POST', '/team/member_delete', { team_id: 't-mem',
        user_id: 't-member' });
    assert.deepEqual(removed.members_with_roles.map((m) => m.user_id).sort(),
        ['t-admin', stack.psql("SELECT user_id FROM users WHERE user_email = "
            + "'new-member@example.com'")].sort());
    res = await stack.call(gw, 'POST', '/team/member_delete', { team_id: 't-mem',
        user_id: 't-member' });
    err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /User not found in team=t-mem/);
    assert.deepEqual(stack.auditActions('team_memberships', 't-mem'),
        ['created', 'created', 'created', 'updated', 'updated', 'deleted']);
});

test('team delete removes its keys', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-del',
        members_with_roles: [{ role: 'user', user_id: 't-member' }] });
    const key = await stack.generate(gw, { team_id: 't-del' });
    let res = await stack.call(gw, 'GET', '/v1/models', undefined, as(key.key));
    assert.equal(res.status, 200, res.body);

    res = await stack.call(gw, 'POST', '/team/delete', { team_ids: ['t-del', 't-nope'] });
    let err = expectErrorEnvelope(assert, res, 404);
    assert.match(err.message, /t-nope/);
    assert.equal(stack.psql("SELECT count(*) FROM teams WHERE team_id = 't-del'"), '1');
    assert.equal(stack.psql(`SELECT count(*) FROM keys WHERE token = '${key.token}'`), '1');

    const deleted = await stack.ok(gw, 'POST', '/team/delete', { team_ids: ['t-del'] });
    assert.deepEqual(deleted.map((t) => t.team_id), ['t-del']);
    assert.equal(stack.psql("SELECT count(*) FROM teams WHERE team_id = 't-del'"), '0');
    assert.equal(stack.psql("SELECT count(*) FROM team_memberships WHERE team_id = 't-del'"), '0');
    assert.equal(stack.psql(`SELECT team_id FROM deleted_keys WHERE token = '${key.token}'`),
        't-del');
    await eventually(async () => {
        const r = await stack.call(gw, 'GET', '/v1/models', undefined, as(key.key));
        return r.status === 401 && r.json().error.type === 'token_not_found_in_db';
    }, 'the deleted team key was not rejected');
    assert.deepEqual(stack.auditActions('teams', 't-del'), ['created', 'deleted']);
    assert.deepEqual(stack.auditActions('keys', key.token), ['created', 'deleted']);

    res = await stack.call(gw, 'POST', '/team/info?team_id=t-del');
    expectErrorEnvelope(assert, res, 405);
    res = await stack.call(gw, 'GET', '/team/info?team_id=t-del');
    err = expectErrorEnvelope(assert, res, 404);
    assert.equal(err.param, 'team_id');
});

test('team admin manages only their own team', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-own',
        members_with_roles: [{ role: 'admin', user_id: 't-admin' },
            { role: 'user', user_id: 't-member' }] });
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-other' });
    const adminKey = await stack.generate(gw, { user_id: 't-admin' });
    const memberKey = await stack.generate(gw, { user_id: 't-member' });

    const added = await stack.ok(gw, 'POST', '/team/member_add', { team_id: 't-own',
        member: { role: 'user', user_id: 't-outsider' } }, as(adminKey.key));
    assert.equal(added.members_with_roles.length, 3);
    const audit = stack.psql("SELECT changed_by FROM audit_log WHERE table_name = "
        + "'team_memberships' AND object_id = 't-own' ORDER BY id DESC LIMIT 1");
    assert.equal(audit, 't-admin');
    await stack.ok(gw, 'POST', '/team/update', { team_id: 't-own', team_alias: 'Mine' },
        as(adminKey.key));

    let res = await stack.call(gw, 'POST', '/team/member_add', { team_id: 't-other',
        member: { role: 'user', user_id: 't-outsider' } }, as(adminKey.key));
    let err = expectErrorEnvelope(assert, res, 403);
    assert.match(err.message, /Only proxy_admin or an admin of team=t-other can call \/team\/member_add/);
    assert.equal(stack.psql("SELECT count(*) FROM team_memberships WHERE team_id = 't-other'"), '0');

    res = await stack.call(gw, 'POST', '/team/new', { team_id: 't-by-admin' }, as(adminKey.key));
    err = expectErrorEnvelope(assert, res, 401);
    assert.match(err.message, /Only proxy admin can be used/);

    res = await stack.call(gw, 'POST', '/team/update', { team_id: 't-own', team_alias: 'X' },
        as(memberKey.key));
    err = expectErrorEnvelope(assert, res, 403);
    assert.match(err.message, /your role in the team=user/);
    // Blocking, limits, models, metadata and the organization stay with proxy_admin, so a
    // team admin cannot lift what an admin set on the team.
    for (const key of [memberKey, adminKey]) {
        for (const route of ['/team/block', '/team/unblock']) {
            res = await stack.call(gw, 'POST', route, { team_id: 't-own' }, as(key.key));
            assert.match(expectErrorEnvelope(assert, res, 401).message, /Only proxy admin/);
        }
    }
    for (const [field, value] of [['max_budget', 1e9], ['rpm_limit', 1e6], ['models', ['*']],
        ['organization_id', 'org-x'], ['team_member_budget', 1e9], ['metadata', {}],
        ['model_rpm_limit', { m: 1 }], ['blocked', false]]) {
        res = await stack.call(gw, 'POST', '/team/update', { team_id: 't-own', [field]: value },
            as(adminKey.key));
        err = expectErrorEnvelope(assert, res, 403);
        assert.equal(err.param, field);
    }
    await stack.ok(gw, 'POST', '/team/update', { team_id: 't-own', tags: ['a'],
        team_member_permissions: ['/key/info'] }, as(adminKey.key));
    res = await stack.call(gw, 'POST', '/team/delete', { team_ids: ['t-own'] }, as(adminKey.key));
    expectErrorEnvelope(assert, res, 401);
    assert.equal(stack.psql("SELECT team_alias FROM teams WHERE team_id = 't-own'"), 'Mine');
});

test('non-admins see only their teams', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-seen',
        members_with_roles: [{ role: 'user', user_id: 't-outsider' }] });
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-hidden' });
    const key = await stack.generate(gw, { user_id: 't-outsider' });

    const list = await stack.ok(gw, 'GET', '/team/list', undefined, as(key.key));
    const ids = list.map((t) => t.team_id);
    assert.ok(ids.includes('t-seen'));
    assert.ok(!ids.includes('t-hidden'));
    for (const team of list) {
        assert.ok(team.members_with_roles.some((m) => m.user_id === 't-outsider'));
    }
    const info = await stack.ok(gw, 'GET', '/team/info?team_id=t-seen', undefined, as(key.key));
    assert.equal(info.team_id, 't-seen');
    let res = await stack.call(gw, 'GET', '/team/info?team_id=t-hidden', undefined, as(key.key));
    expectErrorEnvelope(assert, res, 403);
    res = await stack.call(gw, 'GET', '/team/list?user_id=t-admin', undefined, as(key.key));
    expectErrorEnvelope(assert, res, 403);

    const all = await stack.ok(gw, 'GET', '/team/list');
    assert.ok(all.some((t) => t.team_id === 't-hidden'));
    const filtered = await stack.ok(gw, 'GET', '/team/list?user_id=t-outsider');
    assert.ok(filtered.every((t) => t.members_with_roles.some((m) => m.user_id === 't-outsider')));
});

test('proxy_admin_viewer reads but cannot write', async () => {
    await stack.ok(gw, 'POST', '/team/new', { team_id: 't-view',
        members_with_roles: [{ role: 'admin', user_id: 't-viewer' }] });
    const key = await stack.generate(gw, { user_id: 't-viewer' });
    const viewer = as(key.key);

    await stack.ok(gw, 'GET', '/team/info?team_id=t-life', undefined, viewer);
    const list = await stack.ok(gw, 'GET', '/team/list', undefined, viewer);
    assert.ok(list.some((t) => t.team_id === 't-life'));

    const writes = [
        ['/team/new', { team_id: 't-v2' }],
        ['/team/update', { team_id: 't-view', team_alias: 'no' }],
        ['/team/block', { team_id: 't-view' }],
        ['/team/delete', { team_ids: ['t-view'] }],
        ['/team/member_add', { team_id: 't-view', member: { role: 'user', user_id: 't-member' } }],
        ['/team/member_update', { team_id: 't-view', user_id: 't-viewer', role: 'user' }],
        ['/team/member_delete', { team_id: 't-view', user_id: 't-viewer' }],
    ];
    for (const [route, body] of writes) {
        const res = await stack.call(gw, 'POST', route, body, viewer);
        const err = expectErrorEnvelope(assert, res, 403);
        assert.match(err.message, /role= proxy_admin_viewer/, route);
    }
    assert.equal(stack.psql("SELECT blocked FROM teams WHERE team_id = 't-view'"), 'f');
});

test('bad team input gets a 400 naming the field', async () => {
    const cases = [
        ['/team/new', { models: 'gpt-4o' }, 'models', /list of strings/],
        ['/team/new', { max_budget: -1 }, 'max_budget', /cannot be negative/],
        ['/team/new', { max_budget: 5, soft_budget: 5 }, 'soft_budget', /less than max_budget/],
        ['/team/new', { organization_id: 'org-missing' }, 'organization_id', /does not exist/],
        ['/team/new', { team_id: 7 }, 'team_id', /string/],
        ['/team/new', { metadata: [] }, 'metadata', /JSON object/],
        ['/team/new', { tags: 'a' }, 'tags', /list of strings/],
        ['/team/new', { model_rpm_limit: { a: -1 } }, 'model_rpm_limit', /whole numbers/],
        ['/team/new', { team_member_budget_duration: 'soon' }, 'team_member_budget_duration',
            /Invalid/],
        ['/team/new', { members_with_roles: [{ role: 'owner', user_id: 'u' }] },
            'members_with_roles', /"admin" or "user"/],
        ['/team/new', { members_with_roles: [{ role: 'user' }] }, 'members_with_roles',
            /user_id or a user_email/],
        ['/team/new', { members_with_roles: [{ user_id: 'u' }, { user_id: 'u' }] },
            'members_with_roles', /same user twice/],
        ['/team/update', { team_alias: 'x' }, 'team_id', /Missing team_id/],
        ['/team/block', {}, 'team_id', /Missing team_id/],
        ['/team/delete', { team_ids: [] }, 'team_ids', /1 to 1000/],
        ['/team/delete', { team_ids: [1] }, 'team_ids', /team ids/],
        ['/team/member_add', { team_id: 't-life' }, 'member', /Missing member/],
        ['/team/member_add', { team_id: 't-life', member: { user_id: 'x' },
            max_budget_in_team: 'a' }, 'max_budget_in_team', /number/],
        ['/team/member_delete', { team_id: 't-life' }, 'user_id', /user_id or user_email/],
        ['/team/member_update', { team_id: 't-life', user_id: 't-admin', role: 'boss' }, 'role',
            /"admin" or "user"/],
    ];
    for (const [route, body, param, message] of cases) {
        const res = await stack.call(gw, 'POST', route, body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, `${route} ${JSON.stringify(body)}`);
        assert.match(err.message, message, `${route} ${JSON.stringify(body)}`);
    }
    assert.equal(stack.psql("SELECT count(*) FROM teams WHERE organization_id = 'org-missing'"),
        '0');

    let res = await stack.call(gw, 'POST', '/team/new', { team_id: 't-life' });
    let err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, 'team_id');
    assert.match(err.message, /already exists/);

    for (const route of ['/team/update', '/team/block', '/team/unblock']) {
        res = await stack.call(gw, 'POST', route, { team_id: 't-missing' });
        err = expectErrorEnvelope(assert, res, 404);
        assert.equal(err.message, 'Team not found for team_id=t-missing');
    }
    res = await stack.call(gw, 'POST', '/team/member_add', { team_id: 't-missing',
        member: { user_id: 't-member' } });
    expectErrorEnvelope(assert, res, 404);
    assert.equal(stack.psql("SELECT count(*) FROM team_memberships WHERE team_id = 't-missing'"),
        '0');
    res = await stack.call(gw, 'GET', '/team/info');
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'team_id');
});

test('generated team id is a uuid', async () => {
    const created = await stack.ok(gw, 'POST', '/team/new', { team_alias: 'anon' });
    assert.match(created.team_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(created.members_with_roles, []);
    assert.equal(created.litellm_budget_table, null);
});
