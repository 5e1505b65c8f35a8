/**
 * `bench latency` with quantized rows beside an unquantized one, decoded in interleaved rounds:
 * one row per configuration, each with its own bytes per token and a measured decode rate, and the
 * KV cache in the engine's default precision unless asked.
 */
import { describe, expect, it } from 'vitest';
import { runLatencyBench } from '../../src/bench/latency.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import { fixtureModelDir } from '../helpers/fixtures.js';

describe.skipIf(!nativeAvailable())('bench latency', () => {
  it('measures every configuration, in rounds, and rejects a bad round count', async () => {
    const opts = { model: fixtureModelDir('tiny-gpt2-a'), threads: 1, dtypes: ['bf16' as const], quantizations: ['int8' as const, 'q4' as const], quantizeLmHead: true, promptLen: 8, decodeTokens: 7, reps: 1, print: false, resultFile: null };
    const r = await runLatencyBench({ ...opts, rounds: 3 });
    expect(r.rows.map((x) => [x.dtype, x.quantization, x.lmHeadQuantized, x.kvCacheDtype])).toEqual([['bf16', null, false, 'bf16'], ['bf16', 'int8', true, 'bf16'], ['bf16', 'q4', true, 'bf16']]);
    const [bf16, int8, q4] = r.rows;
    expect(int8!.weightBytesPerToken).toBeLessThan(bf16!.weightBytesPerToken);
    expect(q4!.weightBytesPerToken).toBeLessThan(int8!.weightBytesPerToken);
    for (const row of r.rows) {
      expect(row.decodeTokPerS).toBeGreaterThan(0);
      expect(row.decodeMsPerToken).toBeCloseTo(1000 / row.decodeTokPerS, 6);
    }
    // Ratios against the bf16 row, one per round, their median reported.
    expect(bf16!.decodeVsBaselineRounds).toEqual([1, 1, 1]);
    for (const row of [int8!, q4!]) {
      expect(row.decodeVsBaselineRounds).toHaveLength(3);
      const sorted = [...row.decodeVsBaselineRounds].sort((a, b) => a - b);
      expect(row.decodeVsBaseline).toBe(sorted[1]);
      expect(row.decodeVsBaseline).toBeGreaterThan(0);
    }
    const f32kv = await runLatencyBench({ ...opts, quantizations: [], rounds: 1, kvCacheDtype: 'f32' });
    expect(f32kv.rows.map((x) => x.kvCacheDtype)).toEqual(['f32']);
    const onlyQuantized = await runLatencyBench({ ...opts, dtypes: [], rounds: 1 });
    expect(onlyQuantized.rows).toHaveLength(2);
    expect(onlyQuantized.rows.every((x) => x.decodeVsBaseline === null && x.decodeVsBaselineRounds.length === 0)).toBe(true);
    await expect(runLatencyBench({ ...opts, rounds: 0 })).rejects.toThrow(/rounds must be a positive integer/);
  });
});
