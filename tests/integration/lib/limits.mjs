// SPDX-License-Identifier: Apache-2.0
// What the tests of budgets and rate limits (85-87) share: priced model groups on a mock,
// request senders and a bounded pool for concurrent requests. It also has the checks of the
// 429 and 400 bodies and headers of docs/limits.md, and Python's float formatting, which the
// budget messages use. Every failed check prints the status, limit headers and body received.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { chatBody, expectErrorEnvelope, postJson, sleep } from './harness.mjs';

// USD per token of every priced group, input and output alike: 90 prompt plus 5 completion
// tokens cost 0.095.
export const PRICE = 0.001;

// model_list entries for MgmtStack.config({models}): `priced` and `other` cost PRICE per token,
// `free` sets both prices to 0 (never refused for a budget).
export function pricedModels(mock) {
    const group = (name, price) => `- model_name: ${name}
  litellm_params:
    model: openai/${name}-model
    api_key: sk-upstream-limits
    api_base: ${mock.url}/v1
    input_cost_per_token: ${price}
    output_cost_per_token: ${price}
`;
    return group('priced', PRICE) + group('other', PRICE) + group('free', 0);
}

export function bearer(key) {
    return { authorization: `Bearer ${key}` };
}

// Sends one chat completion for `model` with `key`. opts: {body: extra body fields, headers}.
export function chat(node, key, model = 'priced', opts = {}) {
    return postJson(`${node.url}/v1/chat/completions`, chatBody(model, opts.body),
        { ...bearer(key), ...opts.headers });
}

// Sends one Anthropic Messages request for `model` with `key`.
export function messages(node, key, model = 'priced') {
    return postJson(`${node.url}/v1/messages`, { model, max_tokens: 16,
        messages: [{ role: 'user', content: 'Say hi' }] }, bearer(key));
}

// The headers a failed check prints: the rate limit ones and any other Sluice header.
function limitHeaders(res) {
    const out = {};
    for (const [name, value] of Object.entries(res.headers || {})) {
        if (/^(x-ratelimit-|x-sluice-|retry-after$|rate_limit_type$|reset_at$)/.test(name)) {
            out[name] = value;
        }
    }
    return out;
}

// One line describing a response, for assert messages; bodies over 1,000 characters are cut.
export function describe(res) {
    const body = res.body.length > 1000 ? `${res.body.slice(0, 1000)}...` : res.body;
    return `status ${res.status}, headers ${JSON.stringify(limitHeaders(res))}, body ${body}`;
}

export function expectStatus(res, status, what) {
    assert.equal(res.status, status, `${what}: expected ${status}, got ${describe(res)}`);
}

// Counts the statuses of a list of responses, e.g. {200: 100, 429: 200}.
export function statusCounts(responses) {
    const counts = {};
    for (const res of responses) {
        counts[res.status] = (counts[res.status] || 0) + 1;
    }
    return counts;
}

// Provider calls the mock logged since its last reset.
export async function providerCalls(mock) {
    return (await mock.requests()).filter((r) => r.path.startsWith('/v1/')).length;
}

// Runs `count` calls of task(i) with at most `concurrency` in flight; returns their results.
export async function pool(count, concurrency, task) {
    const results = new Array(count);
    let next = 0;
    const worker = async () => {
        while (next < count) {
            const i = next;
            next += 1;
            results[i] = await task(i);
        }
    };
    await Promise.all(Array.from({ length: Math.min(count, concurrency) }, worker));
    return results;
}

// Polls fn() every `stepMs` until it returns a truthy value, which it returns; fails after
// timeoutMs with `what` and the last value.
export async function pollUntil(fn, what, timeoutMs = 10000, stepMs = 100) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        last = await fn();
        if (last) {
            return last;
        }
        if (Date.now() > deadline) {
            assert.fail(`${what} within ${timeoutMs} ms; last result: ${JSON.stringify(last)}`);
        }
        await sleep(stepMs);
    }
}

// Formats a float as Python's repr() does, with the shortest digits that read back as the same
// double. Decimal exponents in [-4, 16) get fixed notation, with ".0" for whole numbers, and
// the others scientific notation with a two-digit exponent (0.095, 10.0, 1e-05, 1.5e+16).
export function pyFloat(x) {
    if (x === 0) {
        return Object.is(x, -0) ? '-0.0' : '0.0';
    }
    const [mantissa, expText] = x.toExponential().split('e');
    const exp = Number(expText);
    if (exp < -4 || exp >= 16) {
        const sign = exp < 0 ? '-' : '+';
        return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
    }
    const fixed = x.toFixed(Math.max(0, mantissa.replace(/^-?\d\.?/, '').length - exp));
    return fixed.includes('.') ? fixed : `${fixed}.0`;
}

function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// "2026-12-05 10:15:07" (UTC) in milliseconds since the epoch.
function parseResetAt(text) {
    return Date.parse(`${text.replace(' ', 'T')}Z`);
}

