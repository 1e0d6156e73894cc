// SPDX-License-Identifier: Apache-2.0
// What the management API tests share: a PostgreSQL migrated by sluice-coordinator, a Redis,
// gateways configured against both, psql for checking rows, and callers that record every
// response body so a test can prove no plaintext key leaked into one.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
    httpRequest, IN_CI, postJson, recordKey, sleep, startGateway, startPostgres, startRedis,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_DIR = process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../../build');
export const COORDINATOR = process.env.SLUICE_COORDINATOR_BIN
    || path.join(BUILD_DIR, 'coordinator/sluice-coordinator');
const PSQL = fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql'
    : 'psql';

// Skips (or fails under CI) when the coordinator was not built.
export function needsCoordinator() {
    if (!fs.existsSync(COORDINATOR)) {
        const why = `${COORDINATOR} not found (build the sluice-coordinator target)`;
        console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
        process.exit(IN_CI ? 1 : 77);
    }
}

export function sha256(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

export function runCoordinator(args, env) {
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

// A PostgreSQL and a Redis for one test file, with the schema migrated, and the gateways
// started against them.
export class MgmtStack {
    constructor({ masterKey = 'sk-master-mgmt-test' } = {}) {
        this.masterKey = masterKey;
        this.admin = { authorization: `Bearer ${masterKey}` };
        this.gateways = [];
        this.bodies = [];
        this.plaintextKeys = [];
    }

    async start() {
        this.pg = await startPostgres();
        this.redis = await startRedis();
        const res = await runCoordinator(['migrate'], { DATABASE_URL: this.pg.url });
        assert.equal(res.code, 0, `migrate failed: ${res.out}`);
        return this;
    }

    psql(sql) {
        const res = spawnSync(PSQL, [this.pg.url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
            { encoding: 'utf8' });
        assert.equal(res.status, 0, `psql failed on ${sql}: ${res.stderr}`);
        return (res.stdout || '').trim();
    }

    // The config of a gateway on this stack; `models` and `litellm` are YAML text, indented
    // as list items and as keys under litellm_settings.
    config({ withDb = true, models = '', general = '', litellm = '' } = {}) {
        return `
model_list:
- model_name: gpt-4o-mini
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-unused
    api_base: http://127.0.0.1:9/v1
${models}
general_settings:
  master_key: ${this.masterKey}
${withDb ? `  database_url: ${this.pg.url}` : ''}
${general}
${litellm ? `litellm_settings:\n${litellm}` : ''}`;
    }

    // Starts a gateway and waits until its workers' PostgreSQL connections serve calls.
    async startNode(opts = {}) {
        const node = await startGateway({ config: opts.config ?? this.config(opts),
            workers: opts.workers ?? 2, env: { REDIS_URL: this.redis.url, ...opts.env } });
        this.gateways.push(node);
        if (opts.withDb !== false) {
            const deadline = Date.now() + 15000;
            for (;;) {
                const res = await httpRequest(`${node.url}/key/list`, { headers: this.admin });
                if (res.status === 200) {
                    break;
                }
                if (Date.now() > deadline) {
                    throw new Error(`/key/list returned ${res.status}, expected 200: ${res.body}`);
                }
                await sleep(50);
            }
        }
        return node;
    }

    // Sends one call; the body is recorded. `headers` defaults to the master key.
    async call(node, method, route, body, headers = this.admin) {
        const res = method === 'GET'
            ? await httpRequest(`${node.url}${route}`, { headers })
            : await postJson(`${node.url}${route}`, body, headers, { method });
        this.bodies.push(res.body);
        return res;
    }

    // Sends one call, asserts the status is 200 and returns the parsed body.
    async ok(node, method, route, body, headers = this.admin) {
        const res = await this.call(node, method, route, body, headers);
        assert.equal(res.status, 200, `${method} ${route}: ${res.body}`);
        return res.json();
    }

    // Creates a key with the master key and remembers its plaintext.
    async generate(node, body) {
        const out = await this.ok(node, 'POST', '/key/generate', body);
        this.remember(out.key);
        return out;
    }

    // Remembers a plaintext key returned by another route (/user/new).
    // Uses `key` on `node` (GET /v1/models) until its record is stored in Redis, so the key
    // keeps working while PostgreSQL is away. Lookups right after the key was created or
    // changed skip Redis and do not store the record there.
    async waitForKeyInRedis(node, key) {
        const stored = `sluice:auth:${sha256(key)}`;
        const deadline = Date.now() + 10000;
        for (;;) {
            const res = await httpRequest(`${node.url}/v1/models`,
                { headers: { authorization: `Bearer ${key}` } });
            assert.equal(res.status, 200, `GET /v1/models with the key: ${res.body}`);
            const exists = spawnSync('redis-cli', ['-u', this.redis.url, 'EXISTS', stored],
                { encoding: 'utf8' });
            if (exists.stdout.trim() === '1')
                return;
            assert.ok(Date.now() < deadline, 'the key record never reached Redis');
            await sleep(300);
        }
    }

    remember(key) {
        this.plaintextKeys.push(key);
        recordKey(key);
    }

    // The audit_log actions on one object, oldest first.
    auditActions(table, id) {
        return this.psql(`SELECT action FROM audit_log WHERE table_name = '${table}' `
            + `AND object_id = '${id}' ORDER BY id`).split('\n').filter(Boolean);
    }

    // Asserts that every key appears in no recorded body but the one that created it and in
    // no line a gateway wrote.
    assertNoKeyLeaked() {
        for (const key of this.plaintextKeys) {
            const seen = this.bodies.filter((b) => b.includes(key)).length;
            assert.ok(seen <= 1, `a plaintext key appears in ${seen} responses`);
            for (const node of this.gateways) {
                assert.ok(!node.proc.stdoutText.includes(key), 'a plaintext key is in stdout');
                assert.ok(!node.proc.stderrText.includes(key), 'a plaintext key is in stderr');
            }
        }
    }

    async stop() {
        const codes = [];
        for (const node of this.gateways) {
            codes.push(await node.stop());
        }
        await this.redis?.stop();
        await this.pg?.stop();
        for (const node of this.gateways) {
            assert.doesNotMatch(node.proc.stderrText, /Sanitizer|runtime error:/, node.describe());
        }
        assert.deepEqual(codes, this.gateways.map(() => 0), 'every gateway exits 0 after SIGTERM');
    }
}
