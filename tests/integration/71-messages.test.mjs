// SPDX-License-Identifier: Apache-2.0
// /v1/messages: the official Anthropic Node SDK, at both major lines (1.x authenticates with
// Authorization: Bearer, 0.x with x-api-key), talks to sluice-gateway, which serves model groups
// of any family. An OpenAI-compatible deployment on sluice-mock covers the conversion path
// (requests, whole responses, streams, tools, errors); an anthropic/ deployment covers the
// native path, where bodies and events pass through with only the model rewritten. The native
// path also covers /v1/messages/count_tokens and the anthropic-version and anthropic-beta headers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    IN_CI, failIfMissing, needs, postJson, startGateway, startMock, testOptions,
} from './lib/harness.mjs';

await needs('gateway', 'mock');
let sdkWhy = null;
let Anthropic1;
let Anthropic0;
try {
    Anthropic1 = (await import('@anthropic-ai/sdk')).default;
    Anthropic0 = (await import('anthropic0')).default;
} catch (err) {
    sdkWhy = `the Anthropic SDK cannot be loaded (run npm ci in tests/): ${err.message}`;
}
if (sdkWhy) {
    if (IN_CI) {
        console.log(`Bail out! 71-messages: ${sdkWhy}`);
        process.exit(1);
    }
    console.log(`1..0 # SKIP 71-messages: ${sdkWhy}`);
    process.exit(77);
}

const MASTER_KEY = 'sk-master-messages-5c1e';
const UPSTREAM_KEY = 'sk-upstream-messages-92ad';
const MOCK_TEXT = 'Tides turn at dawn near the old pier.';

// Started at the top level, before any test is defined, because whether the native tests can
// run depends on what the mock serves.
const mock = await startMock();
const gateway = await startGateway({
    config: `
model_list:
- model_name: oai-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: ${UPSTREAM_KEY}
    api_base: ${mock.url}/v1
- model_name: claude-native
  litellm_params:
    model: anthropic/claude-sonnet-4-5
    api_key: ${UPSTREAM_KEY}
    api_base: ${mock.url}
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`,
});

// Why the native tests cannot run (sluice-mock without Anthropic's wire format), or null.
const probe = await postJson(`${mock.url}/v1/messages`, {
    model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }],
});
const nativeWhy = probe.status === 404
    ? 'sluice-mock does not serve POST /v1/messages (Anthropic wire format)' : null;

before(async () => {
    await mock.reset();
});

after(async () => {
    await gateway.stop();
    await mock.stop();
});

const SDKS = [
    { name: 'sdk1', load: () => Anthropic1 },
    { name: 'sdk0', load: () => Anthropic0 },
];

function clientFor(sdk, apiKey = MASTER_KEY) {
    const Anthropic = sdk.load();
    return new Anthropic({ apiKey, baseURL: gateway.url, maxRetries: 0 });
}

async function lastMockBody() {
    const reqs = await mock.requests();
    assert.ok(reqs.length > 0, 'the mock received a request');
    return JSON.parse(reqs[reqs.length - 1].body);
}

// An OpenAI chat.completion with two tool calls, as an OpenAI-compatible provider sends it.
function toolCompletion() {
    return {
        id: 'chatcmpl-tools1',
        object: 'chat.completion',
        created: 1733000000,
        model: 'gpt-4o-mini',
        choices: [{
            index: 0,
            message: {
                role: 'assistant',
                content: 'Checking.',
                tool_calls: [
                    { id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
                    { id: 'call_t', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
                ],
            },
            finish_reason: 'tool_calls',
        }],
        usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 },
    };
}

// The same response as an OpenAI SSE stream, tool arguments split across chunks.
function toolStream() {
    const head = { id: 'chatcmpl-tools2', object: 'chat.completion.chunk', created: 1733000000, model: 'gpt-4o-mini' };
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    return chunk({ role: 'assistant', content: '' })
        + chunk({ content: 'Checking.' })
        + chunk({ tool_calls: [{ index: 0, id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '' } }] })
        + chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })
        + chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] })
        + chunk({ tool_calls: [{ index: 1, id: 'call_t', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } }] })
        + chunk({}, 'tool_calls')
        + `data: ${JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } })}\n\n`
        + 'data: [DONE]\n\n';
}

