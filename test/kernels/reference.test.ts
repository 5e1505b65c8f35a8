/** Each reference kernel against naive math written out here, independently of the kernels. */
import { describe, expect, it } from 'vitest';
import type { AttentionMeta, KVCacheLayer } from '../../src/kernels/backend.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const be = createReferenceBackend();

const rng = mulberry32;

function randn(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(err <= worst)) worst = err; // NaN propagates into `worst`
  }
  expect(worst).toBeLessThanOrEqual(tol);
}

/** `W[p][j]` read from row-major `[k, n]` values. */
function naiveMatmul(x: Float32Array, t: number, k: number, wkn: ArrayLike<number>, n: number, bias: Float32Array | null): Float64Array {
  const out = new Float64Array(t * n);
  for (let i = 0; i < t; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * wkn[p * n + j];
      out[i * n + j] = s;
    }
  return out;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

describe('reference matmul', () => {
  const t = 5, k = 24, n = 17;
  const rand = rng(1);
  const x = randn(t * k, rand);
  const bias = randn(n, rand);
  const wkn = randn(k * n, rand);

  it('matches a triple loop for both layouts and all epilogues (f32)', () => {
    const expected = naiveMatmul(x, t, k, wkn, n, bias);
    for (const layout of ['kn', 'nk'] as const) {
      const w = be.prepareMatrix({ dtype: 'f32', data: layout === 'kn' ? wkn : transpose(wkn, k, n) }, k, n, layout);
      expect([w.k, w.n, w.dtype]).toEqual([k, n, 'f32']);
      const out = new Float32Array(t * n);
      be.matmul(out, x, t, w, bias, 'none');
      expectClose(out, expected, 1e-6);
      be.matmul(out, x, t, w, bias, 'gelu');
      expectClose(out, Array.from(expected, gelu), 1e-6);
      const resid = randn(t * n, rand);
      const acc = Float32Array.from(resid);
      be.matmul(acc, x, t, w, null, 'residual');
      const noBias = naiveMatmul(x, t, k, wkn, n, null);
      expectClose(acc, Array.from(noBias, (v, i) => v + resid[i]), 1e-6);
    }
  });

  it('computes gelu_new as GPT-2 defines it', () => {
    // Known values of the tanh approximation: gelu_new(1) = 0.8411920, gelu_new(-1) = -0.1588080.
    const w = be.prepareMatrix({ dtype: 'f32', data: Float32Array.of(1) }, 1, 1, 'kn');
    const out = new Float32Array(3);
    be.matmul(out, Float32Array.of(1, -1, 0), 3, w, null, 'gelu');
    expectClose(out, [0.841192, -0.158808, 0], 1e-6);
  });

  it('reads f16 and bf16 weights as their exact values', () => {
    // Random finite half bit patterns with moderate exponents, decoded here from the definitions.
    const f16 = Uint16Array.from({ length: k * n }, () => ((rand() < 0.5 ? 0x8000 : 0) | ((10 + Math.floor(rand() * 8)) << 10) | Math.floor(rand() * 1024)));
    const bf16 = Uint16Array.from({ length: k * n }, () => ((rand() < 0.5 ? 0x8000 : 0) | ((120 + Math.floor(rand() * 8)) << 7) | Math.floor(rand() * 128)));
    const f16Values = Array.from(f16, (h) => (h >> 15 ? -1 : 1) * 2 ** (((h >> 10) & 31) - 15) * (1 + (h & 1023) / 1024));
    const bf16Values = Array.from(bf16, (b) => (b >> 15 ? -1 : 1) * 2 ** (((b >> 7) & 255) - 127) * (1 + (b & 127) / 128));
    for (const [dtype, bits, values] of [['f16', f16, f16Values], ['bf16', bf16, bf16Values]] as const) {
      const expected = naiveMatmul(x, t, k, values, n, bias);
      for (const layout of ['kn', 'nk'] as const) {
        const data = layout === 'kn' ? bits : Uint16Array.from(transpose(bits, k, n));
        const w = be.prepareMatrix({ dtype, data }, k, n, layout);
        expect(w.dtype).toBe(dtype);
        const out = new Float32Array(t * n);
        be.matmul(out, x, t, w, bias, 'none');
        expectClose(out, expected, 1e-6);
      }
    }
  });

  it('rounds f32 weights once when asked to compute in bf16', () => {
    // Values a hair (far below half an ulp) above bf16 numbers must round back to them.
    const exact = Float32Array.from(wkn, (v) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(v).buffer)[0] & 0xffff0000]).buffer)[0]);
    const nudged = Float32Array.from(exact, (v) => v * (1 + 2 ** -14));
    const w = be.prepareMatrix({ dtype: 'f32', data: nudged }, k, n, 'kn', 'bf16');
    expect(w.dtype).toBe('bf16');
    const out = new Float32Array(t * n);
    be.matmul(out, x, t, w, null, 'none');
    expectClose(out, naiveMatmul(x, t, k, exact, n, null), 1e-6);
  });

  it('gives each row the same result whatever else is in the batch', () => {
    const w = be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn');
    const all = new Float32Array(t * n);
    be.matmul(all, x, t, w, bias, 'gelu');
    for (let i = 0; i < t; i++) {
      const one = new Float32Array(n);
      be.matmul(one, x.subarray(i * k, (i + 1) * k), 1, w, bias, 'gelu');
      expect(Array.from(one)).toEqual(Array.from(all.subarray(i * n, (i + 1) * n)));
    }
  });

  it('rejects wrongly sized weights and buffers', () => {
    expect(() => be.prepareMatrix({ dtype: 'f32', data: new Float32Array(10) }, 3, 4, 'kn')).toThrow(/3x4 = 12 values, got 10/);
    const w = be.prepareMatrix({ dtype: 'f32', data: wkn }, k, n, 'kn');
    expect(() => be.matmul(new Float32Array(t * n), x, t + 1, w, null, 'none')).toThrow(/input/);
    expect(() => be.matmul(new Float32Array(t * n), x, t, w, new Float32Array(3), 'none')).toThrow(/bias/);
  });
});

