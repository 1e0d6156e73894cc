// SPDX-License-Identifier: Apache-2.0
// Server-sent events on the client side, for the streaming tests: an incremental parser and a
// streaming chat request over HTTP/1.1 (node:http) or HTTP/2 (node:http2) that records when each
// event arrived, so that tests can check timing, batching and hang-ups.

import http from 'node:http';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';

// Splits an SSE byte stream into events. feed() returns the `data` payloads completed so far
// (several `data:` lines of one event are joined with "\n", as the SSE standard specifies).
export class SseParser {
    constructor() {
        this.pending = '';
    }

    feed(text) {
        this.pending += text.replace(/\r\n/g, '\n');
        const out = [];
        let end;
        while ((end = this.pending.indexOf('\n\n')) >= 0) {
            const block = this.pending.slice(0, end);
            this.pending = this.pending.slice(end + 2);
            const data = block.split('\n')
                .filter((line) => line.startsWith('data:'))
                .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
            if (data.length > 0) {
                out.push(data.join('\n'));
            }
        }
        return out;
    }
}

// Returns the `data` payloads of a complete SSE body.
export function sseData(text) {
    return new SseParser().feed(text.endsWith('\n\n') ? text : `${text}\n\n`);
}

// Classifies one event payload: 'done' for [DONE], 'error' for {"error":...}, 'chunk' for any
// other JSON object; `json` is the parsed payload (null for [DONE] or text that is not JSON).
export function classifyEvent(data) {
    if (data === '[DONE]') {
        return { kind: 'done', json: null };
    }
    let json = null;
    try {
        json = JSON.parse(data);
    } catch {
        return { kind: 'invalid', json: null };
    }
    if (json && typeof json === 'object' && 'error' in json) {
        return { kind: 'error', json };
    }
    return { kind: 'chunk', json };
}

// Sends a streaming chat request and resolves when the response ends, fails or is cancelled.
// opts:
//   url       the full chat URL on the gateway or the mock (http://...)
//   body      request body (object)
//   headers   extra request headers
//   http2     a connected ClientHttp2Session: send the request on it instead of HTTP/1.1
//   onEvent   called as onEvent(event, ctrl) for each event; ctrl.cancel() hangs up
//             (HTTP/1.1: destroys the socket; HTTP/2: RST_STREAM with CANCEL, the session stays)
//   onResponse  called as onResponse(ctrl) once the response head arrived
//   keepEvents  false to keep no event list (for very long streams), default true
//   timeoutMs   the request is cancelled and the promise rejects after this long (default 30 s)
// Resolves with {status, headers, raw, events: [{data, kind, json, atMs}], firstEventMs, endedBy,
// endMs, sentAt}; times are ms after the request was sent (performance.now()), endedBy is 'end',
// 'cancel' or 'close' (the server closed the connection before the end of the body).
export function streamChat(opts) {
    return new Promise((resolve, reject) => {
        const result = {
            status: undefined,
            headers: {},
            raw: '',
            events: [],
            firstEventMs: null,
            endedBy: null,
            endMs: null,
            sentAt: null,
        };
        const parser = new SseParser();
        const keep = opts.keepEvents !== false;
        let settled = false;
        let cancelImpl = () => {};
        const ctrl = {
            cancelled: false,
            cancelAt: null,
            cancel() {
                if (ctrl.cancelled) {
                    return;
                }
                ctrl.cancelled = true;
                ctrl.cancelAt = performance.now() - result.sentAt;
                cancelImpl();
                finish('cancel');
            },
            pause: () => {},
            resume: () => {},
        };

        const timer = setTimeout(() => {
            if (!settled) {
                settled = true;
                cancelImpl();
                reject(new Error(`stream from ${opts.url} not finished within ${opts.timeoutMs || 30000} ms;`
                    + ` ${result.events.length} events so far, raw tail: ${result.raw.slice(-500)}`));
            }
        }, opts.timeoutMs || 30000);

        function finish(endReason) {
            if (settled) {
                return;
            }
            settled = true;
            clearTimeout(timer);
            result.endedBy = endReason;
            result.endMs = performance.now() - result.sentAt;
            resolve(result);
        }

        function onData(buf) {
            const text = buf.toString('utf8');
            if (keep) {
                result.raw += text;
            }
            const atMs = performance.now() - result.sentAt;
            for (const data of parser.feed(text)) {
                if (result.firstEventMs === null) {
                    result.firstEventMs = atMs;
                }
                const ev = { data, atMs, ...classifyEvent(data) };
                if (keep) {
                    result.events.push(ev);
                }
                if (opts.onEvent && !ctrl.cancelled) {
                    opts.onEvent(ev, ctrl);
                }
            }
        }

        const payload = JSON.stringify(opts.body);
        const u = new URL(opts.url);

        if (opts.http2) {
            const stream = opts.http2.request({
                ':method': 'POST',
                ':path': u.pathname,
                'content-type': 'application/json',
                ...(opts.headers || {}),
            });
            cancelImpl = () => stream.close(http2.constants.NGHTTP2_CANCEL);
            ctrl.pause = () => stream.pause();
            ctrl.resume = () => stream.resume();
            stream.on('response', (h) => {
                result.status = h[':status'];
                result.headers = h;
                if (opts.onResponse) {
                    opts.onResponse(ctrl);
                }
            });
            stream.on('data', onData);
            stream.on('end', () => finish('end'));
            stream.on('close', () => finish('close'));
            stream.on('error', () => finish('close'));
            stream.end(payload);
            result.sentAt = performance.now();
            return;
        }

        const req = http.request(u, {
            method: 'POST',
            agent: false,
            headers: {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(payload),
                ...(opts.headers || {}),
            },
        });
        cancelImpl = () => req.destroy();
        req.on('response', (res) => {
            result.status = res.statusCode;
            result.headers = res.headers;
            ctrl.pause = () => res.pause();
            ctrl.resume = () => res.resume();
            res.on('data', onData);
            res.on('end', () => finish('end'));
            res.on('aborted', () => finish('close'));
            res.on('error', () => finish('close'));
            res.on('close', () => finish('close'));
            if (opts.onResponse) {
                opts.onResponse(ctrl);
            }
        });
        req.on('error', (err) => {
            if (ctrl.cancelled) {
                return;
            }
            if (result.status === undefined && !settled) {
                settled = true;
                clearTimeout(timer);
                reject(err);
                return;
            }
            finish('close');
        });
        req.end(payload);
        result.sentAt = performance.now();
    });
}

// The content of each chat chunk event, concatenated per choice index.
export function contentByChoice(events) {
    const out = new Map();
    for (const ev of events) {
        if (ev.kind !== 'chunk' || !Array.isArray(ev.json.choices)) {
            continue;
        }
        for (const c of ev.json.choices) {
            const text = c.delta && typeof c.delta.content === 'string' ? c.delta.content : '';
            out.set(c.index, (out.get(c.index) || '') + text);
        }
    }
    return out;
}
