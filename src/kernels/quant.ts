/**
 * Quantization rules shared by both backends. The reference backend quantizes its weights here;
 * the native one runs the same rules in C++ (native/quantize.cc, tested bit for bit against these,
 * because a load spends seconds on them), so both backends hold identical weights. The activation
 * rule of W8A8 is written in f32 arithmetic that C++ reproduces bit for bit.
 *
 * - int8 (W8A8 and weight-only): one scale per output column, `scale = absmax / 127` (f32),
 *   `q = roundHalfEven(w / scale)` clamped to [-127, 127]. A zero column gets scale 0 and q = 0.
 * - q4: groups of Q4_GROUP values along k, llama.cpp's q4_0 rule with the scale rounded first:
 *   `d = f16(m / -8)` where m is the group's value of largest magnitude (sign kept), then
 *   `q = clamp(roundHalfEven(w / d), -8, 7)`, stored as the nibble `q + 8`. Symmetric (no min):
 *   weight distributions are centred on zero, and the sign trick gives the largest value the full
 *   -8 step. k is padded with zeros to a whole number of groups.
 * - W8A8 activations, per row: `amax = max |x|`, `scale = f32(amax / 127)`, `inv = f32(127 / amax)`,
 *   `q = clamp(roundHalfEven(f32(x * inv)), -127, 127)`; a row with amax < 2^-100 (all zero) has scale 0 and q = 0.
 */
import { f16BitsToF32, f32ToF16Bits } from './half.js';

/** Smallest row absmax that W8A8 quantizes; a row below it counts as zero (2^-100, exact in f32). */
export const MIN_ACT_ABSMAX = 2 ** -100;

/** Values per q4 group along k (one f16 scale each). */
export const Q4_GROUP = 32;

/** Round to nearest, ties to even (what `vcvtps2dq` and `nearbyint` do in the default mode). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties toward +Infinity
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Weights in `[n, k]` order (one output column per row), f32 values. */
export function toNk(src: Float32Array, k: number, n: number, layout: 'kn' | 'nk'): Float32Array {
  if (layout === 'nk') return src;
  const nk = new Float32Array(k * n);
  for (let p = 0; p < k; p++) {
    for (let j = 0; j < n; j++) nk[j * k + p] = src[p * n + j];
  }
  return nk;
}

/** Per-output-column int8 weights: `q` is `[n, k]`, `w[j][p] ≈ q[j*k + p] * scale[j]`. */
export interface Int8Weights {
  readonly k: number;
  readonly n: number;
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

export function quantizeInt8Columns(nk: Float32Array, k: number, n: number): Int8Weights {
  const q = new Int8Array(n * k);
  const scale = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const o = j * k;
    let amax = 0;
    for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(nk[o + p]));
    const s = Math.fround(amax / 127);
    scale[j] = s;
    if (s === 0) continue; // zero column (or amax below f32 range / 127): all q stay 0
    for (let p = 0; p < k; p++) q[o + p] = Math.max(-127, Math.min(127, roundHalfEven(nk[o + p] / s)));
  }
  return { k, n, q, scale };
}

/**
 * q4 weights, per output column j and group g (of `groups = ceil(k / Q4_GROUP)`):
 * `scale[j*groups + g]` is the f16 bits of d, and the 16 bytes at `(j*groups + g) * 16` hold the
 * group's 32 nibbles: byte i has value i in its low nibble and value i + 16 in its high nibble
 * (llama.cpp's q4_0 order, so one 16-byte load unpacks into two contiguous halves).
 */
export interface Q4Weights {
  readonly k: number;
  readonly n: number;
  readonly groups: number;
  readonly packed: Uint8Array;
  readonly scale: Uint16Array;
}

export function quantizeQ4(nk: Float32Array, k: number, n: number): Q4Weights {
  const groups = Math.ceil(k / Q4_GROUP);
  const half = Q4_GROUP / 2;
  const packed = new Uint8Array(n * groups * half);
  const scale = new Uint16Array(n * groups);
  const nib = new Uint8Array(Q4_GROUP);
  for (let j = 0; j < n; j++) {
    for (let g = 0; g < groups; g++) {
      const p0 = g * Q4_GROUP, len = Math.min(Q4_GROUP, k - p0), o = j * k + p0;
      let m = 0;
      for (let i = 0; i < len; i++) if (Math.abs(nk[o + i]) > Math.abs(m)) m = nk[o + i];
      const bits = f32ToF16Bits(m / -8);
      const d = f16BitsToF32(bits);
      // A group too small for f16 (d rounds to 0) quantizes to zeros rather than dividing by zero.
      scale[j * groups + g] = d === 0 ? 0 : bits;
      for (let i = 0; i < Q4_GROUP; i++) {
        const q = i < len && d !== 0 ? Math.max(-8, Math.min(7, roundHalfEven(nk[o + i] / d))) : 0;
        nib[i] = q + 8;
      }
      const b = (j * groups + g) * half;
      for (let i = 0; i < half; i++) packed[b + i] = nib[i] | (nib[i + half] << 4);
    }
  }
  return { k, n, groups, packed, scale };
}

/** Column j of q4 weights as f32 values (exact: a small integer times an f16 scale). */
export function dequantizeQ4Column(w: Q4Weights, j: number, out: Float32Array): void {
  const half = Q4_GROUP / 2;
  for (let g = 0; g < w.groups; g++) {
    const d = f16BitsToF32(w.scale[j * w.groups + g]);
    const b = (j * w.groups + g) * half, p0 = g * Q4_GROUP;
    for (let i = 0; i < half; i++) {
      const byte = w.packed[b + i];
      if (p0 + i < w.k) out[p0 + i] = ((byte & 15) - 8) * d;
      if (p0 + i + half < w.k) out[p0 + i + half] = ((byte >> 4) - 8) * d;
    }
  }
}

/**
 * Quantizes `x[off .. off+k)` into `q[qOff ..]` by the W8A8 activation rule; returns the row's scale.
 * Every step is one correctly rounded f32 operation (f64 of two f32 operands, then `fround`, rounds
 * the same as f32 arithmetic for *, / because 53 >= 2*24 + 2), so native code matches exactly.
 */
export function quantizeActivationRow(x: Float32Array, off: number, k: number, q: Int8Array, qOff: number): number {
  let amax = 0;
  for (let p = 0; p < k; p++) {
    const a = Math.abs(x[off + p]);
    if (a > amax) amax = a;
  }
  // Below MIN_ACT_ABSMAX, 127 / amax would overflow f32: such a row is zero for every purpose.
  if (!(amax >= MIN_ACT_ABSMAX)) {
    q.fill(0, qOff, qOff + k);
    return 0;
  }
  const inv = Math.fround(127 / amax);
  for (let p = 0; p < k; p++) {
    q[qOff + p] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(x[off + p] * inv))));
  }
  return Math.fround(amax / 127);
}

/** Bytes a quantized matrix holds (weights plus scales), as both backends report in `Matrix.bytes`. */
export function quantizedBytes(quant: 'int8' | 'int8-wo' | 'q4', k: number, n: number): number {
  if (quant === 'q4') {
    const groups = Math.ceil(k / Q4_GROUP);
    return n * groups * (Q4_GROUP / 2 + 2);
  }
  return n * k + n * 4;
}
