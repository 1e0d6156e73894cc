// SPDX-License-Identifier: Apache-2.0
// Retries within a model group and fallbacks to other groups, against two sluice-mock
// instances: `primary` serves the groups that fail, `backup` the fallback groups. Deployments
// of one group differ by provider model, so a script without a model fails whichever
// deployment the router picks first, and the request log shows which deployment got each call.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-failover-5c1a';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const TEXT = 'one two three four five six seven eight nine ten';

let primary;
let backup;
let gateway;

function deployment(group, id, mock, extra = '') {
    return `
- model_name: ${group}
  litellm_params:
    model: openai/${id}-model
    api_key: sk-upstream-failover
    api_base: ${mock.url}/v1${extra}
  model_info:
    id: ${id}`;
}

before(async () => {
    primary = await startMock();
    backup = await startMock();
    gateway = await startGateway({
        config: `
model_list:${deployment('pair', 'pair-one', primary)}${deployment('pair', 'pair-two', primary)}
${deployment('solo', 'solo-one', primary, '\n    num_retries: 1')}
${deployment('lonely', 'lonely-one', primary)}
${deployment('loop-a', 'loop-a-one', primary)}
${deployment('loop-b', 'loop-b-one', backup)}
${deployment('backup', 'backup-one', backup)}
router_settings:
  fallbacks: [{solo: [backup]}, {loop-a: [loop-b]}, {loop-b: [loop-a]}]
  # A 429 in pair would cool a deployment down at once and change the later tests' routes;
  # cooldowns have their own tests.
  disable_cooldowns: true
general_settings:
  master_key: ${MASTER_KEY}
`,
    });
});

after(async () => {
    if (gateway) {
        await gateway.stop();
        // Under -DSL_SANITIZE the retry timers and reset attempts must leave no report.
        assert.doesNotMatch(gateway.proc.stderrText, /Sanitizer|runtime error:/,
            gateway.describe());
    }
    for (const mock of [primary, backup]) {
        if (mock) {
            await mock.stop();
        }
    }
});

async function resetMocks() {
    await primary.reset();
    await backup.reset();
}

const chat = (model, extra = {}, options = {}) => postJson(
    `${gateway.url}/v1/chat/completions`, chatBody(model, extra), AUTH, options);

const streamOf = (model, extra = {}) => streamChat({
    url: `${gateway.url}/v1/chat/completions`,
    headers: AUTH,
    body: chatBody(model, { stream: true, ...extra }),
});

// The mock logs each body as the raw string it received.
function bodyOf(request) {
    return JSON.parse(request.body);
}

function modelsOf(requests) {
    return requests.map((r) => bodyOf(r).model);
}

// The access log line of the last request names the deployment that responded.
async function expectAccessLog(modelId) {
    const line = await gateway.waitForLog((e) => e.event === 'http.access'
        && e.model_id === modelId, 3000);
    assert.equal(line.model_id, modelId);
}

test('429 retried on other deployment', async () => {
    await resetMocks();
    await primary.queue({ status: 429, headers: { 'retry-after': '5' } });
    const res = await chat('pair');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '0');
    // Another deployment was free, so the retry did not wait for retry-after.
    assert.ok(res.elapsedMs < 4000, `answered after ${res.elapsedMs} ms`);

    const models = modelsOf(await primary.requests());
    assert.equal(models.length, 2, `calls: ${models}`);
    assert.notEqual(models[0], models[1], 'the retry went to the other deployment');
    const answered = models[1].replace(/-model$/, '');
    assert.equal(res.headers['x-litellm-model-id'], answered);
    assert.equal(res.json().model, 'pair');
    await expectAccessLog(answered);
});

test('400 returned after one call', async () => {
    await resetMocks();
    await primary.queue({ status: 400 });
    const res = await chat('pair');
    expectErrorEnvelope(assert, res, 400);
    assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    assert.equal((await primary.requests()).length, 1);
    assert.equal((await backup.requests()).length, 0);
});

test('401 answered by other deployment', async () => {
    await resetMocks();
    await primary.queue({ status: 401 });
    const res = await chat('pair');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    const models = modelsOf(await primary.requests());
    assert.equal(models.length, 2, `calls: ${models}`);
    assert.notEqual(models[0], models[1]);
});

test('401 on single deployment not retried', async () => {
    await resetMocks();
    await primary.queue({ status: 401 });
    const res = await chat('lonely');
    expectErrorEnvelope(assert, res, 401);
    assert.equal((await primary.requests()).length, 1);
});

test('5xx retried then fallback answers', async () => {
    await resetMocks();
    await primary.queue({ status: 500, count: 5 });
    const res = await chat('solo');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'backup-one');
    assert.equal(res.headers['x-litellm-model-group'], 'backup');
    assert.equal(res.json().model, 'backup');
    // One call and its one retry (num_retries: 1 on the deployment), then the fallback.
    assert.deepEqual(modelsOf(await primary.requests()), ['solo-one-model', 'solo-one-model']);
    assert.deepEqual(modelsOf(await backup.requests()), ['backup-one-model']);
    await expectAccessLog('backup-one');
});

