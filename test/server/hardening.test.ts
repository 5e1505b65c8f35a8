/**
 * Hostile and unusual HTTP: deeply nested prompts, errors raised before a route runs, charsets,
 * the bearer scheme's case, `Connection: close` on streams, and the input-length cap. Raw
 * `node:http` / `node:net` where the defect is about the bytes on the wire.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MODEL, postJson, startTestServer, type TestServer } from './harness.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ apiKey: 'sekret', limits: { maxInputChars: 1000 } });
});
afterAll(async () => {
  await s.close();
});

const auth = { authorization: 'Bearer sekret' };

/** Asserts OpenAI's error shape (exactly `{error: {message, type, param, code}}`) and returns it. */
function expectOpenAIError(status: number, actualStatus: number, text: string): ErrorBody['error'] {
  expect(actualStatus).toBe(status);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.type).toBe(status >= 500 ? 'server_error' : 'invalid_request_error');
  return body.error;
}

/** A raw GET with `path` sent verbatim (no URL normalisation by a client library). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET', headers: { ...auth, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('deeply nested prompt arrays', () => {
  test('are a 400 naming the prompt, not a 500 from a stack overflow', async () => {
    const depth = 50_000;
    const body = `{"model":"${MODEL}","max_tokens":1,"prompt":[${'['.repeat(depth)}${']'.repeat(depth)}]}`;
    const res = await postJson(s.url, '/v1/completions', body, auth);
    const e = expectOpenAIError(400, res.status, await res.text());
    expect(e.param).toBe('prompt[0]');
    expect(e.message).toMatch(/expected token ids/);
    // The server is fine afterwards.
    expect((await postJson(s.url, '/v1/completions', { model: MODEL, prompt: 'Hi', max_tokens: 1 }, auth)).status).toBe(200);
  });
});

describe("Fastify's and Node's own errors are in OpenAI's shape", () => {
  test('a URL that does not decode (FST_ERR_BAD_URL)', async () => {
    const res = await rawGet('/v1/models/%ff%fe');
    expectOpenAIError(400, res.status, res.body);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  test('a 60 KB query string (431 from the HTTP parser)', async () => {
    const res = await rawGet(`/v1/models?q=${'a'.repeat(60_000)}`);
    const e = expectOpenAIError(431, res.status, res.body);
    expect(e.message).toMatch(/too large/);
  });
});

describe('charsets', () => {
  const body = JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 1 });
  test.each(['utf-16', 'UTF-16LE', 'latin1', 'iso-8859-1'])('charset=%s is a 415', async (charset) => {
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { ...auth, 'content-type': `application/json; charset=${charset}` }, body });
    const e = expectOpenAIError(415, res.status, await res.text());
    expect(e.message).toContain(charset);
  });
  test.each(['utf-8', 'UTF-8', '"utf-8"', 'utf8'])('charset=%s is accepted', async (charset) => {
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { ...auth, 'content-type': `application/json; charset=${charset}` }, body });
    expect(res.status).toBe(200);
  });
});

describe('the bearer scheme is case-insensitive', () => {
  test.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('%s KEY is accepted', async (scheme) => {
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: 'Hi', max_tokens: 1 }, { authorization: `${scheme} sekret` });
    expect(res.status).toBe(200);
  });
  test.each(['Basic sekret', 'bearer  wrong', 'Bearersekret', 'sekret'])('"%s" is a 401', async (header) => {
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: 'Hi', max_tokens: 1 }, { authorization: header });
    expect(expectOpenAIError(401, res.status, await res.text()).code).toBe('invalid_api_key');
  });
});

describe('streams honour Connection: close', () => {
  /** Sends one raw request and collects everything until the server closes the socket. */
  function rawExchange(connection: string): Promise<{ head: string; ended: boolean }> {
    const { hostname, port } = new URL(s.url);
    const body = JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 3, stream: true });
    return new Promise((resolve, reject) => {
      const sock = connect(Number(port), hostname);
      let data = '';
      const timer = setTimeout(() => {
        // Still open well after the stream's end: the server kept the connection alive.
        sock.destroy();
        resolve({ head: data.split('\r\n\r\n')[0] ?? '', ended: false });
      }, 3000);
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        data += d;
        // A kept-alive stream is complete once its last chunk arrived; no need to wait for the timer.
        if (connection === 'keep-alive' && data.endsWith('0\r\n\r\n')) {
          clearTimeout(timer);
          sock.destroy();
          resolve({ head: data.split('\r\n\r\n')[0] ?? '', ended: false });
        }
      });
      sock.on('end', () => {
        clearTimeout(timer);
        resolve({ head: data.split('\r\n\r\n')[0] ?? '', ended: true });
      });
      sock.on('error', reject);
      sock.write(
        `POST /v1/completions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer sekret\r\nContent-Type: application/json\r\n` +
          `Connection: ${connection}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
  }

  test('Connection: close gets Connection: close and the server closes the socket', async () => {
    const { head, ended } = await rawExchange('close');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(head).not.toMatch(/keep-alive/i);
    expect(ended).toBe(true);
  });

  test('keep-alive stays keep-alive', async () => {
    const { head } = await rawExchange('keep-alive');
    expect(head).toMatch(/\r\nconnection: keep-alive\r\n/i);
  });
});

describe('text to tokenise is capped (maxInputChars, here 1000)', () => {
  const long = 'a'.repeat(1001);
  test('/tokenize', async () => {
    const res = await postJson(s.url, '/tokenize', { model: MODEL, prompt: long }, auth);
    const e = expectOpenAIError(400, res.status, await res.text());
    expect(e).toMatchObject({ param: 'prompt', code: 'input_too_long' });
    expect(e.message).toMatch(/1001 characters.*at most 1000.*--max-input-chars/);
    const chat = await postJson(s.url, '/tokenize', { model: MODEL, messages: [{ role: 'user', content: long }] }, auth);
    expect(expectOpenAIError(400, chat.status, await chat.text()).param).toBe('messages');
    const ok = await postJson(s.url, '/tokenize', { model: MODEL, prompt: 'a'.repeat(900) }, auth);
    expect(ok.status).toBe(200);
  });

  test('completions count all prompts together; chat counts the rendered messages', async () => {
    const c = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: ['a'.repeat(600), 'b'.repeat(600)], max_tokens: 1 }, auth);
    expect(expectOpenAIError(400, c.status, await c.text())).toMatchObject({ param: 'prompt', code: 'input_too_long' });
    const chat = await postJson(s.url, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 1 }, auth);
    expect(expectOpenAIError(400, chat.status, await chat.text())).toMatchObject({ param: 'messages', code: 'input_too_long' });
  });

  test('the default cap is 100,000 characters', async () => {
    const d = await startTestServer({}, s.engine);
    try {
      const res = await postJson(d.url, '/tokenize', { model: MODEL, prompt: 'a'.repeat(100_001) });
      expect(expectOpenAIError(400, res.status, await res.text()).code).toBe('input_too_long');
    } finally {
      await d.app.close(1000);
    }
  });
});
