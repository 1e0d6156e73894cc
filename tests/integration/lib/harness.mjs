// SPDX-License-Identifier: Apache-2.0
// Integration test harness: starts the real binaries (sluice-gateway, sluice-mock) and throwaway
// Redis and PostgreSQL servers as plain processes on 127.0.0.1 with ports picked at run time,
// and kills every process it started, by PID, when the test file exits (also on a failure or a
// crash). Node built-ins only, so it runs on Node 18 and 20.
//
// Environment: SLUICE_BUILD_DIR (set by ctest) locates the binaries (SLUICE_GATEWAY_BIN and
// SLUICE_MOCK_BIN, when set, name them directly), SLUICE_FIXTURES names the
// provider fixtures folder, CI=true turns every missing dependency into a failure.
// A test file is run directly (`node file.test.mjs`): a missing dependency exits 77, which ctest
// reports as skipped.

import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SKIP_EXIT_CODE = 77;
export const IN_CI = process.env.CI === 'true';
const PG_BIN = '/usr/lib/postgresql/15/bin';

// ---------------------------------------------------------------------------------------------
// Cleanup: every child process and temporary folder is recorded here.

const liveChildren = new Set(); // ChildProcess objects still running
// Daemonised PostgreSQL postmasters: SIGQUIT is PostgreSQL's immediate shutdown, which also ends
// the server's own child processes.
const postmasterPids = new Set();
const tempDirs = [];

function killEverything() {
    for (const child of liveChildren) {
        try {
            process.kill(child.pid, 'SIGKILL');
        } catch {
            // already gone
        }
    }
    liveChildren.clear();
    for (const pid of postmasterPids) {
        try {
            process.kill(pid, 'SIGQUIT');
        } catch {
            // already gone
        }
    }
    postmasterPids.clear();
    for (const dir of tempDirs.splice(0)) {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

process.on('exit', killEverything);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
        killEverything();
        process.exit(128 + os.constants.signals[sig]);
    });
}

export function makeTempDir(prefix = 'sluice-it-') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tempDirs.push(dir);
    return dir;
}

// ---------------------------------------------------------------------------------------------
// Dependencies

function buildDir() {
    return process.env.SLUICE_BUILD_DIR || '';
}

// `override` is the path ctest passes when the target exists; otherwise the build folder is searched.
function findBinary(name, override, relativeCandidates) {
    if (override) {
        return fs.existsSync(override) ? override : null;
    }
    const dir = buildDir();
    if (!dir) {
        return null;
    }
    for (const rel of relativeCandidates) {
        const p = path.join(dir, rel, name);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // try the next candidate
        }
    }
    return null;
}

export function gatewayBinary() {
    return findBinary('sluice-gateway', process.env.SLUICE_GATEWAY_BIN, ['gateway', '.', 'bin']);
}

export function mockBinary() {
    return findBinary('sluice-mock', process.env.SLUICE_MOCK_BIN, ['bench/mock', 'bench', '.', 'bin']);
}

function onPath(cmd) {
    return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function checkDependency(dep) {
    switch (dep) {
    case 'gateway':
        return gatewayBinary() ? null : `sluice-gateway not found under SLUICE_BUILD_DIR=${buildDir()}`;
    case 'mock':
        return mockBinary() ? null : `sluice-mock not found under SLUICE_BUILD_DIR=${buildDir()}`;
    case 'redis':
        return onPath('redis-server') ? null : 'redis-server is not on PATH';
    case 'postgres':
        if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) {
            return `${PG_BIN}/initdb not found (postgresql-15)`;
        }
        if (process.getuid() === 0 && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) {
            return 'running as root but there is no postgres user to run PostgreSQL as';
        }
        return null;
    case 'node-openai':
        try {
            await import('openai');
            return null;
        } catch (err) {
            return `the openai npm package cannot be loaded (run npm ci in tests/): ${err.message}`;
        }
    case 'fixtures': {
        const dir = process.env.SLUICE_FIXTURES;
        if (!dir) {
            return 'SLUICE_FIXTURES is not set';
        }
        return fs.existsSync(dir) ? null : `SLUICE_FIXTURES=${dir} does not exist`;
    }
    case 'openssl':
        return onPath('openssl') ? null : 'the openssl command is not on PATH';
    default:
        return `unknown dependency name "${dep}" in needs()`;
    }
}

// Returns why `dep` is unavailable, or null. For a single test that needs a dependency the rest
// of its file does not: pass the result to testOptions().
export function missingDependency(dep) {
    return checkDependency(dep);
}

