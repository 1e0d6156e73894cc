// SPDX-License-Identifier: Apache-2.0
// The spend reporting routes (/spend/logs, /spend/logs/v2, /global/spend/*) against a real
// PostgreSQL: spend_logs rows are inserted directly, then each route's filters, pagination,
// aggregates, role rules and bad input are checked. Also the spend and budget fields of
// /key/info, /user/info and /team/info.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { expectErrorEnvelope, needs } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-spend-4e1a' });
let gw;
let key1;
let key2;
let hash1;
let hash2;
let asViewer;
let asUser1;
let asNoRole;

// Inserts one spend_logs row; `at` is an SQL timestamptz expression.
function insertLog(id, { key, user = null, team = null, endUser = null, model = 'gpt-4o-mini',
    spend = 0.01, prompt = 10, completion = 5, at, status = 'success', cacheHit = false,
    messages = null }) {
    const lit = (v) => (v === null ? 'NULL' : `'${v}'`);
    stack.psql('INSERT INTO spend_logs (request_id, call_type, api_key, key_alias, spend, '
        + 'prompt_tokens, completion_tokens, total_tokens, start_time, end_time, model, '
        + 'model_group, custom_llm_provider, user_id, team_id, end_user, status, cache_hit, '
        + `messages) VALUES ('${id}', 'acompletion', '${key}', NULL, ${spend}, ${prompt}, `
        + `${completion}, ${prompt + completion}, (${at})::timestamptz, (${at})::timestamptz + interval '1 second', `
        + `'${model}', '${model}', 'openai', ${lit(user)}, ${lit(team)}, ${lit(endUser)}, `
        + `'${status}', ${cacheHit}, ${lit(messages)})`);
}

before(async () => {
    await stack.start();
    gw = await stack.startNode();
    stack.psql("INSERT INTO users (user_id, user_role) VALUES ('sv', 'proxy_admin_viewer'), "
        + "('su1', 'internal_user'), ('su2', 'internal_user'), ('sorg', 'org_admin')");
    stack.psql("INSERT INTO teams (team_id, team_alias) VALUES ('t-spend', 'Spend Team')");
    key1 = (await stack.generate(gw, { user_id: 'su1' })).key;
    key2 = (await stack.generate(gw, { user_id: 'su2' })).key;
    const viewer = (await stack.generate(gw, { user_id: 'sv' })).key;
    const noRole = (await stack.generate(gw, { user_id: 'sorg' })).key;
    hash1 = stack.psql("SELECT token FROM keys WHERE user_id = 'su1'");
    hash2 = stack.psql("SELECT token FROM keys WHERE user_id = 'su2'");
    asViewer = { authorization: `Bearer ${viewer}` };
    asUser1 = { authorization: `Bearer ${key1}` };
    asNoRole = { authorization: `Bearer ${noRole}` };

    // Old rows on fixed days, for the date filters and the daily summary.
    insertLog('r1', { key: hash1, user: 'su1', team: 't-spend', endUser: 'c1', spend: 1.5,
        at: "'2026-01-10T10:00:00Z'", cacheHit: true, messages: '[{"role":"user"}]' });
    insertLog('r2', { key: hash1, user: 'su1', team: 't-spend', endUser: 'c2', spend: 0.5,
        model: 'gpt-4o', at: "'2026-01-10T23:59:59Z'" });
    insertLog('r3', { key: hash2, user: 'su2', spend: 2, at: "'2026-01-11T00:00:00Z'" });
    insertLog('r4', { key: hash2, user: 'su2', spend: 0, status: 'failure',
        at: "'2026-01-12T08:00:00Z'" });
    // Recent rows, for the 30-day routes.
    insertLog('n1', { key: hash1, user: 'su1', team: 't-spend', spend: 3,
        at: "now() - interval '1 hour'" });
    insertLog('n2', { key: hash2, user: 'su2', spend: 4, model: 'gpt-4o',
        at: "now() - interval '2 hours'" });
    insertLog('n3', { key: '', spend: 0.25, at: "now() - interval '3 hours'" });
    insertLog('old', { key: hash2, user: 'su2', spend: 100, at: "now() - interval '40 days'" });
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

const ids = (rows) => rows.map((r) => r.request_id).sort();

test('spend logs rows in LiteLLM shape', async () => {
    const rows = await stack.ok(gw, 'GET', '/spend/logs?request_id=r1');
    assert.equal(rows.length, 1);
    const row = rows[0];
    assert.equal(row.request_id, 'r1');
    assert.equal(row.call_type, 'acompletion');
    assert.equal(row.api_key, hash1);
    assert.equal(row.spend, 1.5);
    assert.equal(row.total_tokens, 15);
    assert.equal(row.prompt_tokens, 10);
    assert.equal(row.completion_tokens, 5);
    assert.equal(row.startTime, '2026-01-10T10:00:00.000000Z');
    assert.equal(row.endTime, '2026-01-10T10:00:01.000000Z');
    assert.equal(row.completionStartTime, null);
    assert.equal(row.model, 'gpt-4o-mini');
    assert.equal(row.model_group, 'gpt-4o-mini');
    assert.equal(row.custom_llm_provider, 'openai');
    assert.equal(row.user, 'su1');
    assert.equal(row.team_id, 't-spend');
    assert.equal(row.end_user, 'c1');
    assert.equal(row.cache_hit, 'True');
    assert.equal(row.status, 'success');
    assert.equal(row.messages, '[{"role":"user"}]');
    assert.equal(row.metadata.user_api_key, hash1);
    assert.equal(row.metadata.user_api_key_user_id, 'su1');
    assert.equal(row.metadata.user_api_key_team_id, 't-spend');
    assert.equal(row.metadata.usage_object.total_tokens, 15);

    const other = await stack.ok(gw, 'GET', '/spend/logs?request_id=r2');
    assert.equal(other[0].cache_hit, 'False');
    assert.equal('messages' in other[0], false, 'messages appear only when stored');
    assert.equal('response' in other[0], false);
});

test('spend logs filters', async () => {
    assert.deepEqual(ids(await stack.ok(gw, 'GET', `/spend/logs?api_key=${key1}`)),
        ['n1', 'r1', 'r2']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET', `/spend/logs?api_key=${hash2}`)),
        ['n2', 'old', 'r3', 'r4']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET', '/spend/logs?user_id=su2')),
        ['n2', 'old', 'r3', 'r4']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET', '/spend/logs?team_id=t-spend')),
        ['n1', 'r1', 'r2']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET',
        '/spend/logs?start_date=2026-01-10&end_date=2026-01-11&summarize=false')),
    ['r1', 'r2', 'r3']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET', '/spend/logs?start_date=2026-01-10T12:00:00Z'
        + '&end_date=2026-01-11T00:00:00%2B00:00&summarize=false')), ['r2', 'r3']);
    assert.deepEqual(ids(await stack.ok(gw, 'GET',
        '/spend/logs?start_date=2026-01-10&end_date=2026-01-12&user_id=su1&summarize=false')),
    ['r1', 'r2']);
    assert.deepEqual(await stack.ok(gw, 'GET', '/spend/logs?request_id=none'), []);
});

