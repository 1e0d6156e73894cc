// SPDX-License-Identifier: Apache-2.0
// Tests the asynchronous Redis client (common/redis.c) and lua-scripts/window_incr.lua against a
// real Redis, through the redis_client_check program. Covered: replies and binary-safe arguments,
// EVALSHA with NOSCRIPT recovery, command deadlines, pub/sub with resubscription, AUTH and
// SELECT, sliding-window admissions across two connections, and a full Redis restart.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { IN_CI, makeTempDir, needs, sleep, startRedis } from './lib/harness.mjs';

await needs('redis');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHECKER = process.env.SLUICE_REDIS_CHECK_BIN
    || path.join(process.env.SLUICE_BUILD_DIR || path.join(HERE, '../../build'),
        'tests/integration/redis_client_check');
if (!fs.existsSync(CHECKER)) {
    const why = `${CHECKER} not found (build the redis_client_check target)`;
    console.log(IN_CI ? `Bail out! ${why}` : `1..0 # SKIP ${why}`);
    process.exit(IN_CI ? 1 : 77);
}

let redis;
const restarted = []; // redis-server processes this file started itself, ended by PID

before(async () => {
    redis = await startRedis();
});

after(async () => {
    for (const child of restarted) {
        if (child.exitCode === null) {
            process.kill(child.pid, 'SIGKILL');
        }
    }
    await redis?.stop();
});

// Runs one scenario against `port`; `onLine` receives each stdout line as it arrives.
function runScenario(name, port, onLine = () => {}, timeoutMs = 60000) {
    return new Promise((resolve, reject) => {
        const child = spawn(CHECKER, [name, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let partial = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk) => {
            stdout += chunk;
            partial += chunk;
            for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
                onLine(partial.slice(0, nl));
                partial = partial.slice(nl + 1);
            }
        });
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        child.on('error', reject);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? signal, stdout, stderr });
        });
    });
}

// The run exited 0, printed no "not ok" line, and ran every check named in `checks`.
function assertPassed(res, checks) {
    const failed = res.stdout.split('\n').filter((line) => line.startsWith('not ok'));
    assert.deepEqual(failed, [], `failed checks:\n${res.stdout}${res.stderr}`);
    for (const name of [...checks, 'loop closes']) {
        assert.ok(res.stdout.includes(`ok - ${name}\n`), `check "${name}" missing:\n${res.stdout}`);
    }
    assert.equal(res.code, 0, `exit status:\n${res.stdout}${res.stderr}`);
}

test('commands, replies and binary-safe arguments', async () => {
    const res = await runScenario('basic', redis.port);
    assertPassed(res, ['ping before connect', 'binary get', 'binary strlen', 'error reply',
        'nil reply', 'integer reply', 'pipelined commands', 'zero arguments rejected',
        'destroy fails pending', 'key prefix', 'custom key prefix', 'negative database rejected',
        'key too long']);
});

test('EVALSHA recovers from SCRIPT FLUSH with one EVAL', async () => {
    const res = await runScenario('script', redis.port);
    assertPassed(res, ['window_incr embedded', 'local sha1', 'eval after script flush',
        'evalsha cached', 'one eval fallback', 'script error reply']);
});

test('deadline and in-flight cap during a busy loop', async () => {
    const res = await runScenario('timeout', redis.port);
    assertPassed(res, ['deadline fires', 'second command in flight', 'in-flight cap',
        'late reply dropped', 'queued command timed out', 'usable after timeout']);
});

test('pub/sub delivery and resubscription', async () => {
    const res = await runScenario('pubsub', redis.port);
    assertPassed(res, ['binary message', 'second channel', 'duplicate channel rejected',
        'pubsub connection killed', 'resubscribed', 'message after reconnect']);
});

test('window_incr admissions and ageing', async () => {
    const res = await runScenario('window', redis.port);
    assertPassed(res, ['exact admissions', 'current at limit', 'ttl to sub-window end',
        'weighted previous window', 'rejected with retry hint', 'admitted at retry hint',
        'counts age out', 'cost over limit never fits', 'key expires', 'real-time key expired',
        'real-time admitted again', 'invalid argument rejected']);
});

test('AUTH and SELECT', async () => {
    const res = await runScenario('auth', redis.port);
    assertPassed(res, ['auth accepted', 'command after auth', 'wrong password down',
        'select accepted', 'db 0 does not see db 5', 'db 5 sees its key']);
});

test('connect deadline and refused connects', async () => {
    const res = await runScenario('unreachable', redis.port);
    assertPassed(res, ['queued while connecting', 'connect deadline', 'silent server down',
        'refused connect down', 'refused fails fast']);
});

// Starts redis-server again on `port` (the scenario shut the first one down).
async function restartRedis(port) {
    const dir = makeTempDir('sluice-redis-restart-');
    const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save',
        '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], { stdio: 'ignore' });
    restarted.push(child);
    return child;
}

// Must run last: the scenario shuts the harness's Redis down.
test('reconnect after a Redis restart', async () => {
    let restart = null;
    const res = await runScenario('restart', redis.port, (line) => {
        if (line === 'redis down') {
            restart = (async () => {
                const deadline = Date.now() + 5000;
                while (redis.proc.exitCode === undefined && Date.now() < deadline) {
                    await sleep(20);
                }
                // The client retries every 50 to 400 ms: let a few attempts fail first.
                await sleep(300);
                await restartRedis(redis.port);
            })();
        }
    });
    assert.ok(restart !== null, `the scenario never reported Redis down:\n${res.stdout}`);
    await restart;
    assertPassed(res, ['connected', 'subscribed', 'pending command fails', 'state down',
        'fail fast', 'reconnected', 'command after reconnect', 'resubscribed after restart',
        'message after restart']);

    // Both connections retried for 300 ms or more while Redis was down. Each logged its loss
    // once, and the failed retries that followed stayed under the log rate limit.
    const events = res.stdout.split('\n').filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line).event);
    assert.equal(events.filter((e) => e === 'redis.connect_failed').length, 0, res.stdout);
    assert.ok(events.filter((e) => e === 'redis.disconnected').length >= 2, res.stdout);
});
