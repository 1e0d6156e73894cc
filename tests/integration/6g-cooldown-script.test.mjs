// SPDX-License-Identifier: Apache-2.0
// The Redis script behind deployment cooldowns, run on a real Redis. cooldown_fail counts a
// deployment's failures of the current minute and, past allowed_fails, sets its cooldown-until, adds it to the set of cooldowns and publishes "<until_ms> <id>".

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { needs, startRedis } from './lib/harness.mjs';

await needs('redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = fs.readFileSync(path.join(HERE, '../../lua-scripts/cooldown_fail.lua'), 'utf8');
const UNTIL = 'sluice:cooldown:until:dep-a';
const SET = 'sluice:cooldown:all';
const CHANNEL = 'sluice:deployments:cooldown';

let redis;

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function fail({ id = 'dep-a', allowed = 1, cooldownMs = 2000, nowMs }) {
    const minute = Math.floor(nowMs / 60000);
    const out = redisCli('EVAL', SCRIPT, '4', `sluice:cooldown:fails:${id}:${minute}`,
        `sluice:cooldown:until:${id}`, SET, CHANNEL, id, String(allowed), String(cooldownMs),
        String(nowMs));
    return out.split('\n').map(Number);
}

function reset() {
    const keys = redisCli('KEYS', 'sluice:cooldown:*').split('\n').filter(Boolean);
    if (keys.length > 0)
        redisCli('DEL', ...keys);
}

before(async () => {
    redis = await startRedis();
});

after(async () => {
    await redis?.stop();
});

test('failures up to allowed_fails do not cool down', () => {
    reset();
    const now = Date.now();
    assert.deepEqual(fail({ allowed: 2, nowMs: now }), [1, 0]);
    assert.deepEqual(fail({ allowed: 2, nowMs: now + 1 }), [2, 0]);
    assert.equal(redisCli('EXISTS', UNTIL), '0');
    const ttl = Number(redisCli('TTL', `sluice:cooldown:fails:dep-a:${Math.floor(now / 60000)}`));
    assert.ok(ttl > 0, `counter ttl ${ttl}`);
    assert.ok(ttl <= 60, `counter ttl ${ttl}`);
});

test('failure past allowed_fails cools down', () => {
    reset();
    const now = Date.now();
    fail({ allowed: 1, nowMs: now });
    assert.deepEqual(fail({ allowed: 1, cooldownMs: 2000, nowMs: now + 5 }), [2, now + 2005]);
    assert.equal(redisCli('GET', UNTIL), String(now + 2005));
    const pttl = Number(redisCli('PTTL', UNTIL));
    assert.ok(pttl > 0, `until pttl ${pttl}`);
    assert.ok(pttl <= 2000, `until pttl ${pttl}`);
    assert.equal(redisCli('ZSCORE', SET, 'dep-a'), String(now + 2005));
    // A later failure in the cooldown does not extend a longer one.
    assert.deepEqual(fail({ allowed: 1, cooldownMs: 100, nowMs: now + 10 }), [3, now + 2005]);
});

test('allowed_fails 0 cools down at once', () => {
    reset();
    const now = Date.now();
    assert.deepEqual(fail({ allowed: 0, cooldownMs: 1000, nowMs: now }), [1, now + 1000]);
});

test('set drops ended cooldowns', () => {
    reset();
    const now = Date.now();
    redisCli('ZADD', SET, String(now - 10), 'dep-old');
    fail({ allowed: 0, nowMs: now });
    assert.equal(redisCli('ZSCORE', SET, 'dep-old'), '');
    assert.equal(redisCli('ZSCORE', SET, 'dep-a'), String(now + 2000));
});

test('invalid arguments are rejected', () => {
    reset();
    const res = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', SCRIPT, '4', 'k1', 'k2',
        SET, CHANNEL, 'dep-a', '-1', '1000', '5'], { encoding: 'utf8' });
    assert.match(res.stdout + res.stderr, /cooldown_fail: /);
    assert.equal(redisCli('EXISTS', 'k2'), '0');
});

test('cooldown is published on the channel', async () => {
    reset();
    const sub = spawn('redis-cli', ['-p', String(redis.port), 'SUBSCRIBE', CHANNEL]);
    let output = '';
    sub.stdout.on('data', (chunk) => { output += chunk; });
    try {
        const deadline = Date.now() + 5000;
        while (!output.includes(CHANNEL) && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 20));
        assert.ok(output.includes(CHANNEL), 'subscription did not start');
        const now = Date.now();
        fail({ allowed: 0, cooldownMs: 3000, nowMs: now });
        const message = `${now + 3000} dep-a`;
        while (!output.includes(message) && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 20));
        assert.ok(output.includes(message), `no message "${message}" in: ${output}`);
    } finally {
        sub.kill();
    }
});
