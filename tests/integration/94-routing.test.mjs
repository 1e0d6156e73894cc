// SPDX-License-Identifier: Apache-2.0
// Deployment selection across several mock providers. least-busy sends to the idle deployment.
// max_parallel_requests caps calls in flight, and cancelled streams give their slot back.
// usage-based-routing-v2 enforces a deployment's rpm across two gateways sharing Redis.
// latency-based routing prefers the faster mock. `order` keeps traffic on the first tier until
// it cools down. Weighted simple-shuffle converges to its weights.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, needs, postJson, sleep, startGateway, startMock, startRedis,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'redis');

const MASTER_KEY = 'sk-master-routing-4b1c';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

const mocks = [];
const gateways = [];
let redis;

async function mock() {
    const m = await startMock();
    mocks.push(m);
    return m;
}

async function gateway(config, opts = {}) {
    const gw = await startGateway({ config, workers: 2, ...opts });
    gateways.push(gw);
    return gw;
}

function deployment(group, id, m, extra = '') {
    return `
- model_name: ${group}
  litellm_params:
    model: openai/${id}-model
    api_key: sk-upstream-routing
    api_base: ${m.url}/v1${extra}
  model_info:
    id: ${id}`;
}

function config(deployments, routerSettings = '') {
    return `
model_list:${deployments.join('')}
router_settings:
  num_retries: 0${routerSettings}
general_settings:
  master_key: ${MASTER_KEY}
`;
}

const chat = (gw, model, extra = {}) =>
    postJson(`${gw.url}/v1/chat/completions`, chatBody(model, extra), AUTH);

const modelId = (res) => res.headers['x-litellm-model-id'];

// Opens a streamed chat completion and resolves once the response head arrived, with the
// request so that the caller can cut it.
function openStream(gw, model) {
    return new Promise((resolve, reject) => {
        const body = JSON.stringify(chatBody(model, { stream: true }));
        const req = http.request(`${gw.url}/v1/chat/completions`, {
            method: 'POST',
            agent: false,
            headers: { ...AUTH, 'content-type': 'application/json' },
        });
        req.on('response', (res) => {
            res.on('data', () => {});
            res.on('error', () => {});
            resolve({ req, res });
        });
        req.on('error', (err) => reject(err));
        req.end(body);
    });
}

// One Redis command over RESP; resolves with the reply (integers, strings, arrays of strings).
function redisCommand(port, ...args) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        const parse = (s, pos) => {
            const end = s.indexOf('\r\n', pos);
            if (end < 0) {
                return null;
            }
            const kind = s[pos];
            const line = s.slice(pos + 1, end);
            if (kind === '+' || kind === '-') {
                return [kind === '-' ? new Error(line) : line, end + 2];
            }
            if (kind === ':') {
                return [Number(line), end + 2];
            }
            if (kind === '$') {
                const len = Number(line);
                if (len < 0) {
                    return [null, end + 2];
                }
                if (s.length < end + 2 + len + 2) {
                    return null;
                }
                return [s.slice(end + 2, end + 2 + len), end + 2 + len + 2];
            }
            const items = [];
            let next = end + 2;
            for (let i = 0; i < Number(line); i++) {
                const item = parse(s, next);
                if (item === null) {
                    return null;
                }
                items.push(item[0]);
                next = item[1];
            }
            return [items, next];
        };
        sock.on('connect', () => {
            sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
        });
        sock.on('data', (d) => {
            buf += d;
            const got = parse(buf, 0);
            if (got !== null) {
                sock.destroy();
                resolve(got[0]);
            }
        });
        sock.on('error', reject);
    });
}

before(async () => {
    redis = await startRedis();
});

after(async () => {
    for (const gw of gateways) {
        await gw.stop();
        assert.doesNotMatch(gw.proc.stderrText, /Sanitizer|runtime error:/, gw.describe());
    }
    for (const m of mocks) {
        await m.stop();
    }
    await redis?.stop();
});

