// SPDX-License-Identifier: Apache-2.0
// The Redis scripts behind the auth record cache, run on a real Redis. auth_invalidate drops
// a record and moves the key's change counter. auth_fill stores a record only when the
// counter is still the one its lookup read, so a record read before a change is never stored
// after it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { needs, startRedis } from './lib/harness.mjs';

await needs('redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FILL = fs.readFileSync(path.join(HERE, '../../lua-scripts/auth_fill.lua'), 'utf8');
const INVALIDATE = fs.readFileSync(path.join(HERE, '../../lua-scripts/auth_invalidate.lua'),
    'utf8');
const RECORD = 'sluice:auth:abc';
const COUNTER = 'sluice:authv:abc';

let redis;

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function fill(value, seen) {
    return redisCli('EVAL', FILL, '2', RECORD, COUNTER, value, seen, '60');
}

function invalidate() {
    return redisCli('EVAL', INVALIDATE, '2', RECORD, COUNTER, '600');
}

before(async () => {
    redis = await startRedis();
});

after(async () => {
    await redis?.stop();
});

test('fill stores while the counter is unchanged', () => {
    redisCli('DEL', RECORD, COUNTER);
    assert.equal(fill('v0', ''), '1');
    assert.equal(redisCli('GET', RECORD), 'v0');
    const ttl = Number(redisCli('TTL', RECORD));
    assert.ok(ttl > 0, `ttl ${ttl}`);
    assert.ok(ttl <= 60, `ttl ${ttl}`);
});

test('invalidate drops the record and moves the counter', () => {
    redisCli('DEL', RECORD, COUNTER);
    fill('v0', '');
    assert.equal(invalidate(), '1');
    assert.equal(redisCli('EXISTS', RECORD), '0');
    assert.equal(redisCli('GET', COUNTER), '1');
    const ttl = Number(redisCli('TTL', COUNTER));
    assert.ok(ttl > 0, `ttl ${ttl}`);
    assert.ok(ttl <= 600, `ttl ${ttl}`);
    assert.equal(invalidate(), '2');
});

test('fill read before a change is not stored', () => {
    redisCli('DEL', RECORD, COUNTER);
    // A lookup reads the counter (absent), a change commits and invalidates, then the
    // lookup's record arrives.
    invalidate();
    assert.equal(fill('stale', ''), '0');
    assert.equal(redisCli('EXISTS', RECORD), '0');
    // A lookup that started after the change stores its record.
    assert.equal(fill('fresh', '1'), '1');
    assert.equal(redisCli('GET', RECORD), 'fresh');
});
