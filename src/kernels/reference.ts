/**
 * The reference backend: every kernel as plain TypeScript loops with f64 accumulation. It is slow
 * and obviously correct, which makes it the oracle that the native backend is tested against.
 *
 * Half-precision weights are widened to f32 once in `prepareMatrix` (after rounding to the
 * requested precision), so `Matrix.dtype` reports the precision of the values and `bytes` the f32
 * storage actually held.
 */
import type { Backend, Matrix } from './backend.js';
import { allocateKVCache, attention, writeKV } from './reference/attention.js';
import { argmax, embed, layerNorm, softmax } from './reference/elementwise.js';
import { rmsNorm, rotary, siluMul } from './reference/llama.js';
import { matmul, prepareMatrix, type ReferenceMatrix } from './reference/matmul.js';
import { sample } from './reference/sampling.js';

function asReference(w: Matrix): ReferenceMatrix {
  if (!(w as Partial<ReferenceMatrix>).nk) throw new Error('matmul: matrix was not prepared by the reference backend');
  return w as ReferenceMatrix;
}

export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    simd: 'js',
    threads: 1,
    prepareMatrix,
    matmul: (out, x, t, w, bias, epilogue) => matmul(out, x, t, asReference(w), bias, epilogue),
    layerNorm,
    rmsNorm,
    rotary,
    siluMul,
    embed,
    allocateKVCache,
    writeKV,
    attention,
    softmax,
    argmax,
    sample,
    dispose: () => {},
  };
}