test('spend logs pages newest first', async () => {
    const all = await stack.ok(gw, 'GET', '/spend/logs');
    assert.equal(all.length, 8);
    assert.deepEqual(all.slice(0, 3).map((r) => r.request_id), ['n1', 'n2', 'n3']);
    const p1 = await stack.ok(gw, 'GET', '/spend/logs?page_size=3');
    const p3 = await stack.ok(gw, 'GET', '/spend/logs?page_size=3&page=3');
    assert.deepEqual(p1.map((r) => r.request_id), ['n1', 'n2', 'n3']);
    assert.deepEqual(p3.map((r) => r.request_id), ['r2', 'r1']);
    assert.deepEqual(await stack.ok(gw, 'GET', '/spend/logs?page_size=3&page=4'), []);

    const v2 = await stack.ok(gw, 'GET', '/spend/logs/v2?page_size=3&page=2&user_id=su2');
    assert.equal(v2.total, 4);
    assert.equal(v2.page, 2);
    assert.equal(v2.page_size, 3);
    assert.equal(v2.total_pages, 2);
    assert.deepEqual(v2.data.map((r) => r.request_id), ['r3']);
});

test('spend logs daily summary', async () => {
    const days = await stack.ok(gw, 'GET',
        '/spend/logs?start_date=2026-01-10&end_date=2026-01-14');
    assert.deepEqual(days.map((d) => d.startTime),
        ['2026-01-10', '2026-01-11', '2026-01-12', '2026-01-13', '2026-01-14']);
    assert.equal(days[0].spend, 2);
    assert.equal(days[0][hash1], 2);
    assert.deepEqual(days[0].users, { su1: 2 });
    assert.deepEqual(days[0].models, { 'gpt-4o-mini': 1.5, 'gpt-4o': 0.5 });
    assert.equal(days[1].spend, 2);
    assert.deepEqual(days[2].users, { su2: 0 });
    assert.deepEqual(days[3], { startTime: '2026-01-13', spend: 0, users: {}, models: {} });
    assert.deepEqual(await stack.ok(gw, 'GET',
        '/spend/logs?start_date=2020-01-01&end_date=2020-01-02'), []);
});

