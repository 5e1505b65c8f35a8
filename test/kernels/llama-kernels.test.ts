/**
 * The Llama-family kernels. RMSNorm, rotary and SiLU-and-multiply against their formulas and
 * rotary's defining property (q·k after rotation depends only on the position difference);
 * grouped-query attention against multi-head attention over K/V heads repeated per group (the
 * Hugging Face `repeat_kv` definition), on the reference backend and every native SIMD path, with
 * f32, bf16 and f16 caches, decode and prefill rows; and batch invariance of the GQA path.
 */
import { describe, expect, it } from 'vitest';
import type { AttentionMeta, Backend, KVCacheDType } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { ropeInvFreq, ropeTable } from '../../src/model/rope.js';
import { mulberry32 } from '../helpers/random.js';

const BACKENDS: [string, () => Backend][] = [['reference', createReferenceBackend]];
if (nativeAvailable()) {
  for (const simd of nativeSimdPaths()) BACKENDS.push([`native ${simd}`, () => createNativeBackend({ simd, threads: 2 })]);
} else console.warn('llama-kernels.test.ts: native backend skipped (npm run build:native)');

function randoms(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

describe('row kernels (reference)', () => {
  const be = createReferenceBackend();

  it('rmsNorm is x / sqrt(mean(x^2) + eps) * gamma per row', () => {
    const x = randoms(3 * 10, 1, 3);
    const gamma = randoms(10, 2);
    const out = new Float32Array(30);
    be.rmsNorm(out, x, 3, 10, gamma, 1e-5);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(x.subarray(r * 10, r * 10 + 10));
      const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / 10 + 1e-5);
      row.forEach((v, j) => expect(out[r * 10 + j]).toBeCloseTo((v / rms) * gamma[j], 6));
    }
  });

  it('siluMul is silu(gate) * up over [gate | up] rows', () => {
    const x = randoms(2 * 8, 3, 4);
    const out = new Float32Array(2 * 4);
    be.siluMul(out, x, 2, 4);
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < 4; j++) {
        const g = x[r * 8 + j];
        expect(out[r * 4 + j]).toBeCloseTo((g / (1 + Math.exp(-g))) * x[r * 8 + 4 + j], 6);
      }
    }
  });

  it('rotary turns q·k into a function of the position difference, leaves v alone, and keeps norms', () => {
    const D = 16, H = 2, KV = 1, width = (H + 2 * KV) * D;
    const rope = ropeTable(ropeInvFreq({ headDim: D, ropeTheta: 10000, ropeScaling: null }), 64);
    const base = randoms(width, 4);
    const at = (p: number) => {
      const qkv = base.slice();
      be.rotary(qkv, 1, H, KV, D, Int32Array.of(p), rope, null);
      return qkv;
    };
    const dot = (a: Float32Array, ao: number, b: Float32Array, bo: number) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[ao + d] * b[bo + d];
      return s;
    };
    const k = H * D;
    // q at position m against k at position n: the same for (m, n) = (5, 2), (40, 37), (3, 0).
    const scores = [[5, 2], [40, 37], [3, 0]].map(([m, n]) => dot(at(m), D, at(n), k));
    expect(Math.abs(scores[0] - scores[1])).toBeLessThan(1e-5);
    expect(Math.abs(scores[0] - scores[2])).toBeLessThan(1e-5);
    expect(Math.abs(scores[0] - dot(at(9), D, at(9), k))).toBeGreaterThan(1e-3);
    const r = at(17);
    expect(Array.from(r.subarray(k + KV * D))).toEqual(Array.from(base.subarray(k + KV * D)));
    expect(Math.sqrt(dot(r, 0, r, 0))).toBeCloseTo(Math.sqrt(dot(base, 0, base, 0)), 5);
    expect(Array.from(at(0))).toEqual(Array.from(base)); // position 0 is the identity
  });

  it('rotary applies the q/k norm to each head before rotating', () => {
    const D = 8, width = 3 * D;
    const rope = ropeTable(ropeInvFreq({ headDim: D, ropeTheta: 100, ropeScaling: null }), 4);
    const qkv = randoms(width, 5, 5);
    const qNorm = { q: randoms(D, 6), k: randoms(D, 7), eps: 1e-6 };
    const expected = qkv.slice();
    be.rmsNorm(expected, qkv, 1, D, qNorm.q, 1e-6);
    const kPart = new Float32Array(D);
    be.rmsNorm(kPart, qkv.subarray(D, 2 * D), 1, D, qNorm.k, 1e-6);
    expected.set(kPart, D);
    be.rotary(expected, 1, 1, 1, D, Int32Array.of(3), rope, null);
    be.rotary(qkv, 1, 1, 1, D, Int32Array.of(3), rope, qNorm);
    expect(maxAbsDiff(qkv, expected)).toBeLessThan(1e-6);
  });
});

