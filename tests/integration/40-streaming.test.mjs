// SPDX-License-Identifier: Apache-2.0
// Streaming chat through the gateway against sluice-mock. The tests cover the chunk format the
// openai SDK reads, finish reasons per choice, the [DONE] terminator, the usage chunk and model
// name rewriting. They also compare the time to the first chunk with the mock's own and check
// that chunks are relayed one by one, not batched.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { needs, startGateway, startMock } from './lib/harness.mjs';
import { contentByChoice, sseData, streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-stream-2c7e';
const GROUP = 'stream-chat';
const TEXT = 'Rivers carry silt to the sea, and the delta grows a little every year.';

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-stream
    api_base: ${mock.url}/v1
general_settings:
  master_key: ${MASTER_KEY}
`,
    });
});

after(async () => {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

// Streams one request through the SDK and returns every chunk it yielded.
async function sdkChunks(extra = {}) {
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Tell me about rivers' }],
        stream: true,
        ...extra,
    });
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(chunk);
    }
    return chunks;
}

const auth = { authorization: `Bearer ${MASTER_KEY}` };

function chatStreamBody(extra = {}) {
    return { model: GROUP, messages: [{ role: 'user', content: 'Tell me' }], stream: true, ...extra };
}

test('sdk stream content equals text', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const chunks = await sdkChunks();
    assert.ok(chunks.length >= 3, `chunk count ${chunks.length}`);
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, TEXT);
});

test('chunk object is completion chunk', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const chunks = await sdkChunks();
    for (const chunk of chunks) {
        assert.equal(chunk.object, 'chat.completion.chunk', JSON.stringify(chunk));
    }
});

test('chunk id and created are shared', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const chunks = await sdkChunks();
    assert.equal(typeof chunks[0].id, 'string');
    assert.ok(chunks[0].id.length > 0, 'id is empty');
    assert.equal(typeof chunks[0].created, 'number');
    for (const chunk of chunks) {
        assert.equal(chunk.id, chunks[0].id);
        assert.equal(chunk.created, chunks[0].created);
    }
});

test('choice has index delta finish_reason', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const chunks = await sdkChunks();
    for (const chunk of chunks) {
        assert.ok(chunk.choices.length > 0, `chunk without choices: ${JSON.stringify(chunk)}`);
        for (const choice of chunk.choices) {
            for (const key of ['index', 'delta', 'finish_reason']) {
                assert.ok(key in choice, `choice lacks ${key}: ${JSON.stringify(choice)}`);
            }
        }
    }
});

for (const n of [1, 2]) {
    test(`one finish reason per choice n=${n}`, async () => {
        await mock.reset();
        await mock.queue({ text: TEXT });
        const chunks = await sdkChunks({ n });
        const finishes = new Map();
        const seen = new Set();
        for (const chunk of chunks) {
            for (const choice of chunk.choices) {
                seen.add(choice.index);
                if (choice.finish_reason !== null) {
                    finishes.set(choice.index, [...(finishes.get(choice.index) || []), choice.finish_reason]);
                }
            }
        }
        const indexes = Array.from({ length: n }, (_, i) => i);
        assert.deepEqual([...seen].sort(), indexes, 'choice indexes in the stream');
        for (const i of indexes) {
            assert.deepEqual(finishes.get(i), ['stop'], `finish reasons of choice ${i}`);
        }
    });
}

test('n=2 content per choice equals text', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatStreamBody({ n: 2 }),
    });
    assert.equal(res.status, 200, res.raw);
    const content = contentByChoice(res.events);
    assert.equal(content.get(0), TEXT);
    assert.equal(content.get(1), TEXT);
});

test('raw stream ends with done', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify(chatStreamBody()),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^text\/event-stream/);
    const raw = await res.text();
    assert.ok(raw.trimEnd().endsWith('data: [DONE]'), `stream tail: ${JSON.stringify(raw.slice(-200))}`);
    const data = sseData(raw);
    assert.equal(data.filter((d) => d === '[DONE]').length, 1, 'one [DONE]');
    assert.equal(data[data.length - 1], '[DONE]');
});

test('usage chunk has empty choices', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, usage: { prompt_tokens: 17, completion_tokens: 9 } });
    const chunks = await sdkChunks({ stream_options: { include_usage: true } });
    const withUsage = chunks.filter((c) => c.usage);
    assert.equal(withUsage.length, 1, `chunks with usage: ${JSON.stringify(withUsage)}`);
    const last = chunks[chunks.length - 1];
    assert.equal(last, withUsage[0], 'the usage chunk is the last one');
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, 17);
    assert.equal(last.usage.completion_tokens, 9);
    assert.equal(last.usage.total_tokens, 26);
});

test('include_usage reaches upstream', async () => {
    await mock.reset();
    await sdkChunks({ stream_options: { include_usage: true } });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    const body = JSON.parse(reqs[0].body);
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
});

test('chunk model is group name', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const chunks = await sdkChunks({ stream_options: { include_usage: true } });
    for (const chunk of chunks) {
        assert.equal(chunk.model, GROUP, JSON.stringify(chunk));
    }
    const reqs = await mock.requests();
    assert.equal(JSON.parse(reqs[0].body).model, 'gpt-4o-mini');
});

test('first chunk latency matches mock', async (t) => {
    await mock.reset();
    await mock.queue({ text: TEXT, first_chunk_ms: 500, count: 2 });
    // The mock's own figure, on a direct request, then the same script through the gateway.
    const direct = await streamChat({
        url: `${mock.url}/v1/chat/completions`,
        body: { ...chatStreamBody(), model: 'gpt-4o-mini' },
    });
    const proxied = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatStreamBody(),
    });
    assert.equal(direct.status, 200, direct.raw);
    assert.equal(proxied.status, 200, proxied.raw);
    const mockTtfb = direct.firstEventMs;
    const gatewayTtfb = proxied.firstEventMs;
    t.diagnostic(`first event after ${mockTtfb.toFixed(1)} ms from the mock, `
        + `${gatewayTtfb.toFixed(1)} ms through the gateway`);
    assert.ok(mockTtfb >= 480, `the mock sent its first chunk after ${mockTtfb} ms, not 500`);
    assert.ok(gatewayTtfb <= 520, `first chunk through the gateway after ${gatewayTtfb} ms`);
    assert.ok(gatewayTtfb - mockTtfb <= 20,
        `gateway ${gatewayTtfb} ms vs mock ${mockTtfb} ms: the relay added over 20 ms`);
});

test('chunks are not batched', async (t) => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 5, chunk_interval_ms: 200 });
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatStreamBody(),
    });
    assert.equal(res.status, 200, res.raw);
    const content = res.events.filter((e) => e.kind === 'chunk'
        && typeof e.json.choices[0]?.delta?.content === 'string'
        && e.json.choices[0].delta.content.length > 0);
    assert.equal(content.length, 5, `content chunks: ${content.map((e) => e.data).join('\n')}`);
    assert.equal(content.map((e) => e.json.choices[0].delta.content).join(''), TEXT);
    const times = content.map((e) => e.atMs);
    t.diagnostic(`content chunk arrivals (ms): ${times.map((x) => x.toFixed(0)).join(', ')}`);
    for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] - times[i - 1] >= 150,
            `chunk ${i} arrived ${(times[i] - times[i - 1]).toFixed(1)} ms after chunk ${i - 1}`);
    }
});

// Streams `body` through the gateway to `path`, and returns the parsed data chunks, the mock's
// record of the upstream body and the gateway's access log line of the request.
async function streamWithoutUsage(path, body) {
    await mock.reset();
    await mock.queue({ route: path === '/v1/completions' ? 'completions' : 'chat', text: TEXT,
        usage: { prompt_tokens: 17, completion_tokens: 9 } });
    const res = await streamChat({ url: `${gateway.url}${path}`, headers: auth, body });
    assert.equal(res.status, 200, res.raw);
    const chunks = sseData(res.raw).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    const id = res.headers['x-litellm-call-id'];
    const access = await gateway.waitForLog(
        (e) => e.event === 'http.access' && e.request_id === id, 3000);
    return { raw: res.raw, chunks, upstream: JSON.parse(reqs[0].body), access };
}

test('usage is requested upstream but not sent unasked', async () => {
    const r = await streamWithoutUsage('/v1/chat/completions', chatStreamBody());
    assert.deepEqual(r.upstream.stream_options, { include_usage: true });
    assert.ok(r.chunks.length >= 2, r.raw);
    // The provider adds "usage": null to every other chunk once usage is requested.
    assert.deepEqual(r.chunks.filter((c) => c.usage != null), [], 'no chunk carries usage');
    assert.ok(r.chunks.every((c) => c.choices.length > 0), 'no chunk has empty choices');
    assert.equal(r.chunks.map((c) => c.choices[0].delta?.content ?? '').join(''), TEXT);
    assert.ok(r.raw.trimEnd().endsWith('data: [DONE]'));
    assert.equal(r.access.prompt_tokens, 17);
    assert.equal(r.access.completion_tokens, 9);
});

test('include_usage false is overridden upstream and kept from the client', async () => {
    const r = await streamWithoutUsage('/v1/chat/completions',
        chatStreamBody({ stream_options: { include_usage: false } }));
    assert.deepEqual(r.upstream.stream_options, { include_usage: true });
    assert.deepEqual(r.chunks.filter((c) => c.usage != null), []);
    assert.equal(r.access.prompt_tokens, 17);
    assert.equal(r.access.completion_tokens, 9);
});

test('text completion streams record usage unasked', async () => {
    const r = await streamWithoutUsage('/v1/completions',
        { model: GROUP, prompt: 'Tell me', stream: true });
    assert.deepEqual(r.upstream.stream_options, { include_usage: true });
    assert.deepEqual(r.chunks.filter((c) => c.usage != null), []);
    assert.equal(r.access.prompt_tokens, 17);
    assert.equal(r.access.completion_tokens, 9);
});

test('requested usage reaches the client and the access log', async () => {
    const r = await streamWithoutUsage('/v1/chat/completions',
        chatStreamBody({ stream_options: { include_usage: true } }));
    assert.deepEqual(r.upstream.stream_options, { include_usage: true });
    const withUsage = r.chunks.filter((c) => c.usage != null);
    assert.equal(withUsage.length, 1);
    assert.equal(withUsage[0].usage.total_tokens, 26);
    assert.equal(r.access.prompt_tokens, 17);
    assert.equal(r.access.completion_tokens, 9);
});
