/** Row-wise ops: layer norm, embedding gather, softmax, argmax. */
import type { RawTensor } from '../backend.js';
import { toF32 } from '../half.js';

/** Row `r` of a `[*, n]` table as f32: a view of an f32 table, an exact widened copy of a half one. */
function row(table: RawTensor, r: number, n: number): Float32Array {
  return toF32({ dtype: table.dtype, data: table.data.subarray(r * n, (r + 1) * n) });
}

export function layerNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, beta: Float32Array, eps: number): void {
  if (gamma.length !== n || beta.length !== n) throw new Error(`layerNorm: gamma/beta must have ${n} values`);
  for (let i = 0; i < t; i++) {
    const o = i * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += x[o + j];
    const mean = sum / n;
    let sq = 0;
    for (let j = 0; j < n; j++) {
      const d = x[o + j] - mean;
      sq += d * d;
    }
    const inv = 1 / Math.sqrt(sq / n + eps);
    for (let j = 0; j < n; j++) out[o + j] = (x[o + j] - mean) * inv * gamma[j] + beta[j];
  }
}

export function embed(out: Float32Array, wte: RawTensor, wpe: RawTensor | null, tokens: Int32Array, positions: Int32Array, nEmbd: number): void {
  const vocab = wte.data.length / nEmbd;
  const maxPos = wpe ? wpe.data.length / nEmbd : 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const pos = positions[i];
    if (!(tok >= 0 && tok < vocab)) throw new Error(`embed: token id ${tok} at row ${i} is outside the vocabulary (0..${vocab - 1})`);
    if (wpe && !(pos >= 0 && pos < maxPos)) throw new Error(`embed: position ${pos} at row ${i} is outside 0..${maxPos - 1}`);
    const te = row(wte, tok, nEmbd);
    const pe = wpe ? row(wpe, pos, nEmbd) : null;
    const o = i * nEmbd;
    for (let j = 0; j < nEmbd; j++) out[o + j] = pe ? te[j] + pe[j] : te[j];
  }
}

export function softmax(x: Float32Array, rows: number, n: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(x[o + j] - max);
    for (let j = 0; j < n; j++) x[o + j] = Math.exp(x[o + j] - max) / sum;
  }
}

export function argmax(x: Float32Array, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[j] > x[best]) best = j; // strict '>' keeps the lowest index on ties
  return best;
}
