/**
 * The native weight quantizer (native/quantize.cc) against quant.ts's rules, bit for bit: int8 per
 * column and q4 per group of 32, from [k, n] and [n, k] matrices, on one thread and two, over
 * random values of many magnitudes, exact rounding ties, zero and f16-subnormal groups, scales that
 * overflow f16, and NaN / infinite weights.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { nativeAvailable } from '../../src/kernels/native.js';
import { requireAddon, type NativeAddon } from '../../src/kernels/native/addon.js';
import type { QuantAddon } from '../../src/kernels/native/quant-addon.js';
import { Q4_GROUP, quantizeInt8Columns, quantizeQ4, toNk } from '../../src/kernels/quant.js';
import { mulberry32 } from '../helpers/random.js';

/** `[k, n]` values: each column has its own magnitude, some columns and groups are special. */
function matrix(k: number, n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const w = new Float32Array(k * n);
  for (let c = 0; c < n; c++) {
    const mag = 2 ** Math.floor(rand() * 40 - 30); // 2^-30 .. 2^9
    for (let p = 0; p < k; p++) w[p * n + c] = (rand() * 2 - 1) * mag;
  }
  const col = (c: number, f: (p: number) => number) => {
    for (let p = 0; p < k; p++) w[p * n + c] = f(p);
  };
  col(0, () => 0); // a zero column
  col(1, (p) => (p % 7) - 3); // int8: scale 3/127; q4: d = -3/8 ... with exact ties at x.5 steps
  col(2, (p) => (p % 2 ? 1e-7 : -1e-7) * (p + 1)); // q4 groups whose scale is an f16 subnormal or 0
  col(3, (p) => (p % 3) * 6e5); // q4: |m| / 8 overflows f16 to infinity
  col(4, (p) => [0.5, -0.5, 1.5, 2.5, -2.5, 127][p % 6]!); // int8: scale 1, ties at x.5
  col(5, (p) => (p % Q4_GROUP === 0 ? -3 : [0.1875, 0.5625, 0.9375, -0.9375][p % 4]!)); // q4: d = 0.375, ties at x.5 d
  w[3 * n + 7] = NaN; // a NaN weight
  w[40 * n + 8] = Infinity; // infinite weights
  w[41 * n + 8] = -Infinity;
  return w;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
};

describe.skipIf(!nativeAvailable())('native weight quantizer = quant.ts, bit for bit', () => {
  const addon = (nativeAvailable() ? requireAddon() : null) as (NativeAddon & QuantAddon) | null;
  const contexts = [1, 2].map((threads) => ({ threads, ctx: addon!.create(threads, 'scalar').handle }));
  afterAll(() => contexts.forEach((c) => addon!.dispose(c.ctx)));

  for (const [k, n] of [[96, 70], [77, 33], [32, 17], [300, 9]] as const) {
    for (const { threads, ctx } of contexts) {
      it(`${k}x${n}, ${threads} thread(s), both layouts`, () => {
        const kn = matrix(k, n, k * 131 + n);
        const nk = toNk(kn, k, n, 'kn');
        const i8 = quantizeInt8Columns(nk, k, n);
        const q4 = quantizeQ4(nk, k, n);
        for (const [w, isKn] of [[kn, true], [nk, false]] as const) {
          const a = addon!.quantizeWeights(ctx, false, k, n, w, isKn);
          expect(a.q).toBeInstanceOf(Int8Array);
          expect(same(a.q, i8.q)).toBe(true);
          expect(same(a.scale, i8.scale)).toBe(true);
          const b = addon!.quantizeWeights(ctx, true, k, n, w, isKn);
          expect(b.q).toBeInstanceOf(Uint8Array);
          expect(same(b.q, q4.packed)).toBe(true);
          expect(same(b.scale, q4.scale)).toBe(true);
        }
        // The cases are really there: ties, a NaN-scaled column, an infinite q4 scale, a zero scale.
        expect(Array.from(i8.q.subarray(4 * k, 4 * k + 6))).toEqual([0, 0, 2, 2, -2, 127]);
        expect(q4.packed[5 * (q4.groups * 16) + 1]! & 15).toBe(2 + 8); // 0.5625 / 0.375 = 1.5 -> 2
        expect(q4.packed[5 * (q4.groups * 16) + 2]! & 15).toBe(2 + 8); // 0.9375 / 0.375 = 2.5 -> 2
        expect(Number.isNaN(i8.scale[7])).toBe(true);
        expect(Array.from(q4.scale).some((s) => s === 0x7c00 || s === 0xfc00)).toBe(true);
        expect(i8.scale[0]).toBe(0);
      });
    }
  }

  it('rejects a matrix shorter than k x n', () => {
    expect(() => addon!.quantizeWeights(contexts[0]!.ctx, true, 4, 4, new Float32Array(15), true)).toThrow(/prepareMatrix: w holds 15 values, needs 4x4 = 16/);
  });
});
