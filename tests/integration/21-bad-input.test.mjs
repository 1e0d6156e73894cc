// SPDX-License-Identifier: Apache-2.0
// Client mistakes on the chat route: each gets a 4xx in the OpenAI error envelope (code = the
// status as a string), never a 5xx, and none of these requests reaches the upstream.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    expectErrorEnvelope, httpRequest, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-input-93c1';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: alpha-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-input
    api_base: ${mock.url}/v1
- model_name: beta-chat
  litellm_params:
    model: openai/gpt-4o
    api_key: sk-upstream-input
    api_base: ${mock.url}/v1
general_settings:
  master_key: ${MASTER_KEY}
  max_request_size_mb: 1
`,
    });
});

after(async () => {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

const CHAT_URL = () => `${gateway.url}/v1/chat/completions`;
const MESSAGES = [{ role: 'user', content: 'hi' }];

// No request in this file is valid, so the mock's request log must stay empty.
async function expectNotForwarded() {
    const reqs = await mock.requests();
    assert.equal(reqs.length, 0, `the mock received ${reqs.length} request(s)`);
}

test('malformed json is 400', async () => {
    const res = await postJson(CHAT_URL(), '{"model": "alpha-chat", "messages": [', AUTH);
    expectErrorEnvelope(assert, res, 400);
    await expectNotForwarded();
});

test('body not an object is 400', async () => {
    const res = await postJson(CHAT_URL(), '[{"model": "alpha-chat"}]', AUTH);
    expectErrorEnvelope(assert, res, 400);
    await expectNotForwarded();
});

test('empty body is 400', async () => {
    const res = await postJson(CHAT_URL(), '', AUTH);
    expectErrorEnvelope(assert, res, 400);
    await expectNotForwarded();
});

test('model missing is 400', async () => {
    const res = await postJson(CHAT_URL(), { messages: MESSAGES }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /model/);
    await expectNotForwarded();
});

test('model not a string is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 42, messages: MESSAGES }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /model/);
    await expectNotForwarded();
});

test('messages missing is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 'alpha-chat' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /messages/);
    await expectNotForwarded();
});

test('messages not an array is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 'alpha-chat', messages: 'hi' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /messages/);
    await expectNotForwarded();
});

test('messages empty is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 'alpha-chat', messages: [] }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /messages/);
    await expectNotForwarded();
});

test('stream not boolean is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 'alpha-chat', messages: MESSAGES, stream: 'yes' },
        AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /stream/);
    await expectNotForwarded();
});

test('temperature not a number is 400', async () => {
    const res = await postJson(CHAT_URL(),
        { model: 'alpha-chat', messages: MESSAGES, temperature: 'warm' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /temperature/);
    await expectNotForwarded();
});

test('unknown model is 400', async () => {
    const res = await postJson(CHAT_URL(), { model: 'nope-model', messages: MESSAGES }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.ok(err.message.includes('/chat/completions: Invalid model name passed in model=nope-model. '
        + 'Call `/v1/models` to view available models for your key.'), err.message);
    assert.ok(err.message.includes('alpha-chat'), `existing models not listed: ${err.message}`);
    assert.ok(err.message.includes('beta-chat'), `existing models not listed: ${err.message}`);
    await expectNotForwarded();
});

test('body over size limit is 413', async () => {
    // About 2 MB of prompt against max_request_size_mb: 1.
    const big = 'x'.repeat(2 * 1024 * 1024);
    const res = await postJson(CHAT_URL(),
        { model: 'alpha-chat', messages: [{ role: 'user', content: big }] }, AUTH);
    expectErrorEnvelope(assert, res, 413);
    await expectNotForwarded();
});

test('get on chat route is 405', async () => {
    const res = await httpRequest(CHAT_URL(), { headers: AUTH });
    expectErrorEnvelope(assert, res, 405);
    await expectNotForwarded();
});

// cJSON ends a string at the NUL, so without the check "alpha-chat\u0000x" reaches alpha-chat.
test('nul escape in a string is 400', async () => {
    const model = '"model": "alpha-chat\\u0000x"';
    const chat = await postJson(CHAT_URL(), `{${model}, "messages": [{"role": "user", "content": "hi"}]}`, AUTH);
    const error = expectErrorEnvelope(assert, chat, 400);
    assert.match(error.message, /\\u0000/);

    const messages = await postJson(
        `${gateway.url}/v1/messages`,
        `{${model}, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}`,
        AUTH,
    );
    assert.equal(messages.status, 400, messages.body);
    const json = messages.json();
    assert.equal(json.type, 'error');
    assert.equal(json.error.type, 'invalid_request_error');
    assert.match(json.error.message, /\\u0000/);
    await expectNotForwarded();
});

test('bad input gateway still serves', async () => {
    const res = await httpRequest(`${gateway.url}/health/readiness`);
    assert.equal(res.status, 200, res.body);
    assert.equal(gateway.proc.exitCode, undefined, 'gateway exited');
});