test('least-busy sends to the idle deployment', async () => {
    const slow = await mock();
    const idle = await mock();
    const gw = await gateway(config([deployment('lb', 'lb-slow', slow), deployment('lb', 'lb-idle', idle)],
        '\n  routing_strategy: least-busy'));
    await slow.queue({ latency_ms: 3000, count: 100 });

    // Send one request at a time until one is in flight on the slow deployment. The idle one
    // responds at once.
    let held;
    for (let i = 0; i < 20 && held === undefined; i++) {
        const pending = chat(gw, 'lb');
        let done = false;
        pending.then(() => {
            done = true;
        }, () => {
            done = true;
        });
        while (!done && held === undefined) {
            if ((await slow.requests()).length > 0) {
                held = pending;
            } else {
                await sleep(20);
            }
        }
    }
    assert.ok(held !== undefined, 'no request reached lb-slow in 20 requests');

    // While lb-slow has a call in flight, every request goes to lb-idle, from either worker.
    for (let i = 0; i < 10; i++) {
        const res = await chat(gw, 'lb');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'lb-idle');
    }
    assert.equal((await slow.requests()).length, 1);
    const res = await held;
    assert.equal(res.status, 200, res.body);
});

test('max_parallel_requests caps calls then recovers', async () => {
    const slow = await mock();
    const gw = await gateway(config([deployment('mp', 'mp-one', slow, '\n    max_parallel_requests: 2')]));
    await slow.queue({ latency_ms: 1500, count: 2 });

    // The slots are taken before the calls start. The mock may log the second call late,
    // because calls to one host can queue in the upstream client.
    const first = [chat(gw, 'mp'), chat(gw, 'mp')];
    await sleep(300);

    // Both slots are taken: the third request gets a quick 429 and never reaches the mock.
    const started = Date.now();
    const third = await chat(gw, 'mp');
    expectErrorEnvelope(assert, third, 429);
    assert.ok(Date.now() - started < 1000, `429 after ${Date.now() - started} ms`);
    assert.match(third.json().error.message,
        /^No deployments available for selected model, Try again in \d+ seconds\. Passed model=mp\./);
    assert.ok(Number(third.headers['retry-after']) >= 1, 'retry-after');

    for (const res of await Promise.all(first)) {
        assert.equal(res.status, 200, res.body);
    }
    const again = await chat(gw, 'mp');
    assert.equal(again.status, 200, again.body);
    assert.equal((await slow.requests()).length, 3, 'the rejected request reached the mock');
});

test('cancelled streams give back their slot', async () => {
    const slow = await mock();
    const gw = await gateway(config([deployment('ms', 'ms-one', slow, '\n    max_parallel_requests: 1')]));

    // Cut before the first byte (the mock is still waiting) and after it (mid-stream).
    await slow.queue({ latency_ms: 5000 });
    const before = http.request(`${gw.url}/v1/chat/completions`, {
        method: 'POST', agent: false, headers: { ...AUTH, 'content-type': 'application/json' },
    });
    before.on('error', () => {});
    before.end(JSON.stringify(chatBody('ms', { stream: true })));
    await slow.waitForRequests((reqs) => reqs.length === 1);
    before.destroy();
    await slow.waitForRequests((reqs) => reqs[0].client_gone, 3000);

    await slow.queue({ chunks: 20, chunk_interval_ms: 200 });
    const mid = await openStream(gw, 'ms');
    assert.equal(mid.res.statusCode, 200);
    mid.req.destroy();
    await slow.waitForRequests((reqs) => reqs.length === 2 && reqs[1].client_gone, 3000);

    // The one slot is free again: a request gets through.
    const res = await chat(gw, 'ms');
    assert.equal(res.status, 200, res.body);
});

test('errors, timeouts and retries give back slots', async () => {
    const m = await mock();
    const gw = await gateway(config([
        deployment('me', 'me-one', m, '\n    max_parallel_requests: 1\n    timeout: 0.3'),
    ]));

    // A provider error, then a timeout, each end their call without a retry.
    await m.queue({ status: 500 });
    expectErrorEnvelope(assert, await chat(gw, 'me'), 500);
    await m.queue({ latency_ms: 1000 });
    expectErrorEnvelope(assert, await chat(gw, 'me'), 408);

    // A retry on the same deployment takes the slot its failed attempt gave back.
    await m.queue({ status: 500 });
    const retried = await chat(gw, 'me', { num_retries: 1 });
    assert.equal(retried.status, 200, retried.body);
    assert.equal(retried.headers['x-litellm-attempted-retries'], '1');

    // With the one slot free, two calls in a row succeed.
    for (let i = 0; i < 2; i++) {
        const res = await chat(gw, 'me');
        assert.equal(res.status, 200, res.body);
    }
});

