// SPDX-License-Identifier: Apache-2.0
// Fallbacks and model access: a fallback group that the caller's virtual key may not use is
// skipped, and the next allowed group responds. Needs PostgreSQL and Redis for the key.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chatBody, needs, postJson, startMock } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-failover-access-7d2e' });
let primary;
let backup;
let node;

function deployment(group, mock) {
    return `- model_name: ${group}
  litellm_params:
    model: openai/${group}-model
    api_key: sk-upstream-failover-access
    api_base: ${mock.url}/v1
  model_info:
    id: ${group}-deployment`;
}

before(async () => {
    primary = await startMock();
    backup = await startMock();
    await stack.start();
    const models = [deployment('main', primary), deployment('secret', backup),
        deployment('spare', backup)].join('\n');
    node = await stack.startNode({
        config: `${stack.config({ models })}
router_settings:
  num_retries: 0
  fallbacks: [{main: [secret, spare]}]
`,
    });
});

after(async () => {
    await stack.stop();
    for (const mock of [primary, backup]) {
        await mock?.stop();
    }
});

test('fallback group denied to key skipped', async () => {
    const { key } = await stack.generate(node, { models: ['main', 'spare'] });
    await primary.queue({ status: 500, count: 3 });
    const res = await postJson(`${node.url}/v1/chat/completions`, chatBody('main'),
        { authorization: `Bearer ${key}` });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1');
    assert.equal(res.headers['x-litellm-model-id'], 'spare-deployment');
    assert.equal(res.json().model, 'spare');
    const calls = (await backup.requests()).map((r) => JSON.parse(r.body).model);
    assert.deepEqual(calls, ['spare-model'], 'the denied group got no call');
});

test('fallback group allowed to master key', async () => {
    await primary.reset();
    await backup.reset();
    await primary.queue({ status: 500, count: 3 });
    const res = await postJson(`${node.url}/v1/chat/completions`, chatBody('main'), stack.admin);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().model, 'secret');
    const calls = (await backup.requests()).map((r) => JSON.parse(r.body).model);
    assert.deepEqual(calls, ['secret-model']);
});
