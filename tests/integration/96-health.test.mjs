// SPDX-License-Identifier: Apache-2.0
// Health checks of deployments. With background_health_checks the coordinator's leader checks
// every deployment each second. A mock that starts failing is marked unhealthy in Redis, and
// both gateway nodes stop sending to it. GET /health lists it as unhealthy without any secret,
// and it comes back once the mock recovers. With background checks off, GET /health checks the
// deployments itself. Models stored in the database are checked too. /health/readiness reports
// Redis down once the test's Redis stops.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
    chatBody, freePort, httpRequest, makeTempDir, needs, postJson, sleep, spawnProc, startGateway,
    startMock,
} from './lib/harness.mjs';
import { COORDINATOR, MgmtStack, needsCoordinator } from './lib/mgmt.mjs';

await needs('gateway', 'mock', 'postgres', 'redis');
needsCoordinator();

const MASTER_KEY = 'sk-master-health-96';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const UPSTREAM_KEY = 'sk-upstream-secret-health-96f3';
const AWS_SECRET = 'aws-secret-health-96-0c1d';

const stack = new MgmtStack({ masterKey: MASTER_KEY });
let flaky;  // serves hc-flaky, scripted to fail
let steady; // serves hc-steady and hc-embed
let coordinator;
let metricsPort;
let nodeA;
let nodeB;
let liveNode; // background checks off

function models() {
    return `
model_list:
- model_name: pair
  litellm_params:
    model: openai/flaky-model
    api_key: ${UPSTREAM_KEY}
    api_base: ${flaky.url}/v1
    aws_secret_access_key: ${AWS_SECRET}
  model_info:
    id: hc-flaky
- model_name: pair
  litellm_params:
    model: openai/steady-model
    api_key: ${UPSTREAM_KEY}
    api_base: ${steady.url}/v1
  model_info:
    id: hc-steady
- model_name: embed
  litellm_params:
    model: openai/embed-model
    api_key: ${UPSTREAM_KEY}
    api_base: ${steady.url}/v1
  model_info:
    id: hc-embed
    mode: embedding
- model_name: quiet
  litellm_params:
    model: openai/quiet-model
    api_key: ${UPSTREAM_KEY}
    api_base: ${steady.url}/v1
  model_info:
    id: hc-quiet
    disable_background_health_check: true
router_settings:
  num_retries: 0
`;
}

function config(background) {
    return `${models()}
general_settings:
  master_key: ${MASTER_KEY}
  database_url: ${stack.pg.url}
  background_health_checks: ${background}
  health_check_interval: 1
  store_model_in_db: true
`;
}

// A health check is the only call with the single user message "ping".
function isCheck(req) {
    return req.body.includes('"ping"');
}

async function clientCalls(mock) {
    return (await mock.requests()).filter((r) => !isCheck(r)).length;
}

async function health(node, query = '') {
    const res = await httpRequest(`${node.url}/health${query}`, { headers: AUTH });
    assert.equal(res.status, 200, res.body);
    return res;
}

