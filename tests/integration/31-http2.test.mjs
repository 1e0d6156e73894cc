// SPDX-License-Identifier: Apache-2.0
// HTTP/2 in cleartext with prior knowledge (h2c): the gateway serves the chat and models routes
// over HTTP/2 as it does over HTTP/1.1.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';

import { needs, startGateway, startMock } from './lib/harness.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-h2-6a0f';

let mock;
let gateway;
let session;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: h2-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-h2
    api_base: ${mock.url}/v1
general_settings:
  master_key: ${MASTER_KEY}
`,
    });
    // http2.connect() with an http: URL speaks HTTP/2 at once, without an Upgrade.
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

// Sends one request on the shared session; resolves with {status, headers, body}.
function h2Request(method, path, body) {
    return new Promise((resolve, reject) => {
        const headers = {
            ':method': method,
            ':path': path,
            authorization: `Bearer ${MASTER_KEY}`,
        };
        if (body !== undefined) {
            headers['content-type'] = 'application/json';
        }
        const stream = session.request(headers);
        const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10000);
        let responseHeaders;
        const chunks = [];
        stream.on('response', (h) => {
            responseHeaders = h;
        });
        stream.on('data', (d) => chunks.push(d));
        stream.on('end', () => {
            clearTimeout(timer);
            resolve({
                status: responseHeaders && responseHeaders[':status'],
                headers: responseHeaders || {},
                body: Buffer.concat(chunks).toString('utf8'),
            });
        });
        stream.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
        if (body !== undefined) {
            stream.end(JSON.stringify(body));
        } else {
            stream.end();
        }
    });
}

test('h2c chat completion', async () => {
    await mock.reset();
    await mock.queue({ text: 'Answer over HTTP/2.', usage: { prompt_tokens: 4, completion_tokens: 3 } });
    const res = await h2Request('POST', '/v1/chat/completions', {
        model: 'h2-chat',
        messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'h2-chat');
    assert.equal(body.choices[0].message.content, 'Answer over HTTP/2.');
    assert.equal(body.usage.prompt_tokens, 4);
    assert.equal(body.usage.completion_tokens, 3);
    assert.ok(res.headers['x-litellm-call-id'], 'x-litellm-call-id over HTTP/2');

    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(JSON.parse(reqs[0].body).model, 'gpt-4o-mini');
});

test('h2c models list', async () => {
    const res = await h2Request('GET', '/v1/models');
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m) => m.id), ['h2-chat']);
});

test('h2c concurrent streams', async () => {
    await mock.reset();
    const results = await Promise.all([0, 1, 2].map(() => h2Request('POST', '/v1/chat/completions', {
        model: 'h2-chat',
        messages: [{ role: 'user', content: 'hi' }],
    })));
    for (const res of results) {
        assert.equal(res.status, 200, res.body);
    }
    const ids = results.map((r) => r.headers['x-litellm-call-id']);
    assert.equal(new Set(ids).size, 3, `call ids: ${ids}`);
});

test('h2c bad input is 400', async () => {
    const res = await h2Request('POST', '/v1/chat/completions', { model: 'h2-chat' });
    assert.equal(res.status, 400, res.body);
    assert.equal(JSON.parse(res.body).error.code, '400');
});
