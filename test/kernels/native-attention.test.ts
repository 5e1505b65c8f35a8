/**
 * Paged flash attention of the native backend on every SIMD path, 1 and 2 threads, against a
 * naive softmax attention written here (all scores of a row, one max, one sum, in f64): long
 * contexts, many sequences, block sizes 1 to 32, shuffled block tables, chunks that start
 * mid-block, head sizes with and without a vector-width tail. Cache slots no sequence owns hold
 * NaN, so reading one shows up. Then bit-exactness: a row's output must not depend on how its
 * prompt was chunked, on the rest of the batch, or on the thread count, for f32, bf16 and f16 caches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttentionMeta, Backend, KVCacheDType, KVCacheLayer } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { f32ArrayToBf16, f32ArrayToF16 } from '../../src/kernels/half.js';
import { mulberry32 } from '../helpers/random.js';
import { expectClose, firstDifference } from '../helpers/compare.js';

const available = nativeAvailable();
if (!available) console.warn('skipping native attention tests: the addon is not built (npm run build:native)');

const rng = mulberry32;

interface Seq {
  qLen: number;
  kvLen: number;
}

interface Case {
  seqs: Seq[];
  blockSize: number;
  nHead: number;
  headDim: number;
  /** Query scale: larger values make the softmax peakier. */
  qScale: number;
}

/**
 * A batch over a cache with spare blocks: each sequence owns ceil(kvLen / blockSize) blocks drawn
 * from a shuffled pool, its block table has one unused entry (-1) at the end, and every slot that
 * no sequence position uses (other blocks, and the tail of each last block) is NaN.
 */
function makeBatch(c: Case, seed: number) {
  const rand = rng(seed);
  const width = c.nHead * c.headDim;
  const maxBlocksPerSeq = Math.max(...c.seqs.map((s) => Math.ceil(s.kvLen / c.blockSize))) + 1;
  const numBlocks = c.seqs.reduce((n, s) => n + Math.ceil(s.kvLen / c.blockSize), 0) + 3;
  const pool = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const blockTables = new Int32Array(c.seqs.length * maxBlocksPerSeq).fill(-1);
  const k = new Float32Array(numBlocks * c.blockSize * width).fill(NaN);
  const v = new Float32Array(k.length).fill(NaN);
  let next = 0;
  c.seqs.forEach((s, i) => {
    for (let b = 0; b * c.blockSize < s.kvLen; b++) blockTables[i * maxBlocksPerSeq + b] = pool[next++];
    for (let pos = 0; pos < s.kvLen; pos++) {
      const slot = blockTables[i * maxBlocksPerSeq + Math.floor(pos / c.blockSize)] * c.blockSize + (pos % c.blockSize);
      for (let x = 0; x < width; x++) {
        k[slot * width + x] = rand() * 2 - 1;
        v[slot * width + x] = rand() * 2 - 1;
      }
    }
  });
  const queryStart = new Int32Array(c.seqs.length + 1);
  c.seqs.forEach((s, i) => (queryStart[i + 1] = queryStart[i] + s.qLen));
  const t = queryStart[c.seqs.length];
  const qkv = Float32Array.from({ length: t * 3 * width }, () => (rand() * 2 - 1) * c.qScale);
  const meta: AttentionMeta = {
    numSeqs: c.seqs.length, queryStart, seqLens: Int32Array.from(c.seqs, (s) => s.kvLen), blockTables, maxBlocksPerSeq,
    slotMapping: new Int32Array(t), blockSize: c.blockSize,
  };
  return { meta, cache: { dtype: 'f32', k, v } as KVCacheLayer, qkv, t, width };
}