interface GqaCase {
  nHead: number;
  nKvHead: number;
  headDim: number;
  blockSize: number;
  /** Per sequence: query rows and KV length. */
  seqs: [number, number][];
}

const CASES: GqaCase[] = [
  { nHead: 4, nKvHead: 2, headDim: 32, blockSize: 16, seqs: [[1, 37], [20, 20], [5, 70]] },
  { nHead: 9, nKvHead: 3, headDim: 64, blockSize: 16, seqs: [[1, 100], [1, 5], [33, 40]] },
  { nHead: 8, nKvHead: 1, headDim: 16, blockSize: 8, seqs: [[3, 9], [1, 64], [17, 17]] },
  { nHead: 6, nKvHead: 2, headDim: 24, blockSize: 4, seqs: [[1, 13], [7, 30]] },
];

/** A GQA batch, and the same batch as MHA: each K/V head repeated for its group (HF repeat_kv). */
function gqaBatch(c: GqaCase, seed: number) {
  const { nHead: H, nKvHead: KV, headDim: D, blockSize: bs } = c;
  const group = H / KV;
  const rows = c.seqs.reduce((n, [q]) => n + q, 0);
  const maxBlocks = Math.max(...c.seqs.map(([, kv]) => Math.ceil(kv / bs)));
  const numBlocks = c.seqs.length * maxBlocks;
  const kvg = randoms(numBlocks * bs * KV * D * 2, seed);
  const kG = kvg.subarray(0, numBlocks * bs * KV * D);
  const vG = kvg.subarray(numBlocks * bs * KV * D);
  const kM = new Float32Array(numBlocks * bs * H * D);
  const vM = new Float32Array(kM.length);
  for (let slot = 0; slot < numBlocks * bs; slot++) {
    for (let h = 0; h < H; h++) {
      const src = (slot * KV + Math.floor(h / group)) * D;
      kM.set(kG.subarray(src, src + D), (slot * H + h) * D);
      vM.set(vG.subarray(src, src + D), (slot * H + h) * D);
    }
  }
  // Query rows: GQA rows are [q | k | v] with KV heads; MHA rows with H heads (k, v unused by attention).
  const q = randoms(rows * H * D, seed + 1, 2);
  const qkvG = new Float32Array(rows * (H + 2 * KV) * D);
  const qkvM = new Float32Array(rows * 3 * H * D);
  for (let r = 0; r < rows; r++) {
    qkvG.set(q.subarray(r * H * D, (r + 1) * H * D), r * (H + 2 * KV) * D);
    qkvM.set(q.subarray(r * H * D, (r + 1) * H * D), r * 3 * H * D);
  }
  const blockTables = new Int32Array(c.seqs.length * maxBlocks);
  for (let i = 0; i < blockTables.length; i++) blockTables[i] = (i * 7 + 3) % numBlocks; // scattered, distinct
  const queryStart = new Int32Array(c.seqs.length + 1);
  c.seqs.forEach(([ql], s) => (queryStart[s + 1] = queryStart[s] + ql));
  const meta: AttentionMeta = {
    numSeqs: c.seqs.length, queryStart, seqLens: Int32Array.from(c.seqs, ([, kv]) => kv), blockTables, maxBlocksPerSeq: maxBlocks,
    slotMapping: new Int32Array(rows), blockSize: bs,
  };
  return { rows, kG, vG, kM, vM, qkvG, qkvM, meta, numBlocks };
}

