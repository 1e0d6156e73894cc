// SPDX-License-Identifier: Apache-2.0
// TLS on the gateway's listener (general_settings.tls_cert_file and tls_key_file). The tests
// cover HTTP/1.1 through the OpenAI SDK, HTTP/2 chosen by ALPN, and HTTP/1.1 for clients that
// offer only http/1.1 or no ALPN. They also send plain HTTP to the TLS port and check the
// start-up errors of an invalid TLS config.
// The certificates come from lib/tls.mjs: a test CA and a server certificate for 127.0.0.1.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import {
    chatBody, httpRequest, needs, postJson, spawnGateway, startGateway, startMock,
} from './lib/harness.mjs';
import { contentByChoice, streamChat } from './lib/sse.mjs';
import { makeCertificates } from './lib/tls.mjs';

await needs('gateway', 'mock', 'openssl', 'node-openai');

const MASTER_KEY = 'sk-master-listener-tls-4b1d';
const GROUP = 'tls-listener-chat';
const TEXT = 'Answer sent over a TLS listener.';

let certs;
let mock;
let gateway;
let baseUrl; // https://127.0.0.1:<port>

function configText({ certFile, keyFile } = {}) {
    const lines = [
        'model_list:',
        `- model_name: ${GROUP}`,
        '  litellm_params:',
        '    model: openai/gpt-4o-mini',
        '    api_key: sk-upstream-listener-tls',
        `    api_base: ${mock.url}/v1`,
        'general_settings:',
        `  master_key: ${MASTER_KEY}`,
    ];
    if (certFile !== undefined) {
        lines.push(`  tls_cert_file: ${certFile}`);
    }
    if (keyFile !== undefined) {
        lines.push(`  tls_key_file: ${keyFile}`);
    }
    return `${lines.join('\n')}\n`;
}

before(async () => {
    certs = makeCertificates();
    mock = await startMock();
    const config = configText({ certFile: certs.cert, keyFile: certs.key });
    gateway = await startGateway({ config });
    baseUrl = `https://127.0.0.1:${gateway.port}`;
});

after(async () => {
    if (gateway) {
        await gateway.stop();
    }
    if (mock) {
        await mock.stop();
    }
});

// A fetch() for the openai SDK that sends each request through `agent` (node:https) and records
// the TLS state of each response's socket in `sockets`. Node's global fetch ignores https.Agent,
// and its `dispatcher` option needs the undici package, which tests/package.json does not install.
function fetchThroughAgent(agent, sockets) {
    return async (url, init = {}) => {
        const request = new Request(url, init);
        const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
        const headers = Object.fromEntries(request.headers);
        if (body) {
            headers['content-length'] = String(body.length);
        }
        return new Promise((resolve, reject) => {
            const req = https.request(request.url, {
                method: request.method,
                headers,
                agent,
                signal: init.signal,
            });
            req.on('response', (res) => {
                sockets.push({
                    encrypted: res.socket.encrypted === true,
                    authorized: res.socket.authorized,
                    alpnProtocol: res.socket.alpnProtocol,
                    httpVersion: res.httpVersion,
                });
                const responseHeaders = new Headers();
                for (let i = 0; i < res.rawHeaders.length; i += 2) {
                    responseHeaders.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
                }
                const noBody = res.statusCode === 204 || res.statusCode === 304;
                resolve(new Response(noBody ? null : Readable.toWeb(res), {
                    status: res.statusCode,
                    statusText: res.statusMessage,
                    headers: responseHeaders,
                }));
            });
            req.on('error', reject);
            req.end(body);
        });
    };
}

// Opens a TLS connection that offers `alpn` (undefined: no ALPN extension at all) and trusts
// the test CA. Resolves with the connected socket.
function connectTls(alpn) {
    return new Promise((resolve, reject) => {
        const options = { host: '127.0.0.1', port: gateway.port, ca: certs.ca };
        if (alpn !== undefined) {
            options.ALPNProtocols = alpn;
        }
        const socket = tls.connect(options, () => resolve(socket));
        socket.once('error', reject);
    });
}

