// SPDX-License-Identifier: Apache-2.0
// Embeddings: the official OpenAI Node SDK calls sluice-gateway's /v1/embeddings, which forwards
// to sluice-mock. Covers single, batch and token id inputs, float and base64 encodings,
// `dimensions`, the model rewritten on the way up and back, usage and both route spellings.
// Client mistakes each get a 400 that never reaches the mock, and upstream errors pass through.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    expectErrorEnvelope, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-embed-5d1e';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const GROUP = 'team-embed';
const PROVIDER_MODEL = 'text-embedding-3-small';
// The mock's vector length when the request has no `dimensions`.
const MOCK_DEFAULT_DIMENSIONS = 8;

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/${PROVIDER_MODEL}
    api_key: sk-upstream-embed
    api_base: ${mock.url}/v1
  model_info:
    id: team-embed-deployment-1
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

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

const embeddingsUrl = (route = '/v1/embeddings') => `${gateway.url}${route}`;

// Decodes OpenAI's base64 encoding: little-endian float32 values.
function decodeBase64Floats(text) {
    const bytes = Buffer.from(text, 'base64');
    const out = [];
    for (let i = 0; i + 4 <= bytes.length; i += 4) {
        out.push(bytes.readFloatLE(i));
    }
    return out;
}

function norm(vector) {
    return Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
}

// Returns the one upstream request the mock logged.
async function onlyUpstreamRequest() {
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1, `the mock received ${reqs.length} request(s)`);
    return reqs[0];
}

// ---------------------------------------------------------------- answers

test('sdk single input returns vector', async () => {
    await mock.reset();
    const res = await client().embeddings.create({
        model: GROUP, input: 'The quick brown fox', encoding_format: 'float',
    });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 1);
    assert.equal(res.data[0].object, 'embedding');
    assert.equal(res.data[0].index, 0);
    assert.equal(res.data[0].embedding.length, MOCK_DEFAULT_DIMENSIONS);
    for (const v of res.data[0].embedding) {
        assert.equal(typeof v, 'number');
    }
    assert.ok(Math.abs(norm(res.data[0].embedding) - 1) < 1e-5, 'unit length');
});

test('response model is group name', async () => {
    await mock.reset();
    const res = await client().embeddings.create({ model: GROUP, input: 'hi', encoding_format: 'float' });
    assert.equal(res.model, GROUP);
});

test('upstream gets provider model', async () => {
    await mock.reset();
    await client().embeddings.create({
        model: GROUP, input: ['one', 'two'], encoding_format: 'float', user: 'user-17',
    });
    const req = await onlyUpstreamRequest();
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/embeddings');
    assert.equal(req.headers.authorization, 'Bearer sk-upstream-embed');
    const body = JSON.parse(req.body);
    assert.equal(body.model, PROVIDER_MODEL);
    assert.deepEqual(body.input, ['one', 'two']);
    assert.equal(body.user, 'user-17');
    assert.equal(body.encoding_format, 'float');
});

test('batch input gives one vector each', async () => {
    await mock.reset();
    const res = await client().embeddings.create({
        model: GROUP, input: ['alpha', 'beta', 'alpha'], encoding_format: 'float',
    });
    assert.equal(res.data.length, 3);
    assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2]);
    assert.deepEqual(res.data[0].embedding, res.data[2].embedding, 'equal inputs, equal vectors');
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding, 'different inputs differ');
});

test('equal inputs match across requests', async () => {
    await mock.reset();
    const first = await client().embeddings.create({ model: GROUP, input: 'stable', encoding_format: 'float' });
    const second = await client().embeddings.create({
        model: GROUP, input: ['other', 'stable'], encoding_format: 'float',
    });
    assert.deepEqual(second.data[1].embedding, first.data[0].embedding);
});

test('token id inputs', async () => {
    await mock.reset();
    const single = await postJson(embeddingsUrl(), { model: GROUP, input: [9906, 1917] }, AUTH);
    assert.equal(single.status, 200, single.body);
    assert.equal(single.json().data.length, 1, 'an array of token ids is one input');

    const batch = await postJson(embeddingsUrl(), { model: GROUP, input: [[9906, 1917], [1917]] }, AUTH);
    assert.equal(batch.status, 200, batch.body);
    const data = batch.json().data;
    assert.equal(data.length, 2);
    assert.deepEqual(data[0].embedding, single.json().data[0].embedding);
});

