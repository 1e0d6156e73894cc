// SPDX-License-Identifier: Apache-2.0
// Streaming chat load against one URL, printed as one JSON object (times in microseconds).
//   --mode load: CONNS keep-alive connections each send streaming requests back to back for
//     DURATION seconds. Reports streams per second, the time to the first SSE data line (TTFB)
//     and to the end of the stream (TTLB), and SSE events per second.
//   --mode hold: opens COUNT streams at once (one connection each) and, once every stream has
//     its first data line, reads the RSS of process RSS_PID; reports the RSS growth per open
//     stream, the open descriptors of RSS_PID and, with --upstream-port, the established TCP
//     connections to that 127.0.0.1 port (the gateway's upstream connections). Every stream
//     must then finish normally, with at least --min-events SSE data lines ([DONE] included).
//     It fails at once when its own open-files limit cannot fit COUNT sockets.
// Both modes stop by themselves: a request still open at --timeout seconds is destroyed and
// counted as an error.
// Usage: node streams.mjs --url URL --mode load|hold [--conns N] [--duration S] [--count N]
//        [--key KEY] [--model NAME] [--headers JSON] [--rss-pid PID] [--upstream-port PORT]
//        [--min-events N] [--timeout S]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
    options: {
        url: { type: 'string' },
        mode: { type: 'string', default: 'load' },
        conns: { type: 'string', default: '8' },
        duration: { type: 'string', default: '5' },
        count: { type: 'string', default: '2000' },
        key: { type: 'string', default: 'sk-bench' },
        model: { type: 'string', default: 'bench-chat' },
        headers: { type: 'string', default: '{}' },
        'rss-pid': { type: 'string' },
        'upstream-port': { type: 'string' },
        'min-events': { type: 'string', default: '1' },
        timeout: { type: 'string', default: '60' },
    },
});
if (!opt.url || !['load', 'hold'].includes(opt.mode)) {
    console.error('usage: node streams.mjs --url URL --mode load|hold [options]; see the header');
    process.exit(2);
}

const body = JSON.stringify({
    model: opt.model,
    stream: true,
    messages: [{ role: 'user', content: 'Say hello in one sentence' }],
});
const headers = {
    ...JSON.parse(opt.headers),
    'content-type': 'application/json',
    authorization: `Bearer ${opt.key}`,
    'content-length': Buffer.byteLength(body),
};
const deadline = Date.now() + Number(opt.timeout) * 1000;
const open = new Set();

// Sends one streaming request. onFirst runs when the first `data:` line arrives. Resolves with
// the timings and the number of SSE data lines, or with {error} on any failure.
function stream(agent, onFirst) {
    return new Promise((resolve) => {
        const started = process.hrtime.bigint();
        let first = null;
        let events = 0;
        let tail = '';
        let last = '';
        const req = http.request(opt.url, { method: 'POST', agent, headers }, (res) => {
            res.setEncoding('latin1');
            res.on('data', (text) => {
                // A `data:` prefix can be split between two reads, so the last four bytes of
                // the previous read (too few to hold a whole prefix) are searched again.
                const joined = tail + text;
                events += joined.split('data:').length - 1;
                tail = joined.slice(-4);
                last = (last + text).slice(-16);
                if (first === null && events > 0) {
                    first = process.hrtime.bigint();
                    if (onFirst) onFirst();
                }
            });
            res.on('end', () => {
                open.delete(req);
                const end = process.hrtime.bigint();
                if (res.statusCode !== 200) {
                    resolve({ error: `status ${res.statusCode}` });
                    return;
                }
                if (first === null || !last.includes('[DONE]')) {
                    resolve({ error: 'stream ended without data: [DONE]' });
                    return;
                }
                resolve({ ttfb: Number(first - started) / 1e3, ttlb: Number(end - started) / 1e3, events });
            });
            res.on('error', () => resolve({ error: 'response error' }));
        });
        open.add(req);
        req.on('error', (err) => {
            open.delete(req);
            resolve({ error: err.code || err.message });
        });
        req.end(body);
    });
}

function percentile(values, p) {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

function rssKb(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]);
}

// Destroys every request still open at the deadline, so the run always ends.
const guard = setInterval(() => {
    if (Date.now() < deadline) return;
    for (const req of open) req.destroy(new Error('timed out'));
}, 100);

