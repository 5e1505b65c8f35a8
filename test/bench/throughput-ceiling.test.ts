import { describe, expect, it } from 'vitest';
import { layerMatmulParams, throughputCeiling, type CeilingModel } from '../../src/bench/throughput-ceiling.js';

const GPT2_124M: CeilingModel = { nLayer: 12, nEmbd: 768, nInner: 3072, vocabSize: 50257, weightBytes: 4, kvBytes: 4 };
// One layer, one channel, one-token vocabulary: every count below is small enough to add up by hand.
const UNIT: CeilingModel = { nLayer: 1, nEmbd: 1, nInner: 4, vocabSize: 1, weightBytes: 1, kvBytes: 1 };

describe('throughput ceiling', () => {
  it('counts the per-layer matmul weights of GPT-2 124M', () => {
    // c_attn 768x2304 + attn.c_proj 768x768 + mlp.c_fc 768x3072 + mlp.c_proj 3072x768, twelve layers.
    expect(layerMatmulParams(GPT2_124M)).toBe(12 * (1_769_472 + 589_824 + 2_359_296 + 2_359_296));
  });

  it('is FLOP-bound when bandwidth is plentiful', () => {
    // Matmul weights: 3 + 1 + 4 + 4 = 12, so a token at context c costs 2*12 + 4c FLOPs; a logit row 2.
    // Prefill of 1 token: 24 + 4 + 2 = 30. Decode step 1 (context 2): 24 + 8 + 2 = 34. In all 64 FLOPs.
    const c = throughputCeiling(UNIT, { numPrompts: 3, inputLen: 1, outputLen: 2 }, { flops: 1, readBytes: 1e12 });
    expect(c.sequentialTokPerS).toBeCloseTo(2 / 64, 12);
    expect(c.batchedTokPerS).toBeCloseTo(6 / (3 * 64), 12);
    expect(c.ratio).toBeCloseTo(1, 12);
    expect(c.batchedBound).toBe('compute');
  });

  it('shows the batching gain when one stream is bandwidth-bound', () => {
    // A step streams 12 matmul + 1 lm_head weight bytes; K and V of c positions are 2c bytes.
    // One at a time: prefill 13 + 2 = 15 bytes, decode at context 2: 13 + 4 = 17; 32 bytes per request.
    // Batched, 4 requests: each reads 15 + 4 of its own, and the one decode step reads the weights once: 89.
    const c = throughputCeiling(UNIT, { numPrompts: 4, inputLen: 1, outputLen: 2 }, { flops: 1e12, readBytes: 1 });
    expect(c.sequentialTokPerS).toBeCloseTo(2 / 32, 12);
    expect(c.batchedTokPerS).toBeCloseTo(8 / 89, 12);
    expect(c.ratio).toBeCloseTo(8 / 89 / (2 / 32), 12);
    expect(c.batchedBound).toBe('bandwidth');
  });

  it('puts the GPT-2 124M benchmark workload where the machine balance says', () => {
    const w = { numPrompts: 64, inputLen: 128, outputLen: 128 };
    const slowMemory = throughputCeiling(GPT2_124M, w, { flops: 235e9, readBytes: 30e9 });
    const fastMemory = throughputCeiling(GPT2_124M, w, { flops: 235e9, readBytes: 60e9 });
    // Batched it is compute-bound, so memory speed does not move it; one stream is bandwidth-bound.
    expect(fastMemory.batchedTokPerS).toBeCloseTo(slowMemory.batchedTokPerS, 6);
    expect(fastMemory.batchedBound).toBe('compute');
    expect(fastMemory.sequentialTokPerS / slowMemory.sequentialTokPerS).toBeGreaterThan(1.8);
    expect(fastMemory.ratio).toBeLessThan(slowMemory.ratio / 1.8);
    // 64 x (255 rows x ~171 MFLOP + 128 logit rows x 77 MFLOP) ~ 3.4 TFLOP for 8,192 tokens: ~560 tok/s.
    expect(slowMemory.batchedTokPerS).toBeGreaterThan(500);
    expect(slowMemory.batchedTokPerS).toBeLessThan(600);
  });
});
