// SPDX-License-Identifier: Apache-2.0
// /v1/messages in front of the Bedrock, Gemini and Azure families. The official Anthropic Node
// SDK, at both major lines, sends to sluice-gateway, which converts the Anthropic request to the
// OpenAI shape and passes it to the family (Converse with SigV4, generateContent, an Azure
// deployment path) on sluice-mock. The family's response is converted back to an Anthropic
// message or event stream. The tests come from a table with one row per family, so the name of
// a failing test names its family and SDK line. Each pair covers text, a streamed text, and a
// tool call with its tool_result, whole and streamed.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { IN_CI, needs, startGateway, startMock } from './lib/harness.mjs';

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
        console.log(`Bail out! 77-messages-families: ${sdkWhy}`);
        process.exit(1);
    }
    console.log(`1..0 # SKIP 77-messages-families: ${sdkWhy}`);
    process.exit(77);
}

const MASTER_KEY = 'sk-master-families-3b7d';
const AWS_ACCESS_KEY = 'AKIDFAMILIESTEST';
const AWS_SECRET_KEY = 'families-test-secret/7c+2';
const GEMINI_KEY = 'AIza-families-upstream-61e0';
const AZURE_KEY = 'azure-families-key-90d3';

const BEDROCK_MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const GEMINI_MODEL = 'gemini-2.0-flash';
const AZURE_DEPLOYMENT = 'gpt-4o-families';

const MOCK_TEXT = 'Tides turn at dawn near the old pier.';
const SYSTEM = 'Answer in one sentence.';
const QUESTION = 'When do tides turn?';
const TOOL_RESULT = '4 degrees, rain';

const WEATHER_TOOL = {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const TOOL_INPUT = { city: 'Oslo' };

let mock;
let gateway;

before(async () => {
    mock = await startMock({
        env: {
            SLUICE_MOCK_AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY,
            SLUICE_MOCK_AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY,
        },
    });
    gateway = await startGateway({
        config: `
model_list:
- model_name: fam-bedrock
  litellm_params:
    model: bedrock/${BEDROCK_MODEL}
    aws_access_key_id: ${AWS_ACCESS_KEY}
    aws_secret_access_key: os.environ/FAMILIES_AWS_SECRET
    aws_region_name: us-east-1
    aws_bedrock_runtime_endpoint: ${mock.url}
- model_name: fam-gemini
  litellm_params:
    model: gemini/${GEMINI_MODEL}
    api_key: os.environ/FAMILIES_GEMINI_KEY
    api_base: ${mock.url}
- model_name: fam-azure
  litellm_params:
    model: azure/${AZURE_DEPLOYMENT}
    api_key: os.environ/FAMILIES_AZURE_KEY
    api_base: ${mock.url}
    api_version: "2024-10-21"
general_settings:
  master_key: ${MASTER_KEY}
`,
        env: {
            FAMILIES_AWS_SECRET: AWS_SECRET_KEY,
            FAMILIES_GEMINI_KEY: GEMINI_KEY,
            FAMILIES_AZURE_KEY: AZURE_KEY,
        },
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

// A Gemini response (whole, or one SSE event) whose only part is a functionCall.
function geminiFunctionCall() {
    return {
        candidates: [{
            content: { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: TOOL_INPUT } }] },
            finishReason: 'STOP',
            index: 0,
        }],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 5, totalTokenCount: 35 },
    };
}

// An OpenAI chat.completion with one tool call, as an Azure deployment sends it.
function azureToolCompletion() {
    return {
        id: 'chatcmpl-fam1',
        object: 'chat.completion',
        created: 1733000000,
        model: AZURE_DEPLOYMENT,
        choices: [{
            index: 0,
            message: {
                role: 'assistant',
                content: null,
                tool_calls: [{
                    id: 'call_az1', type: 'function',
                    function: { name: 'get_weather', arguments: JSON.stringify(TOOL_INPUT) },
                }],
            },
            finish_reason: 'tool_calls',
        }],
        usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 },
    };
}

// The same tool call as an OpenAI SSE stream, the arguments split across two chunks.
function azureToolStream() {
    const head = { id: 'chatcmpl-fam2', object: 'chat.completion.chunk', created: 1733000000, model: AZURE_DEPLOYMENT };
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    return chunk({ role: 'assistant', content: null })
        + chunk({ tool_calls: [{ index: 0, id: 'call_az2', type: 'function', function: { name: 'get_weather', arguments: '' } }] })
        + chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })
        + chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] })
        + chunk({}, 'tool_calls')
        + `data: ${JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 } })}\n\n`
        + 'data: [DONE]\n\n';
}

