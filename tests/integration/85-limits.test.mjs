// SPDX-License-Identifier: Apache-2.0
// Rate limits of docs/limits.md on one PostgreSQL, one Redis and the mock provider: requests,
// tokens and parallel requests for every scope (api_key, user, team, team_member,
// organization, end_user, model_per_key, model_per_team, global). Each test checks what is
// admitted up to the limit, the exact 429 and its headers after it, the x-ratelimit-* headers
// of admitted requests, and, from the mock's request log, that no rejected request reached
// the provider. Every test makes its own keys and entities, since a 60 s window outlives it.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { needs, postJson, startMock } from './lib/harness.mjs';
import {
    bearer, chat, describe, expectRateLimited, expectRemaining, expectStatus, messages,
    pollUntil, pricedModels, providerCalls, redisCli, statusCounts, windowWaitS,
} from './lib/limits.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack({ masterKey: 'sk-master-limits-85a1' });
let mock;
let gw;        // default settings, user_header_name set
let outputGw;  // token_rate_limit_type: output
let globalGw;  // global_max_parallel_requests: 2
let serial = 0;

// A name no other test uses.
function unique(prefix) {
    serial += 1;
    return `${prefix}-${serial}`;
}

// The mock answers every chat request with 90 prompt and 5 completion tokens.
async function usage95(count = 20) {
    await mock.queue({ usage: { prompt_tokens: 90, completion_tokens: 5 }, count });
}

// Waits until the settled tokens of `scope`:`id` in Redis reach `tokens`. Tokens are counted
// after the response ends, so the next request could otherwise be admitted before they are.
async function tokensSettled(scope, id, tokens) {
    const key = `sluice:rl:{${scope}:${id}}:tok`;
    await pollUntil(() => Number(redisCli(stack.redis.port, 'HGET', key, 'sum')) >= tokens,
        `${tokens} tokens settled in ${key}`, 3000, 20);
}

// Waits until no parallel slot of `scope`:`id` is held in Redis. Slots are released after
// the response ends, so a request sent right after could otherwise find them taken.
async function slotsReleased(scope, id) {
    const key = `sluice:rl:{${scope}:${id}}:par`;
    await pollUntil(() => redisCli(stack.redis.port, 'ZCARD', key) === '0',
        `parallel slots released in ${key}`, 3000, 20);
}

before(async () => {
    await stack.start();
    mock = await startMock();
    const models = pricedModels(mock);
    gw = await stack.startNode({ models, general: '  user_header_name: x-end-user-name' });
    outputGw = await stack.startNode({ models, general: '  token_rate_limit_type: output' });
    globalGw = await stack.startNode({ models, general: '  global_max_parallel_requests: 2' });
});

beforeEach(async () => {
    await mock.reset();
});

after(async () => {
    await mock?.stop();
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('api_key requests limit', async () => {
    const { key } = await stack.generate(gw, { rpm_limit: 2 });
    const firstMs = Date.now();
    const first = await chat(gw, key);
    expectStatus(first, 200, 'first request');
    expectRemaining(first, 'api_key', 'requests', 2, 1);
    const second = await chat(gw, key);
    expectStatus(second, 200, 'second request');
    expectRemaining(second, 'api_key', 'requests', 2, 0);

    const third = await chat(gw, key);
    expectRateLimited(third, { scope: 'api_key', id: sha256(key), type: 'requests', limit: 2,
        waitS: windowWaitS(firstMs) });
    // A rejected request is not counted, so retrying keeps the same reset time.
    const fourth = await chat(gw, key);
    expectRateLimited(fourth, { scope: 'api_key', id: sha256(key), type: 'requests', limit: 2,
        waitS: windowWaitS(firstMs) });
    assert.equal(fourth.headers.reset_at, third.headers.reset_at, describe(fourth));
    assert.equal(await providerCalls(mock), 2, 'the provider saw only the admitted requests');
});

test('user requests cover every key', async () => {
    const userId = unique('lim-user');
    const created = await stack.ok(gw, 'POST', '/user/new', { user_id: userId, rpm_limit: 2 });
    stack.remember(created.key);
    const { key: second } = await stack.generate(gw, { user_id: userId });

    const a = await chat(gw, created.key);
    expectStatus(a, 200, 'first key');
    expectRemaining(a, 'user', 'requests', 2, 1);
    const b = await chat(gw, second);
    expectStatus(b, 200, 'second key');
    expectRemaining(b, 'user', 'requests', 2, 0);
    for (const key of [created.key, second]) {
        expectRateLimited(await chat(gw, key), { scope: 'user', id: userId, type: 'requests',
            limit: 2 });
    }
    assert.equal(await providerCalls(mock), 2);
});

test('team requests cover every team key', async () => {
    const teamId = unique('lim-team');
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, rpm_limit: 2 });
    const { key: one } = await stack.generate(gw, { team_id: teamId });
    const { key: two } = await stack.generate(gw, { team_id: teamId });

    const a = await chat(gw, one);
    expectStatus(a, 200, 'first team key');
    expectRemaining(a, 'team', 'requests', 2, 1);
    expectStatus(await chat(gw, two), 200, 'second team key');
    expectRateLimited(await chat(gw, one), { scope: 'team', id: teamId, type: 'requests',
        limit: 2 });
    assert.equal(await providerCalls(mock), 2);
});

