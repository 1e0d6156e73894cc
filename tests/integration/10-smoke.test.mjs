// SPDX-License-Identifier: Apache-2.0
// Smoke tests: the official OpenAI Node SDK talks to sluice-gateway, which forwards to
// sluice-mock. Covers the answer and usage, model name rewriting, upstream auth and extra
// headers, both route spellings, /models, health routes, x-litellm-call-id and the access log.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, httpRequest, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-smoke-7f3a9c';
const UPSTREAM_KEY = 'sk-upstream-smoke-41b2d8';
// Markers that must reach the mock but never the gateway's stdout.
const PROMPT_MARKER = 'prompt-marker-umbrella-quartz';
const COMPLETION_MARKER = 'completion-marker-violet-harbor';

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: team-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: os.environ/SMOKE_UPSTREAM_KEY
    api_base: ${mock.url}/v1
    extra_headers:
      x-team: alpha
      x-trace-tag: smoke-run
  model_info:
    id: team-chat-deployment-1
- model_name: second-group
  litellm_params:
    model: openai/gpt-4o
    api_key: os.environ/SMOKE_UPSTREAM_KEY
    api_base: ${mock.url}/v1
general_settings:
  master_key: os.environ/SMOKE_MASTER_KEY
`,
        env: { SMOKE_UPSTREAM_KEY: UPSTREAM_KEY, SMOKE_MASTER_KEY: MASTER_KEY },
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

const auth = () => ({ authorization: `Bearer ${MASTER_KEY}` });

test('sdk chat returns mock answer', async () => {
    await mock.reset();
    await mock.queue({ text: 'The sky is blue today.', usage: { prompt_tokens: 11, completion_tokens: 7 } });
    const res = await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: 'What colour is the sky?' }],
    });
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].message.content, 'The sky is blue today.');
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.prompt_tokens, 11);
    assert.equal(res.usage.completion_tokens, 7);
    assert.equal(res.usage.total_tokens, 18);
});

test('sdk chat response model is group name', async () => {
    await mock.reset();
    const res = await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.model, 'team-chat');
});

test('upstream gets provider model name', async () => {
    await mock.reset();
    await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: 'Name a colour' }],
        temperature: 0.25,
    });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].method, 'POST');
    assert.match(reqs[0].path, /\/chat\/completions$/);
    const body = JSON.parse(reqs[0].body);
    assert.equal(body.model, 'gpt-4o-mini');
    assert.deepEqual(body.messages, [{ role: 'user', content: 'Name a colour' }]);
    assert.equal(body.temperature, 0.25);
});

test('upstream gets deployment key only', async () => {
    await mock.reset();
    await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: 'hi' }],
    });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    for (const [name, value] of Object.entries(reqs[0].headers)) {
        assert.ok(!String(value).includes(MASTER_KEY), `upstream header ${name} carries the client key`);
    }
    assert.ok(!reqs[0].body.includes(MASTER_KEY), 'upstream body carries the client key');
});

test('extra headers reach upstream', async () => {
    await mock.reset();
    await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: 'hi' }],
    });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers['x-team'], 'alpha');
    assert.equal(reqs[0].headers['x-trace-tag'], 'smoke-run');
});

test('client headers not forwarded', async () => {
    await mock.reset();
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), {
        ...auth(),
        'x-client-private': 'do-not-forward',
    });
    assert.equal(res.status, 200, res.body);
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers['x-client-private'], undefined);
});

test('chat route without v1 prefix', async () => {
    await mock.reset();
    await mock.queue({ text: 'Short route works.' });
    const res = await postJson(`${gateway.url}/chat/completions`, chatBody('team-chat'), auth());
    assert.equal(res.status, 200, res.body);
    const body = res.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'team-chat');
    assert.equal(body.choices[0].message.content, 'Short route works.');
});

test('proxied response model headers', async () => {
    await mock.reset();
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), auth());
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-group'], 'team-chat');
    assert.equal(res.headers['x-litellm-model-id'], 'team-chat-deployment-1');
    assert.ok(String(res.headers['x-litellm-model-api-base']).startsWith(mock.url),
        `x-litellm-model-api-base: ${res.headers['x-litellm-model-api-base']}`);
});

for (const route of ['/v1/models', '/models']) {
    test(`models list on ${route}`, async () => {
        const res = await httpRequest(gateway.url + route, { headers: auth() });
        assert.equal(res.status, 200, res.body);
        const body = res.json();
        assert.equal(body.object, 'list');
        assert.deepEqual(body.data.map((m) => m.id).sort(), ['second-group', 'team-chat']);
        for (const entry of body.data) {
            assert.equal(entry.object, 'model');
            assert.equal(entry.created, 1677610602);
            assert.equal(entry.owned_by, 'openai');
        }
    });
}

test('sdk models list', async () => {
    const ids = [];
    for await (const m of client().models.list()) {
        ids.push(m.id);
    }
    assert.deepEqual(ids.sort(), ['second-group', 'team-chat']);
});

for (const route of ['/health/liveliness', '/health/liveness']) {
    test(`health ${route} without key`, async () => {
        const res = await httpRequest(gateway.url + route);
        assert.equal(res.status, 200, res.body);
        assert.equal(res.json(), "I'm alive!");
    });
}

test('health readiness without key', async () => {
    const res = await httpRequest(`${gateway.url}/health/readiness`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().status, 'healthy');
});

test('call id on every response', async () => {
    const responses = [
        await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), auth()),
        await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), auth()),
        await httpRequest(`${gateway.url}/v1/models`, { headers: auth() }),
        await httpRequest(`${gateway.url}/health/liveliness`),
        await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat')),
        await postJson(`${gateway.url}/v1/chat/completions`, chatBody('no-such-model'), auth()),
    ];
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 401, 400]);
    const ids = responses.map((r) => r.headers['x-litellm-call-id']);
    for (const id of ids) {
        assert.equal(typeof id, 'string', `x-litellm-call-id missing in ${JSON.stringify(ids)}`);
        assert.ok(id.length >= 8, `x-litellm-call-id too short: ${id}`);
    }
    assert.equal(new Set(ids).size, ids.length, `call ids not unique: ${ids}`);
});

test('call id not taken from client', async () => {
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), {
        ...auth(),
        'x-litellm-call-id': 'client-chosen-id',
    });
    assert.equal(res.status, 200, res.body);
    assert.notEqual(res.headers['x-litellm-call-id'], 'client-chosen-id');
});

test('access log one line per request', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) {
        const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), auth());
        assert.equal(res.status, 200, res.body);
        ids.push(res.headers['x-litellm-call-id']);
    }
    const denied = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'));
    assert.equal(denied.status, 401);
    ids.push(denied.headers['x-litellm-call-id']);

    for (const id of ids) {
        await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    }
    for (const id of ids) {
        const lines = gateway.accessLogs().filter((e) => e.request_id === id);
        assert.equal(lines.length, 1, `access lines for ${id}: ${JSON.stringify(lines)}`);
    }
});

test('access log fields on chat', async () => {
    await mock.reset();
    await mock.queue({ text: 'Logged answer.', usage: { prompt_tokens: 13, completion_tokens: 5 } });
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'), auth());
    assert.equal(res.status, 200, res.body);
    const id = res.headers['x-litellm-call-id'];
    const line = await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    assert.equal(line.method, 'POST');
    assert.equal(line.path, '/v1/chat/completions');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms >= 0);
    assert.equal(line.model_group, 'team-chat');
    // The spec leaves open whether `model` carries the provider prefix.
    assert.match(String(line.model), /^(openai\/)?gpt-4o-mini$/);
    assert.equal(line.provider, 'openai');
    assert.equal(line.stream, false);
    assert.equal(line.prompt_tokens, 13);
    assert.equal(line.completion_tokens, 5);
    assert.ok(line.error_type === undefined || line.error_type === null,
        `error_type on a success: ${line.error_type}`);
});

test('access log error type on failure', async () => {
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('team-chat'));
    assert.equal(res.status, 401);
    const id = res.headers['x-litellm-call-id'];
    const line = await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);
    assert.equal(line.status, 401);
    assert.equal(typeof line.error_type, 'string');
});

test('stdout has no prompt completion or key', async () => {
    await mock.reset();
    await mock.queue({ text: `Here it is: ${COMPLETION_MARKER}` });
    const { data, response } = await client().chat.completions.create({
        model: 'team-chat',
        messages: [{ role: 'user', content: `Please repeat ${PROMPT_MARKER}` }],
    }).withResponse();
    assert.equal(data.choices[0].message.content, `Here it is: ${COMPLETION_MARKER}`);
    const reqs = await mock.requests();
    assert.ok(reqs[0].body.includes(PROMPT_MARKER), 'the prompt reached the mock');
    const id = response.headers.get('x-litellm-call-id');
    await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 3000);

    const out = gateway.stdout();
    assert.ok(!out.includes(PROMPT_MARKER), 'gateway stdout contains the prompt');
    assert.ok(!out.includes(COMPLETION_MARKER), 'gateway stdout contains the completion');
    assert.ok(!out.includes(MASTER_KEY), 'gateway stdout contains the master key');
    assert.ok(!out.includes(UPSTREAM_KEY), 'gateway stdout contains the upstream key');
});

test('seed config serves unchanged', async () => {
    await mock.reset();
    await mock.queue({ text: 'Seed config answer.' });
    const seed = await startGateway({
        config: `
