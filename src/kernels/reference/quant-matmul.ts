/**
 * Matmul over quantized weights, as plainly as possible: the oracle of the native quantized kernels.
 *
 * - int8 (W8A8): each row of x is quantized (quant.ts), integer dot products are exact, and the
 *   epilogue is `f32(f32(acc) * f32(xScale * wScale))`, the f32 steps the native kernels take, so
 *   with no bias and epilogue 'none' both backends agree bit for bit.
 * - int8-wo and q4: f64 dot products of f32 activations with the exactly dequantized weights.
 */
import type { DType, Epilogue, Matrix, Quantization, RawTensor } from '../backend.js';
import { toF32 } from '../half.js';
import {
  dequantizeQ4Column, quantizeActivationRow, quantizedBytes, quantizeInt8Columns, quantizeQ4, toNk,
  type Int8Weights, type Q4Weights,
} from '../quant.js';
import { store } from './matmul.js';

export interface ReferenceQuantMatrix extends Matrix {
  readonly quant: Quantization;
  /** Set for 'int8' and 'int8-wo'. */
  readonly int8: Int8Weights | null;
  /** Set for 'q4'. */
  readonly q4: Q4Weights | null;
}

/** Quantizes `w` (any layout and dtype) per `quant`; no f32 copy is kept. */
export function prepareQuantMatrix(w: RawTensor, k: number, n: number, layout: 'kn' | 'nk', dtype: DType, quant: Quantization): ReferenceQuantMatrix {
  const nk = toNk(toF32(w), k, n, layout);
  const bytes = quantizedBytes(quant, k, n);
  if (quant === 'q4') return { k, n, dtype, bytes, quant, int8: null, q4: quantizeQ4(nk, k, n) };
  if (quant === 'int8' || quant === 'int8-wo') return { k, n, dtype, bytes, quant, int8: quantizeInt8Columns(nk, k, n), q4: null };
  throw new Error(`prepareMatrix: unknown quantization '${String(quant)}' (expected int8, int8-wo or q4)`);
}

export function quantMatmul(
  out: Float32Array, x: Float32Array, t: number, w: ReferenceQuantMatrix, bias: Float32Array | null, epilogue: Epilogue,
): void {
  const { k, n } = w;
  if (x.length < t * k) throw new Error(`matmul: input holds ${x.length} values, needs ${t}x${k}`);
  if (out.length < t * n) throw new Error(`matmul: output holds ${out.length} values, needs ${t}x${n}`);
  if (bias && bias.length !== n) throw new Error(`matmul: bias has ${bias.length} values, expected ${n}`);
  if (w.quant === 'int8') {
    const qx = new Int8Array(k);
    const { q, scale } = w.int8!;
    for (let i = 0; i < t; i++) {
      const xs = quantizeActivationRow(x, i * k, k, qx, 0);
      for (let j = 0; j < n; j++) {
        let acc = 0; // exact: |acc| <= 127 * 127 * k < 2^53
        for (let p = 0, o = j * k; p < k; p++) acc += qx[p] * q[o + p];
        const v = Math.fround(Math.fround(acc) * Math.fround(xs * scale[j]));
        store(out, i * n + j, v, bias ? bias[j] : 0, epilogue);
      }
    }
    return;
  }
  if (w.quant === 'int8-wo') {
    const { q, scale } = w.int8!;
    for (let j = 0; j < n; j++) {
      const o = j * k;
      for (let i = 0; i < t; i++) {
        let acc = 0;
        for (let p = 0, xo = i * k; p < k; p++) acc += x[xo + p] * q[o + p];
        store(out, i * n + j, acc * scale[j], bias ? bias[j] : 0, epilogue);
      }
    }
    return;
  }
  const col = new Float32Array(k);
  for (let j = 0; j < n; j++) {
    dequantizeQ4Column(w.q4!, j, col);
    for (let i = 0; i < t; i++) {
      let acc = 0;
      for (let p = 0, xo = i * k; p < k; p++) acc += x[xo + p] * col[p];
      store(out, i * n + j, acc, bias ? bias[j] : 0, epilogue);
    }
  }
}
