// SPDX-License-Identifier: Apache-2.0
// The /key/* management API against a real PostgreSQL (migrated by sluice-coordinator) and
// Redis. The lifecycle runs generate, info, list, update, block, unblock, regenerate and delete
// and checks the rows, budget, audit_log and deleted_keys it writes. Other tests cover
// duplicate aliases, the config's upper bounds, defaults and personal-key roles, virtual keys
// as callers, a gateway without a database and wrong keys. No plaintext key may appear
// anywhere but in the one response that created it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
    expectErrorEnvelope, httpRequest, IN_CI, needs, postJson, recordKey, sleep, startGateway,
    startPostgres, startRedis,
} from './lib/harness.mjs';

await needs('gateway', 'postgres', 'redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_DIR = process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build');
const COORDINATOR = process.env.SLUICE_COORDINATOR_BIN
    || path.join(BUILD_DIR, 'coordinator/sluice-coordinator');
if (!fs.existsSync(COORDINATOR)) {
    const why = `${COORDINATOR} not found (build the sluice-coordinator target)`;
    console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
    process.exit(IN_CI ? 1 : 77);
}
const PSQL = fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql'
    : 'psql';

const MASTER_KEY = 'sk-master-keymgmt-5e1a';
const ADMIN = { authorization: `Bearer ${MASTER_KEY}` };
const KEY_SHAPE = /^sk-[A-Za-z0-9_-]{22}$/;

let pg;
let redis;
let gw;
let gwBounds;
const gateways = [];
// Every response body the tests received, to count where plaintext keys appear.
const bodies = [];
// Every plaintext key the gateways generated.
const plaintextKeys = [];

