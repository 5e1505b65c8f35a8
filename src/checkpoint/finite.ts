/**
 * Non-finite weight detection: one pass over a tensor's bits, run on every load, so it must cost
 * little next to reading the file. A value is NaN or ±Inf exactly when its exponent bits are all
 * ones. Half-precision tensors are scanned two elements per 32-bit word: adding 1 to each exponent
 * field carries into the bit above it only when it was all ones, so OR-ing those sums and testing
 * the carry bits once answers "any?". Only then is the tensor walked again to count and locate.
 */
import type { Tensor } from './tensor.js';

export interface NonFinite {
  /** How many elements are NaN or ±Inf. */
  readonly count: number;
  /** Flat index of the first one. */
  readonly first: number;
}

/** Null when every element is finite; otherwise how many are not and where the first is. */
export function findNonFinite(t: Tensor): NonFinite | null {
  const { data } = t;
  if (data.byteOffset % 4 !== 0) return scan(t);
  const words = new Int32Array(data.buffer, data.byteOffset, (data.byteLength / 4) | 0);
  let any: boolean;
  if (t.dtype === 'f32') any = anyAllOnes32(words);
  // bf16: exponent in bits 7-14 of each half; f16: bits 10-14.
  else if (t.dtype === 'bf16') any = anyAllOnesPairs(words, 7, 0x00ff00ff, 0x01000100);
  else any = anyAllOnesPairs(words, 10, 0x001f001f, 0x00200020);
  // An odd-length half tensor has one element past the last whole word.
  if (!any && data.length % 2 === 1 && t.dtype !== 'f32') any = !isFinite16(t.dtype, (data as Uint16Array)[data.length - 1]!);
  return any ? scan(t) : null;
}

/** f32: a predictable branch per element measured faster here than a branch-free sum. */
function anyAllOnes32(w: Int32Array): boolean {
  const M = 0x7f800000;
  for (let i = 0; i < w.length; i++) if ((w[i]! & M) === M) return true;
  return false;
}

/** Half pairs: ORs `((w >> shift) & mask) + one`; a set bit of `carry` means some exponent was all ones. */
function anyAllOnesPairs(w: Int32Array, shift: number, mask: number, carry: number): boolean {
  let a0 = 0;
  let a1 = 0;
  const n = w.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    a0 |= ((w[i]! >> shift) & mask) + 0x00010001;
    a1 |= ((w[i + 1]! >> shift) & mask) + 0x00010001;
  }
  if (i < n) a0 |= ((w[i]! >> shift) & mask) + 0x00010001;
  return ((a0 | a1) & carry) !== 0;
}

function isFinite16(dtype: 'bf16' | 'f16', bits: number): boolean {
  return dtype === 'bf16' ? (bits & 0x7f80) !== 0x7f80 : (bits & 0x7c00) !== 0x7c00;
}

/** The slow path, only for a tensor already known to hold a non-finite value. */
function scan(t: Tensor): NonFinite | null {
  let count = 0;
  let first = -1;
  const { data } = t;
  for (let i = 0; i < data.length; i++) {
    const ok = t.dtype === 'f32' ? Number.isFinite(data[i]!) : isFinite16(t.dtype, data[i]!);
    if (!ok) {
      if (first < 0) first = i;
      count++;
    }
  }
  return count === 0 ? null : { count, first };
}

/** e.g. `[3, 17]` for flat index 3 * cols + 17 of a matrix. */
export function unflatten(index: number, shape: readonly number[]): number[] {
  const at: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    at.unshift(index % shape[d]!);
    index = Math.floor(index / shape[d]!);
  }
  return at;
}
