// SPDX-License-Identifier: Apache-2.0
// GET /metrics: the Prometheus text format on both spellings of the route, the build info
// gauge, the request counter by route and status on a gateway with two workers, and a scrape
// that promtool accepts. promtool comes with Debian's prometheus package (deploy/install-deps.sh).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import {
    chatBody, failIfMissing, httpRequest, needs, postJson, startGateway, startMock, testOptions,
} from './lib/harness.mjs';

await needs('gateway', 'mock');

const MASTER_KEY = 'sk-master-metrics-5c81e0';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        workers: 2,
        config: `
model_list:
- model_name: chat-group
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-metrics
    api_base: ${mock.url}/v1
general_settings:
  master_key: os.environ/METRICS_MASTER_KEY
`,
        env: { METRICS_MASTER_KEY: MASTER_KEY },
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

// Waits for the access log line of response `res`. The counter is updated just before that
// line is written, after the response went out, so only then does a scrape include `res`.
async function counted(res) {
    const id = res.headers['x-litellm-call-id'];
    assert.ok(id, 'x-litellm-call-id header');
    await gateway.waitForLog((e) => e.event === 'http.access' && e.request_id === id, 5000);
    return res;
}

// Returns {"name{labels}": value} for every sample line of a scrape.
function parseSamples(text) {
    const samples = {};
    for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) {
            continue;
        }
        const cut = line.lastIndexOf(' ');
        samples[line.slice(0, cut)] = Number(line.slice(cut + 1));
    }
    return samples;
}

// Scrapes `path` and waits until the scrape itself is counted, so that no scrape of one test
// is still to be counted when the next test reads the counter.
async function scrape(path = '/metrics') {
    const res = await httpRequest(`${gateway.url}${path}`);
    assert.equal(res.status, 200, `status of ${path}; body: ${res.body}`);
    assert.equal(res.headers['content-type'], CONTENT_TYPE);
    await counted(res);
    return res.body;
}

function requests(route, status) {
    return `sluice_http_requests_total{route="${route}",status="${status}"}`;
}

test('metrics counts requests by route and status', async () => {
    await mock.queue({ text: 'Hello.' });
    const auth = { authorization: `Bearer ${MASTER_KEY}` };
    const chat = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('chat-group'), auth);
    assert.equal(chat.status, 200, chat.body);
    await counted(chat);
    const denied = await postJson(`${gateway.url}/chat/completions`, chatBody('chat-group'),
        { authorization: 'Bearer sk-wrong' });
    assert.equal(denied.status, 401, denied.body);
    await counted(denied);
    for (let i = 0; i < 3; i++) {
        const res = await httpRequest(`${gateway.url}/health/liveliness`);
        assert.equal(res.status, 200);
        await counted(res);
    }
    const missing = await httpRequest(`${gateway.url}/no/such/route`);
    assert.equal(missing.status, 404);
    await counted(missing);

    const samples = parseSamples(await scrape());
    assert.equal(samples[requests('/chat/completions', 200)], 1);
    assert.equal(samples[requests('/chat/completions', 401)], 1);
    assert.equal(samples[requests('/health/liveliness', 200)], 3);
    assert.equal(samples[requests('unmatched', 404)], 1);
});

test('metrics slash path counts scrapes', async () => {
    const before = parseSamples(await scrape('/metrics/'))[requests('/metrics', 200)] ?? 0;
    const after = parseSamples(await scrape('/metrics'))[requests('/metrics', 200)];
    // A scrape is counted once its response was sent, so the second one sees the first.
    assert.equal(after, before + 1);
});

test('metrics build info has gateway version', async () => {
    const readiness = await httpRequest(`${gateway.url}/health/readiness`);
    const version = readiness.json().sluice_version;
    const text = await scrape();
    assert.match(text, /^# TYPE sluice_build_info gauge$/m);
    assert.equal(parseSamples(text)[`sluice_build_info{version="${version}"}`], 1);
});

test('metrics rejects other methods', async () => {
    const res = await postJson(`${gateway.url}/metrics`, {});
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET');
});

function promtoolMissing() {
    const probe = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    return probe.error || probe.status !== 0
        ? 'promtool --version failed (Debian package prometheus; deploy/install-deps.sh installs it)'
        : null;
}

const noPromtool = promtoolMissing();

test('promtool accepts the scrape', testOptions(noPromtool), async () => {
    failIfMissing(noPromtool);
    const text = await scrape();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // Exit 0 means no parse error and no lint warning (3 would be lint warnings only).
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}\n${text}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '');
});
