// SPDX-License-Identifier: Apache-2.0
// Who may create and manage which keys: team keys by team admins and permitted members under
// key_generation_settings, personal keys forbidden for a role, required params, team admins
// managing their team's keys, a key's allowed_routes (and key_type) on every route, and
// /model/info showing a key only its models.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-keyroles-41b0' });
let gw;
let strict;
let asAdmin;
let asMember;
let asOutsider;

function bearer(key) {
    return { authorization: `Bearer ${key}` };
}

function keyRows(where) {
    return stack.psql(`SELECT count(*) FROM keys WHERE ${where}`);
}

before(async () => {
    await stack.start();
    stack.psql("INSERT INTO teams (team_id, team_alias) VALUES ('t-eng', 'eng'), ('t-ops', 'ops')");
    stack.psql("INSERT INTO users (user_id, user_role) VALUES ('u-lead', 'internal_user'), "
        + "('u-dev', 'internal_user'), ('u-out', 'internal_user')");
    stack.psql("INSERT INTO team_memberships (team_id, user_id, role) VALUES "
        + "('t-eng', 'u-lead', 'admin'), ('t-eng', 'u-dev', 'user')");
    gw = await stack.startNode({ models: `- model_name: other-model
  litellm_params:
    model: openai/other-model
    api_key: sk-upstream-unused
    api_base: http://127.0.0.1:9/v1`, litellm: `
  key_generation_settings:
    personal_key_generation:
      allowed_user_roles: [proxy_admin]
` });
    strict = await stack.startNode({ litellm: `
  key_generation_settings:
    team_key_generation:
      allowed_team_member_roles: [admin]
      required_params: [key_alias]
` });
    // Keys the callers use, created by the master key (personal keys are allowed to admins).
    asAdmin = bearer((await stack.generate(gw, { user_id: 'u-lead' })).key);
    asMember = bearer((await stack.generate(gw, { user_id: 'u-dev' })).key);
    asOutsider = bearer((await stack.generate(gw, { user_id: 'u-out' })).key);
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('personal key forbidden for the role writes no row', async () => {
    const before = keyRows("user_id = 'u-lead'");
    const res = await stack.call(gw, 'POST', '/key/generate', { key_alias: 'lead-personal' },
        asAdmin);
    const err = expectErrorEnvelope(assert, res, 403);
    assert.match(err.message, /Personal key creation has been restricted/);
    assert.equal(keyRows("user_id = 'u-lead'"), before);
    assert.equal(keyRows("key_alias = 'lead-personal'"), '0');
});

test('team admin creates a team key for the team', async () => {
    const res = await stack.call(gw, 'POST', '/key/generate', { team_id: 't-eng',
        key_alias: 'lead-team' }, asAdmin);
    assert.equal(res.status, 200, res.body);
    const out = res.json();
    stack.remember(out.key);
    assert.equal(out.team_id, 't-eng');
    assert.equal(out.user_id, 'u-lead');
    assert.equal(keyRows(`token = '${sha256(out.key)}' AND team_id = 't-eng'`), '1');
});

test('plain member needs the team permission', async () => {
    let res = await stack.call(gw, 'POST', '/key/generate', { team_id: 't-eng' }, asMember);
    const err = expectErrorEnvelope(assert, res, 403);
    assert.match(err.message, /team_member_permissions/);
    assert.equal(keyRows("user_id = 'u-dev' AND team_id = 't-eng'"), '0');

    stack.psql("UPDATE teams SET team_member_permissions = '{/key/info,/key/generate}' "
        + "WHERE team_id = 't-eng'");
    res = await stack.call(gw, 'POST', '/key/generate', { team_id: 't-eng' }, asMember);
    assert.equal(res.status, 200, res.body);
    stack.remember(res.json().key);
    stack.psql("UPDATE teams SET team_member_permissions = '{}' WHERE team_id = 't-eng'");
});

test('non member cannot create a team key', async () => {
    const res = await stack.call(gw, 'POST', '/key/generate', { team_id: 't-eng' }, asOutsider);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, 'User=u-out not assigned to team=t-eng');
    assert.equal(keyRows("user_id = 'u-out' AND team_id IS NOT NULL"), '0');
});

test('team member role outside the allowed roles', async () => {
    stack.psql("UPDATE teams SET team_member_permissions = '{/key/generate}' "
        + "WHERE team_id = 't-eng'");
    const res = await stack.call(strict, 'POST', '/key/generate', { team_id: 't-eng',
        key_alias: 'dev-strict' }, asMember);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, "Team member role user not in allowed_team_member_roles=[\"admin\"]");
    stack.psql("UPDATE teams SET team_member_permissions = '{}' WHERE team_id = 't-eng'");
});

