// SPDX-License-Identifier: Apache-2.0
// sluice-mock itself: its replies have the shape of real OpenAI responses recorded by the OpenAI
// Python SDK's test suite (files under $SLUICE_FIXTURES/openai), and its scripted behaviours work
// (status and headers, cut and failing streams, detection of a client that went away).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
    chatBody, failIfMissing, missingDependency, needs, postJson, sleep, startMock, testOptions,
} from './lib/harness.mjs';

await needs('mock');
const fixturesMissing = await missingDependency('fixtures');

let mock;

before(async () => {
    mock = await startMock();
});

after(async () => {
    if (mock) {
        await mock.stop();
    }
});

function fixture(name) {
    return fs.readFileSync(path.join(process.env.SLUICE_FIXTURES, 'openai', name), 'utf8');
}

// Parses an SSE body into the JSON payloads of its data: lines. `done` is true if [DONE] came.
function parseSse(text) {
    const events = [];
    let done = false;
    for (const block of text.split('\n\n')) {
        const data = block.split('\n').filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart()).join('\n');
        if (data === '') {
            continue;
        }
        if (data === '[DONE]') {
            done = true;
            continue;
        }
        events.push(JSON.parse(data));
    }
    return { events, done };
}

const keys = (obj) => Object.keys(obj).sort();