function psql(sql) {
    const res = spawnSync(PSQL, [pg.url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8' });
    assert.equal(res.status, 0, `psql failed on ${sql}: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function sha256(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

function runCoordinator(args, env) {
    return new Promise((resolve, reject) => {
        const child = spawn(COORDINATOR, args, { env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        child.on('error', reject);
        child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, out });
        });
    });
}

function config({ withDb = true, litellm = '' } = {}) {
    return `
model_list:
- model_name: gpt-4o-mini
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-unused
    api_base: http://127.0.0.1:9/v1
general_settings:
  master_key: ${MASTER_KEY}
${withDb ? `  database_url: ${pg.url}` : ''}
${litellm ? `litellm_settings:\n${litellm}` : ''}`;
}

// Waits until the workers' PostgreSQL connections serve management calls.
async function waitForDb(node) {
    const deadline = Date.now() + 15000;
    for (;;) {
        const res = await httpRequest(`${node.url}/key/list`, { headers: ADMIN });
        if (res.status === 200) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`/key/list returned ${res.status}, expected 200: ${res.body}`);
        }
        await sleep(50);
    }
}

async function startNode(opts) {
    const node = await startGateway({ config: config(opts), workers: 2,
        env: { REDIS_URL: redis.url } });
    gateways.push(node);
    if (opts?.withDb !== false) {
        await waitForDb(node);
    }
    return node;
}

async function call(node, method, route, body, headers = ADMIN) {
    const res = method === 'GET'
        ? await httpRequest(`${node.url}${route}`, { headers })
        : await postJson(`${node.url}${route}`, body, headers);
    bodies.push(res.body);
    return res;
}

async function ok(node, method, route, body) {
    const res = await call(node, method, route, body);
    assert.equal(res.status, 200, `${method} ${route}: ${res.body}`);
    return res.json();
}

async function generate(node, body) {
    const out = await ok(node, 'POST', '/key/generate', body);
    plaintextKeys.push(out.key);
    recordKey(out.key);
    return out;
}

function auditActions(hash) {
    return psql(`SELECT action FROM audit_log WHERE table_name = 'keys' AND object_id = '${hash}' `
        + 'ORDER BY id').split('\n').filter(Boolean);
}

before(async () => {
    pg = await startPostgres();
    redis = await startRedis();
    const res = await runCoordinator(['migrate'], { DATABASE_URL: pg.url });
    assert.equal(res.code, 0, `migrate failed: ${res.out}`);
    psql("INSERT INTO teams (team_id, team_alias) VALUES ('team-a', 'A')");
    psql("INSERT INTO users (user_id, user_role) VALUES ('viewer-1', 'internal_user_viewer'), "
        + "('member-1', 'internal_user')");

    gw = await startNode();
    gwBounds = await startNode({ litellm: `
  upperbound_key_generate_params:
    max_budget: 100
    duration: 30d
    tpm_limit: 1000
  default_key_generate_params:
    rpm_limit: 7
    models: [gpt-4o-mini]
  key_generation_settings:
    personal_key_generation:
      allowed_user_roles: [proxy_admin, internal_user]
` });
});

after(async () => {
    const codes = [];
    for (const node of gateways) {
        codes.push(await node.stop());
    }
    await redis?.stop();
    await pg?.stop();
    // Builds with -DSL_SANITIZE report memory errors and leaks on stderr, leaks at exit.
    for (const node of gateways) {
        assert.doesNotMatch(node.proc.stderrText, /Sanitizer|runtime error:/, node.describe());
    }
    assert.deepEqual(codes, gateways.map(() => 0), 'every gateway exits 0 after SIGTERM');
});

// ---------------------------------------------------------------- lifecycle

test('key lifecycle from generate to delete', async () => {
    const before = Date.now();
    const created = await generate(gw, {
        key_alias: 'life-1', user_id: 'life-user', models: ['gpt-4o-mini'],
        aliases: { small: 'gpt-4o-mini' }, metadata: { owner: 'qa' }, max_budget: 10,
        soft_budget: 5, tpm_limit: 500, rpm_limit: 50, max_parallel_requests: 3,
        budget_duration: '30d', duration: '1d', model_rpm_limit: { 'gpt-4o-mini': 5 },
        allowed_routes: ['/chat/completions'],
    });
    const key = created.key;
    const hash = sha256(key);
    assert.match(key, KEY_SHAPE);
    assert.equal(created.token, hash);
    assert.equal(created.token_id, hash);
    assert.equal(created.key_name, `sk-...${key.slice(-4)}`);
    assert.equal(created.key_alias, 'life-1');
    assert.equal(created.user_id, 'life-user');
    assert.deepEqual(created.models, ['gpt-4o-mini']);
    assert.deepEqual(created.aliases, { small: 'gpt-4o-mini' });
    assert.equal(created.metadata.owner, 'qa');
    assert.deepEqual(created.metadata.model_rpm_limit, { 'gpt-4o-mini': 5 });
    assert.deepEqual(created.model_rpm_limit, { 'gpt-4o-mini': 5 });
    assert.equal(created.max_budget, 10);
    assert.equal(created.soft_budget, 5);
    assert.equal(created.tpm_limit, 500);
    assert.equal(created.rpm_limit, 50);
    assert.equal(created.max_parallel_requests, 3);
    assert.equal(created.budget_duration, '30d');
    assert.deepEqual(created.allowed_routes, ['/chat/completions']);
    assert.equal(created.blocked, false);
    const expires = Date.parse(created.expires);
    assert.ok(expires >= before + 86400000 - 5000, `expires one day ahead: ${created.expires}`);
    assert.ok(expires <= Date.now() + 86400000 + 5000, `expires one day ahead: ${created.expires}`);
    assert.equal(psql(`SELECT count(*) FROM keys WHERE token = '${hash}'`), '1');
    assert.equal(psql("SELECT user_role FROM users WHERE user_id = 'life-user'"), 'internal_user');
    assert.equal(psql(`SELECT b.max_budget || ',' || b.tpm_limit FROM keys k JOIN budgets b `
        + `USING (budget_id) WHERE k.token = '${hash}'`), '10,500');

    const info = await ok(gw, 'GET', `/key/info?key=${encodeURIComponent(key)}`);
    assert.equal(info.key, hash);
    assert.equal(info.info.key_alias, 'life-1');
    assert.equal(info.info.token, undefined, 'info has no token');
    assert.equal(info.info.max_budget, 10);
    const byHash = await ok(gw, 'GET', `/key/info?key=${hash}`);
    assert.equal(byHash.info.key_name, created.key_name);

    const hashes = await ok(gw, 'GET', '/key/list?user_id=life-user');
    assert.deepEqual(hashes.keys, [hash]);
    assert.equal(hashes.total_count, 1);
    assert.equal(hashes.current_page, 1);
    assert.equal(hashes.total_pages, 1);
    const full = await ok(gw, 'GET', '/key/list?key_alias=life-1&return_full_object=true');
    assert.equal(full.keys.length, 1);
    assert.equal(full.keys[0].key_alias, 'life-1');
    assert.equal(full.keys[0].token, hash);

    const updated = await ok(gw, 'POST', '/key/update', { key, key_alias: 'life-1b',
        max_budget: 20, metadata: { owner: 'ops' } });
    assert.equal(updated.key_alias, 'life-1b');
    assert.equal(updated.max_budget, 20);
    assert.equal(updated.tpm_limit, 500, 'budget fields not sent stay');
    assert.equal(updated.metadata.owner, 'ops');
    assert.deepEqual(updated.models, ['gpt-4o-mini'], 'fields not sent stay');
    assert.equal(psql(`SELECT before_value->>'key_alias' || ',' || (updated_values->>'key_alias') `
        + `FROM audit_log WHERE object_id = '${hash}' AND action = 'updated'`), 'life-1,life-1b');

    const blocked = await ok(gw, 'POST', '/key/block', { key: hash });
    assert.equal(blocked.blocked, true);
    assert.equal(psql(`SELECT blocked FROM keys WHERE token = '${hash}'`), 't');
    const unblocked = await ok(gw, 'POST', '/key/unblock', { key });
    assert.equal(unblocked.blocked, false);

    const rotated = await ok(gw, 'POST', '/key/regenerate', { key });
    plaintextKeys.push(rotated.key);
    recordKey(rotated.key);
    const newHash = sha256(rotated.key);
    assert.match(rotated.key, KEY_SHAPE);
    assert.notEqual(rotated.key, key);
    assert.equal(rotated.token, newHash);
    assert.equal(rotated.key_alias, 'life-1b');
    assert.equal(rotated.rotation_count, 1);
    assert.equal(psql(`SELECT count(*) FROM keys WHERE token = '${hash}'`), '0',
        'the old hash is gone at once');
    assert.equal(psql(`SELECT key_alias FROM keys WHERE token = '${newHash}'`), 'life-1b');
    const oldInfo = await call(gw, 'GET', `/key/info?key=${hash}`);
    expectErrorEnvelope(assert, oldInfo, 404);
    assert.deepEqual(auditActions(hash), ['created', 'updated', 'blocked', 'unblocked']);
    assert.deepEqual(auditActions(newHash), ['rotated']);

    const deleted = await ok(gw, 'POST', '/key/delete', { keys: [rotated.key] });
    assert.deepEqual(deleted.deleted_keys, [newHash]);
    assert.equal(psql(`SELECT count(*) FROM keys WHERE token = '${newHash}'`), '0');
    assert.equal(psql(`SELECT key_alias || ',' || (key_row->>'key_alias') || ',' || deleted_by `
        + `FROM deleted_keys WHERE token = '${newHash}'`), 'life-1b,life-1b,default_user_id');
    assert.deepEqual(auditActions(newHash), ['rotated', 'deleted']);
});

test('regenerate by path and delete by alias', async () => {
    const created = await generate(gw, { key_alias: 'path-rot' });
    const res = await call(gw, 'POST', `/key/${created.key}/regenerate`, {});
    assert.equal(res.status, 200, res.body);
    const rotated = res.json();
    plaintextKeys.push(rotated.key);
    recordKey(rotated.key);
    assert.notEqual(rotated.token, created.token);
    assert.equal(psql(`SELECT count(*) FROM keys WHERE token = '${created.token}'`), '0');

    const deleted = await ok(gw, 'POST', '/key/delete', { key_aliases: ['path-rot'] });
    assert.deepEqual(deleted.deleted_keys, ['path-rot']);
    assert.equal(psql("SELECT count(*) FROM keys WHERE key_alias = 'path-rot'"), '0');
    assert.equal(psql(`SELECT count(*) FROM deleted_keys WHERE token = '${rotated.token}'`), '1');
});

test('delete of a missing key deletes nothing', async () => {
    const kept = await generate(gw, { key_alias: 'kept-1' });
    const res = await call(gw, 'POST', '/key/delete', { keys: [kept.key, 'sk-does-not-exist'] });
    const err = expectErrorEnvelope(assert, res, 404);
    assert.equal(err.type, 'not_found_error');
    assert.equal(psql(`SELECT count(*) FROM keys WHERE token = '${kept.token}'`), '1');
});

// ---------------------------------------------------------------- validation

test('duplicate alias is 400', async () => {
    await generate(gw, { key_alias: 'dup-1' });
    const res = await call(gw, 'POST', '/key/generate', { key_alias: 'dup-1' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /^Key with alias 'dup-1' already exists/);
    assert.equal(err.param, 'key_alias');
    assert.equal(psql("SELECT count(*) FROM keys WHERE key_alias = 'dup-1'"), '1');
});

test('negative max_budget is 400', async () => {
    const res = await call(gw, 'POST', '/key/generate', { max_budget: -1 });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, 'max_budget cannot be negative. Received: -1');
    assert.equal(err.param, 'max_budget');
});

test('custom key without sk- is 400', async () => {
    const res = await call(gw, 'POST', '/key/generate', { key: 'abcd-custom-wxyz' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. "
        + 'Received: abcd****wxyz');
});

test('unknown team is 400', async () => {
    const res = await call(gw, 'POST', '/key/generate', { team_id: 'no-such-team' });
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, 'team_id');
});

test('update of a missing key is 404', async () => {
    const res = await call(gw, 'POST', '/key/update', { key: 'sk-missing', key_alias: 'x' });
    expectErrorEnvelope(assert, res, 404);
});

// ---------------------------------------------------------------- config

test('upper bound violation is 400', async () => {
    let res = await call(gwBounds, 'POST', '/key/generate', { max_budget: 150 });
    let err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message,
        'max_budget is over max limit set in config - user_value=150; max_value=100');
    res = await call(gwBounds, 'POST', '/key/generate', { duration: '60d' });
    err = expectErrorEnvelope(assert, res, 400);
    assert.match(err.message, /^duration is over max limit set in config/);
    res = await call(gwBounds, 'POST', '/key/generate', { tpm_limit: 1001 });
    expectErrorEnvelope(assert, res, 400);
    assert.equal(psql("SELECT count(*) FROM budgets WHERE max_budget = 150 OR tpm_limit = 1001"),
        '0');
});

test('bounds and defaults fill left-out fields', async () => {
    const created = await generate(gwBounds, {});
    assert.equal(created.max_budget, 100);
    assert.equal(created.tpm_limit, 1000);
    assert.equal(created.rpm_limit, 7);
    assert.deepEqual(created.models, ['gpt-4o-mini']);
    const days = (Date.parse(created.expires) - Date.now()) / 86400000;
    assert.ok(days > 29.9, `expires in 30 days: ${created.expires}`);
    assert.ok(days <= 30, `expires in 30 days: ${created.expires}`);
    const explicit = await generate(gwBounds, { rpm_limit: 3, models: ['x'], max_budget: 1 });
    assert.equal(explicit.rpm_limit, 3);
    assert.deepEqual(explicit.models, ['x']);
    assert.equal(explicit.max_budget, 1);
});

test('personal key rule binds callers, not admins', async () => {
    // The rule is about who calls: the master key may still create a personal key for a
    // user whose role could not create one itself.
    const viewer = await generate(gwBounds, { user_id: 'viewer-1', key_alias: 'viewer-personal' });
    assert.equal(viewer.user_id, 'viewer-1');
    const team = await generate(gwBounds, { user_id: 'viewer-1', team_id: 'team-a' });
    assert.equal(team.team_id, 'team-a');
    const member = await generate(gwBounds, { user_id: 'member-1' });
    assert.equal(member.user_id, 'member-1');
    // An internal_user may create personal keys under this config.
    const res = await call(gwBounds, 'POST', '/key/generate', { key_alias: 'member-bounds' },
        { authorization: `Bearer ${member.key}` });
    assert.equal(res.status, 200, res.body);
    plaintextKeys.push(res.json().key);
    recordKey(res.json().key);
});

// ---------------------------------------------------------------- access

test('management with a wrong key is 401', async () => {
    const res = await call(gw, 'POST', '/key/generate', {},
        { authorization: 'Bearer sk-not-the-master' });
    const err = expectErrorEnvelope(assert, res, 401);
    assert.equal(err.type, 'token_not_found_in_db');
    const none = await call(gw, 'GET', '/key/list', undefined, {});
    expectErrorEnvelope(assert, none, 401);
    const malformed = await call(gw, 'GET', '/key/list', undefined, { authorization: 'Basic' });
    expectErrorEnvelope(assert, malformed, 401);
});

// ---------------------------------------------------------------- virtual keys as callers

function as(key) {
    return { authorization: `Bearer ${key}` };
}

// Polls until `fn` returns true. The invalidation reaches every worker at once, while the
// local cache TTL alone would take 1 s, so the default wait stays below that.
async function eventually(fn, what, timeoutMs = 800) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await fn()) {
            return;
        }
        if (Date.now() > deadline) {
            assert.fail(`${what} within ${timeoutMs} ms`);
        }
        await sleep(20);
    }
}

test('old key is 401 after regenerate', async () => {
    const created = await generate(gw, { user_id: 'member-1', key_alias: 'rot-auth' });
    const mine = await call(gw, 'GET', '/key/info', undefined, as(created.key));
    assert.equal(mine.status, 200, mine.body);
    assert.equal(mine.json().info.key_alias, 'rot-auth');
    const rotated = await ok(gw, 'POST', '/key/regenerate', { key: created.token });
    plaintextKeys.push(rotated.key);
    recordKey(rotated.key);
    const old = await call(gw, 'GET', '/key/info', undefined, as(created.key));
    const err = expectErrorEnvelope(assert, old, 401);
    assert.equal(err.type, 'token_not_found_in_db');
    const fresh = await call(gw, 'GET', '/key/info', undefined, as(rotated.key));
    assert.equal(fresh.status, 200, fresh.body);
});

test('blocked key is rejected at once', async () => {
    const created = await generate(gw, { user_id: 'member-1' });
    for (let i = 0; i < 4; i++) {
        const res = await call(gw, 'GET', '/key/info', undefined, as(created.key));
        assert.equal(res.status, 200, res.body);
    }
    await ok(gw, 'POST', '/key/block', { key: created.token });
    await eventually(async () => {
        const res = await call(gw, 'GET', '/key/info', undefined, as(created.key));
        return res.status === 401 && /Key is blocked/.test(res.json().error.message);
    }, 'the blocked key was not rejected');
});

test('internal user manages only own keys', async () => {
    const member = await generate(gw, { user_id: 'member-1', key_alias: 'member-main' });
    const other = await generate(gw, { user_id: 'someone-else', key_alias: 'other-key' });
    const headers = as(member.key);

    const own = await call(gw, 'POST', '/key/generate', { key_alias: 'member-own' }, headers);
    assert.equal(own.status, 200, own.body);
    plaintextKeys.push(own.json().key);
    recordKey(own.json().key);
    assert.equal(own.json().user_id, 'member-1');
    assert.equal(psql("SELECT created_by FROM keys WHERE key_alias = 'member-own'"), 'member-1');

    const forOther = await call(gw, 'POST', '/key/generate', { user_id: 'someone-else' },
        headers);
    const err = expectErrorEnvelope(assert, forOther, 401);
    assert.equal(err.message, 'Authentication Error, User can only create keys for themselves. '
        + 'Got user_id=someone-else, Your ID=member-1');

    const list = await call(gw, 'GET', '/key/list?size=100&return_full_object=true', undefined,
        headers);
    assert.equal(list.status, 200, list.body);
    assert.ok(list.json().keys.length >= 2);
    assert.ok(list.json().keys.every((k) => k.user_id === 'member-1'));

    for (const [route, body] of [['/key/update', { key: other.token, key_alias: 'stolen' }],
        ['/key/regenerate', { key: other.token }], ['/key/delete', { keys: [other.token] }]]) {
        const res = await call(gw, 'POST', route, body, headers);
        expectErrorEnvelope(assert, res, 404);
    }
    const info = await call(gw, 'GET', `/key/info?key=${other.token}`, undefined, headers);
    expectErrorEnvelope(assert, info, 404);
    assert.equal(psql(`SELECT key_alias || ',' || blocked FROM keys WHERE token = '${other.token}'`),
        'other-key,false');

    const block = await call(gw, 'POST', '/key/block', { key: own.json().key }, headers);
    expectErrorEnvelope(assert, block, 403);
    const unblockByUpdate = await call(gw, 'POST', '/key/update', { key: own.json().key,
        blocked: false }, headers);
    expectErrorEnvelope(assert, unblockByUpdate, 403);

    const updated = await call(gw, 'POST', '/key/update', { key: own.json().key,
        key_alias: 'member-own-2' }, headers);
    assert.equal(updated.status, 200, updated.body);
    assert.equal(psql("SELECT changed_by FROM audit_log WHERE action = 'updated' AND "
        + "updated_values->>'key_alias' = 'member-own-2'"), 'member-1');
});

test('viewer role is read-only', async () => {
    const viewer = await generate(gw, { user_id: 'viewer-1' });
    const list = await call(gw, 'GET', '/key/list', undefined, as(viewer.key));
    assert.equal(list.status, 200, list.body);
    const res = await call(gw, 'POST', '/key/generate', {}, as(viewer.key));
    const err = expectErrorEnvelope(assert, res, 403);
    assert.match(err.message, /role= internal_user_viewer/);
});

test('key without a user may not manage', async () => {
    const orphan = await generate(gw, {});
    const res = await call(gw, 'GET', '/key/list', undefined, as(orphan.key));
    const err = expectErrorEnvelope(assert, res, 401);
    assert.match(err.message, /Only proxy admin/);
});

test('no database is an error', async () => {
    const node = await startNode({ withDb: false });
    const res = await call(node, 'POST', '/key/generate', {});
    const err = expectErrorEnvelope(assert, res, 500);
    assert.equal(err.message, 'DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys');
    const list = await call(node, 'GET', '/key/list');
    expectErrorEnvelope(assert, list, 500);
});

test('wrong method is 405', async () => {
    const res = await call(gw, 'GET', '/key/generate');
    expectErrorEnvelope(assert, res, 405);
});

// Runs last: node:test runs the tests of a file in order.
test('plaintext keys appear once and never in logs', async () => {
    assert.ok(plaintextKeys.length >= 8, `keys seen: ${plaintextKeys.length}`);
    for (const key of plaintextKeys) {
        const seen = bodies.filter((b) => b.includes(key)).length;
        assert.equal(seen, 1, `a generated key appears in ${seen} responses`);
        for (const node of gateways) {
            assert.ok(!node.proc.stdoutText.includes(key), 'key in gateway stdout');
            assert.ok(!node.proc.stderrText.includes(key), 'key in gateway stderr');
        }
        assert.equal(psql('SELECT count(*) FROM (SELECT to_jsonb(k)::text AS t FROM keys k UNION '
            + 'ALL SELECT to_jsonb(a)::text FROM audit_log a UNION ALL SELECT to_jsonb(d)::text '
            + `FROM deleted_keys d) s WHERE strpos(t, '${key}') > 0`), '0', 'key in the database');
    }
});
