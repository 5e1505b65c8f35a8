// A half-precision checkpoint keeps its embedding tables 16-bit (half the bytes of an f32 copy), and
// every output equals that of the f32-table path: the same checkpoint widened to f32 on load.
import { describe, expect, it } from 'vitest';
import type { Backend, Quantization } from '../../src/kernels/backend.js';
import { toF32 } from '../../src/kernels/half.js';
import { nativeAvailable, createNativeBackend } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import type { Checkpoint, Tensor } from '../../src/checkpoint/tensor.js';
import { createModel } from '../../src/model/model.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { isLlamaConfig } from '../../src/model/config.js';
import { fixtureModelDir, type FixtureName } from '../helpers/fixtures.js';
import { firstDifference } from '../helpers/compare.js';

/** The checkpoint with every tensor widened to f32 (exact), read once into memory. */
function widened(ckpt: Checkpoint): Checkpoint {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of ckpt.tensors) tensors.set(name, { name, dtype: 'f32', shape: t.shape, data: toF32(t), file: t.file });
  return { ...ckpt, tensors, dtype: 'f32' };
}

/** Bytes of the embedding tables held as f32 minus as 16-bit: 2 per value. */
function tableSaving(ckpt: Checkpoint): number {
  const c = ckpt.config;
  const rows = isLlamaConfig(c) ? c.vocabSize : c.vocabSize + c.nPositions;
  return 2 * rows * c.nEmbd;
}

/** Logits after a prefill and two decode steps, copied out. */
function run(ckpt: Checkpoint, be: Backend, quant: Quantization | null, lmHead: boolean): { logits: Float32Array[]; bytes: number } {
  const model = createModel(ckpt, be, { dtype: 'bf16', quant: quant ? { scheme: quant, lmHead, alpha: null, stats: null } : null });
  const seq = new SingleSequence(model, { maxLen: 16 });
  const logits = [seq.prefill([5, 17, 2, 40, 9]).slice(), seq.step(33).slice(), seq.step(1).slice()];
  return { logits, bytes: model.weightBytes };
}

const backends: [string, () => Backend][] = [['reference', createReferenceBackend]];
if (nativeAvailable()) backends.push(['native', () => createNativeBackend({ threads: 1 })]);

describe('16-bit embedding tables', () => {
  const cases: [Quantization | null, boolean][] = [[null, false], ['int8-wo', false], ['q4', true], ['int8', false]];
  for (const name of ['tiny-gpt2-a', 'tiny-llama-a'] as FixtureName[]) {
    for (const [backend, make] of backends) {
      it(`${name} bf16 on ${backend}: tables hold 2 bytes a value, logits equal the f32-table load`, () => {
        const half = loadCheckpoint(fixtureModelDir(name, 'bf16'));
        const wide = widened(half);
        const be = make();
        try {
          for (const [quant, lmHead] of cases) {
            const a = run(half, be, quant, lmHead);
            const b = run(wide, be, quant, lmHead);
            expect(b.bytes - a.bytes, `${quant ?? 'none'} bytes`).toBe(tableSaving(half));
            for (let i = 0; i < a.logits.length; i++) expect(firstDifference(a.logits[i], b.logits[i]), `${quant ?? 'none'} step ${i}`).toBe(-1);
          }
        } finally {
          be.dispose();
        }
      });
    }
  }
});
