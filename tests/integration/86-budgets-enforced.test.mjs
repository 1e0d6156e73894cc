// SPDX-License-Identifier: Apache-2.0
// Budgets of docs/limits.md enforced on one PostgreSQL, one Redis and the mock provider. The
// mock reports 90 prompt and 5 completion tokens at 0.001 USD each, so every priced request
// costs 0.095. Covered: the exact 400 budget_exceeded message of each scope, with floats
// printed as Python prints them, and budgets checked before rate limits. Also a user budget
// with and without team keys, a zero-cost group, soft budgets, and budget periods that reset
// at aligned boundaries. The mock's request log proves that no rejected request was sent on.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { needs, sleep, startMock } from './lib/harness.mjs';
import {
    chat, describe, expectBudgetExceeded, expectStatus, logLines, messages, pollUntil,
    pricedModels, providerCalls, pyFloat, spendRecords, spendSettled,
} from './lib/limits.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const COST = 0.095; // USD of one priced request

const stack = new MgmtStack({ masterKey: 'sk-master-budgets-86b4' });
let mock;
let gw;          // default settings: a user's budget counts personal keys only
let includingGw; // user_budget_includes_team_keys: true
let serial = 0;

function unique(prefix) {
    serial += 1;
    return `${prefix}-${serial}`;
}

// Waits for `amount` in one budget period's spend record; records named in `oldRecords`, of
// periods that ended, are left out.
function settled(scope, id, amount = COST, oldRecords = []) {
    return spendSettled(stack.redis.port, scope, id, amount, oldRecords);
}

before(async () => {
    await stack.start();
    mock = await startMock();
    const models = pricedModels(mock);
    gw = await stack.startNode({ models });
    includingGw = await stack.startNode({ models,
        litellm: '  user_budget_includes_team_keys: true' });
});

beforeEach(async () => {
    await mock.reset();
    await mock.queue({ usage: { prompt_tokens: 90, completion_tokens: 5 }, count: 100 });
});

