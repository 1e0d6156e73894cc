// SPDX-License-Identifier: Apache-2.0
// SIGHUP to sluice-coordinator: the config is read only at start, so the process logs
// coordinator.reload_unsupported, keeps leading and still stops cleanly on SIGTERM.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { makeTempDir, needs, sleep, spawnProc } from './lib/harness.mjs';
import { COORDINATOR, MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('postgres', 'redis');
needsCoordinator();

const stack = new MgmtStack();
let configPath;

before(async () => {
    await stack.start();
    const dir = makeTempDir('sluice-coord-hup-');
    configPath = path.join(dir, 'config.yaml');
    fs.writeFileSync(configPath, `general_settings:\n  database_url: ${stack.pg.url}\n`);
});

after(async () => {
    await stack.stop();
});

test('sighup keeps coordinator running', async () => {
    const coordinator = spawnProc(COORDINATOR, ['run', '--config', configPath, '--metrics-port', '0'],
        { REDIS_URL: stack.redis.url }, 'coordinator-hup');
    try {
        await coordinator.waitForLog((e) => e.event === 'coordinator.leader_acquired', 10000);

        process.kill(coordinator.pid, 'SIGHUP');
        const line = await coordinator.waitForLog(
            (e) => e.event === 'coordinator.reload_unsupported', 3000);
        assert.equal(line.level, 'warn');
        assert.equal(line.signal, 1);
        assert.match(line.message, /restart/i);

        await sleep(500);
        assert.equal(coordinator.exitCode, undefined, coordinator.describe());
        assert.equal(coordinator.logs.filter((e) => e.event === 'coordinator.stopping').length, 0);
    } finally {
        assert.equal(await coordinator.stop('SIGTERM', 10000), 0, coordinator.describe());
    }
    assert.doesNotMatch(coordinator.stderrText, /Sanitizer|runtime error:/, coordinator.describe());
});
