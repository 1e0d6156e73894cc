// SPDX-License-Identifier: Apache-2.0
// The /cache/ routes on a real Redis and no database: /cache/ping with the cache on, off and
// its Redis down and back, /cache/delete of given cache keys, and /cache/flushall, which must
// remove the sluice:cache:* keys only and leave the gateway's other Redis keys alone. Also
// wrong methods, bad bodies and a wrong key. Role checks of virtual keys need PostgreSQL and are
// covered by the route table's access classes in tests/unit/gateway/cache_routes_test.c.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import {
    expectErrorEnvelope, httpRequest, makeTempDir, needs, postJson, sleep, startGateway,
    startRedis,
} from './lib/harness.mjs';

await needs('gateway', 'redis');

const MASTER = 'sk-cache-master';
const AUTH = { authorization: `Bearer ${MASTER}` };

let redis;
let gw;
const restarted = []; // redis-server processes this file started itself, ended by PID

function config(cache) {
    return `
general_settings:
  master_key: ${MASTER}
litellm_settings:
  cache: ${cache}
  cache_params:
    type: redis
    ttl: 120
`;
}

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function exists(key) {
    return redisCli('EXISTS', key) === '1';
}

function get(url, headers = AUTH) {
    return httpRequest(url, { method: 'GET', headers });
}

before(async () => {
    redis = await startRedis();
    // One worker, so the availability log lines below come from the worker that served every
    // request (each worker logs its own changes of state).
    gw = await startGateway({ config: config('true'), env: { REDIS_URL: redis.url }, workers: 1 });
});

after(async () => {
    await gw?.stop();
    for (const child of restarted) {
        if (child.exitCode === null) {
            process.kill(child.pid, 'SIGKILL');
        }
    }
    await redis?.stop();
});

test('ping reports a healthy redis cache', async () => {
    const res = await get(`${gw.url}/cache/ping`);
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.status, 'healthy');
    assert.equal(body.cache_type, 'redis');
    assert.equal(body.ping_response, true);
    assert.equal(body.set_cache_response, 'success');
    assert.equal(typeof body.litellm_cache_params, 'string');
    assert.equal(JSON.parse(body.litellm_cache_params).ttl, 120);
    assert.equal(body.health_check_cache_params.host, '127.0.0.1');
    assert.equal(body.health_check_cache_params.port, redis.port);
    assert.match(body.health_check_cache_params.redis_version, /^\d+\.\d+/);
    assert.ok(!/password/i.test(res.body), `no password field: ${res.body}`);
    // The ping's write lands under the cache prefix with a TTL.
    const ttl = Number(redisCli('TTL', 'sluice:cache:health_check'));
    assert.ok(ttl > 0, `ttl ${ttl}`);
    assert.ok(ttl <= 60, `ttl ${ttl}`);
});

test('ping without a key is rejected', async () => {
    const res = await get(`${gw.url}/cache/ping`, {});
    expectErrorEnvelope(assert, res, 401);
    const wrong = await get(`${gw.url}/cache/ping`, { authorization: 'Bearer sk-wrong' });
    expectErrorEnvelope(assert, wrong, 401);
});

test('delete removes the given cache keys only', async () => {
    redisCli('SET', 'sluice:cache:ns1:aaaa', '{"response":1}', 'EX', '300');
    redisCli('SET', 'sluice:cache:bbbb', '{"response":2}', 'EX', '300');
    redisCli('SET', 'sluice:cache:cccc', '{"response":3}', 'EX', '300');
    const res = await postJson(`${gw.url}/cache/delete`, { keys: ['ns1:aaaa', 'bbbb', 'absent'] },
        AUTH);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { status: 'success' });
    assert.equal(exists('sluice:cache:ns1:aaaa'), false);
    assert.equal(exists('sluice:cache:bbbb'), false);
    assert.equal(exists('sluice:cache:cccc'), true);

    const empty = await postJson(`${gw.url}/cache/delete`, { keys: [] }, AUTH);
    assert.equal(empty.status, 200, empty.body);
    assert.equal(exists('sluice:cache:cccc'), true);
});

