// SPDX-License-Identifier: Apache-2.0
// The Azure OpenAI family end to end: the official OpenAI Node SDK talks to sluice-gateway,
// which calls sluice-mock's Azure deployment paths. Covers the URL (deployment and
// api-version), the api-key header, streams, and content-filter refusals, which must reach
// the client as 400 content_policy_violation.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { onlyUpstreamRequest, startMockAndGateway, stopMockAndGateway } from './lib/family.mjs';
import { needs } from './lib/harness.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-azure-77b2';
const UPSTREAM_KEY = 'azure-upstream-key-5c90';
const DEPLOYMENT = 'gpt-4o-prod';
const DEFAULT_VERSION_DEPLOYMENT = 'gpt-4o-mini-eu';

let mock;
let gateway;

before(async () => {
    ({ mock, gateway } = await startMockAndGateway({
        gatewayOptions: (mockUrl) => ({
            config: `
model_list:
- model_name: azure-chat
  litellm_params:
    model: azure/${DEPLOYMENT}
    api_key: os.environ/AZURE_TEST_KEY
    api_base: ${mockUrl}
    api_version: "2024-10-21"
- model_name: azure-default-version
  litellm_params:
    model: azure/${DEFAULT_VERSION_DEPLOYMENT}
- model_name: azure-embed
  litellm_params:
    model: azure/embed-small
    api_key: os.environ/AZURE_TEST_KEY
    api_base: ${mockUrl}
    api_version: "2024-10-21"
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: os.environ/AZURE_TEST_MASTER_KEY
`,
            env: {
                AZURE_TEST_KEY: UPSTREAM_KEY,
                AZURE_TEST_MASTER_KEY: MASTER_KEY,
                AZURE_API_BASE: mockUrl,
                AZURE_API_KEY: 'azure-env-key-1d4e',
                AZURE_API_VERSION: '',
            },
        }),
    }));
});

after(() => stopMockAndGateway({ mock, gateway }));

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

const FILTER_ERROR = {
    error: {
        message: 'The response was filtered due to the prompt triggering Azure OpenAI\'s content '
            + 'management policy.',
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: {
            code: 'ResponsibleAIPolicyViolation',
            content_filter_result: {
                hate: { filtered: true, severity: 'high' },
                self_harm: { filtered: false, severity: 'safe' },
                sexual: { filtered: false, severity: 'safe' },
                violence: { filtered: false, severity: 'safe' },
            },
        },
    },
};

test('non-stream answer with api-version and api-key', async () => {
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, text: 'Hello from Azure.' });
    const res = await client().chat.completions.create({
        model: 'azure-chat',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 20,
    });
    assert.equal(res.model, 'azure-chat');
    assert.equal(res.choices[0].message.content, 'Hello from Azure.');
    assert.equal(res.choices[0].finish_reason, 'stop');

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path,
        `/openai/deployments/${DEPLOYMENT}/chat/completions?api-version=2024-10-21`);
    assert.equal(up.headers['api-key'], UPSTREAM_KEY);
    assert.equal(up.headers.authorization, undefined);
    assert.equal(up.json.model, DEPLOYMENT);
    assert.equal(up.json.max_tokens, 20);
});

test('api_base, key and default version from the environment', async () => {
    await mock.reset();
    await mock.queue({ model: DEFAULT_VERSION_DEPLOYMENT, text: 'Default version.' });
    const res = await client().chat.completions.create({
        model: 'azure-default-version',
        messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(res.choices[0].message.content, 'Default version.');

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, `/openai/deployments/${DEFAULT_VERSION_DEPLOYMENT}/chat/completions`
        + '?api-version=2025-02-01-preview');
    assert.equal(up.headers['api-key'], 'azure-env-key-1d4e');
});

test('stream answer', async () => {
    const text = 'Streaming through Azure works.';
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, text, chunks: 3 });
    const stream = await client().chat.completions.create({
        model: 'azure-chat',
        messages: [{ role: 'user', content: 'Stream please.' }],
        stream: true,
        stream_options: { include_usage: true },
    });
    let content = '';
    const finishes = [];
    let usage = null;
    for await (const chunk of stream) {
        assert.equal(chunk.model, 'azure-chat');
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

    const up = await onlyUpstreamRequest(mock);
    assert.match(up.path, /\/chat\/completions\?api-version=2024-10-21$/);
    assert.equal(up.json.stream, true);
});

