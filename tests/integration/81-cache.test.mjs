// SPDX-License-Identifier: Apache-2.0
// The response cache end to end on a real Redis and PostgreSQL, with the mock provider's
// request log as the oracle. Covered: hits and misses, tenant isolation by team, the
// parameters that make up the key, the per-request controls and who may use them, TTLs on
// every entry, embeddings cached per input, streams (a cut stream is not stored, a hit
// replays a valid stream), and requests that still succeed while Redis is down.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, needs, postJson, sleep, startMock,
} from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';
import { sseData } from './lib/sse.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-cache-31c9' });
let mock;
let gw;
let teamA;
let teamB;
let limited;

function bearer(key) {
    return { authorization: `Bearer ${key}` };
}

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(stack.redis.port), ...args],
        { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args[0]} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

// Provider calls the mock received so far on `path`.
async function calls(path = '/v1/chat/completions') {
    return (await mock.requests()).filter((r) => r.path === path);
}

function cacheEntries() {
    return redisCli('--scan', '--pattern', 'sluice:cache:*').split('\n').filter(Boolean).length;
}

// Waits up to 1 s for more than `before` cache entries. An entry is written after its
// response is sent, so a request right after a miss could otherwise race the write.
async function entryWritten(before) {
    const deadline = Date.now() + 1000;
    while (cacheEntries() <= before && Date.now() < deadline) {
        await sleep(10);
    }
}

async function chat(body, key = teamA) {
    const before = cacheEntries();
    const res = await postJson(`${gw.url}/v1/chat/completions`, body, bearer(key));
    if (res.status === 200 && res.headers['x-litellm-cache-key'] === undefined) {
        await entryWritten(before);
    }
    return res;
}

let unique = 0;
// A chat body no other test sends, so each test starts from a miss.
function freshBody(extra = {}) {
    unique += 1;
    return chatBody('gpt-4o-mini', { messages: [{ role: 'user', content: `question ${unique}` }],
        ...extra });
}

before(async () => {
    await stack.start();
    mock = await startMock();
    const models = `- model_name: text-embedding-3-small
  litellm_params:
    model: openai/text-embedding-3-small
    api_key: sk-upstream-unused
    api_base: ${mock.url}/v1`;
    const config = stack.config({ models, litellm: `
  cache: true
  cache_params:
    type: redis
    ttl: 120
` }).replace('api_base: http://127.0.0.1:9/v1', `api_base: ${mock.url}/v1`);
    gw = await stack.startNode({ config });
    await stack.ok(gw, 'POST', '/team/new', { team_id: 'cache-a' });
    await stack.ok(gw, 'POST', '/team/new', { team_id: 'cache-b' });
    teamA = (await stack.generate(gw, { team_id: 'cache-a' })).key;
    teamB = (await stack.generate(gw, { team_id: 'cache-b' })).key;
    limited = (await stack.generate(gw, { team_id: 'cache-a',
        allowed_cache_controls: ['no-cache'] })).key;
});

after(async () => {
    stack.assertNoKeyLeaked();
    await mock?.stop();
    await stack.stop();
});

test('same request twice calls the provider once', async () => {
    const body = freshBody();
    const before = (await calls()).length;
    const first = await chat(body);
    assert.equal(first.status, 200, first.body);
    const second = await chat(body);
    assert.equal(second.status, 200, second.body);
    assert.equal((await calls()).length, before + 1);
    assert.equal(second.json().choices[0].message.content, first.json().choices[0].message.content);
    assert.notEqual(second.json().id, first.json().id);
    assert.match(String(second.headers['x-litellm-cache-key']), /^[0-9a-f]{64}$/);
    assert.equal(first.headers['x-litellm-cache-key'], undefined);
});

test('teams do not share answers', async () => {
    const body = freshBody();
    await mock.queue({ text: 'answer for team a' });
    await mock.queue({ text: 'answer for team b' });
    const before = (await calls()).length;
    const a1 = await chat(body, teamA);
    const b1 = await chat(body, teamB);
    assert.equal((await calls()).length, before + 2);
    const a2 = await chat(body, teamA);
    const b2 = await chat(body, teamB);
    assert.equal((await calls()).length, before + 2);
    assert.equal(a2.json().choices[0].message.content, 'answer for team a');
    assert.equal(b2.json().choices[0].message.content, 'answer for team b');
    assert.equal(a1.json().choices[0].message.content, 'answer for team a');
    assert.equal(b1.json().choices[0].message.content, 'answer for team b');
});

test('every parameter is part of the key', async () => {
    const base = freshBody();
    await chat(base);
    const variants = [
        { temperature: 0.5 }, { top_p: 0.9 }, { top_k: 5 }, { max_tokens: 17 }, { n: 2 },
        { stop: ['x'] }, { seed: 7 }, { response_format: { type: 'json_object' } },
        { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] },
        { tool_choice: 'none' }, { frequency_penalty: 0.1 }, { logit_bias: { 50256: -100 } },
        { messages: [{ role: 'user', content: 'another question' }] },
    ];
    for (const extra of variants) {
        const before = (await calls()).length;
        const res = await chat({ ...base, ...extra });
        assert.equal(res.status, 200, `${JSON.stringify(extra)}: ${res.body}`);
        assert.equal((await calls()).length, before + 1, `${JSON.stringify(extra)} is a miss`);
    }
});

test('reordered keys and stream flags still hit', async () => {
    const base = freshBody({ temperature: 0.2, max_tokens: 30 });
    await chat(base);
    const before = (await calls()).length;
    const reordered = { max_tokens: 30, messages: base.messages, temperature: 0.2,
        model: 'gpt-4o-mini', user: 'someone', metadata: { a: 1 } };
    const res = await chat(reordered);
    assert.equal(res.status, 200, res.body);
    assert.equal((await calls()).length, before);
});

