// SPDX-License-Identifier: Apache-2.0
// The example configs of docs/routing.md, run as written except that each deployment's
// api_base points at a sluice-mock instance: OpenAI failing over to Anthropic, and two Azure
// deployments sharing one model group. The test fails when the page and the gateway disagree.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
    chatBody, needs, postJson, sleep, startGateway, startMock, startRedis,
} from './lib/harness.mjs';
import { pollUntil, redisCli } from './lib/limits.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'redis');

const YAML = (await import('yaml')).default;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MASTER_KEY = 'sk-master-examples-7d2e';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const TEXT = 'alpha beta gamma delta epsilon';

const started = [];
let redis;

after(async () => {
    for (const proc of started.reverse()) {
        await proc.stop();
    }
    if (redis) {
        await redis.stop();
    }
});

// Returns the parsed YAML block that follows `<!-- example: name -->` in docs/routing.md.
function example(name) {
    const page = fs.readFileSync(path.join(ROOT, 'docs/routing.md'), 'utf8');
    const marker = `<!-- example: ${name} -->`;
    const at = page.indexOf(marker);
    assert.ok(at >= 0, `docs/routing.md has no ${marker}`);
    const block = /```yaml\n([\s\S]*?)```/.exec(page.slice(at));
    assert.ok(block, `no yaml block after ${marker}`);
    return YAML.parse(block[1]);
}

// Starts a gateway on `config` after replacing each deployment's api_base by `bases[id]`.
async function startExample(config, bases, env) {
    if (!redis) {
        redis = await startRedis();
    }
    for (const d of config.model_list) {
        const base = bases[d.model_info.id];
        assert.ok(base, `no mock for deployment ${d.model_info.id}`);
        d.litellm_params.api_base = base;
    }
    const gateway = await startGateway({
        config: YAML.stringify(config),
        env: { LITELLM_MASTER_KEY: MASTER_KEY, REDIS_URL: redis.url, ...env },
    });
    started.push(gateway);
    return gateway;
}

async function mock() {
    const provider = await startMock();
    started.push(provider);
    return provider;
}

// Waits until Redis contains a cooldown of deployment `id`, then gives the message that
// announces it time to reach every worker.
async function cooledDown(id) {
    await pollUntil(() => redisCli(redis.port, 'EXISTS', `sluice:cooldown:until:${id}`) === '1',
        `a cooldown of ${id} in Redis`, 3000, 20);
    await sleep(200);
}

const chat = (gateway, model, extra = {}) => postJson(
    `${gateway.url}/v1/chat/completions`, chatBody(model, extra), AUTH);

