// SPDX-License-Identifier: Apache-2.0
// Egress to a TLS upstream: certificate verification with SSL_CERT_FILE, ssl_verify: false, and
// HTTPS_PROXY / NO_PROXY through a small CONNECT proxy run by the test on 127.0.0.1.
// The CA and the server certificate for 127.0.0.1 are made with the openssl CLI at run time.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import {
    chatBody, expectErrorEnvelope, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';
import { makeCertificates } from './lib/tls.mjs';

await needs('gateway', 'mock', 'openssl');

let certs;
let mock;
let proxy;
const started = [];

// A CONNECT-only forward proxy on 127.0.0.1 that records each CONNECT target and tunnels only
// to loopback addresses.
function startConnectProxy() {
    const targets = [];
    const server = http.createServer((req, res) => {
        res.writeHead(405);
        res.end();
    });
    server.on('connect', (req, clientSocket, head) => {
        targets.push(req.url);
        const [host, port] = req.url.split(':');
        if (host !== '127.0.0.1' && host !== 'localhost') {
            clientSocket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
            return;
        }
        const upstream = net.connect(Number(port), '127.0.0.1', () => {
            clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
            upstream.write(head);
            upstream.pipe(clientSocket);
            clientSocket.pipe(upstream);
        });
        upstream.on('error', () => clientSocket.destroy());
        clientSocket.on('error', () => upstream.destroy());
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            resolve({
                url: `http://127.0.0.1:${server.address().port}`,
                targets,
                stop: () => new Promise((done) => {
                    server.closeAllConnections?.();
                    server.close(() => done());
                }),
            });
        });
    });
}

before(async () => {
    certs = makeCertificates();
    mock = await startMock({ tls: { cert: certs.cert, key: certs.key, ca: certs.ca } });
    proxy = await startConnectProxy();
});

after(async () => {
    for (const gw of started) {
        await gw.stop();
    }
    if (mock) {
        await mock.stop();
    }
    if (proxy) {
        await proxy.stop();
    }
});

async function gatewayWith({ env = {}, litellmSettings = '' } = {}) {
    const gw = await startGateway({
        config: `
model_list:
- model_name: tls-chat
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-tls
    api_base: ${mock.url}/v1
${litellmSettings}
`,
        env,
    });
    started.push(gw);
    return gw;
}

const chat = (gw) => postJson(`${gw.url}/v1/chat/completions`, chatBody('tls-chat'));

test('tls mock serves https', async () => {
    assert.ok(mock.url.startsWith('https://'), mock.url);
    await mock.reset();
    assert.deepEqual(await mock.requests(), []);
});

test('tls upstream with ca file', async () => {
    await mock.reset();
    await mock.queue({ text: 'Verified TLS answer.' });
    const gw = await gatewayWith({ env: { SSL_CERT_FILE: certs.caFile } });
    const res = await chat(gw);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().choices[0].message.content, 'Verified TLS answer.');
    assert.equal((await mock.requests()).length, 1);
});

test('tls upstream unknown ca is 502', async () => {
    await mock.reset();
    const gw = await gatewayWith();
    const res = await chat(gw);
    expectErrorEnvelope(assert, res, 502);
    assert.equal((await mock.requests()).length, 0, 'no request may pass an unverified handshake');
});

test('ssl_verify false skips verification', async () => {
    await mock.reset();
    await mock.queue({ text: 'Unverified TLS answer.' });
    const gw = await gatewayWith({ litellmSettings: 'litellm_settings:\n  ssl_verify: false' });
    const res = await chat(gw);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().choices[0].message.content, 'Unverified TLS answer.');
});

test('https proxy carries upstream', async () => {
    await mock.reset();
    proxy.targets.length = 0;
    const gw = await gatewayWith({ env: { SSL_CERT_FILE: certs.caFile, HTTPS_PROXY: proxy.url } });
    const res = await chat(gw);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(proxy.targets, [`127.0.0.1:${mock.port}`]);
    assert.equal((await mock.requests()).length, 1);
});

test('no_proxy bypasses proxy', async () => {
    await mock.reset();
    proxy.targets.length = 0;
    const gw = await gatewayWith({
        env: { SSL_CERT_FILE: certs.caFile, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    });
    const res = await chat(gw);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(proxy.targets, []);
    assert.equal((await mock.requests()).length, 1);
});