// Sends a POST over a raw TCP connection and reads until the server closes it, so that a cut
// response is seen byte for byte. Returns {status, headers, body, complete}: `complete` is true
// only when a chunked body ended with its zero-size chunk. Parsing stops at the first malformed
// chunk header, because a cut connection may leave a partial one.
function rawPost(url, payload) {
    const { hostname, port, pathname } = new URL(url);
    const body = JSON.stringify(payload);
    return new Promise((resolve, reject) => {
        const sock = net.connect(Number(port), hostname, () => {
            sock.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`
                + 'Content-Type: application/json\r\nConnection: close\r\n'
                + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        });
        const chunks = [];
        sock.setTimeout(10000, () => sock.destroy(new Error('no close within 10 s')));
        sock.on('data', (d) => chunks.push(d));
        sock.on('error', reject);
        sock.on('close', () => {
            const raw = Buffer.concat(chunks).toString('latin1');
            const headEnd = raw.indexOf('\r\n\r\n');
            const headLines = raw.slice(0, headEnd).split('\r\n');
            const status = Number(headLines[0].split(' ')[1]);
            const headers = {};
            for (const line of headLines.slice(1)) {
                const colon = line.indexOf(':');
                headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
            }
            let rest = raw.slice(headEnd + 4);
            let text = '';
            let complete = false;
            if (headers['transfer-encoding'] !== 'chunked') {
                resolve({ status, headers, body: Buffer.from(rest, 'latin1').toString('utf8'), complete: true });
                return;
            }
            for (;;) {
                const lineEnd = rest.indexOf('\r\n');
                if (lineEnd <= 0 || !/^[0-9a-fA-F]+$/.test(rest.slice(0, lineEnd))) {
                    break;
                }
                const size = parseInt(rest.slice(0, lineEnd), 16);
                if (size === 0) {
                    complete = true;
                    break;
                }
                if (rest.length < lineEnd + 2 + size) {
                    text += rest.slice(lineEnd + 2);
                    break;
                }
                text += rest.slice(lineEnd + 2, lineEnd + 2 + size);
                rest = rest.slice(lineEnd + 2 + size + 2);
            }
            resolve({ status, headers, body: Buffer.from(text, 'latin1').toString('utf8'), complete });
        });
    });
}

// Keys the mock may add to a reply that the 2024 recordings predate: `service_tier` is part of
// OpenAI's current chat completion response schema.
const NEWER_TOP_LEVEL_KEYS = ['service_tier'];

test('mock reply shape matches capture', testOptions(fixturesMissing), async () => {
    failIfMissing(fixturesMissing);
    const captured = JSON.parse(fixture('chat-completion-tool-call.captured.json'));
    const usageSchema = JSON.parse(fixture('openapi-excerpt.json')).CompletionUsage;
    const res = await postJson(`${mock.url}/v1/chat/completions`, chatBody('gpt-4o-mini'));
    assert.equal(res.status, 200, res.body);
    const reply = res.json();

    assert.equal(reply.object, captured.object);
    for (const key of keys(captured)) {
        assert.ok(key in reply, `top-level key ${key} missing`);
    }
    for (const key of keys(reply)) {
        assert.ok(key in captured || NEWER_TOP_LEVEL_KEYS.includes(key), `unexpected top-level key ${key}`);
    }
    assert.deepEqual(keys(reply.choices[0]), keys(captured.choices[0]));
    for (const key of ['role', 'content', 'refusal']) {
        assert.ok(key in reply.choices[0].message, `message key ${key} missing`);
    }
    assert.equal(reply.choices[0].logprobs, null);

    for (const key of keys(captured.usage)) {
        assert.ok(key in reply.usage, `usage key ${key} missing`);
    }
    for (const key of keys(reply.usage)) {
        assert.ok(key in usageSchema.properties, `usage key ${key} is not in OpenAI's usage schema`);
    }
    for (const key of keys(captured.usage.completion_tokens_details)) {
        assert.ok(key in reply.usage.completion_tokens_details, `completion_tokens_details.${key} missing`);
    }
    assert.equal(reply.usage.total_tokens, reply.usage.prompt_tokens + reply.usage.completion_tokens);
});

test('mock stream shape matches capture', testOptions(fixturesMissing), async () => {
    failIfMissing(fixturesMissing);
    const captured = parseSse(fixture('stream-text.captured.txt'));
    const res = await postJson(`${mock.url}/v1/chat/completions`, chatBody('gpt-4o-mini', { stream: true }));
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const mine = parseSse(res.body);
    assert.ok(mine.done, 'stream ends with [DONE]');

    // Without stream_options the mock sends no usage chunk; compare the content chunks.
    const capturedChunk = captured.events[1];
    for (const chunk of mine.events) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        assert.deepEqual(keys(chunk), keys(capturedChunk));
        assert.deepEqual(keys(chunk.choices[0]), keys(capturedChunk.choices[0]));
    }
    assert.deepEqual(keys(mine.events[0].choices[0].delta), keys(captured.events[0].choices[0].delta));
    const last = mine.events.at(-1);
    assert.deepEqual(last.choices[0].delta, {});
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(new Set(mine.events.map((c) => c.id)).size, 1, 'one id for every chunk');
});

test('mock stream usage chunk matches capture', testOptions(fixturesMissing), async () => {
    failIfMissing(fixturesMissing);
    const captured = parseSse(fixture('stream-text.captured.txt'));
    const capturedUsage = captured.events.at(-1);
    const res = await postJson(`${mock.url}/v1/chat/completions`, chatBody('gpt-4o-mini', {
        stream: true,
        stream_options: { include_usage: true },
    }));
    const mine = parseSse(res.body);
    assert.ok(mine.done, 'stream ends with [DONE]');
    const usageChunk = mine.events.at(-1);
    assert.deepEqual(keys(usageChunk), keys(capturedUsage));
    assert.deepEqual(usageChunk.choices, []);
    for (const key of keys(capturedUsage.usage)) {
        assert.ok(key in usageChunk.usage, `usage key ${key} missing`);
    }
    for (const chunk of mine.events.slice(0, -1)) {
        assert.equal(chunk.usage, null, 'chunks before the usage chunk carry usage: null');
    }
});

test('mock default text and usage', async () => {
    const res = await postJson(`${mock.url}/v1/chat/completions`, {
        model: 'any-model',
        messages: [{ role: 'user', content: 'Say hi' }],
    });
    assert.equal(res.status, 200, res.body);
    const reply = res.json();
    assert.equal(reply.model, 'any-model');
    assert.equal(reply.choices[0].message.content, 'Hello from sluice-mock.');
    // 6 bytes of content -> ceil(6 / 4) = 2; the text has 3 words.
    assert.equal(reply.usage.prompt_tokens, 2);
    assert.equal(reply.usage.completion_tokens, 3);
    assert.equal(reply.usage.total_tokens, 5);
});

test('mock stream text concatenates', async () => {
    await mock.queue({ text: 'One two three four.' });
    const res = await postJson(`${mock.url}/chat/completions`, chatBody('m', { stream: true }));
    const { events, done } = parseSse(res.body);
    assert.ok(done);
    const text = events.map((c) => c.choices[0]?.delta?.content || '').join('');
    assert.equal(text, 'One two three four.');
});

test('mock records requests', async () => {
    await mock.reset();
    await postJson(`${mock.url}/v1/chat/completions`, chatBody('recorded-model'), { 'x-probe': 'on' });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].method, 'POST');
    assert.equal(reqs[0].path, '/v1/chat/completions');
    assert.equal(reqs[0].http_version, '1.1');
    assert.equal(reqs[0].headers['x-probe'], 'on');
    assert.equal(JSON.parse(reqs[0].body).model, 'recorded-model');
    assert.equal(reqs[0].completed, true);
    assert.equal(reqs[0].client_gone, false);
});

