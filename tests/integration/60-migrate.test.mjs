// SPDX-License-Identifier: Apache-2.0
// `sluice-coordinator migrate` against a real PostgreSQL: it applies every schema/ migration
// once, a second run is a no-op, concurrent runs serialise on the advisory lock, a migration
// changed after it was applied is rejected, and sl_schema_check() reports each state.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort, IN_CI, makeTempDir, needs, startPostgres } from './lib/harness.mjs';

await needs('postgres');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_DIR = process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build');
const COORDINATOR = process.env.SLUICE_COORDINATOR_BIN
    || path.join(BUILD_DIR, 'coordinator/sluice-coordinator');
const CHECKER = process.env.SLUICE_PG_CLIENT_CHECK_BIN
    || path.join(BUILD_DIR, 'tests/tools/pg_client_check');
for (const bin of [COORDINATOR, CHECKER]) {
    if (!fs.existsSync(bin)) {
        const why = `${bin} not found (build the sluice-coordinator and pg_client_check targets)`;
        console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
        process.exit(IN_CI ? 1 : 77);
    }
}

const PSQL = fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql'
    : 'psql';

// The migrations this build embeds, as numbers, from the source tree.
const VERSIONS = fs.readdirSync(path.join(HERE, '../../schema'))
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .map((f) => Number(f.slice(0, 4)))
    .sort((a, b) => a - b);
const LATEST = VERSIONS[VERSIONS.length - 1];

let pg;
let dbCounter = 0;

before(async () => {
    pg = await startPostgres();
});

after(async () => {
    await pg?.stop();
});

function psql(url, sql) {
    const res = spawnSync(PSQL, [url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8' });
    return { status: res.status, out: (res.stdout || '').trim(), err: res.stderr || '' };
}

function psqlOk(url, sql) {
    const res = psql(url, sql);
    assert.equal(res.status, 0, `psql failed on ${sql}: ${res.err}`);
    return res.out;
}

// A fresh, empty database on the shared server; returns its URL.
function freshDatabase() {
    dbCounter += 1;
    const name = `migrate_${process.pid}_${dbCounter}`;
    psqlOk(pg.url, `CREATE DATABASE ${name}`);
    return pg.url.replace(/\/postgres$/, `/${name}`);
}

// Runs a program to completion (killed after timeoutMs) and returns its exit code and output.
function run(cmd, args, env = {}, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
        // DATABASE_URL comes only from `env`, never from the caller's environment.
        const fullEnv = { ...process.env };
        delete fullEnv.DATABASE_URL;
        Object.assign(fullEnv, env);
        const child = spawn(cmd, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        child.on('error', reject);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? signal, stdout, stderr });
        });
    });
}

