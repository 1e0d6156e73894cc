// SPDX-License-Identifier: Apache-2.0
// Upstream failures on streaming requests. Before the first byte the client gets a real HTTP
// error status with the JSON envelope. After it, a cut connection, an in-band error event, an
// idle timeout or a stream without finish_reason ends the client stream with exactly one
// `data: {"error":...}` event followed by `data: [DONE]`, and no finish_reason is made up.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs, postJson, startGateway, startMock } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-stream-err-91d4';
const GROUP = 'stream-chat';
// stream_timeout 1 s: the idle time allowed before the first chunk and between chunks.
const SLOW_GROUP = 'stream-chat-1s';
// 60 words of 10 bytes each, so that 60 chunks carry 10 bytes each.
const TEXT = Array.from({ length: 60 }, (_, i) => `word-${String(i).padStart(4, '0')} `).join('');

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
    api_key: sk-upstream-stream-err
    api_base: ${mock.url}/v1
- model_name: ${SLOW_GROUP}
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-stream-err
    api_base: ${mock.url}/v1
    stream_timeout: 1
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
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

const auth = { authorization: `Bearer ${MASTER_KEY}` };

function chatStreamBody(model = GROUP) {
    return { model, messages: [{ role: 'user', content: 'Count for me' }], stream: true };
}

function gatewayStream(model = GROUP) {
    return streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatStreamBody(model),
    });
}

function contentOf(ev) {
    if (ev.kind !== 'chunk' || !Array.isArray(ev.json.choices)) {
        return '';
    }
    return ev.json.choices.map((c) => (c.delta && c.delta.content) || '').join('');
}

// The checks shared by every stream that failed after its first byte: the events before the
// error are chunks (none with a finish_reason), then exactly one error event, then [DONE].
// Returns the error object.
function expectErrorTail(res) {
    assert.equal(res.status, 200, `status; raw: ${res.raw.slice(0, 500)}`);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.equal(kinds.filter((k) => k === 'done').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.equal(kinds[kinds.length - 1], 'done', `event kinds: ${kinds.join(',')}`);
    assert.equal(kinds[kinds.length - 2], 'error', `event kinds: ${kinds.join(',')}`);
    for (const ev of res.events.slice(0, -2)) {
        assert.equal(ev.kind, 'chunk', `event before the error: ${ev.data}`);
        for (const choice of ev.json.choices || []) {
            assert.equal(choice.finish_reason, null, `made-up finish_reason in ${ev.data}`);
        }
    }
    const { error } = res.events[res.events.length - 2].json;
    assert.equal(typeof error, 'object');
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0, 'error message is empty');
    assert.equal(typeof error.type, 'string');
    return error;
}

test('upstream 429 before first byte', async () => {
    await mock.reset();
    await mock.queue({
        status: 429,
        headers: { 'retry-after': '7' },
        body: {
            error: {
                message: 'Rate limit reached for gpt-4o-mini in this test.',
                type: 'requests',
                param: null,
                code: 'rate_limit_exceeded',
            },
        },
    });
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatStreamBody(), auth);
    const error = expectErrorEnvelope(assert, res, 429);
    assert.match(error.message, /Rate limit reached for gpt-4o-mini in this test\./);
    assert.equal(res.headers['retry-after'], '7');
    assert.ok(!res.body.includes('data:'), `an SSE body: ${res.body}`);
});

test('cut after 40 chunks', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 60, cut_after_chunks: 40 });
    const res = await gatewayStream();
    const error = expectErrorTail(res);
    const content = res.events.map(contentOf).filter((c) => c.length > 0);
    assert.equal(content.length, 40, 'content chunks before the error');
    assert.equal(content.join(''), TEXT.slice(0, 400));
    assert.equal(res.endedBy, 'end', 'the client response ended in order');
    assert.ok(error.message.length > 0);
});

test('in-band error event relayed', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 60, error_after_chunks: 5 });
    const res = await gatewayStream();
    const error = expectErrorTail(res);
    const content = res.events.map(contentOf).filter((c) => c.length > 0);
    assert.equal(content.length, 5, 'content chunks before the error');
    assert.match(error.message, /mock in-band error/);
});

test('idle timeout ends stream', async (t) => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 60, stall_after_chunks: 3 });
    const res = await gatewayStream(SLOW_GROUP);
    const error = expectErrorTail(res);
    const withContent = res.events.filter((e) => contentOf(e).length > 0);
    assert.equal(withContent.length, 3, 'content chunks before the stall');
    const lastChunkMs = withContent[withContent.length - 1].atMs;
    const errorMs = res.events[res.events.length - 2].atMs;
    t.diagnostic(`error event ${(errorMs - lastChunkMs).toFixed(0)} ms after the last chunk`);
    assert.ok(errorMs - lastChunkMs >= 800, `error after ${errorMs - lastChunkMs} ms: before stream_timeout`);
    assert.ok(errorMs - lastChunkMs <= 2500, `error after ${errorMs - lastChunkMs} ms: stream_timeout is 1 s`);
    assert.match(error.type, /timeout/);
    // The gateway must also hang up on the stalled upstream.
    const reqs = await mock.waitForRequests((r) => r.length === 1 && r[0].client_gone, 2000);
    assert.equal(reqs[0].completed, false);
});

test('no first chunk after head is 408', async () => {
    await mock.reset();
    // The mock sends its response head at once and the first chunk only after 5 s.
    await mock.queue({ text: TEXT, first_chunk_ms: 5000 });
    const started = Date.now();
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatStreamBody(SLOW_GROUP), auth);
    const error = expectErrorEnvelope(assert, res, 408);
    assert.equal(error.type, 'timeout');
    assert.ok(Date.now() - started <= 3000, `408 after ${Date.now() - started} ms with stream_timeout 1 s`);
});

test('latency past stream timeout is 408', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, latency_ms: 5000 });
    const started = Date.now();
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatStreamBody(SLOW_GROUP), auth);
    const error = expectErrorEnvelope(assert, res, 408);
    assert.equal(error.type, 'timeout');
    assert.ok(Date.now() - started <= 3000, `408 after ${Date.now() - started} ms with stream_timeout 1 s`);
});

test('done without finish_reason fails', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 6, finish_reason: null });
    const res = await gatewayStream();
    expectErrorTail(res);
    const content = res.events.map(contentOf).join('');
    assert.equal(content, TEXT);
});

test('failed stream logged with error type', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT, chunks: 10, cut_after_chunks: 4 });
    const res = await gatewayStream();
    expectErrorTail(res);
    const id = res.headers['x-litellm-call-id'];
    const line = await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    assert.equal(line.stream, true);
    assert.equal(typeof line.error_type, 'string');
});