after(async () => {
    await mock?.stop();
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('api_key budget message is exact', async () => {
    // rpm_limit 1 would also reject the second request: budgets are checked first.
    const { key } = await stack.generate(gw, { max_budget: 0.05, rpm_limit: 1 });
    expectStatus(await chat(gw, key), 200, 'first request, spend 0.0');
    await settled('api_key', sha256(key));

    const res = await chat(gw, key);
    expectBudgetExceeded(res, 'Budget has been exceeded! Current cost: 0.095, Max budget: 0.05');
    assert.equal(await providerCalls(mock), 1, 'the provider saw only the admitted request');
});

test('budget floats print as in python', async () => {
    assert.equal(pyFloat(0.00001), '1e-05');

    const { key: tiny } = await stack.generate(gw, { max_budget: 0.00001 });
    expectStatus(await chat(gw, tiny), 200, 'spend 0.0 is below 1e-05');
    await settled('api_key', sha256(tiny));
    expectBudgetExceeded(await chat(gw, tiny),
        'Budget has been exceeded! Current cost: 0.095, Max budget: 1e-05');

    // spend >= max_budget: a budget of 0 rejects the first request.
    const { key: zero } = await stack.generate(gw, { max_budget: 0 });
    expectBudgetExceeded(await chat(gw, zero),
        'Budget has been exceeded! Current cost: 0.0, Max budget: 0.0');
    assert.equal(await providerCalls(mock), 1);
});

test('user budget message is exact', async () => {
    const userId = unique('bud-user');
    const user = await stack.ok(gw, 'POST', '/user/new', { user_id: userId, max_budget: 0.05 });
    stack.remember(user.key);
    expectStatus(await chat(gw, user.key), 200, 'first request of the user');
    await settled('user', userId);
    expectBudgetExceeded(await chat(gw, user.key),
        `ExceededBudget: User=${userId} over budget. Spend=0.095, Budget=0.05`);
    assert.equal(await providerCalls(mock), 1);
});

// Creates a user with max_budget 0.05 and its personal key, a team with the user as member,
// and a team key of the user; returns {userId, teamId, personal, teamKey}. The team's budget
// of 100 is never reached, but makes its spend visible in Redis.
async function userInTeam(node, prefix) {
    const userId = unique(prefix);
    const teamId = unique(`${prefix}-team`);
    const user = await stack.ok(node, 'POST', '/user/new', { user_id: userId, max_budget: 0.05 });
    stack.remember(user.key);
    await stack.ok(node, 'POST', '/team/new', { team_id: teamId, max_budget: 100,
        members_with_roles: [{ role: 'user', user_id: userId }] });
    const { key: teamKey } = await stack.generate(node, { team_id: teamId, user_id: userId });
    return { userId, teamId, personal: user.key, teamKey };
}

test('user budget ignores team keys', async () => {
    const { userId, teamId, personal, teamKey } = await userInTeam(gw, 'bud-excl');
    for (let i = 1; i <= 2; i++) {
        expectStatus(await chat(gw, teamKey), 200, `team key request ${i}`);
        await settled('team', teamId, COST * i);
    }
    assert.deepEqual(Object.values(spendRecords(stack.redis.port, 'user', userId))
        .filter((v) => v !== 0), [], 'team keys add nothing to the user\'s spend');

    // Spend=0.095 and not 0.285: only the personal key's request counts.
    expectStatus(await chat(gw, personal), 200, 'personal key, user spend still 0.0');
    await settled('user', userId);
    expectBudgetExceeded(await chat(gw, personal),
        `ExceededBudget: User=${userId} over budget. Spend=0.095, Budget=0.05`);
    assert.equal(await providerCalls(mock), 3);
});

test('user budget can include team keys', async () => {
    const { userId, personal, teamKey } = await userInTeam(includingGw, 'bud-incl');
    expectStatus(await chat(includingGw, teamKey), 200, 'team key request');
    await settled('user', userId);

    expectBudgetExceeded(await chat(includingGw, personal),
        `ExceededBudget: User=${userId} over budget. Spend=0.095, Budget=0.05`);
    assert.equal(await providerCalls(mock), 1);
});

test('team budget checked after key budget', async () => {
    const teamId = unique('bud-team');
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, max_budget: 0.05 });
    const { key: one } = await stack.generate(gw, { team_id: teamId });
    const { key: two } = await stack.generate(gw, { team_id: teamId });
    expectStatus(await chat(gw, one), 200, 'first team request');
    await settled('team', teamId);

    const message = `Budget has been exceeded! Team=${teamId} Current cost: 0.095, `
        + 'Max budget: 0.05';
    expectBudgetExceeded(await chat(gw, one), message);
    expectBudgetExceeded(await chat(gw, two), message);

    // Both budgets are exceeded; the key's comes first in the order of docs/limits.md.
    const { key: spent } = await stack.generate(gw, { team_id: teamId, max_budget: 0 });
    expectBudgetExceeded(await chat(gw, spent),
        'Budget has been exceeded! Current cost: 0.0, Max budget: 0.0');
    assert.equal(await providerCalls(mock), 1);
});

test('team member budget message is exact', async () => {
    const userId = unique('bud-member');
    const teamId = unique('bud-member-team');
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, team_member_budget: 0.05,
        members_with_roles: [{ role: 'user', user_id: userId }] });
    const { key } = await stack.generate(gw, { team_id: teamId, user_id: userId });
    const { key: otherMember } = await stack.generate(gw, { team_id: teamId });

    expectStatus(await chat(gw, key), 200, 'first request of the member');
    await settled('team_member', `${teamId}:${userId}`);
    expectBudgetExceeded(await chat(gw, key), `Budget has been exceeded! User=${userId} in `
        + `Team=${teamId} Current cost: 0.095, Max budget: 0.05`);
    expectStatus(await chat(gw, otherMember), 200, 'a team key without that user');
    assert.equal(await providerCalls(mock), 2);
});

