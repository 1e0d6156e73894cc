// SPDX-License-Identifier: Apache-2.0
// The Redis scripts behind budgets and rate limits, run on a real Redis with chosen clocks.
// admit.lua: one-second buckets, waits, parallel slots that expire, budgets checked before
// limits, nothing counted on a rejection. settle.lua: tokens, spend and the soft-budget mark.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { needs, startRedis } from './lib/harness.mjs';

await needs('redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ADMIT = fs.readFileSync(path.join(HERE, '../../lua-scripts/admit.lua'), 'utf8');
const SETTLE = fs.readFileSync(path.join(HERE, '../../lua-scripts/settle.lua'), 'utf8');
// 2026-12-05 10:00:00 UTC: a whole minute, so second buckets are easy to count.
const T0 = 1796464800000;

let redis;

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function keysOf(name) {
    return [`t:{${name}}:req`, `t:{${name}}:tok`, `t:{${name}}:par`, `t:{${name}}:spend`];
}

// Runs admit.lua for `scopes` ([{name, rpm, tpm, par, budget, soft, seed, seedTtl}]) and
// returns the reply.
function admit(nowMs, scopes, { id = 'r', slotMs = 60000 } = {}) {
    const keys = scopes.flatMap((s) => keysOf(s.name));
    const args = scopes.flatMap((s) => [s.rpm ?? -1, s.tpm ?? -1, s.par ?? -1, s.budget ?? -1,
        s.soft ?? -1, s.seed ?? -1, s.seedTtl ?? 0].map(String));
    const out = redisCli('EVAL', ADMIT, String(keys.length), ...keys, String(nowMs), id,
        String(slotMs), String(scopes.length), ...args);
    return out.split('\n');
}

// Runs settle.lua and returns its reply: a soft-budget flag per scope, then the stream's
// length (-1 without an event).
function settle(nowMs, scopes, { id = 'r', cost = '0', event = '', maxLen = 1000 } = {}) {
    const keys = scopes.flatMap((s) => [`t:{${s.name}}:tok`, `t:{${s.name}}:par`,
        `t:{${s.name}}:spend`, `t:{${s.name}}:soft`]);
    const args = scopes.flatMap((s) => [s.tokens ?? -1, s.release ?? 0, s.spend ?? 1,
        s.soft ?? -1, s.ttl ?? 0].map(String));
    const out = redisCli('EVAL', SETTLE, String(keys.length + 1), ...keys, 't:events',
        String(nowMs), id, cost, String(scopes.length), event, String(maxLen), ...args);
    return out.split('\n').filter(Boolean).map(Number);
}

before(async () => {
    redis = await startRedis();
});

after(async () => {
    await redis?.stop();
});

test('requests counted over a sliding minute', () => {
    const s = [{ name: 'rpm', rpm: 3 }];
    assert.deepEqual(admit(T0, s), ['1', '2', '-1', '-1', '0']);
    assert.deepEqual(admit(T0 + 500, s), ['1', '1', '-1', '-1', '0']);
    assert.deepEqual(admit(T0 + 30000, s), ['1', '0', '-1', '-1', '0']);
    // Rejected: the two requests of second T0 free a place 60 s after that second began.
    assert.deepEqual(admit(T0 + 59999, s), ['0', '1', 'requests', '3', '0', '1']);
    assert.deepEqual(admit(T0 + 60000, s), ['1', '1', '-1', '-1', '0']);
    assert.deepEqual(admit(T0 + 60001, s), ['1', '0', '-1', '-1', '0']);
    assert.deepEqual(admit(T0 + 60002, s), ['0', '1', 'requests', '3', '0', String(30000 - 2)]);
    const ttl = Number(redisCli('PTTL', 't:{rpm}:req'));
    assert.ok(ttl > 0, `bucket ttl ${ttl}`);
    assert.ok(ttl <= 61000, `bucket ttl ${ttl}`);
});

test('window total kept without reading buckets', () => {
    const s = [{ name: 'total', rpm: 1000, tpm: 1000 }];
    admit(T0, s);
    settle(T0 + 10, [{ name: 'total', tokens: 40 }]);
    admit(T0 + 30000, s);
    settle(T0 + 30010, [{ name: 'total', tokens: 25 }]);
    assert.equal(redisCli('HGET', 't:{total}:req', 'sum'), '2');
    assert.equal(redisCli('HGET', 't:{total}:tok', 'sum'), '65');
    // At T0 + 60 s the buckets of second T0 leave the window and are subtracted and dropped.
    assert.deepEqual(admit(T0 + 60000, s), ['1', '998', '975', '-1', '0']);
    assert.equal(redisCli('HGET', 't:{total}:req', 'sum'), '2');
    assert.equal(redisCli('HEXISTS', 't:{total}:tok', String(T0 / 1000)), '0');
    assert.equal(redisCli('HGET', 't:{total}:tok', 'low'), String(T0 / 1000 + 1));
});

test('counter without total rebuilt', () => {
    // Buckets as a version without `sum` and `low` wrote them, one of them out of the window.
    const second = T0 / 1000;
    redisCli('HSET', 't:{old}:req', String(second - 100), '7', String(second - 5), '3');
    redisCli('PEXPIRE', 't:{old}:req', '61000');
    assert.deepEqual(admit(T0, [{ name: 'old', rpm: 5 }]), ['1', '1', '-1', '-1', '0']);
    assert.equal(redisCli('HEXISTS', 't:{old}:req', String(second - 100)), '0');
    assert.equal(redisCli('HGET', 't:{old}:req', 'sum'), '4');
});

test('late clock counted at low mark', () => {
    const s = [{ name: 'late', tpm: 100 }];
    admit(T0 + 120000, s);
    settle(T0 + 120000, [{ name: 'late', tokens: 10 }]);
    // A node whose clock is 100 s behind settles: its tokens go to the oldest bucket still
    // counted, so they leave the window with it instead of staying in the total for ever.
    settle(T0 + 20000, [{ name: 'late', tokens: 30 }]);
    assert.deepEqual(admit(T0 + 120001, s), ['1', '-1', '60', '-1', '0']);
    assert.deepEqual(admit(T0 + 179999, s), ['1', '-1', '90', '-1', '0']);
    assert.deepEqual(admit(T0 + 180000, s), ['1', '-1', '100', '-1', '0']);
});

test('spend key expires after its period', () => {
    settle(T0, [{ name: 'ttl', ttl: 500 }], { cost: '0.25' });
    settle(T0, [{ name: 'ttl', ttl: 400 }], { cost: '0.25' });
    assert.equal(redisCli('GET', 't:{ttl}:spend'), '0.5');
    const ttl = Number(redisCli('TTL', 't:{ttl}:spend'));
    assert.ok(ttl > 400, `spend ttl ${ttl} set by the call that created the key`);
    assert.ok(ttl <= 500, `spend ttl ${ttl}`);
});

test('zero limit rejects for ever', () => {
    assert.deepEqual(admit(T0, [{ name: 'zero', rpm: 0 }]), ['0', '1', 'requests', '0', '0', '-1']);
});

test('settled tokens age out', () => {
    const s = [{ name: 'tpm', tpm: 150 }];
    assert.deepEqual(admit(T0, s), ['1', '-1', '150', '-1', '0']);
    settle(T0 + 10, [{ name: 'tpm', tokens: 95 }]);
    assert.deepEqual(admit(T0 + 20, s), ['1', '-1', '55', '-1', '0']);
    settle(T0 + 2000, [{ name: 'tpm', tokens: 95 }]);
    assert.deepEqual(admit(T0 + 3000, s), ['0', '1', 'tokens', '150', '0', String(57000)]);
    assert.deepEqual(admit(T0 + 60000, s), ['1', '-1', '55', '-1', '0']);
});

test('parallel slots released or expired', () => {
    const s = [{ name: 'par', par: 1 }];
    assert.deepEqual(admit(T0, s, { id: 'a' }), ['1', '-1', '-1', '0', '0']);
    assert.deepEqual(admit(T0 + 1, s, { id: 'b' }),
        ['0', '1', 'max_parallel_requests', '1', '0', '1000']);
    settle(T0 + 2, [{ name: 'par', release: 1 }], { id: 'a' });
    assert.deepEqual(admit(T0 + 3, s, { id: 'b', slotMs: 5000 }), ['1', '-1', '-1', '0', '0']);
    // b's holder never settles: its slot expires 5 s after it was taken.
    assert.equal(admit(T0 + 5002, s, { id: 'c' })[0], '0');
    assert.equal(admit(T0 + 5003, s, { id: 'c' })[0], '1');
});

test('budgets first, rejections count nothing', () => {
    redisCli('SET', 't:{spent}:spend', '2.5');
    const scopes = [{ name: 'first', rpm: 5 }, { name: 'spent', budget: 2.5 }];
    assert.deepEqual(admit(T0, scopes), ['0', '2', 'budget', '2.5', '2.5', '0']);
    assert.equal(redisCli('EXISTS', 't:{first}:req'), '0');
    assert.deepEqual(admit(T0, [{ name: 'spent', budget: 2.6, soft: 2 }]),
        ['1', '-1', '-1', '-1', '2.5']);
});

test('lost spend rebuilt from the seed', () => {
    // The key is missing, as after a Redis restart without persistence: the seed is the spend.
    assert.deepEqual(admit(T0, [{ name: 'seeded', budget: 5, seed: 4.5, seedTtl: 100 }]),
        ['1', '-1', '-1', '-1', '4.5']);
    assert.equal(redisCli('GET', 't:{seeded}:spend'), '4.5');
    const ttl = Number(redisCli('TTL', 't:{seeded}:spend'));
    assert.ok(ttl > 0, `seeded spend ttl ${ttl}`);
    assert.ok(ttl <= 100, `seeded spend ttl ${ttl}`);
    // A key that exists wins over the seed, and a seed of the budget rejects.
    redisCli('SET', 't:{seeded}:spend', '1');
    assert.deepEqual(admit(T0, [{ name: 'seeded', budget: 5, seed: 4.5 }]),
        ['1', '-1', '-1', '-1', '1']);
    assert.deepEqual(admit(T0, [{ name: 'seeded-full', budget: 5, seed: 5 }]),
        ['0', '1', 'budget', '5', '5', '0']);
});

test('spend adds up, soft mark set once', () => {
    const scope = { name: 'soft', soft: 1, ttl: 120 };
    assert.deepEqual(settle(T0, [scope], { cost: '0.6' }), [0, -1]);
    assert.deepEqual(settle(T0, [scope], { cost: '0.6' }), [1, -1]);
    assert.deepEqual(settle(T0, [scope], { cost: '0.6' }), [0, -1]);
    assert.equal(redisCli('GET', 't:{soft}:spend'), '1.8');
    const ttl = Number(redisCli('TTL', 't:{soft}:soft'));
    assert.ok(ttl > 0, `soft mark ttl ${ttl}`);
    assert.ok(ttl <= 120, `soft mark ttl ${ttl}`);
    // A scope that does not count spend is left alone.
    assert.deepEqual(settle(T0, [{ name: 'nospend', spend: 0 }], { cost: '5' }), [0, -1]);
    assert.equal(redisCli('EXISTS', 't:{nospend}:spend'), '0');
});

test('events appended to a capped stream', () => {
    assert.deepEqual(settle(T0, [], { event: 'first', maxLen: 1000 }), [1]);
    assert.deepEqual(settle(T0, [{ name: 'ev', tokens: 5 }], { event: 'second' }), [0, 2]);
    const entries = redisCli('XRANGE', 't:events', '-', '+');
    assert.match(entries, /\be\nfirst\n[\s\S]*\be\nsecond/);
    // MAXLEN ~ trims whole macro nodes (100 entries by default), so the length stays near the
    // cap rather than at it.
    for (let i = 0; i < 300; i++)
        settle(T0, [], { event: `x${i}`, maxLen: 100 });
    const length = Number(redisCli('XLEN', 't:events'));
    assert.ok(length >= 100, `stream length ${length}`);
    assert.ok(length < 300, `stream length ${length}`);
});

test('malformed arguments rejected', () => {
    const bad = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', ADMIT, '4',
        ...keysOf('x'), 'now', 'r', '60000', '1', '1', '-1', '-1', '-1', '-1'],
    { encoding: 'utf8' });
    assert.match(bad.stdout + bad.stderr, /admit: bad arguments/);
    const short = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', SETTLE, '1', 'ev',
        '1', 'r', '-1', '0', '', '10'], { encoding: 'utf8' });
    assert.match(short.stdout + short.stderr, /settle: bad arguments/);
});
