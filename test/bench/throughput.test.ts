/** `runThroughputBench` end to end on a tiny fixture model: the figures it reports add up. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runThroughputBench, type ThroughputBenchResult } from '../../src/bench/throughput.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import { fixtureModelDir } from '../helpers/fixtures.js';

test.each(['reference', 'native'] as const)('batched and one-at-a-time runs on the %s backend', async (backend) => {
  if (backend === 'native' && !nativeAvailable()) return;
  const file = join(mkdtempSync(join(tmpdir(), 'tinyvllm-bench-')), 'throughput.json');
  const r = await runThroughputBench({
    model: fixtureModelDir('tiny-gpt2-a'), backend, threads: 1, numPrompts: 6, inputLen: 12, outputLen: 5, maxNumSeqs: 4,
    sequentialPrompts: 2, kvCacheDtype: 'bf16', resultFile: file, print: false,
  });
  expect(r.batched).toMatchObject({ requests: 6, inputTokens: 72, outputTokens: 30, preemptions: 0 });
  expect(r.sequential).toMatchObject({ requests: 2, inputTokens: 24, outputTokens: 10 });
  expect(r.batched.outputThroughput).toBeCloseTo(30 / r.batched.durationS, 6);
  expect(r.batched.totalTokenThroughput).toBeCloseTo(102 / r.batched.durationS, 6);
  expect(r.speedup).toBeCloseTo(r.batched.outputThroughput / r.sequential!.outputThroughput, 9);
  expect(r.batched.peakKvUsage).toBeGreaterThanOrEqual(0);
  expect(r.batched.peakKvUsage).toBeLessThanOrEqual(1);
  expect(r.config).toMatchObject({ kvCacheDtype: 'bf16', maxNumSeqs: 4, computeDtype: 'f32' });
  if (backend === 'native') {
    // The roofline comes from ceilings probed before and after the runs, the better of the two.
    expect(r.ceiling!.gflops).toBeGreaterThan(0);
    expect(r.ceiling!.readGBsProbes).toHaveLength(2);
    expect(r.ceiling!.readGBs).toBe(Math.max(...r.ceiling!.readGBsProbes));
    expect(r.ceiling!.readGBs).toBeGreaterThan(0);
    expect(r.ceiling!.ratio).toBeCloseTo(r.ceiling!.batchedTokPerS / r.ceiling!.sequentialTokPerS, 9);
  } else {
    expect(r.ceiling).toBeNull();
  }
  expect(JSON.parse(readFileSync(file, 'utf8')) as ThroughputBenchResult).toEqual(r);
});
