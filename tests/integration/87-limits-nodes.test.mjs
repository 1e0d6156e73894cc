// SPDX-License-Identifier: Apache-2.0
// Limits shared by gateway processes through one Redis, as docs/limits.md describes them. An
// rpm_limit admits exactly its number of requests across two nodes under 64 concurrent
// clients. A budget is overrun by at most the requests in flight when it was reached. Then
// Redis is killed: fail_open nodes keep serving and count limits in their own memory, a
// fail_closed node returns 503, and all of them use Redis again once it is back.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { expectErrorEnvelope, needs, sleep, startMock } from './lib/harness.mjs';
import {
    chat, describe, expectRateLimited, expectStatus, pollUntil, pool, pricedModels,
    providerCalls, spendRecords, statusCounts,
} from './lib/limits.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const COST = 0.095; // USD of one priced request: 90 prompt and 5 completion tokens at 0.001
const CLIENTS = 64;

const stack = new MgmtStack({ masterKey: 'sk-master-nodes-87c3' });
let mock;
let nodeA;  // fail_open (the default)
let nodeB;  // fail_open
let closed; // fail_closed

before(async () => {
    await stack.start();
    mock = await startMock({ args: ['--threads', '2'] });
    const models = pricedModels(mock);
    nodeA = await stack.startNode({ models });
    nodeB = await stack.startNode({ models });
    closed = await stack.startNode({ models, workers: 1,
        general: '  redis_failure_mode: fail_closed' });
});

beforeEach(async () => {
    await mock.reset();
});

after(async () => {
    await mock?.stop();
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('rpm limit exact across two nodes', async () => {
    const { key } = await stack.generate(nodeA, { rpm_limit: 100 });
    const results = await pool(300, CLIENTS, (i) => chat(i % 2 === 0 ? nodeA : nodeB, key));

    const counts = statusCounts(results);
    const odd = results.find((r) => r.status !== 200 && r.status !== 429);
    assert.equal(odd, undefined, `only 200 and 429 are expected: ${odd && describe(odd)}`);
    assert.equal(counts[200], 100, `admitted requests: ${JSON.stringify(counts)}`);
    assert.equal(counts[429], 200, `rejected requests: ${JSON.stringify(counts)}`);
    for (const res of results.filter((r) => r.status === 429)) {
        expectRateLimited(res, { scope: 'api_key', id: sha256(key), type: 'requests',
            limit: 100 });
    }
    assert.equal(await providerCalls(mock), 100, 'the provider saw exactly the admitted ones');
});

test('budget overrun bounded by requests in flight', async () => {
    await mock.queue({ latency_ms: 50, usage: { prompt_tokens: 90, completion_tokens: 5 },
        count: 1000 });
    // Reached after 10 requests. Requests admitted before that spend is settled still count.
    const MAX_BUDGET = 0.95;
    const { key } = await stack.generate(nodeA, { max_budget: MAX_BUDGET });
    const results = await pool(200, CLIENTS, (i) => chat(i % 2 === 0 ? nodeA : nodeB, key));

    const admitted = results.filter((r) => r.status === 200).length;
    const counts = JSON.stringify(statusCounts(results));
    assert.ok(admitted >= 10, `at least the budget's worth is admitted: ${counts}`);
    assert.ok(admitted <= 10 + CLIENTS, `at most ${CLIENTS} requests overrun it: ${counts}`);
    for (const res of results.filter((r) => r.status !== 200)) {
        expectStatus(res, 400, 'a request over the budget');
        assert.match(res.json().error.message,
            /^Budget has been exceeded! Current cost: [0-9.e+-]+, Max budget: 0\.95$/,
            describe(res));
    }
    assert.equal(await providerCalls(mock), admitted, 'the provider saw exactly the admitted ones');

    // Every admitted request's cost ends up in the spend, whichever node served it.
    const expected = admitted * COST;
    const spend = await pollUntil(() => {
        const values = Object.values(spendRecords(stack.redis.port, 'api_key', sha256(key)));
        return values.length === 1 && values[0] >= expected - 1e-9 ? values[0] : null;
    }, `spend ${expected} in Redis`, 5000, 50);
    assert.ok(Math.abs(spend - expected) < 1e-9, `spend ${spend}, expected ${expected}`);
});

test('redis outage fail_open and fail_closed', async () => {
    const { key: perNode } = await stack.generate(nodeA, { rpm_limit: 3 });
    const { key: afterOutage } = await stack.generate(nodeA, { rpm_limit: 2 });
    // A limit that is never reached, so that every request of this key goes through admission.
    const { key: probe } = await stack.generate(nodeA, { rpm_limit: 1000000 });
    for (const node of [nodeA, nodeB, closed]) {
        expectStatus(await chat(node, probe), 200, 'probe before the outage');
    }
    await mock.reset();

    await stack.redis.kill();

    // fail_open: each node admits the key's 3 requests from its own count.
    for (const node of [nodeA, nodeB]) {
        const results = [];
        for (let i = 0; i < 5; i++) {
            results.push(await chat(node, perNode));
        }
        assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 429, 429],
            `one node without Redis: ${results.map(describe).join('\n')}`);
        expectRateLimited(results[3], { scope: 'api_key', id: sha256(perNode), type: 'requests',
            limit: 3 });
        await node.waitForLog((e) => e.event === 'limits.redis_degraded', 5000);
    }
    assert.equal(await providerCalls(mock), 6, 'each node admitted the limit once');

    // fail_closed: model requests are rejected and never sent on.
    const rejected = await chat(closed, probe);
    const err = expectErrorEnvelope(assert, rejected, 503);
    assert.match(err.message, /redis|limit/i, `the message names the cause; ${describe(rejected)}`);
    assert.equal(await providerCalls(mock), 6, 'the fail_closed node sent nothing on');

    await stack.redis.restart();
    const restartedAt = Date.now();

    await pollUntil(async () => (await chat(closed, probe)).status === 200,
        'the fail_closed node serves again', 10000, 200);
    await pollUntil(async () => {
        await Promise.all([chat(nodeA, probe), chat(nodeB, probe)]);
        return [nodeA, nodeB].every((node) => node.logs
            .some((e) => e.event === 'limits.redis_recovered'));
    }, 'limits.redis_recovered logged by both fail_open nodes', 10000, 200);

    // Each worker reconnects on its own back-off timer (at most 5 s apart), and a node logs its
    // recovery as soon as one worker reaches Redis, so wait out the longest back-off before counting.
    await sleep(Math.max(0, restartedAt + 5500 - Date.now()));

    // Back on Redis, the nodes share one count again.
    const results = [];
    for (const node of [nodeA, nodeB, nodeA, nodeB]) {
        results.push(await chat(node, afterOutage));
    }
    assert.deepEqual(results.map((r) => r.status), [200, 200, 429, 429],
        `two nodes on one Redis after the outage: ${results.map(describe).join('\n')}`);
    expectRateLimited(results[2], { scope: 'api_key', id: sha256(afterOutage),
        type: 'requests', limit: 2 });
});
