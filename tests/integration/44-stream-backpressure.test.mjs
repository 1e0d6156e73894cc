// SPDX-License-Identifier: Apache-2.0
// A 20 MB stream to a client that reads at about 4 MB/s: the content arrives byte for byte, and
// the gateway's memory stays bounded while the mock could send far faster than the client reads.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { needs, startGateway, startMock } from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock');

const GROUP = 'bulk-chat';
const CHUNK_BYTES = 1024;
const CHUNKS = 20000;
// The client takes at most this many bytes of SSE per 100 ms: about 4 MB/s.
const READ_BYTES_PER_TICK = 400 * 1024;
// The relay keeps at most ~512 KB per stream (256 KB queued for the client plus 256 KB of
// upstream buffer, see gateway/http/relay.c), so a bigger growth means the stream is buffered.
const MAX_RSS_GROWTH_KB = 8 * 1024;

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        workers: 1,
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/gpt-4o-mini
    api_key: sk-upstream-bulk
    api_base: ${mock.url}/v1
`,
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

function rssKb(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    assert.ok(m, `no VmRSS in /proc/${pid}/status`);
    return Number(m[1]);
}

// The mock's filler: byte i of the whole content is 'a' + i % 26.
function expectedDigest() {
    const hash = crypto.createHash('sha256');
    const period = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(CHUNK_BYTES / 26) + 1));
    for (let k = 0; k < CHUNKS; k++) {
        const start = (k * CHUNK_BYTES) % 26;
        hash.update(period.subarray(start, start + CHUNK_BYTES));
    }
    return hash.digest('hex');
}

const body = { model: GROUP, messages: [{ role: 'user', content: 'A lot, please' }], stream: true };

test('20 MB stream to slow client', async (t) => {
    // A small stream first, so that the baseline includes the worker's first-request allocations.
    await mock.reset();
    const warm = await streamChat({ url: `${gateway.url}/v1/chat/completions`, body });
    assert.equal(warm.status, 200);

    await mock.reset();
    await mock.queue({ chunks: CHUNKS, chunk_bytes: CHUNK_BYTES });
    const pid = gateway.proc.pid;
    const baseline = rssKb(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
        peak = Math.max(peak, rssKb(pid));
    }, 100);

    const hash = crypto.createHash('sha256');
    let contentBytes = 0;
    let contentChunks = 0;
    let finishReasons = 0;
    let errors = 0;
    let done = 0;
    let budget = READ_BYTES_PER_TICK;
    let ticker;
    let res;
    try {
        res = await streamChat({
            url: `${gateway.url}/v1/chat/completions`,
            body,
            keepEvents: false,
            timeoutMs: 40000,
            onResponse(ctrl) {
                ticker = setInterval(() => {
                    budget = READ_BYTES_PER_TICK;
                    ctrl.resume();
                }, 100);
            },
            onEvent(ev, ctrl) {
                budget -= ev.data.length + 8;
                if (budget <= 0) {
                    ctrl.pause();
                }
                if (ev.kind === 'done') {
                    done++;
                } else if (ev.kind === 'error') {
                    errors++;
                } else if (ev.kind === 'chunk') {
                    for (const choice of ev.json.choices) {
                        const content = choice.delta?.content;
                        if (content) {
                            hash.update(content);
                            contentBytes += content.length;
                            contentChunks++;
                        }
                        if (choice.finish_reason !== null) {
                            finishReasons++;
                        }
                    }
                }
            },
        });
    } finally {
        clearInterval(ticker);
        clearInterval(sampler);
    }
    peak = Math.max(peak, rssKb(pid));

    const seconds = res.endMs / 1000;
    t.diagnostic(`${contentBytes} content bytes in ${seconds.toFixed(1)} s `
        + `(${(contentBytes / 1048576 / seconds).toFixed(1)} MiB/s); gateway VmRSS ${baseline} kB `
        + `before, peak ${peak} kB, growth ${peak - baseline} kB`);

    assert.equal(res.status, 200);
    assert.equal(errors, 0, 'error events');
    assert.equal(done, 1, '[DONE] events');
    assert.equal(finishReasons, 1, 'finish reasons');
    assert.equal(contentChunks, CHUNKS, 'content chunks');
    assert.equal(contentBytes, CHUNKS * CHUNK_BYTES, 'content bytes');
    assert.equal(hash.digest('hex'), expectedDigest(), 'content differs from the mock filler');
    assert.ok(seconds >= 3, `the client read 20 MB in ${seconds} s: it was not slow`);
    // AddressSanitizer keeps freed memory in quarantine, so RSS says nothing about buffering in
    // a sanitized build: the bound is checked in the plain build only.
    if (!process.env.SLUICE_SANITIZE) {
        assert.ok(peak - baseline < MAX_RSS_GROWTH_KB,
            `gateway VmRSS grew by ${peak - baseline} kB during the stream (limit ${MAX_RSS_GROWTH_KB} kB)`);
    }
});