test('organization budget message is exact', async () => {
    const orgId = unique('bud-org');
    const teamId = unique('bud-org-team');
    await stack.ok(gw, 'POST', '/organization/new', { organization_id: orgId,
        organization_alias: orgId, max_budget: 0.05 });
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, organization_id: orgId });
    const { key: orgKey } = await stack.generate(gw, { organization_id: orgId });
    const { key: teamKey } = await stack.generate(gw, { team_id: teamId });

    expectStatus(await chat(gw, orgKey), 200, 'first request of the organization');
    await settled('organization', orgId);
    const message = `Budget has been exceeded! Organization=${orgId} Current cost: 0.095, `
        + 'Max budget: 0.05';
    expectBudgetExceeded(await chat(gw, orgKey), message);
    expectBudgetExceeded(await chat(gw, teamKey), message);
    assert.equal(await providerCalls(mock), 1);
});

test('end user budget message is exact', async () => {
    const endUser = unique('bud-end-user');
    await stack.ok(gw, 'POST', '/customer/new', { user_id: endUser, max_budget: 0.05 });
    const { key } = await stack.generate(gw, {});

    expectStatus(await chat(gw, key, 'priced', { body: { user: endUser } }), 200,
        'first request of the end user');
    await settled('end_user', endUser);
    const message = `ExceededBudget: End User=${endUser} over budget. Spend=0.095, Budget=0.05`;
    expectBudgetExceeded(await chat(gw, key, 'priced', { body: { user: endUser } }), message);
    expectBudgetExceeded(await chat(gw, key, 'priced',
        { headers: { 'x-litellm-customer-id': endUser } }), message);
    expectStatus(await chat(gw, key), 200, 'the same key without the end user');
    assert.equal(await providerCalls(mock), 2);
});

test('zero-cost group is never blocked', async () => {
    const { key } = await stack.generate(gw, { max_budget: 0.05 });
    expectStatus(await chat(gw, key, 'priced'), 200, 'priced request');
    await settled('api_key', sha256(key));
    expectBudgetExceeded(await chat(gw, key, 'priced'),
        'Budget has been exceeded! Current cost: 0.095, Max budget: 0.05');

    for (let i = 1; i <= 3; i++) {
        expectStatus(await chat(gw, key, 'free'), 200, `free request ${i} over the budget`);
    }
    const { key: zero } = await stack.generate(gw, { max_budget: 0 });
    expectStatus(await chat(gw, zero, 'free'), 200, 'free request with a budget of 0');

    await sleep(200); // a cost, if one were wrongly added, would be settled by now
    const spend = Object.values(spendRecords(stack.redis.port, 'api_key', sha256(key)));
    assert.ok(spend.every((v) => Math.abs(v - COST) < 1e-9),
        `free requests cost nothing: spend ${JSON.stringify(spend)}`);
    assert.equal(await providerCalls(mock), 5);
});

test('soft budget flags responses only', async () => {
    const { key } = await stack.generate(gw, { soft_budget: 0.1 });
    const hash = sha256(key);
    const loggedBefore = logLines(stack, 'limits.soft_budget_crossed').length;

    const first = await chat(gw, key);
    expectStatus(first, 200, 'first request, spend 0.0');
    assert.equal(first.headers['x-sluice-soft-budget-crossed'], undefined, describe(first));
    await settled('api_key', hash);
    expectStatus(await chat(gw, key), 200, 'second request takes spend to 0.19');
    await settled('api_key', hash, 2 * COST);

    for (let i = 3; i <= 5; i++) {
        const res = await chat(gw, key);
        expectStatus(res, 200, `request ${i} over the soft budget`);
        assert.match(String(res.headers['x-sluice-soft-budget-crossed']), /\bapi_key\b/,
            `request ${i} names the scope that crossed; ${describe(res)}`);
    }
    await pollUntil(() => logLines(stack, 'limits.soft_budget_crossed').length > loggedBefore,
        'limits.soft_budget_crossed logged', 3000, 20);
    await sleep(200);
    assert.equal(logLines(stack, 'limits.soft_budget_crossed').length - loggedBefore, 1,
        'the crossing is logged once');
    assert.equal(await providerCalls(mock), 5);
});