test('global spend report groups by team, customer and key', async () => {
    const q = '/global/spend/report?start_date=2026-01-10&end_date=2026-01-11';
    const teams = await stack.ok(gw, 'GET', q);
    assert.equal(teams.length, 2);
    assert.equal(teams[0].group_by_day, '2026-01-10T00:00:00.000000Z');
    assert.equal(teams[0].teams.length, 1);
    assert.equal(teams[0].teams[0].team_name, 'Spend Team');
    assert.equal(teams[0].teams[0].total_spend, 2);
    assert.equal(teams[0].teams[0].metadata.length, 2);
    assert.equal(teams[1].teams[0].team_name, 'Unassigned Team');

    const customers = await stack.ok(gw, 'GET', `${q}&group_by=customer`);
    assert.deepEqual(customers[0].customers.map((c) => [c.customer, c.total_spend]),
        [['c1', 1.5], ['c2', 0.5]]);

    const keys = await stack.ok(gw, 'GET', `${q}&group_by=api_key`);
    assert.deepEqual(keys.map((k) => [k.api_key, k.total_cost]), [[hash1, 2], [hash2, 2]]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    const k1 = keys.find((k) => k.api_key === hash1);
    assert.equal(k1.total_input_tokens, 20);
    assert.equal(k1.total_output_tokens, 10);
    assert.equal(k1.model_details.length, 2);

    const one = await stack.ok(gw, 'GET', `${q}&api_key=${key2}`);
    assert.deepEqual(one.map((k) => k.api_key), [hash2]);
    const byUser = await stack.ok(gw, 'GET', `${q}&internal_user_id=su1`);
    assert.deepEqual(byUser.map((k) => k.api_key), [hash1]);
});

test('global spend totals keys teams and models', async () => {
    const total = await stack.ok(gw, 'GET', '/global/spend');
    assert.equal(total.spend, 7.25, 'only the last 30 days count');
    assert.equal(total.max_budget, 0);

    const keys = await stack.ok(gw, 'GET', '/global/spend/keys');
    assert.deepEqual(keys.map((k) => [k.api_key, k.total_spend]),
        [[hash2, 4], [hash1, 3], ['', 0.25]]);
    assert.match(keys[0].key_name, /^sk-/);
    assert.equal((await stack.ok(gw, 'GET', '/global/spend/keys?limit=1')).length, 1);

    const models = await stack.ok(gw, 'GET', '/global/spend/models');
    assert.deepEqual(models.map((m) => [m.model, m.total_spend]),
        [['gpt-4o', 4], ['gpt-4o-mini', 3.25]]);

    const teams = await stack.ok(gw, 'GET', '/global/spend/teams');
    assert.deepEqual(teams.teams, ['Spend Team', 'Unassigned']);
    assert.deepEqual(teams.total_spend_per_team,
        [{ team_id: 'Unassigned', total_spend: 4.25 }, { team_id: 'Spend Team', total_spend: 3 }]);
    const spendOnDays = teams.daily_spend.reduce((sum, d) => sum
        + (d['Spend Team'] ?? 0) + (d.Unassigned ?? 0), 0);
    assert.equal(spendOnDays, 7.25);
    assert.ok(teams.daily_spend.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d.date)));
});

test('internal user sees only own spend', async () => {
    assert.deepEqual(ids(await stack.ok(gw, 'GET', '/spend/logs', undefined, asUser1)),
        ['n1', 'r1', 'r2']);
    assert.deepEqual(await stack.ok(gw, 'GET', '/spend/logs?user_id=su2', undefined, asUser1),
        []);
    assert.deepEqual(await stack.ok(gw, 'GET', `/spend/logs?api_key=${hash2}`, undefined,
        asUser1), []);
    const v2 = await stack.ok(gw, 'GET', '/spend/logs/v2', undefined, asUser1);
    assert.equal(v2.total, 3);
    const keys = await stack.ok(gw, 'GET', '/global/spend/keys', undefined, asUser1);
    assert.deepEqual(keys.map((k) => k.api_key), [hash1]);
    const models = await stack.ok(gw, 'GET', '/global/spend/models', undefined, asUser1);
    assert.deepEqual(models.map((m) => [m.model, m.total_spend]), [['gpt-4o-mini', 3]]);

    for (const route of ['/global/spend', '/global/spend/teams',
        '/global/spend/report?start_date=2026-01-10&end_date=2026-01-11']) {
        const res = await stack.call(gw, 'GET', route, undefined, asUser1);
        assert.match(expectErrorEnvelope(assert, res, 401).message, /Only proxy admin/, route);
    }
});