// One row per family. `usage` is the usage the client must see for the text request (SYSTEM plus
// QUESTION, with MOCK_TEXT as the reply). Bedrock's mock computes it (42 text bytes / 4 rounded
// up, and 8 words), and the other two mocks return the scripted numbers. `toolScript` and
// `toolStreamScript` make the family reply with a get_weather call, and `toolId` checks the id
// the client sees. `checkTextRequest` and `checkToolResult` check the request in the family's
// wire shape, for the text request and for the turn that carries the tool_result.
const FAMILIES = [
    {
        name: 'bedrock',
        group: 'fam-bedrock',
        textScript: { model: BEDROCK_MODEL, text: MOCK_TEXT },
        usage: { input: 11, output: 8 },
        toolScript: { model: BEDROCK_MODEL, text: JSON.stringify(TOOL_INPUT), finish_reason: 'tool_use' },
        toolStreamScript: {
            model: BEDROCK_MODEL, text: JSON.stringify(TOOL_INPUT), finish_reason: 'tool_use', chunks: 3,
        },
        toolId: (id) => assert.equal(id, 'tooluse_mock1'),
        checkPath(path, stream) {
            const encoded = encodeURIComponent(BEDROCK_MODEL);
            assert.equal(path, `/model/${encoded}/${stream ? 'converse-stream' : 'converse'}`);
        },
        checkTextRequest(body) {
            assert.deepEqual(body.system, [{ text: SYSTEM }]);
            assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: QUESTION }] }]);
            assert.equal(body.inferenceConfig.maxTokens, 64);
        },
        checkToolResult(body, id) {
            assert.deepEqual(body.messages, [
                { role: 'user', content: [{ text: 'Weather in Oslo?' }] },
                { role: 'assistant', content: [{ toolUse: { toolUseId: id, name: 'get_weather', input: TOOL_INPUT } }] },
                { role: 'user', content: [{ toolResult: { toolUseId: id, content: [{ text: TOOL_RESULT }] } }] },
            ]);
            assert.equal(body.toolConfig.tools[0].toolSpec.name, 'get_weather');
        },
    },
    {
        name: 'gemini',
        group: 'fam-gemini',
        textScript: { model: GEMINI_MODEL, text: MOCK_TEXT, usage: { prompt_tokens: 13, completion_tokens: 17 } },
        usage: { input: 13, output: 17 },
        toolScript: { model: GEMINI_MODEL, body: geminiFunctionCall() },
        toolStreamScript: {
            model: GEMINI_MODEL,
            content_type: 'text/event-stream',
            body: `data: ${JSON.stringify(geminiFunctionCall())}\r\n\r\n`,
        },
        toolId: (id) => assert.ok(typeof id === 'string' && id.length > 0, `tool_use id: ${id}`),
        checkPath(path, stream) {
            assert.equal(path, stream ? `/v1beta/models/${GEMINI_MODEL}:streamGenerateContent?alt=sse`
                : `/v1beta/models/${GEMINI_MODEL}:generateContent`);
        },
        checkTextRequest(body) {
            assert.deepEqual(body.systemInstruction, { parts: [{ text: SYSTEM }] });
            assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: QUESTION }] }]);
            assert.equal(body.generationConfig.maxOutputTokens, 64);
        },
        checkToolResult(body) {
            assert.deepEqual(body.contents, [
                { role: 'user', parts: [{ text: 'Weather in Oslo?' }] },
                { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: TOOL_INPUT } }] },
                { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { content: TOOL_RESULT } } }] },
            ]);
            assert.equal(body.tools[0].functionDeclarations[0].name, 'get_weather');
        },
    },
    {
        name: 'azure',
        group: 'fam-azure',
        textScript: { model: AZURE_DEPLOYMENT, text: MOCK_TEXT, usage: { prompt_tokens: 19, completion_tokens: 23 } },
        usage: { input: 19, output: 23 },
        toolScript: { model: AZURE_DEPLOYMENT, body: azureToolCompletion() },
        toolStreamScript: { model: AZURE_DEPLOYMENT, body: azureToolStream(), content_type: 'text/event-stream' },
        toolId: (id) => assert.match(id, /^call_az[12]$/),
        checkPath(path) {
            assert.equal(path, `/openai/deployments/${AZURE_DEPLOYMENT}/chat/completions?api-version=2024-10-21`);
        },
        checkTextRequest(body) {
            assert.deepEqual(body.messages, [
                { role: 'system', content: SYSTEM },
                { role: 'user', content: QUESTION },
            ]);
            assert.equal(body.max_tokens, 64);
        },
        checkToolResult(body, id) {
            assert.deepEqual(body.messages, [
                { role: 'user', content: 'Weather in Oslo?' },
                {
                    role: 'assistant',
                    content: null,
                    tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(TOOL_INPUT) } }],
                },
                { role: 'tool', tool_call_id: id, content: TOOL_RESULT },
            ]);
        },
    },
];

const SDKS = [
    { name: 'sdk1', Anthropic: () => Anthropic1 },
    { name: 'sdk0', Anthropic: () => Anthropic0 },
];

function clientFor(sdk) {
    const Anthropic = sdk.Anthropic();
    return new Anthropic({ apiKey: MASTER_KEY, baseURL: gateway.url, maxRetries: 0 });
}

async function onlyUpstreamRequest() {
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1, `upstream requests: ${JSON.stringify(reqs).slice(0, 1000)}`);
    return { ...reqs[0], json: JSON.parse(reqs[0].body) };
}

