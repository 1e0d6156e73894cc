// SPDX-License-Identifier: Apache-2.0
// Client authentication with the master key: where the key is read from, the three 401 errors,
// and a gateway without a master key, which lets every request through and warns at start.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, httpRequest, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-auth-5d21e0';

let mock;
let gateway;

function config(generalSettings) {
    return `
model_list:
- model_name: auth-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-auth
    api_base: ${mock.url}/v1
${generalSettings}
`;
}

before(async () => {
    mock = await startMock();
    gateway = await startGateway({ config: config(`general_settings:\n  master_key: ${MASTER_KEY}`) });
});

after(async () => {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

function chat(headers) {
    return postJson(`${gateway.url}/v1/chat/completions`, chatBody('auth-chat'), headers);
}

// A rejected request must not reach the upstream.
async function expectNotForwarded() {
    const reqs = await mock.requests();
    assert.equal(reqs.length, 0, `the mock received ${reqs.length} request(s)`);
}

test('missing key is 401', async () => {
    await mock.reset();
    const res = await chat({});
    const err = expectErrorEnvelope(assert, res, 401);
    assert.equal(err.message, 'Authentication Error, No api key passed in.');
    await expectNotForwarded();
});

test('wrong key is 401', async () => {
    await mock.reset();
    const res = await chat({ authorization: 'Bearer sk-not-the-master-key' });
    const err = expectErrorEnvelope(assert, res, 401);
    assert.ok(err.message.startsWith('Authentication Error, Invalid proxy server token passed'),
        err.message);
    assert.equal(err.type, 'auth_error');
    await expectNotForwarded();
});

test('wrong key of equal length is 401', async () => {
    await mock.reset();
    const wrong = MASTER_KEY.slice(0, -1) + (MASTER_KEY.endsWith('0') ? '1' : '0');
    const res = await chat({ authorization: `Bearer ${wrong}` });
    expectErrorEnvelope(assert, res, 401);
    await expectNotForwarded();
});

test('authorization without bearer is 401', async () => {
    await mock.reset();
    const res = await chat({ authorization: MASTER_KEY });
    const err = expectErrorEnvelope(assert, res, 401);
    assert.equal(err.message,
        'Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.');
    await expectNotForwarded();
});

test('master key in authorization bearer', async () => {
    await mock.reset();
    const res = await chat({ authorization: `Bearer ${MASTER_KEY}` });
    assert.equal(res.status, 200, res.body);
    assert.equal((await mock.requests()).length, 1);
});

test('master key in x-litellm-api-key', async () => {
    const res = await chat({ 'x-litellm-api-key': MASTER_KEY });
    assert.equal(res.status, 200, res.body);
});

test('master key in x-litellm-api-key with bearer', async () => {
    const res = await chat({ 'x-litellm-api-key': `Bearer ${MASTER_KEY}` });
    assert.equal(res.status, 200, res.body);
});

test('master key in api-key', async () => {
    const res = await chat({ 'api-key': MASTER_KEY });
    assert.equal(res.status, 200, res.body);
});

test('master key in x-api-key', async () => {
    const res = await chat({ 'x-api-key': MASTER_KEY });
    assert.equal(res.status, 200, res.body);
});

test('wrong key in x-litellm-api-key is 401', async () => {
    const res = await chat({ 'x-litellm-api-key': 'sk-wrong' });
    expectErrorEnvelope(assert, res, 401);
});

test('models route needs key', async () => {
    const denied = await httpRequest(`${gateway.url}/v1/models`);
    expectErrorEnvelope(assert, denied, 401);
    const allowed = await httpRequest(`${gateway.url}/v1/models`, {
        headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    assert.equal(allowed.status, 200, allowed.body);
});

test('health routes need no key', async () => {
    for (const route of ['/health/liveliness', '/health/liveness', '/health/readiness']) {
        const res = await httpRequest(gateway.url + route);
        assert.equal(res.status, 200, `${route}: ${res.body}`);
    }
});

test('no master key lets requests pass', async () => {
    const open = await startGateway({ config: config('') });
    try {
        const warn = await open.waitForLog((e) => e.event === 'auth.disabled', 3000);
        assert.equal(warn.level, 'warn');
        const res = await postJson(`${open.url}/v1/chat/completions`, chatBody('auth-chat'));
        assert.equal(res.status, 200, res.body);
        const withKey = await postJson(`${open.url}/v1/chat/completions`, chatBody('auth-chat'), {
            authorization: 'Bearer sk-anything',
        });
        assert.equal(withKey.status, 200, withKey.body);
    } finally {
        await open.stop();
    }
});

test('master key set logs no auth warning', async () => {
    assert.equal(gateway.logs.filter((e) => e.event === 'auth.disabled').length, 0);
});