test('team member limit then user limit', async () => {
    const userId = unique('lim-member');
    const teamId = unique('lim-member-team');
    const personal = await stack.ok(gw, 'POST', '/user/new', { user_id: userId, rpm_limit: 2 });
    stack.remember(personal.key);
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, team_member_rpm_limit: 1,
        members_with_roles: [{ role: 'user', user_id: userId }] });
    const { key: teamKey } = await stack.generate(gw, { team_id: teamId, user_id: userId });

    const admitted = await chat(gw, teamKey);
    expectStatus(admitted, 200, 'first team key request');
    expectRemaining(admitted, 'team_member', 'requests', 1, 0);
    expectRemaining(admitted, 'user', 'requests', 2, 1);
    expectRateLimited(await chat(gw, teamKey), { scope: 'team_member', id: `${teamId}:${userId}`,
        type: 'requests', limit: 1 });

    // The team key's request counts for the user too, so the personal key gets one more.
    expectStatus(await chat(gw, personal.key), 200, 'first personal key request');
    expectRateLimited(await chat(gw, personal.key), { scope: 'user', id: userId,
        type: 'requests', limit: 2 });
    assert.equal(await providerCalls(mock), 2);
});

test('organization requests cover teams and keys', async () => {
    const orgId = unique('lim-org');
    const teamId = unique('lim-org-team');
    await stack.ok(gw, 'POST', '/organization/new', { organization_id: orgId,
        organization_alias: orgId, rpm_limit: 2 });
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, organization_id: orgId });
    const { key: teamKey } = await stack.generate(gw, { team_id: teamId });
    const { key: orgKey } = await stack.generate(gw, { organization_id: orgId });

    const a = await chat(gw, teamKey);
    expectStatus(a, 200, 'team key in the organization');
    expectRemaining(a, 'organization', 'requests', 2, 1);
    expectStatus(await chat(gw, orgKey), 200, 'key of the organization');
    expectRateLimited(await chat(gw, teamKey), { scope: 'organization', id: orgId,
        type: 'requests', limit: 2 });
    expectRateLimited(await chat(gw, orgKey), { scope: 'organization', id: orgId,
        type: 'requests', limit: 2 });
    assert.equal(await providerCalls(mock), 2);
});

test('end user named by body or header', async () => {
    const { key } = await stack.generate(gw, {});
    const byBody = unique('lim-end-user');
    const byConfigured = unique('lim-end-user');
    await stack.ok(gw, 'POST', '/customer/new', { user_id: byBody, rpm_limit: 1 });
    await stack.ok(gw, 'POST', '/customer/new', { user_id: byConfigured, rpm_limit: 1 });

    // The body's `user` and x-litellm-customer-id name the same end user.
    const first = await chat(gw, key, 'priced', { body: { user: byBody } });
    expectStatus(first, 200, 'end user in the body');
    expectRemaining(first, 'end_user', 'requests', 1, 0);
    expectRateLimited(await chat(gw, key, 'priced',
        { headers: { 'x-litellm-customer-id': byBody } }),
    { scope: 'end_user', id: byBody, type: 'requests', limit: 1 });

    // general_settings.user_header_name names a header of its own.
    expectStatus(await chat(gw, key, 'priced', { headers: { 'x-end-user-name': byConfigured } }),
        200, 'end user in user_header_name');
    expectRateLimited(await chat(gw, key, 'priced', { body: { user: byConfigured } }),
        { scope: 'end_user', id: byConfigured, type: 'requests', limit: 1 });

    // An end user without a row has no limits.
    for (let i = 0; i < 3; i++) {
        expectStatus(await chat(gw, key, 'priced', { body: { user: unique('lim-no-row') } }), 200,
            'end user without a row');
    }
    assert.equal(await providerCalls(mock), 5);
});