function cacheOf(be: Backend, k: Float32Array, v: Float32Array, width: number, dtype: KVCacheDType) {
  const layer = be.allocateKVCache(k.length / width, width, dtype);
  // Encode through writeKV itself: one row per slot, [q(empty) | k | v] with a single "head" of width values.
  const slots = k.length / width;
  const qkv = new Float32Array(slots * 3 * width);
  for (let s = 0; s < slots; s++) {
    qkv.set(k.subarray(s * width, (s + 1) * width), s * 3 * width + width);
    qkv.set(v.subarray(s * width, (s + 1) * width), s * 3 * width + 2 * width);
  }
  const meta = { slotMapping: Int32Array.from({ length: slots }, (_, i) => i) } as AttentionMeta;
  be.writeKV(layer, qkv, slots, 1, width, meta);
  return layer;
}

for (const [name, make] of BACKENDS) {
  describe(`grouped-query attention on ${name}`, () => {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      it(`equals attention over repeated K/V heads (${dtype} cache)`, () => {
        const be = make();
        try {
          CASES.forEach((c, i) => {
            const b = gqaBatch(c, 100 + i);
            const { nHead: H, nKvHead: KV, headDim: D } = c;
            const gqaOut = new Float32Array(b.rows * H * D);
            const mhaOut = new Float32Array(b.rows * H * D);
            be.attention(gqaOut, b.qkvG, cacheOf(be, b.kG, b.vG, KV * D, dtype), b.meta, H, D, 1 / Math.sqrt(D), KV);
            be.attention(mhaOut, b.qkvM, cacheOf(be, b.kM, b.vM, H * D, dtype), b.meta, H, D, 1 / Math.sqrt(D));
            // The same arithmetic on the same values: equal up to f32 reassociation at most.
            expect(maxAbsDiff(gqaOut, mhaOut), `case ${i}`).toBeLessThan(1e-6);
          });
        } finally {
          be.dispose();
        }
      });
    }

    it('writes only the K/V heads of [q | k | v] rows into the cache', () => {
      const be = make();
      try {
        const H = 4, KV = 2, D = 8, width = (H + 2 * KV) * D;
        const qkv = randoms(3 * width, 9);
        const layer = be.allocateKVCache(4, KV * D, 'f32');
        be.writeKV(layer, qkv, 3, H, D, { slotMapping: Int32Array.of(2, 0, 3) } as AttentionMeta, KV);
        [2, 0, 3].forEach((slot, r) => {
          expect(Array.from(layer.k.subarray(slot * KV * D, (slot + 1) * KV * D))).toEqual(Array.from(qkv.subarray(r * width + H * D, r * width + (H + KV) * D)));
          expect(Array.from(layer.v.subarray(slot * KV * D, (slot + 1) * KV * D))).toEqual(Array.from(qkv.subarray(r * width + (H + KV) * D, (r + 1) * width)));
        });
        const empty: AttentionMeta = {
          numSeqs: 0, queryStart: Int32Array.of(0), seqLens: new Int32Array(0), blockTables: new Int32Array(0), maxBlocksPerSeq: 0,
          slotMapping: new Int32Array(0), blockSize: 1,
        };
        expect(() => be.attention(new Float32Array(3 * H * D), qkv, layer, empty, H, D, 1, 3)).toThrow(/nKvHead \(3\) must divide nHead \(4\)/);
      } finally {
        be.dispose();
      }
    });
  });
}

