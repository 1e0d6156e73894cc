// SPDX-License-Identifier: Apache-2.0
// SIGTERM while a stream is in flight: the gateway stops accepting connections, lets the stream
// finish and exits 0; with general_settings.drain_timeout it gives up on a longer stream after
// that many seconds and closes the client's connection, and /health/readiness answers 503
// "draining" meanwhile. Every test starts its own gateway.

import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';

import { needs, sleep, startGateway, startMock } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock');

const GROUP = 'drain-chat';

let mock;

before(async () => {
    mock = await startMock();
});

after(async () => {
    if (mock) {
        await mock.stop();
    }
});

function startDrainGateway(drainTimeout) {
    return startGateway({
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-drain
    api_base: ${mock.url}/v1
general_settings:
  drain_timeout: ${drainTimeout}
`,
    });
}

// Resolves with the error code of one TCP connection attempt, or 'connected'.
function tryConnect(port) {
    return new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.once('connect', () => {
            sock.destroy();
            resolve('connected');
        });
        sock.once('error', (err) => resolve(err.code));
    });
}

// Polls until a connection attempt is refused; returns the ms it took, or null after timeoutMs.
async function waitRefused(port, timeoutMs) {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
        if (await tryConnect(port) === 'ECONNREFUSED') {
            return performance.now() - started;
        }
        await sleep(20);
    }
    return null;
}

function hasContent(ev) {
    return ev.kind === 'chunk' && Boolean(ev.json.choices?.[0]?.delta?.content);
}

test('stream finishes after sigterm', async (t) => {
    const gateway = await startDrainGateway(30);
    try {
        await mock.reset();
        await mock.queue({ text: 'abcdefghij'.repeat(10), chunks: 10, chunk_interval_ms: 200 });
        let refused;
        const res = await streamChat({
            url: `${gateway.url}/v1/chat/completions`,
            body: { model: GROUP, messages: [{ role: 'user', content: 'Go slowly' }], stream: true },
            onEvent(ev) {
                if (hasContent(ev) && refused === undefined) {
                    process.kill(gateway.proc.pid, 'SIGTERM');
                    refused = waitRefused(gateway.port, 1500);
                }
            },
        });
        const streamEnd = performance.now();
        assert.ok(refused !== undefined, 'no content chunk arrived, SIGTERM was never sent');

        assert.equal(res.status, 200);
        assert.equal(res.events.filter(hasContent).length, 10, 'content chunks');
        assert.equal(res.events.filter((e) => e.kind === 'error').length, 0, 'error events');
        assert.equal(res.events[res.events.length - 1].kind, 'done', 'the stream ends with [DONE]');

        const refusedAfter = await refused;
        t.diagnostic(`new connections refused ${refusedAfter?.toFixed(0)} ms after SIGTERM`);
        assert.notEqual(refusedAfter, null, 'new connections were still accepted 1.5 s after SIGTERM');

        // drain_timeout is 30 s: the exit must follow the stream's end, not the deadline.
        const code = await gateway.proc.waitExit(3000);
        t.diagnostic(`exit ${(performance.now() - streamEnd).toFixed(0)} ms after the stream ended`);
        assert.equal(code, 0, `exit code${code === null ? ': still running 3 s after the stream ended' : ''}`);
    } finally {
        await gateway.stop('SIGKILL');
    }
});

test('drain timeout cuts long stream', async (t) => {
    const gateway = await startDrainGateway(1);
    try {
        await mock.reset();
        // 50 chunks 200 ms apart: 10 s, far past the 1 s drain timeout.
        await mock.queue({ text: 'abcdefghij'.repeat(50), chunks: 50, chunk_interval_ms: 200 });
        let signalledAt;
        const res = await streamChat({
            url: `${gateway.url}/v1/chat/completions`,
            body: { model: GROUP, messages: [{ role: 'user', content: 'Go slowly' }], stream: true },
            timeoutMs: 8000,
            onEvent(ev) {
                if (hasContent(ev) && signalledAt === undefined) {
                    signalledAt = performance.now();
                    process.kill(gateway.proc.pid, 'SIGTERM');
                }
            },
        });
        const clientClosedAfter = performance.now() - signalledAt;
        const code = await gateway.proc.waitExit(3000);
        const exitedAfter = performance.now() - signalledAt;
        t.diagnostic(`client saw the end ${clientClosedAfter.toFixed(0)} ms after SIGTERM, `
            + `gateway exited ${code === null ? 'not yet' : 'by'} ${exitedAfter.toFixed(0)} ms`);

        assert.equal(res.status, 200);
        assert.ok(res.events.filter(hasContent).length < 50, 'the whole 10 s stream was sent');
        assert.ok(clientClosedAfter <= 3000, `client stream open ${clientClosedAfter} ms after SIGTERM`);
        assert.ok(clientClosedAfter >= 700, `client stream ended ${clientClosedAfter} ms after SIGTERM, `
            + 'before the 1 s drain timeout');
        assert.equal(code, 0, 'exit code after the drain timeout');
        assert.ok(exitedAfter <= 3000, `exit ${exitedAfter} ms after SIGTERM with drain_timeout 1 s`);
    } finally {
        await gateway.stop('SIGKILL');
    }
});

// Sends GET /health/readiness on `socket` (an open keep-alive connection) and resolves with the
// status line's code and the body.
function readinessOn(socket) {
    return new Promise((resolve, reject) => {
        let data = '';
        const onData = (chunk) => {
            data += chunk.toString('latin1');
            const head = data.indexOf('\r\n\r\n');
            if (head < 0) {
                return;
            }
            const length = /content-length:\s*(\d+)/i.exec(data.slice(0, head));
            if (length && data.length - head - 4 < Number(length[1])) {
                return;
            }
            socket.off('data', onData);
            resolve({ status: Number(data.split(' ')[1]), body: data.slice(head + 4) });
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.once('end', () => reject(Object.assign(new Error('closed'), { code: 'ECONNRESET' })));
        socket.write('GET /health/readiness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
}

test('readiness reports draining', async () => {
    const gateway = await startDrainGateway(30);
    try {
        await mock.reset();
        await mock.queue({ text: 'slow stream', chunks: 10, chunk_interval_ms: 200 });
        const socket = net.connect(gateway.port, '127.0.0.1');
        await new Promise((resolve, reject) => {
            socket.once('connect', resolve);
            socket.once('error', reject);
        });
        const before = await readinessOn(socket);
        assert.equal(before.status, 200);
        assert.match(before.body, /"status":"healthy"/);

        // A stream keeps the drain going while the kept-alive connection asks again.
        const stream = streamChat({
            url: `${gateway.url}/v1/chat/completions`,
            body: { model: GROUP, stream: true, messages: [{ role: 'user', content: 'hi' }] },
        });
        await sleep(300);
        process.kill(gateway.proc.pid, 'SIGTERM');
        await gateway.waitForLog((line) => line.event === 'gateway.draining', 5000);
        await sleep(100);
        // h2o may close an idle kept-alive connection once the drain starts; a balancer then
        // sees the connection close, which also stops it sending. Otherwise it must see 503.
        let during = null;
        try {
            during = await readinessOn(socket);
        } catch (err) {
            assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code), `unexpected error ${err.code}`);
        }
        if (during !== null) {
            assert.equal(during.status, 503);
            assert.match(during.body, /"status":"draining"/);
        }
        socket.destroy();
        await stream;
    } finally {
        await gateway.stop();
    }
});