// Writes `request` on `socket` and resolves with everything read until the server closes.
function exchange(socket, request, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`connection still open after ${timeoutMs} ms. Read so far: `
                + JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))));
        }, timeoutMs);
        socket.on('data', (d) => chunks.push(d));
        socket.on('close', () => {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
        });
        // A reset after the server gives up on the connection is a close, not a test failure.
        socket.on('error', () => {});
        socket.write(request);
    });
}

const LIVELINESS_REQUEST = 'GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    + 'Connection: close\r\n\r\n';

test('listening line reports tls', () => {
    const line = gateway.logs.find((e) => e.event === 'gateway.listening');
    assert.ok(line, `no gateway.listening line:\n${gateway.describe()}`);
    assert.equal(line.tls, true);
});

test('sdk chat over https', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const sockets = [];
    const agent = new https.Agent({ ca: certs.ca, keepAlive: false });
    try {
        const client = new OpenAI({
            apiKey: MASTER_KEY,
            baseURL: `${baseUrl}/v1`,
            maxRetries: 0,
            fetch: fetchThroughAgent(agent, sockets),
        });
        const completion = await client.chat.completions.create({
            model: GROUP,
            messages: [{ role: 'user', content: 'Say hi' }],
        });
        assert.equal(completion.choices[0].message.content, TEXT);
        assert.equal(completion.choices[0].finish_reason, 'stop');
    } finally {
        agent.destroy();
    }
    assert.equal(sockets.length, 1, `responses seen: ${JSON.stringify(sockets)}`);
    assert.equal(sockets[0].encrypted, true, 'the response came over TLS');
    assert.equal(sockets[0].authorized, true, 'the certificate verified against the test CA');
    assert.equal(sockets[0].httpVersion, '1.1');
    assert.equal((await mock.requests()).length, 1);
});

test('https without trusted ca fails', async () => {
    // node:https trusts only its built-in roots here, so the handshake must fail.
    await assert.rejects(
        httpRequest(`${baseUrl}/health/liveliness`, { timeoutMs: 5000 }),
        (err) => {
            assert.match(String(err.code), /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/,
                `error: ${err.code} ${err.message}`);
            return true;
        },
    );
});

test('alpn h2 streams chat to done', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const session = http2.connect(baseUrl, { ca: certs.ca });
    try {
        await new Promise((resolve, reject) => {
            session.once('connect', resolve);
            session.once('error', reject);
        });
        assert.equal(session.alpnProtocol, 'h2');
        assert.equal(session.encrypted, true);

        const res = await streamChat({
            url: `${baseUrl}/v1/chat/completions`,
            http2: session,
            body: chatBody(GROUP, { stream: true }),
            headers: { authorization: `Bearer ${MASTER_KEY}` },
            timeoutMs: 10000,
        });
        assert.equal(res.status, 200, `raw: ${res.raw.slice(0, 500)}`);
        assert.equal(res.endedBy, 'end');
        assert.match(String(res.headers['content-type']), /^text\/event-stream/);
        assert.ok(res.raw.trimEnd().endsWith('data: [DONE]'),
            `stream tail: ${JSON.stringify(res.raw.slice(-200))}`);
        const kinds = res.events.map((e) => e.kind);
        assert.equal(kinds.at(-1), 'done');
        assert.equal(kinds.filter((k) => k === 'done').length, 1, `event kinds: ${kinds}`);
        assert.ok(!kinds.includes('error'), `event kinds: ${kinds}`);
        assert.equal(contentByChoice(res.events).get(0), TEXT);
        const finish = res.events.filter((e) => e.kind === 'chunk')
            .flatMap((e) => e.json.choices || [])
            .map((c) => c.finish_reason)
            .filter((r) => r !== null && r !== undefined);
        assert.deepEqual(finish, ['stop']);
    } finally {
        session.close();
    }
    const requests = await mock.requests();
    assert.equal(requests.length, 1);
});

