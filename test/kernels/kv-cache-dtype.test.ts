/**
 * Half-precision KV caches (bf16, f16) on both backends. writeKV must store exactly the
 * round-to-nearest-even bits of kernels/half.ts; attention over a half cache must equal f32 attention
 * over K/V that this file rounds itself; the native backend must match the reference within float
 * tolerance on a ragged batch (decodes, multi-row prefill chunks, several blocks, head sizes 64 and
 * 40); and mismatched pools give errors that say what is wrong.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttentionMeta, Backend, KVCacheDType, KVCacheLayer } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { loadAddon } from '../../src/kernels/native/addon.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/kernels/half.js';
import { expectClose, firstDifference } from '../helpers/compare.js';
import { mulberry32 } from '../helpers/random.js';

const available = nativeAvailable();
const HALF: readonly KVCacheDType[] = ['bf16', 'f16'];
const reference = createReferenceBackend();
const natives: Backend[] = [];
function native(simd: string, threads: number): Backend {
  const be = createNativeBackend({ simd: simd as 'scalar', threads });
  natives.push(be);
  return be;
}
afterAll(() => natives.forEach((be) => be.dispose()));

/** The value a half cache holds for x, rounded here through the bit conversions of kernels/half.ts. */
function rounded(x: number, dtype: KVCacheDType): number {
  if (dtype === 'bf16') return bf16BitsToF32(f32ToBf16Bits(x));
  if (dtype === 'f16') return f16BitsToF32(f32ToF16Bits(x));
  return x;
}

interface Shape {
  nHead: number;
  headDim: number;
  blockSize: number;
  /** Per sequence: query rows this step and KV length after it. */
  seqs: { qLen: number; kvLen: number }[];
}

/**
 * A ragged step whose every KV position is written by writeKV from `qkv` (all positions of all
 * sequences are rows, so earlier context goes in the same call); `step` is the attention metadata
 * of just the last qLen rows of each sequence.
 */
function makeStep(s: Shape, seed: number) {
  const rand = mulberry32(seed);
  const width = s.nHead * s.headDim;
  const maxBlocksPerSeq = Math.max(...s.seqs.map((q) => Math.ceil(q.kvLen / s.blockSize)));
  const numBlocks = s.seqs.length * maxBlocksPerSeq + 2;
  const blockTables = new Int32Array(s.seqs.length * maxBlocksPerSeq);
  // Sequence i owns blocks numBlocks-1-i, numBlocks-1-i-n, ... (interleaved, in descending order).
  s.seqs.forEach((_, i) => {
    for (let b = 0; b < maxBlocksPerSeq; b++) blockTables[i * maxBlocksPerSeq + b] = numBlocks - 1 - i - b * s.seqs.length;
  });
  const all = s.seqs.reduce((n, q) => n + q.kvLen, 0);
  const qkv = Float32Array.from({ length: all * 3 * width }, () => (rand() * 2 - 1) * 2);
  const slotMapping = new Int32Array(all);
  const stepQkv = new Float32Array(s.seqs.reduce((n, q) => n + q.qLen, 0) * 3 * width);
  const queryStart = new Int32Array(s.seqs.length + 1);
  let row = 0;
  s.seqs.forEach((q, i) => {
    for (let pos = 0; pos < q.kvLen; pos++, row++) {
      slotMapping[row] = blockTables[i * maxBlocksPerSeq + Math.floor(pos / s.blockSize)] * s.blockSize + (pos % s.blockSize);
      if (pos >= q.kvLen - q.qLen) stepQkv.set(qkv.subarray(row * 3 * width, (row + 1) * 3 * width), (queryStart[i] + pos - (q.kvLen - q.qLen)) * 3 * width);
    }
    queryStart[i + 1] = queryStart[i] + q.qLen;
  });
  const base = { numSeqs: s.seqs.length, blockTables, maxBlocksPerSeq, blockSize: s.blockSize };
  const write: AttentionMeta = { ...base, queryStart: Int32Array.of(0, all), seqLens: Int32Array.of(all), slotMapping };
  const step: AttentionMeta = { ...base, queryStart, seqLens: Int32Array.from(s.seqs, (q) => q.kvLen), slotMapping: new Int32Array(queryStart[s.seqs.length]) };
  return { qkv, rows: all, write, stepQkv, step, width, slots: numBlocks * s.blockSize };
}

type Step = ReturnType<typeof makeStep>;