function logLines(stdout) {
    return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function migrate(url, extraArgs = []) {
    return run(COORDINATOR, ['migrate', ...extraArgs], url ? { DATABASE_URL: url } : {});
}

function appliedVersions(url) {
    return psqlOk(url, 'SELECT version FROM schema_migrations ORDER BY version')
        .split('\n').filter(Boolean).map(Number);
}

test('migrate applies every migration in order', async () => {
    const url = freshDatabase();
    const res = await migrate(url);
    assert.equal(res.code, 0, `migrate failed: ${res.stdout}${res.stderr}`);
    const applied = logLines(res.stdout).filter((l) => l.event === 'migrate.applied');
    assert.deepEqual(applied.map((l) => l.version), VERSIONS);
    for (const line of applied) {
        assert.equal(line.level, 'info');
        assert.match(line.checksum, /^[0-9a-f]{64}$/);
        assert.equal(typeof line.duration_ms, 'number');
    }
    assert.deepEqual(appliedVersions(url), VERSIONS);

    const tables = ['budgets', 'organizations', 'teams', 'users', 'team_memberships',
        'organization_memberships', 'end_users', 'keys', 'deleted_keys', 'models', 'credentials',
        'audit_log'];
    for (const table of tables) {
        assert.equal(psqlOk(url, `SELECT to_regclass('${table}') IS NOT NULL`), 't',
            `table ${table} exists`);
    }
});

test('second migrate run applies nothing', async () => {
    const url = freshDatabase();
    assert.equal((await migrate(url)).code, 0);
    const before2 = psqlOk(url, 'SELECT string_agg(applied_at::text, \',\') FROM schema_migrations');

    const res = await migrate(url);
    assert.equal(res.code, 0, `second run failed: ${res.stdout}${res.stderr}`);
    const lines = logLines(res.stdout);
    assert.equal(lines.filter((l) => l.event === 'migrate.applied').length, 0);
    const done = lines.find((l) => l.event === 'migrate.done');
    assert.ok(done, `a migrate.done line: ${res.stdout}`);
    assert.equal(done.applied, 0);
    assert.equal(psqlOk(url, 'SELECT string_agg(applied_at::text, \',\') FROM schema_migrations'),
        before2, 'rows unchanged');
});

test('concurrent migrate runs apply the schema once', async () => {
    const url = freshDatabase();

    // Hold the advisory lock from another session so both runs must wait for it, then release
    // it: the runs race for the lock, and the loser must find nothing left to do.
    const holder = spawn(PSQL, [url, '-XAtq', '-v', 'ON_ERROR_STOP=1'],
        { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
        holder.stdin.write('SELECT pg_advisory_lock(32488873856820481);\n');
        await new Promise((resolve, reject) => {
            holder.stdout.once('data', resolve);
            holder.once('exit', () => reject(new Error('psql holding the lock exited')));
        });
        const runs = [migrate(url), migrate(url)];
        // Both runs report that they wait before the lock is released.
        let waiting = 0;
        for (let i = 0; i < 100 && waiting < 2; i++) {
            await new Promise((r) => setTimeout(r, 50));
            waiting = Number(psqlOk(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                + ' AND NOT granted'));
        }
        assert.equal(waiting, 2, 'both runs wait on the advisory lock');
        holder.stdin.end('SELECT pg_advisory_unlock(32488873856820481);\n');

        const results = await Promise.all(runs);
        for (const res of results) {
            assert.equal(res.code, 0, `migrate failed: ${res.stdout}${res.stderr}`);
            assert.ok(logLines(res.stdout).some((l) => l.event === 'migrate.lock_wait'),
                'each run logged that it waited for the lock');
        }
        const applied = results.flatMap((r) => logLines(r.stdout))
            .filter((l) => l.event === 'migrate.applied').map((l) => l.version).sort((a, b) => a - b);
        assert.deepEqual(applied, VERSIONS, 'each migration applied by exactly one run');
        assert.deepEqual(appliedVersions(url), VERSIONS);
    } finally {
        holder.kill('SIGKILL');
    }
});

test('changed checksum of an applied migration is rejected', async () => {
    const url = freshDatabase();
    assert.equal((await migrate(url)).code, 0);
    psqlOk(url, `UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = ${VERSIONS[0]}`);

    const res = await migrate(url);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /migration 0001_[a-z0-9_]+\.sql was changed after it was applied/);
    const failed = logLines(res.stdout).find((l) => l.event === 'migrate.failed');
    assert.ok(failed, 'a migrate.failed log line');
    assert.equal(failed.level, 'error');
});

test('migrate reads database_url from the config file', async () => {
    const url = freshDatabase();
    const dir = makeTempDir();
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(file, `general_settings:\n  database_url: "${url}"\n`);

    const res = await migrate(null, ['--config', file]);
    assert.equal(res.code, 0, `migrate failed: ${res.stdout}${res.stderr}`);
    assert.deepEqual(appliedVersions(url), VERSIONS);
});

test('migrate without a database fails clearly', async () => {
    const res = await migrate(null);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no database configured: set general_settings\.database_url/);

    const port = await freePort();
    const down = await migrate(`postgresql://postgres@127.0.0.1:${port}/postgres`);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot connect to the database/);
});

test('coordinator run without a database fails clearly', async () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(file, 'general_settings: {}\n');
    const res = await run(COORDINATOR, ['--config', file]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no database configured: set general_settings\.database_url/);

    const help = await run(COORDINATOR, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /sluice-coordinator \[run\]/);
    assert.match(help.stdout, new RegExp(`schema version ${LATEST}`));
});

