// SPDX-License-Identifier: Apache-2.0
// Turns the result rows of bench/run (one JSON object per line) into bench/results/latest.json
// and a printed table. Each row is compared with the mock's row of the same load (the added
// latency and the throughput ratio), and the performance budget is checked against the rows.
// With --min-ratio R it exits 1 when a Sluice pass-through row has less than R times the
// mock's throughput, or when any row has errors.
// Usage: node report.mjs --rows FILE --out FILE --meta JSON [--min-ratio R]
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
    options: {
        rows: { type: 'string' },
        out: { type: 'string' },
        meta: { type: 'string', default: '{}' },
        'min-ratio': { type: 'string', default: '' },
    },
});
const meta = JSON.parse(opt.meta);
const rows = fs.readFileSync(opt.rows, 'utf8').split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

// Scenarios without mock rows of their own are compared with the HTTP/1.1 mock rows: the
// pipeline at the same connection count, two nodes at the connection count of one node.
function baselineOf(row) {
    if (row.target === 'mock' || row.scenario === 'streams-open') return null;
    const find = (scenario, conns) => rows.find((r) => r.scenario === scenario
        && r.target === 'mock' && r.connections === conns) ?? null;
    if (row.scenario === 'pipeline') return find('http1', row.connections);
    if (row.scenario === 'two-nodes') {
        return find('http1', row.target === 'both' ? row.connections / 2 : row.connections);
    }
    return find(row.scenario, row.connections);
}

for (const row of rows) {
    if (row.p50_us === undefined && row.total_p50_us !== undefined) {
        row.p50_us = row.total_p50_us;
        row.p99_us = row.total_p90_us; // ttfb.mjs reports p90 as its highest percentile
    }
    const base = baselineOf(row);
    if (base === null) continue;
    row.baseline = `${base.scenario}/mock/${base.connections}`;
    if (row.rps !== undefined && base.rps) row.throughput_ratio = +(row.rps / base.rps).toFixed(3);
    if (row.p50_us !== undefined) row.added_p50_us = row.p50_us - base.p50_us;
    if (row.p99_us !== undefined) row.added_p99_us = row.p99_us - base.p99_us;
    if (row.ttfb_p50_us !== undefined && base.ttfb_p50_us !== undefined) {
        row.added_ttfb_p50_us = row.ttfb_p50_us - base.ttfb_p50_us;
    }
    if (row.ttfb_p99_us !== undefined && base.ttfb_p99_us !== undefined) {
        row.added_ttfb_p99_us = row.ttfb_p99_us - base.ttfb_p99_us;
    }
}

// The performance budget of the full pipeline; `met` is null when the run did not measure it.
const pick = (scenario, target, conns) => rows.filter((r) => r.scenario === scenario
    && r.target === target && (conns === undefined || r.connections === conns));
function check(name, limit, value, ok) {
    return { name, limit, value: value ?? null, met: value === undefined || value === null ? null : ok };
}
const pipe1 = pick('pipeline', 'sluice', 1)[0];
const ratePipe = pick('rate', 'pipeline')[0];
const pipeRatios = pick('pipeline', 'sluice').map((r) => r.throughput_ratio);
const streamPipe = pick('stream-sequential', 'pipeline')[0] ?? pick('stream-sequential', 'sluice')[0];
const open = pick('streams-open', 'pipeline')[0] ?? pick('streams-open', 'sluice')[0];
const peerRows = pick('http1', 'peer');
const peerTop = peerRows.length ? peerRows[peerRows.length - 1] : undefined;
const sluiceAtPeer = peerTop ? pick('http1', 'sluice', peerTop.connections)[0] : undefined;
const rateOk = ratePipe && ratePipe.rps >= 0.95 * meta.rate;
const budget = [
    check('pipeline non-streaming 1 connection, added p50', '<= 150 us', pipe1?.added_p50_us,
        pipe1?.added_p50_us <= 150),
    check(`pipeline at ${meta.rate} req/s, added p99`, '<= 1000 us at the full rate',
        ratePipe?.added_p99_us, rateOk && ratePipe?.added_p99_us <= 1000),
    check('pipeline highest throughput / mock', '>= 0.5',
        pipeRatios.length ? Math.max(...pipeRatios) : undefined, Math.max(...pipeRatios) >= 0.5),
    check(`${streamPipe?.target ?? 'pipeline'} streaming TTFB added (sequential, p50)`, '<= 500 us',
        streamPipe?.added_ttfb_p50_us, streamPipe?.added_ttfb_p50_us <= 500),
    check('pipeline node idle RSS', '<= 32768 kB', meta.idle_rss_kb?.pipeline,
        meta.idle_rss_kb?.pipeline <= 32768),
    check(`RSS per open stream (${open?.requests ?? 0} streams)`, '<= 49152 bytes',
        open?.rss_per_stream_bytes, open?.rss_per_stream_bytes <= 49152 && open?.errors === 0),
    check(`Sluice / peer throughput (${peerTop?.connections ?? '-'} connections)`, '>= 20',
        sluiceAtPeer && peerTop ? +(sluiceAtPeer.rps / peerTop.rps).toFixed(1) : undefined,
        sluiceAtPeer?.rps / peerTop?.rps >= 20),
];

