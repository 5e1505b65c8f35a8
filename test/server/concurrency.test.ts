/** Many clients at once, clients that hang up, and the bounded waiting queue. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MODEL, postJson, runOffline, scrape, startTestServer, waitFor, type TestServer } from './harness.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

/** Deterministic, distinct token-id prompts of varying length. */
const promptFor = (i: number): number[] => Array.from({ length: 3 + (i % 13) }, (_, j) => (i * 7919 + j * 104729) % 50000);

describe('concurrency', () => {
  test('64 concurrent streaming clients each get exactly the offline greedy result', async () => {
    const N = 64;
    const maxTokens = 12;
    const expected = await Promise.all(
      Array.from({ length: N }, async (_, i) => (await runOffline({ promptTokenIds: promptFor(i) }, { temperature: 0, maxTokens }))[0]!.text),
    );
    const got = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const stream = await s.client.completions.create({ model: MODEL, prompt: promptFor(i), max_tokens: maxTokens, temperature: 0, stream: true });
        let text = '';
        for await (const c of stream) text += c.choices[0]?.text ?? '';
        return text;
      }),
    );
    expect(got).toEqual(expected);
    const m = await scrape(s.url);
    expect(m.get('tinyvllm:num_requests_running')).toBe(0);
  });
});

describe('client disconnects', () => {
  async function baseline(): Promise<{ kv: number; aborts: number }> {
    const m = await scrape(s.url);
    return { kv: m.get('tinyvllm:kv_cache_usage_perc')!, aborts: m.get('tinyvllm:request_success_total{finished_reason="abort"}') ?? 0 };
  }

  test('closing a stream aborts the engine request and frees its KV blocks', async () => {
    const base = await baseline();
    const maxTokens = s.engine.maxModelLen - 8;
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: promptFor(1), max_tokens: maxTokens, ignore_eos: true, temperature: 0, stream: true });
    const reader = res.body!.getReader();
    await reader.read(); // the stream is under way
    const running = await s.engine.stats();
    expect(running.numRunning).toBe(1);
    const genBefore = running.generationTokens;
    await reader.cancel();
    await waitFor(async () => (await s.engine.stats()).numRunning === 0, 3000, 'the aborted request to leave the engine');
    const after = await scrape(s.url);
    expect(after.get('tinyvllm:num_requests_running')).toBe(0);
    expect(after.get('tinyvllm:kv_cache_usage_perc')).toBe(base.kv);
    expect(after.get('tinyvllm:request_success_total{finished_reason="abort"}')).toBe(base.aborts + 1);
    // It stopped long before max_tokens.
    expect((await s.engine.stats()).generationTokens - genBefore).toBeLessThan(maxTokens / 2);
  });

  test('a non-streaming client that hangs up is aborted too', async () => {
    const base = await baseline();
    const controller = new AbortController();
    const pending = fetch(`${s.url}/v1/completions`, {
      method: 'POST', signal: controller.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: promptFor(3), max_tokens: s.engine.maxModelLen - 8, ignore_eos: true, temperature: 0 }),
    }).catch((e: unknown) => e);
    await waitFor(async () => (await s.engine.stats()).numRunning === 1, 3000, 'the request to start');
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(async () => (await s.engine.stats()).numRunning === 0, 3000, 'the aborted request to leave the engine');
    const after = await baseline();
    expect(after.kv).toBe(base.kv);
    expect(after.aborts).toBe(base.aborts + 1);
  });
});

describe('bounded waiting queue', () => {
  test('beyond maxWaiting queued requests, new ones get 503 at once; queued ones still complete', async () => {
    const q = await startTestServer({ maxRunning: 1, maxWaiting: 1 }, s.engine);
    try {
      // Long enough (7 prompt + 240 tokens of a 256-token context) that the first request is still
      // running while the second queues, however fast the kernels are.
      const long = { model: MODEL, prompt: promptFor(4), max_tokens: 240, temperature: 0, stream: true, ignore_eos: true };
      const first = await postJson(q.url, '/v1/completions', long);
      const reader = first.body!.getReader();
      await reader.read(); // running
      const second = postJson(q.url, '/v1/completions', { ...long, stream: false, max_tokens: 3 });
      await waitFor(async () => (await scrape(q.url)).get('tinyvllm:num_requests_waiting')! >= 1, 3000, 'the second request to queue');
      const third = await postJson(q.url, '/v1/completions', { ...long, stream: false });
      expect(third.status).toBe(503);
      const body = (await third.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: 'server_error', code: 'server_overloaded' });
      expect(body.error.message).toMatch(/1 sequences are already waiting/);
      while (!(await reader.read()).done);
      const done = await second;
      expect(done.status).toBe(200);
      expect(((await done.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
    } finally {
      await q.close();
    }
  });
});
