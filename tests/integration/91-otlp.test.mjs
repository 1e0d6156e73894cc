// SPDX-License-Identifier: Apache-2.0
// OTLP traces, read by an independent protobuf decoder in both encodings. The tests cover the
// traceparent continued from the client and sent to the provider, one child span per provider
// attempt, message content only when enabled, and fast requests while the collector is down.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';

import {
    chatBody, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';
import { MgmtStack } from './lib/mgmt.mjs';
import { decoderMissing, startOtlpReceiver } from './lib/otlp-receiver.mjs';

await needs('gateway', 'mock');
const missing = decoderMissing();
if (missing) {
    if (process.env.CI === 'true') {
        throw new Error(`missing dependency under CI=true: ${missing}`);
    }
    console.log(`1..0 # SKIP ${missing}`);
    process.exit(77);
}

const MASTER_KEY = 'sk-master-otlp-7d21';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const SECRET_PROMPT = 'the secret prompt 4711';
const SERVER_SPAN = 'Received Proxy Server Request';
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_PARENT = '00f067aa0ba902b7';

const cleanups = [];
after(async () => {
    for (const fn of cleanups.reverse()) {
        await fn();
    }
});

function config(mock, extra = '') {
    return `
model_list:
- model_name: pair
  litellm_params:
    model: openai/pair-one-model
    api_key: sk-upstream-otlp
    api_base: ${mock.url}/v1
    input_cost_per_token: 0.000001
    output_cost_per_token: 0.000002
  model_info:
    id: pair-one
- model_name: pair
  litellm_params:
    model: openai/pair-two-model
    api_key: sk-upstream-otlp
    api_base: ${mock.url}/v1
  model_info:
    id: pair-two
litellm_settings:
  callbacks: ["otel"]
${extra}
general_settings:
  master_key: ${MASTER_KEY}
`;
}

async function setup({ protocol = 'http/protobuf', extra = '', receiverStatus, endpoint } = {}) {
    const mock = await startMock();
    cleanups.push(() => mock.stop());
    let receiver = null;
    if (!endpoint) {
        receiver = await startOtlpReceiver({ status: receiverStatus });
        cleanups.push(() => receiver.close());
    }
    const gateway = await startGateway({
        config: config(mock, extra),
        env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: endpoint || receiver.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
            OTEL_EXPORTER_OTLP_HEADERS: 'x-otlp-tenant=tenant-secret-99',
            OTEL_SERVICE_NAME: 'sluice-test',
        },
    });
    cleanups.push(async () => {
        await gateway.stop();
        // Under -DSL_SANITIZE the export thread and its shutdown must leave no report.
        assert.doesNotMatch(gateway.proc.stderrText, /Sanitizer|runtime error:/,
            gateway.describe());
    });
    return { mock, receiver, gateway };
}

const chat = (gateway, headers = {}, extra = {}) => postJson(
    `${gateway.url}/v1/chat/completions`,
    chatBody('pair', { messages: [{ role: 'user', content: SECRET_PROMPT }], ...extra }),
    { ...AUTH, ...headers });

async function spansOfTrace(receiver, traceId, count) {
    return receiver.waitFor((spans) => {
        const mine = spans.filter((s) => s.traceId === traceId);
        return mine.length >= count ? mine : null;
    });
}

