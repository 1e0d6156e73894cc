// SPDX-License-Identifier: Apache-2.0
// LiteLLM's metric catalogue on /metrics. After one successful, one failed, one streamed and
// one failed streamed request with a team key, each series of that key has exactly the
// expected value, and promtool accepts the scrape. Then a real Prometheus server, started on
// loopback, scrapes two gateway nodes that share PostgreSQL and Redis and returns the spend of
// a team summed across both nodes.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';

import {
    failIfMissing, freePort, httpRequest, makeTempDir, needs, startMock, testOptions,
} from './lib/harness.mjs';
import { PRICE, chat, describe, pollUntil, pricedModels } from './lib/limits.mjs';
import { MgmtStack, needsCoordinator, sha256 } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const PROMPT_TOKENS = 90;
const COMPLETION_TOKENS = 5;
const COST = (PROMPT_TOKENS + COMPLETION_TOKENS) * PRICE; // USD of one successful request
const USAGE = { prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS };
const KEY_BUDGET = 10;
const TEAM_BUDGET = 50;
const STREAM = { stream: true, stream_options: { include_usage: true }, num_retries: 0 };

const stack = new MgmtStack({ masterKey: 'sk-master-catalogue-92d1' });
let mock;
let nodeA;
let nodeB;

before(async () => {
    await stack.start();
    mock = await startMock();
    const models = pricedModels(mock);
    nodeA = await stack.startNode({ models });
    nodeB = await stack.startNode({ models });
});

beforeEach(async () => {
    await mock.reset();
});

after(async () => {
    await mock?.stop();
    stack.assertNoKeyLeaked();
    await stack.stop();
});

// Creates a team with a budget and a key of that team with its own budget.
async function teamKey(alias) {
    const team = await stack.ok(nodeA, 'POST', '/team/new', { team_alias: alias,
        max_budget: TEAM_BUDGET });
    const { key } = await stack.generate(nodeA, { team_id: team.team_id, key_alias: alias,
        max_budget: KEY_BUDGET });
    return { key, team: team.team_id, hash: sha256(key) };
}

// Sends a chat request and waits until the node wrote its access log line, after which its
// metrics are updated.
async function logged(node, key, body) {
    const res = await chat(node, key, 'priced', { body });
    const id = res.headers['x-litellm-call-id'];
    assert.ok(id, `x-litellm-call-id header; ${describe(res)}`);
    await node.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 5000);
    return res;
}

// Returns [{name, labels, value}] for every sample line of a scrape.
function parseSamples(text) {
    const out = [];
    for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) {
            continue;
        }
        const brace = line.indexOf('{');
        const cut = line.lastIndexOf(' ');
        const labels = {};
        const name = brace >= 0 ? line.slice(0, brace) : line.slice(0, cut);
        if (brace >= 0) {
            const body = line.slice(brace + 1, line.lastIndexOf('}'));
            for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
                labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
            }
        }
        out.push({ name, labels, value: Number(line.slice(cut + 1)) });
    }
    return out;
}

