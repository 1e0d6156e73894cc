// SPDX-License-Identifier: Apache-2.0
// Models stored in PostgreSQL through /model/new, /model/update, PATCH /model/<id>/update and
// /model/delete, served by two gateway nodes that share the database and Redis. Both nodes
// must route a new model within about a second without a restart, follow updates, and return
// the unknown-model 400 after a delete. The upstream api_key must never appear in a response,
// and the row must hold it only as AES-256-GCM ciphertext, which Node's crypto decrypts with
// the same key derivation (SHA-256 of the salt key). Writes need proxy_admin and
// general_settings.store_model_in_db.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
    chatBody, httpRequest, IN_CI, needs, postJson, sleep, startGateway, startMock, startPostgres,
    startRedis,
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

const MASTER_KEY = 'sk-master-dbmodels-9c2e';
const SALT_KEY = 'salt-dbmodels-4f81d2';
const ADMIN = { authorization: `Bearer ${MASTER_KEY}` };
const UPSTREAM_KEY = 'sk-upstream-dbmodels-7a3b5c';
const UPSTREAM_KEY_2 = 'sk-upstream-dbmodels-rotated-0d9e';
const AWS_SECRET = 'aws-secret-dbmodels-51fe';

let pg;
let redis;
let mock;
let nodeA;
let nodeB;
let nodeNoStore;
const gateways = [];
// Every response body the tests received, to check that no credential leaks.
const bodies = [];

function psql(sql) {
    const res = spawnSync(PSQL, [pg.url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8' });
    assert.equal(res.status, 0, `psql failed on ${sql}: ${res.stderr}`);
    return (res.stdout || '').trim();
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

function config({ store = true } = {}) {
    return `
model_list:
- model_name: config-model
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-config-upstream-unused
    api_base: ${mock.url}/v1
general_settings:
  master_key: ${MASTER_KEY}
  database_url: ${pg.url}
  store_model_in_db: ${store}
  model_reload_interval: 60
`;
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
        env: { REDIS_URL: redis.url, SLUICE_SALT_KEY: SALT_KEY } });
    gateways.push(node);
    await waitForDb(node);
    return node;
}

async function call(node, method, route, body, headers = ADMIN) {
    let res;
    if (method === 'GET') {
        res = await httpRequest(`${node.url}${route}`, { headers });
    } else if (method === 'POST') {
        res = await postJson(`${node.url}${route}`, body, headers);
    } else {
        res = await httpRequest(`${node.url}${route}`, { method, headers: {
            ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    }
    bodies.push(res.body);
    return res;
}

async function ok(node, method, route, body) {
    const res = await call(node, method, route, body);
    assert.equal(res.status, 200, `${method} ${route}: ${res.body}`);
    return res.json();
}

function chat(node, model, headers = ADMIN) {
    return call(node, 'POST', '/v1/chat/completions', chatBody(model), headers);
}

// Sends chat requests to `node` until `predicate(status)` holds for 6 responses in a row, so
// that both of its workers (each with its own router) have served one with high likelihood.
async function waitForChat(node, model, predicate, what) {
    const deadline = Date.now() + 1500;
    let streak = 0;
    let last;
    while (streak < 6) {
        last = await chat(node, model);
        streak = predicate(last.status) ? streak + 1 : 0;
        if (streak < 6 && Date.now() > deadline) {
            throw new Error(`${what}: last answer ${last.status} ${last.body}`);
        }
    }
    return last;
}

function decryptRow(modelId) {
    const [cipherHex, nonceHex] = psql('SELECT encode(secret_ciphertext, \'hex\') || \' \' || '
        + `encode(secret_nonce, 'hex') FROM models WHERE model_id = '${modelId}'`).split(' ');
    const sealed = Buffer.from(cipherHex, 'hex');
    const key = crypto.createHash('sha256').update(SALT_KEY).digest();
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(nonceHex, 'hex'));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)),
        decipher.final()]);
    return { sealed, secrets: JSON.parse(plain.toString('utf8')) };
}