/** softmax(q K^T * scale) V for every row and head, one row at a time over all its keys, in f64. */
function naiveAttention(c: Case, b: ReturnType<typeof makeBatch>, scale: number): Float32Array {
  const { meta, cache, qkv, width } = b;
  const out = new Float32Array(b.t * width);
  c.seqs.forEach((s, seq) => {
    const slot = (pos: number) => meta.blockTables[seq * meta.maxBlocksPerSeq + Math.floor(pos / c.blockSize)] * c.blockSize + (pos % c.blockSize);
    for (let i = 0; i < s.qLen; i++) {
      const row = meta.queryStart[seq] + i;
      const keys = s.kvLen - s.qLen + i + 1;
      for (let h = 0; h < c.nHead; h++) {
        const scores = new Float64Array(keys);
        for (let j = 0; j < keys; j++) {
          let dot = 0;
          for (let d = 0; d < c.headDim; d++) dot += qkv[row * 3 * width + h * c.headDim + d] * cache.k[slot(j) * width + h * c.headDim + d];
          scores[j] = dot * scale;
        }
        const max = Math.max(...scores);
        const p = scores.map((x) => Math.exp(x - max));
        const sum = p.reduce((a, x) => a + x, 0);
        for (let d = 0; d < c.headDim; d++) {
          let acc = 0;
          for (let j = 0; j < keys; j++) acc += p[j] * cache.v[slot(j) * width + h * c.headDim + d];
          out[row * width + h * c.headDim + d] = acc / sum;
        }
      }
    }
  });
  return out;
}

const backends = new Map<string, Backend>();
function backend(simd: string, threads: number): Backend {
  const key = `${simd}/${threads}`;
  let be = backends.get(key);
  if (!be) {
    be = createNativeBackend({ simd: simd as 'scalar', threads });
    backends.set(key, be);
  }
  return be;
}
afterAll(() => backends.forEach((be) => be.dispose()));

function run(be: Backend, c: Case, b: ReturnType<typeof makeBatch>, scale: number): Float32Array {
  const out = new Float32Array(b.t * b.width);
  be.attention(out, b.qkv, b.cache, b.meta, c.nHead, c.headDim, scale);
  return out;
}

const CASES: [string, Case][] = [
  ['GPT-2 heads, block 16: decodes at 100, 257 and 1024, a chunk from mid-block, a fresh prompt', {
    seqs: [{ qLen: 1, kvLen: 100 }, { qLen: 300, kvLen: 345 }, { qLen: 1, kvLen: 1024 }, { qLen: 33, kvLen: 33 }, { qLen: 1, kvLen: 257 }],
    blockSize: 16, nHead: 12, headDim: 64, qScale: 3,
  }],
  ['a 1024-token prompt in one chunk', { seqs: [{ qLen: 1024, kvLen: 1024 }], blockSize: 16, nHead: 2, headDim: 64, qScale: 2 }],
  ['64 decoding sequences', {
    seqs: Array.from({ length: 64 }, (_, i) => ({ qLen: 1, kvLen: 1 + ((i * 37) % 300) })), blockSize: 16, nHead: 4, headDim: 64, qScale: 2,
  }],
  ['block size 1', { seqs: [{ qLen: 1, kvLen: 70 }, { qLen: 20, kvLen: 45 }, { qLen: 9, kvLen: 9 }], blockSize: 1, nHead: 2, headDim: 32, qScale: 2 }],
  ['block size 32, head 24 (a vector-width tail on AVX-512)', {
    seqs: [{ qLen: 50, kvLen: 200 }, { qLen: 1, kvLen: 65 }, { qLen: 37, kvLen: 37 }], blockSize: 32, nHead: 3, headDim: 24, qScale: 2,
  }],
  ['block size 5, head 80', { seqs: [{ qLen: 23, kvLen: 61 }, { qLen: 1, kvLen: 33 }], blockSize: 5, nHead: 2, headDim: 80, qScale: 1 }],
  ['head 96', { seqs: [{ qLen: 40, kvLen: 90 }, { qLen: 1, kvLen: 91 }], blockSize: 16, nHead: 2, headDim: 96, qScale: 1 }],
  ['head 200', { seqs: [{ qLen: 18, kvLen: 40 }, { qLen: 1, kvLen: 17 }], blockSize: 16, nHead: 1, headDim: 200, qScale: 0.5 }],
  ['a head too large for the kernel stack (caller scratch)', { seqs: [{ qLen: 2, kvLen: 3 }], blockSize: 1, nHead: 1, headDim: 12288, qScale: 0.05 }],
];

describe.skipIf(!available)('native paged attention vs a naive softmax oracle', () => {
  for (const [name, c] of CASES) {
    it(name, () => {
      const b = makeBatch(c, c.headDim * 31 + c.blockSize);
      const scale = 1 / Math.sqrt(c.headDim);
      const expected = naiveAttention(c, b, scale);
      for (const simd of nativeSimdPaths()) {
        for (const threads of [1, 2]) expectClose(run(backend(simd, threads), c, b, scale), expected, 1e-5, `${simd}/${threads}t`);
      }
    });
  }
});

