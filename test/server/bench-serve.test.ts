/** `runServeBench` against a live server, and its statistics. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatServeBench, percentile, runServeBench, summarize, type ServeBenchResult } from '../../src/bench/serve.js';
import { KJV_MODEL_DIR } from '../helpers/kjv-mini.js';
import { startTestServer, type TestServer } from './harness.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

test('percentiles interpolate linearly, as numpy does', () => {
  expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(hundred, 99)).toBeCloseTo(99.01, 10);
  expect(summarize([3, 1, 2])).toEqual({ mean: 2, median: 2, p99: 2.98 });
  expect(summarize([])).toEqual({ mean: 0, median: 0, p99: 0 });
});

test('drives the server with streaming requests and reports consistent figures', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tinyvllm-bench-')), 'serve.json');
  const r = await runServeBench({
    baseUrl: s.url, numPrompts: 8, inputLen: 16, outputLen: 6, maxConcurrency: 4, requestRate: 200, seed: 3, resultFile: file, print: false,
  });
  expect(r.failed).toBe(0);
  expect(r.completed).toBe(8);
  expect(r.totalInputTokens).toBe(8 * 16);
  expect(r.totalOutputTokens).toBe(8 * 6);
  expect(r.outputThroughput).toBeCloseTo(r.totalOutputTokens / r.durationS, 6);
  expect(r.ttftMs.mean).toBeGreaterThan(0);
  expect(r.ttftMs.median).toBeLessThanOrEqual(r.e2elMs.p99);
  expect(r.e2elMs.mean).toBeGreaterThanOrEqual(r.ttftMs.mean);
  expect(r.config).toMatchObject({ requestRate: 200, maxConcurrency: 4, model: 'tiny-gpt2' });
  expect(JSON.parse(readFileSync(file, 'utf8')) as ServeBenchResult).toEqual(r);
  expect(formatServeBench(r)).toContain('Output token throughput (tok/s)');
});

test('draws prompt ids from the vocabulary of the model it serves (kjv-mini: 4,096 ids, not the 50,257 of GPT-2)', async () => {
  const r = await runServeBench({
    engine: { model: KJV_MODEL_DIR, backend: 'reference', maxNumSeqs: 4 },
    numPrompts: 4, inputLen: 8, outputLen: 2, requestRate: Infinity, seed: 1, resultFile: null, print: false,
  });
  expect(r.failed).toBe(0);
  expect(r.completed).toBe(4);
  expect(r.totalOutputTokens).toBe(4 * 2);
});
