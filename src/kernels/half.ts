/**
 * f32 <-> bf16 / f16 conversions, per value and per tensor. Encoding rounds to nearest, ties to even
 * (what PyTorch's `.to(torch.bfloat16 / torch.float16)` does), so a checkpoint written here matches
 * one written by PyTorch bit for bit; widening is exact.
 */
import type { DType, RawTensor } from './backend.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Nearest bf16 (ties to even); NaN stays a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  return bitsToBf16(u32[0]);
}

function bitsToBf16(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x0040;
  // bf16 is the top half of an f32: add just under half an ulp, plus one if the kept lsb is odd.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Nearest f16 (ties to even), with subnormals; too large becomes ±Infinity, NaN stays NaN. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return bitsToF16(u32[0]);
}

function bitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x0200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++; // a carry into the exponent is correct
    return sign | h;
  }
  // Subnormal result: value / 2^-24 = significand >> (126 - exp).
  const shift = 126 - exp;
  if (shift > 24) return sign;
  const sig = mant | 0x800000;
  let h = sig >>> shift;
  const rest = sig & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1) !== 0)) h++;
  return sign | h;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** Whole-array conversions; the f32 bits are read through a view, not copied. */
export function f32ArrayToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = bitsToBf16(bits[i]);
  return out;
}

export function f32ArrayToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = bitsToF16(bits[i]);
  return out;
}

// Every f16 bit pattern decoded once (256 KiB): widening a whole tensor becomes a table lookup.
let f16Table: Float32Array | null = null;

function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** Widens a raw tensor to f32. An f32 tensor is returned as-is (no copy). */
export function toF32(t: RawTensor): Float32Array {
  if (t.dtype === 'f32') {
    if (!(t.data instanceof Float32Array)) throw new Error('f32 tensor data must be a Float32Array');
    return t.data;
  }
  if (!(t.data instanceof Uint16Array)) throw new Error(`${t.dtype} tensor data must be a Uint16Array of raw bits`);
  const src = t.data;
  const out = new Float32Array(src.length);
  if (t.dtype === 'f16') {
    const table = f16ToF32Table();
    for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  } else {
    // bf16 is the top half of an f32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  }
  return out;
}

/** Rounds f32 values in place to the nearest value representable in `dtype`. */
export function roundToDType(x: Float32Array, dtype: DType): void {
  if (dtype === 'bf16') for (let i = 0; i < x.length; i++) x[i] = bf16BitsToF32(f32ToBf16Bits(x[i]));
  else if (dtype === 'f16') for (let i = 0; i < x.length; i++) x[i] = f16BitsToF32(f32ToF16Bits(x[i]));
}
