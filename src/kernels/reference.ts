/**
 * The reference backend: every kernel as plain TypeScript loops with f64 accumulation. It is slow
 * and obviously correct, which makes it the oracle that the native backend is tested against.
 *
 * Half-precision weights are widened to f32 once in `prepareMatrix` (after rounding to the
 * requested precision), so `Matrix.dtype` reports the precision of the values and `bytes` the f32
 * storage actually held. Quantized matrices (`quant`) keep only their integers and scales
 * (reference/quant-matmul.ts), and `bytes` counts those.
 */
import type { Backend, Matrix } from './backend.js';
import { allocateKVCache, attention, writeKV } from './reference/attention.js';
import { argmax, embed, layerNorm, softmax } from './reference/elementwise.js';
import { rmsNorm, rotary, siluMul } from './reference/llama.js';
import { checkShape, matmul, prepareMatrix, type ReferenceMatrix } from './reference/matmul.js';
import { prepareQuantMatrix, quantMatmul, type ReferenceQuantMatrix } from './reference/quant-matmul.js';
import { sample } from './reference/sampling.js';

function asReference(w: Matrix): ReferenceMatrix | ReferenceQuantMatrix {
  const r = w as Partial<ReferenceMatrix & ReferenceQuantMatrix>;
  if (!r.nk && !r.int8 && !r.q4) throw new Error('matmul: matrix was not prepared by the reference backend');
  return w as ReferenceMatrix | ReferenceQuantMatrix;
}

export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    simd: 'js',
    threads: 1,
    prepareMatrix: (w, k, n, layout, dtype = w.dtype, quant = null) => {
      if (quant === null) return prepareMatrix(w, k, n, layout, dtype);
      checkShape(w, k, n);
      return prepareQuantMatrix(w, k, n, layout, dtype, quant);
    },
    matmul: (out, x, t, w, bias, epilogue) => {
      const r = asReference(w);
      if ('nk' in r) matmul(out, x, t, r, bias, epilogue);
      else quantMatmul(out, x, t, r, bias, epilogue);
    },
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
