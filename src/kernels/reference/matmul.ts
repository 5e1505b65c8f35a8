/** Weight preparation and the matmul with its fused epilogues, in plain f64-accumulating loops. */
import type { DType, Epilogue, Matrix, RawTensor } from '../backend.js';
import { roundToDType, toF32 } from '../half.js';

/** The reference keeps every matrix as f32 in `[n, k]` order, so each output is one contiguous dot product. */
export interface ReferenceMatrix extends Matrix {
  readonly nk: Float32Array;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's `gelu_new` (tanh approximation). */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** Throws unless `w` holds a valid `k x n` matrix. */
export function checkShape(w: RawTensor, k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k <= 0 || n <= 0) {
    throw new Error(`prepareMatrix: invalid shape k=${k}, n=${n}`);
  }
  if (w.data.length !== k * n) {
    throw new Error(`prepareMatrix: expected ${k}x${n} = ${k * n} values, got ${w.data.length}`);
  }
}

export function prepareMatrix(w: RawTensor, k: number, n: number, layout: 'kn' | 'nk', dtype: DType = w.dtype): ReferenceMatrix {
  checkShape(w, k, n);
  const src = toF32(w);
  // Widening never loses information, so only narrowing (e.g. f32 -> bf16) needs rounding.
  const narrow = dtype !== w.dtype && dtype !== 'f32';
  let nk: Float32Array;
  if (layout === 'nk') {
    // Already in our order: share the caller's array unless rounding would modify it.
    nk = narrow && src === w.data ? src.slice() : src;
  } else {
    nk = new Float32Array(k * n);
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) nk[j * k + p] = src[p * n + j];
    }
  }
  if (narrow) roundToDType(nk, dtype);
  return { k, n, dtype, bytes: nk.byteLength, quant: null, nk };
}

export function matmul(
  out: Float32Array, x: Float32Array, t: number, w: ReferenceMatrix, bias: Float32Array | null, epilogue: Epilogue,
): void {
  const { k, n, nk } = w;
  if (x.length < t * k) throw new Error(`matmul: input holds ${x.length} values, needs ${t}x${k}`);
  if (out.length < t * n) throw new Error(`matmul: output holds ${out.length} values, needs ${t}x${n}`);
  if (bias && bias.length !== n) throw new Error(`matmul: bias has ${bias.length} values, expected ${n}`);
  for (let i = 0; i < t; i++) {
    const xo = i * k;
    let j = 0;
    // Four outputs per pass share each load of x; every output still sums p = 0..k-1 in order.
    for (; j + 4 <= n; j += 4) {
      const w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0; // JS numbers: f64 accumulation
      for (let p = 0; p < k; p++) {
        const xv = x[xo + p];
        a0 += xv * nk[w0 + p];
        a1 += xv * nk[w1 + p];
        a2 += xv * nk[w2 + p];
        a3 += xv * nk[w3 + p];
      }
      store(out, i * n + j, a0, bias ? bias[j] : 0, epilogue);
      store(out, i * n + j + 1, a1, bias ? bias[j + 1] : 0, epilogue);
      store(out, i * n + j + 2, a2, bias ? bias[j + 2] : 0, epilogue);
      store(out, i * n + j + 3, a3, bias ? bias[j + 3] : 0, epilogue);
    }
    for (; j < n; j++) {
      const wo = j * k;
      let acc = 0;
      for (let p = 0; p < k; p++) acc += x[xo + p] * nk[wo + p];
      store(out, i * n + j, acc, bias ? bias[j] : 0, epilogue);
    }
  }
}

/** out[o] = epilogue(acc + bias): the one f64 epilogue of every reference matmul. */
export function store(out: Float32Array, o: number, acc: number, bias: number, epilogue: Epilogue): void {
  const v = acc + bias;
  if (epilogue === 'gelu') out[o] = geluNew(v);
  else if (epilogue === 'residual') out[o] += v;
  else out[o] = v;
}