// node:test options for a test that needs a dependency that may be missing (`why` from
// missingDependency). The test is skipped, except under CI=true, where it runs and must fail
// itself by calling failIfMissing(why) first.
export function testOptions(why) {
    return { skip: why && !IN_CI ? why : false };
}

export function failIfMissing(why) {
    if (why) {
        throw new Error(`missing dependency under CI=true: ${why}`);
    }
}

// Exits the process with 77 (skipped) when a dependency is missing, or with 1 under CI=true,
// where nothing may be skipped silently. Call it at the top level before any test() call.
export async function needs(...deps) {
    const missing = [];
    for (const dep of deps) {
        const why = await checkDependency(dep);
        if (why) {
            missing.push(`${dep}: ${why}`);
        }
    }
    if (missing.length === 0) {
        return;
    }
    const file = path.basename(process.argv[1] || 'test');
    if (IN_CI) {
        console.log(`Bail out! ${file}: missing dependencies under CI=true: ${missing.join('; ')}`);
        process.exit(1);
    }
    console.log(`1..0 # SKIP ${file}: ${missing.join('; ')}`);
    process.exit(SKIP_EXIT_CODE);
}

// ---------------------------------------------------------------------------------------------
// Processes

// Returns a TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot take 0).
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

// Environment for a child: the test's own, without proxy or CA settings that would change how
// the child reaches loopback servers, plus `extra`.
function childEnv(extra = {}) {
    const env = { ...process.env };
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'SSL_CERT_FILE',
        'SSL_CERT_DIR', 'CURL_CA_BUNDLE']) {
        delete env[name];
        delete env[name.toLowerCase()];
    }
    return { ...env, ...extra };
}

// With SLUICE_TEST_OUTPUT_DIR set (tests/run-all.sh sets it), every child's stdout and stderr
// is also written to a file there. Tests record there each plaintext key they obtain, so the
// whole run's output can be searched for keys once it ended.
const OUTPUT_DIR = process.env.SLUICE_TEST_OUTPUT_DIR || '';

// Records a plaintext key that must appear in no output of the run.
export function recordKey(key) {
    if (OUTPUT_DIR && typeof key === 'string' && key !== '') {
        fs.appendFileSync(path.join(OUTPUT_DIR, 'keys.list'), `${key}\n`);
    }
}

// A started child process whose stdout is read as JSON lines.
class Proc extends EventEmitter {
    constructor(cmd, args, env, name) {
        super();
        this.name = name;
        this.stdoutText = '';
        this.stderrText = '';
        this.logs = [];
        this.exitCode = undefined; // number, or a signal name, once exited
        this.child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        this.pid = this.child.pid;
        liveChildren.add(this.child);
        const copy = OUTPUT_DIR
            ? path.join(OUTPUT_DIR, `${String(name).replace(/[^A-Za-z0-9_.-]/g, '_')}-${this.pid}.out`)
            : null;
        const keepCopy = (chunk) => {
            if (copy !== null) {
                fs.appendFileSync(copy, chunk);
            }
        };

        let pending = '';
        this.child.stdout.setEncoding('utf8');
        this.child.stdout.on('data', (chunk) => {
            this.stdoutText += chunk;
            keepCopy(chunk);
            pending += chunk;
            let nl;
            while ((nl = pending.indexOf('\n')) >= 0) {
                const line = pending.slice(0, nl);
                pending = pending.slice(nl + 1);
                if (line.trim() === '') {
                    continue;
                }
                let entry;
                try {
                    entry = JSON.parse(line);
                } catch {
                    entry = { raw: line };
                }
                this.logs.push(entry);
                this.emit('log', entry);
            }
        });
        this.child.stderr.setEncoding('utf8');
        this.child.stderr.on('data', (chunk) => {
            this.stderrText += chunk;
            keepCopy(chunk);
        });
        this.exited = new Promise((resolve) => {
            this.child.on('exit', (code, signal) => {
                liveChildren.delete(this.child);
                this.exitCode = code === null ? signal : code;
                this.emit('exit', this.exitCode);
                resolve(this.exitCode);
            });
        });
        this.child.on('error', (err) => {
            this.stderrText += `spawn failed: ${err.message}\n`;
        });
    }