test('base64 encoding passes through', async () => {
    await mock.reset();
    const floats = await client().embeddings.create({ model: GROUP, input: 'encode me', encoding_format: 'float' });
    const encoded = await client().embeddings.create({ model: GROUP, input: 'encode me', encoding_format: 'base64' });
    assert.equal(typeof encoded.data[0].embedding, 'string');
    const decoded = decodeBase64Floats(encoded.data[0].embedding);
    assert.equal(decoded.length, MOCK_DEFAULT_DIMENSIONS);
    assert.deepEqual(decoded, floats.data[0].embedding.map((v) => Math.fround(v)));
    const reqs = await mock.requests();
    assert.equal(JSON.parse(reqs[1].body).encoding_format, 'base64');
});

test('sdk default decodes base64', async () => {
    await mock.reset();
    const floats = await client().embeddings.create({ model: GROUP, input: 'default path', encoding_format: 'float' });
    // Without encoding_format, openai-node requests base64 and decodes it itself.
    const res = await client().embeddings.create({ model: GROUP, input: 'default path' });
    const reqs = await mock.requests();
    assert.equal(JSON.parse(reqs[1].body).encoding_format, 'base64');
    assert.ok(Array.isArray(res.data[0].embedding), 'the SDK returns numbers');
    assert.deepEqual(res.data[0].embedding, floats.data[0].embedding.map((v) => Math.fround(v)));
});

test('dimensions sets vector length', async () => {
    await mock.reset();
    const res = await client().embeddings.create({
        model: GROUP, input: 'short vector', dimensions: 5, encoding_format: 'float',
    });
    assert.equal(res.data[0].embedding.length, 5);
    const req = await onlyUpstreamRequest();
    assert.equal(JSON.parse(req.body).dimensions, 5);
});

test('usage computed by mock', async () => {
    await mock.reset();
    // The mock counts ceil(bytes / 4) per string: 12 bytes and 5 bytes give 3 + 2 tokens.
    const res = await client().embeddings.create({
        model: GROUP, input: ['twelve bytes', 'five!'], encoding_format: 'float',
    });
    assert.equal(res.usage.prompt_tokens, 5);
    assert.equal(res.usage.total_tokens, 5);
});

test('usage from upstream is returned', async () => {
    await mock.reset();
    await mock.queue({ route: 'embeddings', usage: { prompt_tokens: 42 } });
    const res = await client().embeddings.create({ model: GROUP, input: 'count me', encoding_format: 'float' });
    assert.equal(res.usage.prompt_tokens, 42);
    assert.equal(res.usage.total_tokens, 42);
});

test('access log records embeddings usage', async () => {
    await mock.reset();
    await mock.queue({ route: 'embeddings', usage: { prompt_tokens: 17 } });
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'logged' }, AUTH);
    assert.equal(res.status, 200, res.body);
    const id = res.headers['x-litellm-call-id'];
    const line = await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    assert.equal(line.path, '/v1/embeddings');
    assert.equal(line.status, 200);
    assert.equal(line.model_group, GROUP);
    assert.equal(line.model, PROVIDER_MODEL);
    assert.equal(line.stream, false);
    assert.equal(line.prompt_tokens, 17);
    assert.ok(!JSON.stringify(line).includes('logged'), 'the input is not logged');
});

for (const route of ['/v1/embeddings', '/embeddings']) {
    test(`embeddings route ${route}`, async () => {
        await mock.reset();
        const res = await postJson(embeddingsUrl(route), { model: GROUP, input: 'route check' }, AUTH);
        assert.equal(res.status, 200, res.body);
        const body = res.json();
        assert.equal(body.object, 'list');
        assert.equal(body.model, GROUP);
        assert.equal(body.data[0].embedding.length, MOCK_DEFAULT_DIMENSIONS);
        assert.equal(res.headers['x-litellm-model-group'], GROUP);
        assert.equal(res.headers['x-litellm-model-id'], 'team-embed-deployment-1');
        const req = await onlyUpstreamRequest();
        assert.equal(req.path, '/v1/embeddings');
    });
}

// ---------------------------------------------------------------- client mistakes

// Sends `body` and expects a 400 naming `param` whose message contains `fragment`; the mock
// must not have been called.
async function expectRejected(body, param, fragment) {
    await mock.reset();
    const res = await postJson(embeddingsUrl(), body, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, param);
    assert.ok(err.message.includes(fragment), `message: ${err.message}`);
    assert.equal((await mock.requests()).length, 0, 'the mock received the request');
    return err;
}

test('missing input is 400', async () => {
    await expectRejected({ model: GROUP }, 'input', "Missing required parameter: 'input'");
});

test('empty input array is 400', async () => {
    await expectRejected({ model: GROUP, input: [] }, 'input', 'empty array');
});

test('empty input string is 400', async () => {
    await expectRejected({ model: GROUP, input: '' }, 'input', 'empty string');
});

