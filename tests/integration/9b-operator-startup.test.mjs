// SPDX-License-Identifier: Apache-2.0
// What an operator sees at start and on SIGHUP. SIGHUP leaves the gateway serving with the
// config it started with and logs gateway.reload_unsupported. Fallback and
// model_group_retry_policy groups that match no model_list group log one
// config.unknown_model_group warning each but do not stop the start. A Redis URL at a closed
// port logs redis.connect_failed with "Connection refused" at once, not a connect timeout.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import {
    chatBody, freePort, needs, postJson, sleep, startGateway, startMock,
} from './lib/harness.mjs';

await needs('gateway', 'mock');

let mock;

before(async () => {
    mock = await startMock();
});

after(async () => {
    if (mock) {
        await mock.stop();
    }
});

function deployment(name, model = 'openai/gpt-4o-mini') {
    return `
- model_name: "${name}"
  litellm_params:
    model: ${model}
    api_key: sk-upstream-startup
    api_base: ${mock.url}/v1`;
}

async function chatStatus(gateway, model) {
    await mock.reset();
    await mock.queue({ text: 'still here' });
    const res = await postJson(`${gateway.url}/v1/chat/completions`, chatBody(model));
    return res.status;
}

test('sighup keeps gateway serving', async () => {
    const gateway = await startGateway({
        config: `model_list:${deployment('hup-chat')}\nlitellm_settings:\n  num_retries: 0\n`,
        workers: 1,
    });
    try {
        assert.equal(await chatStatus(gateway, 'hup-chat'), 200);

        // A changed file is not applied: the old group keeps serving and the new one is absent.
        fs.writeFileSync(gateway.configPath, `model_list:${deployment('hup-renamed')}\n`);
        process.kill(gateway.proc.pid, 'SIGHUP');
        const line = await gateway.waitForLog((e) => e.event === 'gateway.reload_unsupported', 3000);
        assert.equal(line.level, 'warn');
        assert.equal(line.signal, 1);
        assert.match(line.message, /restart/i);
        assert.equal(gateway.proc.exitCode, undefined, gateway.describe());

        assert.equal(await chatStatus(gateway, 'hup-chat'), 200);
        assert.notEqual(await chatStatus(gateway, 'hup-renamed'), 200);

        // A second SIGHUP is handled the same way.
        process.kill(gateway.proc.pid, 'SIGHUP');
        await sleep(200);
        assert.equal(gateway.proc.exitCode, undefined, gateway.describe());
        assert.equal(await chatStatus(gateway, 'hup-chat'), 200);
    } finally {
        assert.equal(await gateway.stop('SIGTERM', 10000), 0);
    }
});

test('unknown fallback groups warn at start', async () => {
    const gateway = await startGateway({
        config: `
model_list:${deployment('typo-main')}${deployment('typo-backup')}${deployment('gpt-*', 'openai/gpt-*')}
litellm_settings:
  fallbacks: [{"typo-main": ["nosuch", "typo-backup", "gpt-4o"]}, {"typo-mian": ["typo-main"]}]
  default_fallbacks: ["typo-backup", "missing-default"]
router_settings:
  context_window_fallbacks: [{"*": ["long-context"]}]
  model_group_retry_policy:
    gpt4o: {TimeoutErrorRetries: 1}
    gpt-4o: {TimeoutErrorRetries: 1}
    typo-main: {TimeoutErrorRetries: 1}
`,
        workers: 1,
    });
    try {
        const warnings = gateway.logs
            .filter((e) => e.event === 'config.unknown_model_group')
            .map((e) => `${e.option} ${e.role} ${e.group}`)
            .sort();
        assert.deepEqual(warnings, [
            'litellm_settings.default_fallbacks target missing-default',
            'litellm_settings.fallbacks source typo-mian',
            'litellm_settings.fallbacks target nosuch',
            'router_settings.context_window_fallbacks target long-context',
            'router_settings.model_group_retry_policy policy gpt4o',
        ], gateway.describe());
        const line = gateway.logs.find((e) => e.event === 'config.unknown_model_group');
        assert.equal(line.level, 'warn');
        assert.equal(line.file, gateway.configPath);
        assert.match(line.message, /\/model\/new/);

        // The file is accepted: its groups serve.
        assert.equal(await chatStatus(gateway, 'typo-main'), 200);
    } finally {
        await gateway.stop();
    }
});

test('known groups log no warning', async () => {
    const gateway = await startGateway({
        config: `
model_list:${deployment('known-a')}${deployment('known-b')}
litellm_settings:
  fallbacks: [{"known-a": ["known-b"]}, {"*": ["known-a"]}]
router_settings:
  model_group_retry_policy: {known-b: {TimeoutErrorRetries: 1}}
`,
        workers: 1,
    });
    try {
        const warnings = gateway.logs.filter((e) => e.event === 'config.unknown_model_group');
        assert.deepEqual(warnings, []);
    } finally {
        await gateway.stop();
    }
});

test('refused redis logs the reason', async () => {
    const port = await freePort(); // bound and closed again, so a connect is refused
    const gateway = await startGateway({
        config: `model_list:${deployment('redis-refused')}\n`,
        env: { REDIS_URL: `redis://127.0.0.1:${port}` },
        workers: 1,
    });
    try {
        const listening = gateway.logs.find((e) => e.event === 'gateway.listening');
        const line = await gateway.waitForLog((e) => e.event === 'redis.connect_failed', 3000);
        assert.equal(line.port, port);
        assert.match(line.reason, /connection refused/i, gateway.describe());
        // The default connect timeout is 1 s; a refused connect is reported well before it.
        const delayMs = Date.parse(line.ts) - Date.parse(listening.ts);
        assert.ok(delayMs < 500, `reported after ${delayMs} ms`);
    } finally {
        await gateway.stop();
    }
});