test('schema check reports each database state', async () => {
    const url = freshDatabase();

    const empty = await run(CHECKER, ['schema-check', url]);
    assert.equal(empty.code, 3, empty.stdout + empty.stderr);
    assert.match(empty.stdout, /status=invalid configuration/);
    assert.match(empty.stdout, /no Sluice schema .* run `sluice-coordinator migrate`/);

    assert.equal((await migrate(url)).code, 0);
    const current = await run(CHECKER, ['schema-check', url]);
    assert.equal(current.code, 0, current.stdout + current.stderr);
    assert.match(current.stdout, new RegExp(`required=${LATEST} status=ok`));

    psqlOk(url, `DELETE FROM schema_migrations WHERE version = ${LATEST}`);
    const older = await run(CHECKER, ['schema-check', url]);
    assert.equal(older.code, 3, older.stdout + older.stderr);
    assert.match(older.stdout, new RegExp(`at version ${LATEST - 1} but this build needs version `
        + `${LATEST}: run \`sluice-coordinator migrate\``));

    psqlOk(url, `INSERT INTO schema_migrations (version, name, checksum)
        VALUES (${LATEST}, 'restored', 'x'), (${LATEST + 1}, 'from_a_newer_build', 'x')`);
    const newer = await run(CHECKER, ['schema-check', url]);
    assert.equal(newer.code, 0, `a newer schema is accepted: ${newer.stdout}`);

    const port = await freePort();
    const down = await run(CHECKER, ['schema-check',
        `postgresql://postgres@127.0.0.1:${port}/postgres`]);
    assert.equal(down.code, 4, down.stdout + down.stderr);
    assert.match(down.stdout, /status=service unavailable message=cannot connect to the database/);
});

test('schema constraints hold', async () => {
    const url = freshDatabase();
    assert.equal((await migrate(url)).code, 0);
    const token = 'a'.repeat(64);

    psqlOk(url, `INSERT INTO users (user_id) VALUES ('u1');
        INSERT INTO keys (token, key_name, key_alias, user_id, models)
        VALUES ('${token}', 'sk-...abcd', 'alias-1', 'u1', '{gpt-4o}')`);

    const plainKey = psql(url, "INSERT INTO keys (token) VALUES ('sk-not-a-hash')");
    assert.notEqual(plainKey.status, 0, 'a token that is not a SHA-256 hex is rejected');
    assert.match(plainKey.err, /keys_token_check/);

    const dupAlias = psql(url, `INSERT INTO keys (token, key_alias) VALUES ('${'b'.repeat(64)}', 'alias-1')`);
    assert.notEqual(dupAlias.status, 0);
    assert.match(dupAlias.err, /keys_key_alias_key/);

    const ownerWithKeys = psql(url, "DELETE FROM users WHERE user_id = 'u1'");
    assert.notEqual(ownerWithKeys.status, 0, 'a user with keys cannot be deleted');
    assert.match(ownerWithKeys.err, /violates foreign key constraint/);

    psqlOk(url, `INSERT INTO budgets (budget_id, max_budget) VALUES ('b1', 10);
        INSERT INTO teams (team_id, budget_id) VALUES ('t1', 'b1');
        INSERT INTO team_memberships (team_id, user_id, role, budget_id) VALUES ('t1', 'u1', 'admin', 'b1')`);
    const budgetInUse = psql(url, "DELETE FROM budgets WHERE budget_id = 'b1'");
    assert.notEqual(budgetInUse.status, 0, 'a budget in use cannot be deleted');
    const badRole = psql(url, "UPDATE team_memberships SET role = 'owner'");
    assert.notEqual(badRole.status, 0, 'team roles are admin or user');

    psqlOk(url, "DELETE FROM teams WHERE team_id = 't1'");
    assert.equal(psqlOk(url, 'SELECT count(*) FROM team_memberships'), '0',
        'memberships go with their team');

    const badNonce = psql(url, "INSERT INTO models (model_name, secret_ciphertext, secret_nonce)"
        + " VALUES ('m', '\\x00112233445566778899aabbccddeeff', '\\x0011')");
    assert.notEqual(badNonce.status, 0, 'an AES-GCM nonce is 12 bytes');
});