test('viewer sees all spend and other roles none', async () => {
    assert.equal((await stack.ok(gw, 'GET', '/spend/logs', undefined, asViewer)).length, 8);
    assert.equal((await stack.ok(gw, 'GET', '/global/spend', undefined, asViewer)).spend, 7.25);
    await stack.ok(gw, 'GET', '/global/spend/teams', undefined, asViewer);
    assert.equal((await stack.ok(gw, 'GET', '/global/spend/keys', undefined, asViewer)).length,
        3);
    for (const route of ['/spend/logs', '/spend/logs/v2', '/global/spend/keys',
        '/global/spend/models', '/global/spend']) {
        const res = await stack.call(gw, 'GET', route, undefined, asNoRole);
        const err = expectErrorEnvelope(assert, res, 401);
        assert.match(err.message, /Your role=org_admin/, route);
    }
    const res = await stack.call(gw, 'GET', '/spend/logs', undefined,
        { authorization: 'Bearer sk-not-a-key' });
    assert.equal(res.status, 401);
});

test('bad spend input gets a 400 naming the field', async () => {
    const cases = [
        ['/spend/logs?start_date=2026-13-01', 'start_date'],
        ['/spend/logs?start_date=2026-02-30', 'start_date'],
        ['/spend/logs?end_date=yesterday', 'end_date'],
        ['/spend/logs?start_date=2026-01-10T25:00:00', 'start_date'],
        ['/spend/logs?start_date=2026-01-10T10:00:00%2B99:00', 'start_date'],
        ['/spend/logs?start_date=2026-01-12&end_date=2026-01-10', 'end_date'],
        ['/spend/logs?start_date=2000-01-01&end_date=2026-01-10', 'end_date'],
        ['/spend/logs?page_size=1001', 'page_size'],
        ['/spend/logs?page_size=0', 'page_size'],
        ['/spend/logs?page=0', 'page'],
        ['/spend/logs?page=x', 'page'],
        ['/spend/logs?summarize=maybe', 'summarize'],
        ['/spend/logs?api_key=not-a-key', 'api_key'],
        ['/spend/logs?user_id=%ZZ', 'user_id'],
        ['/spend/logs/v2?page_size=5000', 'page_size'],
        ['/global/spend/report', 'start_date'],
        ['/global/spend/report?start_date=2026-01-10', 'end_date'],
        ['/global/spend/report?start_date=2026-01-10&end_date=2026-01-11&group_by=model',
            'group_by'],
        ['/global/spend/keys?limit=0', 'limit'],
        ['/global/spend/models?limit=1001', 'limit'],
    ];
    for (const [route, param] of cases) {
        const res = await stack.call(gw, 'GET', route);
        const err = expectErrorEnvelope(assert, res, 400);
        assert.equal(err.param, param, route);
    }
    const res = await stack.call(gw, 'POST', '/spend/logs', {});
    expectErrorEnvelope(assert, res, 405);
    assert.equal(res.headers.allow, 'GET');
});

test('entity info routes carry spend and budget fields', async () => {
    stack.psql(`UPDATE keys SET spend = 1.25 WHERE token = '${hash1}'`);
    stack.psql("UPDATE users SET spend = 2.5 WHERE user_id = 'su1'");
    stack.psql("UPDATE teams SET spend = 3.75 WHERE team_id = 't-spend'");
    const key = await stack.ok(gw, 'GET', `/key/info?key=${hash1}`);
    assert.equal(key.info.spend, 1.25);
    assert.ok('max_budget' in key.info);
    assert.ok('budget_duration' in key.info);
    const user = await stack.ok(gw, 'GET', '/user/info?user_id=su1');
    assert.equal(user.user_info.spend, 2.5);
    assert.ok('max_budget' in user.user_info);
    const team = await stack.ok(gw, 'GET', '/team/info?team_id=t-spend');
    assert.equal(team.team_info.spend, 3.75);
    assert.ok('max_budget' in team.team_info);
    assert.ok('budget_reset_at' in team.team_info);
});
