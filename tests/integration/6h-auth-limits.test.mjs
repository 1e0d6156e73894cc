// SPDX-License-Identifier: Apache-2.0
// The limits of every scope in a virtual key's record. Organization, team, user, membership
// and key are created with limits through the management API; one request with the key makes
// the gateway store its record in Redis (<prefix>auth:<hash>), which auth_record_dump decodes
// with the gateway's own decoder. A scope without a budget row has every limit unset (null),
// never 0.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { httpRequest, IN_CI, needs, sleep } from './lib/harness.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'postgres', 'redis');
needsCoordinator();

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_DIR = process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build');
const DUMP = process.env.SLUICE_AUTH_RECORD_DUMP_BIN
    || path.join(BUILD_DIR, 'tests/tools/auth_record_dump');
if (!fs.existsSync(DUMP)) {
    const why = `${DUMP} not found (build the auth_record_dump target)`;
    console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
    process.exit(IN_CI ? 1 : 77);
}

const stack = new MgmtStack({ masterKey: 'sk-master-limits-5e21' });
let gw;

const UNSET = {
    rpm_limit: null, tpm_limit: null, max_parallel_requests: null, max_budget: null,
    soft_budget: null, budget_duration: null,
};

// Sends requests with `key` until the gateway has stored its record in Redis, then returns
// the record, decoded. A lookup that overlaps an invalidation of the key (its creation
// publishes one) does not fill Redis, so one request is not always enough.
async function storedRecord(key) {
    const redisKey = `sluice:auth:${sha256(key)}`;
    const deadline = Date.now() + 5000;
    let lastRequest = 0;
    for (;;) {
        if (Date.now() - lastRequest >= 250) {
            const res = await httpRequest(`${gw.url}/v1/models`,
                { headers: { authorization: `Bearer ${key}` } });
            assert.equal(res.status, 200, res.body);
            lastRequest = Date.now();
        }
        const got = spawnSync('redis-cli', ['-p', String(stack.redis.port), 'GET', redisKey]);
        assert.equal(got.status, 0, `redis-cli failed: ${got.stderr}`);
        // redis-cli writes the raw value followed by one newline when stdout is not a tty.
        const value = got.stdout.subarray(0, Math.max(0, got.stdout.length - 1));
        if (value.length > 0) {
            const dump = spawnSync(DUMP, [], { input: value, encoding: 'utf8' });
            assert.equal(dump.status, 0, `auth_record_dump failed: ${dump.stderr}`);
            return JSON.parse(dump.stdout);
        }
        assert.ok(Date.now() < deadline, `${redisKey} never appeared in Redis`);
        await sleep(20);
    }
}

before(async () => {
    await stack.start();
    gw = await stack.startNode({ workers: 1 });

    await stack.ok(gw, 'POST', '/organization/new', {
        organization_id: 'o-lim', organization_alias: 'Limits', max_budget: 500,
        rpm_limit: 300, tpm_limit: 30000, budget_duration: '30d',
    });
    await stack.ok(gw, 'POST', '/team/new', {
        team_id: 't-lim', organization_id: 'o-lim', rpm_limit: 100, tpm_limit: 10000,
        max_budget: 50, budget_duration: '7d', team_member_rpm_limit: 7, team_member_budget: 4,
        model_rpm_limit: { 'gpt-4o-mini': 20 },
        model_tpm_limit: { 'gpt-4o-mini': 2000, 'gpt-4o': 5 },
    });
    const user = await stack.ok(gw, 'POST', '/user/new', {
        user_id: 'u-lim', max_budget: 25, rpm_limit: 40, max_parallel_requests: 3,
    });
    if (user.key) {
        stack.remember(user.key);
    }
    await stack.ok(gw, 'POST', '/team/member_add', {
        team_id: 't-lim', member: { role: 'user', user_id: 'u-lim' },
    });
});

after(async () => {
    stack.assertNoKeyLeaked();
    await stack.stop();
});

