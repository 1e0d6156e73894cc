// SPDX-License-Identifier: Apache-2.0
// Deployment cooldowns shared by two gateways through one Redis. Failures seen by gateway A
// cool a deployment down on gateway B too, and the deployment gets traffic again once
// cooldown_time has passed. A group whose every deployment is cooling down gets a quick 429
// with retry-after, also from a gateway started during the cooldown. Request errors (400)
// never cool a deployment down.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, httpRequest, needs, postJson, sleep, startGateway, startMock,
    startRedis,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'redis');

const MASTER_KEY = 'sk-master-cooldown-7d2e';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const COOLDOWN_S = 2;

let redis;
let failing; // serves pair-bad
let healthy; // serves pair-good
let both;    // serves both deployments of duo
let invalid; // serves both deployments of strict
let gatewayA;
let gatewayB;

function deployment(group, id, mock) {
    return `
- model_name: ${group}
  litellm_params:
    model: openai/${id}-model
    api_key: sk-upstream-cooldown
    api_base: ${mock.url}/v1
  model_info:
    id: ${id}`;
}

function config() {
    return `
model_list:${deployment('pair', 'pair-bad', failing)}${deployment('pair', 'pair-good', healthy)}
${deployment('duo', 'duo-one', both)}${deployment('duo', 'duo-two', both)}
${deployment('strict', 'strict-one', invalid)}${deployment('strict', 'strict-two', invalid)}
router_settings:
  num_retries: 0
  allowed_fails: 1
  cooldown_time: ${COOLDOWN_S}
general_settings:
  master_key: ${MASTER_KEY}
`;
}

before(async () => {
    redis = await startRedis();
    failing = await startMock();
    healthy = await startMock();
    both = await startMock();
    invalid = await startMock();
    const env = { REDIS_URL: redis.url };
    gatewayA = await startGateway({ config: config(), workers: 2, env });
    gatewayB = await startGateway({ config: config(), workers: 2, env });
});

after(async () => {
    for (const gw of [gatewayA, gatewayB]) {
        if (gw) {
            await gw.stop();
            assert.doesNotMatch(gw.proc.stderrText, /Sanitizer|runtime error:/, gw.describe());
        }
    }
    for (const mock of [failing, healthy, both, invalid]) {
        if (mock) {
            await mock.stop();
        }
    }
    await redis?.stop();
});

const chat = (gw, model) => postJson(`${gw.url}/v1/chat/completions`, chatBody(model), AUTH);

test('failures on A cool deployment down on B', async () => {
    await failing.queue({ status: 500, count: 100 });

    // allowed_fails is 1: the second failure, on either worker of A, starts the cooldown.
    let sent = 0;
    while ((await failing.requests()).length < 2) {
        assert.ok(sent < 60, 'pair-bad got fewer than 2 calls in 60 requests');
        await chat(gatewayA, 'pair');
        sent += 1;
    }
    const started = Date.now();
    await sleep(200); // the cooldown message reaches every worker of B

    const before = (await failing.requests()).length;
    for (let i = 0; i < 10; i++) {
        const res = await chat(gatewayB, 'pair');
        assert.equal(res.status, 200, res.body);
        assert.equal(res.headers['x-litellm-model-id'], 'pair-good');
    }
    assert.ok(Date.now() - started < COOLDOWN_S * 1000,
        'the checks ran past the cooldown; the test machine is too slow for this timing');
    assert.equal((await failing.requests()).length, before, 'B sent a call to pair-bad');
    // B shows the cooldown A started in its deployment state (2: cooling down).
    const scrape = await httpRequest(`${gatewayB.url}/metrics`);
    assert.match(scrape.body, /^litellm_deployment_state\{[^}]*model_id="pair-bad"[^}]*\} 2(\.0)?$/m,
        'litellm_deployment_state of pair-bad on B');

    // After the cooldown, without a restart, pair-bad gets traffic again.
    await failing.reset();
    await sleep(Math.max(0, COOLDOWN_S * 1000 + 200 - (Date.now() - started)));
    let returned = false;
    for (let i = 0; i < 40 && !returned; i++) {
        const res = await chat(gatewayB, 'pair');
        assert.equal(res.status, 200, res.body);
        returned = (await failing.requests()).length > 0;
    }
    assert.ok(returned, 'pair-bad got no call in 40 requests after its cooldown');
});

test('all deployments cooling gives quick 429', async () => {
    await both.queue({ status: 500, count: 100 });

    let res;
    for (let i = 0; i < 40; i++) {
        res = await chat(gatewayA, 'duo');
        if (res.status === 429) {
            break;
        }
        assert.equal(res.status, 500, res.body);
    }
    expectErrorEnvelope(assert, res, 429);
    const message = res.json().error.message;
    assert.match(message, /^No deployments available for selected model, Try again in 2 seconds\. Passed model=duo\. pre-call-checks=False, cooldown_list=\[/);
    assert.match(message, /'duo-one'/);
    assert.match(message, /'duo-two'/);
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(retryAfter >= 1, `retry-after ${retryAfter}`);
    assert.ok(retryAfter <= COOLDOWN_S, `retry-after ${retryAfter}`);

    // Gateway B learned both cooldowns from Redis and responds at once, without a call.
    await sleep(200);
    const calls = (await both.requests()).length;
    const t0 = Date.now();
    const fromB = await chat(gatewayB, 'duo');
    expectErrorEnvelope(assert, fromB, 429);
    assert.ok(Date.now() - t0 < 1000, `429 after ${Date.now() - t0} ms`);
    assert.ok(fromB.headers['retry-after'] !== undefined, 'no retry-after from B');
    assert.equal((await both.requests()).length, calls);

    // A gateway started now reads the cooldowns in force when its subscription comes up.
    const late = await startGateway({ config: config(), workers: 1, env: { REDIS_URL: redis.url } });
    try {
        await late.waitForLog((e) => e.event === 'cooldown.loaded', 3000);
        const fromLate = await chat(late, 'duo');
        assert.ok(Date.now() - t0 < COOLDOWN_S * 1000,
            'the late gateway started after the cooldown; the test machine is too slow for this timing');
        expectErrorEnvelope(assert, fromLate, 429);
        assert.equal((await both.requests()).length, calls);
    } finally {
        await late.stop();
        assert.doesNotMatch(late.proc.stderrText, /Sanitizer|runtime error:/, late.describe());
    }
    await both.reset();
});

test('400 errors never cool down', async () => {
    await invalid.queue({ status: 400, count: 6 });
    for (let i = 0; i < 6; i++) {
        const res = await chat(gatewayA, 'strict');
        expectErrorEnvelope(assert, res, 400);
    }
    await sleep(200);

    // Both deployments still get traffic on both gateways.
    const seen = new Set();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
        const res = await chat(i % 2 === 0 ? gatewayA : gatewayB, 'strict');
        assert.equal(res.status, 200, res.body);
        seen.add(res.headers['x-litellm-model-id']);
    }
    assert.deepEqual([...seen].sort(), ['strict-one', 'strict-two']);
    assert.doesNotMatch(gatewayA.stdout(), /"cooldown.started"[^\n]*strict-/);
});