test('model_per_key limit is per model group', async () => {
    const { key } = await stack.generate(gw, { model_rpm_limit: { priced: 1 } });
    const first = await chat(gw, key, 'priced');
    expectStatus(first, 200, 'first priced request');
    expectRemaining(first, 'model_per_key', 'requests', 1, 0);
    expectRateLimited(await chat(gw, key, 'priced'), { scope: 'model_per_key',
        id: `${sha256(key)}:priced`, type: 'requests', limit: 1 });
    expectStatus(await chat(gw, key, 'other'), 200, 'another model group of the same key');
    expectStatus(await chat(gw, key, 'other'), 200, 'another model group of the same key');
    assert.equal(await providerCalls(mock), 3);
});

test('model_per_team limit is per model group', async () => {
    const teamId = unique('lim-model-team');
    await stack.ok(gw, 'POST', '/team/new', { team_id: teamId, model_rpm_limit: { priced: 1 } });
    const { key: one } = await stack.generate(gw, { team_id: teamId });
    const { key: two } = await stack.generate(gw, { team_id: teamId });

    const first = await chat(gw, one, 'priced');
    expectStatus(first, 200, 'first priced request of the team');
    expectRemaining(first, 'model_per_team', 'requests', 1, 0);
    expectRateLimited(await chat(gw, two, 'priced'), { scope: 'model_per_team',
        id: `${teamId}:priced`, type: 'requests', limit: 1 });
    expectStatus(await chat(gw, two, 'other'), 200, 'another model group of the team');
    assert.equal(await providerCalls(mock), 2);
});

test('tpm limit counts total tokens', async () => {
    await usage95();
    const { key } = await stack.generate(gw, { tpm_limit: 150 });
    const hash = sha256(key);

    const firstMs = Date.now();
    const first = await chat(gw, key);
    expectStatus(first, 200, 'first request');
    expectRemaining(first, 'api_key', 'tokens', 150, 150);
    await tokensSettled('api_key', hash, 95);
    // 95 < 150 is still admitted; the remaining tokens are read at admission.
    const second = await chat(gw, key);
    expectStatus(second, 200, 'second request');
    expectRemaining(second, 'api_key', 'tokens', 150, 55);
    await tokensSettled('api_key', hash, 190);

    expectRateLimited(await chat(gw, key), { scope: 'api_key', id: hash, type: 'tokens',
        limit: 150, waitS: windowWaitS(firstMs) });
    assert.equal(await providerCalls(mock), 2);
});

test('model tpm limit counts tokens', async () => {
    await usage95();
    const { key } = await stack.generate(gw, { model_tpm_limit: { priced: 150 } });
    const id = `${sha256(key)}:priced`;
    expectStatus(await chat(gw, key), 200, 'first request');
    await tokensSettled('model_per_key', id, 95);
    expectStatus(await chat(gw, key), 200, 'second request');
    await tokensSettled('model_per_key', id, 190);
    expectRateLimited(await chat(gw, key), { scope: 'model_per_key', id, type: 'tokens',
        limit: 150 });
    expectStatus(await chat(gw, key, 'other'), 200, 'another model group');
    assert.equal(await providerCalls(mock), 3);
});

test('output token type admits third call', async () => {
    await usage95();
    const { key } = await stack.generate(outputGw, { tpm_limit: 150 });
    const hash = sha256(key);
    for (let i = 1; i <= 3; i++) {
        const res = await chat(outputGw, key);
        expectStatus(res, 200, `request ${i} counts 5 output tokens of 150`);
        await tokensSettled('api_key', hash, 5 * i);
    }
    const counted = redisCli(stack.redis.port, 'HGET', `sluice:rl:{api_key:${hash}}:tok`, 'sum');
    assert.equal(Number(counted), 15, 'only completion tokens are counted');
    assert.equal(await providerCalls(mock), 3);
});

test('stream without include_usage counts tokens', async () => {
    await usage95();
    const { key } = await stack.generate(gw, { tpm_limit: 150 });
    const hash = sha256(key);
    for (let i = 1; i <= 2; i++) {
        const res = await chat(gw, key, 'priced', { body: { stream: true } });
        expectStatus(res, 200, `stream ${i}`);
        assert.match(res.body, /data: \[DONE\]/, `stream ${i} ended; ${describe(res)}`);
        assert.doesNotMatch(res.body, /"prompt_tokens"/,
            `the client did not ask for usage, so no usage chunk is passed on; ${describe(res)}`);
        await tokensSettled('api_key', hash, 95 * i);
    }
    const sent = await mock.requests();
    for (const req of sent) {
        assert.equal(JSON.parse(req.body).stream_options?.include_usage, true,
            `the provider is asked for usage: ${req.body}`);
    }
    expectRateLimited(await chat(gw, key, 'priced', { body: { stream: true } }),
        { scope: 'api_key', id: hash, type: 'tokens', limit: 150 });
    assert.equal(await providerCalls(mock), 2);
});

