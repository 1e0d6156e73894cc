// SPDX-License-Identifier: Apache-2.0
// The spend pipeline from the Redis stream to PostgreSQL through sluice-coordinator: events
// written into <prefix>spend:events (encoded by the real encoder, tests/tools/spend_event_write)
// end up as one spend_logs row each, with entity and daily totals equal to the sum of their
// costs, across a coordinator SIGKILLed mid-batch, PostgreSQL stopped for 20 s while events
// keep arriving, and a leader SIGKILLed with a standby taking over.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { makeTempDir, needs, sleep, spawnProc } from './lib/harness.mjs';
import { COORDINATOR, MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('postgres', 'redis');
needsCoordinator();

const WRITER = path.join(path.dirname(COORDINATOR), '../tests/tools/spend_event_write');
const STREAM = 'sluice:spend:events';
const KEY = sha256('sk-spend-pipeline-88');
const DAY_S = 86400;
const TODAY_S = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S;

const stack = new MgmtStack();
let configPath;
const sent = []; // every event written, including replays of the same request id
let seq = 0;

before(async () => {
    await stack.start();
    stack.psql(`INSERT INTO budgets (budget_id) VALUES ('b-plain');
        INSERT INTO budgets (budget_id, budget_duration, budget_period_start)
            VALUES ('b-daily', '1d', to_timestamp(${TODAY_S}));
        INSERT INTO organizations (organization_id, organization_alias, budget_id)
            VALUES ('o1', 'org one', 'b-plain');
        INSERT INTO teams (team_id, organization_id, budget_id) VALUES ('t1', 'o1', 'b-daily');
        INSERT INTO users (user_id) VALUES ('u1');
        INSERT INTO team_memberships (team_id, user_id) VALUES ('t1', 'u1');
        INSERT INTO keys (token, user_id, team_id, budget_id) VALUES ('${KEY}', 'u1', 't1', 'b-plain');`);
    const dir = makeTempDir('sluice-coord-');
    configPath = path.join(dir, 'config.yaml');
    fs.writeFileSync(configPath, `general_settings:\n  database_url: ${stack.pg.url}\n`);
});

after(async () => {
    await stack.stop();
});

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-u', stack.redis.url, ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args.join(' ')}: ${res.stderr}`);
    return res.stdout.trim();
}

// Builds `n` events; `periodStart` is the team's period each event names (today by default).
function makeEvents(n, { periodStart = TODAY_S } = {}) {
    const events = [];
    for (let i = 0; i < n; i++) {
        seq++;
        const end = Date.now();
        events.push({
            id: `req-${seq}`, call_type: 'acompletion', key: KEY, user: 'u1', team: 't1',
            org: 'o1', end_user: `eu-${seq % 3}`, model_group: 'gpt-4o-mini', model: 'openai/x',
            provider: 'openai', start: end - 50, end, prompt: 10, completion: 5,
            status: 200, ok: seq % 7 !== 0, priced: true, cost: (seq % 13) / 1024,
            periods: [['api_key', KEY, 0], ['team', 't1', periodStart], ['team_member', 't1:u1', 0]],
        });
    }
    return events;
}