describe('reference row ops', () => {
  const rand = rng(2);

  it('layerNorm matches the textbook formula (biased variance)', () => {
    const t = 3, n = 33, eps = 1e-5;
    const x = randn(t * n, rand, 4);
    const gamma = randn(n, rand);
    const beta = randn(n, rand);
    const expected: number[] = [];
    for (let i = 0; i < t; i++) {
      const row = Array.from(x.subarray(i * n, (i + 1) * n));
      const mean = row.reduce((a, b) => a + b, 0) / n;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
      row.forEach((v, j) => expected.push(((v - mean) / Math.sqrt(variance + eps)) * gamma[j] + beta[j]));
    }
    const out = new Float32Array(t * n);
    be.layerNorm(out, x, t, n, gamma, beta, eps);
    expectClose(out, expected, 1e-6);
    be.layerNorm(x, x, t, n, gamma, beta, eps); // in place gives the same
    expectClose(x, expected, 1e-6);
  });

  it('embed adds the token and position rows', () => {
    const C = 4;
    const wte = randn(10 * C, rand);
    const wpe = randn(6 * C, rand);
    const out = new Float32Array(2 * C);
    const te = { dtype: 'f32', data: wte } as const;
    const pe = { dtype: 'f32', data: wpe } as const;
    be.embed(out, te, pe, Int32Array.of(7, 2), Int32Array.of(0, 5), C);
    const expected = [...Array.from({ length: C }, (_, j) => wte[7 * C + j] + wpe[j]), ...Array.from({ length: C }, (_, j) => wte[2 * C + j] + wpe[5 * C + j])];
    expectClose(out, expected, 1e-7);
    expect(() => be.embed(out, te, pe, Int32Array.of(10, 0), Int32Array.of(0, 0), C)).toThrow(/token id 10/);
    expect(() => be.embed(out, te, pe, Int32Array.of(1, 0), Int32Array.of(0, 6), C)).toThrow(/position 6/);
  });

  it('softmax normalises each row and survives large logits', () => {
    const x = Float32Array.of(1, 2, 3, 1000, 1001, 999);
    be.softmax(x, 2, 3);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0] + e[1] + e[2];
    expectClose(x, [e[0] / s, e[1] / s, e[2] / s, e[1] / s, e[2] / s, e[0] / s], 1e-7);
  });

  it('argmax returns the lowest index among ties', () => {
    expect(be.argmax(Float32Array.of(1, 3, 3, 2), 4)).toBe(1);
    expect(be.argmax(Float32Array.of(5, 5, 5), 3)).toBe(0);
    expect(be.argmax(Float32Array.of(-Infinity, -1, -1), 3)).toBe(1);
    expect(be.argmax(Float32Array.of(0, 1, 9), 2)).toBe(1); // only the first n count
  });
});