function attend(be: Backend, s: Shape, x: Step, dtype: KVCacheDType, qkv = x.qkv): Float32Array {
  const cache = be.allocateKVCache(x.slots, x.width, dtype);
  be.writeKV(cache, qkv, x.rows, s.nHead, s.headDim, x.write);
  const out = new Float32Array(x.step.queryStart[x.step.numSeqs] * x.width);
  be.attention(out, x.stepQkv, cache, x.step, s.nHead, s.headDim, 1 / Math.sqrt(s.headDim));
  return out;
}

const SHAPES: [string, Shape][] = [
  ['GPT-2 heads of 64, block 16', {
    nHead: 4, headDim: 64, blockSize: 16, seqs: [{ qLen: 1, kvLen: 40 }, { qLen: 37, kvLen: 50 }, { qLen: 1, kvLen: 17 }, { qLen: 20, kvLen: 20 }],
  }],
  ['heads of 40 (a vector-width tail), block 8', {
    nHead: 3, headDim: 40, blockSize: 8, seqs: [{ qLen: 19, kvLen: 45 }, { qLen: 1, kvLen: 30 }, { qLen: 1, kvLen: 9 }],
  }],
];

function backends(): [string, Backend][] {
  const out: [string, Backend][] = [['reference', reference]];
  if (available) for (const simd of nativeSimdPaths()) for (const threads of [1, 2]) out.push([`native ${simd}/${threads}t`, native(simd, threads)]);
  return out;
}

describe('writeKV into a half-precision cache', () => {
  // Ordinary values, ties, f16 subnormals and overflow, signed zeros, infinities.
  const special = [1, -1, 0, -0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 1e6, -1e6, 2 ** -20, -(2 ** -25), 6e-8, 3e-39, Infinity, -Infinity];
  for (const dtype of HALF) {
    it(`stores the nearest-even ${dtype} bits of every K and V value`, () => {
      const nHead = 2, headDim = 9, c = nHead * headDim, t = 5;
      const rand = mulberry32(3);
      const qkv = Float32Array.from({ length: t * 3 * c }, (_, i) => (i < special.length * 4 ? special[i % special.length]! : (rand() * 2 - 1) * 10 ** (rand() * 8 - 4)));
      const meta: AttentionMeta = {
        numSeqs: 1, queryStart: Int32Array.of(0, t), seqLens: Int32Array.of(t), blockTables: Int32Array.of(0, 1), maxBlocksPerSeq: 2,
        slotMapping: Int32Array.of(7, 0, 3, 6, 1), blockSize: 4,
      };
      const bits = dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits;
      const expectedK = new Uint16Array(8 * c);
      const expectedV = new Uint16Array(8 * c);
      for (let r = 0; r < t; r++) {
        for (let i = 0; i < c; i++) {
          expectedK[meta.slotMapping[r]! * c + i] = bits(qkv[r * 3 * c + c + i]!);
          expectedV[meta.slotMapping[r]! * c + i] = bits(qkv[r * 3 * c + 2 * c + i]!);
        }
      }
      for (const [name, be] of backends()) {
        const cache = be.allocateKVCache(8, c, dtype);
        expect(cache.dtype).toBe(dtype);
        expect(cache.k).toBeInstanceOf(Uint16Array);
        be.writeKV(cache, qkv, t, nHead, headDim, meta);
        expect(Array.from(cache.k), `${name} K`).toEqual(Array.from(expectedK));
        expect(Array.from(cache.v), `${name} V`).toEqual(Array.from(expectedV));
      }
    });
  }
});

describe('attention over a half-precision cache', () => {
  for (const [name, shape] of SHAPES) {
    for (const dtype of HALF) {
      it(`${name}: ${dtype} equals f32 attention over K/V rounded here, on every backend`, () => {
        const x = makeStep(shape, shape.headDim + dtype.length);
        // The same rows with only K and V rounded (Q stays as it is).
        const roundedQkv = Float32Array.from(x.qkv);
        const c = x.width;
        for (let r = 0; r < x.rows; r++) for (let i = c; i < 3 * c; i++) roundedQkv[r * 3 * c + i] = rounded(roundedQkv[r * 3 * c + i]!, dtype);
        const oracle = attend(reference, shape, x, 'f32', roundedQkv);
        for (const [be, b] of backends()) {
          const half = attend(b, shape, x, dtype);
          const diff = firstDifference(half, attend(b, shape, x, 'f32', roundedQkv));
          expect(diff, `${be}: ${dtype} cache vs f32 cache of rounded K/V, first difference at ${diff}`).toBe(-1);
          expectClose(half, oracle, 1e-5, `${be} vs the reference`);
        }
        // And the rounding is visible: an f32 cache of the unrounded K/V gives other results.
        expect(firstDifference(attend(reference, shape, x, dtype), attend(reference, shape, x, 'f32'))).not.toBe(-1);
      });
    }
  }
});