// Waits until `periodMs` has 100 to 400 ms gone in its current period, so that several
// requests fit in one period; returns the period's index.
async function startOfPeriod(periodMs) {
    for (;;) {
        const into = Date.now() % periodMs;
        if (into >= 100 && into <= 400) {
            return Math.floor(Date.now() / periodMs);
        }
        await sleep(into < 100 ? 100 - into : periodMs - into + 100);
    }
}

test('budget resets at aligned period boundary', async () => {
    const PERIOD_MS = 3000;
    const { key: hard } = await stack.generate(gw, { max_budget: 0.05, budget_duration: '3s' });
    const { key: soft } = await stack.generate(gw, { soft_budget: 0.15, budget_duration: '3s' });
    const loggedBefore = logLines(stack, 'limits.soft_budget_crossed').length;

    const period = await startOfPeriod(PERIOD_MS);
    expectStatus(await chat(gw, hard), 200, 'first request of the period');
    await settled('api_key', sha256(hard));
    const rejected = await chat(gw, hard);
    expectStatus(await chat(gw, soft), 200, 'soft budget request 1');
    await settled('api_key', sha256(soft));
    expectStatus(await chat(gw, soft), 200, 'soft budget request 2 takes spend to 0.19');
    await settled('api_key', sha256(soft), 2 * COST);
    const flagged = await chat(gw, soft);
    assert.equal(Math.floor(Date.now() / PERIOD_MS), period,
        'the requests took longer than one 3 s period; the machine is too slow for this test');
    expectBudgetExceeded(rejected, 'Budget has been exceeded! Current cost: 0.095, '
        + 'Max budget: 0.05');
    expectStatus(flagged, 200, 'soft budget request 3');
    assert.match(String(flagged.headers['x-sluice-soft-budget-crossed']), /\bapi_key\b/,
        describe(flagged));
    await pollUntil(() => logLines(stack, 'limits.soft_budget_crossed').length > loggedBefore,
        'limits.soft_budget_crossed logged in the first period', 3000, 20);

    // Periods start at multiples of 3 s since the epoch: the next one starts with spend 0.
    const ended = [
        ...Object.keys(spendRecords(stack.redis.port, 'api_key', sha256(hard))),
        ...Object.keys(spendRecords(stack.redis.port, 'api_key', sha256(soft))),
    ];
    await sleep((period + 1) * PERIOD_MS - Date.now() + 100);
    expectStatus(await chat(gw, hard), 200, 'first request of the next period');
    await settled('api_key', sha256(hard), COST, ended);
    expectBudgetExceeded(await chat(gw, hard), 'Budget has been exceeded! Current cost: 0.095, '
        + 'Max budget: 0.05');

    const fresh = await chat(gw, soft);
    expectStatus(fresh, 200, 'soft budget request in the next period');
    assert.equal(fresh.headers['x-sluice-soft-budget-crossed'], undefined,
        `a new period starts below the soft budget; ${describe(fresh)}`);
    await settled('api_key', sha256(soft), COST, ended);
    expectStatus(await chat(gw, soft), 200, 'soft budget crossed again');
    assert.equal(Math.floor(Date.now() / PERIOD_MS), period + 1,
        'the requests took longer than one 3 s period; the machine is too slow for this test');
    await pollUntil(() => logLines(stack, 'limits.soft_budget_crossed').length >= loggedBefore + 2,
        'limits.soft_budget_crossed logged again in the next period', 3000, 20);
    assert.equal(logLines(stack, 'limits.soft_budget_crossed').length - loggedBefore, 2,
        'one log line per period');
    assert.equal(await providerCalls(mock), 7);
});

test('messages budget uses anthropic envelope', async () => {
    const { key } = await stack.generate(gw, { max_budget: 0 });
    expectBudgetExceeded(await messages(gw, key),
        'Budget has been exceeded! Current cost: 0.0, Max budget: 0.0', { anthropic: true });
    assert.equal(await providerCalls(mock), 0);
});
