/**
 * Batch invariance of the native backend, bit for bit: a matmul row is the same whatever the
 * batch size, the other rows or the thread count; attention of one sequence is the same alone or
 * batched with others. This is what makes greedy output independent of the rest of the batch.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttentionMeta, Backend, DType, KVCacheLayer } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { mulberry32 } from '../helpers/random.js';
import { firstDifference } from '../helpers/compare.js';

const available = nativeAvailable();
if (!available) console.warn('skipping native invariance tests: the addon is not built (npm run build:native)');

const rng = mulberry32;

function uniform(n: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

const created: Backend[] = [];
afterAll(() => created.forEach((b) => b.dispose()));

describe.skipIf(!available)('native batch invariance', () => {
  const k = 200;
  const n = 300; // several panels plus a partial one
  const rand = rng(42);
  const x = uniform(64 * k, rand);
  const w = uniform(k * n, rand);
  const bias = uniform(n, rand);

  for (const simd of nativeSimdPaths()) {
    for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
      it(`${simd} ${dtype}: row r of t=1, t=2, t=37 and t=64 calls, on 1 and 2 threads, is bit-identical`, () => {
        const run = (be: Backend, t: number, rows: Float32Array): Float32Array => {
          const m = be.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn', dtype);
          const out = new Float32Array(t * n);
          be.matmul(out, rows, t, m, bias, 'gelu');
          return out;
        };
        const be2 = createNativeBackend({ simd, threads: 2 });
        const be1 = createNativeBackend({ simd, threads: 1 });
        created.push(be1, be2);
        const all64 = run(be2, 64, x);
        const all37 = run(be2, 37, x.subarray(0, 37 * k));
        expect(firstDifference(run(be1, 64, x), all64), '1 thread vs 2').toBe(-1);
        for (const r of [0, 7, 8, 36]) {
          const one = run(be2, 1, x.slice(r * k, (r + 1) * k));
          expect(firstDifference(one, all64.subarray(r * n, (r + 1) * n)), `row ${r} vs t=64`).toBe(-1);
          expect(firstDifference(one, all37.subarray(r * n, (r + 1) * n)), `row ${r} vs t=37`).toBe(-1);
          // t = 1 and 2 take the multi-panel decode kernel, t = 3.. the register-tile one.
          const pair = run(be2, 2, x.slice(r * k, (r + 2) * k));
          expect(firstDifference(pair, all64.subarray(r * n, (r + 2) * n)), `rows ${r}, ${r + 1} (t=2) vs t=64`).toBe(-1);
          expect(firstDifference(run(be1, 1, x.slice(r * k, (r + 1) * k)), one), `row ${r} (t=1) on 1 thread vs 2`).toBe(-1);
        }
        // Other rows' contents do not matter either.
        const shuffled = Float32Array.from(x);
        shuffled.set(uniform(k, rand), 3 * k);
        const other = run(be2, 64, shuffled);
        expect(firstDifference(other.subarray(0, 3 * n), all64.subarray(0, 3 * n))).toBe(-1);
      });
    }

    it(`${simd}: attention of a sequence alone equals it batched with others`, () => {
      const be = createNativeBackend({ simd, threads: 2 });
      created.push(be);
      const nHead = 4, headDim = 32, blockSize = 8, c = nHead * headDim;
      const r = rng(9);
      const cache: KVCacheLayer = { dtype: 'f32', k: uniform(40 * blockSize * c, r), v: uniform(40 * blockSize * c, r) };
      // Sequence A: 5 query rows ending at KV length 70 over blocks 30..38; B, C: other sequences.
      const tableA = Int32Array.from({ length: 9 }, (_, i) => 38 - i);
      const qkvA = uniform(5 * 3 * c, r);
      const alone: AttentionMeta = {
        numSeqs: 1, queryStart: Int32Array.of(0, 5), seqLens: Int32Array.of(70), blockTables: tableA, maxBlocksPerSeq: 9,
        slotMapping: new Int32Array(5), blockSize,
      };
      const outAlone = new Float32Array(5 * c);
      be.attention(outAlone, qkvA, cache, alone, nHead, headDim, 0.17);

      const qkv = new Float32Array((1 + 5 + 20) * 3 * c);
      qkv.set(uniform(3 * c, r), 0);
      qkv.set(qkvA, 3 * c);
      qkv.set(uniform(20 * 3 * c, r), 6 * 3 * c);
      const tables = new Int32Array(3 * 9);
      tables.set(Int32Array.from({ length: 9 }, (_, i) => i), 0);
      tables.set(tableA, 9);
      tables.set(Int32Array.from({ length: 9 }, (_, i) => 10 + i), 18);
      const batched: AttentionMeta = {
        numSeqs: 3, queryStart: Int32Array.of(0, 1, 6, 26), seqLens: Int32Array.of(33, 70, 20), blockTables: tables, maxBlocksPerSeq: 9,
        slotMapping: new Int32Array(26), blockSize,
      };
      const out = new Float32Array(26 * c);
      be.attention(out, qkv, cache, batched, nHead, headDim, 0.17);
      expect(firstDifference(out.subarray(c, 6 * c), outAlone)).toBe(-1);
    });
  }
});