    // Resolves with the first log entry (already seen or future) matching `predicate`.
    waitForLog(predicate, timeoutMs = 5000) {
        const found = this.logs.find(predicate);
        if (found) {
            return Promise.resolve(found);
        }
        return new Promise((resolve, reject) => {
            const onLog = (entry) => {
                if (predicate(entry)) {
                    done();
                    resolve(entry);
                }
            };
            const onExit = (code) => {
                done();
                reject(new Error(`${this.name} exited (${code}) before the expected log line\n`
                    + this.describe()));
            };
            const timer = setTimeout(() => {
                done();
                reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms\n`
                    + this.describe()));
            }, timeoutMs);
            const done = () => {
                clearTimeout(timer);
                this.off('log', onLog);
                this.off('exit', onExit);
            };
            this.on('log', onLog);
            if (this.exitCode !== undefined) {
                onExit(this.exitCode);
            } else {
                this.on('exit', onExit);
            }
        });
    }

    // Resolves with the exit code (or signal name), or null if still running after timeoutMs.
    async waitExit(timeoutMs = 10000) {
        let timer;
        const timeout = new Promise((resolve) => {
            timer = setTimeout(() => resolve(null), timeoutMs);
        });
        const result = await Promise.race([this.exited, timeout]);
        clearTimeout(timer);
        return result;
    }

    // Sends `signal`, waits up to timeoutMs, then SIGKILLs. Returns the exit code or signal name.
    // The short default keeps teardown quick; a test of the shutdown itself passes its own limit.
    async stop(signal = 'SIGTERM', timeoutMs = 3000) {
        if (this.exitCode !== undefined) {
            return this.exitCode;
        }
        try {
            process.kill(this.pid, signal);
        } catch {
            // exited meanwhile
        }
        const code = await this.waitExit(timeoutMs);
        if (code !== null) {
            return code;
        }
        try {
            process.kill(this.pid, 'SIGKILL');
        } catch {
            // exited meanwhile
        }
        return this.exited;
    }

    describe() {
        const tail = (s) => (s.length > 4000 ? '...' + s.slice(-4000) : s);
        return `--- ${this.name} stdout ---\n${tail(this.stdoutText)}\n`
            + `--- ${this.name} stderr ---\n${tail(this.stderrText)}`;
    }
}

// Starts any program as a tracked child (killed when the test file exits) whose stdout is read
// as JSON lines, e.g. sluice-coordinator. `env` is added to the test's environment.
export function spawnProc(cmd, args, env, name) {
    return new Proc(cmd, args, childEnv(env), name);
}

// ---------------------------------------------------------------------------------------------
// sluice-mock

// Starts sluice-mock on a free loopback port. opts: {args: [...], env: {...}, tls: {cert, key}}.
export async function startMock(opts = {}) {
    const bin = mockBinary();
    if (!bin) {
        throw new Error('sluice-mock binary not found: set SLUICE_BUILD_DIR');
    }
    const args = ['--host', '127.0.0.1', '--port', '0'];
    if (opts.tls) {
        args.push('--tls-cert', opts.tls.cert, '--tls-key', opts.tls.key);
    }
    args.push(...(opts.args || []));
    const proc = new Proc(bin, args, childEnv(opts.env), 'sluice-mock');
    const ready = await proc.waitForLog((e) => e.event === 'mock.listening', 10000);
    const port = ready.port;
    const scheme = opts.tls ? 'https' : 'http';
    const url = `${scheme}://127.0.0.1:${port}`;

    // The control API is reached over plain HTTP unless the mock serves TLS, in which case the
    // test's own CA must be passed as opts.tls.ca.
    const control = (method, p, body) => httpRequest(url + p, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ca: opts.tls ? opts.tls.ca : undefined,
    });

    return {
        url,
        port,
        proc,
        async queue(script) {
            const res = await control('POST', '/_mock/responses', script);
            if (res.status !== 200) {
                throw new Error(`mock rejected the script (${res.status}): ${res.body}`);
            }
            return res.json();
        },
        async requests() {
            const res = await control('GET', '/_mock/requests');
            if (res.status !== 200) {
                throw new Error(`GET /_mock/requests failed (${res.status}): ${res.body}`);
            }
            return res.json().requests;
        },
        async reset() {
            const res = await control('POST', '/_mock/reset', {});
            if (res.status !== 200) {
                throw new Error(`POST /_mock/reset failed (${res.status}): ${res.body}`);
            }
        },
        // Polls the request log until `predicate(requests)` is true; returns the requests.
        async waitForRequests(predicate, timeoutMs = 3000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const reqs = await this.requests();
                if (predicate(reqs)) {
                    return reqs;
                }
                if (Date.now() > deadline) {
                    throw new Error(`mock request log did not match within ${timeoutMs} ms: `
                        + JSON.stringify(reqs, null, 1).slice(0, 3000));
                }
                await sleep(25);
            }
        },
        stop: (signal) => proc.stop(signal),
    };
}

// ---------------------------------------------------------------------------------------------
// sluice-gateway

// Spawns sluice-gateway without waiting for it to listen (for tests of start-up failures).
// opts: {config: yamlText, env, args, workers, withConfigArg (default true)}.
export function spawnGateway(opts = {}) {
    const bin = gatewayBinary();
    if (!bin) {
        throw new Error('sluice-gateway binary not found: set SLUICE_BUILD_DIR');
    }
    const dir = makeTempDir('sluice-gw-');
    const configPath = path.join(dir, 'config.yaml');
    const args = [];
    if (opts.config !== undefined) {
        fs.writeFileSync(configPath, opts.config);
    }
    if (opts.withConfigArg !== false) {
        args.push('--config', configPath);
    }
    args.push('--host', '127.0.0.1', '--port', '0');
    if (opts.workers !== undefined) {
        args.push('--num-workers', String(opts.workers));
    }
    args.push(...(opts.args || []));
    const proc = new Proc(bin, args, childEnv(opts.env), 'sluice-gateway');
    proc.configPath = configPath;
    return proc;
}

// Starts sluice-gateway with an inline YAML config and waits for `gateway.listening`.
export async function startGateway(opts = {}) {
    const proc = spawnGateway(opts);
    const ready = await proc.waitForLog((e) => e.event === 'gateway.listening', 15000);
    const port = ready.port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        proc,
        configPath: proc.configPath,
        logs: proc.logs,
        stdout: () => proc.stdoutText,
        waitForLog: (predicate, timeoutMs) => proc.waitForLog(predicate, timeoutMs),
        // Access log lines (`http.access`) seen so far.
        accessLogs: () => proc.logs.filter((e) => e.event === 'http.access'),
        stop: (signal, timeoutMs) => proc.stop(signal, timeoutMs),
        describe: () => proc.describe(),
    };
}

// ---------------------------------------------------------------------------------------------
// Redis and PostgreSQL

// Starts a throwaway redis-server. The returned object's `kill()` ends it with SIGKILL, which
// resets its connections like an outage. `restart()` then starts a new empty server on the same
// port, so clients configured with `url` can reconnect. `proc` and `pid` name the current one.
export async function startRedis() {
    const port = await freePort();
    const dir = makeTempDir('sluice-redis-');
    const launch = async () => {
        const proc = new Proc('redis-server', ['--bind', '127.0.0.1', '--port', String(port),
            '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], childEnv(),
        'redis');
        const deadline = Date.now() + 10000;
        for (;;) {
            if (await redisPing(port)) {
                return proc;
            }
            if (proc.exitCode !== undefined || Date.now() > deadline) {
                await proc.stop('SIGKILL');
                throw new Error(`redis-server did not start on port ${port}\n${proc.describe()}`);
            }
            await sleep(30);
        }
    };
    const redis = {
        url: `redis://127.0.0.1:${port}/0`,
        port,
        proc: await launch(),
        get pid() {
            return this.proc.pid;
        },
        stop() {
            return this.proc.stop('SIGTERM');
        },
        kill() {
            return this.proc.stop('SIGKILL');
        },
        // Starts a new server after stop() or kill(). A failed start is retried for up to 5 s,
        // because the old server's port may not be free at once.
        async restart() {
            if (this.proc.exitCode === undefined) {
                throw new Error(`redis-server ${this.proc.pid} is still running`);
            }
            const deadline = Date.now() + 5000;
            for (;;) {
                try {
                    this.proc = await launch();
                    return;
                } catch (err) {
                    if (Date.now() > deadline) {
                        throw err;
                    }
                    await sleep(100);
                }
            }
        },
    };
    return redis;
}

function redisPing(port) {
    return new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        let got = '';
        sock.setTimeout(500, () => {
            sock.destroy();
            resolve(false);
        });
        sock.on('connect', () => sock.write('PING\r\n'));
        sock.on('data', (d) => {
            got += d;
            if (got.includes('\r\n')) {
                sock.destroy();
                resolve(got.startsWith('+PONG'));
            }
        });
        sock.on('error', () => resolve(false));
    });
}

// Runs a PostgreSQL tool, as the postgres user when the tests run as root (initdb refuses root).
function runPgTool(tool, args) {
    const cmd = process.getuid() === 0 ? 'runuser' : path.join(PG_BIN, tool);
    const fullArgs = process.getuid() === 0 ? ['-u', 'postgres', '--', path.join(PG_BIN, tool), ...args]
        : args;
    const res = spawnSync(cmd, fullArgs, { encoding: 'utf8', env: childEnv({ LC_ALL: 'C' }) });
    if (res.status !== 0) {
        throw new Error(`${tool} ${args.join(' ')} failed (${res.status}): ${res.stdout}${res.stderr}`);
    }
    return res;
}

// Starts a throwaway PostgreSQL 15 (trust auth, fsync off) in a temporary folder.
export async function startPostgres() {
    const port = await freePort();
    const dir = makeTempDir('sluice-pg-');
    fs.chmodSync(dir, 0o755);
    if (process.getuid() === 0) {
        const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
        const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
        fs.chownSync(dir, Number(pw.stdout.trim()), Number(gid.stdout.trim()));
    }
    const data = path.join(dir, 'data');
    runPgTool('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C',
        '--no-sync']);
    const serverOpts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off `
        + '-c synchronous_commit=off -c full_page_writes=off';
    runPgTool('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '30', 'start',
        '-o', serverOpts]);
    const readPid = () => Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8')
        .split('\n')[0]);
    let postmasterPid = readPid();
    postmasterPids.add(postmasterPid);
    return {
        url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
        port,
        pid: postmasterPid,
        async stop() {
            try {
                runPgTool('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
            } finally {
                postmasterPids.delete(postmasterPid);
            }
        },
        // Starts the stopped server again on the same port and data.
        async restart() {
            runPgTool('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '30',
                'start', '-o', serverOpts]);
            postmasterPid = readPid();
            postmasterPids.add(postmasterPid);
        },
    };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// One HTTP/1.1 request on a fresh connection. Resolves on the full response, even if the server
// answered before the request body was fully written (a 413 does that). opts: {method, headers,
// body (string or Buffer), timeoutMs, ca, signal}.
export function httpRequest(url, opts = {}) {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? import('node:https') : Promise.resolve({ default: http });
    return mod.then(({ default: lib }) => new Promise((resolve, reject) => {
        const started = Date.now();
        const req = lib.request(u, {
            method: opts.method || 'GET',
            headers: opts.headers || {},
            agent: false,
            ca: opts.ca,
            signal: opts.signal,
        });
        let responded = false;
        const timer = setTimeout(() => {
            req.destroy(new Error(`no complete response from ${url} within ${opts.timeoutMs || 20000} ms`));
        }, opts.timeoutMs || 20000);
        req.on('response', (res) => {
            responded = true;
            const chunks = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => {
                clearTimeout(timer);
                const body = Buffer.concat(chunks).toString('utf8');
                resolve({
                    status: res.statusCode,
                    headers: res.headers,
                    body,
                    elapsedMs: Date.now() - started,
                    json() {
                        return JSON.parse(body);
                    },
                });
            });
            res.on('error', (err) => {
                clearTimeout(timer);
                reject(err);
            });
        });
        req.on('error', (err) => {
            if (!responded) {
                clearTimeout(timer);
                reject(err);
            }
        });
        if (opts.body !== undefined) {
            req.write(opts.body, () => {});
        }
        req.end();
    }));
}

// POSTs `body` (an object is serialised) as JSON.
export function postJson(url, body, headers = {}, extra = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body) ?? '';
    // Node sends a DELETE body unframed unless a length is given; other methods stay chunked,
    // as tests of oversized bodies expect.
    const framing = extra.method === 'DELETE'
        ? { 'content-length': String(Buffer.byteLength(text)) } : {};
    return httpRequest(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...framing, ...headers },
        body: text,
        ...extra,
    });
}

// A minimal chat completion request body.
export function chatBody(model, extra = {}) {
    return { model, messages: [{ role: 'user', content: 'Say hi' }], ...extra };
}

// The error envelope checks every error response must pass: returns the parsed `error` object.
export function expectErrorEnvelope(assert, res, status) {
    assert.equal(res.status, status, `status; body: ${res.body}`);
    assert.match(String(res.headers['content-type'] || ''), /application\/json/, 'content-type');
    let parsed;
    assert.doesNotThrow(() => {
        parsed = JSON.parse(res.body);
    }, `body is JSON: ${res.body}`);
    assert.equal(typeof parsed.error, 'object', `body has an error object: ${res.body}`);
    assert.ok(parsed.error !== null, 'error is not null');
    assert.equal(typeof parsed.error.message, 'string', 'error.message is a string');
    assert.ok(parsed.error.message.length > 0, 'error.message is not empty');
    assert.equal(typeof parsed.error.type, 'string', 'error.type is a string');
    assert.ok('param' in parsed.error, 'error.param is present');
    assert.equal(parsed.error.code, String(status), 'error.code is the status as a string');
    return parsed.error;
}
