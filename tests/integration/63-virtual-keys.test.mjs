// SPDX-License-Identifier: Apache-2.0
// Virtual keys against a real PostgreSQL and Redis. Keys are found by their SHA-256, and
// unknown, blocked, expired, team-blocked and non-sk keys get LiteLLM's exact errors. Model
// access follows the key, team, user and organization lists. An invalidation reaches two
// gateways that share Redis and PostgreSQL, cached keys keep working while PostgreSQL is down,
// and no key appears in any gateway output.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
    chatBody, expectErrorEnvelope, httpRequest, IN_CI, needs, postJson, recordKey, sleep,
    startGateway, startMock, startPostgres, startRedis,
} from './lib/harness.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');

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

const MASTER_KEY = 'sk-master-vkeys-71c3';
const UPSTREAM_KEY = 'sk-upstream-vkeys';
const CHANNEL = 'sluice:auth:invalidate';

let mock;
let pg;
let redis;
let dbUrl;
let pgRunning = false;
let gwA;
let gwB;
const extraGateways = [];
// Every key handed to a gateway, so the output check can look for each.
const usedKeys = [MASTER_KEY];

function psqlOk(sql) {
    const res = spawnSync(PSQL, [dbUrl, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8' });
    assert.equal(res.status, 0, `psql failed on ${sql}: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function redisCli(...args) {
    const res = spawnSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, `redis-cli ${args.join(' ')} failed: ${res.stderr}`);
    return (res.stdout || '').trim();
}

function sha256(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

function sqlText(value) {
    return value === null || value === undefined ? 'NULL' : `'${String(value).replace(/'/g, "''")}'`;
}

function sqlArray(list) {
    return `ARRAY[${list.map(sqlText).join(',')}]::text[]`;
}

// Inserts a key row and returns the key; only its hash reaches the database.
function newKey({ models = [], userId = null, teamId = null, orgId = null, blocked = false,
    expires = null } = {}) {
    const key = `sk-${crypto.randomBytes(16).toString('hex')}`;
    usedKeys.push(key);
    recordKey(key);
    psqlOk('INSERT INTO keys (token, key_name, user_id, team_id, organization_id, models, '
        + `blocked, expires) VALUES (${sqlText(sha256(key))}, ${sqlText(`sk-...${key.slice(-4)}`)}, `
        + `${sqlText(userId)}, ${sqlText(teamId)}, ${sqlText(orgId)}, ${sqlArray(models)}, `
        + `${blocked}, ${expires === null ? 'NULL' : sqlText(expires)})`);
    return key;
}

function runCoordinator(args, env) {
    return new Promise((resolve, reject) => {
        const fullEnv = { ...process.env, ...env };
        const child = spawn(COORDINATOR, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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

function config(extraGeneral = '') {
    const group = (name, model, extra = '') => `
- model_name: ${name}
  litellm_params:
    model: ${model}
    api_key: ${UPSTREAM_KEY}
    api_base: ${mock.url}/v1${extra}`;
    return `
model_list:${group('gpt-4o-mini', 'openai/gpt-4o-mini')}${group('gpt-4o-mini-2', 'openai/gpt-4o-mini-2')}${group('gpt-4o', 'openai/gpt-4o')}${group('openai/gpt-4o', 'openai/gpt-4o')}${group('beta-chat', 'openai/gpt-4o-mini', `
  model_info:
    access_groups: [beta-models]`)}${group('claude-x', 'anthropic/claude-sonnet-4-5')}
general_settings:
  master_key: ${MASTER_KEY}
  database_url: ${dbUrl}
${extraGeneral}`;
}

function startNode(extraGeneral = '') {
    return startGateway({ config: config(extraGeneral), workers: 2, env: { REDIS_URL: redis.url } });
}

before(async () => {
    mock = await startMock();
    pg = await startPostgres();
    pgRunning = true;
    redis = await startRedis();
    dbUrl = pg.url;
    const res = await runCoordinator(['migrate'], { DATABASE_URL: dbUrl });
    assert.equal(res.code, 0, `migrate failed: ${res.out}`);

    psqlOk("INSERT INTO organizations (organization_id, organization_alias, models) VALUES "
        + "('org-narrow', 'narrow', ARRAY['gpt-4o']::text[])");
    psqlOk("INSERT INTO teams (team_id, models) VALUES ('team-open', '{}'), "
        + "('team-narrow', ARRAY['claude-x']::text[])");
    psqlOk("INSERT INTO teams (team_id, blocked) VALUES ('team-blocked', true)");
    psqlOk("INSERT INTO users (user_id, models) VALUES ('user-narrow', ARRAY['gpt-4o']::text[]), "
        + "('user-open', '{}')");

    gwA = await startNode();
    gwB = await startNode();
});

after(async () => {
    for (const g of [gwA, gwB, ...extraGateways]) {
        await g?.stop();
    }
    await mock?.stop();
    await redis?.stop();
    if (pgRunning) {
        await pg.stop();
    }
});

function chat(gw, key, model = 'gpt-4o-mini') {
    return postJson(`${gw.url}/v1/chat/completions`, chatBody(model),
        { authorization: `Bearer ${key}` });
}

async function expectChatOk(gw, key, model = 'gpt-4o-mini') {
    const res = await chat(gw, key, model);
    assert.equal(res.status, 200, `status; body: ${res.body}`);
    assert.equal(res.json().object, 'chat.completion');
}

async function expectDenied(key, model, type, allowed) {
    const res = await chat(gwA, key, model);
    const err = expectErrorEnvelope(assert, res, 401);
    const scope = type.split('_')[0];
    assert.equal(err.type, type);
    assert.equal(err.param, 'model');
    assert.equal(err.message, `${scope} not allowed to access model. This ${scope} can only `
        + `access models=${allowed}. Tried to access ${model}`);
}

// ---------------------------------------------------------------- the key itself

test('valid key reaches the provider', async () => {
    await mock.reset();
    const key = newKey();
    await expectChatOk(gwA, key);
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);
});

test('valid key from redis on second node', async () => {
    const key = newKey();
    await expectChatOk(gwA, key);
    const record = redisCli('--no-raw', 'EXISTS', `sluice:auth:${sha256(key)}`);
    assert.match(record, /1/, 'the record was written to Redis');
    await expectChatOk(gwB, key);
});

test('master key still works', async () => {
    await expectChatOk(gwA, MASTER_KEY);
});

test('unknown key is token_not_found_in_db', async () => {
    const key = `sk-${crypto.randomBytes(16).toString('hex')}`;
    usedKeys.push(key);
    recordKey(key);
    const err = expectErrorEnvelope(assert, await chat(gwA, key), 401);
    assert.equal(err.type, 'token_not_found_in_db');
    assert.equal(err.param, 'key');
    assert.equal(err.message, 'Authentication Error, Invalid proxy server token passed. Received '
        + `API Key = sk-...${key.slice(-4)}, Key Hash (Token) =${sha256(key)}. Unable to find token `
        + 'in cache or `LiteLLM_VerificationTokenTable`');
});

test('blocked key is 401', async () => {
    const key = newKey({ blocked: true });
    const err = expectErrorEnvelope(assert, await chat(gwA, key), 401);
    assert.equal(err.type, 'auth_error');
    assert.equal(err.message,
        'Authentication Error, Key is blocked. Update via `/key/unblock` if you\'re admin.');
});

test('expired key is 400 expired_key', async () => {
    const key = newKey({ expires: '2024-01-02 03:04:05+00' });
    const err = expectErrorEnvelope(assert, await chat(gwA, key), 400);
    assert.equal(err.type, 'expired_key');
    assert.equal(err.param, `sk-...${key.slice(-4)}`);
    assert.match(err.message, /^Authentication Error - Expired Key\. Key Expiry time 2024-01-02 03:04:05\+00:00 and current time \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$/);
});

test('key expiring later works', async () => {
    const key = newKey({ expires: new Date(Date.now() + 3600e3).toISOString() });
    await expectChatOk(gwA, key);
});

test('key of blocked team is 401', async () => {
    const key = newKey({ teamId: 'team-blocked' });
    const err = expectErrorEnvelope(assert, await chat(gwA, key), 401);
    assert.equal(err.type, 'auth_error');
    assert.equal(err.message, 'Authentication Error, Team=team-blocked is blocked. Update via '
        + '`/team/unblock` if your admin.');
});

test('key without sk- prefix is 401', async () => {
    const key = `xk-${crypto.randomBytes(16).toString('hex')}`;
    usedKeys.push(key);
    recordKey(key);
    const err = expectErrorEnvelope(assert, await chat(gwA, key), 401);
    assert.equal(err.type, 'auth_error');
    assert.equal(err.message, 'Authentication Error, LiteLLM Virtual Key expected. Received='
        + `${key.slice(0, 4)}****${key.slice(-4)}, expected to start with 'sk-'.`);
});

test('unknown key on messages uses anthropic envelope', async () => {
    const key = `sk-${crypto.randomBytes(16).toString('hex')}`;
    usedKeys.push(key);
    recordKey(key);
    const res = await postJson(`${gwA.url}/v1/messages`,
        { model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
        { 'x-api-key': key });
    assert.equal(res.status, 401, res.body);
    const body = res.json();
    assert.equal(body.type, 'error');
    // Anthropic's SDKs know only Anthropic's error types; a 401 is authentication_error.
    assert.equal(body.error.type, 'authentication_error');
    assert.ok(body.error.message.includes(`Key Hash (Token) =${sha256(key)}`), body.error.message);
});

test('valid key on messages route', async () => {
    const key = newKey({ models: ['gpt-4o-mini'] });
    const res = await postJson(`${gwA.url}/v1/messages`,
        { model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
        { 'x-api-key': key });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().type, 'message');
});

test('denied model on messages route', async () => {
    const key = newKey({ models: ['gpt-4o-mini'] });
    const res = await postJson(`${gwA.url}/v1/messages`,
        { model: 'gpt-4o', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
        { 'x-api-key': key });
    assert.equal(res.status, 401, res.body);
    const body = res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.message, "key not allowed to access model. This key can only access "
        + "models=['gpt-4o-mini']. Tried to access gpt-4o");
});

// ---------------------------------------------------------------- model access

test('access exact model allowed', async () => {
    await expectChatOk(gwA, newKey({ models: ['gpt-4o-mini'] }), 'gpt-4o-mini');
});

test('access longer lookalike denied', async () => {
    await expectDenied(newKey({ models: ['gpt-4o-mini'] }), 'gpt-4o-mini-2',
        'key_model_access_denied', "['gpt-4o-mini']");
});

test('access query string model ignored', async () => {
    // Only the JSON body names the model: an allowed name in the query string widens nothing.
    const key = newKey({ models: ['gpt-4o-mini'] });
    const res = await postJson(`${gwA.url}/v1/chat/completions?model=gpt-4o-mini`,
        chatBody('gpt-4o'), { authorization: `Bearer ${key}` });
    const err = expectErrorEnvelope(assert, res, 401);
    assert.equal(err.type, 'key_model_access_denied');
    assert.match(err.message, /Tried to access gpt-4o$/);
    const allowed = await postJson(`${gwA.url}/v1/chat/completions?model=gpt-4o`,
        chatBody('gpt-4o-mini'), { authorization: `Bearer ${key}` });
    assert.equal(allowed.status, 200, allowed.body);
});

test('access shorter lookalike denied', async () => {
    await expectDenied(newKey({ models: ['gpt-4o-mini'] }), 'gpt-4o',
        'key_model_access_denied', "['gpt-4o-mini']");
});

test('access provider prefixed lookalike denied', async () => {
    await expectDenied(newKey({ models: ['gpt-4o'] }), 'openai/gpt-4o',
        'key_model_access_denied', "['gpt-4o']");
});

test('access group allows member', async () => {
    await expectChatOk(gwA, newKey({ models: ['beta-models'] }), 'beta-chat');
});

test('access group denies non-member', async () => {
    await expectDenied(newKey({ models: ['beta-models'] }), 'gpt-4o-mini',
        'key_model_access_denied', "['beta-models']");
});

test('access wildcard allows provider', async () => {
    await expectChatOk(gwA, newKey({ models: ['openai/*'] }), 'gpt-4o');
});

test('access wildcard denies other provider', async () => {
    await expectDenied(newKey({ models: ['openai/*'] }), 'claude-x',
        'key_model_access_denied', "['openai/*']");
});

test('access team list denies', async () => {
    await expectDenied(newKey({ teamId: 'team-narrow' }), 'gpt-4o-mini',
        'team_model_access_denied', "['claude-x']");
});

test('access all-team-models defers to team', async () => {
    const key = newKey({ models: ['all-team-models'], teamId: 'team-narrow' });
    await expectDenied(key, 'gpt-4o-mini', 'team_model_access_denied', "['claude-x']");
});

test('access all-team-models with open team', async () => {
    await expectChatOk(gwA, newKey({ models: ['all-team-models'], teamId: 'team-open' }));
});

test('access user list denies personal key', async () => {
    await expectDenied(newKey({ userId: 'user-narrow' }), 'gpt-4o-mini',
        'user_model_access_denied', "['gpt-4o']");
});

test('access user list ignored for team key', async () => {
    await expectChatOk(gwA, newKey({ userId: 'user-narrow', teamId: 'team-open' }));
});

test('access org list denies', async () => {
    await expectDenied(newKey({ orgId: 'org-narrow' }), 'gpt-4o-mini',
        'org_model_access_denied', "['gpt-4o']");
});

test('access unknown model denied before routing', async () => {
    await expectDenied(newKey({ models: ['gpt-4o'] }), 'no-such-model',
        'key_model_access_denied', "['gpt-4o']");
});

test('models list filtered by key', async () => {
    const key = newKey({ models: ['gpt-4o-mini', 'beta-models'] });
    const res = await httpRequest(`${gwA.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json().data.map((m) => m.id), ['gpt-4o-mini', 'beta-chat']);
});

test('models list full for master key', async () => {
    const res = await httpRequest(`${gwA.url}/v1/models`,
        { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().data.length, 6);
});

// ---------------------------------------------------------------- invalidation

test('invalidation reaches both nodes', async () => {
    const key = newKey();
    const hash = sha256(key);
    // Warm every worker's local cache on both nodes (each request is a new connection).
    for (let i = 0; i < 6; i++) {
        await expectChatOk(gwA, key);
        await expectChatOk(gwB, key);
    }

    psqlOk(`UPDATE keys SET blocked = true WHERE token = '${hash}'`);
    redisCli('DEL', `sluice:auth:${hash}`);
    const receivers = Number(redisCli('PUBLISH', CHANNEL, hash));
    assert.equal(receivers, 4, 'two workers on each of two nodes are subscribed');
    const published = Date.now();

    // Well within the local TTL: only the message can have dropped the cached records.
    await sleep(100);
    for (let i = 0; i < 6; i++) {
        for (const gw of [gwA, gwB]) {
            const err = expectErrorEnvelope(assert, await chat(gw, key), 401);
            assert.match(err.message, /Key is blocked/);
        }
    }
    assert.ok(Date.now() - published < 1000, `took ${Date.now() - published} ms`);
});

test('lost message heals within a second', async () => {
    const key = newKey();
    const hash = sha256(key);
    await expectChatOk(gwA, key);
    psqlOk(`UPDATE keys SET blocked = true WHERE token = '${hash}'`);
    redisCli('DEL', `sluice:auth:${hash}`);
    // No PUBLISH: the local entry expires after at most one second.
    await sleep(1100);
    for (let i = 0; i < 4; i++) {
        expectErrorEnvelope(assert, await chat(gwA, key), 401);
    }
});

test('node without redis reads postgres', async () => {
    const local = await startGateway({ config: config(), workers: 2 });
    extraGateways.push(local);
    const key = newKey({ models: ['gpt-4o-mini'] });
    await expectChatOk(local, key);
    await expectChatOk(local, key);
    const res = await chat(local, key, 'gpt-4o');
    assert.equal(expectErrorEnvelope(assert, res, 401).type, 'key_model_access_denied');
    assert.equal(redisCli('--no-raw', 'EXISTS', `sluice:auth:${sha256(key)}`), '(integer) 0',
        'a node without Redis writes no record');
});

// ---------------------------------------------------------------- PostgreSQL down

test('database down keeps cached keys', async () => {
    const cached = newKey();
    await expectChatOk(gwA, cached);
    const unknown = `sk-${crypto.randomBytes(16).toString('hex')}`;
    usedKeys.push(unknown);
    recordKey(unknown);

    await pg.stop();
    pgRunning = false;
    const open = await startNode('  allow_requests_on_db_unavailable: true');
    extraGateways.push(open);

    // The record is in Redis (60 s) even once the local entry is older than a second.
    await sleep(1100);
    await expectChatOk(gwA, cached);
    await expectChatOk(gwB, cached);

    const err = expectErrorEnvelope(assert, await chat(gwA, unknown), 401);
    assert.equal(err.type, 'auth_error');
    assert.equal(err.message, 'Authentication Error, the database is unavailable, so the key cannot be checked; retry later');

    // The option lets a key no cache holds through.
    await expectChatOk(open, unknown);
});

test('gateways exit cleanly', async () => {
    for (const gw of [gwA, gwB, ...extraGateways]) {
        const code = await gw.stop('SIGTERM', 10000);
        const stderr = gw.proc.stderrText;
        assert.ok(!/Sanitizer|runtime error/.test(stderr), `sanitizer report:\n${stderr.slice(-4000)}`);
        assert.equal(code, 0, `exit status; stderr:\n${stderr.slice(-4000)}`);
    }
});

// Runs after the gateways exited, so their whole output is checked.
test('no key in gateway output', async () => {
    for (const gw of [gwA, gwB, ...extraGateways]) {
        const text = gw.proc.stdoutText + gw.proc.stderrText;
        assert.ok(text.length > 0, 'the gateway wrote logs');
        for (const key of usedKeys) {
            assert.ok(!text.includes(key), `a key (ending ${key.slice(-4)}) appears in the output`);
        }
    }
});