const result = { date: new Date().toISOString(), ...meta, rows, budget };
fs.writeFileSync(opt.out, JSON.stringify(result, null, 2) + '\n');

const fmt = (v, digits = 0) => (v === undefined || v === null ? '-'
    : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(v));
const columns = [
    ['scenario', (r) => r.scenario], ['target', (r) => r.target], ['conns', (r) => r.connections],
    ['req/s', (r) => fmt(r.rps)], ['ratio', (r) => fmt(r.throughput_ratio, 2)],
    ['p50 us', (r) => fmt(r.p50_us)], ['+p50', (r) => fmt(r.added_p50_us)],
    ['p99 us', (r) => fmt(r.p99_us)], ['+p99', (r) => fmt(r.added_p99_us)],
    ['ttfb p50', (r) => fmt(r.ttfb_p50_us)], ['+ttfb', (r) => fmt(r.added_ttfb_p50_us)],
    ['events/s', (r) => fmt(r.events_per_s)], ['cpu us/req', (r) => fmt(r.cpu_us_per_request, 1)],
    ['peak RSS kB', (r) => fmt(r.peak_rss_kb)],
    ['redis rt/req', (r) => fmt(r.redis_round_trips_per_request, 2)],
    ['errors', (r) => fmt(r.errors)],
];
const cells = rows.map((r) => columns.map(([, f]) => String(f(r))));
const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
console.log(columns.map(([h], i) => h.padStart(widths[i])).join('  '));
for (const c of cells) console.log(c.map((v, i) => v.padStart(widths[i])).join('  '));
console.log('latency: wrk and h2load time whole requests; stream rows time the end of the stream '
    + '(p50/p99) and the first data line (ttfb)');
if (open) {
    console.log(`open streams: ${open.streams_open_together} of ${open.requests} open at once, RSS `
        + `${open.rss_before_kb} kB before, ${open.rss_all_open_kb ?? '-'} kB with all open, `
        + `${open.rss_per_stream_bytes} bytes per stream, ${open.errors} errors, `
        + `${open.descriptors_all_open ?? '-'} gateway descriptors and `
        + `${open.upstream_connections ?? '-'} upstream connections with all open, `
        + `${open.duration_s ?? '-'} s`);
}
console.log(`idle RSS kB: ${JSON.stringify(meta.idle_rss_kb)}`);
console.log('budget:');
for (const b of budget) {
    let verdict = b.met ? 'met' : 'NOT met';
    if (b.met === null) verdict = 'not measured';
    console.log(`  ${b.name}: ${fmt(b.value, 2)} (target ${b.limit}): ${verdict}`);
}
console.log(`written to ${opt.out}`);

if (opt['min-ratio'] !== '') {
    const min = Number(opt['min-ratio']);
    const slow = rows.filter((r) => r.scenario === 'http1' && r.target === 'sluice'
        && !(r.throughput_ratio >= min));
    const failed = rows.filter((r) => r.errors > 0);
    for (const r of slow) {
        console.error(`bench: sluice reached ${r.throughput_ratio} of the mock's throughput with `
            + `${r.connections} connection(s), below the minimum of ${min} (MIN_RATIO)`);
    }
    for (const r of failed) {
        console.error(`bench: ${r.scenario}/${r.target} at ${r.connections} connections had `
            + `${r.errors} errors`);
    }
    if (slow.length > 0 || failed.length > 0) process.exit(1);
    console.log(`guard: every Sluice row has at least ${min} of the mock's throughput, no errors`);
}
