// SPDX-License-Identifier: Apache-2.0
// The /user/* management routes against a real PostgreSQL and Redis. A user is created with
// teams, organizations, a budget and a key, then read, listed, updated and deleted, and the
// rows and audit_log entries of each step are checked. A role or model change must be seen by
// the user's key on its next request. Bad input and the roles allowed on each route are
// covered too.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-users-41ab' });
let gw;

const OTHER_MODEL = `- model_name: other-model
  litellm_params:
    model: openai/other-model
    api_key: sk-upstream-unused
    api_base: http://127.0.0.1:9/v1`;

before(async () => {
    await stack.start();
    gw = await stack.startNode({ models: OTHER_MODEL });
    stack.psql("INSERT INTO teams (team_id, team_alias) VALUES ('ut-a', 'A'), ('ut-b', 'B')");
    stack.psql("INSERT INTO organizations (organization_id, organization_alias) "
        + "VALUES ('uo-1', 'Org one')");
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

// Creates a user with the master key and remembers the key it returns.
async function newUser(body) {
    const out = await stack.ok(gw, 'POST', '/user/new', body);
    if (out.key) {
        stack.remember(out.key);
    }
    return out;
}

function bearer(key) {
    return { authorization: `Bearer ${key}` };
}

async function modelIds(key) {
    const res = await stack.call(gw, 'GET', '/v1/models', undefined, bearer(key));
    assert.equal(res.status, 200, res.body);
    return res.json().data.map((m) => m.id).sort();
}

test('user lifecycle from new to delete', async () => {
    const created = await newUser({
        user_id: 'u-life', user_email: 'Life@Example.com', user_alias: 'Life',
        teams: ['ut-a', { team_id: 'ut-b', max_budget_in_team: 5, user_role: 'admin' }],
        organizations: ['uo-1'], models: ['gpt-4o-mini'], max_budget: 10, budget_duration: '30d',
        rpm_limit: 60, metadata: { dept: 'research' }, model_rpm_limit: { 'gpt-4o-mini': 5 },
        key_alias: 'u-life-key', duration: '1d',
    });
    assert.match(created.key, /^sk-[A-Za-z0-9_-]{22}$/);
    const hash = sha256(created.key);
    assert.equal(created.token, hash);
    assert.equal(created.key_name, `sk-...${created.key.slice(-4)}`);
    assert.equal(created.key_alias, 'u-life-key');
    assert.ok(created.expires, 'a key with a duration expires');
    assert.equal(created.user_id, 'u-life');
    assert.equal(created.user_email, 'Life@Example.com');
    assert.equal(created.user_alias, 'Life');
    assert.equal(created.user_role, 'internal_user');
    assert.equal(created.max_budget, 10);
    assert.equal(created.rpm_limit, 60);
    assert.equal(created.budget_duration, '30d');
    assert.equal(created.litellm_budget_table.max_budget, 10);
    assert.deepEqual(created.teams, ['ut-a', 'ut-b']);
    assert.deepEqual(created.organizations, ['uo-1']);
    assert.deepEqual(created.models, ['gpt-4o-mini']);
    assert.deepEqual(created.metadata, { dept: 'research', model_rpm_limit: { 'gpt-4o-mini': 5 } });
    assert.ok(created.created_at);
    assert.ok(created.updated_at);
    assert.equal(created.created_by, 'default_user_id');

    assert.equal(stack.psql("SELECT user_id || ',' || key_alias || ',' || key_name FROM keys "
        + `WHERE token = '${hash}'`), `u-life,u-life-key,${created.key_name}`);
    assert.equal(stack.psql("SELECT string_agg(m.team_id || ':' || m.role || ':' "
        + "|| COALESCE(b.max_budget::text, '-'), ',' ORDER BY m.team_id) FROM team_memberships m "
        + "LEFT JOIN budgets b ON b.budget_id = m.budget_id WHERE m.user_id = 'u-life'"),
        'ut-a:user:-,ut-b:admin:5');
    assert.equal(stack.psql("SELECT organization_id || ':' || user_role FROM "
        + "organization_memberships WHERE user_id = 'u-life'"), 'uo-1:internal_user');

    // The key works, limited to the user's models, and shows its user.
    assert.deepEqual(await modelIds(created.key), ['gpt-4o-mini']);
    const keyInfo = await stack.ok(gw, 'GET', `/key/info?key=${hash}`);
    assert.equal(keyInfo.info.user_id, 'u-life');
    const ownKeyInfo = await stack.ok(gw, 'GET', '/key/info', undefined, bearer(created.key));
    assert.equal(ownKeyInfo.info.user_id, 'u-life');
    assert.equal(ownKeyInfo.info.key_alias, 'u-life-key');

    const info = await stack.ok(gw, 'GET', '/user/info?user_id=u-life');
    assert.equal(info.user_id, 'u-life');
    assert.equal(info.user_info.max_budget, 10);
    assert.equal(info.user_info.user_email, 'Life@Example.com');
    assert.deepEqual(info.user_info.teams, ['ut-a', 'ut-b']);
    assert.equal(info.keys.length, 1);
    assert.equal(info.keys[0].token_id, hash);
    assert.equal(info.keys[0].token, undefined, 'keys are listed without the token member');
    assert.equal(info.keys[0].key_alias, 'u-life-key');
    assert.deepEqual(info.teams.map((t) => t.team_id), ['ut-a', 'ut-b']);
    assert.equal(info.teams[1].team_alias, 'B');

    // The key's record is cached now; a role and model change must reach the next request.
    let res = await stack.call(gw, 'GET', '/budget/list', undefined, bearer(created.key));
    expectErrorEnvelope(assert, res, 401);
    const updated = await stack.ok(gw, 'POST', '/user/update', {
        user_id: 'u-life', user_role: 'proxy_admin_viewer', max_budget: 20, models: [],
        user_alias: null,
    });
    assert.equal(updated.user_role, 'proxy_admin_viewer');
    assert.equal(updated.max_budget, 20);
    assert.equal(updated.rpm_limit, 60, 'a budget field left out stays');
    assert.equal(updated.user_alias, 'Life', 'null leaves a field unchanged');
    assert.equal(updated.litellm_budget_table.budget_id, created.litellm_budget_table.budget_id);
    await stack.ok(gw, 'GET', '/budget/list', undefined, bearer(created.key));
    assert.deepEqual(await modelIds(created.key), ['gpt-4o-mini', 'other-model']);

    const deleted = await stack.ok(gw, 'POST', '/user/delete', { user_ids: ['u-life'] });
    assert.deepEqual(deleted, { deleted_users: ['u-life'] });
    res = await stack.call(gw, 'GET', '/v1/models', undefined, bearer(created.key));
    expectErrorEnvelope(assert, res, 401);
    assert.equal(stack.psql("SELECT user_id || ',' || deleted_by FROM deleted_keys "
        + `WHERE token = '${hash}'`), 'u-life,default_user_id');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = 'u-life'"), '0');
    assert.equal(stack.psql("SELECT count(*) FROM team_memberships WHERE user_id = 'u-life'"), '0');
    assert.equal(stack.psql(`SELECT count(*) FROM keys WHERE token = '${hash}'`), '0');

    assert.deepEqual(stack.auditActions('users', 'u-life'), ['created', 'updated', 'deleted']);
    assert.deepEqual(stack.auditActions('keys', hash), ['created', 'deleted']);
    assert.equal(stack.psql("SELECT updated_values->>'user_role' FROM audit_log WHERE "
        + "table_name = 'users' AND object_id = 'u-life' AND action = 'updated'"),
        'proxy_admin_viewer');
});

test('user without auto key has no key row', async () => {
    const created = await newUser({ auto_create_key: false, user_email: 'nokey@example.com' });
    assert.match(created.user_id, /^[0-9a-f-]{36}$/);
    assert.equal(created.key, undefined);
    assert.equal(created.token, undefined);
    assert.equal(created.max_budget, null);
    assert.equal(created.litellm_budget_table, null);
    assert.deepEqual(created.teams, []);
    assert.equal(stack.psql(`SELECT count(*) FROM keys WHERE user_id = '${created.user_id}'`), '0');
    assert.deepEqual(stack.auditActions('users', created.user_id), ['created']);
    const info = await stack.ok(gw, 'GET', `/user/info?user_id=${created.user_id}`);
    assert.deepEqual(info.keys, []);
    assert.deepEqual(info.teams, []);
});

test('user update by email, budget and limits', async () => {
    const created = await newUser({ user_id: 'u-upd', user_email: 'upd@example.com',
        auto_create_key: false, metadata: { a: 1 } });
    assert.equal(created.budget_id, null);

    const updated = await stack.ok(gw, 'POST', '/user/update', { user_email: 'upd@example.com',
        tpm_limit: 1000, model_tpm_limit: { 'gpt-4o-mini': 10 } });
    assert.equal(updated.user_id, 'u-upd');
    assert.equal(updated.tpm_limit, 1000);
    assert.ok(updated.budget_id, 'a budget row is created for a user without one');
    assert.deepEqual(updated.metadata, { a: 1, model_tpm_limit: { 'gpt-4o-mini': 10 } });
    assert.equal(stack.psql("SELECT b.tpm_limit FROM users u JOIN budgets b USING (budget_id) "
        + "WHERE u.user_id = 'u-upd'"), '1000');

    const replaced = await stack.ok(gw, 'POST', '/user/update', { user_id: 'u-upd',
        metadata: { b: 2 }, user_email: 'new@example.com', sso_user_id: 'sso-upd' });
    assert.deepEqual(replaced.metadata, { b: 2 }, 'metadata replaces the stored object');
    assert.equal(replaced.user_email, 'new@example.com');
    assert.equal(replaced.sso_user_id, 'sso-upd');

    let res = await stack.call(gw, 'POST', '/user/update', { user_id: 'u-missing', max_budget: 1 });
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'user_id');
    res = await stack.call(gw, 'POST', '/user/update', { user_email: 'missing@example.com' });
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'user_email');
    await newUser({ user_id: 'u-twin-1', user_email: 'twin@example.com', auto_create_key: false });
    await newUser({ user_id: 'u-twin-2', user_email: 'twin@example.com', auto_create_key: false });
    res = await stack.call(gw, 'POST', '/user/update', { user_email: 'twin@example.com',
        user_alias: 'x' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, 'user_email');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_alias = 'x'"), '0');
});

test('user list filters and pages', async () => {
    for (let i = 0; i < 3; i++) {
        await newUser({ user_id: `u-list-${i}`, user_email: `List${i}@Example.com`,
            auto_create_key: false, user_role: i === 0 ? 'internal_user_viewer' : undefined,
            teams: i < 2 ? ['ut-a'] : [] });
    }
    let list = await stack.ok(gw, 'GET', '/user/list?user_ids=u-list-0,%20u-list-2,u-none');
    assert.deepEqual(list.users.map((u) => u.user_id).sort(), ['u-list-0', 'u-list-2']);
    assert.equal(list.total, 2);
    assert.equal(list.page, 1);
    assert.equal(list.page_size, 25);
    assert.equal(list.total_pages, 1);

    list = await stack.ok(gw, 'GET', '/user/list?team=ut-a&user_email=list');
    assert.deepEqual(list.users.map((u) => u.user_id).sort(), ['u-list-0', 'u-list-1']);
    assert.deepEqual(list.users[0].teams, ['ut-a']);

    list = await stack.ok(gw, 'GET', '/user/list?role=internal_user_viewer&user_email=LIST');
    assert.deepEqual(list.users.map((u) => u.user_id), ['u-list-0']);

    const seen = [];
    for (let page = 1; page <= 3; page++) {
        list = await stack.ok(gw, 'GET', `/user/list?user_email=list&page_size=1&page=${page}`);
        assert.equal(list.total, 3);
        assert.equal(list.total_pages, 3);
        assert.equal(list.users.length, 1);
        seen.push(list.users[0].user_id);
    }
    assert.deepEqual(seen.sort(), ['u-list-0', 'u-list-1', 'u-list-2']);
    list = await stack.ok(gw, 'GET', '/user/list?user_email=list&page_size=2&page=3');
    assert.deepEqual(list.users, []);
});

test('user routes for non-admin roles', async () => {
    const viewer = await newUser({ user_id: 'u-viewer', user_role: 'proxy_admin_viewer' });
    const member = await newUser({ user_id: 'u-member' });
    const asViewer = bearer(viewer.key);
    const asMember = bearer(member.key);
    const writes = [
        ['/user/new', { user_id: 'u-by-other' }],
        ['/user/update', { user_id: 'u-member', user_role: 'proxy_admin' }],
        ['/user/delete', { user_ids: ['u-member'] }],
    ];

    for (const [route, body] of writes) {
        let res = await stack.call(gw, 'POST', route, body, asViewer);
        let err = expectErrorEnvelope(assert, res, 403);
        assert.equal(err.message, 'user not allowed to access this route, role= '
            + `proxy_admin_viewer. Trying to access: ${route}`);
        res = await stack.call(gw, 'POST', route, body, asMember);
        err = expectErrorEnvelope(assert, res, 401);
        assert.match(err.message, /^Authentication Error, Only proxy admin can be used/);
        assert.match(err.message, new RegExp(`Route=${route}\\. Your role=internal_user\\.`));
    }
    assert.equal(stack.psql("SELECT user_role FROM users WHERE user_id = 'u-member'"),
        'internal_user');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = 'u-by-other'"), '0');

    let res = await stack.call(gw, 'GET', '/user/list', undefined, asMember);
    expectErrorEnvelope(assert, res, 401);
    const list = await stack.ok(gw, 'GET', '/user/list?user_ids=u-member', undefined, asViewer);
    assert.equal(list.total, 1);

    const own = await stack.ok(gw, 'GET', '/user/info', undefined, asMember);
    assert.equal(own.user_id, 'u-member');
    assert.equal(own.keys.length, 1);
    await stack.ok(gw, 'GET', '/user/info?user_id=u-member', undefined, asMember);
    res = await stack.call(gw, 'GET', '/user/info?user_id=u-viewer', undefined, asMember);
    const err = expectErrorEnvelope(assert, res, 403);
    assert.equal(err.message, "key not allowed to access this user's info. user_id=u-viewer, "
        + "key's user_id=u-member");
    const other = await stack.ok(gw, 'GET', '/user/info?user_id=u-member', undefined, asViewer);
    assert.equal(other.user_info.user_role, 'internal_user');
});

test('bad user input gets a 400 naming the field', async () => {
    const usersBefore = stack.psql('SELECT count(*) FROM users');
    const cases = [
        [{ user_role: 'boss' }, 'user_role', /Invalid user_role 'boss'/],
        [{ user_id: 7 }, 'user_id', /string/],
        [{ user_id: '' }, 'user_id', /empty/],
        [{ teams: 'ut-a' }, 'teams', /list/],
        [{ teams: [{}] }, 'teams', /team ids/],
        [{ teams: [{ team_id: 'ut-a', user_role: 'owner' }] }, 'teams', /"admin" or "user"/],
        [{ teams: [{ team_id: 'ut-a', max_budget_in_team: -1 }] }, 'teams', /max_budget_in_team/],
        [{ teams: ['ut-a', 'ut-a'] }, 'teams', /more than once/],
        [{ organizations: [1] }, 'organizations', /organization ids/],
        [{ max_budget: -1 }, 'max_budget', /cannot be negative/],
        [{ duration: 'soon' }, 'duration', /Invalid duration/],
        [{ auto_create_key: 'yes' }, 'auto_create_key', /true or false/],
        [{ model_rpm_limit: { m: -1 } }, 'model_rpm_limit', /whole numbers/],
        [{ models: 'all' }, 'models', /list of strings/],
        [{ metadata: [] }, 'metadata', /JSON object/],
        [{ teams: ['ut-a', 'ut-none'] }, 'teams', /Team not found: \["ut-none"\]/],
        [{ organizations: ['uo-none'] }, 'organizations', /Organization not found/],
    ];
    for (const [body, param, message] of cases) {
        const res = await stack.call(gw, 'POST', '/user/new', body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, JSON.stringify(body));
        assert.match(err.message, message, JSON.stringify(body));
    }
    assert.equal(stack.psql('SELECT count(*) FROM users'), usersBefore, 'nothing was created');

    await newUser({ user_id: 'u-dup', sso_user_id: 'sso-dup', key_alias: 'dup-alias' });
    const duplicates = [
        [{ user_id: 'u-dup' }, 'user_id', /user_id=u-dup already exists/],
        [{ user_id: 'u-dup-2', sso_user_id: 'sso-dup' }, 'sso_user_id', /sso_user_id=sso-dup/],
        [{ user_id: 'u-dup-3', key_alias: 'dup-alias' }, 'key_alias', /alias 'dup-alias'/],
    ];
    for (const [body, param, message] of duplicates) {
        const res = await stack.call(gw, 'POST', '/user/new', body);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param);
        assert.match(err.message, message);
    }
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id IN ('u-dup-2', 'u-dup-3')"),
        '0', 'a failed key insert leaves no user behind');

    let res = await stack.call(gw, 'POST', '/user/update', { max_budget: 1 });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_id');
    res = await stack.call(gw, 'POST', '/user/update', { user_id: 'u-dup', teams: ['ut-a'] });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'teams');
    res = await stack.call(gw, 'POST', '/user/update', { user_id: 'u-dup', user_role: 'root' });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_role');
    res = await stack.call(gw, 'POST', '/user/delete', {});
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_ids');
    res = await stack.call(gw, 'POST', '/user/delete', { user_ids: [] });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_ids');
    res = await stack.call(gw, 'POST', '/user/delete', { user_ids: [3] });
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'user_ids');
    res = await stack.call(gw, 'POST', '/user/delete', { user_ids: ['u-dup', 'u-none'] });
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'user_ids');
    assert.equal(stack.psql("SELECT count(*) FROM users WHERE user_id = 'u-dup'"), '1');
    assert.equal(stack.psql("SELECT count(*) FROM keys WHERE user_id = 'u-dup'"), '1');
    res = await stack.call(gw, 'GET', '/user/list?page_size=101');
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'page_size');
    res = await stack.call(gw, 'GET', '/user/list?role=boss');
    assert.equal(expectErrorEnvelope(assert, res, 400).param, 'role');
    res = await stack.call(gw, 'GET', '/user/info?user_id=u-none');
    assert.equal(expectErrorEnvelope(assert, res, 404).param, 'user_id');
    res = await stack.call(gw, 'GET', '/user/new');
    expectErrorEnvelope(assert, res, 405);
    assert.equal(res.headers.allow, 'POST');
});