test('delete rejects bad bodies', async () => {
    const cases = [
        ['no body', ''],
        ['keys missing', {}],
        ['keys not a list', { keys: 'abc' }],
        ['key not a string', { keys: ['abc', 5] }],
        ['empty key', { keys: [''] }],
        ['key too long', { keys: ['x'.repeat(513)] }],
        ['too many keys', { keys: Array.from({ length: 1001 }, (_, i) => `k${i}`) }],
        ['not JSON', '{"keys": ['],
    ];
    for (const [name, body] of cases) {
        const res = await postJson(`${gw.url}/cache/delete`, body, AUTH);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.ok(err.message.length > 0, name);
    }
});

test('wrong methods get 405 with allow', async () => {
    const cases = [['/cache/ping', 'POST', 'GET'], ['/cache/delete', 'GET', 'POST'],
        ['/cache/flushall', 'GET', 'POST']];
    for (const [route, method, allow] of cases) {
        const res = await httpRequest(`${gw.url}${route}`, { method, headers: AUTH });
        expectErrorEnvelope(assert, res, 405);
        assert.equal(res.headers.allow, allow, route);
    }
    const unknown = await get(`${gw.url}/cache/nothing`);
    assert.equal(unknown.status, 404, unknown.body);
});

test('flushall removes cache keys only', async () => {
    const args = [];
    for (let i = 0; i < 1200; i++) {
        args.push(`sluice:cache:ns:${i}`, 'v');
    }
    redisCli('MSET', ...args);
    redisCli('SET', 'sluice:auth:abc', 'record');
    redisCli('SET', 'sluice:rl:key:abc', '3');
    redisCli('SET', 'other:cache:x', 'foreign');
    const res = await httpRequest(`${gw.url}/cache/flushall`, { method: 'POST', headers: AUTH });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.status, 'success');
    assert.equal(body.complete, true);
    assert.ok(body.deleted >= 1200, `deleted ${body.deleted}`);
    assert.equal(redisCli('--scan', '--pattern', 'sluice:cache:*'), '');
    assert.equal(exists('sluice:auth:abc'), true);
    assert.equal(exists('sluice:rl:key:abc'), true);
    assert.equal(exists('other:cache:x'), true);
    // The gateway's stdout is read asynchronously, so the line may arrive after the response.
    await gw.waitForLog((e) => e.event === 'cache.flushed' && e.deleted === body.deleted, 5000);
});

test('ping and delete fail while redis is down, then recover', async () => {
    await redis.stop();
    const down = await get(`${gw.url}/cache/ping`);
    const err = expectErrorEnvelope(assert, down, 503);
    assert.match(err.message, /Redis is unavailable/);
    const del = await postJson(`${gw.url}/cache/delete`, { keys: ['abc'] }, AUTH);
    expectErrorEnvelope(assert, del, 503);
    const flush = await httpRequest(`${gw.url}/cache/flushall`, { method: 'POST', headers: AUTH });
    expectErrorEnvelope(assert, flush, 503);
    await gw.waitForLog((e) => e.event === 'cache.redis_unavailable', 5000);

    const dir = makeTempDir('sluice-redis-restart-');
    restarted.push(spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(redis.port),
        '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    { stdio: 'ignore' }));
    let res;
    const deadline = Date.now() + 15000;
    for (;;) {
        res = await get(`${gw.url}/cache/ping`);
        if (res.status === 200 || Date.now() > deadline) {
            break;
        }
        await sleep(200);
    }
    assert.equal(res.status, 200, res.body);
    await gw.waitForLog((e) => e.event === 'cache.redis_available', 5000);
    // One line per change of state, not one per failed request.
    assert.equal(gw.logs.filter((e) => e.event === 'cache.redis_unavailable').length, 1);
    assert.equal(gw.logs.filter((e) => e.event === 'cache.redis_available').length, 1);
});

test('routes answer 503 when the cache is off', async () => {
    const off = await startGateway({ config: config('false'), env: { REDIS_URL: redis.url } });
    try {
        const ping = await get(`${off.url}/cache/ping`);
        const err = expectErrorEnvelope(assert, ping, 503);
        assert.equal(err.message, 'Cache not initialized. litellm.cache is None');
        const del = await postJson(`${off.url}/cache/delete`, { keys: ['abc'] }, AUTH);
        expectErrorEnvelope(assert, del, 503);
        const flush = await httpRequest(`${off.url}/cache/flushall`,
            { method: 'POST', headers: AUTH });
        expectErrorEnvelope(assert, flush, 503);
    } finally {
        await off.stop();
    }
});
