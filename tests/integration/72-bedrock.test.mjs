// SPDX-License-Identifier: Apache-2.0
// The Bedrock family end to end: the official OpenAI Node SDK talks to sluice-gateway, which
// signs Converse / ConverseStream requests with SigV4 for sluice-mock's Bedrock routes. The mock
// verifies every signature with its test credentials and replies in Converse JSON or AWS
// event-stream frames. Covers text, streams, tool calls, Titan embeddings, a wrong secret key,
// throttling (HTTP and in-stream), a frame with a bad CRC and a stream cut inside a frame.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { onlyUpstreamRequest, startMockAndGateway, stopMockAndGateway } from './lib/family.mjs';
import { needs } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-bedrock-4e21a9';
const ACCESS_KEY = 'AKIDBEDROCKTEST';
const SECRET_KEY = 'bedrock-test-secret/4f+9';
const GROUP = 'claude-bedrock';
const BAD_GROUP = 'claude-bedrock-wrong-secret';
const MODEL_ID = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const EMBED_GROUP = 'titan-embed';
const EMBED_MODEL_ID = 'amazon.titan-embed-text-v2:0';

let mock;
let gateway;

before(async () => {
    ({ mock, gateway } = await startMockAndGateway({
        mockOptions: {
            env: {
                SLUICE_MOCK_AWS_ACCESS_KEY_ID: ACCESS_KEY,
                SLUICE_MOCK_AWS_SECRET_ACCESS_KEY: SECRET_KEY,
            },
        },
        gatewayOptions: (mockUrl) => ({
            config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: bedrock/${MODEL_ID}
    aws_access_key_id: ${ACCESS_KEY}
    aws_secret_access_key: os.environ/BEDROCK_TEST_SECRET
    aws_region_name: us-east-1
    aws_bedrock_runtime_endpoint: ${mockUrl}
- model_name: ${BAD_GROUP}
  litellm_params:
    model: bedrock/converse/${MODEL_ID}
    aws_access_key_id: ${ACCESS_KEY}
    aws_secret_access_key: not-the-secret
    aws_region_name: us-east-1
    api_base: ${mockUrl}
- model_name: ${EMBED_GROUP}
  litellm_params:
    model: bedrock/${EMBED_MODEL_ID}
    aws_access_key_id: ${ACCESS_KEY}
    aws_secret_access_key: os.environ/BEDROCK_TEST_SECRET
    aws_region_name: us-east-1
    aws_bedrock_runtime_endpoint: ${mockUrl}
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`,
            env: { BEDROCK_TEST_SECRET: SECRET_KEY },
        }),
    }));
});

after(() => stopMockAndGateway({ mock, gateway }));

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

const WEATHER_TOOL = {
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
        },
    },
};

function streamRaw(model, extra = {}) {
    return streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: { authorization: `Bearer ${MASTER_KEY}` },
        body: { model, messages: [{ role: 'user', content: 'Hi' }], stream: true, ...extra },
    });
}

test('non-stream text answer, signed request', async () => {
    await mock.reset();
    await mock.queue({ route: 'chat', model: MODEL_ID, text: 'Paris is the capital of France.' });
    const res = await client().chat.completions.create({
        model: GROUP,
        messages: [
            { role: 'system', content: 'Answer in one sentence.' },
            { role: 'user', content: 'What is the capital of France?' },
        ],
        max_tokens: 64,
        temperature: 0.3,
        stop: ['END'],
    });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, GROUP);
    assert.equal(res.choices[0].message.content, 'Paris is the capital of France.');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.completion_tokens, 6);
    assert.ok(res.usage.prompt_tokens > 0);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    assert.match(up.headers.authorization,
        /^AWS4-HMAC-SHA256 Credential=AKIDBEDROCKTEST\/\d{8}\/us-east-1\/bedrock\/aws4_request, /);
    assert.match(up.headers['x-amz-date'], /^\d{8}T\d{6}Z$/);
    assert.deepEqual(up.json.system, [{ text: 'Answer in one sentence.' }]);
    assert.deepEqual(up.json.messages,
        [{ role: 'user', content: [{ text: 'What is the capital of France?' }] }]);
    assert.deepEqual(up.json.inferenceConfig,
        { maxTokens: 64, temperature: 0.3, stopSequences: ['END'] });
});

test('stream text answer', async () => {
    const text = 'One two three four five six seven.';
    await mock.reset();
    await mock.queue({ route: 'chat', model: MODEL_ID, text, chunks: 5 });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Count to seven.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    let content = '';
    const finishes = [];
    let usage = null;
    for await (const chunk of stream) {
        assert.equal(chunk.model, GROUP);
        if (chunk.usage) {
            usage = chunk.usage;
        }
        for (const choice of chunk.choices) {
            content += choice.delta.content || '';
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.equal(content, text);
    assert.deepEqual(finishes, ['stop']);
    assert.ok(usage !== null, 'the usage chunk arrived');
    assert.equal(usage.completion_tokens, 7);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream');
    assert.equal(up.headers.accept, 'application/vnd.amazon.eventstream');
});

test('tool calls round trip', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: '{"city":"Rome"}', finish_reason: 'tool_use',
    });
    const first = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Weather in Rome?' }],
        tools: [WEATHER_TOOL],
        tool_choice: 'required',
    });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.id, 'tooluse_mock1');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Rome' });

    const firstUp = await onlyUpstreamRequest(mock);
    assert.deepEqual(firstUp.json.toolConfig, {
        tools: [{
            toolSpec: {
                name: 'get_weather',
                description: 'Current weather in a city',
                inputSchema: { json: WEATHER_TOOL.function.parameters },
            },
        }],
        toolChoice: { any: {} },
    });

    await mock.reset();
    await mock.queue({ route: 'chat', model: MODEL_ID, text: 'It is 24 degrees in Rome.' });
    const second = await client().chat.completions.create({
        model: GROUP,
        messages: [
            { role: 'user', content: 'Weather in Rome?' },
            choice.message,
            { role: 'tool', tool_call_id: call.id, content: '24 C and sunny' },
        ],
        tools: [WEATHER_TOOL],
    });
    assert.equal(second.choices[0].message.content, 'It is 24 degrees in Rome.');
    const up = await onlyUpstreamRequest(mock);
    assert.deepEqual(up.json.messages, [
        { role: 'user', content: [{ text: 'Weather in Rome?' }] },
        {
            role: 'assistant',
            content: [{ toolUse: { toolUseId: 'tooluse_mock1', name: 'get_weather', input: { city: 'Rome' } } }],
        },
        {
            role: 'user',
            content: [{ toolResult: { toolUseId: 'tooluse_mock1', content: [{ text: '24 C and sunny' }] } }],
        },
    ]);
});

test('stream tool call arguments', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: '{"city": "Oslo", "units": "c"}',
        finish_reason: 'tool_use', chunks: 3,
    });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: [WEATHER_TOOL],
        stream: true,
    });
    let args = '';
    let name = null;
    const finishes = [];
    for await (const chunk of stream) {
        for (const c of chunk.choices) {
            for (const tc of c.delta.tool_calls || []) {
                assert.equal(tc.index, 0);
                name = tc.function.name || name;
                args += tc.function.arguments || '';
            }
            if (c.finish_reason) {
                finishes.push(c.finish_reason);
            }
        }
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Oslo', units: 'c' });
    assert.deepEqual(finishes, ['tool_calls']);
});

test('wrong secret key gets the mock 403', async () => {
    await mock.reset();
    await assert.rejects(
        client().chat.completions.create({
            model: BAD_GROUP,
            messages: [{ role: 'user', content: 'Hi' }],
        }),
        (err) => {
            assert.equal(err.status, 403);
            assert.match(err.message, /signature we calculated does not match/);
            return true;
        },
    );
    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
});

test('throttling gets 429', async () => {
    await mock.reset();
    await mock.queue({ route: 'chat', model: MODEL_ID, status: 429 });
    await assert.rejects(
        client().chat.completions.create({ model: GROUP, messages: [{ role: 'user', content: 'Hi' }] }),
        (err) => {
            assert.equal(err.status, 429);
            assert.match(err.message, /Scripted error from sluice-mock/);
            return true;
        },
    );
});

test('throttling on a stream request gets 429 before the first byte', async () => {
    await mock.reset();
    await mock.queue({ route: 'chat', model: MODEL_ID, status: 429 });
    const res = await streamRaw(GROUP);
    assert.equal(res.status, 429, `raw: ${res.raw.slice(0, 300)}`);
    const body = JSON.parse(res.raw);
    assert.match(body.error.message, /Scripted error from sluice-mock/);
});

test('titan embeddings through InvokeModel', async () => {
    await mock.reset();
    const res = await client().embeddings.create({
        model: EMBED_GROUP, input: 'hello bedrock', dimensions: 4,
    });
    assert.equal(res.object, 'list');
    assert.equal(res.model, EMBED_GROUP);
    assert.equal(res.data.length, 1);
    assert.equal(res.data[0].embedding.length, 4);
    assert.equal(res.usage.prompt_tokens, 4);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/model/amazon.titan-embed-text-v2%3A0/invoke');
    assert.deepEqual(up.json, { inputText: 'hello bedrock', dimensions: 4 });

    await assert.rejects(
        client().embeddings.create({ model: EMBED_GROUP, input: ['a', 'b'] }),
        (err) => {
            assert.equal(err.status, 400);
            assert.match(err.message, /one string as input/);
            return true;
        },
    );
});

test('throttling exception inside a stream becomes an error event', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: 'a b c d', chunks: 4, error_after_chunks: 2,
    });
    const res = await streamRaw(GROUP);
    assert.equal(res.status, 200);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds.join(',')}`);
    const error = res.events.find((e) => e.kind === 'error').json.error;
    assert.match(error.message, /Rate exceeded/);
    assert.equal(error.code, '429');
    const content = res.events.filter((e) => e.kind === 'chunk')
        .map((e) => e.json.choices.map((c) => c.delta.content || '').join('')).join('');
    assert.equal(content, 'a b');
    for (const ev of res.events.filter((e) => e.kind === 'chunk')) {
        assert.equal(ev.json.choices[0].finish_reason, null);
    }
});

test('frame with a bad CRC ends the stream with an error event', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: 'a b c d', chunks: 4, corrupt_after_chunks: 1,
    });
    const res = await streamRaw(GROUP);
    assert.equal(res.status, 200);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.equal(kinds[kinds.length - 1], 'done', `event kinds: ${kinds.join(',')}`);
    const error = res.events.find((e) => e.kind === 'error').json.error;
    assert.match(error.message, /malformed stream/);
    assert.equal(error.code, '502');
    const content = res.events.filter((e) => e.kind === 'chunk')
        .map((e) => e.json.choices.map((c) => c.delta.content || '').join('')).join('');
    assert.equal(content, 'a');
});

// corrupt_after_chunks 0 breaks the message CRC of the first contentBlockDelta frame, the first
// frame with content. Only the messageStart frame before it is valid, and it carries no content,
// so nothing has reached the client yet and the failure must be an HTTP status.
test('bad CRC before any content is a 502', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: 'a b c d', chunks: 4, corrupt_after_chunks: 0,
    });
    const res = await streamRaw(GROUP);
    assert.equal(res.status, 502, `raw: ${res.raw.slice(0, 600)}`);
    assert.match(String(res.headers['content-type']), /application\/json/);
    const body = JSON.parse(res.raw);
    assert.equal(typeof body.error, 'object');
    assert.match(body.error.message, /malformed stream/);
    assert.equal(body.error.type, 'api_error');
    assert.equal(body.error.code, '502');
    assert.ok('param' in body.error, 'error.param is present');
});

test('stream cut inside a frame ends with an error event', async () => {
    await mock.reset();
    await mock.queue({
        route: 'chat', model: MODEL_ID, text: 'a b c d', chunks: 4, cut_after_chunks: 2,
    });
    const res = await streamRaw(GROUP);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.ok(!res.events.some((e) => e.kind === 'chunk' && e.json.choices[0]?.finish_reason),
        'no chunk carries a finish_reason');
});
