// SPDX-License-Identifier: Apache-2.0
// The Anthropic family end to end: the official OpenAI Node SDK talks to sluice-gateway, which
// translates to Anthropic's Messages API on sluice-mock's /v1/messages and back. Covers text
// answers, streams, a tool-call round trip, stop sequences, Anthropic error envelopes and an
// in-band stream error.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { onlyUpstreamRequest, startMockAndGateway, stopMockAndGateway } from './lib/family.mjs';
import { chatBody, needs } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-anthropic-5d1e07';
const UPSTREAM_KEY = 'sk-ant-upstream-93c4aa';
const GROUP = 'claude-chat';
const PROVIDER_MODEL = 'claude-3-5-haiku-20241022';

let mock;
let gateway;

before(async () => {
    ({ mock, gateway } = await startMockAndGateway({
        gatewayOptions: (mockUrl) => ({
            config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: anthropic/${PROVIDER_MODEL}
    api_key: os.environ/ANTHROPIC_TEST_KEY
    api_base: ${mockUrl}
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: os.environ/ANTHROPIC_TEST_MASTER_KEY
`,
            env: { ANTHROPIC_TEST_KEY: UPSTREAM_KEY, ANTHROPIC_TEST_MASTER_KEY: MASTER_KEY },
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

test('non-stream text answer', async () => {
    await mock.reset();
    await mock.queue({
        route: 'messages',
        text: 'Paris is the capital of France.',
        usage: { input_tokens: 21, output_tokens: 7, cache_read_input_tokens: 4 },
    });
    const res = await client().chat.completions.create({
        model: GROUP,
        messages: [
            { role: 'system', content: 'Answer in one sentence.' },
            { role: 'user', content: 'What is the capital of France?' },
        ],
    });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, GROUP);
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.equal(res.choices[0].message.content, 'Paris is the capital of France.');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.prompt_tokens, 25);
    assert.equal(res.usage.completion_tokens, 7);
    assert.equal(res.usage.total_tokens, 32);
    assert.equal(res.usage.prompt_tokens_details.cached_tokens, 4);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/v1/messages');
    assert.equal(up.headers['x-api-key'], UPSTREAM_KEY);
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
    assert.equal(up.headers.authorization, undefined);
    assert.equal(up.json.model, PROVIDER_MODEL);
    assert.equal(up.json.system, 'Answer in one sentence.');
    assert.equal(up.json.max_tokens, 4096);
    assert.deepEqual(up.json.messages, [{ role: 'user', content: 'What is the capital of France?' }]);
});

test('stream text answer', async () => {
    const text = 'One two three four five six seven.';
    await mock.reset();
    await mock.queue({ route: 'messages', text, chunks: 5 });
    const stream = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Count to seven.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    let content = '';
    const finishes = [];
    let usage = null;
    let roleSeen = false;
    for await (const chunk of stream) {
        assert.equal(chunk.model, GROUP);
        assert.equal(chunk.object, 'chat.completion.chunk');
        if (chunk.usage) {
            usage = chunk.usage;
        }
        for (const choice of chunk.choices) {
            if (choice.delta.role === 'assistant') {
                roleSeen = true;
            }
            content += choice.delta.content || '';
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.ok(roleSeen, 'a chunk carries the assistant role');
    assert.equal(content, text);
    assert.deepEqual(finishes, ['stop']);
    assert.ok(usage !== null, 'the usage chunk arrived');
    assert.equal(usage.completion_tokens, 7);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.json.stream, true);
    assert.equal(up.json.stream_options, undefined);
});

test('tool calls round trip', async () => {
    await mock.reset();
    await mock.queue({
        route: 'messages',
        text: 'Let me look that up.',
        tool_calls: [{ id: 'toolu_rt_1', name: 'get_weather', input: { city: 'Rome' } }],
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
    assert.equal(call.id, 'toolu_rt_1');
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Rome' });

    const firstUp = await onlyUpstreamRequest(mock);
    assert.deepEqual(firstUp.json.tools, [{
        name: 'get_weather',
        description: 'Current weather in a city',
        input_schema: WEATHER_TOOL.function.parameters,
    }]);
    assert.deepEqual(firstUp.json.tool_choice, { type: 'any' });

    await mock.reset();
    await mock.queue({ route: 'messages', text: 'It is 24 degrees in Rome.' });
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
    const [user, assistant, result] = up.json.messages;
    assert.equal(up.json.messages.length, 3);
    assert.equal(user.role, 'user');
    assert.equal(assistant.role, 'assistant');
    assert.deepEqual(assistant.content.find((b) => b.type === 'tool_use'), {
        type: 'tool_use', id: 'toolu_rt_1', name: 'get_weather', input: { city: 'Rome' },
    });
    assert.equal(result.role, 'user');
    assert.deepEqual(result.content, [
        { type: 'tool_result', tool_use_id: 'toolu_rt_1', content: '24 C and sunny' },
    ]);
});

test('stream tool call arguments', async () => {
    await mock.reset();
    await mock.queue({
        route: 'messages',
        text: 'Checking.',
        tool_calls: [{ name: 'get_weather', input: { city: 'Oslo', units: 'c' } }],
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

test('stop sequences reach upstream', async () => {
    await mock.reset();
    await mock.queue({ route: 'messages', text: 'One', finish_reason: 'stop_sequence' });
    const res = await client().chat.completions.create({
        model: GROUP,
        messages: [{ role: 'user', content: 'Count' }],
        stop: ['END', '\n\n'],
        max_tokens: 50,
        temperature: 0.2,
        user: 'user-1234',
    });
    assert.equal(res.choices[0].finish_reason, 'stop');
    const up = await onlyUpstreamRequest(mock);
    assert.deepEqual(up.json.stop_sequences, ['END', '\n\n']);
    assert.equal(up.json.stop, undefined);
    assert.equal(up.json.max_tokens, 50);
    assert.equal(up.json.temperature, 0.2);
    assert.deepEqual(up.json.metadata, { user_id: 'user-1234' });
});

// The SDK raises APIError subclasses with the gateway's status and envelope.
async function expectSdkError(status, type, message) {
    let caught = null;
    try {
        await client().chat.completions.create(chatBody(GROUP));
    } catch (err) {
        caught = err;
    }
    assert.ok(caught !== null, 'the call failed');
    assert.equal(caught.status, status);
    assert.equal(caught.error.type, type);
    assert.equal(caught.error.message, message);
}

test('upstream 429 maps to 429', async () => {
    const message = 'This request would exceed your rate limit of 50 requests per minute.';
    await mock.reset();
    await mock.queue({
        route: 'messages',
        status: 429,
        headers: { 'retry-after': '3' },
        body: { type: 'error', error: { type: 'rate_limit_error', message }, request_id: 'req_1' },
    });
    await expectSdkError(429, 'rate_limit_error', message);
});

test('upstream 529 maps to 529', async () => {
    await mock.reset();
    await mock.queue({ route: 'messages', status: 529 });
    await expectSdkError(529, 'overloaded_error', 'sluice-mock scripted error (status 529)');
});

test('in-band stream error ends stream', async () => {
    await mock.reset();
    await mock.queue({ route: 'messages', text: 'a b c d e f', chunks: 6, error_after_chunks: 2 });
    const res = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: { authorization: `Bearer ${MASTER_KEY}` },
        body: chatBody(GROUP, { stream: true }),
    });
    assert.equal(res.status, 200);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.equal(kinds.filter((k) => k === 'done').length, 1, `event kinds: ${kinds.join(',')}`);
    assert.deepEqual(kinds.slice(-2), ['error', 'done']);
    for (const ev of res.events.slice(0, -2)) {
        assert.equal(ev.kind, 'chunk');
        for (const c of ev.json.choices) {
            assert.equal(c.finish_reason, null, `made-up finish_reason in ${ev.data}`);
        }
    }
    const { error } = res.events[res.events.length - 2].json;
    assert.equal(error.message, 'Overloaded');
    assert.equal(error.type, 'overloaded_error');
    assert.equal(error.code, '529');
});