describe('reference paged attention', () => {
  const nHead = 3, headDim = 8, C = nHead * headDim, blockSize = 4;

  /** Dense masked softmax attention for one sequence, from full Q, K, V of all its positions. */
  function denseAttention(q: Float32Array[], k: Float32Array[], v: Float32Array[], first: number, scale: number): number[] {
    const out: number[] = [];
    q.forEach((qRow, i) => {
      const last = first + i;
      for (let h = 0; h < nHead; h++) {
        const scores = k.slice(0, last + 1).map((kRow) => {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += qRow[h * headDim + d] * kRow[h * headDim + d];
          return s * scale;
        });
        const max = Math.max(...scores);
        const p = scores.map((s) => Math.exp(s - max));
        const z = p.reduce((a, b) => a + b, 0);
        for (let d = 0; d < headDim; d++) out.push(p.reduce((a, pj, j) => a + pj * v[j][h * headDim + d], 0) / z);
      }
    });
    return out;
  }

  it('matches dense attention over shuffled block tables with mixed prefill and decode rows', () => {
    const rand = rng(3);
    // [context already cached, new query rows]: a prefill, a decode, a chunked-prefill continuation,
    // one ending exactly on a block boundary, and one with large scores (online-softmax stability).
    const seqs = [{ cached: 0, q: 9, qScale: 1 }, { cached: 12, q: 1, qScale: 1 }, { cached: 5, q: 3, qScale: 1 }, { cached: 4, q: 4, qScale: 1 }, { cached: 6, q: 2, qScale: 40 }];
    const maxBlocksPerSeq = 5;
    const numBlocks = 40;
    const perm = Array.from({ length: numBlocks }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq).fill(-1);
    let next = 0;
    const qkvOf = seqs.map((s) => Array.from({ length: s.cached + s.q }, () => randn(3 * C, rand)));
    seqs.forEach((s, si) => {
      for (let b = 0; b * blockSize < s.cached + s.q; b++) blockTables[si * maxBlocksPerSeq + b] = perm[next++];
      for (const row of qkvOf[si].slice(s.cached)) for (let j = 0; j < C; j++) row[j] *= s.qScale;
    });
    const slotOf = (si: number, pos: number) => blockTables[si * maxBlocksPerSeq + Math.floor(pos / blockSize)] * blockSize + (pos % blockSize);
    const cache: KVCacheLayer = { dtype: 'f32', k: new Float32Array(numBlocks * blockSize * C), v: new Float32Array(numBlocks * blockSize * C) };

    // Step 1: write the cached context of every sequence (K/V only matter here).
    const ctxRows = seqs.flatMap((s, si) => qkvOf[si].slice(0, s.cached).map((row, pos) => ({ row, slot: slotOf(si, pos) })));
    const ctxMeta = { slotMapping: Int32Array.from(ctxRows, (r) => r.slot) } as AttentionMeta;
    const ctxQkv = new Float32Array(ctxRows.length * 3 * C);
    ctxRows.forEach((r, i) => ctxQkv.set(r.row, i * 3 * C));
    be.writeKV(cache, ctxQkv, ctxRows.length, nHead, headDim, ctxMeta);

    // Step 2: one ragged batch with every sequence's new rows.
    const queryStart = new Int32Array(seqs.length + 1);
    seqs.forEach((s, si) => (queryStart[si + 1] = queryStart[si] + s.q));
    const t = queryStart[seqs.length];
    const qkv = new Float32Array(t * 3 * C);
    const slotMapping = new Int32Array(t);
    seqs.forEach((s, si) =>
      qkvOf[si].slice(s.cached).forEach((row, i) => {
        qkv.set(row, (queryStart[si] + i) * 3 * C);
        slotMapping[queryStart[si] + i] = slotOf(si, s.cached + i);
      }),
    );
    const meta: AttentionMeta = {
      numSeqs: seqs.length, queryStart, seqLens: Int32Array.from(seqs, (s) => s.cached + s.q),
      blockTables, maxBlocksPerSeq, slotMapping, blockSize,
    };
    be.writeKV(cache, qkv, t, nHead, headDim, meta);
    seqs.forEach((_s, si) =>
      qkvOf[si].forEach((row, pos) => {
        const slot = slotOf(si, pos);
        expect(Array.from(cache.k.subarray(slot * C, (slot + 1) * C))).toEqual(Array.from(row.subarray(C, 2 * C)));
        expect(Array.from(cache.v.subarray(slot * C, (slot + 1) * C))).toEqual(Array.from(row.subarray(2 * C)));
      }),
    );

    const scale = 1 / Math.sqrt(headDim);
    const out = new Float32Array(t * C);
    be.attention(out, qkv, cache, meta, nHead, headDim, scale);
    seqs.forEach((s, si) => {
      const rows = qkvOf[si];
      const expected = denseAttention(rows.slice(s.cached).map((r) => r.subarray(0, C)), rows.map((r) => r.subarray(C, 2 * C)), rows.map((r) => r.subarray(2 * C)), s.cached, scale);
      expectClose(out.subarray(queryStart[si] * C, queryStart[si + 1] * C), expected, 1e-6);
    });
  });

  it('rejects slots and blocks outside the cache', () => {
    const cache: KVCacheLayer = { dtype: 'f32', k: new Float32Array(2 * blockSize * C), v: new Float32Array(2 * blockSize * C) };
    const qkv = new Float32Array(3 * C);
    const meta: AttentionMeta = { numSeqs: 1, queryStart: Int32Array.of(0, 1), seqLens: Int32Array.of(1), blockTables: Int32Array.of(2), maxBlocksPerSeq: 1, slotMapping: Int32Array.of(8), blockSize };
    expect(() => be.writeKV(cache, qkv, 1, nHead, headDim, meta)).toThrow(/slot 8/);
    expect(() => be.attention(new Float32Array(C), qkv, cache, meta, nHead, headDim, 1)).toThrow(/block 0 is 2/);
  });
});