test('max_parallel_requests holds slots in flight', async () => {
    await mock.queue({ latency_ms: 1000, count: 3 });
    const { key } = await stack.generate(gw, { max_parallel_requests: 2 });

    const results = await Promise.all([chat(gw, key), chat(gw, key), chat(gw, key)]);
    const counts = statusCounts(results);
    assert.deepEqual(counts, { 200: 2, 429: 1 },
        `two slots for three requests: ${results.map(describe).join('\n')}`);
    const rejected = results.find((r) => r.status === 429);
    expectRateLimited(rejected, { scope: 'api_key', id: sha256(key),
        type: 'max_parallel_requests', limit: 2 });
    const left = results.filter((r) => r.status === 200)
        .map((r) => r.headers['x-ratelimit-api_key-remaining-max_parallel_requests']).sort();
    assert.deepEqual(left, ['0', '1'], `slots left at each admission: ${results.map(describe)}`);
    assert.equal(await providerCalls(mock), 2);

    // The slots are released when the responses end.
    await slotsReleased('api_key', sha256(key));
    const again = await Promise.all([chat(gw, key), chat(gw, key)]);
    assert.deepEqual(statusCounts(again), { 200: 2 }, again.map(describe).join('\n'));
});

test('global max parallel requests', async () => {
    await mock.queue({ latency_ms: 1000, count: 3 });
    const send = () => postJson(`${globalGw.url}/v1/chat/completions`,
        { model: 'priced', messages: [{ role: 'user', content: 'Say hi' }] }, stack.admin);

    const results = await Promise.all([send(), send(), send()]);
    assert.deepEqual(statusCounts(results), { 200: 2, 429: 1 },
        `the master key is limited too: ${results.map(describe).join('\n')}`);
    expectRateLimited(results.find((r) => r.status === 429), { scope: 'global', id: 'gateway',
        type: 'max_parallel_requests', limit: 2 });
    assert.equal(await providerCalls(mock), 2);
    await slotsReleased('global', 'gateway');
    expectStatus(await send(), 200, 'a slot is free again');
});

test('messages rejection uses anthropic envelope', async () => {
    const { key } = await stack.generate(gw, { rpm_limit: 1 });
    const first = await messages(gw, key);
    expectStatus(first, 200, 'first /v1/messages request');
    assert.equal(first.json().type, 'message', describe(first));
    expectRemaining(first, 'api_key', 'requests', 1, 0);

    const second = await messages(gw, key);
    expectRateLimited(second, { scope: 'api_key', id: sha256(key), type: 'requests', limit: 1,
        anthropic: true });
    assert.deepEqual(Object.keys(second.json()), ['type', 'error'], describe(second));
    // The same key is refused on the OpenAI route too, in OpenAI's envelope.
    expectRateLimited(await postJson(`${gw.url}/v1/chat/completions`,
        { model: 'priced', messages: [{ role: 'user', content: 'hi' }] }, bearer(key)),
    { scope: 'api_key', id: sha256(key), type: 'requests', limit: 1 });
    assert.equal(await providerCalls(mock), 1);
});

test('fallback chosen before the call is still limited', async () => {
    // Every request is too long for `tiny`, so the pre-call check sends it to `priced` before
    // any call is made. Admission must still count it against the key.
    const tiny = `- model_name: tiny
  litellm_params:
    model: openai/tiny-model
    api_key: sk-upstream-limits
    api_base: ${mock.url}/v1
  model_info:
    max_input_tokens: 1
`;
    const node = await stack.startNode({
        config: `${stack.config({ models: pricedModels(mock) + tiny,
            litellm: '  context_window_fallbacks: [{"tiny": ["priced"]}]' })}
router_settings:
  enable_pre_call_checks: true
`,
    });
    const { key } = await stack.generate(node, { rpm_limit: 2 });
    const firstMs = Date.now();
    for (const n of [1, 2]) {
        const res = await chat(node, key, 'tiny');
        expectStatus(res, 200, `request ${n}`);
        assert.equal(res.headers['x-litellm-attempted-fallbacks'], '1', describe(res));
    }
    const third = await chat(node, key, 'tiny');
    expectRateLimited(third, { scope: 'api_key', id: sha256(key), type: 'requests', limit: 2,
        waitS: windowWaitS(firstMs) });
    const models = (await mock.requests()).map((r) => JSON.parse(r.body).model);
    assert.deepEqual(models, ['priced-model', 'priced-model']);
});
