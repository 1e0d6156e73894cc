// SPDX-License-Identifier: Apache-2.0
// Retry and cooldown policies, timeouts, the pre-call context-window check and wildcard model
// groups, on two gateways that share cooldowns through one Redis, and LiteLLM's default
// cooldown mode on two more. Each deployment that a test fails has its own mock, and a large
// weight makes the router pick it first, so the request log of each mock shows which
// deployment got each call.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, needs, postJson, sleep, startGateway, startMock, startRedis,
} from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'redis');

const MASTER_KEY = 'sk-master-policy-41b7';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const COOLDOWN_S = 2;
// A weight that makes the router pick a deployment first in all but one case in a million.
const FIRST = 1000000;

const mocks = {};
let redis;
let gatewayA;
let gatewayB;
// Two more gateways in LiteLLM's default cooldown mode: allowed_fails and its policy unset.
let defaultC;
let defaultD;

function deployment(group, id, mock, extra = {}) {
    const params = Object.entries(extra.params || {}).map(([k, v]) => `\n    ${k}: ${v}`).join('');
    const info = Object.entries(extra.info || {}).map(([k, v]) => `\n    ${k}: ${v}`).join('');
    return `
- model_name: "${group}"
  litellm_params:
    model: "${extra.model || `openai/${id}-model`}"
    api_key: sk-upstream-policy
    api_base: ${mock.url}/v1${params}
  model_info:
    id: ${id}${info}`;
}

function config() {
    const m = mocks;
    return `
model_list:${[
        deployment('slow', 'slow-hang', m.hang, { params: { timeout: 0.5, weight: FIRST } }),
        deployment('slow', 'slow-ok', m.ok),
        deployment('stream', 'stream-stall', m.stall,
            { params: { stream_timeout: 0.5, weight: FIRST } }),
        deployment('stream', 'stream-ok', m.ok),
        deployment('limited', 'limited-a', m.limited, { params: { weight: FIRST } }),
        deployment('limited', 'limited-b', m.ok),
        deployment('solo', 'solo-one', m.solo),
        deployment('strict', 'strict-one', m.strict),
        deployment('picky', 'picky-one', m.picky),
        deployment('small', 'small-one', m.small, { info: { max_input_tokens: 10 } }),
        deployment('large', 'large-one', m.large, { info: { max_input_tokens: 100000 } }),
        deployment('tiny', 'tiny-one', m.small, { info: { max_input_tokens: 10 } }),
        deployment('openai/*', 'openai-any', m.wild, { model: 'openai/*' }),
        deployment('openai/exact', 'openai-exact', m.ok),
        deployment('*', 'catch-all', m.wild, { model: 'openai/*' }),
        deployment('flaky', 'flaky-one', m.flaky, { params: { num_retries: 0 } }),
    ].join('')}
router_settings:
  num_retries: 2
  cooldown_time: ${COOLDOWN_S}
  enable_pre_call_checks: true
  context_window_fallbacks: [{small: [large]}]
  fallbacks: [{flaky: [openai/fallback-model]}]
  allowed_fails_policy:
    TimeoutErrorAllowedFails: 0
    RateLimitErrorAllowedFails: 0
  model_group_retry_policy:
    solo: {RateLimitErrorRetries: 0}
    strict: {InternalServerErrorRetries: 0}
    picky: {BadRequestErrorRetries: 1}
    "openai/*": {InternalServerErrorRetries: 0}
general_settings:
  master_key: ${MASTER_KEY}
`;
}

function defaultModeConfig() {
    const m = mocks;
    return `
model_list:${[
        deployment('duo', 'duo-a', m.duo, { params: { weight: FIRST } }),
        deployment('duo', 'duo-b', m.ok),
        deployment('alone', 'alone-one', m.alone),
    ].join('')}
router_settings:
  cooldown_time: ${COOLDOWN_S * 2}
  model_group_retry_policy:
    alone: {RateLimitErrorRetries: 0}
general_settings:
  master_key: ${MASTER_KEY}
`;
}

before(async () => {
    redis = await startRedis();
    for (const name of ['hang', 'ok', 'stall', 'limited', 'solo', 'strict', 'picky', 'small',
        'large', 'wild', 'duo', 'alone', 'flaky']) {
        mocks[name] = await startMock();
    }
    const env = { REDIS_URL: redis.url };
    gatewayA = await startGateway({ config: config(), workers: 2, env });
    gatewayB = await startGateway({ config: config(), workers: 2, env });
    defaultC = await startGateway({ config: defaultModeConfig(), workers: 2, env });
    defaultD = await startGateway({ config: defaultModeConfig(), workers: 2, env });
});

after(async () => {
    for (const gw of [gatewayA, gatewayB, defaultC, defaultD]) {
        if (gw) {
            await gw.stop();
            assert.doesNotMatch(gw.proc.stderrText, /Sanitizer|runtime error:/, gw.describe());
        }
    }
    for (const mock of Object.values(mocks)) {
        await mock.stop();
    }
    await redis?.stop();
});