test('usage-based-v2 enforces rpm across two gateways', async () => {
    const m = await mock();
    const cfg = config([deployment('ub', 'ub-one', m, '\n    rpm: 3')],
        '\n  routing_strategy: usage-based-routing-v2');
    const env = { REDIS_URL: redis.url };
    const a = await gateway(cfg, { env });
    const b = await gateway(cfg, { env });

    // The counters are per minute: stay clear of a minute boundary.
    const intoMinute = Date.now() % 60000;
    if (intoMinute > 50000) {
        await sleep(60000 - intoMinute + 200);
    }
    const statuses = [];
    for (let i = 0; i < 6; i++) {
        const res = await chat(i % 2 === 0 ? a : b, 'ub');
        statuses.push(res.status);
        if (res.status === 429) {
            assert.match(res.json().error.message, /^No deployments available for selected model/);
            assert.ok(Number(res.headers['retry-after']) <= 60, 'retry-after');
        }
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    assert.equal((await m.requests()).length, 3);

    // Every counter the gateways wrote has a lifetime.
    const keys = await redisCommand(redis.port, 'KEYS', 'sluice:routing:*');
    assert.ok(keys.some((k) => k.startsWith('sluice:routing:rpm:ub-one:')), JSON.stringify(keys));
    assert.ok(keys.some((k) => k.startsWith('sluice:routing:tpm:ub-one:')), JSON.stringify(keys));
    for (const key of keys) {
        const ttl = await redisCommand(redis.port, 'TTL', key);
        assert.ok(ttl > 0, `${key} has TTL ${ttl}`);
        assert.ok(ttl <= 60, `${key} has TTL ${ttl}`);
    }
});

test('usage-based-v2 overflow goes to fallbacks', async () => {
    const primary = await mock();
    const backup = await mock();
    const cfg = config([deployment('ubf', 'ubf-one', primary, '\n    rpm: 1'),
        deployment('ubf-backup', 'ubf-backup-one', backup)],
    '\n  routing_strategy: usage-based-routing-v2\n  fallbacks: [{"ubf": ["ubf-backup"]}]');
    const env = { REDIS_URL: redis.url };
    const a = await gateway(cfg, { env, workers: 1 });
    const b = await gateway(cfg, { env, workers: 1 });
    const intoMinute = Date.now() % 60000;
    if (intoMinute > 55000) {
        await sleep(60000 - intoMinute + 200);
    }

    const first = await chat(a, 'ubf');
    assert.equal(first.status, 200, first.body);
    assert.equal(modelId(first), 'ubf-one');

    // A finds ubf-one full in its own count, and B learns it from the usage script.
    for (const gw of [a, b]) {
        const res = await chat(gw, 'ubf');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'ubf-backup-one');
        assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    }
    assert.equal((await primary.requests()).length, 1);
});

