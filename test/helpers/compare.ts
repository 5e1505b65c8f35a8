/** Comparisons shared by the kernel tests. */
import { expect } from 'vitest';

/** |a - e| <= rtol * (|e| + mean |e|): relative, with the typical magnitude as a floor near zero. */
export function expectClose(actual: Float32Array, expected: Float32Array, rtol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let mean = 0;
  for (const v of expected) mean += Math.abs(v) / expected.length;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / (Math.abs(expected[i]!) + mean);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${at} (${actual[at]} vs ${expected[at]})`).toBeLessThanOrEqual(rtol);
}

/** Index of the first element whose bit pattern differs (so -0 vs 0 counts), or -1. Arrays of different types differ at 0. */
export function firstDifference(a: Float32Array | Uint16Array, b: Float32Array | Uint16Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (a.constructor !== b.constructor) return 0;
  const bits = (x: Float32Array | Uint16Array): Uint32Array | Uint16Array => (x instanceof Float32Array ? new Uint32Array(x.buffer, x.byteOffset, x.length) : x);
  const ua = bits(a);
  const ub = bits(b);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}