async function resetMocks() {
    for (const mock of Object.values(mocks)) {
        await mock.reset();
    }
}

const chat = (gw, model, extra = {}) => postJson(`${gw.url}/v1/chat/completions`,
    chatBody(model, extra), AUTH);

function modelsOf(requests) {
    return requests.map((r) => JSON.parse(r.body).model);
}

test('timeout moves to other deployment', async () => {
    await resetMocks();
    await mocks.hang.queue({ latency_ms: 3000 });
    const res = await chat(gatewayA, 'slow');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'slow-ok');
    assert.ok(res.elapsedMs < 2500, `answered after ${res.elapsedMs} ms`);
    assert.equal((await mocks.hang.requests()).length, 1);

    // TimeoutErrorAllowedFails is 0: the timeout cooled slow-hang down on gateway B too.
    await sleep(200);
    for (let i = 0; i < 5; i++) {
        const again = await chat(gatewayB, 'slow');
        assert.equal(again.status, 200, again.body);
        assert.equal(again.headers['x-litellm-model-id'], 'slow-ok');
        assert.equal(again.headers['x-litellm-attempted-retries'], '0');
    }
    assert.equal((await mocks.hang.requests()).length, 1, 'B called the cooling deployment');
});

test('stream timeout streams from other deployment', async () => {
    await resetMocks();
    await mocks.stall.queue({ first_chunk_ms: 3000 });
    const res = await streamChat({
        url: `${gatewayA.url}/v1/chat/completions`,
        headers: AUTH,
        body: chatBody('stream', { stream: true }),
    });
    assert.equal(res.status, 200, res.raw);
    assert.equal(res.headers['x-litellm-model-id'], 'stream-ok');
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    const kinds = res.events.map((e) => e.kind);
    assert.ok(kinds.includes('chunk'), `event kinds: ${kinds}`);
    assert.equal(kinds[kinds.length - 1], 'done', `event kinds: ${kinds}`);
    assert.equal(kinds.filter((k) => k === 'error').length, 0, `event kinds: ${kinds}`);
    assert.equal((await mocks.stall.requests()).length, 1);
    assert.equal((await mocks.ok.requests()).length, 1);
});

test('429 cools down for retry-after on both gateways', async () => {
    await resetMocks();
    // retry-after (6 s) is longer than cooldown_time (2 s), so it sets the cooldown's length.
    await mocks.limited.queue({ status: 429, headers: { 'retry-after': '6' } });
    const started = Date.now();
    const res = await chat(gatewayA, 'limited');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'limited-b');
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');

    await sleep(COOLDOWN_S * 1000 + 500);
    for (const gw of [gatewayA, gatewayB]) {
        const again = await chat(gw, 'limited');
        assert.equal(again.status, 200, again.body);
        assert.equal(again.headers['x-litellm-model-id'], 'limited-b');
    }
    assert.ok(Date.now() - started < 5500,
        'the checks ran past the retry-after; the test machine is too slow for this timing');
    assert.equal((await mocks.limited.requests()).length, 1, 'limited-a was called in cooldown');
});

test('429 policy cools single deployment', async () => {
    await resetMocks();
    await mocks.solo.queue({ status: 429 });
    // model_group_retry_policy gives solo no RateLimitError retries, whatever num_retries.
    const res = await chat(gatewayA, 'solo');
    expectErrorEnvelope(assert, res, 429);
    assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    assert.equal((await mocks.solo.requests()).length, 1);

    // With allowed_fails_policy set, RateLimitErrorAllowedFails 0 cools even a group's only
    // deployment down, so B answers at once with LiteLLM's 429 and no call.
    await sleep(200);
    const next = await chat(gatewayB, 'solo');
    expectErrorEnvelope(assert, next, 429);
    assert.match(next.json().error.message, /^No deployments available for selected model/);
    assert.equal((await mocks.solo.requests()).length, 1);
});

test('default mode cools 429 at once', async () => {
    await resetMocks();
    await mocks.duo.queue({ status: 429 });
    const res = await chat(defaultC, 'duo');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'duo-b');
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');

    // One 429, not four failures, took duo-a out on the other gateway too.
    await sleep(200);
    for (let i = 0; i < 5; i++) {
        const again = await chat(defaultD, 'duo');
        assert.equal(again.status, 200, again.body);
        assert.equal(again.headers['x-litellm-model-id'], 'duo-b');
    }
    assert.equal((await mocks.duo.requests()).length, 1, 'D called the cooling deployment');
});

test('default mode keeps single deployment', async () => {
    await resetMocks();
    await mocks.alone.queue({ status: 429, count: 2 });
    for (const gw of [defaultC, defaultD]) {
        const res = await chat(gw, 'alone');
        expectErrorEnvelope(assert, res, 429);
        assert.doesNotMatch(res.json().error.message, /No deployments available/);
    }
    await sleep(200);
    const next = await chat(defaultD, 'alone');
    assert.equal(next.status, 200, next.body);
    assert.equal((await mocks.alone.requests()).length, 3);
});

