// `logits: false` (what calibration uses) prepares no lm_head and returns no logits, while every
// norm output, the final norm's included, is what the full model computes.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/kernels/backend.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { createModel } from '../../src/model/model.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { fixtureModelDir, type FixtureName } from '../helpers/fixtures.js';

/** A reference backend that keeps a copy of every norm output, in call order. */
function recording(): { be: Backend; outs: Float32Array[] } {
  const inner = createReferenceBackend();
  const outs: Float32Array[] = [];
  const be: Backend = {
    ...inner,
    layerNorm: (out, x, t, n, gamma, beta, eps) => (inner.layerNorm(out, x, t, n, gamma, beta, eps), void outs.push(out.slice(0, t * n))),
    rmsNorm: (out, x, t, n, gamma, eps) => (inner.rmsNorm(out, x, t, n, gamma, eps), void outs.push(out.slice(0, t * n))),
  };
  return { be, outs };
}

describe('models without logits', () => {
  for (const name of ['tiny-gpt2-a', 'tiny-llama-a'] as FixtureName[]) {
    it(`${name}: no lm_head bytes, no logits, the same norm outputs`, () => {
      const ckpt = loadCheckpoint(fixtureModelDir(name, 'bf16'));
      const full = recording();
      const bare = recording();
      const a = createModel(ckpt, full.be);
      const b = createModel(ckpt, bare.be, { logits: false });
      const V = ckpt.config.vocabSize;
      const C = ckpt.config.nEmbd;
      // The reference backend holds the lm_head as f32 [V, C].
      expect(a.weightBytes - b.weightBytes).toBe(4 * V * C);
      const prompt = [5, 17, 2, 40, 9];
      expect(new SingleSequence(a, { maxLen: 8 }).prefill(prompt).length).toBe(V);
      expect(new SingleSequence(b, { maxLen: 8 }).prefill(prompt).length).toBe(0);
      expect(bare.outs.length).toBe(2 * ckpt.config.nLayer + 1);
      expect(bare.outs).toEqual(full.outs);
    });
  }
});