test('mock scripted status and headers', async () => {
    await mock.reset();
    await mock.queue({
        status: 429,
        headers: { 'retry-after': '7', 'x-scripted': 'yes' },
        body: { error: { message: 'Slow down.', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    const res = await postJson(`${mock.url}/v1/chat/completions`, chatBody('m'));
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '7');
    assert.equal(res.headers['x-scripted'], 'yes');
    assert.equal(res.json().error.message, 'Slow down.');
    const next = await postJson(`${mock.url}/v1/chat/completions`, chatBody('m'));
    assert.equal(next.status, 200, 'a script with count 1 serves one request');
});

test('mock script matched by model', async () => {
    await mock.reset();
    await mock.queue({ model: 'only-this', text: 'Scripted for only-this.' });
    const other = await postJson(`${mock.url}/v1/chat/completions`, chatBody('another'));
    assert.equal(other.json().choices[0].message.content, 'Hello from sluice-mock.');
    const match = await postJson(`${mock.url}/v1/chat/completions`, chatBody('only-this'));
    assert.equal(match.json().choices[0].message.content, 'Scripted for only-this.');
});

test('mock cut after chunks', async () => {
    await mock.reset();
    await mock.queue({ text: 'alpha beta gamma delta epsilon', chunks: 5, cut_after_chunks: 2 });
    const res = await rawPost(`${mock.url}/v1/chat/completions`, chatBody('m', { stream: true }));
    assert.equal(res.status, 200);
    assert.equal(res.complete, false, 'the response must end abruptly');
    const { events, done } = parseSse(res.body.slice(0, res.body.lastIndexOf('\n\n') + 2));
    assert.equal(done, false, 'no [DONE] after a cut');
    const contentChunks = events.filter((c) => c.choices[0]?.delta?.content);
    assert.equal(contentChunks.length, 2);
    assert.ok(events.every((c) => c.choices[0]?.finish_reason == null), 'no finish chunk');
});

test('mock error after chunks', async () => {
    await mock.reset();
    await mock.queue({ text: 'alpha beta gamma delta', chunks: 4, error_after_chunks: 1 });
    const res = await rawPost(`${mock.url}/v1/chat/completions`, chatBody('m', { stream: true }));
    assert.equal(res.status, 200);
    const { events, done } = parseSse(res.body);
    assert.equal(done, false, 'no [DONE] after an in-band error');
    const last = events.at(-1);
    assert.equal(last.error.message, 'mock in-band error');
    assert.equal(last.error.type, 'server_error');
    assert.equal(last.error.code, '500');
    assert.equal(events.filter((c) => c.choices?.[0]?.delta?.content).length, 1);
});

test('mock client gone before first byte', async () => {
    await mock.reset();
    await mock.queue({ latency_ms: 5000 });
    const controller = new AbortController();
    const pending = fetch(`${mock.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody('m')),
        signal: controller.signal,
    }).catch((err) => err);
    await sleep(300);
    controller.abort();
    const abortedAt = Date.now();
    const result = await pending;
    assert.equal(result.name, 'AbortError');

    const reqs = await mock.waitForRequests((r) => r.length === 1 && r[0].client_gone === true, 1000);
    assert.ok(Date.now() - abortedAt <= 1000, 'client_gone seen within 1 s');
    assert.equal(reqs[0].completed, false);
    const goneAfter = reqs[0].client_gone_ms - reqs[0].received_ms;
    assert.ok(goneAfter >= 250, `client_gone_ms - received_ms = ${goneAfter}`);
    assert.ok(goneAfter <= 1300, `client_gone_ms - received_ms = ${goneAfter}`);
});

test('mock reset clears log and queue', async () => {
    await mock.queue({ status: 500, body: { error: { message: 'queued' } } });
    await mock.reset();
    assert.deepEqual(await mock.requests(), []);
    const res = await postJson(`${mock.url}/v1/chat/completions`, chatBody('m'));
    assert.equal(res.status, 200, 'the queued script was dropped');
});