for (const protocol of ['http/protobuf', 'http/json']) {
    test(`server span continues client trace (${protocol})`, async () => {
        const { mock, receiver, gateway } = await setup({ protocol });
        const res = await chat(gateway, {
            traceparent: `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`,
            'user-agent': 'otlp-test-agent',
        });
        assert.equal(res.status, 200, res.body);

        const spans = await spansOfTrace(receiver, CLIENT_TRACE, 2);
        const server = spans.find((s) => s.name === SERVER_SPAN);
        const client = spans.find((s) => s.kind === 3);
        assert.ok(server, JSON.stringify(spans.map((s) => s.name)));
        assert.ok(client, 'one CLIENT span for the provider call');
        assert.equal(server.encoding, protocol === 'http/json' ? 'json' : 'protobuf');
        assert.equal(server.kind, 2);
        assert.equal(server.parentSpanId, CLIENT_PARENT);
        assert.equal(client.parentSpanId, server.spanId);
        assert.equal(server.resource['service.name'], 'sluice-test');
        assert.equal(server.status.code, 1);
        assert.ok(server.end >= server.start);
        assert.ok(client.start >= server.start, 'the attempt starts inside the server span');
        assert.ok(client.end <= server.end, 'the attempt ends inside the server span');

        const a = server.attributes;
        assert.equal(a['gen_ai.request.model'], 'pair');
        assert.equal(a['gen_ai.system'], 'openai');
        assert.equal(a['llm.request.type'], 'acompletion');
        assert.equal(a['llm.is_streaming'], 'False');
        assert.equal(a['http.response.status_code'], 200);
        assert.equal(typeof a['gen_ai.usage.input_tokens'], 'number');
        assert.equal(a['gen_ai.usage.total_tokens'],
            a['gen_ai.usage.input_tokens'] + a['gen_ai.usage.output_tokens']);
        assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop']);
        assert.equal(a['metadata.user_agent'], 'otlp-test-agent');
        assert.equal(a['metadata.requester_ip_address'], '127.0.0.1');
        assert.equal(a['metadata.user_api_key_request_route'], '/chat/completions');
        assert.equal(a['sluice.call_id'], res.headers['x-litellm-call-id']);
        const hidden = JSON.parse(a.hidden_params);
        assert.equal(hidden.model_id, res.headers['x-litellm-model-id']);
        assert.equal(typeof hidden.litellm_overhead_time_ms, 'number');
        if (hidden.model_id === 'pair-one') {
            assert.ok(a['gen_ai.cost.total_cost'] > 0, 'priced deployment has a cost');
        }
        // Content stays out by default, and so do keys.
        assert.equal(a['gen_ai.input.messages'], undefined);
        assert.equal(a['gen_ai.output.messages'], undefined);
        const everything = JSON.stringify(spans, (k, v) => (typeof v === 'bigint' ? String(v) : v));
        assert.ok(!everything.includes(SECRET_PROMPT), 'the prompt is not in any span');
        assert.ok(!everything.includes('sk-upstream-otlp'), 'the provider key is not in any span');
        assert.ok(!everything.includes(MASTER_KEY), 'the master key is not in any span');

        assert.equal(client.attributes['sluice.model_id'], hidden.model_id);
        assert.equal(client.attributes['http.response.status_code'], 200);
        assert.equal(client.attributes['sluice.api_base'], `${mock.url}/v1`);

        // The provider got a traceparent naming the client span, in the same trace.
        const [upstream] = await mock.requests();
        assert.equal(upstream.headers.traceparent,
            `00-${CLIENT_TRACE}-${client.spanId}-01`);
        // The exporter sent the configured header.
        assert.equal(receiver.requests[0].headers['x-otlp-tenant'], 'tenant-secret-99');
        // The header value is never logged.
        assert.ok(!gateway.proc.stdoutText.includes('tenant-secret-99'));
    });
}

test('retried call has two attempt spans', async () => {
    const { mock, receiver, gateway } = await setup();
    await mock.queue({ status: 429 });
    const res = await chat(gateway);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-litellm-attempted-retries'], '1');

    const server = await receiver.waitFor((spans) => spans.find((s) => s.name === SERVER_SPAN));
    // A new trace id, since the client sent no traceparent.
    assert.match(server.traceId, /^[0-9a-f]{32}$/);
    assert.equal(server.parentSpanId, '');
    const attempts = await receiver.waitFor((spans) => {
        const mine = spans.filter((s) => s.parentSpanId === server.spanId);
        return mine.length >= 2 ? mine : null;
    });
    attempts.sort((x, y) => x.attributes['sluice.attempt'] - y.attributes['sluice.attempt']);
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0].attributes['http.response.status_code'], 429);
    assert.equal(attempts[0].status.code, 2);
    assert.equal(attempts[1].attributes['http.response.status_code'], 200);
    assert.equal(attempts[1].status.code, 1);
    assert.notEqual(attempts[0].attributes['sluice.model_id'],
        attempts[1].attributes['sluice.model_id']);
    assert.equal(server.attributes['sluice.attempted_retries'], 1);

    // Each provider call carried its own attempt's span id.
    const sent = (await mock.requests()).map((r) => r.headers.traceparent);
    assert.deepEqual(sent, attempts.map((s) => `00-${server.traceId}-${s.spanId}-01`));
});

test('content recorded when enabled', async () => {
    const { receiver, gateway } = await setup({
        extra: 'callback_settings:\n  otel:\n    message_logging: true',
    });
    const res = await chat(gateway);
    assert.equal(res.status, 200, res.body);
    const server = await receiver.waitFor((spans) => spans.find((s) => s.name === SERVER_SPAN));
    const input = JSON.parse(server.attributes['gen_ai.input.messages']);
    assert.deepEqual(input, [{ role: 'user', parts: [{ type: 'text', content: SECRET_PROMPT }] }]);
    const output = JSON.parse(server.attributes['gen_ai.output.messages']);
    assert.equal(output[0].role, 'assistant');
    assert.equal(output[0].parts[0].type, 'text');
    assert.equal(output[0].parts[0].content, res.json().choices[0].message.content);

    // A request can still ask for redaction.
    const redacted = await chat(gateway, { 'x-litellm-enable-message-redaction': 'true' });
    assert.equal(redacted.status, 200);
    const second = await receiver.waitFor((spans) => spans.find((s) => s.name === SERVER_SPAN
        && s.attributes['sluice.call_id'] === redacted.headers['x-litellm-call-id']));
    assert.equal(second.attributes['gen_ai.input.messages'], undefined);
});