// Checks the content of a message that carries one get_weather call: exactly one tool_use
// block with the parsed input, and no empty text block beside it. Returns the block.
function expectToolUse(family, content) {
    const tools = content.filter((b) => b.type === 'tool_use');
    assert.equal(tools.length, 1, `content: ${JSON.stringify(content)}`);
    assert.equal(tools[0].name, 'get_weather');
    assert.deepEqual(tools[0].input, TOOL_INPUT);
    family.toolId(tools[0].id);
    for (const block of content.filter((b) => b.type !== 'tool_use')) {
        assert.equal(block.type, 'text', `content: ${JSON.stringify(content)}`);
        assert.ok(block.text.length > 0, `an empty text block: ${JSON.stringify(content)}`);
    }
    return tools[0];
}

for (const family of FAMILIES) {
    for (const sdk of SDKS) {
        describe(`${family.name} via ${sdk.name}`, () => {
            test('non-stream text', async () => {
                await mock.reset();
                await mock.queue(family.textScript);
                const msg = await clientFor(sdk).messages.create({
                    model: family.group,
                    max_tokens: 64,
                    system: SYSTEM,
                    messages: [{ role: 'user', content: QUESTION }],
                });
                assert.equal(msg.type, 'message');
                assert.equal(msg.role, 'assistant');
                assert.equal(msg.model, family.group);
                assert.match(msg.id, /^msg_/);
                assert.deepEqual(msg.content, [{ type: 'text', text: MOCK_TEXT }]);
                assert.equal(msg.stop_reason, 'end_turn');
                assert.equal(msg.usage.input_tokens, family.usage.input);
                assert.equal(msg.usage.output_tokens, family.usage.output);

                const up = await onlyUpstreamRequest();
                family.checkPath(up.path, false);
                family.checkTextRequest(up.json);
            });

            test('stream text event order', async () => {
                await mock.reset();
                await mock.queue({ ...family.textScript, chunks: 4 });
                const stream = await clientFor(sdk).messages.create({
                    model: family.group,
                    max_tokens: 64,
                    stream: true,
                    system: SYSTEM,
                    messages: [{ role: 'user', content: QUESTION }],
                });
                const types = [];
                let text = '';
                let stopReason = null;
                let usage = null;
                for await (const ev of stream) {
                    if (ev.type === 'ping') {
                        continue;
                    }
                    types.push(ev.type);
                    if (ev.type === 'message_start') {
                        assert.equal(ev.message.model, family.group);
                    } else if (ev.type === 'content_block_start') {
                        assert.equal(ev.content_block.type, 'text');
                        assert.equal(ev.index, 0);
                    } else if (ev.type === 'content_block_delta') {
                        assert.equal(ev.delta.type, 'text_delta');
                        assert.equal(ev.index, 0);
                        text += ev.delta.text;
                    } else if (ev.type === 'message_delta') {
                        stopReason = ev.delta.stop_reason;
                        usage = ev.usage;
                    }
                }
                assert.deepEqual(types, [
                    'message_start', 'content_block_start',
                    'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_delta',
                    'content_block_stop', 'message_delta', 'message_stop',
                ]);
                assert.equal(text, MOCK_TEXT);
                assert.equal(stopReason, 'end_turn');
                assert.equal(usage.input_tokens, family.usage.input);
                assert.equal(usage.output_tokens, family.usage.output);

                const up = await onlyUpstreamRequest();
                family.checkPath(up.path, true);
                family.checkTextRequest(up.json);
            });

            test('tool_use and tool_result', async () => {
                await mock.reset();
                await mock.queue(family.toolScript);
                const client = clientFor(sdk);
                const first = await client.messages.create({
                    model: family.group,
                    max_tokens: 64,
                    tools: [WEATHER_TOOL],
                    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
                });
                assert.equal(first.stop_reason, 'tool_use');
                const call = expectToolUse(family, first.content);

                await mock.reset();
                await mock.queue({ ...family.textScript, text: 'It is 4 degrees in Oslo.' });
                const second = await client.messages.create({
                    model: family.group,
                    max_tokens: 64,
                    tools: [WEATHER_TOOL],
                    messages: [
                        { role: 'user', content: 'Weather in Oslo?' },
                        { role: 'assistant', content: [call] },
                        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: TOOL_RESULT }] },
                    ],
                });
                assert.deepEqual(second.content, [{ type: 'text', text: 'It is 4 degrees in Oslo.' }]);
                assert.equal(second.stop_reason, 'end_turn');
                const up = await onlyUpstreamRequest();
                family.checkToolResult(up.json, call.id);
            });

            test('streamed tool_use', async () => {
                await mock.reset();
                await mock.queue(family.toolStreamScript);
                const final = await clientFor(sdk).messages.stream({
                    model: family.group,
                    max_tokens: 64,
                    tools: [WEATHER_TOOL],
                    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
                }).finalMessage();
                assert.equal(final.stop_reason, 'tool_use');
                expectToolUse(family, final.content);
            });
        });
    }
}
