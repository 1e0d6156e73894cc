// SPDX-License-Identifier: Apache-2.0
// Wildcard model groups and virtual keys: a key's model list is checked against the name the
// client sent, not against the pattern group that serves it. Needs PostgreSQL and Redis for
// the keys.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chatBody, needs, postJson, startMock } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-wildcard-access-3f9a' });
let wild;
let node;

before(async () => {
    wild = await startMock();
    await stack.start();
    const models = `- model_name: "openai/*"
  litellm_params:
    model: "openai/*"
    api_key: sk-upstream-wildcard-access
    api_base: ${wild.url}/v1
  model_info:
    id: openai-any`;
    node = await stack.startNode({ config: stack.config({ models }) });
});

after(async () => {
    await stack.stop();
    await wild?.stop();
});

const chatAs = (key, model) => postJson(`${node.url}/v1/chat/completions`, chatBody(model),
    { authorization: `Bearer ${key}` });

function modelsOf(requests) {
    return requests.map((r) => JSON.parse(r.body).model);
}

test('key limited to one name', async () => {
    await wild.reset();
    const { key } = await stack.generate(node, { models: ['openai/gpt-4o-mini'] });
    const allowed = await chatAs(key, 'openai/gpt-4o-mini');
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(allowed.headers['x-litellm-model-id'], 'openai-any');

    const denied = await chatAs(key, 'openai/gpt-4o');
    assert.equal(denied.status, 401, denied.body);
    assert.equal(denied.json().error.param, 'model');
    assert.deepEqual(modelsOf(await wild.requests()), ['gpt-4o-mini'],
        'the denied name reached the provider');
});

test('key with provider wildcard', async () => {
    await wild.reset();
    const { key } = await stack.generate(node, { models: ['openai/*'] });
    for (const model of ['openai/gpt-4o', 'openai/o3-mini']) {
        const res = await chatAs(key, model);
        assert.equal(res.status, 200, res.body);
        assert.equal(res.json().model, model);
    }
    assert.deepEqual(modelsOf(await wild.requests()), ['gpt-4o', 'o3-mini']);
});
