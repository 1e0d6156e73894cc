// SPDX-License-Identifier: Apache-2.0
// A client that hangs up cancels the upstream request: mid-stream and while the model is still
// thinking (before any byte), over HTTP/1.1 and over HTTP/2 (h2c with prior knowledge, where
// the client resets the stream but keeps the connection). sluice-mock records when its own
// connection from the gateway closed (`client_gone`).

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';

import { needs, startGateway, startMock } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-cancel-5be0';
const GROUP = 'cancel-chat';
// How long the mock may take to see the gateway hang up after the client did.
const CANCEL_WITHIN_MS = 2000;

let mock;
let gateway;
let session;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-cancel
    api_base: ${mock.url}/v1
general_settings:
  master_key: ${MASTER_KEY}
`,
    });
    session = http2.connect(gateway.url);
    await new Promise((resolve, reject) => {
        session.once('connect', resolve);
        session.once('error', reject);
    });
});

after(async () => {
    if (session) {
        session.close();
    }
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

const auth = { authorization: `Bearer ${MASTER_KEY}` };

function chatBody(stream) {
    return { model: GROUP, messages: [{ role: 'user', content: 'Take your time' }], stream };
}

// A stream of 20 chunks 300 ms apart: 6 s, far longer than the cancellation allowance.
const LONG_STREAM = { chunks: 20, chunk_interval_ms: 300, text: 'x'.repeat(200) };
// Two chunks, then the model pauses for the rest of the test (the mock holds up to 120 s).
const PAUSED_STREAM = { chunks: 20, stall_after_chunks: 2, text: 'x'.repeat(200) };
// The model thinks for 10 s before sending anything.
const THINKING = { latency_ms: 10000 };

// Waits until the mock logged exactly one request and it is still open.
function waitReceived() {
    return mock.waitForRequests((reqs) => reqs.length === 1, 3000);
}

// Asserts that the mock saw its one request's connection close within CANCEL_WITHIN_MS.
async function expectUpstreamCancelled(t) {
    const started = Date.now();
    const reqs = await mock.waitForRequests((r) => r.length === 1 && r[0].client_gone, CANCEL_WITHIN_MS);
    t.diagnostic(`upstream cancelled ${Date.now() - started} ms after the client hung up`);
    assert.equal(reqs[0].completed, false, 'the mock finished the response anyway');
    assert.equal(typeof reqs[0].client_gone_ms, 'number');
    assert.ok(reqs[0].client_gone_ms >= reqs[0].received_ms);
}

function countContentChunks(ev, state) {
    if (ev.kind === 'chunk' && ev.json.choices?.[0]?.delta?.content) {
        state.count++;
    }
    return state.count;
}

test('http1 stream cancel mid-stream', async (t) => {
    await mock.reset();
    await mock.queue(LONG_STREAM);
    const state = { count: 0 };
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatBody(true),
        onEvent(ev, ctrl) {
            if (countContentChunks(ev, state) === 2) {
                ctrl.cancel();
            }
        },
    });
    assert.equal(res.status, 200);
    assert.equal(res.endedBy, 'cancel');
    assert.equal(state.count, 2);
    await expectUpstreamCancelled(t);
});

test('http1 stream cancel during pause', async (t) => {
    await mock.reset();
    await mock.queue(PAUSED_STREAM);
    const state = { count: 0 };
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: auth,
        body: chatBody(true),
        onEvent(ev, ctrl) {
            if (countContentChunks(ev, state) === 2) {
                ctrl.cancel();
            }
        },
    });
    assert.equal(res.status, 200);
    assert.equal(res.endedBy, 'cancel');
    await expectUpstreamCancelled(t);
});

test('http1 stream cancel while thinking', async (t) => {
    await mock.reset();
    await mock.queue(THINKING);
    const req = http.request(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', ...auth },
    });
    req.on('error', () => {});
    req.end(JSON.stringify(chatBody(true)));
    await waitReceived();
    req.destroy();
    await expectUpstreamCancelled(t);
});

test('http1 non-stream cancel while thinking', async (t) => {
    await mock.reset();
    await mock.queue(THINKING);
    const abort = new AbortController();
    const pending = fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify(chatBody(false)),
        signal: abort.signal,
    }).catch((err) => err);
    await waitReceived();
    abort.abort();
    const outcome = await pending;
    assert.equal(outcome.name, 'AbortError');
    await expectUpstreamCancelled(t);
});

test('http2 stream cancel mid-stream', async (t) => {
    await mock.reset();
    await mock.queue(LONG_STREAM);
    const state = { count: 0 };
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        http2: session,
        headers: auth,
        body: chatBody(true),
        onEvent(ev, ctrl) {
            if (countContentChunks(ev, state) === 2) {
                ctrl.cancel();
            }
        },
    });
    assert.equal(res.status, 200);
    assert.equal(res.endedBy, 'cancel');
    await expectUpstreamCancelled(t);
    assert.equal(session.closed, false, 'the HTTP/2 connection was closed');
    assert.equal(session.destroyed, false, 'the HTTP/2 connection was destroyed');
});

test('http2 stream cancel during pause', async (t) => {
    await mock.reset();
    await mock.queue(PAUSED_STREAM);
    const state = { count: 0 };
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        http2: session,
        headers: auth,
        body: chatBody(true),
        onEvent(ev, ctrl) {
            if (countContentChunks(ev, state) === 2) {
                ctrl.cancel();
            }
        },
    });
    assert.equal(res.status, 200);
    assert.equal(res.endedBy, 'cancel');
    await expectUpstreamCancelled(t);
});

test('http2 stream cancel while thinking', async (t) => {
    await mock.reset();
    await mock.queue(THINKING);
    const stream = session.request({
        ':method': 'POST',
        ':path': '/v1/chat/completions',
        'content-type': 'application/json',
        ...auth,
    });
    stream.on('error', () => {});
    stream.end(JSON.stringify(chatBody(true)));
    await waitReceived();
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await expectUpstreamCancelled(t);
});

test('gateway serves after cancels', async () => {
    await mock.reset();
    await mock.queue({ text: 'Still here.' });
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        http2: session,
        headers: auth,
        body: chatBody(true),
    });
    assert.equal(res.status, 200);
    assert.equal(res.events[res.events.length - 1].kind, 'done');
});