const TOOLS = [
    { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } },
];

// A request shaped like a coding agent's: system blocks with cache_control, 30 tools, thinking,
// metadata and a long history of tool calls and results.
function agentRequest(model) {
    const tools = [];
    for (let i = 0; i < 30; i++) {
        tools.push({
            name: `tool_${i}`,
            description: `Tool number ${i}`,
            input_schema: { type: 'object', properties: { arg: { type: 'string' } }, required: ['arg'] },
            ...(i === 29 ? { cache_control: { type: 'ephemeral' } } : {}),
        });
    }
    const messages = [{ role: 'user', content: 'Fix the failing test in src/app.c.' }];
    for (let i = 0; i < 12; i++) {
        messages.push({
            role: 'assistant',
            content: [
                { type: 'text', text: `Step ${i}: calling tool_${i}.` },
                { type: 'tool_use', id: `toolu_hist_${i}`, name: `tool_${i}`, input: { arg: `value ${i}` } },
            ],
        });
        messages.push({
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: `toolu_hist_${i}`, content: `result of step ${i}` }],
        });
    }
    messages.push({ role: 'user', content: [{ type: 'text', text: 'Continue.', cache_control: { type: 'ephemeral' } }] });
    return {
        model,
        max_tokens: 2048,
        system: [
            { type: 'text', text: 'You are a coding agent working in a C repository.' },
            { type: 'text', text: 'Follow the house style.', cache_control: { type: 'ephemeral' } },
        ],
        messages,
        tools,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        metadata: { user_id: 'agent-user-7' },
    };
}

// Event types of an Anthropic SSE body, `ping` left out.
function sseEvents(text) {
    const events = [];
    for (const block of text.split('\n\n')) {
        const name = block.split('\n').find((l) => l.startsWith('event:'));
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (name) {
            events.push({ event: name.slice(6).trim(), data });
        }
    }
    return events;
}

function checkEventOrder(types) {
    assert.equal(types[0], 'message_start', `first event: ${types}`);
    assert.equal(types.at(-1), 'message_stop', `last event: ${types}`);
    assert.equal(types.at(-2), 'message_delta', `event before message_stop: ${types}`);
    let open = false;
    for (const t of types.slice(1, -2)) {
        if (t === 'content_block_start') {
            assert.ok(!open, `a block started while another was open: ${types}`);
            open = true;
        } else if (t === 'content_block_delta') {
            assert.ok(open, `a delta outside a block: ${types}`);
        } else if (t === 'content_block_stop') {
            assert.ok(open, `a stop without a start: ${types}`);
            open = false;
        } else {
            assert.fail(`unexpected event ${t} in ${types}`);
        }
    }
    assert.ok(!open, 'every block was stopped');
}

