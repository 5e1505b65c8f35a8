import { describe, expect, it } from 'vitest';
import { roundToDType, toF32 } from '../../src/kernels/half.js';

/** IEEE 754 binary16, decoded straight from the definition. */
function f16FromDefinition(h: number): number {
  const sign = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 0) return sign * Math.pow(2, -14) * (m / 1024);
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * Math.pow(2, e - 15) * (1 + m / 1024);
}

/** bfloat16 is the top half of an f32: 1 sign, 8 exponent, 7 mantissa bits. */
function bf16FromDefinition(b: number): number {
  const sign = b >> 15 ? -1 : 1;
  const e = (b >> 7) & 255;
  const m = b & 127;
  if (e === 0) return sign * Math.pow(2, -126) * (m / 128);
  if (e === 255) return m === 0 ? sign * Infinity : NaN;
  return sign * Math.pow(2, e - 127) * (1 + m / 128);
}

const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

describe('reference weight widening', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it('widens every f16 and bf16 bit pattern to its exact value', () => {
    const f16 = toF32({ dtype: 'f16', data: all });
    const bf16 = toF32({ dtype: 'bf16', data: all });
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) if (!same(f16[h], f16FromDefinition(h)) || !same(bf16[h], bf16FromDefinition(h))) bad.push(h);
    expect(bad).toEqual([]);
  });

  it('returns f32 data as-is and rejects mismatched storage', () => {
    const f = Float32Array.of(1, 2);
    expect(toF32({ dtype: 'f32', data: f })).toBe(f);
    expect(() => toF32({ dtype: 'f16', data: f })).toThrow(/Uint16Array/);
    expect(() => toF32({ dtype: 'f32', data: Uint16Array.of(1) })).toThrow(/Float32Array/);
  });

  it('rounds to the nearest representable value, ties to even', () => {
    // f16 keeps 10 mantissa bits, bf16 7: 1 + 2^-11 / 1 + 2^-8 are exact ties between neighbours.
    const f16 = Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 70000, 3 * 2 ** -25);
    roundToDType(f16, 'f16');
    expect(Array.from(f16)).toEqual([1, 1 + 2 ** -9, 1 + 2 ** -10, Infinity, 2 ** -23]);
    const bf16 = Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8 + 2 ** -20));
    roundToDType(bf16, 'bf16');
    expect(Array.from(bf16)).toEqual([1, 1 + 2 ** -6, -(1 + 2 ** -7)]);
    const f32 = Float32Array.of(1 + 2 ** -20);
    roundToDType(f32, 'f32');
    expect(f32[0]).toBe(1 + 2 ** -20);
  });
});