test('default mode cools 401 at once', async () => {
    // The only deployment of `alone` returns 401: its credentials are wrong, so one failure
    // takes it out on every gateway, and the other gateway responds without calling it.
    await resetMocks();
    // Its retry-after (30 s) lengthens the cooldown, and the 429 gives that wait, not
    // cooldown_time, in its header and its message.
    await mocks.alone.queue({ status: 401, headers: { 'retry-after': '30' } });
    const res = await chat(defaultC, 'alone');
    expectErrorEnvelope(assert, res, 401);
    await sleep(200);
    const next = await chat(defaultD, 'alone');
    expectErrorEnvelope(assert, next, 429);
    assert.match(next.json().error.message, /cooldown_list=\['alone-one'\]/);
    assert.match(next.json().error.message, /Try again in (29|30) seconds/);
    assert.match(next.headers['retry-after'], /^(29|30)$/);
    assert.equal((await mocks.alone.requests()).length, 1, 'D called the cooling deployment');
});

test('InternalServerErrorRetries policy consulted', async () => {
    await resetMocks();
    await mocks.strict.queue({ status: 500, count: 3 });
    const res = await chat(gatewayA, 'strict');
    expectErrorEnvelope(assert, res, 500);
    assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    assert.equal((await mocks.strict.requests()).length, 1, 'num_retries was used instead');
});

test('BadRequestErrorRetries retries a 400', async () => {
    await resetMocks();
    await mocks.picky.queue({ status: 400 });
    const res = await chat(gatewayA, 'picky');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal((await mocks.picky.requests()).length, 2);

    // Without BadRequestErrorRetries a 400 is returned after one call.
    await mocks.strict.queue({ status: 400 });
    const plain = await chat(gatewayA, 'strict');
    expectErrorEnvelope(assert, plain, 400);
    assert.equal((await mocks.strict.requests()).length, 1);
});

test('over max_input_tokens goes to larger model', async () => {
    await resetMocks();
    const long = 'x'.repeat(200); // about 50 tokens, over small's 10
    const res = await chat(gatewayA, 'small', {
        messages: [{ role: 'user', content: long }],
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'large-one');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal((await mocks.small.requests()).length, 0, 'the small model was called');
    assert.equal((await mocks.large.requests()).length, 1);

    // A short request stays on the small model.
    const short = await chat(gatewayA, 'small', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(short.status, 200, short.body);
    assert.equal(short.headers['x-litellm-model-id'], 'small-one');
});

test('over every context window gives 400', async () => {
    await resetMocks();
    const res = await chat(gatewayA, 'tiny', {
        messages: [{ role: 'user', content: 'y'.repeat(200) }],
    });
    expectErrorEnvelope(assert, res, 400);
    assert.match(res.json().error.message, /^Context window exceeded: the request has about 50 input tokens/);
    assert.equal((await mocks.small.requests()).length, 0);
});

test('wildcard group serves provider model', async () => {
    await resetMocks();
    const res = await chat(gatewayA, 'openai/gpt-4.1-nano');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'openai-any');
    assert.equal(res.json().model, 'openai/gpt-4.1-nano');
    assert.deepEqual(modelsOf(await mocks.wild.requests()), ['gpt-4.1-nano']);

    // The exact group wins over the pattern.
    const exact = await chat(gatewayA, 'openai/exact');
    assert.equal(exact.status, 200, exact.body);
    assert.equal(exact.headers['x-litellm-model-id'], 'openai-exact');
    assert.equal((await mocks.wild.requests()).length, 1);
});

test('pattern retry policy covers names', async () => {
    await resetMocks();
    await mocks.wild.queue({ status: 500 });
    // The policy of "openai/*" applies to every name it serves: no retry despite num_retries.
    const res = await chat(gatewayA, 'openai/policy-check');
    expectErrorEnvelope(assert, res, 500);
    assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    assert.equal((await mocks.wild.requests()).length, 1);
});

test('catch-all group serves other names', async () => {
    await resetMocks();
    const res = await chat(gatewayA, 'some-model');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'catch-all');
    assert.deepEqual(modelsOf(await mocks.wild.requests()), ['some-model']);

    const stream = await streamChat({
        url: `${gatewayB.url}/v1/chat/completions`,
        headers: AUTH,
        body: chatBody('other-model', { stream: true }),
    });
    assert.equal(stream.status, 200, stream.raw);
    assert.equal(stream.headers['x-litellm-model-id'], 'catch-all');
    assert.deepEqual(modelsOf(await mocks.wild.requests()), ['some-model', 'other-model']);
});

test('wildcard group serves fallback target', async () => {
    await resetMocks();
    await mocks.flaky.queue({ status: 503 });
    const res = await chat(gatewayA, 'flaky');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'openai-any');
    assert.equal(res.json().model, 'openai/fallback-model');
    assert.deepEqual(modelsOf(await mocks.wild.requests()), ['fallback-model']);
});