for (const sdk of SDKS) {
    describe(`conversion path, ${sdk.name}`, () => {
        test('non-stream text', async () => {
            await mock.reset();
            await mock.queue({ text: MOCK_TEXT, usage: { prompt_tokens: 11, completion_tokens: 7 } });
            const msg = await clientFor(sdk).messages.create({
                model: 'oai-chat',
                max_tokens: 64,
                system: 'Answer in one sentence.',
                messages: [{ role: 'user', content: 'When do tides turn?' }],
            });
            assert.equal(msg.type, 'message');
            assert.equal(msg.role, 'assistant');
            assert.equal(msg.model, 'oai-chat');
            assert.match(msg.id, /^msg_/);
            assert.deepEqual(msg.content, [{ type: 'text', text: MOCK_TEXT }]);
            assert.equal(msg.stop_reason, 'end_turn');
            assert.equal(msg.usage.input_tokens, 11);
            assert.equal(msg.usage.output_tokens, 7);

            const body = await lastMockBody();
            assert.equal(body.model, 'gpt-4o-mini');
            assert.equal(body.max_tokens, 64);
            assert.deepEqual(body.messages, [
                { role: 'system', content: 'Answer in one sentence.' },
                { role: 'user', content: 'When do tides turn?' },
            ]);
        });

        test('stream text event order', async () => {
            await mock.reset();
            await mock.queue({ text: MOCK_TEXT, chunks: 4, usage: { prompt_tokens: 9, completion_tokens: 8 } });
            const stream = await clientFor(sdk).messages.create({
                model: 'oai-chat',
                max_tokens: 64,
                stream: true,
                messages: [{ role: 'user', content: 'When do tides turn?' }],
            });
            const types = [];
            let text = '';
            let stopReason = null;
            let usage = null;
            for await (const ev of stream) {
                types.push(ev.type);
                if (ev.type === 'content_block_delta') {
                    assert.equal(ev.delta.type, 'text_delta');
                    assert.equal(ev.index, 0);
                    text += ev.delta.text;
                } else if (ev.type === 'message_start') {
                    assert.equal(ev.message.model, 'oai-chat');
                } else if (ev.type === 'message_delta') {
                    stopReason = ev.delta.stop_reason;
                    usage = ev.usage;
                }
            }
            checkEventOrder(types);
            assert.equal(types.filter((t) => t === 'content_block_delta').length, 4);
            assert.equal(text, MOCK_TEXT);
            assert.equal(stopReason, 'end_turn');
            assert.equal(usage.input_tokens, 9);
            assert.equal(usage.output_tokens, 8);

            const body = await lastMockBody();
            assert.equal(body.stream, true);
            assert.deepEqual(body.stream_options, { include_usage: true });
        });

        test('stream helper final message', async () => {
            await mock.reset();
            await mock.queue({ text: MOCK_TEXT, usage: { prompt_tokens: 5, completion_tokens: 8 } });
            const final = await clientFor(sdk).messages.stream({
                model: 'oai-chat',
                max_tokens: 64,
                messages: [{ role: 'user', content: 'When do tides turn?' }],
            }).finalMessage();
            assert.equal(final.content.length, 1);
            assert.equal(final.content[0].type, 'text');
            assert.equal(final.content[0].text, MOCK_TEXT);
            assert.equal(final.stop_reason, 'end_turn');
            assert.equal(final.usage.output_tokens, 8);
        });

        test('tool calls become tool_use blocks', async () => {
            await mock.reset();
            await mock.queue({ body: toolCompletion() });
            const msg = await clientFor(sdk).messages.create({
                model: 'oai-chat',
                max_tokens: 64,
                tools: TOOLS,
                tool_choice: { type: 'auto' },
                messages: [{ role: 'user', content: 'Weather and time in Oslo?' }],
            });
            assert.equal(msg.stop_reason, 'tool_use');
            assert.deepEqual(msg.content, [
                { type: 'text', text: 'Checking.' },
                { type: 'tool_use', id: 'call_w', name: 'get_weather', input: { city: 'Oslo' } },
                { type: 'tool_use', id: 'call_t', name: 'get_time', input: { tz: 'CET' } },
            ]);
            const body = await lastMockBody();
            assert.equal(body.tool_choice, 'auto');
            assert.deepEqual(body.tools[0], {
                type: 'function',
                function: { name: 'get_weather', description: 'Weather for a city', parameters: TOOLS[0].input_schema },
            });
        });

        test('streamed tool calls', async () => {
            await mock.reset();
            await mock.queue({ body: toolStream(), content_type: 'text/event-stream' });
            const final = await clientFor(sdk).messages.stream({
                model: 'oai-chat',
                max_tokens: 64,
                tools: TOOLS,
                messages: [{ role: 'user', content: 'Weather and time in Oslo?' }],
            }).finalMessage();
            assert.equal(final.stop_reason, 'tool_use');
            assert.deepEqual(final.content, [
                { type: 'text', text: 'Checking.' },
                { type: 'tool_use', id: 'call_w', name: 'get_weather', input: { city: 'Oslo' } },
                { type: 'tool_use', id: 'call_t', name: 'get_time', input: { tz: 'CET' } },
            ]);
            assert.equal(final.usage.input_tokens, 30);
            assert.equal(final.usage.output_tokens, 12);
        });

        test('tool_result reaches mock as tool message', async () => {
            await mock.reset();
            await clientFor(sdk).messages.create({
                model: 'oai-chat',
                max_tokens: 64,
                tools: TOOLS,
                messages: [
                    { role: 'user', content: 'Weather in Oslo?' },
                    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_w', name: 'get_weather', input: { city: 'Oslo' } }] },
                    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_w', content: '4 degrees, rain' }] },
                ],
            });
            const body = await lastMockBody();
            assert.deepEqual(body.messages, [
                { role: 'user', content: 'Weather in Oslo?' },
                {
                    role: 'assistant',
                    content: null,
                    tool_calls: [{ id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
                },
                { role: 'tool', tool_call_id: 'call_w', content: '4 degrees, rain' },
            ]);
        });

        test('stop_sequences reach mock as stop', async () => {
            await mock.reset();
            await clientFor(sdk).messages.create({
                model: 'oai-chat',
                max_tokens: 64,
                stop_sequences: ['END', '###'],
                temperature: 0.3,
                top_k: 20,
                messages: [{ role: 'user', content: 'Count.' }],
            });
            const body = await lastMockBody();
            assert.deepEqual(body.stop, ['END', '###']);
            assert.equal(body.temperature, 0.3);
            assert.ok(!('top_k' in body), 'top_k has no OpenAI counterpart and is dropped');
            assert.ok(!('stop_sequences' in body));
        });

        test('mock 429 is RateLimitError', async () => {
            await mock.reset();
            await mock.queue({ status: 429, headers: { 'retry-after': '3' } });
            const Anthropic = sdk.load();
            await assert.rejects(
                clientFor(sdk).messages.create({ model: 'oai-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
                (err) => {
                    assert.ok(err instanceof Anthropic.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
                    assert.equal(err.status, 429);
                    assert.equal(err.error.type, 'error');
                    assert.equal(err.error.error.type, 'rate_limit_error');
                    assert.equal(typeof err.error.error.message, 'string');
                    return true;
                },
            );
        });

        test('unknown model is 400 envelope', async () => {
            const Anthropic = sdk.load();
            await assert.rejects(
                clientFor(sdk).messages.create({ model: 'no-such-group', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
                (err) => {
                    assert.ok(err instanceof Anthropic.BadRequestError, `got ${err.constructor.name}`);
                    assert.equal(err.error.error.type, 'invalid_request_error');
                    assert.match(err.error.error.message, /no-such-group/);
                    return true;
                },
            );
        });

        test('wrong key is 401 envelope', async () => {
            const Anthropic = sdk.load();
            await assert.rejects(
                clientFor(sdk, 'sk-wrong-key').messages.create({ model: 'oai-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
                (err) => {
                    assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err.constructor.name}`);
                    assert.equal(err.status, 401);
                    assert.equal(err.error.type, 'error');
                    assert.equal(err.error.error.type, 'authentication_error');
                    return true;
                },
            );
        });

        test('mid-stream error throws', async () => {
            await mock.reset();
            await mock.queue({ text: MOCK_TEXT, chunks: 4, error_after_chunks: 2 });
            const stream = await clientFor(sdk).messages.create({
                model: 'oai-chat', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }],
            });
            const Anthropic = sdk.load();
            const types = [];
            await assert.rejects(async () => {
                for await (const ev of stream) {
                    types.push(ev.type);
                }
            }, (err) => {
                assert.ok(err instanceof Anthropic.APIError, `got ${err.constructor.name}`);
                return true;
            });
            assert.equal(types[0], 'message_start');
            assert.ok(!types.includes('message_stop'), 'no message_stop after an error');
        });
    });
}

describe('conversion path, raw HTTP', () => {
    const headers = { 'x-api-key': MASTER_KEY };

    test('bad body is 400 envelope', async () => {
        const cases = [
            [{ model: 'oai-chat', messages: [{ role: 'user', content: 'hi' }] }, /max_tokens/],
            [{ model: 'oai-chat', max_tokens: 8, messages: [] }, /messages/],
            [{ model: 'oai-chat', max_tokens: 8, messages: [{ role: 'system', content: 'x' }] }, /messages\.0\.role/],
            ['{"model":', /not valid JSON/],
        ];
        for (const [body, pattern] of cases) {
            const res = await postJson(`${gateway.url}/v1/messages`, body, headers);
            assert.equal(res.status, 400, res.body);
            assert.match(String(res.headers['content-type']), /application\/json/);
            const json = res.json();
            assert.equal(json.type, 'error');
            assert.equal(json.error.type, 'invalid_request_error');
            assert.match(json.error.message, pattern);
        }
    });

    test('paths below the route are 404', async () => {
        for (const path of ['/v1/messages/batches', '/v1/messages/count_tokens/x']) {
            const res = await postJson(`${gateway.url}${path}`, { model: 'oai-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, headers);
            assert.equal(res.status, 404, path);
            assert.equal(res.json().type, 'error');
            assert.equal(res.json().error.type, 'not_found_error');
        }
        const res = await postJson(`${gateway.url}/v1/messages?beta=true`, { model: 'oai-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, headers);
        assert.equal(res.status, 200, 'a query string is not part of the path');
    });

    test('missing key is 401 envelope', async () => {
        const res = await postJson(`${gateway.url}/v1/messages`, { model: 'oai-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(res.status, 401);
        assert.deepEqual(Object.keys(res.json()), ['type', 'error']);
        assert.equal(res.json().error.type, 'authentication_error');
    });

    test('stream error is event error without DONE', async () => {
        await mock.reset();
        await mock.queue({ text: MOCK_TEXT, chunks: 4, error_after_chunks: 1 });
        const res = await postJson(`${gateway.url}/v1/messages`, {
            model: 'oai-chat', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }],
        }, headers);
        assert.equal(res.status, 200);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        const events = sseEvents(res.body);
        const last = events.at(-1);
        assert.equal(last.event, 'error');
        const data = JSON.parse(last.data);
        assert.equal(data.type, 'error');
        assert.equal(typeof data.error.type, 'string');
        assert.equal(typeof data.error.message, 'string');
        assert.ok(!res.body.includes('[DONE]'), 'no [DONE] in an Anthropic stream');
        assert.ok(res.body.endsWith('\n\n'));
    });

    test('cut stream ends with error event', async () => {
        await mock.reset();
        await mock.queue({ text: MOCK_TEXT, chunks: 4, cut_after_chunks: 2 });
        const res = await postJson(`${gateway.url}/v1/messages`, {
            model: 'oai-chat', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }],
        }, headers);
        assert.equal(res.status, 200);
        const events = sseEvents(res.body);
        assert.equal(events[0].event, 'message_start');
        assert.equal(events.at(-1).event, 'error');
        assert.equal(JSON.parse(events.at(-1).data).error.type, 'api_error');
        assert.ok(!events.some((e) => e.event === 'message_stop'));
    });

    test('stream 429 before first byte is JSON', async () => {
        await mock.reset();
        await mock.queue({ status: 429 });
        const res = await postJson(`${gateway.url}/v1/messages`, {
            model: 'oai-chat', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }],
        }, headers);
        assert.equal(res.status, 429);
        assert.match(String(res.headers['content-type']), /application\/json/);
        assert.equal(res.json().error.type, 'rate_limit_error');
    });

    test('count_tokens needs anthropic deployment', async () => {
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, {
            model: 'oai-chat', messages: [{ role: 'user', content: 'hi' }],
        }, headers);
        assert.equal(res.status, 400);
        assert.equal(res.json().type, 'error');
        assert.match(res.json().error.message, /count_tokens needs an Anthropic deployment/);
        const reqs = await mock.requests();
        assert.ok(!reqs.some((r) => r.path.includes('count_tokens')), 'nothing was sent upstream');
    });

    test('agent request converts for openai family', async () => {
        await mock.reset();
        const res = await postJson(`${gateway.url}/v1/messages`, agentRequest('oai-chat'), headers);
        assert.equal(res.status, 200, res.body);
        const body = await lastMockBody();
        assert.equal(body.tools.length, 30);
        assert.equal(body.messages[0].role, 'system');
        assert.equal(body.messages[0].content, 'You are a coding agent working in a C repository.\nFollow the house style.');
        assert.equal(body.messages.filter((m) => m.role === 'tool').length, 12);
        assert.equal(body.user, 'agent-user-7');
        assert.ok(!('thinking' in body), 'thinking is dropped for an OpenAI-compatible family');
        assert.ok(!JSON.stringify(body).includes('cache_control'), 'cache_control is dropped');
    });
});

// ---------------------------------------------------------------------------------------------
// Native path: an anthropic/ deployment on the mock's Anthropic wire format.

// Replaces what legitimately differs between two answers of the mock: model and message ids.
function normaliseNative(text) {
    return text.replace(/"model":"[^"]*"/g, '"model":"M"').replace(/msg_[A-Za-z0-9_-]+/g, 'msg_X');
}

describe('native path', () => {
    const opts = () => testOptions(nativeWhy);
    const headers = { 'x-api-key': MASTER_KEY };

    test('native non-stream', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const request = { model: 'claude-native', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
        const res = await postJson(`${gateway.url}/v1/messages`, request, headers);
        assert.equal(res.status, 200, res.body);
        const direct = await postJson(`${mock.url}/v1/messages`, { ...request, model: 'claude-sonnet-4-5' });
        assert.equal(res.json().model, 'claude-native');
        assert.equal(normaliseNative(res.body), normaliseNative(direct.body));

        for (const sdk of SDKS) {
            const msg = await clientFor(sdk).messages.create(request);
            assert.equal(msg.model, 'claude-native');
            assert.equal(msg.type, 'message');
            assert.ok(msg.content.length > 0);
        }
    });

    test('native stream byte-faithful', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const request = { model: 'claude-native', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] };
        const res = await postJson(`${gateway.url}/v1/messages`, request, headers);
        assert.equal(res.status, 200, res.body);
        const direct = await postJson(`${mock.url}/v1/messages`, { ...request, model: 'claude-sonnet-4-5' });
        assert.equal(direct.status, 200);
        assert.ok(res.body.includes('"model":"claude-native"'), 'message_start names the requested model');
        assert.equal(normaliseNative(res.body), normaliseNative(direct.body));
        assert.ok(!res.body.includes('[DONE]'));

        for (const sdk of SDKS) {
            const types = [];
            for await (const ev of await clientFor(sdk).messages.create(request)) {
                types.push(ev.type);
            }
            checkEventOrder(types);
        }
    });

    // Both header spellings reach the gateway's key check: the SDK lines differ here.
    test('sdk lines send different auth headers', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const request = { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
        for (const sdk of SDKS) {
            const Anthropic = sdk.load();
            await new Anthropic({ apiKey: 'sk-probe', baseURL: mock.url, maxRetries: 0 }).messages.create(request);
        }
        const reqs = await mock.requests();
        assert.equal(reqs.length, 2);
        assert.equal(reqs[0].headers.authorization, 'Bearer sk-probe');
        assert.equal(reqs[0].headers['x-api-key'], undefined);
        assert.equal(reqs[1].headers['x-api-key'], 'sk-probe');
        assert.equal(reqs[1].headers.authorization, undefined);
    });

    // sluice-mock counts ceil(bytes of system and message text / 4) input tokens.
    const countRequest = {
        model: 'claude-native',
        system: 'Count these.',
        messages: [{ role: 'user', content: 'How many tokens does this sentence take?' }],
    };
    const countExpected = Math.ceil(('Count these.'.length + 40) / 4);

    test('count_tokens forwarded natively', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const text = JSON.stringify(countRequest);
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, text, headers);
        assert.equal(res.status, 200, res.body);
        const direct = await postJson(`${mock.url}/v1/messages/count_tokens`, {
            ...countRequest, model: 'claude-sonnet-4-5',
        });
        assert.equal(direct.status, 200, direct.body);
        assert.equal(res.body, direct.body, 'the count passes through unchanged');
        assert.deepEqual(res.json(), { input_tokens: countExpected });
        const reqs = await mock.requests();
        assert.match(reqs[0].path, /^\/v1\/messages\/count_tokens$/);
        assert.equal(reqs[0].body, text.replace('"model":"claude-native"', '"model":"claude-sonnet-4-5"'));
    });

    test('count_tokens through both sdk lines', opts(), async () => {
        failIfMissing(nativeWhy);
        for (const sdk of SDKS) {
            await mock.reset();
            const count = await clientFor(sdk).messages.countTokens(countRequest);
            assert.equal(count.input_tokens, countExpected, sdk.name);
            const body = await lastMockBody();
            assert.equal(body.model, 'claude-sonnet-4-5', sdk.name);
            assert.equal(body.messages[0].content, countRequest.messages[0].content, sdk.name);
        }
    });

    test('count_tokens on openai deployment is 400 for sdks', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        for (const sdk of SDKS) {
            await assert.rejects(
                clientFor(sdk).messages.countTokens({ ...countRequest, model: 'oai-chat' }),
                (err) => {
                    assert.equal(err.status, 400, sdk.name);
                    assert.equal(err.error.type, 'error', sdk.name);
                    assert.equal(err.error.error.type, 'invalid_request_error', sdk.name);
                    assert.match(err.error.error.message, /count_tokens needs an Anthropic deployment/);
                    return true;
                });
        }
        assert.equal((await mock.requests()).length, 0, 'nothing was sent upstream');
    });

    test('count_tokens provider error keeps status', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        await mock.queue({ route: 'count_tokens', status: 429 });
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, countRequest, headers);
        assert.equal(res.status, 429, res.body);
        assert.equal(res.json().type, 'error');
        assert.equal(res.json().error.type, 'rate_limit_error');
    });

    test('count_tokens body without messages is 400', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, { model: 'claude-native' }, headers);
        assert.equal(res.status, 400, res.body);
        assert.equal(res.json().error.type, 'invalid_request_error');
        assert.equal((await mock.requests()).length, 0, 'nothing was sent upstream');
    });

    test('anthropic headers reach mock, others not', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const request = { model: 'claude-native', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
        const res = await postJson(`${gateway.url}/v1/messages`, request, {
            ...headers,
            'anthropic-beta': 'x,y',
            'anthropic-version': '2024-01-01',
            'x-foo': 'bar',
        });
        assert.equal(res.status, 200, res.body);
        const [req] = await mock.requests();
        assert.equal(req.headers['anthropic-beta'], 'x,y');
        assert.equal(req.headers['anthropic-version'], '2024-01-01');
        assert.equal(req.headers['x-foo'], undefined);
    });

    test('oversized anthropic-beta is 400', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, countRequest, {
            ...headers, 'anthropic-beta': 'b'.repeat(5000),
        });
        assert.equal(res.status, 400, res.body);
        assert.equal(res.json().error.type, 'invalid_request_error');
        assert.match(res.json().error.message, /anthropic-beta header is longer than 4096 bytes/);
        assert.equal((await mock.requests()).length, 0, 'nothing was sent upstream');
    });

    test('repeated anthropic-beta lines are joined', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const res = await postJson(`${gateway.url}/v1/messages/count_tokens`, countRequest, {
            ...headers, 'anthropic-beta': ['a', 'b'],
        });
        assert.equal(res.status, 200, res.body);
        const [req] = await mock.requests();
        assert.equal(req.headers['anthropic-beta'], 'a,b');
        assert.equal(req.headers['anthropic-version'], '2023-06-01', 'the default version');
    });

    test('native agent request unchanged', opts(), async () => {
        failIfMissing(nativeWhy);
        await mock.reset();
        const text = JSON.stringify(agentRequest('claude-native'));
        const res = await postJson(`${gateway.url}/v1/messages`, text, headers);
        assert.equal(res.status, 200, res.body);
        const reqs = await mock.requests();
        assert.equal(reqs.length, 1);
        assert.match(reqs[0].path, /\/v1\/messages$/);
        assert.equal(reqs[0].body, text.replace('"model":"claude-native"', '"model":"claude-sonnet-4-5"'));
        assert.ok(!String(reqs[0].headers['x-api-key'] || '').includes(MASTER_KEY));
    });
});