model_list:
- model_name: gpt-4o-mini
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: os.environ/OPENAI_API_KEY
    api_base: ${mock.url}/v1
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
litellm_settings:
  callbacks:
  - prometheus
`,
        env: { OPENAI_API_KEY: 'sk-seed-upstream', LITELLM_MASTER_KEY: 'sk-seed-master' },
    });
    try {
        const oai = new OpenAI({ apiKey: 'sk-seed-master', baseURL: `${seed.url}/v1`, maxRetries: 0 });
        const res = await oai.chat.completions.create({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'hi' }],
        });
        assert.equal(res.choices[0].message.content, 'Seed config answer.');
        assert.equal(res.model, 'gpt-4o-mini');
        const reqs = await mock.requests();
        assert.equal(reqs.length, 1);
        assert.equal(reqs[0].headers.authorization, 'Bearer sk-seed-upstream');
        assert.equal(JSON.parse(reqs[0].body).model, 'gpt-4o-mini');
    } finally {
        await seed.stop();
    }
});

test('sigterm stops gateway with 0', async () => {
    const gw = await startGateway({
        config: `
model_list:
- model_name: stop-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_base: ${mock.url}/v1
`,
    });
    const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody('stop-chat'));
    assert.equal(res.status, 200, res.body);
    const started = Date.now();
    const code = await gw.stop('SIGTERM', 10000);
    assert.equal(code, 0, `exit after SIGTERM (${Date.now() - started} ms)\n${gw.describe()}`);
});