test('required params of team keys', async () => {
    let res = await stack.call(strict, 'POST', '/key/generate', { team_id: 't-eng' }, asAdmin);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, 'Required param key_alias not in data');
    res = await stack.call(strict, 'POST', '/key/generate', { team_id: 't-eng',
        key_alias: 'lead-strict' }, asAdmin);
    assert.equal(res.status, 200, res.body);
    stack.remember(res.json().key);
});

test('team admin manages keys of the team and plain members do not', async () => {
    const devKey = await stack.generate(gw, { user_id: 'u-dev', team_id: 't-eng',
        key_alias: 'dev-team' });
    const otherTeam = await stack.generate(gw, { user_id: 'u-dev', team_id: 't-ops' });

    let res = await stack.call(gw, 'POST', '/key/update', { key: devKey.token,
        metadata: { by: 'lead' } }, asAdmin);
    assert.equal(res.status, 200, res.body);
    res = await stack.call(gw, 'GET', `/key/info?key=${devKey.token}`, undefined, asAdmin);
    assert.equal(res.status, 200, res.body);
    res = await stack.call(gw, 'POST', '/key/update', { key: otherTeam.token,
        metadata: { by: 'lead' } }, asAdmin);
    expectErrorEnvelope(assert, res, 404);

    const leadKey = stack.psql("SELECT token FROM keys WHERE key_alias = 'lead-team'");
    res = await stack.call(gw, 'POST', '/key/update', { key: leadKey, metadata: {} }, asMember);
    expectErrorEnvelope(assert, res, 404);

    res = await stack.call(gw, 'POST', '/key/update', { key: devKey.token, team_id: 't-ops' },
        asAdmin);
    assert.equal(expectErrorEnvelope(assert, res, 403).param, 'team_id');

    res = await stack.call(gw, 'POST', '/key/delete', { keys: [devKey.token] }, asAdmin);
    assert.equal(res.status, 200, res.body);
    assert.equal(keyRows(`token = '${devKey.token}'`), '0');
});

test('allowed_routes limits a key to its routes', async () => {
    const key = (await stack.generate(gw, { allowed_routes: ['/v1/models', '/key/*'] })).key;
    let res = await stack.call(gw, 'GET', '/v1/models', undefined, bearer(key));
    assert.equal(res.status, 200, res.body);
    res = await stack.call(gw, 'POST', '/v1/chat/completions',
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, bearer(key));
    const err = expectErrorEnvelope(assert, res, 403);
    assert.equal(err.message, "Virtual key is not allowed to call this route. Only allowed to "
        + "call routes: ['/v1/models', '/key/*']. Tried to call route: /v1/chat/completions");
    res = await stack.call(gw, 'GET', '/budget/list', undefined, bearer(key));
    expectErrorEnvelope(assert, res, 403);
});

test('key_type read_only allows info routes only', async () => {
    const out = await stack.generate(gw, { user_id: 'u-lead', key_type: 'read_only' });
    assert.deepEqual(stack.psql(`SELECT allowed_routes FROM keys WHERE token = '${out.token}'`),
        '{info_routes}');
    let res = await stack.call(gw, 'GET', '/key/info', undefined, bearer(out.key));
    assert.equal(res.status, 200, res.body);
    res = await stack.call(gw, 'POST', '/key/generate', { team_id: 't-eng' }, bearer(out.key));
    assert.match(expectErrorEnvelope(assert, res, 403).message, /\['info_routes'\]/);
    res = await stack.call(gw, 'POST', '/v1/chat/completions',
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, bearer(out.key));
    expectErrorEnvelope(assert, res, 403);
});

test('key_type llm_api allows model routes only', async () => {
    const out = await stack.generate(gw, { user_id: 'u-lead', key_type: 'llm_api' });
    let res = await stack.call(gw, 'GET', '/v1/models', undefined, bearer(out.key));
    assert.equal(res.status, 200, res.body);
    res = await stack.call(gw, 'GET', '/key/list', undefined, bearer(out.key));
    expectErrorEnvelope(assert, res, 403);
});

test('model info shows a key only its models', async () => {
    const out = await stack.generate(gw, { user_id: 'u-dev', models: ['gpt-4o-mini'] });
    let res = await stack.call(gw, 'GET', '/model/info', undefined, bearer(out.key));
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json().data.map((m) => m.model_name), ['gpt-4o-mini']);
    res = await stack.call(gw, 'GET', '/v1/model/info', undefined, stack.admin);
    assert.deepEqual(res.json().data.map((m) => m.model_name).sort(),
        ['gpt-4o-mini', 'other-model']);
});