async function metricValue(gateway, name) {
    const res = await new Promise((resolve, reject) => {
        http.get(`${gateway.url}/metrics`, (r) => {
            let body = '';
            r.on('data', (c) => { body += c; });
            r.on('end', () => resolve(body));
        }).on('error', reject);
    });
    const line = res.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').pop()) : NaN;
}

async function waitForMetric(gateway, name, predicate, ms = 8000) {
    const until = Date.now() + ms;
    for (;;) {
        const v = await metricValue(gateway, name);
        if (predicate(v)) return v;
        if (Date.now() > until) {
            throw new Error(`${name} is ${v} after ${ms} ms`);
        }
        await new Promise((r) => setTimeout(r, 100));
    }
}

test('collector down keeps requests fast', async () => {
    // A port with no listener: every export fails to connect.
    const probe = http.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));

    const { gateway } = await setup({ endpoint: `http://127.0.0.1:${deadPort}` });
    for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await chat(gateway);
        assert.equal(res.status, 200, res.body);
        assert.ok(Date.now() - started < 1000, `request took ${Date.now() - started} ms`);
    }
    await waitForMetric(gateway, 'sluice_otel_export_failures_total', (v) => v >= 1);
    await waitForMetric(gateway, 'sluice_otel_spans_dropped_total{reason="export_failed"}',
        (v) => v >= 2);
});

test('collector answering 500 counts failures', async () => {
    const { receiver, gateway } = await setup({ receiverStatus: 500 });
    const res = await chat(gateway);
    assert.equal(res.status, 200, res.body);
    await waitForMetric(gateway, 'sluice_otel_export_failures_total', (v) => v >= 2);
    assert.ok(receiver.requests.length >= 2, 'the exporter retried after a 500');
    assert.equal(await metricValue(gateway, 'sluice_otel_spans_exported_total'), 0);
});

test('store calls are child spans', async () => {
    // PostgreSQL and Redis behind a virtual key, an end user and a global cap, so the key
    // lookup, the end-user lookup, admission and settlement each call a store.
    const stack = new MgmtStack({ masterKey: MASTER_KEY });
    await stack.start();
    cleanups.push(() => stack.stop());
    const mock = await startMock();
    cleanups.push(() => mock.stop());
    const receiver = await startOtlpReceiver({});
    cleanups.push(() => receiver.close());
    const gateway = await stack.startNode({
        config: config(mock, '').replace('general_settings:', `general_settings:
  global_max_parallel_requests: 50
  database_url: ${stack.pg.url}`),
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
    const { key } = await stack.generate(gateway, {});
    const traceId = 'a1'.repeat(16);
    const res = await chat(gateway, { authorization: `Bearer ${key}`,
        traceparent: `00-${traceId}-${CLIENT_PARENT}-01` }, { user: 'end-user-otlp' });
    assert.equal(res.status, 200, res.body);

    // The server span, the provider call, three store calls before it and the settlement.
    const spans = await spansOfTrace(receiver, traceId, 6);
    const server = spans.find((s) => s.name === SERVER_SPAN);
    const lookup = spans.find((s) => s.name === 'virtual key lookup');
    const endUser = spans.find((s) => s.name === 'end user lookup');
    const admit = spans.find((s) => s.name === 'redis admit');
    const settle = spans.find((s) => s.name === 'redis settle');
    assert.ok(lookup && endUser && admit && settle, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(endUser.attributes['db.system'], 'postgresql');
    assert.equal(settle.attributes['db.system'], 'redis');
    for (const span of [lookup, endUser, admit, settle]) {
        assert.equal(span.kind, 3);
        assert.equal(span.parentSpanId, server.spanId);
        assert.ok(span.end >= span.start);
        assert.equal(span.status.code, 1, `${span.name} succeeded`);
    }
    assert.equal(lookup.attributes['db.system'], 'postgresql', 'a new key is read from PostgreSQL');
    assert.equal(admit.attributes['db.system'], 'redis');
    stack.assertNoKeyLeaked();
});

test('stream span names its model and finish reason', async () => {
    const { receiver, gateway } = await setup();
    const traceId = 'b2'.repeat(16);
    const res = await chat(gateway, { traceparent: `00-${traceId}-${CLIENT_PARENT}-01` },
        { stream: true });
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /\[DONE\]/);

    const spans = await spansOfTrace(receiver, traceId, 2);
    const server = spans.find((s) => s.name === SERVER_SPAN);
    assert.ok(server, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(server.attributes['llm.is_streaming'], 'True');
    assert.equal(server.attributes['gen_ai.response.model'], 'pair');
    assert.deepEqual(server.attributes['gen_ai.response.finish_reasons'], ['stop']);
});