async function runLoad() {
    const conns = Number(opt.conns);
    const until = Date.now() + Number(opt.duration) * 1000;
    const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
    const samples = [];
    let errors = 0;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: conns }, async () => {
        while (Date.now() < until) {
            const s = await stream(agent);
            if (s.error) errors++;
            else samples.push(s);
        }
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    agent.destroy();
    const events = samples.reduce((n, s) => n + s.events, 0);
    return {
        requests: samples.length + errors,
        errors,
        duration_s: +seconds.toFixed(3),
        rps: Math.round(samples.length / seconds),
        p50_us: percentile(samples.map((s) => s.ttlb), 50),
        p99_us: percentile(samples.map((s) => s.ttlb), 99),
        ttfb_p50_us: percentile(samples.map((s) => s.ttfb), 50),
        ttfb_p99_us: percentile(samples.map((s) => s.ttfb), 99),
        ttlb_p50_us: percentile(samples.map((s) => s.ttlb), 50),
        ttlb_p99_us: percentile(samples.map((s) => s.ttlb), 99),
        events_per_stream: samples.length ? Math.round(events / samples.length) : 0,
        events_per_s: Math.round(events / seconds),
    };
}

// Soft open-files limit of this process, or Infinity.
function ownFileLimit() {
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)[1];
    return soft === 'unlimited' ? Infinity : Number(soft);
}

// Established TCP connections to 127.0.0.1:port, counted by ss(8).
function connectionsTo(port) {
    const out = execFileSync('ss', ['-Htn', 'state', 'established', `dst 127.0.0.1:${port}`],
        { encoding: 'utf8', maxBuffer: 64 << 20 });
    return out.split('\n').filter((l) => l.trim() !== '').length;
}

async function runHold() {
    const count = Number(opt.count);
    const pid = opt['rss-pid'];
    const upstreamPort = opt['upstream-port'];
    // 64 covers the descriptors Node opens itself (event loop, stdio, the modules it reads).
    if (count + 64 > ownFileLimit()) {
        console.error(`streams.mjs: the open-files limit ${ownFileLimit()} cannot fit ${count} `
            + 'streams and 64 more descriptors; raise it with ulimit -n');
        process.exit(1);
    }
    const rssBefore = pid ? rssKb(pid) : 0;
    let rssPeak = rssBefore;
    let rssOpen = null;
    let firsts = 0;
    let allOpen;
    const allOpenPromise = new Promise((resolve) => { allOpen = resolve; });
    const sampler = setInterval(() => { if (pid) rssPeak = Math.max(rssPeak, rssKb(pid)); }, 100);
    const started = Date.now();
    const agent = new http.Agent({ keepAlive: false, maxSockets: count });
    const pending = [];
    // Connections are opened in batches so that the listen backlog (1024 in the gateway) does not
    // overflow. An overflow would delay a connection by a SYN retransmission, not fail it.
    for (let i = 0; i < count; i++) {
        pending.push(stream(agent, () => {
            firsts++;
            if (firsts === count) allOpen();
        }));
        if (i % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const openedMs = await Promise.race([
        allOpenPromise.then(() => Date.now() - started),
        Promise.all(pending).then(() => null),
    ]);
    let fdsOpen = null;
    let upstreamConns = null;
    if (openedMs !== null && pid) {
        rssOpen = rssKb(pid);
        rssPeak = Math.max(rssPeak, rssOpen);
        fdsOpen = fs.readdirSync(`/proc/${pid}/fd`).length;
    }
    if (openedMs !== null && upstreamPort) upstreamConns = connectionsTo(upstreamPort);
    const minEvents = Number(opt['min-events']);
    const results = (await Promise.all(pending)).map((r) => (r.error || r.events >= minEvents ? r
        : { error: `stream ended after ${r.events} data lines, expected at least ${minEvents}` }));
    clearInterval(sampler);
    agent.destroy();
    const errors = results.filter((r) => r.error).length;
    const eventCounts = results.filter((r) => !r.error).map((r) => r.events);
    const growthKb = (rssOpen ?? rssPeak) - rssBefore;
    return {
        requests: count,
        errors,
        streams_open_together: openedMs === null ? firsts : count,
        open_all_ms: openedMs,
        rss_before_kb: rssBefore,
        rss_all_open_kb: rssOpen,
        rss_peak_kb: rssPeak,
        rss_per_stream_bytes: Math.round((growthKb * 1024) / count),
        descriptors_all_open: fdsOpen,
        upstream_connections: upstreamConns,
        duration_s: +((Date.now() - started) / 1000).toFixed(3),
        ttfb_p50_us: percentile(results.filter((r) => !r.error).map((r) => r.ttfb), 50),
        ttlb_p50_us: percentile(results.filter((r) => !r.error).map((r) => r.ttlb), 50),
        events_per_stream_min: eventCounts.length ? Math.min(...eventCounts) : null,
        events_per_stream_max: eventCounts.length ? Math.max(...eventCounts) : null,
        first_error: results.find((r) => r.error)?.error ?? null,
    };
}

const result = opt.mode === 'load' ? await runLoad() : await runHold();
clearInterval(guard);
console.log(JSON.stringify(result));
