// SPDX-License-Identifier: Apache-2.0
// Who may see and check which deployments on GET /health, and the api_base a client may see.
// A key limited to one model group sees only that group's deployments, and a ?model= outside
// it is a 404 like an unknown group. With background checks off, only the master key starts
// live (paid) checks, and any other key gets the stored results. A password in a deployment's
// api_base reaches neither the x-litellm-model-api-base header, nor /health, nor /metrics, nor
// /model/info.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chatBody, httpRequest, needs, postJson, startMock } from './lib/harness.mjs';
import { MgmtStack } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');

const MASTER_KEY = 'sk-master-health-access-9a';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const BASE_PASSWORD = 'base-password-9a-77e1';
const SALT_KEY = 'salt-health-access-9a';

const stack = new MgmtStack({ masterKey: MASTER_KEY });
let capMock;   // serves the group the key may call, behind an api_base with user-info
let otherMock; // serves a group the key may not call
let node;
let key;

function config() {
    const capBase = capMock.url.replace('http://', `http://sluice:${BASE_PASSWORD}@`);
    return `
model_list:
- model_name: cap
  litellm_params:
    model: openai/cap-model
    api_key: sk-upstream-9a
    api_base: ${capBase}/v1
  model_info:
    id: dep-cap
- model_name: other
  litellm_params:
    model: openai/other-model
    api_key: sk-upstream-9a
    api_base: ${otherMock.url}/v1
  model_info:
    id: dep-other
router_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
  database_url: ${stack.pg.url}
  background_health_checks: false
  store_model_in_db: true
`;
}

// A health check is the only call with the single user message "ping".
async function checksSeen(mock) {
    return (await mock.requests()).filter((r) => r.body.includes('"ping"')).length;
}

async function health(headers, query = '') {
    return httpRequest(`${node.url}/health${query}`, { headers });
}

const ids = (list) => list.map((e) => e.model_id).sort();

before(async () => {
    await stack.start();
    capMock = await startMock();
    otherMock = await startMock();
    node = await stack.startNode({ config: config(), workers: 1,
        env: { SLUICE_SALT_KEY: SALT_KEY } });
    key = (await stack.generate(node, { models: ['cap'], rpm_limit: 1 })).key;
});

after(async () => {
    await capMock?.stop();
    await otherMock?.stop();
    await stack.stop();
});

test('health key sees only allowed groups', async () => {
    const keyAuth = { authorization: `Bearer ${key}` };

    for (let i = 0; i < 3; i++) {
        const res = await health(keyAuth);
        assert.equal(res.status, 200, res.body);
        const body = res.json();
        assert.ok(!res.body.includes('dep-other'), res.body);
        assert.ok(!res.body.includes(otherMock.url), res.body);
        assert.deepEqual(ids(body.healthy_endpoints), []);
        assert.deepEqual(ids(body.unhealthy_endpoints), []);
    }
    assert.equal(await checksSeen(capMock), 0, 'a non-admin key started a live check');
    assert.equal(await checksSeen(otherMock), 0, 'a non-admin key started a live check');
});

test('health hidden group is not found', async () => {
    const keyAuth = { authorization: `Bearer ${key}` };

    const hidden = await health(keyAuth, '?model=other');
    assert.equal(hidden.status, 404, hidden.body);
    assert.deepEqual(hidden.json(), { error: 'Model other not found' });

    const hiddenId = await health(keyAuth, '?model_id=dep-other');
    assert.equal(hiddenId.status, 404, hiddenId.body);
    assert.deepEqual(hiddenId.json(), { error: 'Model with ID dep-other not found' });

    const allowed = await health(keyAuth, '?model=cap');
    assert.equal(allowed.status, 200, allowed.body);

    const admin = await health(AUTH, '?model=other');
    assert.equal(admin.status, 200, admin.body);
    assert.deepEqual(ids(admin.json().healthy_endpoints), ['dep-other']);
});

test('health live checks for master key', async () => {
    const before = await checksSeen(capMock);
    const res = await health(AUTH);

    assert.equal(res.status, 200, res.body);
    assert.deepEqual(ids(res.json().healthy_endpoints), ['dep-cap', 'dep-other']);
    assert.equal(await checksSeen(capMock), before + 1);
});

test('health live checks for proxy admin', async () => {
    const user = await stack.ok(node, 'POST', '/user/new',
        { user_id: 'u-admin-9a', user_role: 'proxy_admin' });
    const adminKey = (await stack.generate(node, { user_id: user.user_id })).key;
    const before = await checksSeen(otherMock);

    const res = await health({ authorization: `Bearer ${adminKey}` }, '?model=other');
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(ids(res.json().healthy_endpoints), ['dep-other']);
    assert.equal(await checksSeen(otherMock), before + 1);
});

test('api_base password never leaves gateway', async () => {
    const expectedBase = `${capMock.url}/v1`;

    const chat = await postJson(`${node.url}/v1/chat/completions`, chatBody('cap'), AUTH);
    assert.equal(chat.status, 200, chat.body);
    assert.equal(chat.headers['x-litellm-model-api-base'], expectedBase);
    assert.ok(!JSON.stringify(chat.headers).includes(BASE_PASSWORD));

    const res = await health(AUTH, '?model=cap');
    assert.equal(res.status, 200, res.body);
    assert.ok(!res.body.includes(BASE_PASSWORD), res.body);
    assert.equal(res.json().healthy_endpoints[0].api_base, expectedBase);

    const metrics = await httpRequest(`${node.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.ok(!metrics.body.includes(BASE_PASSWORD), 'the password is in a metric label');
    assert.ok(metrics.body.includes(`api_base="${expectedBase}"`), 'no api_base label of cap');

    assert.ok(!node.proc.stdoutText.includes(BASE_PASSWORD), 'the password is in stdout');
    assert.ok(!node.proc.stderrText.includes(BASE_PASSWORD), 'the password is in stderr');
});

test('model info hides api_base password', async () => {
    const storedBase = `http://sluice:${BASE_PASSWORD}@127.0.0.1:9/v1?api-key=${BASE_PASSWORD}`;
    await stack.ok(node, 'POST', '/model/new', {
        model_name: 'stored',
        litellm_params: { model: 'openai/stored-model', api_base: storedBase,
            api_key: 'sk-upstream-9a' },
    });

    const res = await httpRequest(`${node.url}/model/info`, { headers: AUTH });
    assert.equal(res.status, 200, res.body);
    assert.ok(!res.body.includes(BASE_PASSWORD), res.body);
    const bases = Object.fromEntries(res.json().data.map(
        (e) => [e.model_name, e.litellm_params.api_base]));
    assert.equal(bases.cap, `${capMock.url}/v1`);
    assert.equal(bases.stored, 'http://127.0.0.1:9/v1?api-key=***');
});
