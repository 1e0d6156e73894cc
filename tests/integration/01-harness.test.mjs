// SPDX-License-Identifier: Apache-2.0
// The harness's throwaway servers: startRedis() and startPostgres() start real servers on free
// loopback ports that accept client commands, and stop() ends them so that the port is closed
// again.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';

import { needs, sleep, startPostgres, startRedis } from './lib/harness.mjs';

await needs('redis', 'postgres');

// The psql of the PostgreSQL 15 install that needs('postgres') checked, else the one on PATH.
const PSQL = fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql'
    : 'psql';

// Connects to 127.0.0.1:port, writes `payload` and resolves with the first line read, or
// rejects with the connection error (ECONNREFUSED when nothing listens).
function firstLine(port, payload, timeoutMs = 3000) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let text = '';
        socket.setTimeout(timeoutMs, () => {
            socket.destroy();
            reject(new Error(`no reply line from port ${port} within ${timeoutMs} ms: `
                + JSON.stringify(text)));
        });
        socket.on('connect', () => socket.write(payload));
        socket.on('data', (d) => {
            text += d.toString('latin1');
            const end = text.indexOf('\r\n');
            if (end >= 0) {
                socket.destroy();
                resolve(text.slice(0, end));
            }
        });
        socket.on('error', reject);
    });
}

// Resolves with the error code of a TCP connect to 127.0.0.1:port, or null if it connected.
function connectError(port) {
    return new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('connect', () => {
            socket.destroy();
            resolve(null);
        });
        socket.on('error', (err) => resolve(err.code));
    });
}

// True while `pid` exists and is not a zombie (an exited process its parent has not reaped).
function isRunning(pid) {
    try {
        process.kill(pid, 0);
    } catch (err) {
        return err.code !== 'ESRCH';
    }
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
        return false;
    }
}

// Polls for up to `timeoutMs` until `pid` has exited. pg_ctl stop returns once postmaster.pid
// is gone, which can be a moment before the process itself exits.
async function waitGone(pid, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (isRunning(pid) && Date.now() < deadline) {
        await sleep(20);
    }
    return !isRunning(pid);
}

function psql(url, sql) {
    return spawnSync(PSQL, [url, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8', timeout: 10000 });
}

test('redis answers ping', async () => {
    const redis = await startRedis();
    try {
        assert.ok(redis.port > 0, `port ${redis.port}`);
        assert.ok(redis.port < 65536, `port ${redis.port}`);
        assert.equal(redis.url, `redis://127.0.0.1:${redis.port}/0`);
        assert.equal(await firstLine(redis.port, 'PING\r\n'), '+PONG');
        assert.equal(await firstLine(redis.port, 'SET harness-key 42\r\n'), '+OK');
        assert.equal(await firstLine(redis.port, 'INCR harness-key\r\n'), ':43');
    } finally {
        await redis.stop();
    }
    assert.notEqual(redis.proc.exitCode, undefined, 'redis-server has exited');
    assert.equal(await connectError(redis.port), 'ECONNREFUSED');
});

test('two redis servers are separate', async () => {
    const first = await startRedis();
    const second = await startRedis();
    try {
        assert.notEqual(first.port, second.port);
        assert.equal(await firstLine(first.port, 'SET harness-owner first\r\n'), '+OK');
        assert.equal(await firstLine(second.port, 'EXISTS harness-owner\r\n'), ':0');
    } finally {
        await first.stop();
        await second.stop();
    }
});

test('postgres answers select', async () => {
    const pg = await startPostgres();
    try {
        assert.equal(pg.url, `postgresql://postgres@127.0.0.1:${pg.port}/postgres`);
        assert.ok(isRunning(pg.pid), `postmaster ${pg.pid} is running`);
        const res = psql(pg.url, 'select 1');
        assert.equal(res.status, 0, `psql failed: ${res.error || ''}${res.stdout}${res.stderr}`);
        assert.equal(res.stdout.trim(), '1');

        const sum = psql(pg.url, 'create table harness_t (n int);'
            + ' insert into harness_t values (7), (8); select sum(n) from harness_t');
        assert.equal(sum.status, 0, `psql failed: ${sum.stdout}${sum.stderr}`);
        assert.match(sum.stdout.trim(), /(^|\n)15$/, 'the last output line is the sum');
    } finally {
        await pg.stop();
    }
    assert.ok(await waitGone(pg.pid), `postmaster ${pg.pid} still runs 5 s after stop()`);
    assert.equal(await connectError(pg.port), 'ECONNREFUSED');
});
