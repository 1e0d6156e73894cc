// SPDX-License-Identifier: Apache-2.0
// The Redis scripts behind usage-based routing, run on a real Redis. usage_pick picks the
// candidate with the fewest tokens this minute among those with rpm/tpm headroom in the first
// tier that has one, and counts a request on it. usage_tokens adds a finished call's tokens.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { needs, startRedis } from './lib/harness.mjs';

await needs('redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PICK = fs.readFileSync(path.join(HERE, '../../lua-scripts/usage_pick.lua'), 'utf8');
const TOKENS = fs.readFileSync(path.join(HERE, '../../lua-scripts/usage_tokens.lua'), 'utf8');
const MINUTE = 29000000;

let redis;

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

const rpmKey = (id) => `sluice:routing:rpm:${id}:${MINUTE}`;
const tpmKey = (id) => `sluice:routing:tpm:${id}:${MINUTE}`;

// Runs usage_pick for candidates [{id, rpm, tpm, tier}]; returns the three numbers it returns.
function pick(candidates, inputTokens = 0, ttl = 60) {
    const keys = candidates.flatMap((c) => [rpmKey(c.id), tpmKey(c.id)]);
    const args = candidates.flatMap((c) => [String(c.rpm ?? 0), String(c.tpm ?? 0), String(c.tier ?? 0)]);
    const out = redisCli('EVAL', PICK, String(keys.length), ...keys, String(ttl),
        String(inputTokens), ...args);
    return out.split('\n').map(Number);
}

function addTokens(id, tokens) {
    return Number(redisCli('EVAL', TOKENS, '1', tpmKey(id), String(tokens), '60'));
}

function reset() {
    const keys = redisCli('KEYS', 'sluice:routing:*').split('\n').filter(Boolean);
    if (keys.length > 0) {
        redisCli('DEL', ...keys);
    }
}

before(async () => {
    redis = await startRedis();
});

after(async () => {
    await redis?.stop();
});

test('pick takes fewest tokens and counts', () => {
    reset();
    addTokens('a', 500);
    addTokens('b', 100);
    assert.deepEqual(pick([{ id: 'a' }, { id: 'b' }]), [2, 1, 100]);
    assert.equal(redisCli('GET', rpmKey('b')), '1');
    assert.equal(redisCli('EXISTS', rpmKey('a')), '0');
    const ttl = Number(redisCli('TTL', rpmKey('b')));
    assert.ok(ttl > 0, `rpm counter ttl ${ttl}`);
    assert.ok(ttl <= 60, `rpm counter ttl ${ttl}`);
});

test('pick skips deployments at rpm', () => {
    reset();
    assert.deepEqual(pick([{ id: 'a', rpm: 2 }]), [1, 1, 0]);
    assert.deepEqual(pick([{ id: 'a', rpm: 2 }]), [1, 2, 0]);
    assert.deepEqual(pick([{ id: 'a', rpm: 2 }]), [0, 0, 0]);
    assert.equal(redisCli('GET', rpmKey('a')), '2');
    assert.deepEqual(pick([{ id: 'a', rpm: 2 }, { id: 'b', rpm: 2 }]), [2, 1, 0]);
});

test('pick checks tpm with input tokens', () => {
    reset();
    addTokens('a', 90);
    assert.deepEqual(pick([{ id: 'a', tpm: 100 }], 10), [1, 1, 90]);
    assert.deepEqual(pick([{ id: 'a', tpm: 100 }], 11), [0, 0, 0]);
});

test('pick falls to next tier when full', () => {
    reset();
    const candidates = [
        { id: 'first', rpm: 1, tier: 1 },
        { id: 'second', rpm: 5, tier: 2 },
        { id: 'third', tier: 2 },
    ];
    assert.deepEqual(pick(candidates), [1, 1, 0]);
    addTokens('second', 50);
    // Tier 1 is at its rpm: tier 2 takes the request, with its fewest tokens.
    assert.deepEqual(pick(candidates), [3, 1, 0]);
    assert.equal(redisCli('EXISTS', rpmKey('second')), '0');
});

test('pick never leaves a lower tier early', () => {
    reset();
    addTokens('first', 1000);
    // A busier deployment of tier 1 still wins over an idle one of tier 2.
    assert.deepEqual(pick([{ id: 'first', tier: 1 }, { id: 'second', tier: 2 }]), [1, 1, 1000]);
});

test('pick rejects invalid arguments', () => {
    reset();
    const res = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', PICK, '2', rpmKey('a'),
        tpmKey('a'), '30', '0', '0', '0', '0'], { encoding: 'utf8' });
    assert.match(res.stdout, /usage_pick: expected ttl_s >= 60/);
    const short = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', PICK, '2', rpmKey('a'),
        tpmKey('a'), '60', '0', '0'], { encoding: 'utf8' });
    assert.match(short.stdout, /usage_pick: expected/);
    assert.equal(redisCli('EXISTS', rpmKey('a')), '0');
});

test('tokens add up with a lifetime', () => {
    reset();
    assert.equal(addTokens('a', 40), 40);
    assert.equal(addTokens('a', 2), 42);
    const ttl = Number(redisCli('TTL', tpmKey('a')));
    assert.ok(ttl > 0, `tpm counter ttl ${ttl}`);
    assert.ok(ttl <= 60, `tpm counter ttl ${ttl}`);
    const res = spawnSync('redis-cli', ['-p', String(redis.port), 'EVAL', TOKENS, '1', tpmKey('a'),
        '-1', '60'], { encoding: 'utf8' });
    assert.match(res.stdout, /usage_tokens: tokens must be an integer >= 0/);
});
