/**
 * vLLM's model-server protocol on /metrics: the `vllm:*` families that routers (the Gateway API
 * Inference Extension's endpoint picker, vLLM's production-stack router) and autoscalers scrape,
 * read the way they read them, and checked to move under load.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AsyncLLM } from '../../src/engine/async-llm.js';
import { histogramCount, parseFamilies, readValue, type Family } from '../helpers/prometheus.js';
import { createEngine, MODEL, startTestServer, waitFor, type TestServer } from './harness.js';

let engine: AsyncLLM;
let s: TestServer;
beforeAll(async () => {
  engine = await createEngine({ maxNumSeqs: 2 });
  s = await startTestServer({}, engine);
});
afterAll(async () => {
  await s.close();
  await engine.shutdown();
});

const M = { model_name: MODEL };
const families = async (): Promise<Map<string, Family>> => parseFamilies(await (await fetch(`${s.url}/metrics`)).text());
const prompt = (i: number, len: number): number[] => Array.from({ length: len }, (_, j) => (i * 7919 + j * 104729) % 50000);

describe('vllm:* metrics', () => {
  test('every family a router reads is there, typed as vLLM types it, labelled with the served name', async () => {
    const f = await families();
    for (const g of ['num_requests_running', 'num_requests_waiting', 'kv_cache_usage_perc', 'gpu_cache_usage_perc']) {
      expect(readValue(f, `vllm:${g}`, 'gauge', M), g).toBe(0);
    }
    for (const c of ['prefix_cache_queries_total', 'prefix_cache_hits_total', 'prompt_tokens_total', 'generation_tokens_total']) {
      expect(readValue(f, `vllm:${c}`, 'counter', M), c).toBeGreaterThanOrEqual(0);
    }
    expect(f.get('vllm:request_success_total')?.type).toBe('counter');
    for (const h of ['time_to_first_token_seconds', 'inter_token_latency_seconds', 'time_per_output_token_seconds', 'e2e_request_latency_seconds']) {
      expect(histogramCount(f, `vllm:${h}`, M), h).toBeGreaterThanOrEqual(0);
    }
    const stats = await engine.stats();
    const info = f.get('vllm:cache_config_info')!;
    expect(info.type).toBe('gauge');
    expect(info.samples).toHaveLength(1);
    expect(info.samples[0]!.labels).toEqual({ model_name: MODEL, block_size: '16', num_gpu_blocks: String(stats.numBlocks) });
    for (const fam of f.values()) {
      if (!fam.name.startsWith('vllm:')) continue;
      for (const sample of fam.samples) expect(sample.labels.model_name, sample.name).toBe(MODEL);
    }
  });

  test('gauges, counters and histograms move under load and settle afterwards', async () => {
    const N = 6;
    const maxTokens = 200;
    const before = await families();
    const counter = (f: Map<string, Family>, name: string, match: Record<string, string> = {}): number =>
      readValue(f, `vllm:${name}`, 'counter', { ...M, ...match });
    const prompts = Array.from({ length: N }, (_, i) => prompt(i + 1, 20 + i));
    // Six streams on an engine that runs two sequences at a time: two run, four wait.
    // Headers come once a request has started, so the streams are read without awaiting them first.
    const finished = Promise.all(
      prompts.map(async (p) => {
        const res = await fetch(`${s.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, prompt: p, max_tokens: maxTokens, ignore_eos: true, temperature: 0, stream: true }),
        });
        expect(res.status).toBe(200);
        const r = res.body!.getReader();
        while (!(await r.read()).done);
      }),
    );
    let busy: Map<string, Family> | null = null;
    await waitFor(async () => {
      const f = await families();
      if (readValue(f, 'vllm:num_requests_running', 'gauge', M) === 2 && readValue(f, 'vllm:num_requests_waiting', 'gauge', M) >= 1) busy = f;
      return busy !== null;
    }, 10_000, 'two running and some waiting');
    const during = busy as unknown as Map<string, Family>;
    expect(readValue(during, 'vllm:kv_cache_usage_perc', 'gauge', M)).toBeGreaterThan(0);
    expect(readValue(during, 'vllm:gpu_cache_usage_perc', 'gauge', M)).toBe(readValue(during, 'vllm:kv_cache_usage_perc', 'gauge', M));
    await finished;

    await waitFor(async () => readValue(await families(), 'vllm:num_requests_running', 'gauge', M) === 0, 5000, 'the batch to drain');
    const after = await families();
    expect(readValue(after, 'vllm:num_requests_waiting', 'gauge', M)).toBe(0);
    expect(readValue(after, 'vllm:kv_cache_usage_perc', 'gauge', M)).toBe(0);
    const delta = (name: string, match: Record<string, string> = {}): number => counter(after, name, match) - counter(before, name, match);
    expect(delta('generation_tokens_total')).toBe(N * maxTokens);
    expect(delta('prompt_tokens_total')).toBe(prompts.reduce((a, p) => a + p.length, 0));
    const okBefore = before.get('vllm:request_success_total')!.samples.find((x) => x.labels.finished_reason === 'length')?.value ?? 0;
    expect(counter(after, 'request_success_total', { finished_reason: 'length' }) - okBefore).toBe(N);
    const hdelta = (name: string): number => histogramCount(after, `vllm:${name}`, M) - histogramCount(before, `vllm:${name}`, M);
    expect(hdelta('time_to_first_token_seconds')).toBe(N);
    expect(hdelta('e2e_request_latency_seconds')).toBe(N);
    expect(hdelta('inter_token_latency_seconds')).toBeGreaterThan(0);
    expect(hdelta('inter_token_latency_seconds')).toBeLessThanOrEqual(N * (maxTokens - 1));
    expect(hdelta('time_per_output_token_seconds')).toBe(hdelta('inter_token_latency_seconds'));
    // The tinyvllm:* twin reads the same.
    expect(readValue(after, 'tinyvllm:generation_tokens_total', 'counter')).toBe(counter(after, 'generation_tokens_total'));
  });

  test('prefix-cache counters count a shared prefix', async () => {
    const before = await families();
    const shared = prompt(99, 48);
    for (const tail of [[1, 2, 3], [4, 5, 6]]) {
      const res = await s.client.completions.create({ model: MODEL, prompt: [...shared, ...tail], max_tokens: 2, temperature: 0 });
      expect(res.choices[0]!.finish_reason).toBe('length');
    }
    const after = await families();
    const d = (n: string): number => readValue(after, `vllm:${n}`, 'counter', M) - readValue(before, `vllm:${n}`, 'counter', M);
    expect(d('prefix_cache_queries_total')).toBe(2 * 51);
    // The second request finds the first's three full 16-token blocks of the shared prefix.
    expect(d('prefix_cache_hits_total')).toBe(48);
  });
});
