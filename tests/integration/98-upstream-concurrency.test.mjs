// SPDX-License-Identifier: Apache-2.0
// Calls to one provider host from one worker run side by side from the first: a slow first
// call must not hold back the others while the connection pool learns the host's HTTP version.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chatBody, needs, postJson, startGateway, startMock } from './lib/harness.mjs';

await needs('gateway', 'mock');

const CALLS = 4;
const LATENCY_MS = 3000;

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        workers: 1,
        config: `
model_list:
- model_name: slow
  litellm_params:
    model: openai/slow-model
    api_key: sk-upstream-concurrency
    api_base: ${mock.url}/v1
`,
    });
});

after(async () => {
    await gateway?.stop();
    await mock?.stop();
});

test('concurrent calls to a new host start together', async () => {
    await mock.queue({ latency_ms: LATENCY_MS, count: CALLS });
    const pending = Array.from({ length: CALLS },
        () => postJson(`${gateway.url}/v1/chat/completions`, chatBody('slow')));
    // Every call reaches the mock while the first is still waiting for its response.
    const seen = await mock.waitForRequests((reqs) => reqs.length === CALLS, LATENCY_MS / 2);
    assert.equal(seen.length, CALLS);
    for (const res of await Promise.all(pending)) {
        assert.equal(res.status, 200, res.body);
    }
});