test('numeric input is 400', async () => {
    await expectRejected({ model: GROUP, input: 12 }, 'input', 'expected a string or an array');
});

test('mixed input array is 400', async () => {
    await expectRejected({ model: GROUP, input: ['a', 7] }, 'input', "Invalid 'input[1]'");
});

test('negative token id is 400', async () => {
    await expectRejected({ model: GROUP, input: [[1, -5]] }, 'input', "Invalid 'input[0][1]'");
});

test('stream true is 400', async () => {
    await expectRejected({ model: GROUP, input: 'x', stream: true }, 'stream', 'cannot be streamed');
});

test('unknown encoding_format is 400', async () => {
    await expectRejected({ model: GROUP, input: 'x', encoding_format: 'int8' }, 'encoding_format',
        "expected 'float' or 'base64'");
});

test('zero dimensions is 400', async () => {
    await expectRejected({ model: GROUP, input: 'x', dimensions: 0 }, 'dimensions', 'out of range');
});

test('fractional dimensions is 400', async () => {
    await expectRejected({ model: GROUP, input: 'x', dimensions: 2.5 }, 'dimensions', 'expected an integer');
});

test('non-string user is 400', async () => {
    await expectRejected({ model: GROUP, input: 'x', user: 5 }, 'user', 'expected a string');
});

test('missing model is 400', async () => {
    await expectRejected({ input: 'x' }, 'model', "Missing required parameter: 'model'");
});

test('unknown model names the route', async () => {
    const err = await expectRejected({ model: 'no-such-embed', input: 'x' }, 'model',
        '/embeddings: Invalid model name passed in model=no-such-embed');
    assert.ok(err.message.includes(GROUP), 'the message lists the available groups');
});

test('malformed json is 400', async () => {
    await mock.reset();
    const res = await postJson(embeddingsUrl(), '{"model": "team-embed", "input": [', AUTH);
    expectErrorEnvelope(assert, res, 400);
    assert.equal((await mock.requests()).length, 0);
});

test('missing key is 401', async () => {
    await mock.reset();
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'x' });
    expectErrorEnvelope(assert, res, 401);
    assert.equal((await mock.requests()).length, 0);
});

test('get on embeddings is 405', async () => {
    await mock.reset();
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'x' }, AUTH, { method: 'GET' });
    const err = expectErrorEnvelope(assert, res, 405);
    assert.ok(err.message.includes('/embeddings'), err.message);
    assert.equal((await mock.requests()).length, 0);
});

test('sdk rejects bad input as BadRequestError', async () => {
    await mock.reset();
    await assert.rejects(
        client().embeddings.create({ model: GROUP, input: [], encoding_format: 'float' }),
        (err) => {
            assert.ok(err instanceof OpenAI.BadRequestError, `error class ${err.constructor.name}`);
            assert.equal(err.status, 400);
            assert.equal(err.param, 'input');
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 0);
});

// ---------------------------------------------------------------- upstream errors

test('upstream 400 passes message and param', async () => {
    await mock.reset();
    const message = "This model's maximum context length is 8192 tokens.";
    await mock.queue({
        route: 'embeddings',
        status: 400,
        body: { error: { message, type: 'invalid_request_error', param: 'input', code: null } },
    });
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'too long' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, message);
    assert.equal(err.param, 'input');
    assert.equal((await mock.requests()).length, 1);
});

test('upstream 429 via sdk is RateLimitError', async () => {
    await mock.reset();
    await mock.queue({
        route: 'embeddings',
        status: 429,
        headers: { 'retry-after': '3' },
        body: { error: { message: 'Rate limit reached for embeddings', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    await assert.rejects(
        client().embeddings.create({ model: GROUP, input: 'x', encoding_format: 'float' }),
        (err) => {
            assert.ok(err instanceof OpenAI.RateLimitError, `error class ${err.constructor.name}`);
            assert.equal(err.status, 429);
            assert.ok(err.message.includes('Rate limit reached for embeddings'), err.message);
            assert.equal(err.headers.get('retry-after'), '3');
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 1, 'one upstream attempt');
});

test('upstream 500 passes status', async () => {
    await mock.reset();
    await mock.queue({ route: 'embeddings', status: 500 });
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'x' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 500);
    assert.ok(err.message.includes('scripted error'), err.message);
});

test('upstream body not json is 502', async () => {
    await mock.reset();
    await mock.queue({ route: 'embeddings', body: 'not json at all', content_type: 'text/plain' });
    const res = await postJson(embeddingsUrl(), { model: GROUP, input: 'x' }, AUTH);
    expectErrorEnvelope(assert, res, 502);
});
