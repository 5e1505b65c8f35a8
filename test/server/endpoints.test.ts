/** /v1/models, /health, /version, /tokenize, /detokenize and /metrics. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EngineClient } from '../../src/engine/engine-client.js';
import { buildApp } from '../../src/server/app.js';
import { MODEL, postJson, scrape, startTestServer, tiktoken, type TestServer } from './harness.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

describe('info routes', () => {
  test('/v1/models lists the served model', async () => {
    const list = await s.client.models.list();
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ id: MODEL, object: 'model', owned_by: 'tinyvllm', max_model_len: s.engine.maxModelLen });
    expect((await s.client.models.retrieve(MODEL)).id).toBe(MODEL);
  });

  test('/health and /version', async () => {
    const health = await fetch(`${s.url}/health`);
    expect(health.status).toBe(200);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await (await fetch(`${s.url}/version`)).json()).toEqual({ version: pkg.version });
  });

  test('/health is 503 (and generation refused) until the engine is ready', async () => {
    let resolve!: (e: EngineClient) => void;
    const app = buildApp(new Promise<EngineClient>((r) => (resolve = r)), { modelName: MODEL });
    const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${url}/health`)).status).toBe(503);
      const res = await postJson(url, '/v1/completions', { prompt: 'x' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_loading');
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      resolve(s.engine);
      await new Promise((r) => setTimeout(r, 0));
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await postJson(url, '/v1/completions', { prompt: 'x', max_tokens: 1 })).status).toBe(200);
    } finally {
      await app.close(1000);
    }
  });
});

describe('tokenizer routes', () => {
  const text = 'Héllo wörld — “quotes” and emoji 🚀 plus  spaces\nnewline';

  test('/tokenize agrees with an independent GPT-2 tokenizer', async () => {
    const res = await postJson(s.url, '/tokenize', { model: MODEL, prompt: text });
    const ids = tiktoken.encode(text);
    expect(await res.json()).toEqual({ tokens: ids, count: ids.length, max_model_len: s.engine.maxModelLen });
  });

  test('/detokenize inverts it', async () => {
    const res = await postJson(s.url, '/detokenize', { tokens: tiktoken.encode(text) });
    expect(await res.json()).toEqual({ prompt: text });
  });

  test('bad input names the field', async () => {
    const both = await postJson(s.url, '/tokenize', { prompt: 'a', messages: [{ role: 'user', content: 'b' }] });
    expect(both.status).toBe(400);
    const oov = await postJson(s.url, '/detokenize', { tokens: [1, 50257] });
    expect(oov.status).toBe(400);
    expect(((await oov.json()) as { error: { param: string } }).error.param).toBe('tokens[1]');
    const neg = await postJson(s.url, '/detokenize', { tokens: [-1] });
    expect(((await neg.json()) as { error: { param: string } }).error.param).toBe('tokens[0]');
  });
});

describe('/metrics', () => {
  test('Prometheus text with every tinyvllm metric, counting what the requests did', async () => {
    const before = await scrape(s.url);
    const names = [
      'num_requests_running', 'num_requests_waiting', 'kv_cache_usage_perc', 'prefix_cache_queries_total',
      'prefix_cache_hits_total', 'num_preemptions_total', 'prompt_tokens_total', 'generation_tokens_total',
      'time_to_first_token_seconds_count', 'inter_token_latency_seconds_count', 'e2e_request_latency_seconds_count',
    ];
    for (const n of names) expect(before.has(`tinyvllm:${n}`), n).toBe(true);

    const prompts = ['One two three', 'Four five six seven'];
    const r = await s.client.completions.create({ model: MODEL, prompt: prompts, max_tokens: 5, temperature: 0, ignore_eos: true } as never);
    const after = await scrape(s.url);
    const delta = (name: string): number => (after.get(`tinyvllm:${name}`) ?? 0) - (before.get(`tinyvllm:${name}`) ?? 0);
    const promptTokens = prompts.reduce((n, p) => n + tiktoken.encode(p).length, 0);
    expect(delta('prompt_tokens_total')).toBe(promptTokens);
    expect(delta('generation_tokens_total')).toBe(10);
    expect(delta('request_success_total{finished_reason="length"}')).toBe(2);
    expect(delta('e2e_request_latency_seconds_count')).toBe(2);
    expect(delta('time_to_first_token_seconds_count')).toBe(2);
    // 5 tokens per request: 4 gaps each unless the engine delivered several tokens at once.
    expect(delta('inter_token_latency_seconds_count')).toBeLessThanOrEqual(8);
    expect(after.get('tinyvllm:num_requests_running')).toBe(0);
    expect(r.usage?.completion_tokens).toBe(10);
    const ttftSum = delta('time_to_first_token_seconds_sum');
    expect(ttftSum).toBeGreaterThan(0);
    expect(ttftSum).toBeLessThanOrEqual(delta('e2e_request_latency_seconds_sum'));
    const bucketsOk = [...after.keys()].filter((k) => k.startsWith('tinyvllm:e2e_request_latency_seconds_bucket')).map((k) => after.get(k)!);
    expect(bucketsOk.at(-1)).toBe(after.get('tinyvllm:e2e_request_latency_seconds_count'));
  });

  test('content type and HELP/TYPE lines', async () => {
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE tinyvllm:time_to_first_token_seconds histogram');
    expect(text).toContain('# TYPE tinyvllm:generation_tokens_total counter');
    expect(text).toContain('# TYPE tinyvllm:kv_cache_usage_perc gauge');
  });
});