// The series of `name` whose labels include every pair of `match`.
function series(samples, name, match) {
    return samples.filter((s) => s.name === name
        && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

// The sum of the series of `name` that match; asserts that at least one exists.
function total(samples, name, match) {
    const found = series(samples, name, match);
    assert.ok(found.length > 0, `no series ${name} with ${JSON.stringify(match)}`);
    return found.reduce((sum, s) => sum + s.value, 0);
}

function assertClose(actual, expected, what) {
    assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);
}

async function scrape(node) {
    const res = await httpRequest(`${node.url}/metrics`);
    assert.equal(res.status, 200, res.body);
    return res.body;
}

test('catalogue values after four requests', async () => {
    const { key, team, hash } = await teamKey('catalogue-a');
    const mine = { hashed_api_key: hash };

    await mock.queue({ status: 500, body: { error: { message: 'mock failure', type: 'api_error',
        param: null, code: null } } });
    const failed = await logged(nodeA, key, { num_retries: 0 });
    assert.equal(failed.status, 500, describe(failed));

    await mock.queue({ text: 'one two three four five six', chunks: 6, error_after_chunks: 2,
        usage: USAGE });
    const failedStream = await logged(nodeA, key, STREAM);
    assert.equal(failedStream.status, 200, describe(failedStream));
    assert.match(failedStream.body, /"error"/, 'the stream ends with an error event');

    await mock.queue({ usage: USAGE });
    const ok = await logged(nodeA, key, { num_retries: 0 });
    assert.equal(ok.status, 200, describe(ok));

    await mock.queue({ usage: USAGE });
    const stream = await logged(nodeA, key, STREAM);
    assert.equal(stream.status, 200, describe(stream));
    assert.match(stream.body, /data: \[DONE\]/);

    const s = parseSamples(await scrape(nodeA));

    // Requests: each counted once, the failed stream as failed.
    assert.equal(total(s, 'litellm_proxy_total_requests_metric_total', mine), 4);
    assert.equal(total(s, 'litellm_proxy_total_requests_metric_total',
        { ...mine, team: team, team_alias: 'catalogue-a' }), 4, 'the team alias is a label');
    assert.equal(total(s, 'litellm_proxy_total_requests_metric_total',
        { ...mine, status_code: '200' }), 2);
    // The in-band error event of the failed stream carries a 500, so it counts as a 500.
    assert.equal(total(s, 'litellm_proxy_total_requests_metric_total',
        { ...mine, status_code: '500' }), 2);
    assert.equal(total(s, 'litellm_proxy_failed_requests_metric_total', mine), 2);
    assert.equal(total(s, 'litellm_proxy_failed_requests_metric_total',
        { ...mine, exception_status: '500', route: '/chat/completions', team,
            api_key_alias: 'catalogue-a' }), 2);
    assert.equal(total(s, 'litellm_proxy_failed_requests_metric_total',
        { ...mine, exception_class: 'Openai.InternalServerError' }), 2);
    assert.equal(total(s, 'litellm_requests_metric_total', mine), 2);

    // Spend and tokens of the two successful requests.
    assertClose(total(s, 'litellm_spend_metric_total', { ...mine, team,
        model: 'priced-model' }), 2 * COST, 'spend');
    assert.equal(total(s, 'litellm_input_tokens_metric_total', { ...mine,
        requested_model: 'priced' }), 2 * PROMPT_TOKENS);
    assert.equal(total(s, 'litellm_output_tokens_metric_total', mine), 2 * COMPLETION_TOKENS);
    assert.equal(total(s, 'litellm_total_tokens_metric_total', mine),
        2 * (PROMPT_TOKENS + COMPLETION_TOKENS));

    // Deployments: every provider call, success or failure.
    assert.equal(total(s, 'litellm_deployment_success_responses_total', mine), 2);
    assert.equal(total(s, 'litellm_deployment_failure_responses_total', mine), 2);
    assert.equal(total(s, 'litellm_deployment_total_requests_total', mine), 4);
    assert.equal(total(s, 'litellm_llm_api_failed_requests_metric_total', mine), 2);
    // The last call of the deployment succeeded.
    const states = series(s, 'litellm_deployment_state', { litellm_model_name: 'priced-model' });
    assert.equal(states.length, 1, JSON.stringify(states));
    assert.equal(states[0].value, 0);

    // Latency histograms: one observation per request, TTFT for both streams.
    assert.equal(total(s, 'litellm_request_total_latency_metric_count', mine), 4);
    assert.equal(total(s, 'litellm_llm_api_latency_metric_count', mine), 4);
    assert.equal(total(s, 'litellm_llm_api_time_to_first_token_metric_count', mine), 2);
    assert.equal(total(s, 'litellm_overhead_latency_metric_count', mine), 4);
    assert.equal(total(s, 'litellm_deployment_latency_per_output_token_count', mine), 2);
    assert.equal(total(s, 'litellm_request_total_latency_metric_bucket',
        { ...mine, le: '+Inf' }), 4);

    // Budgets after the last request: its spend before admission plus its own cost.
    assertClose(total(s, 'litellm_remaining_api_key_budget_metric', mine), KEY_BUDGET - 2 * COST,
        'remaining key budget');
    assert.equal(total(s, 'litellm_api_key_max_budget_metric', mine), KEY_BUDGET);
    assertClose(total(s, 'litellm_remaining_team_budget_metric', { team }),
        TEAM_BUDGET - 2 * COST, 'remaining team budget');
    assert.equal(total(s, 'litellm_team_max_budget_metric', { team }), TEAM_BUDGET);

    // No cache is configured, so no lookup happened.
    assert.equal(series(s, 'litellm_cache_misses_metric_total', mine).length, 0);

    // The store clients' own metrics saw the admission and settlement scripts.
    assert.ok(series(s, 'sluice_redis_command_duration_seconds_count', {}).length > 0);
    assert.equal(total(s, 'sluice_redis_failure_mode', { mode: 'none' }), 1);
    assert.equal(total(s, 'sluice_redis_failure_mode', { mode: 'fail_open' }), 0);
});

function promtoolMissing() {
    const probe = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    return probe.error || probe.status !== 0
        ? 'promtool --version failed (Debian package prometheus; deploy/install-deps.sh installs it)'
        : null;
}

const noPromtool = promtoolMissing();

test('catalogue scrape passes promtool', testOptions(noPromtool), async () => {
    failIfMissing(noPromtool);
    const res = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(nodeA),
        encoding: 'utf8' });
    assert.equal(res.status, 0, `promtool check metrics: ${res.stdout}${res.stderr}`);
});