test('stream failing before first byte falls back', async () => {
    await resetMocks();
    await primary.queue({ status: 500, count: 5 });
    await backup.queue({ text: TEXT, chunks: 5 });
    const res = await streamOf('solo');
    assert.equal(res.status, 200, res.raw);
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'backup-one');
    const chunks = res.events.filter((e) => e.kind === 'chunk');
    assert.ok(chunks.length >= 5, `chunks: ${res.raw.slice(0, 500)}`);
    for (const ev of chunks) {
        assert.equal(ev.json.model, 'backup');
    }
    assert.equal(res.events.filter((e) => e.kind === 'error').length, 0, res.raw);
    assert.equal((await backup.requests()).length, 1);
});

test('stream cut after chunks no fallback', async () => {
    await resetMocks();
    const words = Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ');
    await primary.queue({ text: words, chunks: 50, cut_after_chunks: 40 });
    const res = await streamOf('solo');
    assert.equal(res.status, 200, res.raw);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds}`);
    assert.deepEqual(kinds.slice(-2), ['error', 'done'], `event kinds: ${kinds}`);
    const content = res.events.filter((e) => e.kind === 'chunk')
        .map((e) => (e.json.choices || []).map((c) => (c.delta && c.delta.content) || '').join(''))
        .filter((c) => c.length > 0);
    assert.equal(content.length, 40, `content chunks: ${content}`);
    assert.equal((await primary.requests()).length, 1);
    assert.equal((await backup.requests()).length, 0, 'no fallback after the first byte');
});

test('request fallbacks list used', async () => {
    await resetMocks();
    await primary.queue({ status: 503, count: 5 });
    const res = await chat('lonely', { fallbacks: ['backup'], num_retries: 0 });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.json().model, 'backup');
    const sent = await backup.requests();
    assert.equal(sent.length, 1);
    assert.equal(bodyOf(sent[0]).fallbacks, undefined, 'fallbacks were sent upstream');
    assert.equal(bodyOf(sent[0]).num_retries, undefined, 'num_retries was sent upstream');
    assert.equal(bodyOf((await primary.requests())[0]).fallbacks, undefined);
});

test('request fallbacks invalid', async () => {
    await resetMocks();
    const res = await chat('lonely', { fallbacks: 'backup' });
    const error = expectErrorEnvelope(assert, res, 400);
    assert.equal(error.param, 'fallbacks');
    assert.equal((await primary.requests()).length, 0);
});

test('mutual fallbacks do not loop', async () => {
    await resetMocks();
    await primary.queue({ status: 500, count: 10 });
    await backup.queue({ status: 500, count: 10 });
    const res = await chat('loop-a', { num_retries: 0 });
    expectErrorEnvelope(assert, res, 500);
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.deepEqual(modelsOf(await primary.requests()), ['loop-a-one-model']);
    assert.deepEqual(modelsOf(await backup.requests()), ['loop-b-one-model']);
});

test('unknown fallback group skipped', async () => {
    await resetMocks();
    await primary.queue({ status: 500, count: 5 });
    const res = await chat('lonely', { fallbacks: ['no-such-group', 'backup'], num_retries: 0 });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.json().model, 'backup');
});

test('retry waits for retry-after', async () => {
    await resetMocks();
    await primary.queue({ status: 429, headers: { 'retry-after': '1' } });
    // solo has one deployment, so its one retry must wait for the provider's retry-after.
    const res = await chat('solo');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    const calls = await primary.requests();
    assert.equal(calls.length, 2);
    const waitedMs = calls[1].received_ms - calls[0].received_ms;
    assert.ok(waitedMs >= 950, `retried after ${waitedMs} ms, retry-after was 1 s`);
    assert.ok(waitedMs < 5000, `retried after ${waitedMs} ms`);
});

test('client gone during back-off', async () => {
    await resetMocks();
    await primary.queue({ status: 429, headers: { 'retry-after': '2' }, count: 3 });
    const controller = new AbortController();
    const pending = chat('solo', {}, { signal: controller.signal }).catch((err) => err);
    await primary.waitForRequests((reqs) => reqs.length === 1);
    controller.abort();
    await pending;
    // Past the 2 s wait: the gateway started no second call for the departed client.
    await new Promise((resolve) => { setTimeout(resolve, 2600); });
    assert.equal((await primary.requests()).length, 1);
    await resetMocks();
    const health = await chat('pair');
    assert.equal(health.status, 200, 'the gateway still serves requests');
});

// An Anthropic-format client on OpenAI-format deployments: each attempt converts the
// client's body again, and the fallback's response is converted back.
test('messages route falls back', async () => {
    await resetMocks();
    await primary.queue({ status: 500, count: 5 });
    const res = await postJson(`${gateway.url}/v1/messages`, {
        model: 'solo',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Say hi' }],
    }, { 'x-api-key': MASTER_KEY, 'anthropic-version': '2023-06-01' });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    const msg = res.json();
    assert.equal(msg.type, 'message');
    assert.equal(msg.model, 'backup');
    const calls = await primary.requests();
    assert.equal(calls.length, 2);
    assert.deepEqual(bodyOf(calls[1]).messages, bodyOf(calls[0]).messages,
        'the retry sent the same converted messages');
    assert.deepEqual(modelsOf(await backup.requests()), ['backup-one-model']);
});