/** The batch's f32 cache stored in `dtype` (bf16 / f16 bits, rounded to nearest even). */
function inDType(cache: KVCacheLayer, dtype: KVCacheDType): KVCacheLayer {
  const conv = dtype === 'bf16' ? f32ArrayToBf16 : dtype === 'f16' ? f32ArrayToF16 : null;
  return conv ? { dtype, k: conv(cache.k as Float32Array), v: conv(cache.v as Float32Array) } : cache;
}

describe.skipIf(!available)('native attention is bit-identical however a row is batched', () => {
  // One 75-token sequence; its rows computed in one prefill, in chunks that start mid-block, one
  // at a time as decode rows, and next to other sequences, on 1 and 2 threads. A decode row reads
  // the cache in place and a chunk packs it to f32 first: both must widen half values identically.
  const shapes = [[16, 12, 64, 'f32'], [5, 3, 24, 'f32'], [32, 2, 40, 'f32'], [16, 12, 64, 'bf16'], [32, 2, 40, 'bf16'], [5, 3, 24, 'f16'], [32, 2, 40, 'f16']] as const;
  for (const [blockSize, nHead, headDim, dtype] of shapes) {
    it(`block ${blockSize}, ${nHead} heads of ${headDim}, ${dtype} cache`, () => {
      const kvLen = 75;
      const c: Case = { seqs: [{ qLen: kvLen, kvLen }], blockSize, nHead, headDim, qScale: 3 };
      const f32 = makeBatch(c, 7 + headDim);
      const b = { ...f32, cache: inDType(f32.cache, dtype) };
      const { width } = b;
      const scale = 1 / Math.sqrt(headDim);
      const table = b.meta.blockTables.subarray(0, b.meta.maxBlocksPerSeq);
      // Rows [from, to) of the sequence as one sequence of a batch, plus `others` decode rows of 1 token.
      const rows = (be: Backend, from: number, to: number, others = 0): Float32Array => {
        const n = to - from;
        const qkv = new Float32Array((others + n) * 3 * width);
        const rand = rng(from * 100 + to);
        for (let i = 0; i < others * 3 * width; i++) qkv[i] = rand() * 2 - 1;
        qkv.set(b.qkv.subarray(from * 3 * width, to * 3 * width), others * 3 * width);
        const tables = new Int32Array((others + 1) * table.length);
        for (let s = 0; s <= others; s++) tables.set(table, s * table.length);
        const meta: AttentionMeta = {
          numSeqs: others + 1,
          queryStart: Int32Array.from({ length: others + 2 }, (_, s) => (s <= others ? s : others + n)),
          seqLens: Int32Array.from({ length: others + 1 }, (_, s) => (s < others ? 10 + s : to)),
          blockTables: tables, maxBlocksPerSeq: table.length, slotMapping: new Int32Array(others + n), blockSize,
        };
        const out = new Float32Array((others + n) * width);
        be.attention(out, qkv, b.cache, meta, nHead, headDim, scale);
        return out.subarray(others * width);
      };
      for (const simd of nativeSimdPaths()) {
        const whole = rows(backend(simd, 1), 0, kvLen);
        const parts: [string, Backend, number, number, number][] = [
          ['2 threads', backend(simd, 2), 0, kvLen, 0],
          ['chunk 0..7', backend(simd, 2), 0, 7, 0],
          ['chunk 7..42', backend(simd, 2), 7, 42, 0],
          ['chunk 42..75 among 9 decodes', backend(simd, 2), 42, kvLen, 9],
          ['row 74 alone', backend(simd, 2), 74, 75, 0],
          ['row 61 among 40 decodes', backend(simd, 2), 61, 62, 40],
          ['row 30 alone, 1 thread', backend(simd, 1), 30, 31, 0],
        ];
        for (const [what, be, from, to, others] of parts) {
          const got = rows(be, from, to, others);
          const diff = firstDifference(got, whole.subarray(from * width, to * width));
          expect(diff, `${simd}: ${what} differs at ${diff}`).toBe(-1);
        }
      }
    });
  }
});
