/**
 * Requests with many prompts: capped per request (a 400 naming the limit), merged without stalling
 * the event loop (/health answers while the largest allowed request runs), and counted in sequences
 * (prompts × n) against `maxWaiting`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/server/limits.js';
import { MODEL, postJson, startTestServer, type TestServer } from './harness.js';

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

const MAX = DEFAULT_LIMITS.maxPromptsPerRequest;

describe('prompts per request', () => {
  test('one more than the cap is a 400 naming the limit; the server is unharmed', async () => {
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: Array.from({ length: MAX + 1 }, () => 'Hi'), max_tokens: 1 });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'prompt', code: 'too_many_prompts' });
    expect(error.message).toContain(`${MAX + 1}`);
    expect(error.message).toContain(`at most ${MAX}`);
    expect(error.message).toContain('--max-prompts-per-request');
    // Token-id prompts count the same way; a flat array of ids is one prompt, whatever its length.
    const ids = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: Array.from({ length: MAX + 1 }, () => [15496]), max_tokens: 1 });
    expect(((await ids.json()) as ErrorBody).error.code).toBe('too_many_prompts');
    const flat = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: Array.from({ length: 200 }, () => 15496), max_tokens: 1 });
    expect(flat.status).toBe(200);
  });

  test('the cap is configurable', async () => {
    const small = await startTestServer({ limits: { maxPromptsPerRequest: 3 } }, s.engine);
    try {
      const over = await postJson(small.url, '/v1/completions', { model: MODEL, prompt: ['a', 'b', 'c', 'd'], max_tokens: 1 });
      expect(((await over.json()) as ErrorBody).error.message).toMatch(/has 4.*at most 3/);
      const ok = await small.client.completions.create({ model: MODEL, prompt: ['a', 'b', 'c'], max_tokens: 1 });
      expect(ok.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    } finally {
      await small.app.close(1000);
    }
  });

  test('/health keeps answering while a request with the most prompts allowed runs', async () => {
    const prompts = Array.from({ length: MAX }, (_, i) => `Prompt number ${i}:`);
    let finished = false;
    const big = s.client.completions.create({ model: MODEL, prompt: prompts, max_tokens: 2 }).finally(() => (finished = true));
    // Health checks answered while the big request was still in flight.
    let answeredDuring = 0;
    while (!finished) {
      const res = await fetch(`${s.url}/health`);
      expect(res.status).toBe(200);
      if (!finished) answeredDuring++;
    }
    const out = await big;
    expect(answeredDuring).toBeGreaterThan(0);
    // Every prompt answered, in order, exactly once.
    expect(out.choices.map((c) => c.index)).toEqual(prompts.map((_, i) => i));
    expect(out.choices.every((c) => c.finish_reason === 'length' || c.finish_reason === 'stop')).toBe(true);
  }, 120_000);

  test('a streamed many-prompt request whose client leaves is cleaned up, and /health answers', async () => {
    const ac = new AbortController();
    const stream = await s.client.completions.create(
      // (The stream starts once every prompt has its first token, so keep the completions short.)
      { model: MODEL, prompt: Array.from({ length: MAX }, (_, i) => `Story ${i}`), max_tokens: 4, stream: true },
      { signal: ac.signal },
    );
    for await (const _chunk of stream) break;
    ac.abort();
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const deadline = Date.now() + 30_000;
    while ((await s.engine.stats()).numRunning + (await s.engine.stats()).numWaiting > 0) {
      if (Date.now() > deadline) throw new Error('the engine did not go idle');
      await new Promise((r) => setTimeout(r, 20));
    }
  }, 60_000);
});

describe('sequences count against maxWaiting', () => {
  test('a request needing more sequences than running + waiting is a 400; prompts × n count', async () => {
    const small = await startTestServer({ maxRunning: 4, maxWaiting: 4 }, s.engine);
    try {
      // 3 prompts × n 3 = 9 > 4 + 4.
      const res = await postJson(small.url, '/v1/completions', { model: MODEL, prompt: ['a', 'b', 'c'], n: 3, max_tokens: 1 });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as ErrorBody;
      expect(error).toMatchObject({ param: 'prompt', code: 'too_many_sequences' });
      expect(error.message).toMatch(/9 sequences/);
      // 4 prompts × n 2 = 8 fits (runs alone when the server is idle).
      const ok = await small.client.completions.create({ model: MODEL, prompt: ['a', 'b', 'c', 'd'], n: 2, max_tokens: 1 });
      expect(ok.choices).toHaveLength(8);
    } finally {
      await small.app.close(1000);
    }
  });
});