test('no-cache skips the lookup and no-store the write', async () => {
    const body = freshBody();
    await chat(body);
    let before = (await calls()).length;
    await chat({ ...body, cache: { 'no-cache': true } });
    assert.equal((await calls()).length, before + 1, 'no-cache calls the provider');

    const other = freshBody();
    await chat({ ...other, cache: { 'no-store': true } });
    before = (await calls()).length;
    await chat(other);
    assert.equal((await calls()).length, before + 1, 'nothing was stored');
});

test('ttl and s-maxage controls', async () => {
    const body = freshBody();
    const first = await chat({ ...body, cache: { ttl: 5 } });
    assert.equal(first.status, 200, first.body);
    const keys = redisCli('--scan', '--pattern', 'sluice:cache:*').split('\n').filter(Boolean);
    const ttls = keys.map((k) => Number(redisCli('TTL', k)));
    assert.ok(ttls.some((t) => t > 0 && t <= 5), `an entry with a 5 s ttl: ${ttls}`);

    const aged = freshBody();
    await chat(aged);
    await sleep(2100);
    const before = (await calls()).length;
    await chat({ ...aged, cache: { 's-maxage': 1 } });
    assert.equal((await calls()).length, before + 1, 'an entry older than s-maxage is a miss');
    await chat({ ...aged, cache: { 's-maxage': 60 } });
    assert.equal((await calls()).length, before + 1, 'a younger entry is a hit');
});

test('forbidden cache control is 403', async () => {
    const res = await chat({ ...freshBody(), cache: { ttl: 5 } }, limited);
    const err = expectErrorEnvelope(assert, res, 403);
    assert.equal(err.message, 'Not allowed to set ttl as a cache control. Contact admin to '
        + 'change permissions.');
    const ok = await chat({ ...freshBody(), cache: { 'no-cache': true } }, limited);
    assert.equal(ok.status, 200, ok.body);
});

test('embeddings are cached per input', async () => {
    const url = `${gw.url}/v1/embeddings`;
    const path = '/v1/embeddings';
    const entries = cacheEntries();
    const first = await postJson(url, { model: 'text-embedding-3-small', input: ['alpha', 'beta'] },
        bearer(teamA));
    assert.equal(first.status, 200, first.body);
    await entryWritten(entries + 1);
    const before = (await calls(path)).length;
    const second = await postJson(url, { model: 'text-embedding-3-small',
        input: ['beta', 'gamma', 'alpha'] }, bearer(teamA));
    assert.equal(second.status, 200, second.body);
    const log = await calls(path);
    assert.equal(log.length, before + 1);
    assert.deepEqual(JSON.parse(log[log.length - 1].body).input, ['gamma'],
        'only the missing input is sent');
    await entryWritten(entries + 2);
    const data = second.json().data;
    assert.deepEqual(data.map((d) => d.index), [0, 1, 2]);
    assert.deepEqual(data[0].embedding, first.json().data[1].embedding, 'beta in order');
    assert.deepEqual(data[2].embedding, first.json().data[0].embedding, 'alpha in order');

    const third = await postJson(url, { model: 'text-embedding-3-small', input: 'gamma' },
        bearer(teamA));
    assert.equal(third.status, 200, third.body);
    assert.equal((await calls(path)).length, before + 1, 'a single input hits its entry');
    assert.deepEqual(third.json().data[0].embedding, data[1].embedding);
});

test('every cache entry has a ttl', async () => {
    const keys = redisCli('--scan', '--pattern', 'sluice:cache:*').split('\n').filter(Boolean);
    assert.ok(keys.length > 5, `entries: ${keys.length}`);
    for (const key of keys) {
        const ttl = Number(redisCli('TTL', key));
        // -2: the entry expired between SCAN and TTL (the 5 s one of an earlier test can).
        if (ttl === -2) {
            continue;
        }
        assert.ok(ttl > 0, `${key} has ttl ${ttl}`);
    }
});

test('a cut stream is not stored and a hit replays a stream', async () => {
    const body = freshBody({ stream: true });
    await mock.queue({ chunks: 4, cut_after_chunks: 2 });
    const cut = await chat(body);
    assert.equal(cut.status, 200);
    let before = (await calls()).length;
    const full = await chat(body);
    assert.equal((await calls()).length, before + 1, 'the cut stream was not stored');
    const fullEvents = sseData(full.body);
    assert.equal(fullEvents[fullEvents.length - 1], '[DONE]');

    before = (await calls()).length;
    const hit = await chat(body);
    assert.equal((await calls()).length, before, 'the complete stream was stored');
    assert.match(String(hit.headers['content-type']), /text\/event-stream/);
    const events = sseData(hit.body);
    assert.equal(events[events.length - 1], '[DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e))
        .map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const fullText = fullEvents.slice(0, -1).map((e) => JSON.parse(e))
        .map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, fullText);
    const last = JSON.parse(events[events.length - 2]);
    assert.equal(last.choices[0].finish_reason, 'stop');

    // The same question without streaming gets the stored answer as JSON.
    const whole = await chat({ ...body, stream: false });
    assert.equal(whole.json().choices[0].message.content, fullText);
});

test('requests succeed while redis is down', async () => {
    await stack.redis.stop();
    const body = freshBody();
    for (let i = 0; i < 2; i++) {
        const res = await postJson(`${gw.url}/v1/chat/completions`, body, bearer(teamA));
        assert.equal(res.status, 200, res.body);
    }
});