before(async () => {
    pg = await startPostgres();
    redis = await startRedis();
    mock = await startMock();
    const res = await runCoordinator(['migrate'], { DATABASE_URL: pg.url });
    assert.equal(res.code, 0, `migrate failed: ${res.out}`);
    psql("INSERT INTO users (user_id, user_role) VALUES ('member-1', 'internal_user'), "
        + "('viewer-1', 'proxy_admin_viewer')");

    nodeA = await startNode();
    nodeB = await startNode();
    nodeNoStore = await startNode({ store: false });
});

after(async () => {
    const codes = [];
    for (const node of gateways) {
        codes.push(await node.stop());
    }
    await mock?.stop();
    await redis?.stop();
    await pg?.stop();
    for (const node of gateways) {
        assert.doesNotMatch(node.proc.stderrText, /Sanitizer|runtime error:/, node.describe());
    }
    assert.deepEqual(codes, gateways.map(() => 0), 'every gateway exits 0 after SIGTERM');
    // No response of any route carried a credential that was sent in.
    for (const body of bodies) {
        for (const secret of [UPSTREAM_KEY, UPSTREAM_KEY_2, AWS_SECRET]) {
            assert.ok(!body.includes(secret), `a response carried a credential: ${body}`);
        }
    }
});

test('db model lifecycle on two nodes', async () => {
    await mock.reset();
    const unknown = await chat(nodeA, 'db-chat');
    assert.equal(unknown.status, 400, unknown.body);

    const created = await ok(nodeA, 'POST', '/model/new', {
        model_name: 'db-chat',
        litellm_params: { model: 'openai/gpt-4o-mini', api_base: `${mock.url}/v1`,
            api_key: UPSTREAM_KEY, aws_secret_access_key: AWS_SECRET, rpm: 100 },
        model_info: { mode: 'chat', team: 'qa' },
    });
    const id = created.model_id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(created.model_name, 'db-chat');
    assert.equal(created.litellm_params.model, 'openai/gpt-4o-mini');
    assert.equal(created.litellm_params.rpm, 100);
    assert.equal(created.litellm_params.api_key, undefined);
    assert.equal(created.model_info.id, id);
    assert.equal(created.model_info.team, 'qa');

    // Both nodes route it without a restart: the writing node at once, the other through
    // Redis, each of their workers within about a second.
    const started = Date.now();
    await waitForChat(nodeA, 'db-chat', (s) => s === 200, 'node A serves the new model');
    await waitForChat(nodeB, 'db-chat', (s) => s === 200, 'node B serves the new model');
    assert.ok(Date.now() - started < 1500, `nodes took ${Date.now() - started} ms`);
    const reqs = await mock.requests();
    assert.ok(reqs.length >= 12, `expected the chats at the mock, got ${reqs.length}`);
    for (const req of reqs) {
        assert.equal(req.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    }

    // The row keeps the credentials only as ciphertext, which Node decrypts.
    assert.equal(psql(`SELECT litellm_params ? 'api_key' FROM models WHERE model_id = '${id}'`),
        'f');
    const params = psql(`SELECT litellm_params::text FROM models WHERE model_id = '${id}'`);
    assert.ok(!params.includes(UPSTREAM_KEY));
    assert.equal(psql(`SELECT octet_length(secret_nonce) FROM models WHERE model_id = '${id}'`),
        '12');
    const { sealed, secrets } = decryptRow(id);
    assert.ok(!sealed.includes(Buffer.from(UPSTREAM_KEY)), 'ciphertext carries the key');
    assert.deepEqual(secrets, { api_key: UPSTREAM_KEY, aws_secret_access_key: AWS_SECRET });
    assert.equal(psql('SELECT action FROM audit_log WHERE table_name = \'models\' '
        + `AND object_id = '${id}'`), 'created');

    // /model/info lists config and stored models, without credentials, on either node.
    for (const node of [nodeA, nodeB]) {
        for (const route of ['/model/info', '/v1/model/info']) {
            const info = await ok(node, 'GET', route);
            const names = info.data.map((m) => m.model_name);
            assert.deepEqual(names, ['config-model', 'db-chat']);
            const stored = info.data[1];
            assert.equal(stored.model_info.id, id);
            assert.equal(stored.model_info.db_model, true);
            assert.equal(stored.litellm_params.api_key, undefined);
            assert.match(info.data[0].model_info.id, /^[0-9a-f]{64}$/);
            assert.equal(info.data[0].litellm_params.api_key, undefined);
        }
    }
    const one = await ok(nodeB, 'GET', `/model/info?litellm_model_id=${id}`);
    assert.deepEqual(one.data.map((m) => m.model_info.id), [id]);

    // Update through POST: the upstream model changes on both nodes, the key stays.
    await ok(nodeA, 'POST', '/model/update', { model_info: { id },
        litellm_params: { model: 'openai/gpt-4o' } });
    for (const node of [nodeA, nodeB]) {
        const deadline = Date.now() + 1500;
        for (;;) {
            await mock.reset();
            const res = await chat(node, 'db-chat');
            assert.equal(res.status, 200, res.body);
            const [req] = await mock.requests();
            if (JSON.parse(req.body).model === 'gpt-4o') {
                assert.equal(req.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
                break;
            }
            assert.ok(Date.now() < deadline, 'the update did not reach the node in time');
        }
    }

    // Update through PATCH: a new key is sealed again under a fresh nonce.
    const nonceBefore = psql(`SELECT encode(secret_nonce, 'hex') FROM models WHERE model_id = '${id}'`);
    const patched = await ok(nodeB, 'PATCH', `/model/${id}/update`,
        { litellm_params: { api_key: UPSTREAM_KEY_2 } });
    assert.equal(patched.litellm_params.model, 'openai/gpt-4o');
    assert.notEqual(psql(`SELECT encode(secret_nonce, 'hex') FROM models WHERE model_id = '${id}'`),
        nonceBefore);
    assert.deepEqual(decryptRow(id).secrets,
        { api_key: UPSTREAM_KEY_2, aws_secret_access_key: AWS_SECRET });
    const deadline = Date.now() + 1500;
    for (;;) {
        await mock.reset();
        await chat(nodeA, 'db-chat');
        const [req] = await mock.requests();
        if (req.headers.authorization === `Bearer ${UPSTREAM_KEY_2}`) {
            break;
        }
        assert.ok(Date.now() < deadline, 'the new key did not reach node A in time');
    }

    // Delete: both nodes return the unknown-model 400 again.
    const deleted = await ok(nodeB, 'POST', '/model/delete', { id });
    assert.deepEqual(deleted, { message: `Model: ${id} deleted successfully` });
    for (const node of [nodeA, nodeB]) {
        const res = await waitForChat(node, 'db-chat', (s) => s === 400, 'model deleted');
        assert.match(res.json().error.message, /Invalid model name passed in model=db-chat/);
    }
    assert.equal(psql('SELECT string_agg(action, \',\' ORDER BY id) FROM audit_log '
        + `WHERE table_name = 'models' AND object_id = '${id}'`), 'created,updated,updated,deleted');
    assert.equal(psql(`SELECT count(*) FROM models WHERE model_id = '${id}'`), '0');

    const again = await call(nodeA, 'POST', '/model/delete', { id });
    assert.equal(again.status, 404, again.body);
});

test('db model joins config group', async () => {
    const created = await ok(nodeA, 'POST', '/model/new', {
        model_name: 'config-model',
        litellm_params: { model: 'openai/from-db', api_base: `${mock.url}/v1`,
            api_key: UPSTREAM_KEY },
        model_info: { id: 'joined-1' },
    });
    assert.equal(created.model_id, 'joined-1');
    const seen = new Set();
    const deadline = Date.now() + 3000;
    while (!seen.has('from-db') || !seen.has('gpt-4o-mini')) {
        await mock.reset();
        const res = await chat(nodeB, 'config-model');
        assert.equal(res.status, 200, res.body);
        seen.add(JSON.parse((await mock.requests())[0].body).model);
        assert.ok(Date.now() < deadline, `only ${[...seen]} answered`);
    }
    const dup = await call(nodeA, 'POST', '/model/new', { model_name: 'x',
        litellm_params: { model: 'openai/x', api_base: `${mock.url}/v1` },
        model_info: { id: 'joined-1' } });
    assert.equal(dup.status, 400, dup.body);
    await ok(nodeA, 'POST', '/model/delete', { id: 'joined-1' });
});

test('invalid model is rejected', async () => {
    const bad = await call(nodeA, 'POST', '/model/new', { model_name: 'bad',
        litellm_params: { model: 'nosuchprovider/x', api_key: UPSTREAM_KEY } });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.json().error.message, /unknown provider "nosuchprovider"/);
    const missing = await call(nodeA, 'POST', '/model/new', { model_name: 'bad' });
    assert.equal(missing.status, 400, missing.body);
    for (const [params, message] of [
        [{ model: 1 }, /litellm_params.model must be a string/],
        [{ model: 'openai/x', api_key: 123 }, /litellm_params.api_key must be a string/],
        [{ model: 'openai/x', api_base: 'ftp://a' }, /litellm_params.api_base must be an http/],
        // JSON.stringify would write 1e400 as null, so this body is written by hand.
        ['{"model": "openai/x", "rpm": 1e400}', /litellm_params.rpm must be a finite number/],
    ]) {
        const text = typeof params === 'string' ? params : JSON.stringify(params);
        const res = await call(nodeA, 'POST', '/model/new',
            `{"model_name": "bad", "litellm_params": ${text}}`);
        assert.equal(res.status, 400, res.body);
        assert.match(res.json().error.message, message);
    }
    const notFound = await call(nodeA, 'POST', '/model/update',
        { model_info: { id: 'no-such-model' }, litellm_params: { rpm: 1 } });
    assert.equal(notFound.status, 404, notFound.body);
    assert.equal(psql("SELECT count(*) FROM models WHERE model_name = 'bad'"), '0');
});

test('model writes need proxy_admin', async () => {
    const member = await ok(nodeA, 'POST', '/key/generate', { user_id: 'member-1' });
    const viewer = await ok(nodeA, 'POST', '/key/generate', { user_id: 'viewer-1' });
    const body = { model_name: 'nope', litellm_params: { model: 'openai/x',
        api_base: `${mock.url}/v1` } };
    const asMember = await call(nodeA, 'POST', '/model/new', body,
        { authorization: `Bearer ${member.key}` });
    assert.equal(asMember.status, 401, asMember.body);
    const asViewer = await call(nodeA, 'POST', '/model/new', body,
        { authorization: `Bearer ${viewer.key}` });
    assert.equal(asViewer.status, 403, asViewer.body);
    const deleteAsMember = await call(nodeA, 'POST', '/model/delete', { id: 'x' },
        { authorization: `Bearer ${member.key}` });
    assert.equal(deleteAsMember.status, 401, deleteAsMember.body);
    assert.equal(psql("SELECT count(*) FROM models WHERE model_name = 'nope'"), '0');

    // Reading is open to every authenticated caller.
    const info = await call(nodeA, 'GET', '/model/info', undefined,
        { authorization: `Bearer ${member.key}` });
    assert.equal(info.status, 200, info.body);
    const anonymous = await call(nodeA, 'GET', '/model/info', undefined, {});
    assert.equal(anonymous.status, 401, anonymous.body);
});

test('writes need store_model_in_db', async () => {
    const res = await call(nodeNoStore, 'POST', '/model/new', { model_name: 'nope',
        litellm_params: { model: 'openai/x', api_base: `${mock.url}/v1` } });
    assert.equal(res.status, 500, res.body);
    assert.equal(res.json().error.message,
        "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.");
    const del = await call(nodeNoStore, 'POST', '/model/delete', { id: 'x' });
    assert.equal(del.status, 500, del.body);
    const info = await call(nodeNoStore, 'GET', '/model/info');
    assert.equal(info.status, 200, info.body);
});
