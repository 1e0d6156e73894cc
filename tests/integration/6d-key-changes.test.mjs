// SPDX-License-Identifier: Apache-2.0
// Changes made through the management API on one gateway reach every worker of another
// within a second: block, update, delete, regenerate, and expiry. Then PostgreSQL goes away:
// cached keys keep working, unknown keys and the management API fail with clear errors, and
// both recover by themselves when PostgreSQL is back.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, httpRequest, needs, sleep } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-changes-9d3e' });
let nodeA;
let nodeB;
// Requests per check: each is a new connection, so both workers of a node are reached.
const SPREAD = 6;

function models(node, key) {
    return httpRequest(`${node.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
}

// Asserts that each of SPREAD requests on `node` returns 200.
async function expectWorks(node, key) {
    for (let i = 0; i < SPREAD; i++) {
        const res = await models(node, key);
        assert.equal(res.status, 200, res.body);
    }
}

// Waits until SPREAD requests in a row on `node` pass `done`; returns the time it took.
async function timeUntil(node, key, done) {
    const start = Date.now();
    for (;;) {
        let all = true;
        for (let i = 0; i < SPREAD && all; i++) {
            all = done(await models(node, key));
        }
        if (all) {
            return Date.now() - start;
        }
        assert.ok(Date.now() - start < 5000, 'the change never reached the node');
        await sleep(20);
    }
}

before(async () => {
    await stack.start();
    nodeA = await stack.startNode();
    nodeB = await stack.startNode();
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('block on one node stops the key on the other within a second', async () => {
    const { key } = await stack.generate(nodeA, {});
    await expectWorks(nodeA, key);
    await expectWorks(nodeB, key);
    await stack.ok(nodeA, 'POST', '/key/block', { key });
    const ms = await timeUntil(nodeB, key, (res) => res.status === 401
        && /Key is blocked/.test(res.body));
    assert.ok(ms < 1000, `took ${ms} ms`);
    await stack.ok(nodeA, 'POST', '/key/unblock', { key });
    await sleep(100);
    await expectWorks(nodeB, key);
});

test('update of models reaches the other node within a second', async () => {
    const { key } = await stack.generate(nodeA, { models: ['gpt-4o-mini'] });
    const first = await models(nodeB, key);
    assert.deepEqual(first.json().data.map((m) => m.id), ['gpt-4o-mini']);
    await expectWorks(nodeB, key);
    await stack.ok(nodeA, 'POST', '/key/update', { key, models: ['no-such-model'] });
    const ms = await timeUntil(nodeB, key,
        (res) => res.status === 200 && res.json().data.length === 0);
    assert.ok(ms < 1000, `took ${ms} ms`);
});

test('delete on one node stops the key on the other within a second', async () => {
    const { key } = await stack.generate(nodeA, {});
    await expectWorks(nodeB, key);
    await stack.ok(nodeA, 'POST', '/key/delete', { keys: [key] });
    const ms = await timeUntil(nodeB, key, (res) => res.status === 401
        && /token_not_found_in_db/.test(res.body));
    assert.ok(ms < 1000, `took ${ms} ms`);
});

test('regenerate stops the old key on the other node within a second', async () => {
    const created = await stack.generate(nodeA, {});
    await expectWorks(nodeB, created.key);
    const fresh = await stack.ok(nodeA, 'POST', '/key/regenerate', { key: created.key });
    stack.remember(fresh.key);
    const ms = await timeUntil(nodeB, created.key, (res) => res.status === 401);
    assert.ok(ms < 1000, `took ${ms} ms`);
    await expectWorks(nodeB, fresh.key);
});

test('a key created after a failed use works within a second', async () => {
    // Unknown keys are remembered for a moment; creating the key must end that everywhere.
    const key = `sk-custom-${crypto.randomBytes(12).toString('hex')}`;
    stack.remember(key);
    for (const node of [nodeA, nodeB]) {
        for (let i = 0; i < SPREAD; i++) {
            expectErrorEnvelope(assert, await models(node, key), 401);
        }
    }
    await stack.ok(nodeB, 'POST', '/key/generate', { key });
    const start = Date.now();
    for (const node of [nodeA, nodeB]) {
        await timeUntil(node, key, (res) => res.status === 200);
    }
    assert.ok(Date.now() - start < 1000, `took ${Date.now() - start} ms`);
});

test('an expired key stops on every node', async () => {
    const { key } = await stack.generate(nodeA, { duration: '1s' });
    await models(nodeA, key);
    await models(nodeB, key);
    // Expiry is kept in whole seconds: past two seconds the key is expired for certain.
    await sleep(2100);
    for (const node of [nodeA, nodeB]) {
        for (let i = 0; i < SPREAD; i++) {
            const err = expectErrorEnvelope(assert, await models(node, key), 400);
            assert.equal(err.type, 'expired_key');
        }
    }
});

test('without PostgreSQL cached keys work and the rest fails clearly, then recovers', async () => {
    const { key } = await stack.generate(nodeA, {});
    await expectWorks(nodeA, key);
    await stack.waitForKeyInRedis(nodeA, key);
    const unknown = `sk-${crypto.randomBytes(16).toString('hex')}`;
    stack.remember(unknown);

    await stack.pg.stop();
    const start = Date.now();
    let res = await stack.call(nodeA, 'GET', '/key/list');
    let err = expectErrorEnvelope(assert, res, 503);
    assert.equal(err.type, 'no_db_connection');
    assert.match(err.message, /database is unavailable/);
    assert.ok(Date.now() - start < 6000, 'the management API returns without hanging');
    res = await stack.call(nodeA, 'POST', '/key/generate', {});
    expectErrorEnvelope(assert, res, 503);
    res = await stack.call(nodeB, 'POST', '/team/new', { team_alias: 'during-outage' });
    expectErrorEnvelope(assert, res, 503);

    // The key is cached (Redis) and keeps working; an unknown key cannot be checked.
    await sleep(1100);
    await expectWorks(nodeA, key);
    await expectWorks(nodeB, key);
    err = expectErrorEnvelope(assert, await models(nodeA, unknown), 401);
    assert.match(err.message, /database is unavailable/);

    await stack.pg.restart();
    const deadline = Date.now() + 20000;
    for (;;) {
        res = await stack.call(nodeA, 'GET', '/key/list');
        if (res.status === 200) {
            break;
        }
        assert.ok(Date.now() < deadline, `still ${res.status} after PostgreSQL came back`);
        await sleep(200);
    }
    const again = await stack.generate(nodeB, {});
    await expectWorks(nodeA, again.key);
});