test('content filter error is a 400 content_policy_violation', async () => {
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, status: 400, body: FILTER_ERROR });
    await assert.rejects(
        client().chat.completions.create({
            model: 'azure-chat',
            messages: [{ role: 'user', content: 'Something filtered.' }],
        }),
        (err) => {
            assert.equal(err.status, 400);
            assert.equal(err.error.type, 'content_policy_violation');
            assert.equal(err.error.code, '400');
            assert.equal(err.error.message, FILTER_ERROR.error.message);
            return true;
        },
    );
});

test('content filter error on a stream is a 400 before any chunk', async () => {
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, status: 400, body: FILTER_ERROR });
    await assert.rejects(
        client().chat.completions.create({
            model: 'azure-chat',
            messages: [{ role: 'user', content: 'Something filtered.' }],
            stream: true,
        }),
        (err) => {
            assert.equal(err.status, 400);
            assert.equal(err.error.type, 'content_policy_violation');
            return true;
        },
    );
});

test('content_filter finish in a stream ends it with the error', async () => {
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, text: 'Partial answer', finish_reason: 'content_filter' });
    const stream = await client().chat.completions.create({
        model: 'azure-chat',
        messages: [{ role: 'user', content: 'Something filtered later.' }],
        stream: true,
    });
    let content = '';
    await assert.rejects(
        (async () => {
            for await (const chunk of stream) {
                for (const choice of chunk.choices) {
                    content += choice.delta.content || '';
                }
            }
        })(),
        (err) => {
            assert.equal(err.error.type, 'content_policy_violation');
            assert.match(err.error.message, /content_filter/);
            return true;
        },
    );
    assert.equal(content, 'Partial answer');
});

test('content_filter finish without a stream is a 400', async () => {
    await mock.reset();
    await mock.queue({ model: DEPLOYMENT, text: 'Withheld', finish_reason: 'content_filter' });
    await assert.rejects(
        client().chat.completions.create({
            model: 'azure-chat',
            messages: [{ role: 'user', content: 'Something filtered in the answer.' }],
        }),
        (err) => {
            assert.equal(err.status, 400);
            assert.equal(err.error.type, 'content_policy_violation');
            assert.match(err.error.message, /content_filter/);
            return true;
        },
    );
});

test('other Azure errors stay OpenAI-shaped', async () => {
    await mock.reset();
    await mock.queue({
        model: DEPLOYMENT,
        status: 429,
        headers: { 'retry-after': '3' },
        body: { error: { code: '429', message: 'Rate limit is exceeded. Try again in 3 seconds.' } },
    });
    await assert.rejects(
        client().chat.completions.create({
            model: 'azure-chat',
            messages: [{ role: 'user', content: 'Hi' }],
        }),
        (err) => {
            assert.equal(err.status, 429);
            assert.equal(err.error.message, 'Rate limit is exceeded. Try again in 3 seconds.');
            assert.equal(err.error.type, 'rate_limit_error');
            return true;
        },
    );
});

test('embeddings use the deployment embeddings path', async () => {
    await mock.reset();
    const res = await client().embeddings.create({ model: 'azure-embed', input: 'hello' });
    assert.equal(res.object, 'list');
    assert.equal(res.model, 'azure-embed');
    assert.equal(res.data.length, 1);

    const up = await onlyUpstreamRequest(mock);
    assert.equal(up.path, '/openai/deployments/embed-small/embeddings?api-version=2024-10-21');
    assert.equal(up.headers['api-key'], UPSTREAM_KEY);
    assert.equal(up.json.model, 'embed-small');
});
