// SPDX-License-Identifier: Apache-2.0
// Spend from the gateway to PostgreSQL: requests with a virtual key are settled into the Redis
// stream by the gateway and moved into spend_logs by a real sluice-coordinator. A whole
// response, a stream whose client did not ask for usage, a failed call and a master-key call
// each get one row with the provider's real tokens and the price table's cost, and the key's
// and team's spend columns add up to the rows. Headers x-litellm-response-cost and
// x-litellm-key-spend carry the same cost.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chatBody, makeTempDir, needs, postJson, sleep, spawnProc, startMock } from './lib/harness.mjs';
import { COORDINATOR, MgmtStack, needsCoordinator } from './lib/mgmt.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'postgres', 'redis', 'mock');
needsCoordinator();

// USD per token, chosen so that costs are exact in binary floating point.
const INPUT_PRICE = 0.0009765625; // 2^-10
const OUTPUT_PRICE = 0.001953125; // 2^-9
const stack = new MgmtStack({ masterKey: 'sk-master-spend-8b' });
let mock;
let gw;
let coordinator;

before(async () => {
    await stack.start();
    mock = await startMock();
    const models = `- model_name: priced
  litellm_params:
    model: openai/priced-model
    api_key: sk-upstream-unused
    api_base: ${mock.url}/v1
    input_cost_per_token: ${INPUT_PRICE}
    output_cost_per_token: ${OUTPUT_PRICE}`;
    gw = await stack.startNode({ models });
    const dir = makeTempDir('sluice-spend-8b-');
    const configPath = path.join(dir, 'config.yaml');
    fs.writeFileSync(configPath, `general_settings:\n  database_url: ${stack.pg.url}\n`);
    coordinator = spawnProc(COORDINATOR, ['run', '--config', configPath, '--metrics-port', '0'],
        { REDIS_URL: stack.redis.url }, 'coordinator');
});

after(async () => {
    await coordinator?.stop();
    await mock?.stop();
    stack.assertNoKeyLeaked();
    await stack.stop();
});

// Waits until spend_logs has the row of `requestId` and returns it as an object.
async function spendRow(requestId) {
    const deadline = Date.now() + 15000;
    for (;;) {
        const text = stack.psql(`SELECT row_to_json(s) FROM spend_logs s
            WHERE request_id = '${requestId}'`);
        if (text !== '')
            return JSON.parse(text);
        if (Date.now() > deadline)
            throw new Error(`no spend_logs row for ${requestId} after 15 s`);
        await sleep(100);
    }
}

function cost(prompt, completion) {
    return prompt * INPUT_PRICE + completion * OUTPUT_PRICE;
}

test('every request leaves one priced row', async () => {
    const team = await stack.ok(gw, 'POST', '/team/new', { team_alias: 'spend-8b', max_budget: 100 });
    const { key } = await stack.generate(gw, { team_id: team.team_id, max_budget: 50 });
    const auth = { authorization: `Bearer ${key}` };

    await mock.queue({ usage: { prompt_tokens: 90, completion_tokens: 5 } });
    const whole = await postJson(`${gw.url}/v1/chat/completions`, chatBody('priced'), auth);
    assert.equal(whole.status, 200, whole.body);
    assert.equal(Number(whole.headers['x-litellm-response-cost']), cost(90, 5));
    assert.equal(Number(whole.headers['x-litellm-key-spend']), cost(90, 5),
        'the key had spent nothing before this request');

    await mock.queue({ usage: { prompt_tokens: 30, completion_tokens: 7 } });
    const stream = await streamChat({ url: `${gw.url}/v1/chat/completions`, headers: auth,
        body: chatBody('priced', { stream: true }) });
    assert.equal(stream.status, 200);
    assert.ok(!stream.events.some((e) => e.json?.usage), 'no usage chunk the client did not ask for');

    await mock.queue({ status: 500, count: 3 });
    const failed = await postJson(`${gw.url}/v1/chat/completions`, chatBody('priced'), auth);
    assert.equal(failed.status, 500, failed.body);

    await mock.queue({ usage: { prompt_tokens: 4, completion_tokens: 2 } });
    const master = await postJson(`${gw.url}/v1/chat/completions`, chatBody('priced'), stack.admin);
    assert.equal(master.status, 200, master.body);

    const wholeRow = await spendRow(whole.headers['x-litellm-call-id']);
    assert.equal(wholeRow.status, 'success');
    assert.equal(wholeRow.prompt_tokens, 90);
    assert.equal(wholeRow.completion_tokens, 5);
    assert.equal(wholeRow.spend, cost(90, 5));
    assert.equal(wholeRow.team_id, team.team_id);
    assert.equal(wholeRow.model_group, 'priced');
    assert.equal(wholeRow.call_type, 'acompletion');
    assert.equal(wholeRow.priced, true);

    const streamRow = await spendRow(stream.headers['x-litellm-call-id']);
    assert.equal(streamRow.status, 'success');
    assert.equal(streamRow.prompt_tokens, 30, 'the stream is settled with the provider usage');
    assert.equal(streamRow.completion_tokens, 7);
    assert.equal(streamRow.spend, cost(30, 7), 'a stream is never recorded at 0');
    assert.equal(streamRow.usage_estimated, false);

    const failedRow = await spendRow(failed.headers['x-litellm-call-id']);
    assert.equal(failedRow.status, 'failure');
    assert.equal(failedRow.spend, 0);
    assert.equal(failedRow.http_status, 500);

    const masterRow = await spendRow(master.headers['x-litellm-call-id']);
    assert.equal(masterRow.api_key, '', 'the master key has no hash in spend_logs');
    assert.equal(masterRow.spend, cost(4, 2));

    const keySpend = Number(stack.psql(`SELECT spend FROM keys WHERE key_alias IS NULL AND
        team_id = '${team.team_id}'`));
    assert.equal(keySpend, cost(90, 5) + cost(30, 7), 'the key column is the sum of its rows');
    const teamSpend = Number(stack.psql(`SELECT spend FROM teams WHERE team_id = '${team.team_id}'`));
    assert.equal(teamSpend, cost(90, 5) + cost(30, 7));
    const daily = Number(stack.psql(`SELECT spend FROM daily_spend WHERE entity_type = 'team'
        AND entity_id = '${team.team_id}'`));
    assert.equal(daily, cost(90, 5) + cost(30, 7));

    const logs = await stack.ok(gw, 'GET',
        `/spend/logs?request_id=${stream.headers['x-litellm-call-id']}`);
    assert.equal(logs.length, 1);
    assert.equal(logs[0].spend, cost(30, 7));
});
