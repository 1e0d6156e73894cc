// SPDX-License-Identifier: Apache-2.0
// A small OTLP/HTTP trace receiver on 127.0.0.1 for the tests. It decodes both encodings with
// the protobufjs module of @opentelemetry/otlp-transformer 0.216.0, installed as `otlpt216` by
// tests/package.json, because later versions no longer include a request decoder. So the
// gateway's encoder is checked against an independent one.

import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Returns the ExportTraceServiceRequest type, or throws when the package is missing.
export function loadDecoder() {
    const root = require('otlpt216/build/src/generated/root.js');
    return root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
}

// Returns null when the decoder can be loaded, else why not (for needs()-style skips).
export function decoderMissing() {
    try {
        loadDecoder();
        return null;
    } catch (err) {
        return `the otlpt216 npm package is not installed (npm ci in tests/): ${err.message}`;
    }
}

function hex(bytes) {
    return Buffer.from(bytes).toString('hex');
}

function plainValue(v) {
    if (v.stringValue !== undefined) return v.stringValue;
    if (v.boolValue !== undefined) return v.boolValue;
    if (v.intValue !== undefined) return Number(v.intValue);
    if (v.doubleValue !== undefined) return v.doubleValue;
    if (v.arrayValue !== undefined) return (v.arrayValue.values || []).map(plainValue);
    return undefined;
}

function attributes(list) {
    const out = {};
    for (const kv of list || []) {
        out[kv.key] = plainValue(kv.value || {});
    }
    return out;
}

// Flattens a decoded request (protobufjs toObject form) into spans with hex ids.
function normalise(request, encoding) {
    const spans = [];
    for (const rs of request.resourceSpans || []) {
        const resource = attributes(rs.resource && rs.resource.attributes);
        for (const ss of rs.scopeSpans || []) {
            for (const s of ss.spans || []) {
                spans.push({
                    encoding,
                    resource,
                    scope: ss.scope ? ss.scope.name : undefined,
                    traceId: s.traceId,
                    spanId: s.spanId,
                    parentSpanId: s.parentSpanId || '',
                    name: s.name,
                    kind: s.kind,
                    start: BigInt(s.startTimeUnixNano),
                    end: BigInt(s.endTimeUnixNano),
                    attributes: attributes(s.attributes),
                    status: s.status || {},
                });
            }
        }
    }
    return spans;
}

// Decodes a protobuf body with protobufjs; ids come back as bytes and are turned into hex.
function decodeProtobuf(Request, body) {
    const message = Request.decode(body);
    const object = Request.toObject(message, { longs: String, enums: Number, bytes: Array });
    for (const rs of object.resourceSpans || []) {
        for (const ss of rs.scopeSpans || []) {
            for (const s of ss.spans || []) {
                s.traceId = hex(s.traceId || []);
                s.spanId = hex(s.spanId || []);
                s.parentSpanId = s.parentSpanId && s.parentSpanId.length ? hex(s.parentSpanId) : '';
            }
        }
    }
    return object;
}

// Decodes an OTLP/JSON body through protobufjs's fromObject, which drops fields the schema
// does not know and converts int64 strings, so a misnamed field or a wrongly typed value shows
// up as a missing attribute. OTLP/JSON ids are hex, not protobuf JSON's base64, so they are
// checked here and taken from the text.
function decodeJson(Request, body) {
    const parsed = JSON.parse(body.toString('utf8'));
    const object = Request.toObject(Request.fromObject(parsed),
        { longs: String, enums: Number, bytes: Array });
    (parsed.resourceSpans || []).forEach((rs, i) => {
        (rs.scopeSpans || []).forEach((ss, j) => {
            (ss.spans || []).forEach((s, k) => {
                const out = object.resourceSpans[i].scopeSpans[j].spans[k];
                if (!/^[0-9a-f]{32}$/.test(s.traceId) || !/^[0-9a-f]{16}$/.test(s.spanId)
                    || (s.parentSpanId !== undefined && !/^[0-9a-f]{16}$/.test(s.parentSpanId))) {
                    throw new Error(`ids are not lowercase hex: ${JSON.stringify(s)}`);
                }
                if (typeof s.startTimeUnixNano !== 'string' || typeof s.endTimeUnixNano !== 'string') {
                    throw new Error('times must be JSON strings');
                }
                out.traceId = s.traceId;
                out.spanId = s.spanId;
                out.parentSpanId = s.parentSpanId || '';
            });
        });
    });
    return object;
}

// Starts the receiver. opts.status: the HTTP status every export gets (200 by default).
// Returns {url, spans, requests, close(), waitFor(predicate, ms)}.
export async function startOtlpReceiver(opts = {}) {
    const Request = loadDecoder();
    const spans = [];
    const requests = [];
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const body = Buffer.concat(chunks);
            const type = req.headers['content-type'] || '';
            requests.push({ path: req.url, headers: req.headers, length: body.length });
            if (opts.status && opts.status !== 200) {
                res.writeHead(opts.status, { 'content-type': 'application/json' });
                res.end('{"code":14,"message":"unavailable"}');
                return;
            }
            try {
                if (req.url !== '/v1/traces') {
                    throw new Error(`unexpected path ${req.url}`);
                }
                if (type.startsWith('application/x-protobuf')) {
                    spans.push(...normalise(decodeProtobuf(Request, body), 'protobuf'));
                    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
                    res.end();
                } else if (type.startsWith('application/json')) {
                    spans.push(...normalise(decodeJson(Request, body), 'json'));
                    res.writeHead(200, { 'content-type': 'application/json' });
                    res.end('{}');
                } else {
                    throw new Error(`unexpected content-type ${type}`);
                }
            } catch (err) {
                requests[requests.length - 1].error = err.message;
                res.writeHead(400, { 'content-type': 'application/json' });
                res.end(JSON.stringify({ code: 3, message: err.message }));
            }
        });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    return {
        url: `http://127.0.0.1:${port}`,
        spans,
        requests,
        close: () => new Promise((resolve) => server.close(resolve)),
        // Polls until `predicate(spans)` returns a truthy value, which it returns.
        async waitFor(predicate, ms = 5000) {
            const until = Date.now() + ms;
            for (;;) {
                const found = predicate(spans);
                if (found) return found;
                if (Date.now() > until) {
                    throw new Error(`no matching span within ${ms} ms; received: `
                        + JSON.stringify(spans.map((s) => s.name)));
                }
                await new Promise((r) => setTimeout(r, 50));
            }
        },
    };
}
