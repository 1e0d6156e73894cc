// SPDX-License-Identifier: Apache-2.0
// Series caps on /metrics: a wildcard model group lets clients choose the model label value,
// so a gateway started with SLUICE_METRICS_MAX_SERIES=20 gets a few hundred distinct model names
// and must still return a small scrape that promtool accepts, with the excess folded into the
// "__other__" series and counted in sluice_metrics_series_dropped_total.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import {
    chatBody, failIfMissing, httpRequest, needs, postJson, startGateway, startMock, testOptions,
} from './lib/harness.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-cardinality-7d20b4';
const MAX_SERIES = 20;
const DISTINCT_MODELS = 300;
const CONCURRENCY = 10;

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        workers: 2,
        config: `
model_list:
- model_name: "openai/*"
  litellm_params:
    model: "openai/*"
    api_key: sk-upstream-cardinality
    api_base: ${mock.url}/v1
general_settings:
  master_key: os.environ/CARDINALITY_MASTER_KEY
`,
        env: { CARDINALITY_MASTER_KEY: MASTER_KEY, SLUICE_METRICS_MAX_SERIES: String(MAX_SERIES) },
    });
});

after(async () => {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

// A 200-character model name that differs from every other index.
function modelName(i) {
    const tag = `m${String(i).padStart(4, '0')}-`;
    return `openai/${tag}${'x'.repeat(200 - 7 - tag.length)}`;
}

// Returns, per metric family, the set of distinct label sets of its samples.
function seriesByFamily(text) {
    const families = new Map();
    for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) {
            continue;
        }
        const open = line.indexOf('{');
        if (open < 0) {
            continue;
        }
        const name = line.slice(0, open).replace(/_(bucket|sum|count)$/, '');
        const labels = line.slice(open, line.lastIndexOf('}') + 1).replace(/,?le="[^"]*"/, '');
        if (!families.has(name)) {
            families.set(name, new Set());
        }
        families.get(name).add(labels);
    }
    return families;
}

test('distinct wildcard models keep the scrape bounded', async () => {
    const auth = { authorization: `Bearer ${MASTER_KEY}` };
    for (let i = 0; i < DISTINCT_MODELS; i += CONCURRENCY) {
        const batch = [];
        for (let j = i; j < i + CONCURRENCY && j < DISTINCT_MODELS; j++) {
            batch.push(postJson(`${gateway.url}/v1/chat/completions`, chatBody(modelName(j)), auth));
        }
        for (const res of await Promise.all(batch)) {
            assert.equal(res.status, 200, res.body);
        }
    }
    // The metrics of a request are written just before its access log line.
    await gateway.waitForLog(
        () => gateway.accessLogs().filter((e) => e.path === '/v1/chat/completions').length
            >= DISTINCT_MODELS,
        10000,
    );

    const res = await httpRequest(`${gateway.url}/metrics`);
    assert.equal(res.status, 200, res.body.slice(0, 500));
    // Measured on a Debug build: about 1.8 MB with the cap, 25 MB when every name gets its
    // own series.
    assert.ok(res.body.length < 3 * 1024 * 1024, `scrape of ${res.body.length} bytes`);
    assert.ok(res.elapsedMs < 2000, `scrape took ${res.elapsedMs} ms`);

    const families = seriesByFamily(res.body);
    let folded = 0;
    for (const [name, series] of families) {
        if (name.startsWith('sluice_metrics_series_dropped')) {
            continue;
        }
        assert.ok(series.size <= MAX_SERIES + 1, `${name} has ${series.size} series`);
        if ([...series].some((labels) => labels.includes('model="__other__"'))) {
            folded++;
        }
    }
    assert.ok(folded > 0, 'some family has the __other__ series');
    const dropped = /^sluice_metrics_series_dropped_total\{metric="litellm_requests_metric_total"\} (\S+)$/m
        .exec(res.body);
    assert.ok(dropped, 'dropped counter of litellm_requests_metric_total');
    assert.ok(Number(dropped[1]) >= DISTINCT_MODELS - MAX_SERIES, `dropped ${dropped[1]}`);

    const warnings = gateway.logs.filter((e) => e.event === 'metrics.series_limit'
        && e.metric === 'litellm_requests_metric_total');
    assert.equal(warnings.length, 1, 'one warning for the family');
});

function promtoolMissing() {
    const probe = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    return probe.error || probe.status !== 0
        ? 'promtool --version failed (Debian package prometheus; deploy/install-deps.sh installs it)'
        : null;
}

const noPromtool = promtoolMissing();

test('promtool accepts the capped scrape', testOptions(noPromtool), async () => {
    failIfMissing(noPromtool);
    const res = await httpRequest(`${gateway.url}/metrics`);
    assert.equal(res.status, 200);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '');
});
