/**
 * The server over the in-process engine client (`LLM`, engine core on the server's own event loop)
 * instead of the worker-backed `AsyncLLM`: the same client over the other transport must serve the
 * same answers, stream, and abort when a client hangs up.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LLM } from '../../src/engine/llm.js';
import { MODEL, engineOptions, postJson, runOffline, scrape, startTestServer, waitFor, type TestServer } from './harness.js';

let llm: LLM;
let s: TestServer;
beforeAll(async () => {
  llm = await LLM.create(engineOptions());
  s = await startTestServer({}, llm);
});
afterAll(async () => {
  await s.close();
  await llm.shutdown();
});

const promptFor = (i: number): number[] => Array.from({ length: 4 + (i % 9) }, (_, j) => (i * 7919 + j * 104729) % 50000);

describe('server over the in-process transport', () => {
  test('non-streaming and streaming completions equal the offline engine', async () => {
    const params = { temperature: 0, maxTokens: 10 };
    const [ref] = await runOffline('The harbour was quiet', params);
    const whole = await s.client.completions.create({ model: MODEL, prompt: 'The harbour was quiet', max_tokens: 10, temperature: 0 });
    expect(whole.choices[0]!.text).toBe(ref!.text);
    expect(whole.choices[0]!.finish_reason).toBe(ref!.finishReason);
    expect(whole.usage!.completion_tokens).toBe(ref!.tokenIds.length);

    const N = 8;
    const expected = await Promise.all(Array.from({ length: N }, async (_, i) => (await runOffline({ promptTokenIds: promptFor(i) }, params))[0]!.text));
    const got = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const stream = await s.client.completions.create({ model: MODEL, prompt: promptFor(i), max_tokens: 10, temperature: 0, stream: true });
        let text = '';
        for await (const c of stream) text += c.choices[0]?.text ?? '';
        return text;
      }),
    );
    expect(got).toEqual(expected);
  });

  test('a client that hangs up mid-stream aborts its request and frees its KV blocks', async () => {
    const before = await scrape(s.url);
    const aborts = before.get('tinyvllm:request_success_total{finished_reason="abort"}') ?? 0;
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: promptFor(1), max_tokens: s.engine.maxModelLen - 16, ignore_eos: true, temperature: 0, stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    expect((await s.engine.stats()).numRunning).toBe(1);
    await reader.cancel();
    await waitFor(async () => (await s.engine.stats()).numRunning === 0, 3000, 'the aborted request to leave the engine');
    const stats = await s.engine.stats();
    expect(stats.numFreeBlocks).toBe(stats.numBlocks);
    const after = await scrape(s.url);
    expect(after.get('tinyvllm:request_success_total{finished_reason="abort"}')).toBe(aborts + 1);
  });

  test('/tokenize and bad parameters behave as over the worker', async () => {
    const tok = await postJson(s.url, '/tokenize', { prompt: 'Hello world' });
    expect(((await tok.json()) as { tokens: number[] }).tokens).toEqual(llm.encode('Hello world'));
    const bad = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: 'x', top_p: 7 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('top_p');
  });
});
