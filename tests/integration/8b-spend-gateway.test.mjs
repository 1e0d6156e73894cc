// SPDX-License-Identifier: Apache-2.0
// Spend from the gateway to PostgreSQL: requests with a virtual key are settled into the Redis
// stream by the gateway and moved into spend_logs by a real sluice-coordinator. A whole
// response, a stream whose client did not ask for usage, a failed call and a master-key call
// each get one row with the provider's real tokens and the price table's cost. The key's and
// team's spend columns add up to the rows. Headers x-litellm-response-cost and
// x-litellm-key-spend carry the same cost. Under gateway traffic, a coordinator SIGKILLed and
// restarted, and PostgreSQL stopped for 20 s, lose and double nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
    chatBody, freePort, httpRequest, makeTempDir, needs, postJson, sleep, spawnProc, startMock,
} from './lib/harness.mjs';
import { pool } from './lib/limits.mjs';
import { COORDINATOR, MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';
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
let coordinatorArgs;
let metricsPort;

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
    // A user and a team before the coordinator starts, for its user and team counts.
    stack.psql(`INSERT INTO users (user_id) VALUES ('counted-user');
        INSERT INTO teams (team_id, team_alias) VALUES ('counted-team', 'counted')`);
    metricsPort = await freePort();
    coordinatorArgs = ['run', '--config', configPath, '--metrics-port', String(metricsPort),
        '--metrics-host', '127.0.0.1'];
    coordinator = spawnProc(COORDINATOR, coordinatorArgs, { REDIS_URL: stack.redis.url },
        'coordinator');
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

    const access = gw.logs.find((e) => e.event === 'http.access'
        && e.request_id === whole.headers['x-litellm-call-id']);
    assert.ok(access, 'the access line of the whole response');
    assert.equal(access.cost, cost(90, 5));
    assert.equal(access.retries, 0);

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

    // The coordinator's own /metrics: it leads, and it inserted the four rows.
    const scrape = await httpRequest(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(scrape.status, 200, scrape.body);
    assert.match(scrape.body, /^sluice_coordinator_leader 1(\.0)?$/m);
    const inserted = scrape.body.match(/^sluice_spend_events_total\{outcome="inserted"\} ([0-9.e+]+)$/m);
    assert.ok(inserted, scrape.body.slice(0, 2000));
    assert.ok(Number(inserted[1]) >= 4, scrape.body.slice(0, 2000));
    assert.match(scrape.body, /^sluice_spend_backlog_entries /m);
    const users = scrape.body.match(/^litellm_total_users ([0-9.e+]+)$/m);
    const teams = scrape.body.match(/^litellm_teams_count ([0-9.e+]+)$/m);
    assert.ok(users, 'litellm_total_users is exported');
    assert.ok(Number(users[1]) >= 1, 'litellm_total_users counts the users');
    assert.ok(teams, 'litellm_teams_count is exported');
    assert.ok(Number(teams[1]) >= 1, 'litellm_teams_count counts the teams');
});

// Sends `count` chat requests with `key`, `concurrency` at a time; every one must succeed.
async function traffic(key, count, concurrency) {
    const auth = { authorization: `Bearer ${key}` };
    const results = await pool(count, concurrency,
        () => postJson(`${gw.url}/v1/chat/completions`, chatBody('priced'), auth));
    for (const res of results)
        assert.equal(res.status, 200, res.body);
    return results;
}

// Waits until the key's spend_logs rows number `count`, then checks that the key's column and
// the daily total are the sum of `count` requests of 10 prompt and 2 completion tokens.
async function expectExact(key, count) {
    const hash = sha256(key);
    const deadline = Date.now() + 40000;
    let rows = 0;
    while ((rows = Number(stack.psql(`SELECT count(*) FROM spend_logs WHERE api_key = '${hash}'`)))
        < count) {
        if (Date.now() > deadline)
            throw new Error(`${rows} of ${count} spend_logs rows after 40 s`);
        await sleep(200);
    }
    assert.equal(rows, count, 'one row per request, none twice');
    const expected = count * cost(10, 2);
    assert.equal(Number(stack.psql(`SELECT spend FROM keys WHERE token = '${hash}'`)), expected);
    assert.equal(Number(stack.psql(`SELECT sum(spend) FROM daily_spend WHERE entity_type = 'key'
        AND entity_id = '${hash}'`)), expected);
}

test('coordinator killed mid-traffic loses nothing', async () => {
    const { key } = await stack.generate(gw, {});
    await mock.queue({ usage: { prompt_tokens: 10, completion_tokens: 2 }, count: 300 });
    const first = traffic(key, 300, 8);
    const hash = sha256(key);
    while (Number(stack.psql(`SELECT count(*) FROM spend_logs WHERE api_key = '${hash}'`)) < 20)
        await sleep(20);
    await coordinator.stop('SIGKILL');
    await first;
    coordinator = spawnProc(COORDINATOR, coordinatorArgs, { REDIS_URL: stack.redis.url },
        'coordinator');
    await expectExact(key, 300);
});

test('PostgreSQL stopped for 20 s while requests go on', async () => {
    const { key } = await stack.generate(gw, {});
    // More scripted replies than the 20 s can use, so every request has the same usage.
    await mock.queue({ usage: { prompt_tokens: 10, completion_tokens: 2 }, count: 5000 });
    // One request first, and the key's record in Redis, so it works while PostgreSQL is away.
    await traffic(key, 1, 1);
    await stack.waitForKeyInRedis(gw, key);
    await stack.pg.stop();
    const deadline = Date.now() + 20000;
    let sent = 1;
    while (Date.now() < deadline) {
        await traffic(key, 5, 5);
        sent += 5;
        await sleep(500);
    }
    await stack.pg.restart();
    await expectExact(key, sent);
});