test('record carries the limits of every scope', async () => {
    const { key } = await stack.generate(gw, {
        user_id: 'u-lim', team_id: 't-lim', rpm_limit: 9, tpm_limit: 900,
        max_parallel_requests: 2, max_budget: 1.5, soft_budget: 1, budget_duration: '1d',
        model_rpm_limit: { 'gpt-4o-mini': 3 }, model_tpm_limit: { 'gpt-4o-mini': 300 },
        metadata: { purpose: 'limits' },
    });
    const rec = await storedRecord(key);

    assert.equal(rec.token, sha256(key));
    assert.deepEqual(rec.key_limits, {
        rpm_limit: 9, tpm_limit: 900, max_parallel_requests: 2, max_budget: 1.5,
        soft_budget: 1, budget_duration: '1d',
    });
    assert.deepEqual(rec.user_limits, {
        ...UNSET, rpm_limit: 40, max_parallel_requests: 3, max_budget: 25,
    });
    assert.deepEqual(rec.team_limits, {
        ...UNSET, rpm_limit: 100, tpm_limit: 10000, max_budget: 50, budget_duration: '7d',
    });
    assert.equal(rec.has_member, true);
    assert.deepEqual(rec.member_limits, { ...UNSET, rpm_limit: 7, max_budget: 4 },
        'a member without a budget of its own takes the team member budget');
    assert.deepEqual(rec.org_limits, {
        ...UNSET, rpm_limit: 300, tpm_limit: 30000, max_budget: 500, budget_duration: '30d',
    });
    assert.deepEqual(rec.key_model_limits,
        { 'gpt-4o-mini': { rpm_limit: 3, tpm_limit: 300 } });
    assert.deepEqual(rec.team_model_limits, {
        'gpt-4o-mini': { rpm_limit: 20, tpm_limit: 2000 },
        'gpt-4o': { rpm_limit: null, tpm_limit: 5 },
    });
});

test('membership budget of its own replaces the team member budget', async () => {
    await stack.ok(gw, 'POST', '/user/new', { user_id: 'u-own' }).then((u) => {
        if (u.key) {
            stack.remember(u.key);
        }
    });
    await stack.ok(gw, 'POST', '/team/member_add', {
        team_id: 't-lim', member: { role: 'user', user_id: 'u-own' }, max_budget_in_team: 3,
    });
    await stack.ok(gw, 'POST', '/team/member_update', {
        team_id: 't-lim', user_id: 'u-own', rpm_limit: 11,
    });
    const { key } = await stack.generate(gw, { user_id: 'u-own', team_id: 't-lim' });
    const rec = await storedRecord(key);

    assert.equal(rec.has_member, true);
    assert.deepEqual(rec.member_limits, { ...UNSET, rpm_limit: 11, max_budget: 3 });
    assert.deepEqual(rec.key_limits, UNSET, 'a key without limits has no budget row');
    assert.deepEqual(rec.user_limits, UNSET);
});

test('key without owners has every limit unset', async () => {
    const { key } = await stack.generate(gw, {});
    const rec = await storedRecord(key);

    assert.equal(rec.has_user, false);
    assert.equal(rec.has_team, false);
    assert.equal(rec.has_member, false);
    assert.equal(rec.has_org, false);
    for (const scope of ['key_limits', 'user_limits', 'team_limits', 'member_limits',
        'org_limits']) {
        assert.deepEqual(rec[scope], UNSET, scope);
    }
    assert.deepEqual(rec.key_model_limits, {});
    assert.deepEqual(rec.team_model_limits, {});
});

test('team key of a non-member has no member limits', async () => {
    const { key } = await stack.generate(gw, { team_id: 't-lim' });
    const rec = await storedRecord(key);

    assert.equal(rec.has_team, true);
    assert.equal(rec.has_member, false);
    assert.deepEqual(rec.member_limits, UNSET,
        'the team member budget applies only to members');
    assert.equal(rec.team_limits.rpm_limit, 100);
    assert.equal(rec.org_limits.rpm_limit, 300, 'the organization comes through the team');
});

test('invalid per-model entries in stored metadata are ignored', async () => {
    const { key } = await stack.generate(gw, {});
    // Written directly, as a LiteLLM database or an older writer could have left it.
    stack.psql(`UPDATE keys SET metadata = '{"model_rpm_limit": {"a": 5, "b": -1, "c": 1.5,`
        + ` "d": "7", "e": 0}, "model_tpm_limit": [1]}' WHERE token = '${sha256(key)}'`);
    const rec = await storedRecord(key);

    assert.deepEqual(rec.key_model_limits, {
        a: { rpm_limit: 5, tpm_limit: null },
        e: { rpm_limit: 0, tpm_limit: null },
    });
    assert.deepEqual(rec.key_limits, UNSET);
});