if (nativeAvailable()) {
  describe('grouped-query attention: native against reference', () => {
    for (const simd of nativeSimdPaths()) {
      it(`${simd}: within f32 rounding of the reference, and batch invariant`, () => {
        const ref = createReferenceBackend();
        const nat = createNativeBackend({ simd, threads: 2 });
        try {
          CASES.forEach((c, i) => {
            const b = gqaBatch(c, 200 + i);
            const { nHead: H, nKvHead: KV, headDim: D } = c;
            const run = (be: Backend, meta: AttentionMeta, qkv: Float32Array, rows: number) => {
              const out = new Float32Array(rows * H * D);
              be.attention(out, qkv, cacheOf(be, b.kG, b.vG, KV * D, 'f32'), meta, H, D, 1 / Math.sqrt(D), KV);
              return out;
            };
            const want = run(ref, b.meta, b.qkvG, b.rows);
            const got = run(nat, b.meta, b.qkvG, b.rows);
            expect(maxAbsDiff(got, want), `case ${i}`).toBeLessThan(2e-5);
            // The last sequence alone gives bit-identical rows.
            const s = c.seqs.length - 1;
            const q0 = b.meta.queryStart[s];
            const w = (H + 2 * KV) * D;
            const alone: AttentionMeta = {
              ...b.meta, numSeqs: 1, queryStart: Int32Array.of(0, c.seqs[s][0]), seqLens: Int32Array.of(c.seqs[s][1]),
              blockTables: b.meta.blockTables.subarray(s * b.meta.maxBlocksPerSeq),
            };
            const single = run(nat, alone, b.qkvG.subarray(q0 * w), c.seqs[s][0]);
            expect(maxAbsDiff(single, got.subarray(q0 * H * D)), `case ${i} alone`).toBe(0);
          });
        } finally {
          nat.dispose();
          ref.dispose();
        }
      });
    }
  });
}

if (nativeAvailable()) {
  describe('Llama row kernels: native against reference', () => {
    const ref = createReferenceBackend();
    for (const simd of nativeSimdPaths()) {
      it(`${simd}: rmsNorm, siluMul and rotary (with and without q/k norm) within f32 rounding, row by row as in a batch`, () => {
        const nat = createNativeBackend({ simd, threads: 2 });
        try {
          const t = 37;
          // Widths with and without a vector tail.
          for (const n of [576, 50, 7]) {
            const x = randoms(t * n, n, 4);
            const gamma = randoms(n, n + 1);
            const [a, b] = [new Float32Array(t * n), new Float32Array(t * n)];
            ref.rmsNorm(a, x, t, n, gamma, 1e-5);
            nat.rmsNorm(b, x, t, n, gamma, 1e-5);
            expect(maxAbsDiff(a, b), `rmsNorm n=${n}`).toBeLessThan(2e-5);
            const one = new Float32Array(n);
            nat.rmsNorm(one, x.subarray(5 * n), 1, n, gamma, 1e-5);
            expect(Array.from(one), 'rmsNorm row alone').toEqual(Array.from(b.subarray(5 * n, 6 * n)));
            const gu = randoms(t * 2 * n, n + 2, 12); // wide enough to reach exp's clamps
            const [c, d] = [new Float32Array(t * n), new Float32Array(t * n)];
            ref.siluMul(c, gu, t, n);
            nat.siluMul(d, gu, t, n);
            for (let i = 0; i < c.length; i++) expect(Math.abs(c[i] - d[i]), `siluMul n=${n} at ${i}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(c[i])));
          }
          for (const [H, KV, D] of [[9, 3, 64], [4, 1, 32], [2, 2, 6]] as const) {
            const rope = ropeTable(ropeInvFreq({ headDim: D, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } }), 300);
            const width = (H + 2 * KV) * D;
            const qkv = randoms(t * width, D + H, 3);
            const positions = Int32Array.from({ length: t }, (_, i) => (i * 37) % 300);
            for (const norm of [null, { q: randoms(D, 1), k: randoms(D, 2), eps: 1e-6 }]) {
              const [a, b] = [qkv.slice(), qkv.slice()];
              ref.rotary(a, t, H, KV, D, positions, rope, norm);
              nat.rotary(b, t, H, KV, D, positions, rope, norm);
              expect(maxAbsDiff(a, b), `rotary ${H}/${KV}x${D} norm ${norm !== null}`).toBeLessThan(2e-5);
              const one = qkv.slice(7 * width, 8 * width);
              nat.rotary(one, 1, H, KV, D, positions.subarray(7, 8), rope, norm);
              expect(Array.from(one), 'rotary row alone').toEqual(Array.from(b.subarray(7 * width, 8 * width)));
            }
          }
          expect(() => nat.rotary(new Float32Array(3 * 8), 1, 1, 1, 8, Int32Array.of(4), ropeTable(ropeInvFreq({ headDim: 8, ropeTheta: 1, ropeScaling: null }), 4), null)).toThrow(/position 4 at row 0 is outside the table/);
        } finally {
          nat.dispose();
        }
      });
    }
  });
}
