// SPDX-License-Identifier: Apache-2.0
// Config loading as an operator sees it. An invalid file stops the gateway with exit code 1 and a
// `config.invalid` line that names the file, key and value. Unknown keys only warn. Environment
// variables resolve through environment_variables and os.environ/NAME.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    chatBody, needs, postJson, spawnGateway, startGateway, startMock,
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

// Runs the gateway with `config`, expects it to exit with 1 and returns its config.invalid line.
async function expectConfigError(config) {
    const proc = spawnGateway({ config });
    const code = await proc.waitExit(10000);
    if (code === null) {
        await proc.stop('SIGKILL');
    }
    assert.equal(code, 1, `exit code; output:\n${proc.describe()}`);
    const line = proc.logs.find((e) => e.event === 'config.invalid');
    assert.ok(line, `no config.invalid line; output:\n${proc.describe()}`);
    assert.equal(line.level, 'error');
    assert.equal(typeof line.message, 'string');
    assert.ok(line.message.includes(proc.configPath), `message does not name the file: ${line.message}`);
    assert.equal(proc.logs.filter((e) => e.event === 'gateway.listening').length, 0);
    return line;
}

test('invalid yaml exits 1', async () => {
    await expectConfigError('model_list:\n- model_name: [unclosed\n  litellm_params: {\n');
});

test('wrong type names key and value', async () => {
    const line = await expectConfigError(`
model_list:
- model_name: typed-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_base: ${mock.url}/v1
general_settings:
  max_request_size_mb: lots-of-megabytes
`);
    assert.ok(line.message.includes('max_request_size_mb'), `key not named: ${line.message}`);
    assert.ok(line.message.includes('lots-of-megabytes'), `value not named: ${line.message}`);
});

test('model_list not a list exits 1', async () => {
    const line = await expectConfigError('model_list: just-a-string\n');
    assert.ok(line.message.includes('model_list'), `key not named: ${line.message}`);
});

test('unknown key warns and serves', async () => {
    const gw = await startGateway({
        config: `
model_list:
- model_name: lenient-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-config
    api_base: ${mock.url}/v1
general_settings:
  shiny_new_feature: true
`,
    });
    try {
        const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody('lenient-chat'));
        assert.equal(res.status, 200, res.body);
        const warnings = gw.logs.filter((e) => e.event === 'config.unknown_key');
        assert.equal(warnings.length, 1, `config.unknown_key lines: ${JSON.stringify(warnings)}`);
        assert.equal(warnings[0].key, 'general_settings.shiny_new_feature');
        assert.equal(warnings[0].level, 'warn');
    } finally {
        await gw.stop();
    }
});

test('environment variables resolve', async () => {
    await mock.reset();
    const gw = await startGateway({
        config: `
environment_variables:
  CONFIG_UPSTREAM_KEY: sk-from-environment-variables
model_list:
- model_name: env-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: os.environ/CONFIG_UPSTREAM_KEY
    api_base: os.environ/CONFIG_MOCK_BASE
general_settings:
  master_key: os.environ/CONFIG_MASTER_KEY
`,
        env: { CONFIG_MASTER_KEY: 'sk-master-from-env', CONFIG_MOCK_BASE: `${mock.url}/v1` },
    });
    try {
        const denied = await postJson(`${gw.url}/v1/chat/completions`, chatBody('env-chat'), {
            authorization: 'Bearer os.environ/CONFIG_MASTER_KEY',
        });
        assert.equal(denied.status, 401, 'the literal os.environ string is not the key');
        const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody('env-chat'), {
            authorization: 'Bearer sk-master-from-env',
        });
        assert.equal(res.status, 200, res.body);
        const reqs = await mock.requests();
        assert.equal(reqs.length, 1);
        assert.equal(reqs[0].headers.authorization, 'Bearer sk-from-environment-variables');
    } finally {
        await gw.stop();
    }
});

test('missing config option prints usage', async () => {
    const proc = spawnGateway({ withConfigArg: false });
    const code = await proc.waitExit(10000);
    if (code === null) {
        await proc.stop('SIGKILL');
    }
    assert.notEqual(code, null, 'gateway kept running without --config');
    assert.notEqual(code, 0, 'exit code');
    const output = proc.stdoutText + proc.stderrText;
    assert.match(output, /usage/i, `no usage message:\n${proc.describe()}`);
    assert.match(output, /--config/, `usage does not mention --config:\n${proc.describe()}`);
});

test('missing config file exits 1', async () => {
    const proc = spawnGateway({ withConfigArg: false, args: ['--config', '/nonexistent/sluice.yaml'] });
    const code = await proc.waitExit(10000);
    if (code === null) {
        await proc.stop('SIGKILL');
    }
    assert.equal(code, 1, `exit code; output:\n${proc.describe()}`);
    assert.ok((proc.stdoutText + proc.stderrText).includes('/nonexistent/sluice.yaml'),
        'the error names the file');
});
