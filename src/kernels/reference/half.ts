/**
 * Whole-tensor widening of half-precision weights to f32 (exact), and rounding f32 values to a
 * narrower precision (nearest, ties to even, as PyTorch's `.to(dtype)`). Bit-level conversions live
 * in model/half.ts.
 */
import type { DType, RawTensor } from '../backend.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../model/half.js';

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