// Polls GET /health on `node` until `predicate(body)` holds; returns the last response.
async function healthUntil(node, predicate, what, timeoutMs = 8000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const res = await health(node);
        if (predicate(res.json())) {
            return res;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}; last /health: ${res.body}\n`
                + coordinator.describe());
        }
        await sleep(100);
    }
}

const ids = (list) => list.map((e) => e.model_id).sort();

before(async () => {
    await stack.start();
    flaky = await startMock();
    steady = await startMock();
    const dir = makeTempDir('sluice-health-');
    const configPath = path.join(dir, 'config.yaml');
    fs.writeFileSync(configPath, config(true));
    metricsPort = await freePort();
    coordinator = spawnProc(COORDINATOR, ['run', '--config', configPath, '--metrics-port',
        String(metricsPort)], { REDIS_URL: stack.redis.url }, 'coordinator');
    await coordinator.waitForLog((e) => e.event === 'coordinator.leader_acquired', 10000);
    nodeA = await stack.startNode({ config: config(true) });
    nodeB = await stack.startNode({ config: config(true) });
    liveNode = await startGateway({ config: config(false), workers: 1,
        env: { REDIS_URL: stack.redis.url } });
});

after(async () => {
    await coordinator?.stop();
    await liveNode?.stop();
    if (liveNode) {
        assert.doesNotMatch(liveNode.proc.stderrText, /Sanitizer|runtime error:/, liveNode.describe());
    }
    await flaky?.stop();
    await steady?.stop();
    await stack.stop();
    if (coordinator) {
        assert.doesNotMatch(coordinator.stderrText ?? '', /Sanitizer|runtime error:/,
            coordinator.describe());
    }
});

test('health requires a key', async () => {
    const res = await httpRequest(`${nodeA.url}/health`);
    assert.equal(res.status, 401, res.body);
});

test('background checks mark failing mock unhealthy', async () => {
    await healthUntil(nodeA, (b) => b.healthy_count === 3, 'three healthy deployments');
    const first = (await health(nodeA)).json();
    assert.deepEqual(ids(first.healthy_endpoints), ['hc-embed', 'hc-flaky', 'hc-steady']);
    assert.equal(first.unhealthy_count, 0);
    const embedCheck = (await steady.requests()).find((r) => r.path === '/v1/embeddings');
    assert.ok(embedCheck, 'the embedding deployment got no embedding check');

    await flaky.queue({ status: 500, count: 100000,
        body: { error: { message: `upstream broke, key ${UPSTREAM_KEY}` } } });
    const marked = Date.now();
    const res = await healthUntil(nodeA, (b) => b.unhealthy_count === 1, 'hc-flaky unhealthy', 4000);
    assert.ok(Date.now() - marked < 4000);
    const body = res.json();
    assert.deepEqual(ids(body.unhealthy_endpoints), ['hc-flaky']);
    assert.deepEqual(ids(body.healthy_endpoints), ['hc-embed', 'hc-steady']);
    const entry = body.unhealthy_endpoints[0];
    assert.equal(entry.model, 'openai/flaky-model');
    assert.equal(entry.api_base, `${flaky.url}/v1`);
    assert.match(entry.error, /HTTP 500/);
    assert.match(entry.error, /upstream broke/);
    assert.equal(entry.api_key, undefined);
    assert.doesNotMatch(res.body, new RegExp(UPSTREAM_KEY));
    assert.doesNotMatch(res.body, new RegExp(AWS_SECRET));

    // Node B learned the same result through Redis.
    await healthUntil(nodeB, (b) => b.unhealthy_count === 1, 'hc-flaky unhealthy on B', 2000);
    // Its deployment state shows the failed check (1: partial outage).
    const state = await httpRequest(`${nodeB.url}/metrics`);
    assert.match(state.body,
        /^litellm_deployment_state\{[^}]*model_id="hc-flaky"[^}]*\} 1(\.0)?$/m,
        'litellm_deployment_state of hc-flaky on B');

    // Neither node sends client traffic to the unhealthy deployment, once the message has
    // reached every worker (each has its own subscription).
    await sleep(200);
    const before = await clientCalls(flaky);
    for (const node of [nodeA, nodeB]) {
        for (let i = 0; i < 10; i++) {
            const chat = await postJson(`${node.url}/v1/chat/completions`, chatBody('pair'), AUTH);
            assert.equal(chat.status, 200, chat.body);
            assert.equal(chat.headers['x-litellm-model-id'], 'hc-steady');
        }
    }
    assert.equal(await clientCalls(flaky), before, 'a node sent a client call to hc-flaky');

    // The coordinator counts the checks and the failures.
    const scrape = await httpRequest(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(scrape.status, 200);
    const failed = scrape.body.match(/^sluice_health_checks_total\{outcome="unhealthy"\} (\d+)/m);
    assert.ok(failed, scrape.body);
    assert.ok(Number(failed[1]) >= 1, failed[0]);
    const passed = scrape.body.match(/^sluice_health_checks_total\{outcome="healthy"\} (\d+)/m);
    assert.ok(passed, scrape.body);
    assert.ok(Number(passed[1]) >= 3, passed[0]);

    // Once the mock recovers, the next check brings the deployment back into routing.
    await flaky.reset();
    await healthUntil(nodeB, (b) => b.healthy_count === 3, 'hc-flaky healthy again', 4000);
    let returned = false;
    for (let i = 0; i < 40 && !returned; i++) {
        const chat = await postJson(`${nodeB.url}/v1/chat/completions`, chatBody('pair'), AUTH);
        assert.equal(chat.status, 200, chat.body);
        returned = chat.headers['x-litellm-model-id'] === 'hc-flaky';
    }
    assert.ok(returned, 'hc-flaky got no client call in 40 requests after it recovered');
});

test('health scoped by model and model id', async () => {
    const byGroup = (await health(nodeA, '?model=pair')).json();
    assert.deepEqual(ids([...byGroup.healthy_endpoints, ...byGroup.unhealthy_endpoints]),
        ['hc-flaky', 'hc-steady']);
    const byId = (await health(nodeA, '?model_id=hc-embed')).json();
    assert.deepEqual(ids(byId.healthy_endpoints), ['hc-embed']);

    const unknownId = await httpRequest(`${nodeA.url}/health?model_id=nope`, { headers: AUTH });
    assert.equal(unknownId.status, 404, unknownId.body);
    assert.deepEqual(unknownId.json(), { error: 'Model with ID nope not found' });
    const unknownModel = await httpRequest(`${nodeA.url}/health?model=nope`, { headers: AUTH });
    assert.equal(unknownModel.status, 404, unknownModel.body);
    assert.deepEqual(unknownModel.json(), { error: 'Model nope not found' });
});

test('health without background checks runs checks', async () => {
    await flaky.queue({ status: 503, count: 100000 });
    const checksBefore = (await steady.requests()).filter(isCheck).length;
    const res = await health(liveNode);
    const body = res.json();
    assert.deepEqual(ids(body.healthy_endpoints), ['hc-embed', 'hc-quiet', 'hc-steady']);
    assert.deepEqual(ids(body.unhealthy_endpoints), ['hc-flaky']);
    assert.match(body.unhealthy_endpoints[0].error, /HTTP 503/);
    assert.doesNotMatch(res.body, new RegExp(UPSTREAM_KEY));
    const checksAfter = (await steady.requests()).filter(isCheck).length;
    assert.ok(checksAfter >= checksBefore + 3, `${checksAfter - checksBefore} checks on steady`);

    const one = (await health(liveNode, '?model_id=hc-quiet')).json();
    assert.deepEqual(ids(one.healthy_endpoints), ['hc-quiet']);
    assert.equal(one.unhealthy_count, 0);
    await flaky.reset();
});

test('background checks cover database models', async () => {
    const created = await postJson(`${nodeA.url}/model/new`, {
        model_name: 'stored',
        litellm_params: { model: 'openai/stored-model', api_base: `${steady.url}/v1`,
            api_key: UPSTREAM_KEY },
    }, AUTH);
    assert.equal(created.status, 200, created.body);
    const id = created.json().model_id;
    const res = await healthUntil(nodeB, (b) => b.healthy_endpoints.some((e) => e.model_id === id),
        'the stored model healthy on B', 5000);
    const entry = res.json().healthy_endpoints.find((e) => e.model_id === id);
    assert.equal(entry.model, 'openai/stored-model');
    assert.doesNotMatch(res.body, new RegExp(UPSTREAM_KEY));
    const checks = (await steady.requests()).filter((r) => isCheck(r) && r.body.includes('stored-model'));
    assert.ok(checks.length >= 1, 'the stored model got no check');
});

test('readiness shows redis and database', async () => {
    const up = await httpRequest(`${nodeA.url}/health/readiness`);
    assert.equal(up.status, 200, up.body);
    assert.equal(up.json().status, 'healthy');
    assert.equal(up.json().db, 'connected');
    assert.equal(up.json().redis, 'connected');
    assert.equal(up.json().cache, null);

    await stack.redis.stop();
    const deadline = Date.now() + 5000;
    let res;
    for (;;) {
        res = await httpRequest(`${nodeA.url}/health/readiness`);
        if (res.json().redis === 'disconnected' || Date.now() > deadline) {
            break;
        }
        await sleep(100);
    }
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().redis, 'disconnected');
    assert.equal(res.json().db, 'connected');
});
