// SPDX-License-Identifier: Apache-2.0
// Text completions: the official OpenAI Node SDK calls sluice-gateway's /v1/completions, which
// forwards to sluice-mock. Covers whole and streamed responses (text, one finish_reason per
// choice, [DONE], usage), the model rewritten on the way up and back, both route spellings,
// stream failures, client mistakes (each a 400 that never reaches the mock) and upstream errors
// passed through.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
    expectErrorEnvelope, needs, postJson, startGateway, startMock,
} from './lib/harness.mjs';
import { streamChat } from './lib/sse.mjs';

await needs('gateway', 'mock', 'node-openai');
const { default: OpenAI } = await import('openai');

const MASTER_KEY = 'sk-master-complete-8b2f';
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const GROUP = 'team-instruct';
const PROVIDER_MODEL = 'gpt-3.5-turbo-instruct';
const MOCK_DEFAULT_TEXT = 'Hello from sluice-mock.';

let mock;
let gateway;

before(async () => {
    mock = await startMock();
    gateway = await startGateway({
        config: `
model_list:
- model_name: ${GROUP}
  litellm_params:
    model: openai/${PROVIDER_MODEL}
    api_key: sk-upstream-complete
    api_base: ${mock.url}/v1
# The tests check how one failed upstream call reaches the client: no retries.
router_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
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

function client() {
    return new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
}

const completionsUrl = (route = '/v1/completions') => `${gateway.url}${route}`;

// Streams a completion from the gateway; resolves with streamChat's result.
function streamCompletion(body, route = '/v1/completions') {
    return streamChat({
        url: completionsUrl(route),
        body: { model: GROUP, prompt: 'Tell a story', stream: true, ...body },
        headers: AUTH,
    });
}

// The text of every chunk joined per choice index, and the finish reasons seen per index.
function collectChoices(events) {
    const text = {};
    const finishes = {};
    for (const ev of events) {
        if (ev.kind !== 'chunk') {
            continue;
        }
        for (const choice of ev.json.choices) {
            text[choice.index] = (text[choice.index] || '') + choice.text;
            if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
                (finishes[choice.index] ||= []).push(choice.finish_reason);
            }
        }
    }
    return { text, finishes };
}

// ---------------------------------------------------------------- whole responses

test('sdk completion returns mock text', async () => {
    await mock.reset();
    await mock.queue({
        route: 'completions', text: 'Once upon a time.', usage: { prompt_tokens: 9, completion_tokens: 4 },
    });
    const res = await client().completions.create({ model: GROUP, prompt: 'Begin a story' });
    assert.equal(res.object, 'text_completion');
    assert.equal(res.model, GROUP);
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].text, 'Once upon a time.');
    assert.equal(res.choices[0].index, 0);
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.usage.prompt_tokens, 9);
    assert.equal(res.usage.completion_tokens, 4);
    assert.equal(res.usage.total_tokens, 13);
});

test('upstream gets provider model', async () => {
    await mock.reset();
    await client().completions.create({
        model: GROUP, prompt: ['first', 'second'], echo: true, suffix: '.', best_of: 2, logprobs: 1,
        max_tokens: 12,
    });
    const reqs = await mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].path, '/v1/completions');
    assert.equal(reqs[0].headers.authorization, 'Bearer sk-upstream-complete');
    const body = JSON.parse(reqs[0].body);
    assert.equal(body.model, PROVIDER_MODEL);
    assert.deepEqual(body.prompt, ['first', 'second']);
    assert.equal(body.echo, true);
    assert.equal(body.suffix, '.');
    assert.equal(body.best_of, 2);
    assert.equal(body.logprobs, 1);
    assert.equal(body.max_tokens, 12);
});

test('n gives one choice each', async () => {
    await mock.reset();
    const res = await client().completions.create({ model: GROUP, prompt: 'p', n: 3 });
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
    for (const choice of res.choices) {
        assert.equal(choice.text, MOCK_DEFAULT_TEXT);
    }
});

test('token id prompt passes', async () => {
    await mock.reset();
    const res = await postJson(completionsUrl(), { model: GROUP, prompt: [[1, 2, 3], [4]] }, AUTH);
    assert.equal(res.status, 200, res.body);
    const reqs = await mock.requests();
    assert.deepEqual(JSON.parse(reqs[0].body).prompt, [[1, 2, 3], [4]]);
});

test('length finish reason passes', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', finish_reason: 'length' });
    const res = await client().completions.create({ model: GROUP, prompt: 'p', max_tokens: 2 });
    assert.equal(res.choices[0].finish_reason, 'length');
});

// ---------------------------------------------------------------- streams

test('sdk stream text matches mock', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', text: 'A cat sat on the warm mat.' });
    const stream = await client().completions.create({ model: GROUP, prompt: 'p', stream: true });
    let text = '';
    const finishes = [];
    for await (const chunk of stream) {
        assert.equal(chunk.object, 'text_completion');
        assert.equal(chunk.model, GROUP);
        for (const choice of chunk.choices) {
            text += choice.text;
            if (choice.finish_reason) {
                finishes.push(choice.finish_reason);
            }
        }
    }
    assert.equal(text, 'A cat sat on the warm mat.');
    assert.deepEqual(finishes, ['stop']);
});

for (const route of ['/v1/completions', '/completions']) {
    test(`raw stream ends with done on ${route}`, async () => {
        await mock.reset();
        await mock.queue({ route: 'completions', text: 'one two three', chunk_interval_ms: 5 });
        const res = await streamCompletion({}, route);
        assert.equal(res.status, 200, res.raw);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        assert.equal(res.endedBy, 'end');
        const kinds = res.events.map((e) => e.kind);
        assert.ok(!kinds.includes('error'), res.raw);
        assert.equal(kinds[kinds.length - 1], 'done');
        assert.equal(kinds.filter((k) => k === 'done').length, 1);
        const { text, finishes } = collectChoices(res.events);
        assert.equal(text[0], 'one two three');
        assert.deepEqual(finishes, { 0: ['stop'] });
        for (const ev of res.events.filter((e) => e.kind === 'chunk')) {
            assert.equal(ev.json.object, 'text_completion');
            assert.equal(ev.json.model, GROUP);
        }
        const reqs = await mock.requests();
        assert.equal(reqs[0].path, '/v1/completions');
        assert.equal(JSON.parse(reqs[0].body).model, PROVIDER_MODEL);
    });
}

test('stream with n finishes each choice once', async () => {
    await mock.reset();
    const res = await streamCompletion({ n: 2 });
    assert.equal(res.status, 200, res.raw);
    const { text, finishes } = collectChoices(res.events);
    assert.equal(text[0], MOCK_DEFAULT_TEXT);
    assert.equal(text[1], MOCK_DEFAULT_TEXT);
    assert.deepEqual(finishes, { 0: ['stop'], 1: ['stop'] });
    assert.equal(res.events[res.events.length - 1].kind, 'done');
});

test('stream usage chunk passes', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', usage: { prompt_tokens: 6, completion_tokens: 3 } });
    const res = await streamCompletion({ stream_options: { include_usage: true } });
    assert.equal(res.status, 200, res.raw);
    const usage = res.events.filter((e) => e.kind === 'chunk' && e.json.usage).map((e) => e.json.usage);
    assert.equal(usage.length, 1, res.raw);
    assert.equal(usage[0].prompt_tokens, 6);
    assert.equal(usage[0].completion_tokens, 3);
    assert.equal(usage[0].total_tokens, 9);
});

test('stream cut ends with error event', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', text: 'a b c d e', cut_after_chunks: 2 });
    const res = await streamCompletion({});
    assert.equal(res.status, 200, res.raw);
    const kinds = res.events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'error').length, 1, res.raw);
    assert.equal(kinds[kinds.length - 1], 'done');
    assert.deepEqual(collectChoices(res.events).finishes, {}, 'no finish_reason is made up');
    assert.equal(collectChoices(res.events).text[0], 'a b');
});

test('stream in-band error is relayed', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', text: 'a b c', error_after_chunks: 1 });
    const res = await streamCompletion({});
    assert.equal(res.status, 200, res.raw);
    const errors = res.events.filter((e) => e.kind === 'error');
    assert.equal(errors.length, 1, res.raw);
    assert.equal(errors[0].json.error.message, 'mock in-band error');
});

test('stream without finish reason fails', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', text: 'a b', finish_reason: null });
    const res = await streamCompletion({});
    assert.equal(res.status, 200, res.raw);
    const errors = res.events.filter((e) => e.kind === 'error');
    assert.equal(errors.length, 1, res.raw);
    assert.ok(errors[0].json.error.message.includes('finish_reason'), errors[0].data);
});

test('stream upstream error is json status', async () => {
    await mock.reset();
    await mock.queue({ route: 'completions', status: 503 });
    const res = await postJson(completionsUrl(), { model: GROUP, prompt: 'p', stream: true }, AUTH);
    const err = expectErrorEnvelope(assert, res, 503);
    assert.ok(err.message.includes('scripted error'), err.message);
});

// ---------------------------------------------------------------- client mistakes

// Sends `body` and expects a 400 naming `param` whose message contains `fragment`; the mock
// must not have been called.
async function expectRejected(body, param, fragment, route = '/v1/completions') {
    await mock.reset();
    const res = await postJson(completionsUrl(route), body, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.param, param);
    assert.ok(err.message.includes(fragment), `message: ${err.message}`);
    assert.equal((await mock.requests()).length, 0, 'the mock received the request');
    return err;
}

test('missing prompt is 400', async () => {
    await expectRejected({ model: GROUP }, 'prompt', "Missing required parameter: 'prompt'");
});

test('chat body on completions is 400', async () => {
    await expectRejected({ model: GROUP, messages: [{ role: 'user', content: 'hi' }] }, 'prompt',
        "Missing required parameter: 'prompt'", '/completions');
});

test('numeric prompt is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 5 }, 'prompt', 'expected a string or an array');
});

test('empty prompt array is 400', async () => {
    await expectRejected({ model: GROUP, prompt: [] }, 'prompt', 'empty array');
});

test('mixed prompt array is 400', async () => {
    await expectRejected({ model: GROUP, prompt: [[1], 'text'] }, 'prompt', "Invalid 'prompt[1]'");
});

test('boolean logprobs is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', logprobs: true }, 'logprobs', 'expected an integer');
});

test('string echo is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', echo: 'yes' }, 'echo', 'expected a boolean');
});

test('numeric suffix is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', suffix: 3 }, 'suffix', 'expected a string');
});

test('best_of below n is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', n: 3, best_of: 2 }, 'best_of',
        'best_of must be at least n');
});

test('zero n is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', n: 0 }, 'n', 'out of range');
});

test('string stream is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', stream: 'yes' }, 'stream', 'expected a boolean');
});

test('string temperature is 400', async () => {
    await expectRejected({ model: GROUP, prompt: 'p', temperature: 'warm' }, 'temperature',
        'expected a number');
});

test('unknown model names the route', async () => {
    const err = await expectRejected({ model: 'no-such-instruct', prompt: 'p' }, 'model',
        '/completions: Invalid model name passed in model=no-such-instruct');
    assert.ok(err.message.includes(GROUP), 'the message lists the available groups');
});

test('missing key is 401', async () => {
    await mock.reset();
    const res = await postJson(completionsUrl(), { model: GROUP, prompt: 'p' });
    expectErrorEnvelope(assert, res, 401);
    assert.equal((await mock.requests()).length, 0);
});

test('sdk rejects bad prompt as BadRequestError', async () => {
    await mock.reset();
    await assert.rejects(
        client().completions.create({ model: GROUP, prompt: [] }),
        (err) => {
            assert.ok(err instanceof OpenAI.BadRequestError, `error class ${err.constructor.name}`);
            assert.equal(err.status, 400);
            assert.equal(err.param, 'prompt');
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 0);
});

// ---------------------------------------------------------------- upstream errors

test('upstream 400 passes message and param', async () => {
    await mock.reset();
    const message = 'best_of must not be used with stream.';
    await mock.queue({
        route: 'completions',
        status: 400,
        body: { error: { message, type: 'invalid_request_error', param: 'best_of', code: null } },
    });
    const res = await postJson(completionsUrl(), { model: GROUP, prompt: 'p' }, AUTH);
    const err = expectErrorEnvelope(assert, res, 400);
    assert.equal(err.message, message);
    assert.equal(err.param, 'best_of');
    assert.equal((await mock.requests()).length, 1);
});

test('upstream 429 via sdk is RateLimitError', async () => {
    await mock.reset();
    await mock.queue({
        route: 'completions',
        status: 429,
        headers: { 'retry-after': '4' },
        body: { error: { message: 'Rate limit reached for completions', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
    await assert.rejects(
        client().completions.create({ model: GROUP, prompt: 'p' }),
        (err) => {
            assert.ok(err instanceof OpenAI.RateLimitError, `error class ${err.constructor.name}`);
            assert.equal(err.status, 429);
            assert.ok(err.message.includes('Rate limit reached for completions'), err.message);
            assert.equal(err.headers.get('retry-after'), '4');
            return true;
        },
    );
    assert.equal((await mock.requests()).length, 1, 'one upstream attempt');
});