// Checks a 429 of docs/limits.md for `scope` (`id` as in the message) and `type` (requests,
// tokens or max_parallel_requests) with limit `limit`. `waitS`, when given, is the expected
// wait in seconds: retry-after must be within 2 s of it. `anthropic` selects the
// /v1/messages envelope. Returns {retryAfter, resetAtMs}.
export function expectRateLimited(res, { scope, id, type, limit, waitS, anthropic = false }) {
    const what = `429 for ${scope} ${type}`;
    const checkedAt = Date.now();
    let message;
    if (anthropic) {
        expectStatus(res, 429, what);
        const body = JSON.parse(res.body);
        assert.equal(body.type, 'error', `${what}: Anthropic envelope; ${describe(res)}`);
        assert.equal(body.error?.type, 'rate_limit_error', `${what}: ${describe(res)}`);
        message = body.error.message;
    } else {
        expectStatus(res, 429, what);
        const err = expectErrorEnvelope(assert, res, 429);
        assert.equal(err.type, 'rate_limit_error', `${what}: error.type; ${describe(res)}`);
        assert.equal(err.param, null, `${what}: error.param; ${describe(res)}`);
        message = err.message;
    }

    const pattern = new RegExp(`^Rate limit exceeded for ${scope}: ${escapeRegExp(id)}\\. `
        + `Limit type: ${type}\\. Current limit: ${limit}, Remaining: 0\\. `
        + 'Limit resets at: (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d) UTC$');
    const match = pattern.exec(message);
    assert.ok(match, `${what}: message ${JSON.stringify(message)} does not match ${pattern}; `
        + describe(res));

    const retryText = String(res.headers['retry-after'] ?? '');
    assert.match(retryText, /^\d+$/, `${what}: retry-after is whole seconds; ${describe(res)}`);
    const retryAfter = Number(retryText);
    assert.ok(retryAfter >= 1, `${what}: retry-after ${retryAfter} < 1; ${describe(res)}`);
    assert.ok(retryAfter <= 60, `${what}: retry-after ${retryAfter} > 60; ${describe(res)}`);
    assert.equal(res.headers.rate_limit_type, type, `${what}: rate_limit_type; ${describe(res)}`);
    assert.equal(res.headers.reset_at, `${match[1]} UTC`,
        `${what}: reset_at header equals the message's reset time; ${describe(res)}`);

    const resetAtMs = parseResetAt(match[1]);
    if (type === 'max_parallel_requests') {
        assert.equal(retryAfter, 1,
            `${what}: a parallel slot is retried after 1 s; ${describe(res)}`);
    } else {
        // reset_at has whole seconds and retry-after is rounded up, so they agree within 2 s.
        const untilReset = (resetAtMs - checkedAt) / 1000;
        assert.ok(Math.abs(untilReset - retryAfter) <= 2,
            `${what}: reset_at is ${untilReset.toFixed(1)} s away but retry-after is `
            + `${retryAfter}; ${describe(res)}`);
    }
    if (waitS !== undefined) {
        assert.ok(Math.abs(retryAfter - waitS) <= 2,
            `${what}: retry-after ${retryAfter}, expected about ${waitS.toFixed(1)}; `
            + describe(res));
    }
    return { retryAfter, resetAtMs };
}

// The wait in seconds, seen from now, until a unit counted at `admittedMs` leaves the sliding
// window: it counts while its second is one of the last 60.
export function windowWaitS(admittedMs) {
    return ((Math.floor(admittedMs / 1000) + 60) * 1000 - Date.now()) / 1000;
}

// Checks a 400 budget_exceeded with exactly `message`; `anthropic` selects the /v1/messages
// envelope, where every 400 has the type invalid_request_error.
export function expectBudgetExceeded(res, message, { anthropic = false } = {}) {
    const what = 'budget_exceeded 400';
    expectStatus(res, 400, what);
    if (anthropic) {
        const body = JSON.parse(res.body);
        assert.equal(body.type, 'error', `${what}: Anthropic envelope; ${describe(res)}`);
        assert.equal(body.error?.type, 'invalid_request_error', `${what}: ${describe(res)}`);
        assert.equal(body.error.message, message, `${what}: message; ${describe(res)}`);
        return;
    }
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.type, 'budget_exceeded', `${what}: error.type; ${describe(res)}`);
    assert.equal(err.message, message, `${what}: message; ${describe(res)}`);
}

// Checks the success headers x-ratelimit-{scope}-limit-{type} and -remaining-{type}.
export function expectRemaining(res, scope, type, limit, remaining) {
    const limitName = `x-ratelimit-${scope}-limit-${type}`;
    const remainingName = `x-ratelimit-${scope}-remaining-${type}`;
    assert.equal(res.headers[limitName], String(limit), `${limitName}; ${describe(res)}`);
    assert.equal(res.headers[remainingName], String(remaining),
        `${remainingName}; ${describe(res)}`);
}

// Runs redis-cli against `port`; returns its trimmed output.
export function redisCli(port, ...args) {
    const res = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args.join(' ')} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

// The spend of every budget period of `scope`:`id` in Redis, by period key.
export function spendRecords(redisPort, scope, id) {
    const pattern = `sluice:spend:{${scope}:${id}}:*`;
    const keys = redisCli(redisPort, '--scan', '--pattern', pattern).split('\n').filter(Boolean);
    return Object.fromEntries(keys.map((k) => [k, Number(redisCli(redisPort, 'GET', k))]));
}

// Waits until one period's spend of `scope`:`id` reaches `amount` USD, leaving out the
// records named in `oldRecords`. Spend is added after the response ends, so the next request
// could otherwise be checked before it is.
export async function spendSettled(redisPort, scope, id, amount, oldRecords = []) {
    await pollUntil(() => Object.entries(spendRecords(redisPort, scope, id))
        .some(([record, v]) => !oldRecords.includes(record) && v >= amount - 1e-9),
    `spend ${amount} of ${scope} ${id} in Redis`, 3000, 20);
}

// Log lines with `event` written so far by every gateway of `stack`.
export function logLines(stack, event) {
    return stack.gateways.flatMap((node) => node.logs.filter((e) => e.event === event));
}
