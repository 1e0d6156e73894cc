// SPDX-License-Identifier: Apache-2.0
// The asynchronous PostgreSQL client (common/pg.c) against a real server, through the
// pg_client_check program: parameters, queue order and cap, server errors, query timeout,
// reconnect after the backend is terminated, and fast failures while the server is down.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort, IN_CI, needs, startPostgres } from './lib/harness.mjs';

await needs('postgres');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHECKER = process.env.SLUICE_PG_CLIENT_CHECK_BIN
    || path.join(process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build'),
        'tests/tools/pg_client_check');
if (!fs.existsSync(CHECKER)) {
    const why = `${CHECKER} not found (build the pg_client_check target)`;
    console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
    process.exit(IN_CI ? 1 : 77);
}

let pg;

before(async () => {
    pg = await startPostgres();
});

after(async () => {
    await pg?.stop();
});

// Starts one scenario; `onLine` receives each stdout line as it arrives.
function scenario(name, url, onLine = () => {}, timeoutMs = 60000) {
    return new Promise((resolve, reject) => {
        const child = spawn(CHECKER, [name, url], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let pending = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (d) => {
            stdout += d;
            pending += d;
            let nl;
            while ((nl = pending.indexOf('\n')) >= 0) {
                onLine(pending.slice(0, nl));
                pending = pending.slice(nl + 1);
            }
        });
        child.stderr.on('data', (d) => { stderr += d; });
        child.on('error', reject);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? signal, stdout, stderr });
        });
    });
}

// Every "ok"/"not ok" line of a run, and the run's exit code, must report success.
function expectPassed(res, expectedChecks) {
    const failed = res.stdout.split('\n').filter((l) => l.startsWith('not ok'));
    assert.deepEqual(failed, [], `failed checks:\n${res.stdout}${res.stderr}`);
    for (const check of expectedChecks) {
        assert.ok(res.stdout.includes(`ok - ${check}\n`), `check "${check}" ran:\n${res.stdout}`);
    }
    assert.equal(res.code, 0, `exit code: ${res.stdout}${res.stderr}`);
}

test('queries, order, errors and queue cap', async () => {
    const res = await scenario('basic', pg.url);
    expectPassed(res, ['text parameters and SQL NULL', 'queued queries complete in order',
        'server error reports SQLSTATE', 'connection usable after a server error',
        'parameters missing are rejected', 'too many parameters are rejected',
        'queue cap rejects with SL_ERR_TOO_LARGE', 'destroy fails pending queries',
        'every handle closed after destroy']);
});

test('query timeout resets the connection', async () => {
    const res = await scenario('timeout', pg.url);
    expectPassed(res, ['slow query times out',
        'query queued behind it fails with SL_ERR_UNAVAILABLE', 'reconnects after the timeout',
        'query after the reset succeeds']);
});

test('reconnect after the backend is terminated', async () => {
    const res = await scenario('reconnect', pg.url);
    expectPassed(res, ['reconnected after the backend was terminated',
        'new backend serves queries']);
});

test('keyword conninfo with a host name', async () => {
    const res = await scenario('basic',
        `host=localhost port=${pg.port} user=postgres dbname=postgres`);
    expectPassed(res, ['text parameters and SQL NULL']);
});

test('server not listening fails fast', async () => {
    const port = await freePort();
    const res = await scenario('down', `postgresql://postgres@127.0.0.1:${port}/postgres`);
    expectPassed(res, ['refused connection fails the query fast',
        'queries rejected during the retry delay', 'rejected query gets no callback']);
});

test('server stopped under the client fails fast', async () => {
    const own = await startPostgres();
    let stopped = false;
    try {
        const res = await scenario('outage', own.url, (line) => {
            if (line === 'ready' && !stopped) {
                stopped = true;
                own.stop();
            }
        });
        assert.ok(stopped, `the client became ready: ${res.stdout}`);
        expectPassed(res, ['queries rejected while the server is down',
            'failures arrive within 1 s']);
    } finally {
        if (!stopped) {
            await own.stop();
        }
    }
});
