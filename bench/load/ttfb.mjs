// Sequential streaming requests against one URL: prints the median and p90 time to the first
// SSE data line and to the end of the stream, in microseconds, as one JSON object. Any failed
// request ends the run with an error, so `errors` is always 0 when it prints.
// Usage: node ttfb.mjs URL COUNT [KEY]
import http from 'node:http';

const [url, countArg, key] = process.argv.slice(2);
const count = Number(countArg || 50);
const body = JSON.stringify({
    model: 'bench-chat',
    stream: true,
    messages: [{ role: 'user', content: 'Say hello in one sentence' }],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once() {
    return new Promise((resolve, reject) => {
        const started = process.hrtime.bigint();
        let first = null;
        const req = http.request(url, {
            method: 'POST',
            agent,
            headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${key || 'sk-bench'}`,
                'content-length': Buffer.byteLength(body),
            },
        }, (res) => {
            res.on('data', (chunk) => {
                if (first === null && chunk.includes('data:')) {
                    first = process.hrtime.bigint();
                }
            });
            res.on('end', () => {
                const end = process.hrtime.bigint();
                if (res.statusCode !== 200 || first === null) {
                    reject(new Error(`status ${res.statusCode}`));
                    return;
                }
                resolve({ ttfb: Number(first - started) / 1000, total: Number(end - started) / 1000 });
            });
        });
        req.on('error', reject);
        req.end(body);
    });
}

function percentile(values, p) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const samples = [];
for (let i = 0; i < count + 5; i++) {
    const s = await once();
    if (i >= 5) {
        samples.push(s); // the first five warm up connections and caches
    }
}
agent.destroy();
const ttfb = samples.map((s) => s.ttfb);
const total = samples.map((s) => s.total);
console.log(JSON.stringify({
    requests: samples.length,
    errors: 0,
    ttfb_p50_us: Math.round(percentile(ttfb, 50)),
    ttfb_p90_us: Math.round(percentile(ttfb, 90)),
    total_p50_us: Math.round(percentile(total, 50)),
    total_p90_us: Math.round(percentile(total, 90)),
}));