test('alpn http/1.1 only gets http/1.1', async () => {
    const socket = await connectTls(['http/1.1']);
    // Strict clients expect the server to name the protocol it picked.
    assert.equal(socket.alpnProtocol, 'http/1.1');
    assert.equal(socket.authorized, true);
    const reply = (await exchange(socket, LIVELINESS_REQUEST)).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 200 /, `reply: ${JSON.stringify(reply.slice(0, 300))}`);
});

test('no alpn gets http/1.1', async () => {
    const socket = await connectTls(undefined);
    assert.equal(socket.alpnProtocol, false, 'no protocol was negotiated');
    const reply = (await exchange(socket, LIVELINESS_REQUEST)).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 200 /, `reply: ${JSON.stringify(reply.slice(0, 300))}`);
});

test('alpn prefers h2 when both offered', async () => {
    const socket = await connectTls(['http/1.1', 'h2']);
    try {
        assert.equal(socket.alpnProtocol, 'h2');
    } finally {
        socket.destroy();
    }
});

test('https chat over http/1.1', async () => {
    await mock.reset();
    await mock.queue({ text: TEXT });
    const res = await postJson(`${baseUrl}/v1/chat/completions`, chatBody(GROUP),
        { authorization: `Bearer ${MASTER_KEY}` }, { ca: certs.ca });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().choices[0].message.content, TEXT);
});

test('plain http on tls port closes', async () => {
    const socket = net.connect(gateway.port, '127.0.0.1');
    await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
    });
    const reply = await exchange(socket, LIVELINESS_REQUEST);
    // Either nothing at all or a TLS record of type 21 (alert) may come back, never HTTP.
    if (reply.length > 0) {
        const text = JSON.stringify(reply.toString('latin1').slice(0, 200));
        assert.equal(reply[0], 0x15, `expected a TLS alert record, got ${text}`);
    }

    assert.equal(gateway.proc.exitCode, undefined, 'the gateway is still running');
    const res = await httpRequest(`${baseUrl}/health/liveliness`,
        { ca: certs.ca, timeoutMs: 5000 });
    assert.equal(res.status, 200, res.body);
});

// Runs the gateway with `config`, expects exit code 1 and returns its config.invalid line.
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
    assert.ok(line.message.includes(proc.configPath), `config file not named: ${line.message}`);
    assert.equal(proc.logs.filter((e) => e.event === 'gateway.listening').length, 0);
    return line;
}

test('cert without key exits 1', async () => {
    const line = await expectConfigError(configText({ certFile: certs.cert }));
    assert.ok(line.message.includes('tls_cert_file'), `tls_cert_file not named: ${line.message}`);
    assert.ok(line.message.includes('tls_key_file'), `tls_key_file not named: ${line.message}`);
});

test('key without cert exits 1', async () => {
    const line = await expectConfigError(configText({ keyFile: certs.key }));
    assert.ok(line.message.includes('tls_cert_file'), `tls_cert_file not named: ${line.message}`);
    assert.ok(line.message.includes('tls_key_file'), `tls_key_file not named: ${line.message}`);
});

test('missing cert file exits 1', async () => {
    const missing = path.join(certs.dir, 'no-such-cert.pem');
    const line = await expectConfigError(configText({ certFile: missing, keyFile: certs.key }));
    assert.ok(line.message.includes(missing), `file not named: ${line.message}`);
    assert.ok(line.message.includes('tls_cert_file'), `key not named: ${line.message}`);
});

test('key not matching cert exits 1', async () => {
    // The CA's key is a valid EC key but not the one the server certificate was issued for.
    const config = configText({ certFile: certs.cert, keyFile: certs.caKey });
    const line = await expectConfigError(config);
    assert.ok(line.message.includes(certs.caKey), `file not named: ${line.message}`);
    assert.ok(line.message.includes('tls_key_file'), `key not named: ${line.message}`);
});