// XADDs the events, encoded by the real encoder, through one redis-cli pipe.
function xadd(events) {
    const enc = spawnSync(WRITER, [], { input: events.map((e) => JSON.stringify(e)).join('\n') + '\n',
        encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(enc.status, 0, `spend_event_write: ${enc.error ?? enc.stderr}`);
    const hex = enc.stdout.trim().split('\n');
    const resp = hex.map((h) => {
        const body = Buffer.from(h, 'hex');
        const parts = [Buffer.from('XADD'), Buffer.from(STREAM), Buffer.from('*'), Buffer.from('e'), body];
        return Buffer.concat([Buffer.from(`*${parts.length}\r\n`),
            ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n')])]);
    });
    const res = spawnSync('redis-cli', ['-u', stack.redis.url, '--pipe'], { input: Buffer.concat(resp) });
    assert.equal(res.status, 0, `redis-cli --pipe: ${res.stderr}`);
    sent.push(...events);
}

function startCoordinator(name) {
    return spawnProc(COORDINATOR, ['run', '--config', configPath, '--metrics-port', '0'],
        { REDIS_URL: stack.redis.url, SLUICE_LOG_LEVEL: 'debug' }, name);
}

function rowCount() {
    return Number(stack.psql('SELECT count(*) FROM spend_logs'));
}

// Polls `fn` until it returns true; on a timeout the error shows the log of `proc`.
async function waitUntil(what, fn, timeoutMs, proc = null) {
    const deadline = Date.now() + timeoutMs;
    while (!fn()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} `
                + `(spend_logs rows: ${rowCount()}, request ids sent: ${uniqueIds()})\n`
                + (proc?.describe() ?? ''));
        }
        await sleep(100);
    }
}

function uniqueIds() {
    return new Set(sent.map((e) => e.id)).size;
}

let coordA;
let coordB;

test('coordinator killed mid-batch loses nothing', async () => {
    coordA = startCoordinator('coordinator-a');
    await coordA.waitForLog((e) => e.event === 'coordinator.leader_acquired', 10000);
    xadd(makeEvents(3000));
    await waitUntil('the first rows', () => rowCount() > 0, 15000);
    await coordA.stop('SIGKILL');
    assert.ok(rowCount() < 3000, 'the kill came after the whole backlog was written');

    // Replays of the same request ids must not count twice.
    xadd(sent.slice(0, 20).map((e) => ({ ...e })));
    coordA = startCoordinator('coordinator-a2');
    await waitUntil('the backlog to drain', () => rowCount() === uniqueIds(), 30000);
});

test('PostgreSQL stopped for 20 s while events arrive', async () => {
    await stack.pg.stop();
    for (let i = 0; i < 10; i++) {
        xadd(makeEvents(40));
        await sleep(2000);
    }
    await stack.pg.restart();
    await waitUntil('the backlog to drain', () => rowCount() === uniqueIds(), 30000, coordA);
    assert.ok(coordA.logs.some((e) => e.event === 'reconcile.batch_failed'
        || e.event === 'postgres.unavailable'), 'the outage was not logged');
});

test('standby takes over when the leader dies', async () => {
    coordB = startCoordinator('coordinator-b');
    await coordB.waitForLog((e) => e.event === 'coordinator.started', 5000);
    await sleep(1500);
    assert.ok(!coordB.logs.some((e) => e.event === 'coordinator.leader_acquired'),
        'the standby took the lease while the leader lived');
    const killedAt = Date.now();
    await coordA.stop('SIGKILL');
    xadd(makeEvents(200));
    await coordB.waitForLog((e) => e.event === 'coordinator.leader_acquired', 15000);
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs < 13000, `takeover took ${takeoverMs} ms`);
    // An event of a team period that already ended: logged and counted daily, not in teams.spend.
    xadd(makeEvents(1, { periodStart: TODAY_S - DAY_S }));
    // An entry that is not a spend event is logged by id and acknowledged, never retried.
    const badId = redisCli('XADD', STREAM, '*', 'e', 'not msgpack');
    await waitUntil('the backlog to drain', () => rowCount() === uniqueIds(), 20000, coordB);
    await coordB.waitForLog((e) => e.event === 'reconcile.invalid_event' && e.entry_id === badId,
        5000);
    assert.equal(await coordB.stop('SIGTERM', 5000), 0);
});

test('totals equal the sum of the events', () => {
    const byId = new Map(sent.map((e) => [e.id, e]));
    const events = [...byId.values()];
    const sum = (list) => list.reduce((s, e) => s + e.cost, 0);
    const near = (actual, expected, what) => assert.ok(Math.abs(Number(actual) - expected) < 1e-6,
        `${what}: ${actual} != ${expected}`);

    assert.equal(Number(stack.psql('SELECT count(DISTINCT request_id) FROM spend_logs')), events.length);
    near(stack.psql('SELECT sum(spend) FROM spend_logs'), sum(events), 'spend_logs');
    near(stack.psql(`SELECT spend FROM keys WHERE token = '${KEY}'`), sum(events), 'key spend');
    near(stack.psql("SELECT spend FROM users WHERE user_id = 'u1'"), sum(events), 'user spend');
    near(stack.psql("SELECT spend FROM organizations WHERE organization_id = 'o1'"), sum(events),
        'organization spend');
    const current = events.filter((e) => e.periods[1][2] === TODAY_S);
    assert.equal(current.length, events.length - 1);
    near(stack.psql("SELECT spend FROM teams WHERE team_id = 't1'"), sum(current), 'team spend');
    near(stack.psql("SELECT spend FROM team_memberships WHERE team_id = 't1'"), sum(events),
        'membership spend');
    for (const eu of ['eu-0', 'eu-1', 'eu-2']) {
        near(stack.psql(`SELECT spend FROM end_users WHERE end_user_id = '${eu}'`),
            sum(events.filter((e) => e.end_user === eu)), `end user ${eu} spend`);
    }

    // daily_spend per UTC day of the end time, for the key.
    const days = new Map();
    for (const e of events) {
        const day = new Date(e.end).toISOString().slice(0, 10);
        days.set(day, [...(days.get(day) ?? []), e]);
    }
    for (const [day, list] of days) {
        const row = stack.psql(`SELECT spend, api_requests, successful_requests, failed_requests,
            prompt_tokens FROM daily_spend WHERE entity_type = 'key' AND entity_id = '${KEY}'
            AND date = '${day}'`).split('|');
        near(row[0], sum(list), `daily spend ${day}`);
        assert.equal(Number(row[1]), list.length);
        assert.equal(Number(row[2]), list.filter((e) => e.ok).length);
        assert.equal(Number(row[3]), list.filter((e) => !e.ok).length);
        assert.equal(Number(row[4]), list.length * 10);
    }
    near(stack.psql("SELECT sum(spend) FROM daily_spend WHERE entity_type = 'team'"), sum(events),
        'daily team spend');
    assert.equal(redisCli('XPENDING', STREAM, 'sluice-coordinator').split('\n')[0], '0');
});