test('openai to anthropic example fails over', async () => {
    const openai = await mock();
    const anthropic = await mock();
    const config = example('openai-to-anthropic');
    const gateway = await startExample(config, {
        'openai-gpt-4o': `${openai.url}/v1`,
        'anthropic-claude-sonnet': anthropic.url,
    }, { OPENAI_API_KEY: 'sk-openai-example', ANTHROPIC_API_KEY: 'sk-ant-example' });

    // Healthy: OpenAI responds.
    let res = await chat(gateway, 'gpt-4o');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'openai-gpt-4o');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '0');

    // OpenAI down: one retry, then Claude responds in OpenAI's shape.
    await openai.reset();
    await openai.queue({ status: 503, count: 2 });
    await anthropic.queue({ route: 'messages', text: TEXT });
    res = await chat(gateway, 'gpt-4o');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'anthropic-claude-sonnet');
    const body = res.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'claude-sonnet');
    assert.equal(body.choices[0].message.content, TEXT);
    assert.equal((await openai.requests()).length, 2);
    const sent = await anthropic.requests();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].path, '/v1/messages');
    assert.equal(JSON.parse(sent[0].body).model, 'claude-sonnet-4-5');

    // A request error is the client's: returned as is, no retry and no fallback.
    await openai.reset();
    await anthropic.reset();
    await openai.queue({ status: 400 });
    res = await chat(gateway, 'gpt-4o');
    assert.equal(res.status, 400, res.body);
    assert.equal((await openai.requests()).length, 1);
    assert.equal((await anthropic.requests()).length, 0);

    // A stream fails over before its first byte and arrives as OpenAI chunks.
    await openai.reset();
    await anthropic.reset();
    await openai.queue({ status: 500, count: 2 });
    await anthropic.queue({ route: 'messages', text: TEXT, chunks: 5 });
    const stream = await streamChat({
        url: `${gateway.url}/v1/chat/completions`,
        headers: AUTH,
        body: chatBody('gpt-4o', { stream: true }),
    });
    assert.equal(stream.status, 200, stream.raw);
    assert.equal(stream.headers['x-litellm-model-id'], 'anthropic-claude-sonnet');
    const text = stream.events.filter((e) => e.kind === 'chunk')
        .map((e) => (e.json.choices || []).map((c) => (c.delta && c.delta.content) || '').join(''))
        .join('');
    assert.equal(text, TEXT);
    assert.equal(stream.events.filter((e) => e.kind === 'error').length, 0, stream.raw);

    // That was the fourth failure this minute (allowed_fails: 3): OpenAI is cooling down and
    // the next request goes to Claude without calling it.
    await cooledDown('openai-gpt-4o');
    await openai.reset();
    await anthropic.reset();
    res = await chat(gateway, 'gpt-4o');
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-model-id'], 'anthropic-claude-sonnet');
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal((await openai.requests()).length, 0);
});

test('azure example balances and fails over', async () => {
    const east = await mock();
    const sweden = await mock();
    const config = example('azure-pair');
    const gateway = await startExample(config, {
        'azure-eastus': east.url,
        'azure-sweden': sweden.url,
    }, { AZURE_EASTUS_API_KEY: 'azure-key-east', AZURE_SWEDEN_API_KEY: 'azure-key-sweden' });

    // rpm 600 against 300: two thirds of the requests go to East US.
    const total = 600;
    for (let i = 0; i < total; i += 20) {
        const batch = await Promise.all(Array.from({ length: 20 }, () => chat(gateway, 'gpt-4o')));
        for (const res of batch) {
            assert.equal(res.status, 200, res.body);
            assert.ok(Number(res.headers['x-litellm-response-cost']) > 0,
                `base_model prices the call: ${res.headers['x-litellm-response-cost']}`);
        }
    }
    const eastCalls = (await east.requests()).length;
    const swedenCalls = (await sweden.requests()).length;
    assert.equal(eastCalls + swedenCalls, total);
    const share = eastCalls / total;
    assert.ok(Math.abs(share - 2 / 3) < 0.08, `East US took ${eastCalls} of ${total}`);
    const eastPath = (await east.requests())[0].path;
    assert.match(eastPath, /^\/openai\/deployments\/gpt-4o-eastus\/chat\/completions\?api-version=2024-10-21$/);

    // East US fails every call: clients still get 200, and once East US is cooling down
    // no request reaches it.
    await east.reset();
    await sweden.reset();
    await east.queue({ status: 500, count: 1000 });
    for (let i = 0; i < 20; i++) {
        const res = await chat(gateway, 'gpt-4o');
        assert.equal(res.status, 200, res.body);
        assert.equal(res.headers['x-litellm-model-id'], 'azure-sweden');
    }
    // allowed_fails: 3 lets the fourth failure in the minute start the cooldown.
    assert.ok((await east.requests()).length >= 4, 'East US was called until it cooled down');
    await cooledDown('azure-eastus');
    await east.reset();
    await sweden.reset();
    for (let i = 0; i < 20; i++) {
        const res = await chat(gateway, 'gpt-4o');
        assert.equal(res.status, 200, res.body);
        assert.equal(res.headers['x-litellm-model-id'], 'azure-sweden');
        assert.equal(res.headers['x-litellm-attempted-retries'], '0');
    }
    assert.equal((await east.requests()).length, 0, 'East US was called while cooling down');
    assert.equal((await sweden.requests()).length, 20);
});
