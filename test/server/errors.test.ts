/** Every rejection path answers in OpenAI's error shape, and none disturbs the server. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EngineClient } from '../../src/engine/engine-client.js';
import { MODEL, postJson, startTestServer, tiktoken, type TestServer } from './harness.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

async function expectError(res: Response, status: number, param: string | null, message?: RegExp | string): Promise<ErrorBody['error']> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.type).toBe(status >= 500 ? 'server_error' : 'invalid_request_error');
  expect(body.error.param).toBe(param);
  if (message) expect(body.error.message).toMatch(message);
  return body.error;
}

const completion = (body: unknown) => postJson(s.url, '/v1/completions', body);
const chat = (body: unknown) => postJson(s.url, '/v1/chat/completions', body);
const ok = { model: MODEL, prompt: 'Hi', max_tokens: 2 };

describe('malformed requests', () => {
  test('malformed JSON, NaN, empty body', async () => {
    await expectError(await completion('{"prompt": "x", '), 400, null, /not valid JSON/);
    await expectError(await completion('{"prompt": "x", "temperature": NaN}'), 400, null, /not valid JSON/);
    await expectError(await completion(''), 400, null, /empty/);
    // 1e999 parses to Infinity, which is not a JSON number the API accepts.
    await expectError(await completion(`{"prompt": "x", "temperature": 1e999}`), 400, 'temperature');
  });

  test('a content type other than JSON is 415', async () => {
    for (const type of ['application/xml', 'text/plain']) {
      const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': type }, body: 'prompt=hi' });
      await expectError(res, 415, null);
    }
  });

  test('a body over the limit is 413', async () => {
    const res = await completion({ ...ok, prompt: 'x'.repeat(5 * 1024 * 1024) });
    const e = await expectError(res, 413, null, /too large/);
    expect(e.code).toBe('request_too_large');
  });

  test.each([
    ['temperature', { temperature: 'hot' }, /Invalid type for 'temperature': expected number or null/],
    ['max_tokens', { max_tokens: 2.5 }, /integer/],
    ['n', { n: '2' }, /integer/],
    ['stream', { stream: 'yes' }, /boolean/],
    ['logit_bias', { logit_bias: [1, 2] }, /object/],
    ['stop', { stop: 5 }, /string/],
    ['prompt', { prompt: { text: 'hi' } }, /must be a string, an array of strings, an array of token ids/],
    ['prompt', { prompt: [] }, /must be a string/],
    ['prompt', { prompt: [1, 'a'] }, /must be a string/],
  ])('wrong type for %s is a 400 naming it', async (param, patch, message) => {
    await expectError(await completion({ ...ok, ...patch }), 400, param, message);
  });

  test.each([
    ['max_tokens', { max_tokens: -1 }],
    ['max_tokens', { max_tokens: 0 }],
    ['temperature', { temperature: -0.5 }],
    ['top_p', { top_p: 1.5 }],
    ['top_p', { top_p: 0 }],
    ['n', { n: 0 }],
    ['logprobs', { logprobs: 21 }],
    ['presence_penalty', { presence_penalty: 3 }],
    ['frequency_penalty', { frequency_penalty: -2.5 }],
    ['repetition_penalty', { repetition_penalty: 0 }],
    ['top_k', { top_k: -2 }],
    ['min_p', { min_p: 2 }],
    ['min_tokens', { min_tokens: -1 }],
    ['stop_token_ids[0]', { stop_token_ids: [-1] }],
    ['logit_bias[5]', { logit_bias: { 5: 101 } }],
  ])('out-of-range %s is a 400 naming it', async (param, patch) => {
    await expectError(await completion({ ...ok, ...patch }), 400, param);
  });

  test('engine-side checks become 400s naming the parameter', async () => {
    // Only the engine knows these limits: the vocabulary and min_tokens <= max_tokens.
    await expectError(await completion({ ...ok, stop_token_ids: [60000] }), 400, 'stop_token_ids', /60000/);
    await expectError(await completion({ ...ok, min_tokens: 5, max_tokens: 2 }), 400, 'min_tokens');
    await expectError(await completion({ ...ok, logit_bias: { 99999: 1 } }), 400, 'logit_bias');
    await expectError(await completion({ ...ok, prompt: [1, 2, 99999] }), 400, 'prompt', /99999/);
    await expectError(await completion({ ...ok, prompt: [[1], [2, -3]] }), 400, 'prompt[1]', /-3/);
  });

  test('missing required fields', async () => {
    await expectError(await completion({ model: MODEL }), 400, 'prompt', /Missing required parameter 'prompt'/);
    await expectError(await chat({ model: MODEL }), 400, 'messages');
    await expectError(await chat({ model: MODEL, messages: [] }), 400, 'messages');
    await expectError(await chat({ model: MODEL, messages: [{ content: 'x' }] }), 400, 'messages[0].role');
  });

  test('chat-specific checks', async () => {
    const msgs = [{ role: 'user', content: 'hi' }];
    await expectError(await chat({ model: MODEL, messages: [{ role: 'tool', content: 'x' }] }), 400, 'messages[0].role', /tool/);
    await expectError(await chat({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }), 400, 'messages[0].content[0]');
    await expectError(await chat({ model: MODEL, messages: [{ role: 'user', content: 42 }] }), 400, 'messages[0].content');
    await expectError(await chat({ model: MODEL, messages: msgs, top_logprobs: 2 }), 400, 'top_logprobs', /requires 'logprobs'/);
    await expectError(await chat({ model: MODEL, messages: msgs, logprobs: true, top_logprobs: 30 }), 400, 'top_logprobs');
    await expectError(await chat({ model: MODEL, messages: msgs, max_completion_tokens: 0 }), 400, 'max_completion_tokens');
    await expectError(await chat({ model: MODEL, messages: msgs, tools: [{ type: 'function' }] }), 400, 'tools');
  });
});

describe('limits', () => {
  test('prompt + max_tokens beyond the context is a 400 stating both numbers', async () => {
    const max = s.engine.maxModelLen;
    const ids = Array.from({ length: max - 10 }, (_, i) => 100 + i);
    const e = await expectError(await completion({ model: MODEL, prompt: ids, max_tokens: 20 }), 400, 'max_tokens');
    expect(e.message).toContain(`maximum context length is ${max} tokens`);
    expect(e.message).toContain(`you requested ${max + 10} tokens (${max - 10} in the prompt, 20 in the completion)`);
    expect(e.code).toBe('context_length_exceeded');
    // A prompt that fills the context leaves no room even without max_tokens (chat's default).
    const long = 'a '.repeat(max);
    const c = await expectError(await chat({ model: MODEL, messages: [{ role: 'user', content: long }] }), 400, 'messages');
    expect(c.message).toContain(`maximum context length is ${max} tokens`);
    expect(c.message).toContain(`${tiktoken.encode(`User: ${long}\nAssistant:`).length} in the messages`);
  });

  test('an unknown model is a 404', async () => {
    const e = await expectError(await completion({ ...ok, model: 'gpt-4' }), 404, 'model', /`gpt-4` does not exist/);
    expect(e.code).toBe('model_not_found');
    await expectError(await fetch(`${s.url}/v1/models/gpt-4`), 404, 'model');
    await expectError(await fetch(`${s.url}/v1/nothing-here`), 404, null, /Route GET \/v1\/nothing-here not found/);
  });

  test('the openai client surfaces the status, param and code', async () => {
    const err = await s.client.completions.create({ model: MODEL, prompt: 'x', temperature: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.param).toBe('temperature');
    expect(e.type).toBe('invalid_request_error');
  });

  test('the server keeps serving after all of the above', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: 'Still alive?', max_tokens: 3 });
    expect(r.choices[0]!.finish_reason).toBeTruthy();
  });
});

describe('API key', () => {
  test('401 without or with a wrong key; health, metrics and version stay open', async () => {
    const secured = await startTestServer({ apiKey: 'sekret' }, s.engine);
    try {
      const body = { model: MODEL, prompt: 'Hi', max_tokens: 1 };
      const e = await expectError(await postJson(secured.url, '/v1/completions', body), 401, null, /API key/);
      expect(e.code).toBe('invalid_api_key');
      await expectError(await postJson(secured.url, '/v1/completions', body, { authorization: 'Bearer wrong' }), 401, null);
      await expectError(await postJson(secured.url, '/tokenize', { prompt: 'x' }), 401, null);
      expect((await postJson(secured.url, '/v1/completions', body, { authorization: 'Bearer sekret' })).status).toBe(200);
      const models = await secured.client.models.list();
      expect(models.data[0]!.id).toBe(MODEL);
      for (const path of ['/health', '/metrics', '/version']) expect((await fetch(`${secured.url}${path}`)).status).toBe(200);
      const wrong = new OpenAI({ baseURL: `${secured.url}/v1`, apiKey: 'nope', maxRetries: 0 });
      await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    } finally {
      await secured.close();
    }
  });
});

describe('internal errors', () => {
  test('an unexpected engine failure is a 500 in the same shape, and a stream ends with an error event', async () => {
    // The real engine, with generate() failing after its first delta: the only way to provoke a bug.
    const broken: EngineClient = Object.create(s.engine) as EngineClient;
    broken.generate = (prompt, params, id) =>
      (async function* () {
        for await (const out of s.engine.generate(prompt, params, id)) {
          yield out;
          throw new TypeError('boom');
        }
      })();
    const b = await startTestServer({}, broken);
    try {
      const e = await expectError(await postJson(b.url, '/v1/completions', { ...ok, max_tokens: 5 }), 500, null);
      expect(e.message).not.toContain('boom');
      expect(e.code).toBe('internal_error');
      const res = await postJson(b.url, '/v1/completions', { ...ok, max_tokens: 5, stream: true });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: [DONE]');
      const err = JSON.parse(events.at(-2)!.slice(6)) as ErrorBody;
      expect(err.error.type).toBe('server_error');
      expect((await postJson(s.url, '/v1/completions', ok)).status).toBe(200);
    } finally {
      await b.close();
    }
  });
});
