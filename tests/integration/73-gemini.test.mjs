// SPDX-License-Identifier: Apache-2.0
// The Gemini family end to end: the official OpenAI Node SDK talks to sluice-gateway, which
// translates to Gemini's generateContent API on sluice-mock and back. Covers text answers,
// streams, tool calls both ways, a blocked prompt, error mapping and where the API key goes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { onlyUpstreamRequest, startMockAndGateway, stopMockAndGateway } from './lib/family.mjs';
import { needs } from './lib/harness.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-gemini-41c7';
const UPSTREAM_KEY = 'AIza-test-upstream-8e02f1';
const GROUP = 'flash';
const PROVIDER_MODEL = 'gemini-2.0-flash';

let mock;
let gateway;

before(async () => {
    ({ mock, gateway } = await startMockAndGateway({
        gatewayOptions: (mockUrl) => ({
            config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: gemini/${PROVIDER_MODEL}
    api_key: os.environ/GEMINI_TEST_KEY
    api_base: ${mockUrl}
- model_name: gemini-embed
  litellm_params:
    model: gemini/text-embedding-004
    api_key: os.environ/GEMINI_TEST_KEY
    api_base: ${mockUrl}
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: os.environ/GEMINI_TEST_MASTER_KEY
`,
            env: { GEMINI_TEST_KEY: UPSTREAM_KEY, GEMINI_TEST_MASTER_KEY: MASTER_KEY },
        }),
    }));
});

after(() => stopMockAndGateway({ mock, gateway }));

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

// Checks that the key went in its header and nowhere in the request line.
function assertKeyInHeaderOnly(up) {
    assert.equal(up.headers['x-goog-api-key'], UPSTREAM_KEY);
    assert.ok(!up.path.includes(UPSTREAM_KEY), `the key is in the path: ${up.path}`);
    assert.ok(!up.path.includes('key='), `a key parameter is in the path: ${up.path}`);
    assert.equal(up.headers.authorization, undefined);
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
            additionalProperties: false,
        },
    },
};

test('non-stream text answer', async () => {
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        text: 'Cheyenne is the capital of Wyoming.',
        usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
    });
    const res = await client().chat.completions.create({
        model: GROUP,
        messages: [
            { role: 'system', content: 'Answer in one sentence.' },
            { role: 'user', content: 'Capital of Wyoming?' },
        ],
        temperature: 0.3,
        max_tokens: 50,
        stop: ['\n\n'],
    });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, GROUP);
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.equal(res.choices[0].message.content, 'Cheyenne is the capital of Wyoming.');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.prompt_tokens, 12);
    assert.equal(res.usage.completion_tokens, 6);
    assert.equal(res.usage.total_tokens, 18);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.method, 'POST');
    assert.equal(up.path, `/v1beta/models/${PROVIDER_MODEL}:generateContent`);
    assertKeyInHeaderOnly(up);
    assert.deepEqual(up.json.systemInstruction, { parts: [{ text: 'Answer in one sentence.' }] });
    assert.deepEqual(up.json.contents, [{ role: 'user', parts: [{ text: 'Capital of Wyoming?' }] }]);
    assert.deepEqual(up.json.generationConfig,
        { temperature: 0.3, maxOutputTokens: 50, stopSequences: ['\n\n'] });
});

test('stream text answer with usage', async () => {
    const text = 'One two three four five six seven.';
    await mock.reset();
    await mock.queue({ model: PROVIDER_MODEL, text, chunks: 4 });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Count to seven.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    let content = '';
    const finishes = [];
    let usage = null;
    let roleChunks = 0;
    for await (const chunk of stream) {
        assert.equal(chunk.model, GROUP);
        assert.equal(chunk.object, 'chat.completion.chunk');
        if (chunk.usage) {
            usage = chunk.usage;
        }
        for (const choice of chunk.choices) {
            if (choice.delta.role === 'assistant') {
                roleChunks++;
            }
            content += choice.delta.content || '';
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.equal(roleChunks, 1);
    assert.equal(content, text);
    assert.deepEqual(finishes, ['stop']);
    assert.ok(usage !== null, 'the usage chunk arrived');
    assert.equal(usage.completion_tokens, 7);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, `/v1beta/models/${PROVIDER_MODEL}:streamGenerateContent?alt=sse`);
    assertKeyInHeaderOnly(up);
    assert.equal(up.json.stream, undefined);
});

test('tool call round trip', async () => {
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        body: {
            candidates: [{
                content: {
                    role: 'model',
                    parts: [{ functionCall: { name: 'get_weather', args: { city: 'Rome' } } }],
                },
                finishReason: 'STOP',
                index: 0,
            }],
            usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 5, totalTokenCount: 35 },
        },
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
    assert.match(call.id, /^call_/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Rome' });

    const firstUp = await onlyUpstreamRequest(mock);
    assert.deepEqual(firstUp.json.tools, [{
        functionDeclarations: [{
            name: 'get_weather',
            description: 'Current weather in a city',
            parameters: {
                type: 'object',
                properties: { city: { type: 'string' } },
                required: ['city'],
            },
        }],
    }]);
    assert.deepEqual(firstUp.json.toolConfig, { functionCallingConfig: { mode: 'ANY' } });

    await mock.reset();
    await mock.queue({ model: PROVIDER_MODEL, text: 'It is 24 degrees in Rome.' });
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
    assert.deepEqual(up.json.contents, [
        { role: 'user', parts: [{ text: 'Weather in Rome?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Rome' } } }] },
        {
            role: 'user',
            parts: [{
                functionResponse: { name: 'get_weather', response: { content: '24 C and sunny' } },
            }],
        },
    ]);
});

test('stream tool call', async () => {
    const event = {
        candidates: [{
            content: {
                role: 'model',
                parts: [{ functionCall: { name: 'get_weather', args: { city: 'Oslo' } } }],
            },
            finishReason: 'STOP',
            index: 0,
        }],
    };
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        content_type: 'text/event-stream',
        body: `data: ${JSON.stringify(event)}\r\n\r\n`,
    });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: [WEATHER_TOOL],
        stream: true,
    });
    const calls = [];
    const finishes = [];
    for await (const chunk of stream) {
        for (const choice of chunk.choices) {
            calls.push(...(choice.delta.tool_calls || []));
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.equal(calls.length, 1);
    assert.equal(calls[0].index, 0);
    assert.equal(calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'Oslo' });
    assert.deepEqual(finishes, ['tool_calls']);
});

test('blocked prompt ends with content_filter', async () => {
    const event = { promptFeedback: { blockReason: 'SAFETY' } };
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        content_type: 'text/event-stream',
        body: `data: ${JSON.stringify(event)}\r\n\r\n`,
    });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Something unsafe.' }],
        stream: true,
    });
    const finishes = [];
    let content = '';
    for await (const chunk of stream) {
        for (const choice of chunk.choices) {
            content += choice.delta.content || '';
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.equal(content, '');
    assert.deepEqual(finishes, ['content_filter']);
});

test('429 from Google maps to a rate limit error', async () => {
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        status: 429,
        body: {
            error: {
                code: 429,
                message: 'Resource has been exhausted (e.g. check quota).',
                status: 'RESOURCE_EXHAUSTED',
            },
        },
    });
    await assert.rejects(
        client().chat.completions.create({
            model: GROUP,
            messages: [{ role: 'user', content: 'Hi' }],
        }),
        (err) => {
            assert.equal(err.status, 429);
            assert.equal(err.error.type, 'rate_limit_error');
            assert.equal(err.error.code, '429');
            assert.equal(err.error.message, 'Resource has been exhausted (e.g. check quota).');
            return true;
        },
    );
});

test('404 from Google keeps its message', async () => {
    await mock.reset();
    await mock.queue({ model: PROVIDER_MODEL, status: 404 });
    await assert.rejects(
        client().chat.completions.create({
            model: GROUP,
            messages: [{ role: 'user', content: 'Hi' }],
        }),
        (err) => {
            assert.equal(err.status, 404);
            assert.equal(err.error.type, 'not_found_error');
            assert.equal(err.error.message, 'sluice-mock scripted error (status 404)');
            return true;
        },
    );
});

test('image data URL becomes inlineData', async () => {
    await mock.reset();
    await mock.queue({ model: PROVIDER_MODEL, text: 'A red pixel.' });
    const res = await client().chat.completions.create({
        model: GROUP,
        messages: [{
            role: 'user',
            content: [
                { type: 'text', text: 'What is this?' },
                { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
        }],
    });
    assert.equal(res.choices[0].message.content, 'A red pixel.');
    const up = await onlyUpstreamRequest(mock);
    assert.deepEqual(up.json.contents[0].parts, [
        { text: 'What is this?' },
        { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
    ]);
});

test('image URL that is not data is a 400', async () => {
    await mock.reset();
    await assert.rejects(
        client().chat.completions.create({
            model: GROUP,
            messages: [{
                role: 'user',
                content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }],
            }],
        }),
        (err) => {
            assert.equal(err.status, 400);
            assert.match(err.error.message, /data URLs/);
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 0);
});

test('embeddings go through batchEmbedContents', async () => {
    await mock.reset();
    const res = await client().embeddings.create({
        model: 'gemini-embed',
        input: ['first text', 'second text'],
    });
    assert.equal(res.object, 'list');
    assert.equal(res.model, 'gemini-embed');
    assert.equal(res.data.length, 2);
    assert.equal(res.data[0].index, 0);
    assert.equal(res.data[1].index, 1);
    assert.equal(res.data[0].embedding.length, 8);
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/v1beta/models/text-embedding-004:batchEmbedContents');
    assertKeyInHeaderOnly(up);
    assert.deepEqual(up.json, {
        requests: [
            { model: 'models/text-embedding-004', content: { parts: [{ text: 'first text' }] } },
            { model: 'models/text-embedding-004', content: { parts: [{ text: 'second text' }] } },
        ],
    });
});

test('stream that ends after a finish closes in order', async () => {
    // Two choices are requested but the provider finishes only one and then closes the
    // stream, which has no end marker: the gateway must still end the client's stream cleanly.
    const event = {
        candidates: [{
            content: { role: 'model', parts: [{ text: 'Only one.' }] },
            finishReason: 'STOP',
            index: 0,
        }],
    };
    await mock.reset();
    await mock.queue({
        model: PROVIDER_MODEL,
        content_type: 'text/event-stream',
        body: `data: ${JSON.stringify(event)}\r\n\r\n`,
    });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Two answers, please.' }],
        n: 2,
        stream: true,
    });
    let content = '';
    const finishes = [];
    for await (const chunk of stream) {
        for (const choice of chunk.choices) {
            content += choice.delta.content || '';
            if (choice.finish_reason) {
                finishes.push(`${choice.index}:${choice.finish_reason}`);
            }
        }
    }
    assert.equal(content, 'Only one.');
    assert.deepEqual(finishes, ['0:stop']);
    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.json.generationConfig.candidateCount, 2);
});
