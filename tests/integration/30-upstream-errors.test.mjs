// SPDX-License-Identifier: Apache-2.0
// Upstream failures as the client sees them: the upstream's HTTP status and error message in the
// OpenAI envelope with retry-after passed on, a timeout as 408, an unreachable upstream as 502.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, freePort, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-upstream-2b7e';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const RATE_LIMIT_MESSAGE = 'Rate limit reached for gpt-4o-mini in organization org-test on '
    + 'requests per min (RPM): Limit 3, Used 3, Requested 1.';

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    // Nothing listens on this port once freePort() has closed it.
    const closedPort = await freePort();
    gateway = await startGateway({
        config: `
model_list:
- model_name: err-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-errors
    api_base: ${mock.url}/v1
- model_name: slow-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-errors
    api_base: ${mock.url}/v1
    timeout: 1
- model_name: dead-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-errors
    api_base: http://127.0.0.1:${closedPort}/v1
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
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

const chat = (model) => postJson(`${gateway.url}/v1/chat/completions`, chatBody(model), AUTH);

function rateLimitScript(headers) {
    return {
        status: 429,
        headers,
        body: {
            error: {
                message: RATE_LIMIT_MESSAGE,
                type: 'requests',
                param: null,
                code: 'rate_limit_exceeded',
            },
        },
    };
}

test('upstream 429 passes status and message', async () => {
    await mock.reset();
    await mock.queue(rateLimitScript({ 'retry-after': '7' }));
    const res = await chat('err-chat');
    const err = expectErrorEnvelope(assert, res, 429);
    assert.equal(err.message, RATE_LIMIT_MESSAGE);
    assert.equal(res.headers['retry-after'], '7');
    assert.ok(res.headers['x-litellm-call-id'], 'x-litellm-call-id on an upstream error');
});

test('upstream 429 passes retry-after-ms', async () => {
    await mock.reset();
    await mock.queue(rateLimitScript({ 'retry-after-ms': '1500' }));
    const res = await chat('err-chat');
    expectErrorEnvelope(assert, res, 429);
    assert.equal(res.headers['retry-after-ms'], '1500');
});

test('upstream 429 via sdk is RateLimitError', async () => {
    await mock.reset();
    await mock.queue(rateLimitScript({ 'retry-after': '7' }));
    const oai = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    await assert.rejects(
        oai.chat.completions.create({ model: 'err-chat', messages: [{ role: 'user', content: 'hi' }] }),
        (err) => {
            assert.ok(err instanceof OpenAI.RateLimitError, `error class ${err.constructor.name}`);
            assert.equal(err.status, 429);
            assert.ok(err.message.includes(RATE_LIMIT_MESSAGE), err.message);
            assert.equal(err.headers.get('retry-after'), '7');
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 1, 'one upstream attempt');
});

for (const status of [500, 503]) {
    test(`upstream ${status} passes status`, async () => {
        await mock.reset();
        const message = `The server had an error while processing your request (${status}).`;
        await mock.queue({
            status,
            body: { error: { message, type: 'server_error', param: null, code: null } },
        });
        const res = await chat('err-chat');
        const err = expectErrorEnvelope(assert, res, status);
        assert.equal(err.message, message);
    });
}

test('upstream non-json error body', async () => {
    await mock.reset();
    await mock.queue({
        status: 503,
        content_type: 'text/html',
        body: '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>',
    });
    const res = await chat('err-chat');
    expectErrorEnvelope(assert, res, 503);
});

test('upstream timeout is 408', async () => {
    await mock.reset();
    await mock.queue({ latency_ms: 30000 });
    const started = Date.now();
    const res = await chat('slow-chat');
    const elapsed = Date.now() - started;
    const err = expectErrorEnvelope(assert, res, 408);
    assert.equal(err.type, 'timeout');
    // The deployment timeout is 1 s; allow 1.5 s on top for scheduling on a busy machine.
    assert.ok(elapsed >= 900, `answered after ${elapsed} ms, before the 1 s timeout`);
    assert.ok(elapsed <= 2500, `answered after ${elapsed} ms`);

    // The gateway must drop the upstream request it gave up on.
    const reqs = await mock.waitForRequests((r) => r.length === 1 && r[0].client_gone === true, 3000);
    assert.equal(reqs[0].completed, false);
});

test('unreachable upstream is 502', async () => {
    const started = Date.now();
    const res = await chat('dead-chat');
    const err = expectErrorEnvelope(assert, res, 502);
    assert.equal(err.type, 'api_connection_error');
    assert.ok(Date.now() - started < 5000, 'a refused connection fails fast');
});

test('upstream errors logged with error type', async () => {
    await mock.reset();
    await mock.queue(rateLimitScript({}));
    const res = await chat('err-chat');
    assert.equal(res.status, 429);
    const id = res.headers['x-litellm-call-id'];
    const line = await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    assert.equal(line.status, 429);
    assert.equal(typeof line.error_type, 'string');
});