function prometheusMissing() {
    const probe = spawnSync('prometheus', ['--version'], { stdio: 'ignore' });
    return probe.error || probe.status !== 0
        ? 'prometheus --version failed (Debian package prometheus)'
        : null;
}

const noPrometheus = prometheusMissing();

// Starts Prometheus on loopback scraping `targets` every second; returns its URL and process.
async function startPrometheus(targets) {
    const dir = makeTempDir('sluice-prom-');
    const port = await freePort();
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(config, [
        'global: {scrape_interval: 1s, evaluation_interval: 1s}',
        'scrape_configs:',
        '- job_name: sluice',
        '  static_configs:',
        `  - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
        '',
    ].join('\n'));
    const proc = spawn('prometheus', [`--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (chunk) => { stderr += chunk; });
    const url = `http://127.0.0.1:${port}`;
    await pollUntil(async () => {
        const res = await httpRequest(`${url}/-/ready`).catch(() => null);
        return res?.status === 200;
    }, `Prometheus ready; stderr: ${stderr}`, 15000, 100);
    return { url, proc, stop: () => { proc.kill('SIGTERM'); } };
}

test('prometheus sums team spend across nodes', testOptions(noPrometheus), async () => {
    failIfMissing(noPrometheus);
    const { key, team } = await teamKey('catalogue-b');
    await mock.queue({ usage: USAGE, count: 3 });
    for (const node of [nodeA, nodeB, nodeB]) {
        const res = await logged(node, key, { num_retries: 0 });
        assert.equal(res.status, 200, describe(res));
    }

    const targets = [nodeA, nodeB].map((n) => new URL(n.url).host);
    const prom = await startPrometheus(targets);
    try {
        const query = `sum by (team) (litellm_spend_metric_total{team="${team}"})`;
        const value = await pollUntil(async () => {
            const res = await httpRequest(`${prom.url}/api/v1/query?query=${
                encodeURIComponent(query)}`);
            if (res.status !== 200) {
                return null;
            }
            const result = res.json().data.result;
            // Until both nodes were scraped the sum contains one node's spend only.
            if (result.length !== 1 || Math.abs(Number(result[0].value[1]) - 3 * COST) > 1e-9) {
                return null;
            }
            return Number(result[0].value[1]);
        }, `${query} = ${3 * COST}`, 30000, 500);
        assertClose(value, 3 * COST, 'team spend over two nodes');

        const up = await httpRequest(`${prom.url}/api/v1/query?query=${
            encodeURIComponent('sum(up{job="sluice"})')}`);
        assert.equal(Number(up.json().data.result[0].value[1]), 2, 'both nodes are up');
    } finally {
        prom.stop();
    }
});