describe('KV cache allocation and errors', () => {
  it('allocates zeroed pools of the right type and size', () => {
    for (const [name, be] of backends()) {
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        const cache = be.allocateKVCache(1000, 24, dtype);
        expect(cache.k, name).toBeInstanceOf(dtype === 'f32' ? Float32Array : Uint16Array);
        expect(cache.v.length, name).toBe(24000);
        expect(cache.k.some((x) => x !== 0) || cache.v.some((x) => x !== 0), name).toBe(false);
      }
      expect(() => be.allocateKVCache(10, 4, 'f8' as KVCacheDType)).toThrow(/allocateKVCache: dtype must be 'f32', 'bf16' or 'f16', got f8/);
      expect(() => be.allocateKVCache(0, 4, 'bf16')).toThrow(/allocateKVCache: slots must be a positive integer/);
    }
  });

  it.skipIf(!available)('pre-faulting a buffer keeps its values', () => {
    const x = Float32Array.from({ length: (5 << 20) / 4 + 77 }, (_, i) => i * 0.5);
    const view = x.subarray(1000, x.length - 3);
    loadAddon()!.prefault(view);
    for (let i = 0; i < x.length; i++) if (x[i] !== i * 0.5) expect.fail(`value ${i} changed to ${x[i]}`);
    expect(() => loadAddon()!.prefault([1, 2] as unknown as Float32Array)).toThrow(/prefault: buffer must be a typed array/);
  });

  it('rejects pools that do not match the cache dtype or each other', () => {
    const nHead = 1, headDim = 4, c = 4;
    const meta: AttentionMeta = {
      numSeqs: 1, queryStart: Int32Array.of(0, 1), seqLens: Int32Array.of(1), blockTables: Int32Array.of(0), maxBlocksPerSeq: 1,
      slotMapping: Int32Array.of(0), blockSize: 2,
    };
    const qkv = new Float32Array(3 * c);
    const out = new Float32Array(c);
    const bad: [string, KVCacheLayer, RegExp, RegExp][] = [
      ['f32 pools for bf16', { dtype: 'bf16', k: new Float32Array(2 * c), v: new Float32Array(2 * c) }, /bf16 KV cache needs Uint16Array pools/, /cache\.k must be a Uint16Array of bf16 bits for a bf16 KV cache/],
      ['bits for f32', { dtype: 'f32', k: new Uint16Array(2 * c), v: new Uint16Array(2 * c) }, /f32 KV cache needs Float32Array pools/, /cache\.k must be a Float32Array for an f32 KV cache/],
      ['mixed pools', { dtype: 'f16', k: new Uint16Array(2 * c), v: new Float32Array(2 * c) }, /f16 KV cache needs Uint16Array pools/, /cache\.v must be a Uint16Array of f16 bits for an f16 KV cache/],
      ['pools of different sizes', { dtype: 'bf16', k: new Uint16Array(2 * c), v: new Uint16Array(4 * c) }, /cache\.k and cache\.v differ in size/, /cache\.k and cache\.v differ in size/],
      ['an unknown dtype', { dtype: 'int8' as KVCacheDType, k: new Uint16Array(2 * c), v: new Uint16Array(2 * c) }, /cache\.dtype must be 'f32', 'bf16' or 'f16', got int8/, /cache\.dtype must be 'f32', 'bf16' or 'f16', got int8/],
    ];
    for (const [name, be] of backends()) {
      for (const [what, cache, refError, nativeError] of bad) {
        const err = be.name === 'reference' ? refError : nativeError;
        expect(() => be.writeKV(cache, qkv, 1, nHead, headDim, meta), `${name}: writeKV with ${what}`).toThrow(err);
        expect(() => be.attention(out, qkv, cache, meta, nHead, headDim, 0.5), `${name}: attention with ${what}`).toThrow(err);
      }
    }
  });
});