test('usage-based-v2 counts locally without Redis', async () => {
    const m = await mock();
    const gw = await gateway(config([deployment('ul', 'ul-one', m, '\n    rpm: 2')],
        '\n  routing_strategy: usage-based-routing-v2'), { workers: 1 });
    const intoMinute = Date.now() % 60000;
    if (intoMinute > 55000) {
        await sleep(60000 - intoMinute + 200);
    }
    const statuses = [];
    for (let i = 0; i < 3; i++) {
        statuses.push((await chat(gw, 'ul')).status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
});

test('usage-based-v2 falls back when Redis stops', async () => {
    const own = await startRedis();
    const m = await mock();
    let gw;
    try {
        gw = await gateway(config([deployment('uf', 'uf-one', m, '\n    rpm: 1000')],
            '\n  routing_strategy: usage-based-routing-v2'), { env: { REDIS_URL: own.url } });
        const res = await chat(gw, 'uf');
        assert.equal(res.status, 200, res.body);
        await own.kill();

        // Requests go on with this process's counts; the change is logged once, not per request.
        for (let i = 0; i < 6; i++) {
            const next = await chat(gw, 'uf');
            assert.equal(next.status, 200, next.body);
        }
        const local = gw.logs.filter((e) => e.event === 'routing.usage_local');
        assert.equal(local.length, 1, JSON.stringify(local));
        assert.equal(gw.logs.filter((e) => e.event === 'routing.usage_redis').length, 0);
    } finally {
        if (own.proc.exitCode === undefined) {
            await own.stop();
        }
    }
});

test('latency-based prefers the faster mock', async () => {
    const slow = await mock();
    const fast = await mock();
    const gw = await gateway(config([deployment('lat', 'lat-slow', slow), deployment('lat', 'lat-fast', fast)],
        '\n  routing_strategy: latency-based-routing'));
    await slow.queue({ latency_ms: 300, count: 1000 });

    // Untried deployments go first, so both get a sample within the first requests.
    const seen = new Set();
    for (let i = 0; i < 4; i++) {
        const res = await chat(gw, 'lat');
        assert.equal(res.status, 200, res.body);
        seen.add(modelId(res));
    }
    assert.deepEqual([...seen].sort(), ['lat-fast', 'lat-slow']);

    const slowBefore = (await slow.requests()).length;
    for (let i = 0; i < 10; i++) {
        const res = await chat(gw, 'lat');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'lat-fast');
    }
    assert.equal((await slow.requests()).length, slowBefore);
});

test('latency-based avoids a deployment that timed out', async () => {
    const stuck = await mock();
    const fast = await mock();
    const gw = await gateway(config([
        deployment('lto', 'lto-stuck', stuck, '\n    timeout: 0.3'),
        deployment('lto', 'lto-fast', fast, '\n    timeout: 0.3'),
    ], '\n  routing_strategy: latency-based-routing'), { workers: 1 });
    await stuck.queue({ latency_ms: 1000, count: 100 });

    // Untried deployments go first: within two requests, one times out on lto-stuck.
    const statuses = [];
    for (let i = 0; i < 2; i++) {
        statuses.push((await chat(gw, 'lto')).status);
    }
    assert.deepEqual(statuses.sort(), [200, 408]);

    // The timeout counts as a very slow sample, so lto-stuck is not tried again.
    for (let i = 0; i < 5; i++) {
        const res = await chat(gw, 'lto');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'lto-fast');
    }
    assert.equal((await stuck.requests()).length, 1);
});

test('order keeps traffic on tier 1 until it cools down', async () => {
    const first = await mock();
    const second = await mock();
    const gw = await gateway(config([
        deployment('ord', 'ord-2', second, '\n    order: 2'),
        deployment('ord', 'ord-1', first, '\n    order: 1'),
    ], '\n  allowed_fails: 1\n  cooldown_time: 2'), { workers: 1 });

    for (let i = 0; i < 10; i++) {
        const res = await chat(gw, 'ord');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'ord-1');
    }
    assert.equal((await second.requests()).length, 0);

    // Two failures cool ord-1 down; order 2 then takes the traffic.
    await first.queue({ status: 500, count: 2 });
    for (let i = 0; i < 2; i++) {
        expectErrorEnvelope(assert, await chat(gw, 'ord'), 500);
    }
    const cooled = Date.now();
    for (let i = 0; i < 5; i++) {
        const res = await chat(gw, 'ord');
        assert.equal(res.status, 200, res.body);
        assert.equal(modelId(res), 'ord-2');
    }
    assert.ok(Date.now() - cooled < 2000,
        'the checks ran past the cooldown; the test machine is too slow for this timing');

    // After the cooldown, order 1 is used again.
    await sleep(Math.max(0, 2300 - (Date.now() - cooled)));
    const res = await chat(gw, 'ord');
    assert.equal(res.status, 200, res.body);
    assert.equal(modelId(res), 'ord-1');
});

test('weighted shuffle converges to weights', async () => {
    const light = await mock();
    const heavy = await mock();
    const gw = await gateway(config([
        deployment('ws', 'ws-light', light, '\n    weight: 1'),
        deployment('ws', 'ws-heavy', heavy, '\n    weight: 3'),
    ]));

    const TOTAL = 2000;
    let next = 0;
    const worker = async () => {
        while (next < TOTAL) {
            next += 1;
            const res = await chat(gw, 'ws');
            assert.equal(res.status, 200, res.body);
        }
    };
    await Promise.all(Array.from({ length: 16 }, worker));

    const lightCalls = (await light.requests()).length;
    const heavyCalls = (await heavy.requests()).length;
    assert.equal(lightCalls + heavyCalls, TOTAL);
    // Binomial with p = 0.25 and n = 2000: one standard deviation is about 1 %.
    const share = lightCalls / TOTAL;
    assert.ok(Math.abs(share - 0.25) < 0.04, `ws-light got ${(share * 100).toFixed(1)} %`);
});
