/**
 * Speculative decoding through the server: a worker-backed engine started with a speculative config
 * answers like the plain offline engine, and /metrics exports the spec_decode counters (tinyvllm:*
 * and their vllm:* twins) equal to the engine's own figures.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { MODEL, createEngine, runOffline, scrape, startTestServer, type TestServer } from './harness.js';

let s: TestServer;
beforeAll(async () => {
  const engine = await createEngine({ speculativeConfig: '{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 1, "prompt_lookup_max": 2}' });
  s = await startTestServer({}, engine);
});
afterAll(async () => {
  await s.close();
  await s.engine.shutdown();
});

describe('speculative decoding in the server', () => {
  test('answers as without speculation and exports the spec_decode metrics', async () => {
    const prompt = Array.from({ length: 24 }, (_, i) => [464, 3290, 11, 1049][i % 4]!);
    const [ref] = await runOffline({ promptTokenIds: prompt }, { temperature: 0, maxTokens: 20, ignoreEos: true });
    const res = await s.client.completions.create({ model: MODEL, prompt, max_tokens: 20, temperature: 0, ignore_eos: true } as never);
    expect(res.choices[0]!.text).toBe(ref!.text);

    const stats = (await s.engine.stats()).specDecode!;
    expect(stats.numDraftTokens).toBeGreaterThan(0);
    expect(stats.numAcceptedTokens).toBeGreaterThan(0);
    const m = await scrape(s.url);
    const label = `{model_name="${MODEL}"}`;
    expect(m.get('tinyvllm:spec_decode_num_draft_tokens_total')).toBe(stats.numDraftTokens);
    expect(m.get('tinyvllm:spec_decode_num_accepted_tokens_total')).toBe(stats.numAcceptedTokens);
    expect(m.get(`vllm:spec_decode_num_draft_tokens_total${label}`)).toBe(stats.numDraftTokens);
    expect(m.get(`vllm:spec_decode_num_accepted_tokens_total${label}`)).toBe(stats.numAcceptedTokens);
    expect(m.get(`vllm:spec_decode_num_drafts_total${label}`)).toBe(stats.numDrafts);
    stats.acceptedPerPos.forEach((n, i) => {
      expect(m.get(`tinyvllm:spec_decode_num_accepted_tokens_per_pos_total{position="${i}"}`)).toBe(n);
      expect(m.get(`vllm:spec_decode_num_accepted_tokens_per_pos_total{model_name="${MODEL}",position="${i}"}`)).toBe(n);
    });
  });

  test('loads a draft model in the engine worker and answers as without speculation', async () => {
    const engine = await createEngine({ speculativeConfig: { method: 'draft_model', model: fixtureModelDir('tiny-gpt2-b'), num_speculative_tokens: 3 } });
    try {
      const params = { temperature: 0, maxTokens: 12, ignoreEos: true };
      const [ref] = await runOffline('The harbour was quiet', params);
      let text = '';
      for await (const d of engine.generate('The harbour was quiet', params, 'r1')) text += d.outputs[0]?.text ?? '';
      expect(text).toBe(ref!.text);
      expect((await engine.stats()).specDecode!.numDraftTokens).toBeGreaterThan(0);
    } finally {
      await engine.shutdown();
    }
  });
});

describe('startServer (the serve command)', () => {
  test('passes --speculative-config on to its engine', async () => {
    const { startServer } = await import('../../src/server/serve.js');
    const server = await startServer({
      model: fixtureModelDir('tiny-gpt2-a'), threads: 1, port: 0, ui: false, log: () => {},
      speculativeConfig: '{"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_min": 1, "prompt_lookup_max": 2}',
    });
    try {
      const engine = await server.ready;
      expect((await engine.stats()).specDecode).toBeTruthy();
    } finally {
      await server.close();
    }
  });
});
